/**
 * The saved-conversation routes the way the REST API answers them: the Cognito authorizer
 * first (401 without a valid ID token, nothing invoked), then a Lambda proxy integration
 * (AWS_PROXY) of lambda-chat/conversations_function.py. The function gets API Gateway's
 * proxy event (httpMethod, resource, path, pathParameters, queryStringParameters, headers,
 * body, requestContext.authorizer.claims) and answers status, headers and body itself,
 * which are sent back as they are (docs/conversations.md).
 *
 *   GET, DELETE         /conversations
 *   GET, PATCH, DELETE  /conversations/{id}
 *   GET                 /conversations/{id}/export
 *
 * A method or path the API does not have is API Gateway's 403 "Missing Authentication
 * Token"; a function that fails, or answers something that is not a proxy response, is its
 * 502 "Internal server error"; one that runs past the integration timeout its 504.
 */
import { randomUUID } from "node:crypto";
import type http from "node:http";
import { gatewayError } from "./chat-route";
import { SECURITY_HEADERS, readBody, sendJson, sourceIp } from "./http";
import type { Log, WorkerReply } from "./processes";
import { headersOf } from "./stream-route";

const RESOURCES = [
  { resource: "/conversations", pattern: /^\/conversations$/, methods: ["GET", "DELETE"] },
  { resource: "/conversations/{id}", pattern: /^\/conversations\/([^/]+)$/, methods: ["GET", "PATCH", "DELETE"] },
  { resource: "/conversations/{id}/export", pattern: /^\/conversations\/([^/]+)\/export$/, methods: ["GET"] },
];

/** Paths below /conversations: this route's, whether or not a resource matches. */
export const isConversationsPath = (pathname: string) => pathname === "/conversations" || pathname.startsWith("/conversations/");

export interface ConversationsRouteOptions {
  /** Runs one invocation of the conversations function. */
  invoke(event: unknown): Promise<WorkerReply>;
  /** The verified ID token's claims as the authorizer hands them on, or null (401). */
  claims(req: http.IncomingMessage): Record<string, string> | null;
  /** Larger bodies get 413 (a local guard; API Gateway's own limit is 10 MB). */
  maxBodyBytes: number;
  integrationTimeoutMs: number;
  /** The REST API's stage, the first segment of requestContext.path. */
  stage: string;
  log: Log;
}

interface ProxyResult {
  statusCode: number;
  headers?: Record<string, unknown>;
  body?: string | null;
  isBase64Encoded?: boolean;
}

function isProxyResult(value: unknown): value is ProxyResult {
  const r = value as ProxyResult | null;
  return typeof r === "object" && r !== null && Number.isInteger(r.statusCode) && (r.body === undefined || r.body === null || typeof r.body === "string");
}

/** Query parameters as a proxy event has them: the last value wins, null when there are none. */
function queryOf(url: URL) {
  if (![...url.searchParams.keys()].length) return { queryStringParameters: null, multiValueQueryStringParameters: null };
  const multi: Record<string, string[]> = {};
  for (const [name, value] of url.searchParams) (multi[name] ??= []).push(value);
  const single = Object.fromEntries(Object.entries(multi).map(([name, values]) => [name, values[values.length - 1]]));
  return { queryStringParameters: single, multiValueQueryStringParameters: multi };
}

export function conversationsRoute({ invoke, claims, maxBodyBytes, integrationTimeoutMs, stage, log }: ConversationsRouteOptions) {
  return async function conversations(req: http.IncomingMessage, res: http.ServerResponse) {
    const url = new URL(req.url ?? "/", "http://localhost");
    const method = req.method ?? "GET";
    const match = RESOURCES.map((r) => ({ ...r, found: r.pattern.exec(url.pathname) })).find((r) => r.found);
    if (!match?.found || !match.methods.includes(method)) {
      sendJson(res, 403, gatewayError("MISSING_AUTHENTICATION_TOKEN", "Missing Authentication Token"));
      return;
    }
    const who = claims(req);
    if (!who) {
      sendJson(res, 401, gatewayError("UNAUTHORIZED", "Unauthorized"));
      return;
    }
    const raw = await readBody(req, maxBodyBytes);
    if (raw === null) {
      sendJson(res, 413, gatewayError("REQUEST_TOO_LARGE", "Request Entity Too Large"));
      return;
    }
    let id: string | undefined;
    try {
      id = match.found[1] === undefined ? undefined : decodeURIComponent(match.found[1]);
    } catch {
      id = match.found[1]; // API Gateway passes an undecodable segment on as it is
    }
    const requestId = randomUUID();
    const ip = sourceIp(req);
    const event = {
      resource: match.resource,
      path: url.pathname,
      httpMethod: method,
      ...headersOf(req, ip),
      ...queryOf(url),
      pathParameters: id === undefined ? null : { id },
      stageVariables: null,
      requestContext: {
        resourcePath: match.resource,
        httpMethod: method,
        path: `/${stage}${url.pathname}`,
        stage,
        requestId,
        requestTimeEpoch: Date.now(),
        identity: { sourceIp: ip, userAgent: req.headers["user-agent"] ?? "" },
        authorizer: { claims: who },
      },
      body: raw.length ? raw.toString("utf8") : null,
      isBase64Encoded: false,
    };
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<"timeout">((resolve) => (timer = setTimeout(() => resolve("timeout"), integrationTimeoutMs)));
    const reply = await Promise.race([invoke(event), timedOut]);
    clearTimeout(timer);
    const amzn = { "x-amzn-RequestId": requestId };
    if (reply === "timeout") {
      log(`[dev] conversations: integration timeout after ${integrationTimeoutMs} ms (the function keeps running)`);
      sendJson(res, 504, gatewayError("INTEGRATION_TIMEOUT", "Endpoint request timed out"), amzn);
      return;
    }
    if (!reply.ok || !isProxyResult(reply.result)) {
      log(`[dev] conversations: ${reply.ok ? "not a proxy response (statusCode, headers, body)" : `function error: ${reply.errorMessage}`}`);
      sendJson(res, 502, gatewayError("DEFAULT_5XX", "Internal server error"), amzn);
      return;
    }
    const result = reply.result;
    const body = result.body ? Buffer.from(result.body, result.isBase64Encoded ? "base64" : "utf8") : Buffer.alloc(0);
    const headers = Object.fromEntries(Object.entries(result.headers ?? {}).map(([name, value]) => [name, String(value)]));
    res.writeHead(result.statusCode, { ...SECURITY_HEADERS, ...headers, "Content-Length": body.length, ...amzn });
    res.end(method === "HEAD" ? undefined : body);
  };
}
