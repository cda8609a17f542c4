import { loadConfig } from "../stacks/config";
import { problemOf } from "./helpers";

const env0 = (context: unknown = {}, env: NodeJS.ProcessEnv = {}) => loadConfig(context, env).environments[0];

describe("sign-in settings", () => {
  it("signs people in with Cognito by default, invite-only, 200 answers a day each", () => {
    expect(env0()).toMatchObject({
      auth: "cognito",
      selfSignUp: false,
      allowedEmailDomains: [],
      mfa: "off",
      dailyAnswersPerUser: 200,
      tokenValidityMinutes: 60,
      refreshTokenValidityDays: 30,
      signInDomainPrefix: "falcon-chatbot-dev",
      userPoolDeletionProtection: false,
    });
  });

  it("raises the site-wide daily quota to a backstop when people sign in, unless one is set", () => {
    expect(env0({ conversations: false }).dailyRequestQuota).toBe(100_000);
    expect(env0({ dailyRequestQuota: 5000 }).dailyRequestQuota).toBe(5000);
    expect(env0({ auth: "none" }).dailyRequestQuota).toBe(10_000);
  });

  it("reads every sign-in setting from CHATBOT_* variables", () => {
    const c = env0({}, {
      CHATBOT_AUTH: "cognito",
      CHATBOT_SELF_SIGN_UP: "true",
      CHATBOT_ALLOWED_EMAIL_DOMAINS: "Example.com, corp.example.org",
      CHATBOT_MFA: "required",
      CHATBOT_DAILY_ANSWERS_PER_USER: "0",
      CHATBOT_TOKEN_VALIDITY_MINUTES: "30",
      CHATBOT_REFRESH_TOKEN_VALIDITY_DAYS: "7",
      CHATBOT_SIGN_IN_DOMAIN_PREFIX: "my-chat-42",
      CHATBOT_USER_POOL_DELETION_PROTECTION: "true",
    });
    expect(c).toMatchObject({ selfSignUp: true, allowedEmailDomains: ["example.com", "corp.example.org"], mfa: "required", dailyAnswersPerUser: 0, tokenValidityMinutes: 30, refreshTokenValidityDays: 7, signInDomainPrefix: "my-chat-42", userPoolDeletionProtection: true });
  });

  it("rejects an unknown auth mode, naming what is allowed", () => {
    expect(problemOf({ auth: "saml" })).toMatch(/auth = "saml" \(from cdktf.json context chatbot.auth\) is invalid; allowed: one of: cognito, none/);
  });

  it("rejects allowedEmailDomains without selfSignUp", () => {
    expect(problemOf({ allowedEmailDomains: ["example.com"] })).toMatch(/allowedEmailDomains = \["example.com"\] .*empty unless selfSignUp is true/);
  });

  it("rejects a malformed e-mail domain", () => {
    expect(problemOf({ selfSignUp: true, allowedEmailDomains: ["@example.com"] })).toMatch(/allowedEmailDomains = "@example.com" .*e-mail domains such as example.com/);
  });

  it("rejects an unknown MFA mode", () => {
    expect(problemOf({ mfa: "sms" })).toMatch(/mfa = "sms" .*allowed: one of: off, optional, required/);
  });

  it("rejects a negative or fractional allowance", () => {
    expect(problemOf({ dailyAnswersPerUser: -1 })).toMatch(/dailyAnswersPerUser = -1 .*a whole number from 0 to 1000000/);
    expect(problemOf({}, { CHATBOT_DAILY_ANSWERS_PER_USER: "2.5" })).toMatch(/dailyAnswersPerUser = 2.5 \(from environment variable CHATBOT_DAILY_ANSWERS_PER_USER\)/);
  });

  it("rejects token lifetimes Cognito does not accept", () => {
    expect(problemOf({ tokenValidityMinutes: 2 })).toMatch(/tokenValidityMinutes = 2 .*from 5 to 1440/);
    expect(problemOf({ refreshTokenValidityDays: 4000 })).toMatch(/refreshTokenValidityDays = 4000 .*from 1 to 3650/);
  });

  it("rejects a domain prefix Cognito refuses", () => {
    expect(problemOf({ signInDomainPrefix: "Chat_Bot" })).toMatch(/signInDomainPrefix = "Chat_Bot" .*lower-case letters, digits or hyphens/);
    expect(problemOf({ signInDomainPrefix: "my-aws-chat" })).toMatch(/signInDomainPrefix = "my-aws-chat" .*without "aws", "amazon" or "cognito"/);
  });

  it("rejects sign-up and MFA settings when auth is none", () => {
    expect(problemOf({ auth: "none", selfSignUp: true })).toMatch(/selfSignUp = true .*false when auth is "none"/);
    expect(problemOf({ auth: "none", mfa: "optional" })).toMatch(/mfa = "optional" .*"off" when auth is "none"/);
  });

  it("protects prod's user pool from deletion in the shipped cdktf.json", () => {
    const shipped = require("../cdktf.json").context.chatbot;
    const prod = loadConfig(shipped, { CHATBOT_ENVIRONMENTS: "prod" }).environments[0];
    expect(prod.userPoolDeletionProtection).toBe(true);
  });
});
