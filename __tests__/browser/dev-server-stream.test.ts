/**
 * The dev server's WebSocket API: /stream's routes and their API Gateway events, the
 * management API and Lambda Invoke stand-ins the stream function reaches through real
 * boto3 clients, API Gateway's limits, and the WAF rate rule (--rate-limit). A fixture
 * stream function (fixtures/stream_handler.py) does what each chat frame's text says,
 * so the dev server is tested independently of what the real Lambda chooses to do.
 */
import WebSocket from "ws";
import edgeResponses from "../../contract/edge-responses.json";
import { startDevServer, type DevServer } from "../../dev/server";
import { FIXTURES, waitForLine } from "./fixtures/dev";

let dev: DevServer;
const logLines: string[] = [];

beforeAll(async () => {
  dev = await startDevServer({ ...FIXTURES, log: (line) => logLines.push(line) });
});

afterAll(() => dev?.close());

const logged = (pattern: RegExp) => waitForLine(logLines, pattern);
type Frame = Record<string, any>;

interface Client {
  ws: WebSocket;
  /** Every frame received so far, parsed. */
  frames: Frame[];
  /** Resolves with the first frame (earlier ones included) that matches. */
  until(match: (frame: Frame) => boolean): Promise<Frame>;
  /** Resolves with the close code once the socket has closed. */
  closed: Promise<number>;
  chat(id: string, text: string): void;
}

class Refused extends Error {
  constructor(readonly status: number) {
    super(`handshake refused with ${status}`);
  }
}

const origin = () => new URL(dev.url).origin;
const streamUrl = (server: DevServer) => `${server.url.replace(/^http/, "ws")}stream`;

function connect(server = dev, from = origin()): Promise<Client> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(streamUrl(server), { origin: from });
    const frames: Frame[] = [];
    const waiting: (() => void)[] = [];
    ws.on("message", (data) => {
      frames.push(JSON.parse(data.toString()));
      for (const wake of waiting.splice(0)) wake();
    });
    const closed = new Promise<number>((done) => ws.once("close", (code) => done(code)));
    const client: Client = {
      ws,
      frames,
      closed,
      async until(match) {
        for (;;) {
          const found = frames.find(match);
          if (found) return found;
          await new Promise<void>((wake) => waiting.push(wake));
        }
      },
      chat: (id, text) => ws.send(JSON.stringify({ action: "chat", id, text })),
    };
    ws.once("open", () => resolve(client));
    ws.once("unexpected-response", (_req, res) => {
      reject(new Refused(res.statusCode ?? 0));
      res.resume();
    });
    ws.once("error", reject);
  });
}

const done = (id: string) => (f: Frame) => f.id === id && f.type === "done";

