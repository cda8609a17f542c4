import { IamRolePolicy } from "@cdktf/provider-aws/lib/iam-role-policy";
import type { IamRole } from "@cdktf/provider-aws/lib/iam-role";
import { S3Object } from "@cdktf/provider-aws/lib/s3-object";
import { Fn } from "cdktf";
import { Construct } from "constructs";
import type { SignInConfig } from "../config";
import type { FunctionPackage } from "../function-package";
import { policyDocument } from "../iam";
import { IdentityStore } from "./identity-store";
import { ADMIN_GROUP, PAGE_PATH, UserPool } from "./user-pool";

/** How long a WebSocket ticket may wait for its `$connect`. */
export const TICKET_TTL_SECONDS = 60;
/** Key of the page's sign-in configuration, next to chat.html. */
export const PAGE_CONFIG_KEY = "auth-config.json";
/** The `<meta>` of chat.html that points the page at it (only with sign-in). */
export const PAGE_CONFIG_META = "falcon-sign-in";

/** Options of {@link SignIn}. */
export interface SignInOptions {
  /** The environment's sign-in settings (`auth` must be `cognito`). */
  readonly settings: SignInConfig;
  /** Names of the pool and tables start with this, e.g. `chatbot-dev`. */
  readonly namePrefix: string;
  readonly region: string;
  /** Origins of the site (`https://<domain>`); may hold Terraform references. */
  readonly siteOrigins: readonly string[];
  /** The chat package (the pre-sign-up trigger runs from it). */
  readonly code: FunctionPackage;
  readonly triggerFunctionName: string;
  readonly runtime?: string;
  readonly logRetentionDays?: number;
  /** Streaming is on: WebSocket tickets are needed. @default true */
  readonly streaming?: boolean;
}

/**
 * Sign-in as one switchable part: the user pool and its page client, the identity store
 * (tickets, daily usage), what the chat functions are told and allowed, and the page's
 * configuration object.
 */
export class SignIn extends Construct {
  public readonly userPool: UserPool;
  public readonly store: IdentityStore;
  private readonly settings: SignInConfig;

  constructor(scope: Construct, id: string, options: SignInOptions) {
    super(scope, id);
    const s = options.settings;
    this.settings = s;
    this.userPool = new UserPool(this, "user-pool", {
      name: options.namePrefix,
      region: options.region,
      siteOrigins: options.siteOrigins,
      domainPrefix: s.signInDomainPrefix,
      selfSignUp: s.selfSignUp,
      allowedEmailDomains: s.allowedEmailDomains,
      mfa: s.mfa,
      tokenValidityMinutes: s.tokenValidityMinutes,
      refreshTokenValidityDays: s.refreshTokenValidityDays,
      deletionProtection: s.userPoolDeletionProtection,
      code: options.code,
      triggerFunctionName: options.triggerFunctionName,
      runtime: options.runtime,
      logRetentionDays: options.logRetentionDays,
    });
    this.store = new IdentityStore(this, "identity-store", { namePrefix: options.namePrefix, tickets: options.streaming ?? true });
  }

  /** The sign-in domain's origin (for the page's CSP). */
  get origin(): string {
    return this.userPool.origin;
  }

  /** What both chat functions read about sign-in (lambda-chat/identity/settings.py). */
  functionEnvironment(): Record<string, string> {
    return {
      AUTH: "cognito",
      ...(this.store.tickets ? { TICKETS_TABLE: this.store.tickets.name } : {}),
      USAGE_TABLE: this.store.usage.name,
      DAILY_ANSWERS_PER_USER: String(this.settings.dailyAnswersPerUser),
      TICKET_TTL_SECONDS: String(TICKET_TTL_SECONDS),
      ADMIN_GROUP,
    };
  }

  /** What the stream's failure notice reads: the table to refund a dropped answer in. */
  noticeEnvironment(): Record<string, string> {
    return { USAGE_TABLE: this.store.usage.name };
  }

  /**
   * The stream's failure notice refunds the answer a dropped stream job had reserved
   * (lambda-chat/stream_failures/notice.py): one action on the usage table.
   */
  grantNotice(role: IamRole): void {
    new IamRolePolicy(this, "failure-notice-policy", {
      name: "sign-in-refund",
      role: role.id,
      policy: policyDocument([{ Sid: "RefundDroppedAnswers", Effect: "Allow", Action: ["dynamodb:UpdateItem"], Resource: [this.store.usage.arn] }]),
    });
  }

  /** The REST function mints tickets and counts answers, nothing more. */
  grantChat(role: IamRole): void {
    new IamRolePolicy(this, "chat-function-policy", {
      name: "sign-in",
      role: role.id,
      policy: policyDocument([
        ...(this.store.tickets ? [{ Sid: "MintTickets", Effect: "Allow" as const, Action: ["dynamodb:PutItem"], Resource: [this.store.tickets.arn] }] : []),
        { Sid: "CountDailyAnswers", Effect: "Allow", Action: ["dynamodb:UpdateItem"], Resource: [this.store.usage.arn] },
      ]),
    });
  }

  /**
   * The stream function consumes tickets, counts answers, and closes connections whose
   * token has expired (DELETE on @connections, which ManageConnections covers).
   */
  grantStream(role: IamRole, webSocketExecutionArn: string, stage: string, connectionsTableArn: string): void {
    new IamRolePolicy(this, "stream-function-policy", {
      name: "sign-in",
      role: role.id,
      policy: policyDocument([
        { Sid: "ConsumeTickets", Effect: "Allow", Action: ["dynamodb:DeleteItem"], Resource: [this.store.tickets!.arn] },
        { Sid: "CountDailyAnswers", Effect: "Allow", Action: ["dynamodb:UpdateItem"], Resource: [this.store.usage.arn] },
        // $connect stores the ticket's caller on the connection's item; each message reads it back.
        { Sid: "ReadConnectionCaller", Effect: "Allow", Action: ["dynamodb:GetItem"], Resource: [connectionsTableArn] },
        { Sid: "CloseExpiredConnections", Effect: "Allow", Action: ["execute-api:ManageConnections"], Resource: [`${webSocketExecutionArn}/${stage}/DELETE/@connections/*`] },
      ]),
    });
  }

  /**
   * The page's configuration (client id and sign-in origin exist only after apply), next to
   * chat.html. `conversations`: the server keeps this person's conversations (the page's
   * server mode); otherwise the page keeps them in the browser.
   */
  writePageConfig(bucketId: string, features: { readonly conversations: boolean }): S3Object {
    return new S3Object(this, "page-config", {
      bucket: bucketId,
      key: PAGE_CONFIG_KEY,
      content: Fn.jsonencode({
        auth: "cognito",
        clientId: this.userPool.client.id,
        signInOrigin: this.origin,
        redirectPath: PAGE_PATH,
        dailyAnswersPerUser: this.settings.dailyAnswersPerUser,
        conversations: features.conversations,
      }),
      contentType: "application/json",
      cacheControl: "no-cache",
    });
  }
}
