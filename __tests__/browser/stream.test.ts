/**
 * Streaming answers over the WebSocket in Chromium against the dev server: the real
 * stream function (lambda-chat/stream_function.py) in warm workers, the real fake model
 * streaming at its default pace. One test per behaviour; every test also checks that no
 * request left 127.0.0.1.
 */
import type { Page, WebSocketRoute } from "playwright-core";
import {
  answered,
  ask,
  botBubble,
  browserSuite,
  input,
  rewriteFirstFrame,
  screenshot,
  send,
  sendButton,
  turn,
  turns,
  type Frame,
  type Session,
} from "./harness";

const { open, harness } = browserSuite();

const stopButton = (page: Page) => page.locator("#stop");

/** Records the last bot message's text (and whether it is still busy) at every change of the log. */
async function recordBotTexts(page: Page) {
  await page.evaluate(() => {
    const w = globalThis as any;
    w.__botTexts = [];
    new w.MutationObserver(() => {
      const bots = w.document.querySelectorAll("#log .msg.bot");
      const last = bots[bots.length - 1];
      const bubble = last?.querySelector(".bubble:not(.pending)");
      if (bubble) w.__botTexts.push({ busy: last.hasAttribute("aria-busy"), text: bubble.innerText });
    }).observe(w.document.getElementById("log"), { childList: true, subtree: true, characterData: true });
  });
}

const botTexts = (page: Page): Promise<{ busy: boolean; text: string }[]> =>
  page.evaluate(() => (globalThis as any).__botTexts);

/** Waits until turn `index` shows streamed text while the answer is still coming; returns that text. */
async function streaming(page: Page, index: number): Promise<string> {
  const bubble = turn(page, index).locator(".msg.bot[aria-busy] .bubble.streaming");
  await bubble.waitFor();
  return bubble.innerText();
}

const doneFrames = (s: Session) => s.received.filter((f) => f.type === "done");

