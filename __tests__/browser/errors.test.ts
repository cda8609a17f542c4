/**
 * Every way an answer can fail shows inline, with the server's message, and the page
 * recovers: Retry re-sends the same turn, and the next message works. Both ways an
 * answer can go: over POST /chat (the WebSocket refused) and over the WebSocket.
 *
 * The first request of each test is rewritten on its way out (a fault marker the fake
 * model understands, or input the handler rejects), so the error comes from the real
 * handler and dev server; the retry goes out unchanged and succeeds.
 */
import type { Page, Response, Route } from "playwright-core";
import {
  QUICK_MODEL,
  browserSuite,
  answered,
  ask,
  botBubble,
  refuseStream,
  rewriteFirstFrame,
  send,
  sendButton,
  turns,
  type ChatBody,
  type Frame,
  type Session,
} from "./harness";

// Streaming at a brisk pace: these tests are about the page, not the model's speed (stream.test.ts).
const { open } = browserSuite({ fakeArgs: QUICK_MODEL });

/** The page with its WebSocket refused, so every answer goes by POST /chat. */
const openPostOnly = (options: { timeoutMs?: number } = {}) => open({ ...options, routeStream: refuseStream });

/** Lets `handle` deal with the page's first /chat request; later ones go through untouched. */
async function onFirstRequest(page: Page, handle: (route: Route) => Promise<void>) {
  let first = true;
  await page.route("**/chat", (route) => {
    if (!first) return route.continue();
    first = false;
    return handle(route);
  });
}

/** Rewrites the body of the page's first /chat request only. */
const rewriteFirst = (page: Page, rewrite: (body: ChatBody) => ChatBody) =>
  onFirstRequest(page, (route) =>
    route.continue({ postData: JSON.stringify(rewrite(JSON.parse(route.request().postData() ?? "{}"))) }),
  );

/** Answers the page's first /chat request itself, as a proxy in between might. */
const fulfillFirst = (page: Page, status: number, contentType: string, body: string) =>
  onFirstRequest(page, (route) => route.fulfill({ status, contentType, body }));

const withMarker = (marker: string) => <T extends { text?: string }>(body: T) => ({ ...body, text: `${body.text} ${marker}` });

/** The error bubble of turn 0: title, detail and the meta line. */
async function errorShown(page: Page) {
  const bubble = await answered(page, 0);
  expect(await bubble.getAttribute("class")).toContain("error");
  return {
    title: await bubble.locator("strong").innerText(),
    detail: await bubble.locator(".detail").innerText(),
    meta: await page.locator(".turn").nth(0).locator(".msg.bot .meta").innerText(),
  };
}

/** Retry re-sends turn 0 unchanged (`sentBodies` tells what the page sent), its reply replaces the error, and the next message works. */
async function expectRecovery(s: Session, sentBodies: () => ChatBody[] = () => s.chatBodies) {
  expect(await sendButton(s.page).isEnabled()).toBe(true);
  await s.page.locator(".turn .retry").click();
  const reply = await answered(s.page, 0);
  expect(await reply.getAttribute("class")).not.toContain("error");
  expect(await reply.innerText()).toContain("Echo: Hello");
  const sent = sentBodies();
  expect(sent[1]).toEqual(sent[0]);
  expect(await s.page.locator(".retry").count()).toBe(0);
  await ask(s.page, "And now?");
  expect(sentBodies()[2].history).toHaveLength(2);
}

/** A rejected message (reason invalid_request) offers no Retry (the same text fails the same way), and the next message works. */
async function expectNoRetry(s: Session) {
  expect(await s.page.locator(".turn .retry").count()).toBe(0);
  expect(await sendButton(s.page).isEnabled()).toBe(true);
  expect(await ask(s.page, "And now?")).toContain("Echo: And now?");
}

