/**
 * Stand-ins for the two AWS APIs the stream function calls, on an internal 127.0.0.1
 * port of their own (not the page's origin), reached through real boto3 clients:
 *
 *   API Gateway management API (CONNECTIONS_ENDPOINT = <url>/<stage>)
 *     POST   /<stage>/@connections/<id>   body = the frame, sent to that socket as text
 *     GET    /<stage>/@connections/<id>   connection info
 *     DELETE /<stage>/@connections/<id>   closes the socket
 *     410 GoneException when the socket has gone, as API Gateway answers.
 *
 *   Lambda Invoke (AWS_ENDPOINT_URL_LAMBDA = <url>)
 *     POST /2015-03-31/functions/<name or ARN>/invocations
 *     X-Amz-Invocation-Type: Event answers 202 at once and runs the payload in a worker
 *     of the pool; RequestResponse waits for the result. Failed asynchronous invocations
 *     are not retried (the stack sets maximum_retry_attempts 0: a retry would re-send
 *     tokens), and one that found no free worker within maxEventAgeMs is dropped, as
 *     Lambda drops it after maximum_event_age_in_seconds; either way the on-failure
 *     destination (the failure notice) is invoked with Lambda's invocation record.
 */
import { randomUUID } from "node:crypto";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { readBody, type Headers } from "./http";
import type { Log, WorkerReply } from "./processes";
import type { Connections } from "./stream-route";

/** API Gateway's limits: one message of post_to_connection, one WebSocket frame. */
const MAX_MESSAGE_BYTES = 128 * 1024;
const MAX_FRAME_BYTES = 32 * 1024;
/** Lambda's payload limits: asynchronous and synchronous invocations. */
const MAX_EVENT_PAYLOAD = 256 * 1024;
const MAX_SYNC_PAYLOAD = 6 * 1024 * 1024;

export interface AwsStandInOptions {
  connections: Connections;
  /** The WebSocket API's stage, the first path segment of CONNECTIONS_ENDPOINT. */
  stage: string;
  /** The stream function's name; its ARN is accepted too. */
  functionName: string;
  /** Runs one asynchronous invocation in a worker, or drops it when none is free within `maxEventAgeMs`. */
  invokeQueued(event: unknown, maxEventAgeMs: number): Promise<WorkerReply | "EventAgeExceeded">;
  /** Runs one synchronous invocation in a worker. */
  invoke(event: unknown): Promise<WorkerReply>;
  /** The function's maximum_event_age_in_seconds, in ms. @default 60000 */
  maxEventAgeMs?: number;
  /** The on-failure destination: gets Lambda's invocation record of a dropped or failed run. */
  onFailure?(record: unknown): Promise<WorkerReply>;
  /** Region, for the function ARN in invocation records. */
  region: string;
  log: Log;
}

/** What Lambda sends an on-failure destination (AWS: invocation-async-retain-records). */
export function invocationRecord(event: unknown, functionArn: string, condition: "EventAgeExceeded" | "RetriesExhausted", reply?: WorkerReply) {
  return {
    version: "1.0",
    timestamp: new Date().toISOString(),
    requestContext: { requestId: randomUUID(), functionArn: `${functionArn}:$LATEST`, condition, approximateInvokeCount: reply ? 1 : 0 },
    requestPayload: event,
    ...(reply ? { responseContext: { statusCode: 200, executedVersion: "$LATEST", functionError: "Unhandled" }, responsePayload: { errorMessage: reply.errorMessage, errorType: reply.errorType } } : {}),
  };
}

export interface AwsStandIns {
  /** Base URL of the stand-in (AWS_ENDPOINT_URL_LAMBDA). */
  url: string;
  /** What the stream function gets as CONNECTIONS_ENDPOINT. */
  connectionsEndpoint: string;
  close(): Promise<void>;
}

function answer(res: http.ServerResponse, status: number, body: unknown, headers: Headers = {}) {
  const text = body === undefined ? "" : JSON.stringify(body);
  res.writeHead(status, {
    "Content-Type": "application/json",
    "Content-Length": Buffer.byteLength(text),
    "x-amzn-RequestId": randomUUID(),
    ...headers,
  });
  res.end(text);
}

/** An AWS JSON error: botocore reads the code from x-amzn-ErrorType and the message from the body. */
function awsError(res: http.ServerResponse, status: number, code: string, message: string) {
  answer(res, status, { message }, { "x-amzn-ErrorType": code });
}

