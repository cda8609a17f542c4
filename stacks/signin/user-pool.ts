import { CloudwatchLogGroup } from "@cdktf/provider-aws/lib/cloudwatch-log-group";
import { CognitoUserGroup } from "@cdktf/provider-aws/lib/cognito-user-group";
import { CognitoUserPool } from "@cdktf/provider-aws/lib/cognito-user-pool";
import { CognitoUserPoolClient } from "@cdktf/provider-aws/lib/cognito-user-pool-client";
import { CognitoUserPoolDomain } from "@cdktf/provider-aws/lib/cognito-user-pool-domain";
import { IamRole } from "@cdktf/provider-aws/lib/iam-role";
import { IamRolePolicy } from "@cdktf/provider-aws/lib/iam-role-policy";
import { LambdaFunction } from "@cdktf/provider-aws/lib/lambda-function";
import { LambdaPermission } from "@cdktf/provider-aws/lib/lambda-permission";
import { Construct } from "constructs";
import type { MfaMode } from "../config";
import { signInOrigin } from "../config";
import type { FunctionPackage } from "../function-package";
import { policyDocument, servicePrincipalTrust } from "../iam";

/** The group whose members have no daily allowance. */
export const ADMIN_GROUP = "admin";
/** The page the sign-in returns to, and after sign-out (Cognito matches these URLs exactly). */
export const PAGE_PATH = "/chat.html";

/** Options of {@link UserPool}. */
export interface UserPoolOptions {
  /** Name of the pool (environment suffix included), e.g. `chatbot-dev`. */
  readonly name: string;
  /** Region of the pool, for the sign-in domain's origin. */
  readonly region: string;
  /** Origins of the site (`https://<domain>`, no trailing slash): callback and sign-out URLs are `<origin>/chat.html`. May hold Terraform references. */
  readonly siteOrigins: readonly string[];
  /** Prefix of the sign-in domain. */
  readonly domainPrefix: string;
  /** People may sign up themselves. @default false */
  readonly selfSignUp?: boolean;
  /** With self sign-up: only these e-mail domains (lower case). @default [] (any) */
  readonly allowedEmailDomains?: readonly string[];
  /** @default "off" */
  readonly mfa?: MfaMode;
  /** ID and access token lifetime. @default 60 */
  readonly tokenValidityMinutes?: number;
  /** @default 30 */
  readonly refreshTokenValidityDays?: number;
  /** @default false */
  readonly deletionProtection?: boolean;
  /** The chat package, for the pre-sign-up trigger (`identity/pre_sign_up.py`). */
  readonly code: FunctionPackage;
  /** Name of the trigger function, when `allowedEmailDomains` needs one. */
  readonly triggerFunctionName: string;
  /** @default "python3.13" */
  readonly runtime?: string;
  /** @default 1 */
  readonly logRetentionDays?: number;
}

/**
 * People who may chat: a Cognito user pool (e-mail as the user name), the page's public
 * app client (authorization code with PKCE), the hosted sign-in domain, the `admin`
 * group, and with `allowedEmailDomains` the pre-sign-up trigger that refuses other domains.
 */
export class UserPool extends Construct {
  public readonly pool: CognitoUserPool;
  public readonly client: CognitoUserPoolClient;
  public readonly domain: CognitoUserPoolDomain;
  public readonly adminGroup: CognitoUserGroup;
  /** `https://<prefix>.auth.<region>.amazoncognito.com`, known at synth (the page's CSP needs it). */
  public readonly origin: string;
  /** The pre-sign-up trigger, when `allowedEmailDomains` is set. */
  public readonly trigger?: LambdaFunction;