describe("over POST /chat (the WebSocket refused)", () => {
  describe.each([
    { status: 400, name: "input the handler rejects", rewrite: (b: ChatBody) => ({ ...b, text: "   " }) },
    { status: 429, name: "the model is throttled ([[fail:429]])", rewrite: withMarker("[[fail:429]]") },
    { status: 502, name: "the model fails ([[fail:424]])", rewrite: withMarker("[[fail:424]]") },
    { status: 502, name: "the model answers garbage ([[malformed]])", rewrite: withMarker("[[malformed]]") },
    { status: 502, name: "the model answers nothing ([[empty]])", rewrite: withMarker("[[empty]]") },
    { status: 503, name: "the model is not running ([[notfound]])", rewrite: withMarker("[[notfound]]") },
    { status: 504, name: "the model is too slow ([[slow:3000]])", rewrite: withMarker("[[slow:3000]]") },
  ])("HTTP $status when $name", ({ status, rewrite }) => {
    it("shows the server's message inline and recovers with Retry", async () => {
      const s = await openPostOnly();
      await rewriteFirst(s.page, rewrite);
      const response: Promise<Response> = s.page.waitForResponse("**/chat");
      await send(s.page, "Hello");
      const answer = await response;
      expect(answer.status()).toBe(status);
      const { message } = await answer.json();
      expect(typeof message).toBe("string");
      const shown = await errorShown(s.page);
      expect(shown.detail).toBe(message);
      expect(shown.meta).toContain(`HTTP ${status}`);
      if (status === 400) {
        await expectNoRetry(s);
        expect(s.via).toEqual(["post", "post"]);
      } else {
        await expectRecovery(s);
        expect(s.via).toEqual(["post", "post", "post"]);
      }
    });
  });

  it("a 503 from the model endpoint says the model is not running", async () => {
    const s = await openPostOnly();
    await rewriteFirst(s.page, withMarker("[[notfound]]"));
    await send(s.page, "Hello");
    expect((await errorShown(s.page)).title).toBe("The model is not running");
    await expectRecovery(s);
  });

  it("other 5xx with a non-JSON body shows the status and recovers with Retry", async () => {
    const s = await openPostOnly();
    await fulfillFirst(s.page, 503, "text/html", "<html><body><h1>503 Service Unavailable</h1></body></html>");
    await send(s.page, "Hello");
    const shown = await errorShown(s.page);
    expect(shown.title).toBe("Server error");
    expect(shown.detail).toBe("The server answered with status 503.");
    expect(shown.meta).toContain("HTTP 503");
    expect(await s.page.locator("#log h1").count()).toBe(0);
    await expectRecovery(s);
  });

  it("other 5xx with API Gateway's JSON body shows its message and recovers with Retry", async () => {
    const s = await openPostOnly();
    await fulfillFirst(s.page, 500, "application/json", '{"message": "Internal server error"}');
    await send(s.page, "Hello");
    const shown = await errorShown(s.page);
    expect(shown).toEqual({ title: "Server error", detail: "Internal server error", meta: expect.stringContaining("HTTP 500") });
    await expectRecovery(s);
  });

  it("a network failure shows inline and recovers with Retry", async () => {
    const s = await openPostOnly();
    await onFirstRequest(s.page, (route) => route.abort("failed"));
    await send(s.page, "Hello");
    const shown = await errorShown(s.page);
    expect(shown.title).toBe("Network error");
    expect(shown.detail).toMatch(/could not reach the server/i);
    await expectRecovery(s);
  });

  it("a client-side timeout (AbortController) shows inline and recovers with Retry", async () => {
    const s = await openPostOnly({ timeoutMs: 1000 });
    let hang!: () => void;
    const hung = new Promise<void>((resolve) => (hang = resolve));
    await onFirstRequest(s.page, async (route) => {
      await hung; // never answered while the page waits
      await route.abort().catch(() => undefined);
    });
    await send(s.page, "Hello");
    const shown = await errorShown(s.page);
    hang();
    expect(shown.title).toBe("No answer in time");
    expect(shown.detail).toContain("1 s");
    await expectRecovery(s);
  });

  it("gives up after 35 s by default (fake clock)", async () => {
    const s = await openPostOnly();
    await s.page.clock.install();
    await s.page.reload();
    let hang!: () => void;
    const hung = new Promise<void>((resolve) => (hang = resolve));
    await s.page.route("**/chat", async (route) => {
      await hung;
      await route.abort().catch(() => undefined);
    });
    await send(s.page, "Hello");
    await s.page.locator(".turn .pending").waitFor();
    await s.page.clock.runFor(34_000);
    expect(await s.page.locator(".turn .pending").count()).toBe(1);
    await s.page.clock.runFor(1_500);
    const shown = await errorShown(s.page);
    hang();
    expect(shown.title).toBe("No answer in time");
    expect(shown.detail).toContain("35 s");
  });
});

