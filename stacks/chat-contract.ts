/**
 * The `/chat` contract as the stack needs it: the JSON schema API Gateway checks
 * requests against, and the integration responses that turn the Lambda's
 * `[status] message` errors into HTTP answers with a `{"message": ...}` body.
 *
 * The error mapping itself is data in `contract/chat-errors.json`, shared with the
 * local dev server so the two cannot drift.
 */
import chatErrors from "../contract/chat-errors.json";

import errorReasons from "../contract/error-reasons.json";

/** One error mapping: which raised messages it catches and the HTTP status it answers with. */
export interface ChatErrorMapping {
  readonly statusCode: number;
  /** Java regex matched against the whole Lambda `errorMessage`. */
  readonly selectionPattern: string;
  /** The reason of an error raised as `[status] message` (no reason of its own). */
  readonly reason: string;
}

export const CHAT_ERRORS: readonly ChatErrorMapping[] = chatErrors.errors;

/** What the caller sees when an error carries no `[status]` prefix of its own (a crash, a timeout). */
export const FALLBACK_MESSAGE: string = chatErrors.fallbackMessage;
export const FALLBACK_REASON: string = chatErrors.fallbackReason;

/** The machine-readable reasons every error body and `error` frame carries (contract/error-reasons.json). */
export const ERROR_REASONS: Readonly<Record<string, { readonly status: number; readonly action: string; readonly meaning: string }>> = errorReasons.reasons;

/** One of API Gateway's own errors (a gateway response type) and the reason its body carries. */
export interface GatewayErrorMapping {
  readonly responseType: string;
  readonly reason: string;
}

export const GATEWAY_ERRORS: readonly GatewayErrorMapping[] = chatErrors.gatewayResponses;

/** The body template of a gateway response: API Gateway's own message, and the type's reason. */
export function gatewayResponseTemplate(reason: string): string {
  return `{"message":$context.error.messageString,"reason":"${reason}"}`;
}

/**
 * VTL template for one error status: `{"message": <errorMessage without its prefix>,
 * "reason": <the prefix's reason, else the status's default>}` for an error raised as
 * `[status] message` or `[status:reason] message`, or the fallback message and reason when
 * the error was not raised with this status's prefix, so stack traces and internal details
 * never reach the caller. (Velocity takes no arithmetic inside method arguments, hence the
 * `#set`s.)
 */
export function errorResponseTemplate(statusCode: number): string {
  const prefix = `[${statusCode}]`;
  const reason = CHAT_ERRORS.find((e) => e.statusCode === statusCode)?.reason ?? FALLBACK_REASON;
  return [
    `#set($raw = "$input.path('$.errorMessage')")`,
    `#set($close = $raw.indexOf("]"))`,
    `#if(($raw.startsWith("${prefix}") || $raw.startsWith("[${statusCode}:")) && $close > 0)`,
    `#set($head = $raw.substring(1, $close))`,
    `#set($after = $close + 1)`,
    `#set($msg = $raw.substring($after).trim())`,
    `#set($colon = $head.indexOf(":"))`,
    `#if($colon > 0)`,
    `#set($from = $colon + 1)`,
    `#set($reason = $head.substring($from))`,
    `#else`,
    `#set($reason = "${reason}")`,
    `#end`,
    `#else`,
    `#set($msg = "${FALLBACK_MESSAGE}")`,
    `#set($reason = "${FALLBACK_REASON}")`,
    `#end`,
    // escapeJavaScript also escapes single quotes as \', which JSON does not allow.
    `{"message": "$util.escapeJavaScript($msg).replaceAll("\\\\'", "'")", "reason": "$util.escapeJavaScript($reason)"}`,
  ].join("\n");
}

/** Request limits; the same values reach the Lambda, which re-checks after trimming. */
export interface ChatRequestLimits {
  readonly maxTextChars: number;
  readonly maxHistoryTurns: number;
  readonly maxHistoryChars: number;
}

/**
 * A saved conversation's id: 22 URL-safe characters (`secrets.token_urlsafe(16)`). The
 * function answers 404 to an id that is not the caller's; the schema only refuses what
 * can be no id at all.
 */
export const CONVERSATION_ID_PATTERN = "^[A-Za-z0-9_-]{22}$";

/**
 * JSON schema (draft 4, the dialect API Gateway models use) for the `POST /chat` body.
 * API Gateway rejects a body that breaks it with 400 before the Lambda is paid for.
 * `conversationId` continues a saved conversation and `retry` replaces its failed last
 * turn (docs/conversations.md); without saved conversations the function ignores both.
 */
export function chatRequestSchema(limits: ChatRequestLimits): Record<string, unknown> {
  return {
    $schema: "http://json-schema.org/draft-04/schema#",
    title: "ChatRequest",
    type: "object",
    required: ["text"],
    properties: {
      text: { type: "string", minLength: 1, maxLength: limits.maxTextChars },
      history: {
        type: "array",
        maxItems: limits.maxHistoryTurns,
        items: {
          type: "object",
          required: ["role", "content"],
          properties: {
            role: { type: "string", enum: ["user", "assistant"] },
            content: { type: "string", maxLength: limits.maxHistoryChars },
          },
        },
      },
      conversationId: { type: "string", pattern: CONVERSATION_ID_PATTERN },
      retry: { type: "boolean" },
    },
  };
}

/** JSON schema of every error body, the same shape API Gateway's own errors have. */
export const ERROR_SCHEMA: Record<string, unknown> = {
  $schema: "http://json-schema.org/draft-04/schema#",
  title: "ChatError",
  type: "object",
  required: ["message"],
  properties: { message: { type: "string" }, reason: { type: "string" } },
};

/** JSON schema of `POST /chat/ticket`'s answer: a single-use WebSocket ticket. */
export const TICKET_SCHEMA: Record<string, unknown> = {
  $schema: "http://json-schema.org/draft-04/schema#",
  title: "ChatTicket",
  type: "object",
  required: ["ticket", "expires_in"],
  properties: { ticket: { type: "string" }, expires_in: { type: "integer" } },
};

/** JSON schema of a successful answer (`msg` is the original sample's field). */
export const REPLY_SCHEMA: Record<string, unknown> = {
  $schema: "http://json-schema.org/draft-04/schema#",
  title: "ChatReply",
  type: "object",
  required: ["msg"],
  properties: { msg: { type: "string" } },
};
