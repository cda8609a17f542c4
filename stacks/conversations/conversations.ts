import type { CloudwatchLogGroup } from "@cdktf/provider-aws/lib/cloudwatch-log-group";
import type { IamRole } from "@cdktf/provider-aws/lib/iam-role";
import { IamRolePolicy } from "@cdktf/provider-aws/lib/iam-role-policy";
import type { LambdaFunction } from "@cdktf/provider-aws/lib/lambda-function";
import { Construct } from "constructs";
import type { ChatApi } from "../chat-api";
import type { FunctionPackage } from "../function-package";
import { policyDocument } from "../iam";
import { ConversationStore } from "./conversation-store";
import { pythonFunction } from "../python-function";
import { CONVERSATIONS_HANDLER, ConversationRoutes } from "./conversation-routes";

/**
 * What the chat and stream functions do in the store: load a conversation and its messages
 * (GetItem, Query) and save a turn, one TransactWriteItems of Put, Put and Update. AWS
 * authorizes each action inside a transaction as its own operation ("Permissions for Put,
 * Update, Delete, and Get actions are governed by the permissions used for the underlying
 * PutItem, UpdateItem, DeleteItem, and GetItem operations":
 * https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/transaction-apis-iam.html).
 * They never list conversations, so not the index.
 */
export const CHAT_ACTIONS = ["dynamodb:GetItem", "dynamodb:Query", "dynamodb:PutItem", "dynamodb:UpdateItem"] as const;
/** What the conversations function does on the table: read, rename, delete one item, delete messages 25 at a time. */
export const CONVERSATIONS_ACTIONS = ["dynamodb:GetItem", "dynamodb:Query", "dynamodb:UpdateItem", "dynamodb:DeleteItem", "dynamodb:BatchWriteItem"] as const;

/**
 * Seconds a delete may run before it stops and answers 202 ("send DELETE again"): well inside
 * the integration timeout, whose 504 would hide how far it got. At most 20 s.
 */
export function deleteBudgetSeconds(integrationTimeoutMs: number): number {
  return Math.max(1, Math.min(20, Math.floor(integrationTimeoutMs / 1000) - 9));
}

/** The conversations function's timeout: a delete stops at its budget and answers 202 (send DELETE again); the rest is a few reads. */
export const CONVERSATIONS_TIMEOUT_SECONDS = 30;

/** Options of {@link Conversations}. */
export interface ConversationsOptions {
  /** Name of the table starts with it, e.g. `chatbot-dev`. */
  readonly namePrefix: string;
  /** Days a message is kept; 0 keeps them. @default 0 */
  readonly retentionDays?: number;
  /** Protect the table from deletion. @default false */
  readonly deletionProtection?: boolean;
  /** Name of the conversations function (environment suffix included), e.g. `lambda-chat-conversations-dev`. */
  readonly functionName: string;
  /** The chat package (it must hold conversations_function.py). */
  readonly code: FunctionPackage;
  /** What the conversations function reads besides the store: sign-in's settings, LOG_PROMPTS. */
  readonly environment: Readonly<Record<string, string>>;
  /** The API's integration timeout, which a delete must finish well inside. @default 29000 */
  readonly integrationTimeoutMs?: number;
  /** @default "python3.13" */
  readonly runtime?: string;
  /** @default 256 */
  readonly memoryMb?: number;
  /** @default 1 */
  readonly logRetentionDays?: number;
  /** X-Ray active tracing. @default false */
  readonly tracing?: boolean;
}

/**
 * Saved conversations as one switchable part: the store, the function behind
 * `/conversations` and, once the REST API exists, its routes ({@link serveOn}); and what
 * the chat functions are told and allowed.
 */
export class Conversations extends Construct {
  public readonly store: ConversationStore;
  public readonly function: LambdaFunction;
  public readonly role: IamRole;
  public readonly logGroup: CloudwatchLogGroup;
  private readonly retentionDays: number;
  private readonly integrationTimeoutMs: number;

  constructor(scope: Construct, id: string, options: ConversationsOptions) {
    super(scope, id);
    this.retentionDays = options.retentionDays ?? 0;
    this.integrationTimeoutMs = options.integrationTimeoutMs ?? 29_000;
    this.store = new ConversationStore(this, "store", { namePrefix: options.namePrefix, retentionDays: this.retentionDays, deletionProtection: options.deletionProtection });
    ({ function: this.function, role: this.role, logGroup: this.logGroup } = pythonFunction(this, {
      functionName: options.functionName,
      description: "Saved conversations: lists, reads, renames, deletes and exports the caller's own",
      handler: CONVERSATIONS_HANDLER,
      code: options.code,
      roleScope: "the saved-conversations table",
      policyName: "logs-and-conversations",
      statements: [
        { Sid: "ReadRenameDeleteConversations", Effect: "Allow", Action: [...CONVERSATIONS_ACTIONS], Resource: [this.store.table.arn] },
        { Sid: "ListConversationsNewestFirst", Effect: "Allow", Action: ["dynamodb:Query"], Resource: [this.store.indexArn] },
      ],
      environment: {
        ...options.environment,
        ...this.functionEnvironment(),
        CONVERSATION_DELETE_BUDGET_SECONDS: String(deleteBudgetSeconds(this.integrationTimeoutMs)),
      },
      runtime: options.runtime,
      timeoutSeconds: CONVERSATIONS_TIMEOUT_SECONDS,
      memoryMb: options.memoryMb ?? 256,
      logRetentionDays: options.logRetentionDays,
      tracing: options.tracing,
    }));
  }

  /** What every function that reads or saves conversations is told (lambda-chat/conversations/). */
  functionEnvironment(): Record<string, string> {
    return { CONVERSATIONS_TABLE: this.store.table.name, CONVERSATION_RETENTION_DAYS: String(this.retentionDays) };
  }

  /** Lets a chat function (`id`: "chat" or "stream") load conversations and save turns, nothing more. */
  grantChat(id: string, role: IamRole): void {
    new IamRolePolicy(this, `${id}-function-policy`, {
      name: "conversations",
      role: role.id,
      policy: policyDocument([{ Sid: "LoadAndSaveConversations", Effect: "Allow", Action: [...CHAT_ACTIONS], Resource: [this.store.table.arn] }]),
    });
  }

  /** The `/conversations` routes on the chat API (which has sign-in's authorizer). */
  serveOn(api: ChatApi, apiKeyRequired: boolean): ConversationRoutes {
    return new ConversationRoutes(this, "routes", { api, function: this.function, apiKeyRequired, integrationTimeoutMs: this.integrationTimeoutMs });
  }
}