  constructor(scope: Construct, id: string, options: UserPoolOptions) {
    super(scope, id);
    const mfa = options.mfa ?? "off";
    const domains = options.allowedEmailDomains ?? [];
    const retentionInDays = options.logRetentionDays ?? 1;

    if (domains.length > 0) this.trigger = this.preSignUpTrigger(options, domains, retentionInDays);

    this.pool = new CognitoUserPool(this, "pool", {
      name: options.name,
      // People sign in with their e-mail address; Cognito verifies it before it counts.
      usernameAttributes: ["email"],
      autoVerifiedAttributes: ["email"],
      usernameConfiguration: { caseSensitive: false },
      passwordPolicy: {
        minimumLength: 12,
        requireLowercase: true,
        requireUppercase: true,
        requireNumbers: true,
        requireSymbols: false,
        temporaryPasswordValidityDays: 7,
      },
      adminCreateUserConfig: { allowAdminCreateUserOnly: !(options.selfSignUp ?? false) },
      accountRecoverySetting: { recoveryMechanism: [{ name: "verified_email", priority: 1 }] },
      mfaConfiguration: mfa === "off" ? "OFF" : mfa === "optional" ? "OPTIONAL" : "ON",
      softwareTokenMfaConfiguration: mfa === "off" ? undefined : { enabled: true },
      deletionProtection: options.deletionProtection ? "ACTIVE" : "INACTIVE",
      // Lite has what this pool uses (classic hosted UI, TOTP, a pre-sign-up trigger); new
      // pools would otherwise be Essentials, which costs more past the free 10,000 users.
      userPoolTier: "LITE",
      lambdaConfig: this.trigger ? { preSignUp: this.trigger.arn } : undefined,
    });

    const pageUrls = options.siteOrigins.map((origin) => `${origin}${PAGE_PATH}`);
    this.client = new CognitoUserPoolClient(this, "page-client", {
      name: `${options.name}-page`,
      userPoolId: this.pool.id,
      // A page cannot keep a secret: a public client, the code grant with PKCE only.
      generateSecret: false,
      allowedOauthFlowsUserPoolClient: true,
      allowedOauthFlows: ["code"],
      allowedOauthScopes: ["openid", "email"],
      supportedIdentityProviders: ["COGNITO"],
      callbackUrls: pageUrls,
      logoutUrls: pageUrls,
      // No password grant from the API: people sign in on the hosted page only.
      explicitAuthFlows: ["ALLOW_REFRESH_TOKEN_AUTH"],
      enableTokenRevocation: true,
      preventUserExistenceErrors: "ENABLED",
      idTokenValidity: options.tokenValidityMinutes ?? 60,
      accessTokenValidity: options.tokenValidityMinutes ?? 60,
      refreshTokenValidity: options.refreshTokenValidityDays ?? 30,
      tokenValidityUnits: [{ idToken: "minutes", accessToken: "minutes", refreshToken: "days" }],
      readAttributes: ["email", "email_verified"],
      writeAttributes: ["email"],
    });

    this.domain = new CognitoUserPoolDomain(this, "domain", {
      domain: options.domainPrefix,
      userPoolId: this.pool.id,
      // The classic hosted UI. Managed login (version 2) shows "Login pages unavailable"
      // until a branding style exists, and provider 5.100 has no resource for one.
      managedLoginVersion: 1,
    });
    this.origin = signInOrigin(options.domainPrefix, options.region);

    this.adminGroup = new CognitoUserGroup(this, "admin-group", {
      name: ADMIN_GROUP,
      userPoolId: this.pool.id,
      description: "Administrators: no daily answer allowance",
    });

    if (this.trigger) {
      new LambdaPermission(this, "trigger-permission", {
        statementId: "AllowCognitoPreSignUp",
        action: "lambda:InvokeFunction",
        functionName: this.trigger.functionName,
        principal: "cognito-idp.amazonaws.com",
        sourceArn: this.pool.arn,
      });
    }
  }

  private preSignUpTrigger(options: UserPoolOptions, domains: readonly string[], retentionInDays: number): LambdaFunction {
    const name = options.triggerFunctionName;
    const logGroup = new CloudwatchLogGroup(this, "trigger-log-group", { name: `/aws/lambda/${name}`, retentionInDays });
    const role = new IamRole(this, "trigger-role", {
      name: `${name}-role`,
      description: `Execution role of ${name}: its own log group, nothing else`,
      assumeRolePolicy: servicePrincipalTrust("lambda.amazonaws.com"),
    });
    new IamRolePolicy(this, "trigger-role-policy", {
      name: "logs",
      role: role.id,
      policy: policyDocument([{ Sid: "WriteOwnLogs", Effect: "Allow", Action: ["logs:CreateLogStream", "logs:PutLogEvents"], Resource: [`${logGroup.arn}:*`] }]),
    });
    return new LambdaFunction(this, "trigger", {
      functionName: name,
      description: "Cognito pre-sign-up: only allowed e-mail domains may sign up themselves",
      role: role.arn,
      runtime: options.runtime ?? "python3.13",
      handler: "identity.pre_sign_up.lambda_handler",
      filename: options.code.zipPath,
      sourceCodeHash: options.code.zipHash,
      timeout: 5,
      memorySize: 128,
      architectures: ["arm64"],
      loggingConfig: { logFormat: "JSON", logGroup: logGroup.name, applicationLogLevel: "INFO", systemLogLevel: "WARN" },
      environment: { variables: { ALLOWED_EMAIL_DOMAINS: JSON.stringify(domains) } },
      dependsOn: [logGroup],
    });
  }
}
