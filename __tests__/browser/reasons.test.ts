/**
 * Every 429 means something else (contract/error-reasons.json): the page words each
 * `reason` in its own way and offers the action that fits it. The bodies and frames are
 * the shapes the stack sends; the connection limit comes from the real stream function.
 */
import type { Page } from "playwright-core";
import errorReasons from "../../contract/error-reasons.json";
import { QUICK_MODEL, answered, ask, browserSuite, refuseStream, send } from "./harness";

const { open } = browserSuite({ fakeArgs: QUICK_MODEL, lambdaEnv: { MAX_ANSWERS_PER_CONNECTION: "1" } });

const REASONS_429 = Object.entries(errorReasons.reasons)
  .filter(([, r]) => r.status === 429)
  .map(([reason, r]) => ({ reason, action: r.action }));

async function shown(page: Page) {
  const bubble = await answered(page, 0);
  return {
    title: await bubble.locator("strong").innerText(),
    detail: await bubble.locator(".detail").innerText(),
    retry: await bubble.locator(".retry").count(),
  };
}

it("the contract has the six kinds of 429, daily_allowance included", () => {
  expect(REASONS_429.map((r) => r.reason).sort()).toEqual(
    ["busy", "connection_limit", "daily_allowance", "rate_limited", "site_quota", "throttled"],
  );
});

describe("a 429 body over POST /chat", () => {
  const titles = new Map<string, string>();

  it.each(REASONS_429)("with reason $reason gets its own wording and offers Retry only when it helps", async ({ reason, action }) => {
    const s = await open({ routeStream: refuseStream });
    const message = `the server's own words for ${reason}`;
    await s.page.route("**/chat", (route) =>
      route.fulfill({ status: 429, contentType: "application/json", body: JSON.stringify({ message, reason }) }),
    );
    await send(s.page, "Hello");
    const { title, detail, retry } = await shown(s.page);
    expect(detail).toBe(message);
    expect(title).not.toBe("Too many requests — wait a moment, then retry"); // the status's generic words
    expect([...titles.values()]).not.toContain(title);
    titles.set(reason, title);
    expect(retry).toBe(action === "none" ? 0 : 1);
  });

  it("without a reason (an older server) the status's words remain", async () => {
    const s = await open({ routeStream: refuseStream });
    await s.page.route("**/chat", (route) =>
      route.fulfill({ status: 429, contentType: "application/json", body: JSON.stringify({ message: "Too Many Requests" }) }),
    );
    await send(s.page, "Hello");
    expect((await shown(s.page)).title).toBe("Too many requests — wait a moment, then retry");
  });
});

it("the per-connection limit (the real stream function) says so, and Retry answers over a new connection", async () => {
  const s = await open({ fresh: true });
  expect(await ask(s.page, "Hello")).toContain("Echo: Hello");
  await send(s.page, "Again");
  const bubble = await answered(s.page, 1);
  expect(await bubble.locator("strong").innerText()).toMatch(/connection reached its answer limit/);
  const [frame] = s.received.filter((f) => f.type === "error");
  expect(frame).toMatchObject({ status: 429, reason: "connection_limit" });
  await bubble.locator(".retry").click();
  const retried = await answered(s.page, 1);
  expect(await retried.innerText()).toContain("Echo: Again");
  expect(s.via).toEqual(["ws", "ws", "ws"]);
  expect(s.sockets.length).toBe(2);
});
