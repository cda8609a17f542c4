/**
 * WebSocket /stream the way an API Gateway WebSocket API runs it: every route is a
 * Lambda proxy invocation of the stream function (route selection
 * `$request.body.action`), with API Gateway's event shapes and limits.
 *
 *   handshake      → $connect (request headers incl. Origin); an answer other than
 *                    statusCode 200 refuses the handshake with that status
 *   text frame     → "chat" when it is a JSON object with "action": "chat", else $default
 *   close          → $disconnect
 *
 * What the function returns from a message route is not sent back (the routes have no
 * route response); it talks to the client through the management API (aws-standins.ts).
 * A route that fails gets API Gateway's own error frame. Limits: 32 KB per client frame
 * (larger closes with 1009), 29 s per route integration, 10 min idle, 2 h per connection.
 */
import { randomBytes, randomUUID } from "node:crypto";
import type http from "node:http";
import type { Duplex } from "node:stream";
import { STATUS_CODES } from "node:http";
import { WebSocketServer, type RawData, type WebSocket } from "ws";
import { sourceIp } from "./http";
import type { Log, WorkerReply } from "./processes";

const FRAME_LIMIT_BYTES = 32 * 1024;
const ROUTES = new Set(["chat"]);

export interface Connection {
  id: string;
  connectedAt: number;
  lastActiveAt: number;
  sourceIp: string;
  userAgent: string;
  send(text: string): void;
  close(code: number, reason: string): void;
}

/** The open connections by id: what the management API can reach. */
export class Connections {
  private readonly open = new Map<string, Connection>();
  get(id: string): Connection | undefined {
    return this.open.get(id);
  }
  add(connection: Connection): void {
    this.open.set(connection.id, connection);
  }
  delete(id: string): void {
    this.open.delete(id);
  }
  get size(): number {
    return this.open.size;
  }
}

export interface StreamGatewayOptions {
  /** Runs one route invocation of the stream function. */
  invoke(event: unknown): Promise<WorkerReply>;
  connections: Connections;
  stage: string;
  apiId: string;
  /** Route integration timeout. @default 29000 */
  integrationTimeoutMs?: number;
  /** @default 600000 (API Gateway's 10 minutes) */
  idleTimeoutMs?: number;
  /** @default 7200000 (API Gateway's 2 hours) */
  maxConnectionMs?: number;
  log: Log;
}

/** API Gateway's requestTime, e.g. "09/Feb/2024:14:03:52 +0000". */
function requestTime(epochMs: number): string {
  const d = new Date(epochMs);
  const month = d.toLocaleString("en-US", { month: "short", timeZone: "UTC" });
  const pad = (n: number) => String(n).padStart(2, "0");
  return `${pad(d.getUTCDate())}/${month}/${d.getUTCFullYear()}:${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())} +0000`;
}

/** Ids shaped like API Gateway's, e.g. "L0SM9cOFvHcCIhw=" (base64, so '=' must be URL-encoded). */
function connectionIdOf(): string {
  return randomBytes(11).toString("base64").replace(/[+/]/g, "A").slice(0, 15) + "=";
}

/** Route selection on `$request.body.action`. */
export function selectRoute(body: string): string {
  try {
    const frame = JSON.parse(body);
    if (frame && typeof frame === "object" && !Array.isArray(frame) && ROUTES.has(frame.action)) return frame.action;
  } catch {
    // not JSON: no action to select on
  }
  return "$default";
}

/** Request headers as API Gateway passes them: original case, last value wins, all values listed. */
export function headersOf(req: http.IncomingMessage, ip: string) {
  const headers: Record<string, string> = {};
  const multiValueHeaders: Record<string, string[]> = {};
  const add = (name: string, value: string) => {
    headers[name] = value;
    (multiValueHeaders[name] ??= []).push(value);
  };
  for (let i = 0; i < req.rawHeaders.length; i += 2) add(req.rawHeaders[i], req.rawHeaders[i + 1]);
  add("X-Forwarded-For", ip);
  add("X-Forwarded-Port", String(req.socket.localPort ?? ""));
  add("X-Forwarded-Proto", "http");
  return { headers, multiValueHeaders };
}

