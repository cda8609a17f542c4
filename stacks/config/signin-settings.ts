/** The settings of sign-in: who may use the chat, how they sign in, and each person's daily allowance. */
import type { Checker } from "./checker";
import type { ValueKind } from "./settings";

/** `cognito`: every chat API needs a Cognito sign-in; `none`: the open site of the original sample. */
export type AuthMode = "cognito" | "none";
/** Multi-factor authentication (TOTP authenticator apps). */
export type MfaMode = "off" | "optional" | "required";

/** Every sign-in setting of one environment (part of EnvironmentConfig). */
export interface SignInConfig {
  /** `cognito` (a public GPU chatbot is signed-in by default) or `none` (anyone may chat). @default "cognito" */
  readonly auth: AuthMode;
  /** People may create their own account on the sign-in page; off: an administrator invites them. @default false */
  readonly selfSignUp: boolean;
  /** With `selfSignUp`: only addresses of these domains may sign up (compared case-insensitively). @default [] (any) */
  readonly allowedEmailDomains: readonly string[];
  /** Multi-factor authentication with an authenticator app (TOTP). @default "off" */
  readonly mfa: MfaMode;
  /** Answers one person may get per UTC day; 0 = unlimited. Members of the `admin` group have none. @default 200 */
  readonly dailyAnswersPerUser: number;
  /** Lifetime of ID and access tokens, in minutes (Cognito: 5 to 1440). @default 60 */
  readonly tokenValidityMinutes: number;
  /** Lifetime of refresh tokens, in days (Cognito: 1 to 3650). @default 30 */
  readonly refreshTokenValidityDays: number;
  /**
   * Prefix of the sign-in domain `https://<prefix>.auth.<region>.amazoncognito.com`; unique per
   * region across all AWS accounts. @default "falcon-chatbot-<environment>"
   */
  readonly signInDomainPrefix: string;
  /**
   * Refuse `terraform destroy` of the user pool (its accounts cannot be restored) and of the
   * saved-conversations table (people's chats). @default false (true in cdktf.json's prod)
   */
  readonly userPoolDeletionProtection: boolean;
}

export const SIGN_IN_SETTINGS: Readonly<Record<keyof SignInConfig, { env: string; kind: ValueKind }>> = {
  auth: { env: "CHATBOT_AUTH", kind: "string" },
  selfSignUp: { env: "CHATBOT_SELF_SIGN_UP", kind: "boolean" },
  allowedEmailDomains: { env: "CHATBOT_ALLOWED_EMAIL_DOMAINS", kind: "list" },
  mfa: { env: "CHATBOT_MFA", kind: "string" },
  dailyAnswersPerUser: { env: "CHATBOT_DAILY_ANSWERS_PER_USER", kind: "int" },
  tokenValidityMinutes: { env: "CHATBOT_TOKEN_VALIDITY_MINUTES", kind: "int" },
  refreshTokenValidityDays: { env: "CHATBOT_REFRESH_TOKEN_VALIDITY_DAYS", kind: "int" },
  signInDomainPrefix: { env: "CHATBOT_SIGN_IN_DOMAIN_PREFIX", kind: "string" },
  userPoolDeletionProtection: { env: "CHATBOT_USER_POOL_DELETION_PROTECTION", kind: "boolean" },
};

export const SIGN_IN_DEFAULTS: Omit<SignInConfig, "signInDomainPrefix"> = {
  auth: "cognito",
  selfSignUp: false,
  allowedEmailDomains: [],
  mfa: "off",
  dailyAnswersPerUser: 200,
  tokenValidityMinutes: 60,
  refreshTokenValidityDays: 30,
  userPoolDeletionProtection: false,
};

/**
 * The site-wide daily request quota when people sign in and nobody set one: a backstop for
 * the whole site (about 250 people each using a full allowance of 200 answers and their
 * tickets), no longer the first limit an honest person meets.
 */
export const SIGNED_IN_DAILY_REQUEST_QUOTA = 100_000;

/** Largest allowance accepted (a typo guard; 0 turns the allowance off). */
export const MAX_DAILY_ANSWERS = 1_000_000;

// Cognito's rule for a domain prefix: lower-case letters, digits and hyphens, not at either
// end, at most 63; AWS refuses prefixes containing "aws", "amazon" or "cognito".
const DOMAIN_PREFIX = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;
const RESERVED_IN_PREFIX = /aws|amazon|cognito/;
const EMAIL_DOMAIN = /^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$/;

/** The sign-in domain's origin, which the page's CSP must allow (known at synth). */
export function signInOrigin(prefix: string, region: string): string {
  return `https://${prefix}.auth.${region}.amazoncognito.com`;
}

/** Reads the sign-in settings of one environment. */
export function resolveSignInSettings(check: Checker, environment: string): SignInConfig {
  const auth = check.oneOf<AuthMode>("auth", SIGN_IN_DEFAULTS.auth, ["cognito", "none"], "one of");
  const selfSignUp = check.bool("selfSignUp", SIGN_IN_DEFAULTS.selfSignUp);
  const allowedEmailDomains = check
    .list("allowedEmailDomains", (d) => EMAIL_DOMAIN.test(d.toLowerCase()), "e-mail domains such as example.com")
    .map((d) => d.toLowerCase());
  if (allowedEmailDomains.length > 0 && !selfSignUp) {
    check.fail("allowedEmailDomains", allowedEmailDomains, "empty unless selfSignUp is true (it limits who may sign up; an administrator may invite anyone)");
  }
  const signInDomainPrefix = check.matches("signInDomainPrefix", `falcon-chatbot-${environment}`, DOMAIN_PREFIX, "1-63 lower-case letters, digits or hyphens, not starting or ending with a hyphen (Cognito domain prefix rule)");
  if (RESERVED_IN_PREFIX.test(signInDomainPrefix)) {
    check.fail("signInDomainPrefix", signInDomainPrefix, 'a prefix without "aws", "amazon" or "cognito" (Cognito refuses them)');
  }
  const mfa = check.oneOf<MfaMode>("mfa", SIGN_IN_DEFAULTS.mfa, ["off", "optional", "required"], "one of");
  if (auth === "none") {
    if (selfSignUp) check.fail("selfSignUp", selfSignUp, 'false when auth is "none" (there is no sign-in)');
    if (mfa !== "off") check.fail("mfa", mfa, '"off" when auth is "none" (there is no sign-in)');
  }
  return {
    auth,
    selfSignUp,
    allowedEmailDomains,
    mfa,
    dailyAnswersPerUser: check.int("dailyAnswersPerUser", SIGN_IN_DEFAULTS.dailyAnswersPerUser, 0, MAX_DAILY_ANSWERS),
    tokenValidityMinutes: check.int("tokenValidityMinutes", SIGN_IN_DEFAULTS.tokenValidityMinutes, 5, 1440),
    refreshTokenValidityDays: check.int("refreshTokenValidityDays", SIGN_IN_DEFAULTS.refreshTokenValidityDays, 1, 3650),
    signInDomainPrefix,
    userPoolDeletionProtection: check.bool("userPoolDeletionProtection", SIGN_IN_DEFAULTS.userPoolDeletionProtection),
  };
}
