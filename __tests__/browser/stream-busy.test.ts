/**
 * A streamed answer that cannot start (every function busy: Lambda's concurrency is used
 * up) is never silent: the page says early that the answer has not started yet, and when
 * Lambda drops the queued run (maximum_event_age_in_seconds) the failure notice's
 * `error` frame shows "too busy" with Retry. The dev server runs one stream job at a time
 * here and drops a job that waited 2 s, as Lambda does after 60 s.
 */
import WebSocket from "ws";
import { answered, browserSuite, send } from "./harness";

const { open, harness } = browserSuite({ streamConcurrency: 1, streamWarm: 1, streamMaxEventAgeMs: 2000 });

/** Keeps the only stream worker busy for `ms` with another client's slow answer. */
async function occupyTheOnlyWorker(ms: number): Promise<WebSocket> {
  const { url } = harness().dev;
  const ws = new WebSocket(new URL("stream", url).href.replace(/^http/, "ws"), { headers: { Origin: url.replace(/\/$/, "") } });
  await new Promise((resolve, reject) => ws.once("open", resolve).once("error", reject));
  const started = new Promise((resolve) => ws.on("message", (data) => JSON.parse(String(data)).type === "started" && resolve(undefined)));
  ws.send(JSON.stringify({ action: "chat", id: "other", text: `hold [[slow:${ms}]]` }));
  await started;
  return ws;
}

it("says early that the answer has not started, then shows the failure notice's too busy with Retry", async () => {
  const s = await open({ fresh: true });
  await s.page.evaluate(() => ((globalThis as any).document.documentElement.dataset.noticeMs = "300"));
  const other = await occupyTheOnlyWorker(6000);
  try {
    await send(s.page, "Hello");
    const notice = s.page.locator(".turn .notice");
    await notice.waitFor({ timeout: 1500 });
    expect(await notice.innerText()).toMatch(/has not started yet/);
    expect(await s.page.locator(".turn .pending").count()).toBe(1); // still waiting, no error yet

    const bubble = await answered(s.page, 0);
    expect(await bubble.locator("strong").innerText()).toMatch(/^Too busy right now/);
    const [frame] = s.received.filter((f) => f.type === "error");
    expect(frame).toMatchObject({ status: 429, reason: "busy", id: s.sent.find((f) => f.action === "chat")!.id });
    expect(await s.page.locator(".turn .notice").count()).toBe(0);
    expect(s.via).toEqual(["ws"]);
    expect(harness().serverLog.join("\n")).toMatch(/EventAgeExceeded/);

    await new Promise<void>((resolve) => other.once("message", () => resolve())); // the other answer is done
    await bubble.locator(".retry").click();
    expect(await (await answered(s.page, 0)).innerText()).toContain("Echo: Hello");
    expect(s.via).toEqual(["ws", "ws"]);
  } finally {
    other.close();
  }
});

it("an answer that starts in time shows no notice", async () => {
  const s = await open({ fresh: true });
  await send(s.page, "Hello");
  expect(await (await answered(s.page, 0)).innerText()).toContain("Echo: Hello");
  expect(s.received.filter((f) => f.type === "started")).toHaveLength(1);
  expect(await s.page.locator(".notice").count()).toBe(0);
});
