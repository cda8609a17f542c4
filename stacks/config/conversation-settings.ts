/** The settings of saved conversations: whether each signed-in person's chats are kept, and for how long. */
import type { Checker } from "./checker";
import type { ValueKind } from "./settings";
import type { AuthMode } from "./signin-settings";

/** Every saved-conversation setting of one environment (part of EnvironmentConfig). */
export interface ConversationConfig {
  /**
   * Keep each signed-in person's conversations in a DynamoDB table (listed, reopened, renamed,
   * deleted, exported through `/conversations`). Off: the page keeps them in the browser only.
   * Needs sign-in (`auth` = `cognito`). @default true when `auth` is `cognito`, else false
   */
  readonly conversations: boolean;
  /**
   * Days after which each saved message is removed (DynamoDB TTL; a conversation goes with its
   * last message). TTL deletes lazily, so the functions also skip expired items. 0 = keep.
   * @default 0
   */
  readonly conversationRetentionDays: number;
}

export const CONVERSATION_SETTINGS: Readonly<Record<keyof ConversationConfig, { env: string; kind: ValueKind }>> = {
  conversations: { env: "CHATBOT_CONVERSATIONS", kind: "boolean" },
  conversationRetentionDays: { env: "CHATBOT_CONVERSATION_RETENTION_DAYS", kind: "int" },
};

/** Longest retention accepted: ten years (a typo guard). */
export const MAX_CONVERSATION_RETENTION_DAYS = 3650;

/**
 * The site-wide daily request quota when conversations are kept and nobody set one: the
 * sign-in backstop (about 250 people each using a full allowance of 200 answers and their
 * tickets) plus about one conversations request per answer (the list refreshed, one
 * reopened, renamed, exported or deleted), which also count against the usage plan.
 */
export const CONVERSATIONS_DAILY_REQUEST_QUOTA = 150_000;

/** Reads the saved-conversation settings of one environment (after sign-in's `auth`). */
export function resolveConversationSettings(check: Checker, auth: AuthMode): ConversationConfig {
  const conversations = check.bool("conversations", auth === "cognito");
  if (conversations && auth === "none") {
    check.fail("conversations", conversations, 'false when auth is "none": conversations are kept per signed-in person, and without sign-in there is nobody to keep them for (the page then keeps them in the browser)');
  }
  const conversationRetentionDays = check.int("conversationRetentionDays", 0, 0, MAX_CONVERSATION_RETENTION_DAYS);
  if (conversationRetentionDays > 0 && !conversations) {
    check.fail("conversationRetentionDays", conversationRetentionDays, "0 while conversations is false (no conversations are kept on the server to expire)");
  }
  return { conversations, conversationRetentionDays };
}
