/**
 * POST /chat the way API Gateway's REST API and its non-proxy Lambda integration
 * answer it. The error mapping is read from contract/chat-errors.json, the same data
 * the stack's integration responses are built from.
 */
import type http from "node:http";
import chatErrors from "../../contract/chat-errors.json";
import { readBody, sendJson } from "./http";
import type { Log, WorkerReply } from "./processes";

const ERROR_RULES = chatErrors.errors.map((rule) => ({
  statusCode: rule.statusCode,
  reason: rule.reason,
  // API Gateway matches selectionPattern against the whole errorMessage.
  pattern: new RegExp(`^(?:${rule.selectionPattern})$`),
}));

/**
 * How API Gateway answers a Lambda error, per contract/chat-errors.json: what the
 * integration response's template (stacks/chat-contract.ts) does with `[status] message`
 * and `[status:reason] message`.
 */
export function mapLambdaError(errorMessage: string): { statusCode: number; message: string; reason: string } {
  const rule = ERROR_RULES.find((r) => r.pattern.test(errorMessage));
  // No rule matches only an empty message; the contract's catch-all status is 500.
  const statusCode = rule?.statusCode ?? 500;
  const prefix = new RegExp(`^\\[${statusCode}(?::([^\\]]*))?\\]`).exec(errorMessage);
  if (!rule || !prefix) return { statusCode, message: chatErrors.fallbackMessage, reason: chatErrors.fallbackReason };
  return { statusCode, message: errorMessage.slice(prefix[0].length).trim(), reason: prefix[1] || rule.reason };
}

/** API Gateway's own answer of a gateway response type, with the reason the stack gives it. */
export function gatewayError(responseType: string, message: string): { message: string; reason: string } {
  const found = chatErrors.gatewayResponses.find((g) => g.responseType === responseType);
  const fallback = chatErrors.gatewayResponses.find((g) => g.responseType === "DEFAULT_4XX")!;
  return { message, reason: (found ?? fallback).reason };
}

export interface ChatRouteOptions {
  invoke(event: unknown): Promise<WorkerReply>;
  maxBodyBytes: number;
  integrationTimeoutMs: number;
  log: Log;
  /**
   * Sign-in: the caller from a valid ID token, or null, which API Gateway's authorizer
   * answers with 401 before anything else. @default none: the open API
   */
  caller?: (req: http.IncomingMessage) => Record<string, string> | null;
  /** `ticket`: POST /chat/ticket, whose template sends no body. @default "chat" */
  action?: "chat" | "ticket";
}

/** The handler of POST /chat: body → Lambda event, result or raised error → HTTP answer. */
export function chatRoute({ invoke, maxBodyBytes, integrationTimeoutMs, log, caller, action = "chat" }: ChatRouteOptions) {
  return async function chat(req: http.IncomingMessage, res: http.ServerResponse) {
    const who = caller ? caller(req) : undefined;
    if (who === null) {
      sendJson(res, 401, gatewayError("UNAUTHORIZED", "Unauthorized"));
      return;
    }
    const raw = await readBody(req, maxBodyBytes);
    let event: unknown;
    try {
      event = raw === null ? undefined : JSON.parse(raw.toString("utf8"));
    } catch {
      event = undefined;
    }
    // The request model requires a JSON object; the Lambda checks the fields itself.
    if (action === "chat" && (event === null || typeof event !== "object" || Array.isArray(event))) {
      sendJson(res, 400, gatewayError("BAD_REQUEST_BODY", "Invalid request body"));
      return;
    }
    // The mapping templates of stacks/rest-lambda-method.ts: the caller only from the token.
    if (who) event = action === "ticket" ? { action: "ticket", caller: who } : { body: event, caller: who };
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<"timeout">((resolve) => {
      timer = setTimeout(() => resolve("timeout"), integrationTimeoutMs);
    });
    const reply = await Promise.race([invoke(event), timedOut]);
    clearTimeout(timer);
    if (reply === "timeout") {
      log(`[dev] integration timeout after ${integrationTimeoutMs} ms (the handler keeps running)`);
      sendJson(res, 504, gatewayError("INTEGRATION_TIMEOUT", "Endpoint request timed out"));
      return;
    }
    const requestId = { "x-amzn-RequestId": reply.requestId ?? "" };
    if (reply.ok) {
      sendJson(res, 200, reply.result ?? null, requestId);
    } else {
      const { statusCode, message, reason } = mapLambdaError(reply.errorMessage ?? "");
      sendJson(res, statusCode, { message, reason }, requestId);
    }
  };
}