export async function startAwsStandIns(options: AwsStandInOptions): Promise<AwsStandIns> {
  const { connections, stage, functionName, invoke, invokeQueued, log } = options;
  const functionArn = `arn:aws:lambda:${options.region}:000000000000:function:${functionName}`;
  const managementPath = new RegExp(`^/${stage}/@connections/([^/]+)$`);
  const invokePath = /^\/2015-03-31\/functions\/([^/]+)\/invocations$/;

  async function management(req: http.IncomingMessage, res: http.ServerResponse, connectionId: string) {
    const body = await readBody(req, MAX_MESSAGE_BYTES);
    const connection = connections.get(connectionId);
    if (!connection) {
      log(`[gateway] ${req.method} @connections/${connectionId}: 410 GoneException (the socket has gone)`);
      awsError(res, 410, "GoneException", `Connection ${connectionId} is gone`);
      return;
    }
    if (req.method === "GET") {
      answer(res, 200, {
        connectedAt: new Date(connection.connectedAt).toISOString(),
        identity: { sourceIp: connection.sourceIp, userAgent: connection.userAgent },
        lastActiveAt: new Date(connection.lastActiveAt).toISOString(),
      });
    } else if (req.method === "DELETE") {
      connection.close(1000, "");
      answer(res, 204, undefined);
    } else if (req.method === "POST") {
      if (body === null) {
        awsError(res, 413, "PayloadTooLargeException", "Message too long");
        return;
      }
      if (body.length > MAX_FRAME_BYTES) {
        log(`[gateway] post_to_connection of ${body.length} bytes: over the 32 KB frame size the contract keeps to`);
      }
      connection.send(body.toString("utf8"));
      answer(res, 200, undefined);
    } else {
      awsError(res, 405, "MethodNotAllowedException", `${req.method} is not supported`);
    }
  }

  async function lambdaInvoke(req: http.IncomingMessage, res: http.ServerResponse, name: string) {
    const type = String(req.headers["x-amz-invocation-type"] ?? "RequestResponse");
    const limit = type === "Event" ? MAX_EVENT_PAYLOAD : MAX_SYNC_PAYLOAD;
    const raw = await readBody(req, limit);
    // A name, a partial ARN or a full ARN, with an optional qualifier.
    const target = /(?:^|:function:)([A-Za-z0-9_-]+)(?::[^:]+)?$/.exec(name)?.[1];
    if (target !== functionName) {
      awsError(res, 404, "ResourceNotFoundException", `Function not found: ${name}`);
      return;
    }
    if (raw === null) {
      awsError(res, 413, "RequestEntityTooLargeException", `Request must be smaller than ${limit} bytes`);
      return;
    }
    let event: unknown;
    try {
      event = raw.length ? JSON.parse(raw.toString("utf8")) : {};
    } catch {
      awsError(res, 400, "InvalidRequestContentException", "Could not parse request body into json");
      return;
    }
    if (type === "DryRun") {
      answer(res, 204, undefined);
    } else if (type === "Event") {
      answer(res, 202, undefined);
      const reply = await invokeQueued(event, options.maxEventAgeMs ?? 60_000);
      if (reply === "EventAgeExceeded") {
        log(`[lambda-async] no free function within ${options.maxEventAgeMs ?? 60_000} ms: dropped (EventAgeExceeded)`);
      } else if (!reply.ok) {
        log(`[lambda-async] invocation ${reply.requestId ?? ""} failed, not retried: ${reply.errorMessage}`);
      }
      if (options.onFailure && (reply === "EventAgeExceeded" || !reply.ok)) {
        const record = invocationRecord(event, functionArn, reply === "EventAgeExceeded" ? "EventAgeExceeded" : "RetriesExhausted", reply === "EventAgeExceeded" ? undefined : reply);
        const notified = await options.onFailure(record);
        if (!notified.ok) log(`[lambda-async] the on-failure destination failed: ${notified.errorMessage}`);
      }
    } else if (type === "RequestResponse") {
      const reply = await invoke(event);
      if (reply.ok) answer(res, 200, reply.result ?? null);
      else {
        answer(
          res,
          200,
          { errorMessage: reply.errorMessage, errorType: reply.errorType ?? "Error" },
          { "X-Amz-Function-Error": "Unhandled" },
        );
      }
    } else {
      awsError(res, 400, "InvalidParameterValueException", `Unknown invocation type ${type}`);
    }
  }

  const server = http.createServer((req, res) => {
    const { pathname } = new URL(req.url ?? "/", "http://localhost");
    const connection = managementPath.exec(pathname);
    const invocation = invokePath.exec(pathname);
    const handled = connection
      ? management(req, res, decodeURIComponent(connection[1]))
      : invocation && req.method === "POST"
        ? lambdaInvoke(req, res, decodeURIComponent(invocation[1]))
        : Promise.resolve(awsError(res, 404, "UnknownOperationException", `No such operation: ${req.method} ${pathname}`));
    handled.catch((error: Error) => {
      log(`[aws] ${req.method} ${pathname}: ${error.stack ?? error}`);
      if (!res.headersSent) awsError(res, 500, "InternalFailure", "stand-in failure");
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", resolve);
  });
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url,
    connectionsEndpoint: `${url}/${stage}`,
    close() {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeAllConnections();
      return closed;
    },
  };
}
