/**
 * Every way a /chat request can fail shows inline, with the server's message, and the
 * page recovers: Retry re-sends the same turn, and the next message works.
 *
 * The first request of each test is rewritten on its way out (a fault marker the fake
 * model understands, or input the handler rejects), so the error comes from the real
 * handler and dev server; the retry goes out unchanged and succeeds.
 */
import type { Page, Response, Route } from "playwright-core";
import {
  browserSuite,
  answered,
  ask,
  botBubble,
  send,
  sendButton,
  turns,
  type ChatBody,
  type Session,
} from "./harness";

const { open } = browserSuite();

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

const withMarker = (marker: string) => (body: ChatBody) => ({ ...body, text: `${body.text} ${marker}` });

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

/** Retry re-sends turn 0 unchanged, its reply replaces the error, and the next message works. */
async function expectRecovery(s: Session) {
  expect(await sendButton(s.page).isEnabled()).toBe(true);
  await s.page.locator(".turn .retry").click();
  const reply = await answered(s.page, 0);
  expect(await reply.getAttribute("class")).not.toContain("error");
  expect(await reply.innerText()).toContain("Echo: Hello");
  expect(s.chatBodies[1]).toEqual(s.chatBodies[0]);
  expect(await s.page.locator(".retry").count()).toBe(0);
  await ask(s.page, "And now?");
  expect(s.chatBodies[2].history).toHaveLength(2);
}

describe.each([
  { status: 400, name: "input the handler rejects", rewrite: (b: ChatBody) => ({ ...b, text: "   " }) },
  { status: 429, name: "the model is throttled ([[fail:429]])", rewrite: withMarker("[[fail:429]]") },
  { status: 502, name: "the model fails ([[fail:424]])", rewrite: withMarker("[[fail:424]]") },
  { status: 502, name: "the model answers garbage ([[malformed]])", rewrite: withMarker("[[malformed]]") },
  { status: 502, name: "the model answers nothing ([[empty]])", rewrite: withMarker("[[empty]]") },
  { status: 504, name: "the model is too slow ([[slow:3000]])", rewrite: withMarker("[[slow:3000]]") },
])("HTTP $status when $name", ({ status, rewrite }) => {
  it("shows the server's message inline and recovers with Retry", async () => {
    const s = await open();
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
    await expectRecovery(s);
  });
});

it("other 5xx with a non-JSON body shows the status and recovers with Retry", async () => {
  const s = await open();
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
  const s = await open();
  await fulfillFirst(s.page, 500, "application/json", '{"message": "Internal server error"}');
  await send(s.page, "Hello");
  const shown = await errorShown(s.page);
  expect(shown).toEqual({ title: "Server error", detail: "Internal server error", meta: expect.stringContaining("HTTP 500") });
  await expectRecovery(s);
});

it("a network failure shows inline and recovers with Retry", async () => {
  const s = await open();
  await onFirstRequest(s.page, (route) => route.abort("failed"));
  await send(s.page, "Hello");
  const shown = await errorShown(s.page);
  expect(shown.title).toBe("Network error");
  expect(shown.detail).toMatch(/could not reach the server/i);
  await expectRecovery(s);
});

it("a client-side timeout (AbortController) shows inline and recovers with Retry", async () => {
  const s = await open({ timeoutMs: 1000 });
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
  const s = await open({ fresh: true });
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