function refuse(socket: Duplex, status: number, body = "") {
  socket.end(
    `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? "Error"}\r\n` +
      `Content-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
  );
}

export function streamGateway(options: StreamGatewayOptions) {
  const { invoke, connections, stage, apiId, log } = options;
  const integrationTimeoutMs = options.integrationTimeoutMs ?? 29_000;
  const idleTimeoutMs = options.idleTimeoutMs ?? 600_000;
  const maxConnectionMs = options.maxConnectionMs ?? 7_200_000;
  // $connect's answer may select one of the offered subprotocols (a `Sec-WebSocket-Protocol`
  // header in its `headers`), as API Gateway passes it on; without one, none is selected and
  // a browser that offered some fails the handshake, as against API Gateway.
  const selected = new WeakMap<http.IncomingMessage, string>();
  const wss = new WebSocketServer({
    noServer: true,
    maxPayload: FRAME_LIMIT_BYTES,
    perMessageDeflate: false,
    handleProtocols: (protocols, req) => {
      const choice = selected.get(req);
      return choice !== undefined && protocols.has(choice) ? choice : false;
    },
  });
  const sockets = new Set<WebSocket>();
  let stopping = false;

  function context(routeKey: string, eventType: string, base: { connectionId: string; connectedAt: number; domainName: string; ip: string; userAgent: string }) {
    const now = Date.now();
    return {
      routeKey,
      eventType,
      extendedRequestId: randomUUID(),
      requestTime: requestTime(now),
      messageDirection: "IN",
      stage,
      connectedAt: base.connectedAt,
      requestTimeEpoch: now,
      identity: { sourceIp: base.ip, userAgent: base.userAgent },
      requestId: randomUUID(),
      domainName: base.domainName,
      connectionId: base.connectionId,
      apiId,
    };
  }

  /** Runs a route with API Gateway's integration timeout. */
  async function route(event: unknown): Promise<WorkerReply | "timeout"> {
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<"timeout">((resolve) => (timer = setTimeout(() => resolve("timeout"), integrationTimeoutMs)));
    try {
      return await Promise.race([invoke(event), timedOut]);
    } finally {
      clearTimeout(timer);
    }
  }

  async function upgrade(req: http.IncomingMessage, socket: Duplex, head: Buffer) {
    socket.on("error", () => undefined); // a client that went away mid-handshake
    const ip = sourceIp(req);
    const base = {
      connectionId: connectionIdOf(),
      connectedAt: Date.now(),
      domainName: req.headers.host ?? "",
      ip,
      userAgent: String(req.headers["user-agent"] ?? ""),
    };
    const event = { ...headersOf(req, ip), requestContext: context("$connect", "CONNECT", base), isBase64Encoded: false };
    const reply = await route(event);
    const result = reply !== "timeout" && reply.ok ? (reply.result as { statusCode?: unknown; body?: unknown; headers?: Record<string, unknown> } | null) : null;
    const status = typeof result?.statusCode === "number" ? result.statusCode : 500;
    if (status !== 200) {
      if (reply === "timeout" || !reply.ok) log(`[stream] $connect failed: ${reply === "timeout" ? "integration timeout" : reply.errorMessage}`);
      refuse(socket, status, typeof result?.body === "string" ? result.body : status === 500 ? '{"message": "Internal server error"}' : "");
      return;
    }
    if (socket.destroyed) return; // the client gave up while $connect ran
    const protocol = Object.entries(result?.headers ?? {}).find(([name]) => name.toLowerCase() === "sec-websocket-protocol")?.[1];
    if (typeof protocol === "string") selected.set(req, protocol);
    wss.handleUpgrade(req, socket, head, (ws) => accepted(ws, base, req));
  }

  function accepted(ws: WebSocket, base: Parameters<typeof context>[2], req: http.IncomingMessage) {
    sockets.add(ws);
    let idle: NodeJS.Timeout;
    const touch = () => {
      connection.lastActiveAt = Date.now();
      clearTimeout(idle);
      idle = setTimeout(() => ws.close(1001, "Going away"), idleTimeoutMs);
    };
    const lifetime = setTimeout(() => ws.close(1001, "Going away"), maxConnectionMs);
    const connection: Connection = {
      id: base.connectionId,
      connectedAt: base.connectedAt,
      lastActiveAt: base.connectedAt,
      sourceIp: base.ip,
      userAgent: base.userAgent,
      send(text) {
        touch();
        ws.send(text);
      },
      close(code, reason) {
        ws.close(code, reason);
      },
    };
    connections.add(connection);
    touch();

    ws.on("message", (data: RawData, isBinary: boolean) => {
      touch();
      const buffer = Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data as Buffer);
      const body = isBinary ? buffer.toString("base64") : buffer.toString("utf8");
      const routeKey = isBinary ? "$default" : selectRoute(body);
      const requestContext = { ...context(routeKey, "MESSAGE", base), messageId: randomBytes(8).toString("base64url") };
      void route({ requestContext, body, isBase64Encoded: isBinary }).then((reply) => {
        if (reply !== "timeout" && reply.ok) return;
        log(`[stream] route ${routeKey} failed: ${reply === "timeout" ? "integration timeout" : reply.errorMessage}`);
        // API Gateway's own answer to the client when a route's integration fails.
        const message = reply === "timeout" ? "Endpoint request timed out" : "Internal server error";
        if (connections.get(base.connectionId)) {
          connection.send(JSON.stringify({ message, connectionId: base.connectionId, requestId: requestContext.requestId }));
        }
      });
    });

    ws.on("close", (code: number, reason: Buffer) => {
      sockets.delete(ws);
      clearTimeout(idle);
      clearTimeout(lifetime);
      connections.delete(base.connectionId);
      if (stopping) return; // the dev server is closing: no $disconnect into stopping workers
      const headers = { Host: req.headers.host ?? "", "X-Forwarded-For": base.ip };
      const requestContext = {
        ...context("$disconnect", "DISCONNECT", base),
        disconnectStatusCode: code,
        disconnectReason: reason.toString("utf8"),
      };
      void route({ headers, multiValueHeaders: { Host: [headers.Host], "X-Forwarded-For": [base.ip] }, requestContext, isBase64Encoded: false }).then(
        (reply) => {
          if (reply === "timeout" || !reply.ok) log(`[stream] $disconnect failed: ${reply === "timeout" ? "timeout" : reply.errorMessage}`);
        },
      );
    });
    ws.on("error", (error) => log(`[stream] socket ${base.connectionId}: ${error.message}`));
  }

  return {
    /** Handles an upgrade request on /stream (after the edge let it through). */
    handleUpgrade(req: http.IncomingMessage, socket: Duplex, head: Buffer) {
      upgrade(req, socket, head).catch((error: Error) => {
        log(`[stream] handshake: ${error.stack ?? error}`);
        if (!socket.destroyed) refuse(socket, 500, '{"message": "Internal server error"}');
      });
    },
    /** Closes every socket as API Gateway does at its idle or 2-hour limit; returns how many. */
    drop(): number {
      for (const ws of sockets) ws.close(1001, "Going away");
      return sockets.size;
    },
    /** Closes every socket at once (the server is stopping). */
    close() {
      stopping = true;
      for (const ws of sockets) ws.terminate();
      wss.close();
    },
  };
}

export { refuse as refuseUpgrade };
