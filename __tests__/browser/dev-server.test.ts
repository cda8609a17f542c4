/**
 * The dev server's HTTP behaviour: every entry of contract/chat-errors.json becomes
 * the same status and body as API Gateway gives, API Gateway's own errors, static files.
 * A fixture handler raises whatever message the event names, so the mapping is tested
 * independently of what the real Lambda chooses to raise. (WebSocket /stream, the AWS
 * stand-ins and the WAF rule: dev-server-stream.test.ts.)
 */
import chatErrors from "../../contract/chat-errors.json";
import { mapLambdaError, startDevServer, type DevServer } from "../../dev/server";
import { FIXTURES } from "./fixtures/dev";

let dev: DevServer;
const logLines: string[] = [];

beforeAll(async () => {
  dev = await startDevServer({
    ...FIXTURES,
    integrationTimeoutMs: 1500,
    maxBodyBytes: 1024,
    log: (line) => logLines.push(line),
  });
});

afterAll(() => dev?.close());

async function post(body: string | object, path = "chat") {
  const res = await fetch(new URL(path, dev.url), {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: typeof body === "string" ? body : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, type: res.headers.get("content-type"), text, json: () => JSON.parse(text) };
}

describe("error mapping (contract/chat-errors.json)", () => {
  const prefixed = chatErrors.errors.filter((e) => e.statusCode !== 500).map((e) => e.statusCode);

  it("covers every status the contract defines", () => {
    expect([...prefixed, 500].sort()).toEqual(chatErrors.errors.map((e) => e.statusCode).sort());
  });

  it.each(prefixed)("[%i] message becomes that status with the message, prefix stripped, and the status's reason", async (status) => {
    const res = await post({ raise: `[${status}] something went wrong: "quoted" \\ and\nsecond line` });
    expect(res.status).toBe(status);
    expect(res.type).toBe("application/json");
    const reason = chatErrors.errors.find((e) => e.statusCode === status)!.reason;
    expect(res.json()).toEqual({ message: `something went wrong: "quoted" \\ and\nsecond line`, reason });
  });

  it("[429:daily_allowance] message keeps the status and carries the reason of its prefix", async () => {
    const res = await post({ raise: "[429:daily_allowance] your daily allowance is used up; it resets at 00:00 UTC" });
    expect(res.status).toBe(429);
    expect(res.json()).toEqual({ message: "your daily allowance is used up; it resets at 00:00 UTC", reason: "daily_allowance" });
  });

  it.each([
    ["an unprefixed crash", "KeyError: 'text'"],
    ["an unknown status prefix", "[418] I'm a teapot"],
    ["a Lambda timeout", "Task timed out after 120.00 seconds"],
    ["a prefix that is not at the start", "oops [400] bad"],
  ])("%s becomes 500 with the fallback message only", async (_name, raised) => {
    const res = await post({ raise: raised });
    expect(res.status).toBe(500);
    expect(res.json()).toEqual({ message: chatErrors.fallbackMessage, reason: "internal" });
  });

  it("mapLambdaError agrees with the contract for an empty message", () => {
    expect(mapLambdaError("")).toEqual({ statusCode: 500, message: chatErrors.fallbackMessage, reason: "internal" });
  });
});

describe("POST /chat", () => {
  it("passes the JSON body to the handler as the event and answers 200 with its result", async () => {
    const event = { text: "héllo", history: [{ role: "user", content: "hi" }] };
    const res = await post(event);
    expect(res.status).toBe(200);
    const body = res.json();
    expect(body).toMatchObject({ msg: "ok", event, endpoint: "fixture-endpoint" });
    expect(body.requestId).toMatch(/^[0-9a-f-]{36}$/);
  });

  it("keeps one warm worker process across requests", async () => {
    const a = (await post({ text: "a" })).json();
    const b = (await post({ text: "b" })).json();
    expect(a.pid).toBe(b.pid);
    expect(a.requestId).not.toBe(b.requestId);
  });

  it("answers concurrent requests, in order, from the one worker", async () => {
    const answers = await Promise.all([1, 2, 3, 4].map((n) => post({ text: String(n), sleep: 0.05 })));
    expect(answers.map((a) => a.json().event.text)).toEqual(["1", "2", "3", "4"]);
  });

  it.each([
    ["not JSON", "text=hello"],
    ["empty", ""],
    ["a JSON array", "[1,2]"],
    ["a JSON string", '"hello"'],
    ["over the size limit", JSON.stringify({ text: "x".repeat(2000) })],
  ])("a body that is %s gets API Gateway's 400 Invalid request body", async (_name, body) => {
    const res = await post(body);
    expect(res.status).toBe(400);
    expect(res.json()).toEqual({ message: "Invalid request body", reason: "invalid_request" });
  });

  it("answers 504 Endpoint request timed out after the integration timeout", async () => {
    const res = await post({ sleep: 3 });
    expect(res.status).toBe(504);
    expect(res.json()).toEqual({ message: "Endpoint request timed out", reason: "model_timeout" });
  });

  it("replaces a worker that died mid-request; that request gets 500", async () => {
    const before = (await post({ text: "x" })).json().pid;
    const crashed = await post({ exit: true });
    expect(crashed.status).toBe(500);
    expect(crashed.json()).toEqual({ message: chatErrors.fallbackMessage, reason: "internal" });
    const after = (await post({ text: "y" })).json();
    expect(after.msg).toBe("ok");
    expect(after.pid).not.toBe(before);
  });

  it("sends what the handler prints to the log, not into the answer", () => {
    expect(logLines).toContain("[lambda] handler output goes to the log, not the protocol");
  });
});

describe("other requests", () => {
  it.each([
    ["GET", "chat"],
    ["PUT", "chat"],
    ["POST", "chat/extra"],
  ])("%s /%s gets API Gateway's 403 Missing Authentication Token", async (method, path) => {
    const res = await fetch(new URL(path, dev.url), { method });
    expect(res.status).toBe(403);
    expect(await res.json()).toEqual({ message: "Missing Authentication Token", reason: "request_refused" });
  });

  it.each([
    ["", "text/html; charset=utf-8", "<!doctype html>"],
    ["chat.html", "text/html; charset=utf-8", "<!doctype html>"],
    ["chat.js", "text/javascript; charset=utf-8", '"use strict"'],
    ["answers.js", "text/javascript; charset=utf-8", "window.falconAnswers"],
    ["chat-style.css", "text/css; charset=utf-8", ":root"],
    ["favicon.svg", "image/svg+xml", "<svg"],
  ])("serves site/%s as %s", async (path, type, start) => {
    const res = await fetch(new URL(path, dev.url));
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toBe(type);
    expect(res.headers.get("x-content-type-options")).toBe("nosniff");
    expect(await res.text()).toContain(start);
  });

  it.each(["missing.html", "..%2fpackage.json", "%2e%2e/package.json", "../package.json", "%00"])(
    "does not serve %s",
    async (path) => {
      // Raw request: fetch would normalise the dot segments away before sending.
      const res = await fetch(`${dev.url}${path}`);
      expect(res.status).toBe(404);
    },
  );

  it("binds 127.0.0.1", () => {
    expect(new URL(dev.url).hostname).toBe("127.0.0.1");
  });
});
