/**
 * When the edge refuses the WebSocket: the stream function's origin check (a dev server
 * whose ALLOWED_ORIGINS exclude the page) and the WAF's rate rule (`--rate-limit`). A
 * browser cannot read why a handshake was refused, so the page falls back to POST /chat,
 * which shows the edge's own answer when there is one.
 */
import edgeResponses from "../../contract/edge-responses.json";
import { answered, ask, browserSuite, input, send } from "./harness";

describe("the stream function refuses the page's origin", () => {
  const { open } = browserSuite({ allowedOrigins: ["https://chat.example.com"] });

  it("falls back to POST /chat and the answer still arrives", async () => {
    const s = await open();
    const reply = await ask(s.page, "Hello over POST");
    expect(reply).toContain("Echo: Hello over POST");
    expect(s.via).toEqual(["post"]);
    // The handshake was tried (and refused: no frame ever came back).
    expect(s.sockets).toHaveLength(1);
    expect(s.received).toEqual([]);
  });

  it("sends the next answers by POST too, without another handshake for a while", async () => {
    const s = await open();
    await ask(s.page, "One");
    await ask(s.page, "Two");
    expect(s.via).toEqual(["post", "post"]);
    expect(s.sockets).toHaveLength(1);
    expect(s.chatBodies[1].history).toHaveLength(2);
  });
});

describe("the WAF's rate rule blocks the address", () => {
  const LIMIT = 3;
  const { open, harness } = browserSuite({ rateLimit: LIMIT });

  it("shows the WAF's 429 as too many requests with Retry, and Retry works once it lifts", async () => {
    const dev = harness().dev;
    dev.resetRateLimit();
    const s = await open();
    // Other tabs at the same address used up the limit.
    for (let i = 0; i < LIMIT; i++) await fetch(new URL("chat", dev.url), { method: "POST", body: '{"text": "hi"}' });
    await send(s.page, "Hello");
    const bubble = await answered(s.page, 0);
    // The WAF's body carries reason rate_limited (contract/edge-responses.json): its own words.
    expect(await bubble.locator("strong").innerText()).toBe("Too many messages from your address — wait a few minutes, then retry");
    expect(await bubble.locator(".detail").innerText()).toBe(edgeResponses.tooManyRequests.message);
    expect(await s.page.locator(".turn .meta").last().innerText()).toContain("HTTP 429");
    // The handshake was refused by the WAF too, so the page went by POST.
    expect(s.sockets).toHaveLength(1);
    expect(s.via).toEqual(["post"]);

    dev.resetRateLimit(); // five minutes later
    await s.page.locator(".turn .retry").click();
    const reply = await answered(s.page, 0);
    expect(await reply.innerText()).toContain("Echo: Hello");
    expect(await input(s.page).inputValue()).toBe("");
  });
});