describe("over the WebSocket", () => {
  /** The page's first chat frame gets `marker`; `originals` holds what the page sent. */
  async function openWithFirstFrame(marker: string, options: { timeoutMs?: number } = {}) {
    const originals: Frame[] = [];
    const s = await open({ ...options, routeStream: rewriteFirstFrame(withMarker(marker), originals) });
    const sent = () => originals.filter((f) => f.action === "chat").map((f) => ({ text: f.text ?? "", history: f.history }));
    return { s, sent };
  }

  describe.each([
    { status: 502, name: "the model stream fails midway ([[midfail]])", marker: "[[midfail]]" },
    { status: 503, name: "the model is not running ([[notfound]])", marker: "[[notfound]]" },
    { status: 429, name: "the model is throttled ([[fail:429]])", marker: "[[fail:429]]" },
    { status: 400, name: "the text has a control character", marker: "\u0007" },
  ])("an error frame with status $status when $name", ({ status, marker }) => {
    it("shows the frame's message inline and recovers with Retry", async () => {
      const { s, sent } = await openWithFirstFrame(marker);
      await send(s.page, "Hello");
      const shown = await errorShown(s.page);
      const [frame] = s.received.filter((f) => f.type === "error");
      expect(frame.status).toBe(status);
      expect(shown.detail).toBe(frame.message);
      expect(shown.meta).toContain(`HTTP ${status}`);
      if (status === 400) {
        await expectNoRetry(s);
        expect(s.via).toEqual(["ws", "ws"]);
      } else {
        await expectRecovery(s, sent);
        expect(s.via).toEqual(["ws", "ws", "ws"]);
      }
    });
  });

  it("an error frame with 503 says the model is not running", async () => {
    const { s, sent } = await openWithFirstFrame("[[notfound]]");
    await send(s.page, "Hello");
    expect((await errorShown(s.page)).title).toBe("The model is not running");
    await expectRecovery(s, sent);
  });

  it("no frame for data-timeout-ms ([[stall:MS]]) shows No answer in time and recovers with Retry", async () => {
    const { s, sent } = await openWithFirstFrame("[[stall:5000]]", { timeoutMs: 1000 });
    await send(s.page, "Hello");
    const shown = await errorShown(s.page);
    expect(shown.title).toBe("No answer in time");
    expect(shown.detail).toContain("1 s");
    await expectRecovery(s, sent);
    expect(s.sockets.length).toBeGreaterThanOrEqual(2); // the timed-out socket was closed
  });

  it("API Gateway's own error frame (a failed route) shows inline and recovers with Retry", async () => {
    const chats: Frame[] = [];
    const s = await open({
      routeStream: (ws) => {
        const server = ws.connectToServer();
        ws.onMessage((message) => {
          const frame: Frame = JSON.parse(message.toString());
          if (frame.action === "chat") chats.push(frame);
          if (chats.length === 1 && frame.action === "chat") {
            ws.send(JSON.stringify({ message: "Internal server error", connectionId: "x", requestId: "y" }));
          } else server.send(message);
        });
      },
    });
    await send(s.page, "Hello");
    const shown = await errorShown(s.page);
    expect(shown).toEqual({ title: "Server error", detail: "Internal server error", meta: expect.stringContaining("HTTP 500") });
    await expectRecovery(s, () => chats.map((f) => ({ text: f.text ?? "", history: f.history })));
  });
});

it("a failed turn is not sent as history, and the next message works without Retry", async () => {
  const s = await open();
  await send(s.page, "Hello [[fail:429]]");
  await answered(s.page, 0);
  const reply = await ask(s.page, "Hello again");
  expect(reply).toContain("Echo: Hello again");
  expect(s.chatBodies[1]).toEqual({ text: "Hello again", history: [] });
  // Only the latest turn offers Retry.
  expect(await s.page.locator(".retry").count()).toBe(0);
  expect(await turns(s.page).count()).toBe(2);
  expect(await botBubble(s.page, 0).getAttribute("class")).toContain("error");
});