describe("WebSocket /stream (the WebSocket API and the stream function)", () => {
  it("gives $connect the handshake's headers, Origin included, and API Gateway's request context", async () => {
    const c = await connect();
    c.chat("e1", "events");
    const { connect: event } = await c.until(done("e1"));
    expect(event.headers.Origin).toBe(origin());
    expect(event.multiValueHeaders.Origin).toEqual([origin()]);
    expect(event.headers["Sec-WebSocket-Key"]).toEqual(expect.any(String));
    expect(event.requestContext).toMatchObject({
      routeKey: "$connect",
      eventType: "CONNECT",
      stage: "stream",
      connectionId: expect.stringMatching(/^[A-Za-z0-9]{15}=$/),
      connectedAt: expect.any(Number),
      requestTimeEpoch: expect.any(Number),
      requestId: expect.any(String),
      apiId: expect.any(String),
      domainName: new URL(dev.url).host,
      identity: { sourceIp: "127.0.0.1", userAgent: "" },
    });
    expect(event.isBase64Encoded).toBe(false);
    c.ws.close();
  });

  it("routes a chat frame to the chat route with the raw frame as body", async () => {
    const c = await connect();
    c.chat("e2", "events");
    const { connect: connectEvent, message } = await c.until(done("e2"));
    expect(message.body).toBe(JSON.stringify({ action: "chat", id: "e2", text: "events" }));
    expect(message.isBase64Encoded).toBe(false);
    expect(message.requestContext).toMatchObject({
      routeKey: "chat",
      eventType: "MESSAGE",
      messageId: expect.any(String),
      connectionId: connectEvent.requestContext.connectionId,
      connectedAt: connectEvent.requestContext.connectedAt,
    });
    c.ws.close();
  });

  it.each([
    ["not JSON", "hello"],
    ["an unknown action", JSON.stringify({ action: "sing", id: "x" })],
    ["a JSON array", "[1]"],
  ])("routes a frame that is %s to $default", async (_name, frame) => {
    const c = await connect();
    c.ws.send(frame);
    const answer = await c.until((f) => f.type === "error");
    expect(answer.event.requestContext.routeKey).toBe("$default");
    expect(answer.event.body).toBe(frame);
    c.ws.close();
  });

  it("refuses the handshake with the status of a $connect answer other than 200", async () => {
    await expect(connect(dev, "https://elsewhere.example")).rejects.toEqual(new Refused(403));
  });

  it("refuses an upgrade on any other path with 404", async () => {
    const ws = new WebSocket(`${dev.url.replace(/^http/, "ws")}socket`, { origin: origin() });
    const status = await new Promise<number>((resolve) =>
      ws.once("unexpected-response", (_req, res) => resolve(res.statusCode ?? 0)),
    );
    expect(status).toBe(404);
  });

  it("runs a stream job through Lambda's asynchronous Invoke; its frames arrive through post_to_connection", async () => {
    const c = await connect();
    c.chat("s1", "tokens:3:0");
    await c.until(done("s1"));
    expect(c.frames.map((f) => [f.type, f.text])).toEqual([
      ["token", "t0 "],
      ["token", "t1 "],
      ["token", "t2 "],
      ["done", undefined],
    ]);
    c.ws.close();
  });

  it("streams to two sockets at once, each job in a warm worker of its own", async () => {
    const [a, b] = await Promise.all([connect(), connect()]);
    const order: string[] = [];
    a.ws.on("message", (data) => order.push(`a:${JSON.parse(data.toString()).type}`));
    b.ws.on("message", (data) => order.push(`b:${JSON.parse(data.toString()).type}`));
    a.chat("a", "tokens:4:150");
    b.chat("b", "tokens:4:150");
    const [doneA, doneB] = await Promise.all([a.until(done("a")), b.until(done("b"))]);
    // Neither waited for the other: each got a token before the other was done.
    expect(order.indexOf("b:token")).toBeLessThan(order.indexOf("a:done"));
    expect(order.indexOf("a:token")).toBeLessThan(order.indexOf("b:done"));
    expect(doneA.pid).not.toBe(doneB.pid);
    a.ws.close();
    b.ws.close();
  });

  it("answers post_to_connection for a closed socket with 410 GoneException, which stops the job", async () => {
    const c = await connect();
    c.chat("g1", "tokens:100:30");
    await c.until((f) => f.type === "token");
    c.ws.close();
    expect(await logged(/job g1: GoneException, stopped/)).toBeTruthy();
    expect(logLines.some((line) => /\[gateway\] POST @connections\/\S+: 410 GoneException/.test(line))).toBe(true);
  });

  it("runs $disconnect with the close code when the socket closes", async () => {
    const c = await connect();
    c.chat("d1", "events");
    const { connect: event } = await c.until(done("d1"));
    c.ws.close(4001);
    const id = event.requestContext.connectionId;
    expect(await logged(new RegExp(`disconnect ${id} 4001`))).toBeTruthy();
  });

  it("answers get_connection with the socket's identity", async () => {
    const c = await connect();
    c.chat("i1", "info");
    const info = await c.until(done("i1"));
    expect(info.identity).toEqual({ SourceIp: "127.0.0.1", UserAgent: "" });
    c.ws.close();
  });

  it("closes the socket on delete_connection", async () => {
    const c = await connect();
    c.chat("x1", "delete");
    expect(await c.closed).toBe(1000);
  });

  it("sends API Gateway's own error frame when a route fails", async () => {
    const c = await connect();
    c.chat("r1", "raise");
    const frame = await c.until((f) => typeof f.message === "string");
    expect(frame).toEqual({ message: "Internal server error", connectionId: expect.any(String), requestId: expect.any(String) });
    c.ws.close();
  });

  it("closes the socket with 1009 on a client frame over 32 KB, as API Gateway does", async () => {
    const c = await connect();
    c.chat("big", "x".repeat(33 * 1024));
    expect(await c.closed).toBe(1009);
  });

  it("answers an Event invocation 202 at once, and 404 for another function", async () => {
    const invoke = (name: string) =>
      fetch(`${dev.awsUrl}/2015-03-31/functions/${encodeURIComponent(name)}/invocations`, {
        method: "POST",
        headers: { "X-Amz-Invocation-Type": "Event" },
        body: JSON.stringify({ streamJob: { connectionId: "gone0000000000A=", id: "lost", text: "tokens:1:0" } }),
      });
    const accepted = await invoke("arn:aws:lambda:us-east-1:000000000000:function:lambda-chat-stream");
    expect(accepted.status).toBe(202);
    const missing = await invoke("another-function");
    expect(missing.status).toBe(404);
    expect(missing.headers.get("x-amzn-errortype")).toBe("ResourceNotFoundException");
    expect(await logged(/job lost: GoneException, stopped/)).toBeTruthy();
  });
});

describe("WAF rate rule (--rate-limit)", () => {
  let limited: DevServer;
  beforeAll(async () => {
    limited = await startDevServer({ ...FIXTURES, rateLimit: 3, log: () => undefined });
  });
  afterAll(() => limited?.close());
  beforeEach(() => limited.resetRateLimit());

  const chat = () =>
    fetch(new URL("chat", limited.url), { method: "POST", body: JSON.stringify({ text: "hi" }) });

  it("answers requests to /chat over the limit with the edge's 429 body", async () => {
    const allowed = [await chat(), await chat(), await chat()].map((r) => r.status);
    const blocked = await chat();
    expect(allowed).toEqual([200, 200, 200]);
    expect(blocked.status).toBe(edgeResponses.tooManyRequests.statusCode);
    expect(await blocked.json()).toEqual({ message: edgeResponses.tooManyRequests.message, reason: "rate_limited" });
  });

  it("refuses a /stream handshake over the limit with 429", async () => {
    await Promise.all([chat(), chat()]);
    const first = await connect(limited, new URL(limited.url).origin);
    first.ws.close();
    await expect(connect(limited, new URL(limited.url).origin)).rejects.toEqual(new Refused(429));
  });

  it("does not count the page's static files", async () => {
    for (let i = 0; i < 5; i++) expect((await fetch(new URL("chat.js", limited.url))).status).toBe(200);
    expect((await chat()).status).toBe(200);
  });
});