/** Resolves when a server log line matching `pattern` appears (after `from` lines). */
async function logged(pattern: RegExp, from = 0): Promise<string> {
  const lines = harness().serverLog;
  for (;;) {
    const found = lines.slice(from).find((line) => pattern.test(line));
    if (found) return found;
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

it("streams the answer over a same-origin WebSocket: the text grows before the answer is complete", async () => {
  const s = await open();
  await recordBotTexts(s.page);
  const reply = await ask(s.page, "Tell me a story [[long:40]]");
  // At least two different texts were shown while the answer was still incomplete.
  const busy = [...new Set((await botTexts(s.page)).filter((t) => t.busy).map((t) => t.text))];
  const partial = busy.filter((text) => text.length < reply.length);
  expect(partial.length).toBeGreaterThanOrEqual(2);
  for (const text of busy) expect(reply.startsWith(text)).toBe(true);
  // The whole answer is done.msg, and the token texts add up to it.
  const [done] = doneFrames(s);
  expect(reply).toBe(done.msg);
  expect(s.received.filter((f) => f.type === "token").map((f) => f.text).join("")).toBe(done.msg);
  // Over the socket, allowed by the page's CSP (connect-src 'self'), not by POST.
  expect(s.via).toEqual(["ws"]);
  expect(s.sockets.map((ws) => ws.url())).toEqual([`${harness().dev.url.replace(/^http/, "ws")}stream`]);
  expect(await s.page.evaluate(() => (globalThis as any).__cspViolations)).toEqual([]);
});

it("sends the contract's chat frame: action, an id of A-Za-z0-9_-, text and history", async () => {
  const s = await open();
  const first = await ask(s.page, "My name is Ada.");
  await ask(s.page, "What is my name?");
  const chats = s.sent.filter((f) => f.action === "chat");
  expect(chats.map((f) => Object.keys(f).sort())).toEqual([
    ["action", "history", "id", "text"],
    ["action", "history", "id", "text"],
  ]);
  for (const f of chats) expect(f.id).toMatch(/^[A-Za-z0-9_-]{1,64}$/);
  expect(chats[0].id).not.toBe(chats[1].id);
  expect(chats[1].history).toEqual([
    { role: "user", content: "My name is Ada." },
    { role: "assistant", content: first },
  ]);
  // Every frame that came back carried the id of its answer.
  expect(new Set(s.received.map((f) => f.id))).toEqual(new Set(chats.map((f) => f.id)));
});

it("keeps the input usable while an answer streams; Send stays disabled and Stop shows until it ends", async () => {
  const s = await open();
  await send(s.page, "Go on [[long:60]]");
  await streaming(s.page, 0);
  expect(await sendButton(s.page).isDisabled()).toBe(true);
  expect(await stopButton(s.page).isVisible()).toBe(true);
  await input(s.page).fill("the next question");
  await input(s.page).press("Enter"); // does not send while the answer streams
  expect(await input(s.page).inputValue()).toBe("the next question");
  expect(await turns(s.page).count()).toBe(1);
  await answered(s.page, 0);
  expect(await sendButton(s.page).isEnabled()).toBe(true);
  expect(await stopButton(s.page).isHidden()).toBe(true);
  await input(s.page).press("Enter");
  await answered(s.page, 1);
  expect(s.chatBodies.map((b) => b.text)).toEqual(["Go on [[long:60]]", "the next question"]);
});

it("Stop ends the answer at once, keeps what arrived marked as stopped, and the model stream stops", async () => {
  const s = await open();
  const logFrom = harness().serverLog.length;
  await send(s.page, "A long one [[long:400]]");
  await streaming(s.page, 0);
  await stopButton(s.page).click();
  // At once: no longer streaming, nothing more is added, the text so far is kept.
  const shown = await s.page.evaluate(() => {
    const d = (globalThis as any).document;
    const bot = d.querySelector("#log .msg.bot");
    return { busy: bot.hasAttribute("aria-busy"), text: bot.querySelector(".bubble").innerText, meta: bot.querySelector(".meta")?.innerText };
  });
  expect(shown.busy).toBe(false);
  const arrived = s.received.filter((f) => f.type === "token").map((f) => f.text).join("");
  expect(arrived.length).toBeGreaterThan(0);
  expect(shown.text).toBe(arrived.trim());
  expect(shown.meta).toMatch(/^Stopped · /);
  expect(doneFrames(s)).toEqual([]);
  expect(await sendButton(s.page).isEnabled()).toBe(true);
  expect(await stopButton(s.page).isHidden()).toBe(true);
  expect(await s.page.evaluate(() => (globalThis as any).document.activeElement?.id)).toBe("input");
  // The stream job learns at its next post that the socket is gone (410 from the management
  // API) and stops, closing the model's stream.
  await logged(/\[gateway\] POST @connections\/\S+: 410 GoneException/, logFrom);
  const stopped = JSON.parse((await logged(/"message": "stream stopped"/, logFrom)).replace(/^\[stream-job\] /, ""));
  expect(stopped.reason).toBe("the client has gone");
  expect(stopped.id).toBe(s.sent.find((f) => f.action === "chat")?.id);
});

it("Escape in the message field stops the answer too", async () => {
  const s = await open();
  await send(s.page, "Another long one [[long:400]]");
  await streaming(s.page, 0);
  await input(s.page).press("Escape");
  const bubble = await answered(s.page, 0);
  expect(await turn(s.page, 0).locator(".meta").last().innerText()).toMatch(/^Stopped · /);
  expect(await bubble.getAttribute("class")).toContain("stopped");
});

it("a stopped answer stays on screen after a reload but is not sent as history", async () => {
  const s = await open();
  await send(s.page, "Stop me [[long:400]]");
  const partial = await streaming(s.page, 0);
  await stopButton(s.page).click();
  await s.page.reload();
  expect((await botBubble(s.page, 0).innerText()).startsWith(partial)).toBe(true);
  expect(await turn(s.page, 0).locator(".meta").last().innerText()).toMatch(/^Stopped · /);
  await ask(s.page, "Fresh question");
  expect(s.chatBodies[1]).toEqual({ text: "Fresh question", history: [] });
});

it("a script payload streamed by the model ([[html]]) is shown as text and never runs", async () => {
  const s = await open();
  await recordBotTexts(s.page);
  const reply = await ask(s.page, "show me some [[html]]");
  expect(reply).toContain("<script>alert(1)</script><b>bold</b>");
  expect(s.via).toEqual(["ws"]);
  expect(await s.page.locator("#log script, #log b, #log img, #log iframe").count()).toBe(0);
  expect(await s.page.evaluate(() => (globalThis as any).__pwned ?? null)).toBeNull();
  expect(await s.page.evaluate(() => (globalThis as any).__cspViolations)).toEqual([]);
  expect(s.dialogs).toEqual([]);
});

it("reconnects on the next message after the server dropped the socket", async () => {
  const s = await open();
  await ask(s.page, "Before the drop");
  expect(harness().dev.dropConnections()).toBeGreaterThanOrEqual(1);
  const [socket] = s.sockets;
  if (!socket.isClosed()) await socket.waitForEvent("close");
  const reply = await ask(s.page, "After the drop");
  expect(reply).toContain("Echo: After the drop");
  expect(s.via).toEqual(["ws", "ws"]);
  expect(s.sockets).toHaveLength(2);
});

it("a socket dropped mid-answer shows Connection lost, and Retry asks again on a new socket", async () => {
  const s = await open();
  await send(s.page, "Hello [[long:400]]");
  await streaming(s.page, 0);
  harness().dev.dropConnections();
  const bubble = await answered(s.page, 0);
  expect(await bubble.locator("strong").innerText()).toBe("Connection lost");
  await s.page.locator(".turn .retry").click();
  await streaming(s.page, 0);
  await stopButton(s.page).click();
  expect(s.via).toEqual(["ws", "ws"]);
  expect(s.sockets).toHaveLength(2);
});

it("never shows a frame of an earlier answer inside a new one", async () => {
  // Between page and server, after the page's second chat frame, replay frames that carry
  // the first answer's id, as a late frame of that answer would arrive.
  const chats: Frame[] = [];
  let page!: WebSocketRoute;
  const s = await open({
    routeStream: (ws) => {
      page = ws;
      const server = ws.connectToServer();
      ws.onMessage((message) => {
        server.send(message);
        const frame: Frame = JSON.parse(message.toString());
        if (frame.action !== "chat") return;
        chats.push(frame);
        if (chats.length === 2) {
          page.send(JSON.stringify({ type: "token", id: chats[0].id, text: " STALE" }));
          page.send(JSON.stringify({ type: "done", id: chats[0].id, msg: "STALE whole answer" }));
        }
      });
    },
  });
  await recordBotTexts(s.page);
  await ask(s.page, "First");
  const second = await ask(s.page, "Second [[long:20]]");
  expect(second).toContain("Echo: Second");
  expect((await botTexts(s.page)).filter((t) => t.text.includes("STALE"))).toEqual([]);
  expect(await botBubble(s.page, 0).innerText()).not.toContain("STALE");
});

it("an answer too long for one frame (done without msg) is the streamed text, kept as history", async () => {
  // The server leaves msg out of done when the whole answer would pass 32 KB
  // (docs/streaming.md); the page must then use the token texts it already has.
  const s = await open({
    routeStream: (ws) => {
      const server = ws.connectToServer();
      server.onMessage((message) => {
        const frame: Frame = JSON.parse(message.toString());
        if (frame.type !== "done") return ws.send(message);
        const { msg: _msg, ...rest } = frame;
        ws.send(JSON.stringify({ ...rest, msg_omitted: true }));
      });
    },
  });
  const reply = await ask(s.page, "Tell me a story [[long:20]]");
  const tokens = s.received.filter((f) => f.type === "token").map((f) => f.text).join("");
  expect(reply).toBe(tokens);
  expect(reply).toContain("Echo: Tell me a story");
  await ask(s.page, "And then?");
  expect(s.chatBodies[1].history).toEqual([
    { role: "user", content: "Tell me a story [[long:20]]" },
    { role: "assistant", content: tokens },
  ]);
});

it("announces each finished answer once to screen readers, never the growing text", async () => {
  const s = await open();
  await s.page.evaluate(() => {
    const w = globalThis as any;
    w.__announced = [];
    const region = w.document.getElementById("announce");
    new w.MutationObserver(() => region.textContent && w.__announced.push(region.textContent)).observe(region, {
      childList: true,
      characterData: true,
      subtree: true,
    });
  });
  const first = await ask(s.page, "One [[long:30]]");
  const second = await ask(s.page, "Two [[long:30]]");
  expect(await s.page.evaluate(() => (globalThis as any).__announced)).toEqual([`Falcon: ${first}`, `Falcon: ${second}`]);
  // The conversation log itself is not a live region, so the tokens are not read out.
  expect(await s.page.locator("#log").getAttribute("aria-live")).toBe("off");
  expect(await s.page.locator("#announce").getAttribute("role")).toBe("status");
});

it("two browsers stream at once", async () => {
  const [a, b] = [await open({ fresh: true }), await open({ fresh: true })];
  const order: string[] = [];
  for (const [name, session] of [["a", a], ["b", b]] as const) {
    session.page.on("websocket", (ws) =>
      ws.on("framereceived", ({ payload }) => order.push(`${name}:${JSON.parse(payload.toString()).type}`)),
    );
  }
  await Promise.all([send(a.page, "Browser A [[long:60]]"), send(b.page, "Browser B [[long:60]]")]);
  await Promise.all([answered(a.page, 0), answered(b.page, 0)]);
  // Neither answer waited for the other: each browser got text before the other was done.
  expect(order.indexOf("b:token")).toBeLessThan(order.indexOf("a:done"));
  expect(order.indexOf("a:token")).toBeLessThan(order.indexOf("b:done"));
  expect([a.via, b.via]).toEqual([["ws"], ["ws"]]);
});

it("sends a question whose frame would pass API Gateway's 32 KB frame limit by POST /chat", async () => {
  const s = await open();
  // Korean is 3 bytes a character: 7,800 characters of history and 4,000 of text make a ~35 KB frame.
  await s.page.evaluate(() => {
    const at = new Date().toISOString();
    const saved = [1, 2].map(() => ({ text: "가".repeat(1000), at, reply: "나".repeat(2900), replyAt: at }));
    (globalThis as any).sessionStorage.setItem("falcon-chat:v1", JSON.stringify(saved));
  });
  await s.page.reload();
  await send(s.page, "다".repeat(4000));
  await answered(s.page, 2); // whatever the model makes of it
  expect(s.via).toEqual(["post"]);
  expect(s.chatBodies[0].history).toHaveLength(4);
});

it("has no horizontal scroll at 360 px while an answer streams, with Stop and Send in reach", async () => {
  const s = await open({ viewport: { width: 360, height: 740 } });
  await send(s.page, "```\n" + "const value = 'a long line of code that does not wrap'; ".repeat(3) + "\n``` [[long:400]]");
  await streaming(s.page, 0);
  const widths = await s.page.evaluate(() => {
    const d = (globalThis as any).document;
    return [d.documentElement, d.body, d.getElementById("log")].map((el: any) => [el.scrollWidth, el.clientWidth]);
  });
  for (const [scrollWidth, clientWidth] of widths) expect(scrollWidth).toBeLessThanOrEqual(clientWidth);
  expect(await stopButton(s.page).isVisible()).toBe(true);
  expect(await sendButton(s.page).isVisible()).toBe(true);
  await stopButton(s.page).click();
});

it("screenshot while an answer streams (1280x800)", async () => {
  // The marker goes on the wire only, so the question on screen reads as a user would write it.
  const s = await open({ routeStream: rewriteFirstFrame((f) => ({ ...f, text: `${f.text} [[long:400]]` }), []) });
  await send(s.page, "How do falcons hunt?");
  await s.page.waitForFunction(() => {
    const bubble = (globalThis as any).document.querySelector("#log .msg.bot[aria-busy] .bubble.streaming");
    return bubble && bubble.innerText.length > 120;
  });
  await input(s.page).fill("And how fast do they dive?");
  const file = await screenshot(s.page, "chat-streaming");
  await stopButton(s.page).click();
  expect(file).toMatch(/\.png$/);
});
