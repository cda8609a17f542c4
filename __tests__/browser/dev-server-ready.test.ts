/**
 * The dev server binds its port before its workers start (they need the port), but
 * holds every request and upgrade until all routes are ready: a page opened the moment
 * the server first answers streams over the WebSocket, never silently over POST.
 */
import net from "node:net";
import { chromium } from "playwright-core";
import { startDevServer } from "../../dev/server";
import { CHROMIUM_ARGS, CHROMIUM_PATH } from "../../scripts/chromium";
import { answered, send } from "./page";

async function freePort(): Promise<number> {
  const probe = net.createServer();
  await new Promise<void>((resolve) => probe.listen(0, "127.0.0.1", resolve));
  const { port } = probe.address() as net.AddressInfo;
  await new Promise((resolve) => probe.close(resolve));
  return port;
}

it("a page opened as soon as the server answers streams its answer over the WebSocket", async () => {
  const port = await freePort();
  const log: string[] = [];
  // The browser and its tab first, so the page opens the moment the server answers.
  const browser = await chromium.launch({ executablePath: CHROMIUM_PATH, args: CHROMIUM_ARGS });
  const page = await browser.newPage();
  // Without sign-in, as the other page tests: signin.test.ts covers the socket behind a ticket.
  const starting = startDevServer({ port, auth: false, log: (line) => log.push(line) });
  try {
    // The first moment anything answers on the port.
    const base = `http://127.0.0.1:${port}/`;
    let first: Response | undefined;
    for (let i = 0; i < 600 && !first; i++) {
      first = await fetch(`${base}chat.html`).catch(() => undefined);
      if (!first) await new Promise((resolve) => setTimeout(resolve, 20));
    }
    expect(first?.status).toBe(200);
    const transports: string[] = [];
    page.on("websocket", (ws) => ws.on("framesent", ({ payload }) => String(payload).includes('"chat"') && transports.push("ws")));
    page.on("request", (request) => request.method() === "POST" && transports.push("post"));
    await page.goto(base);
    await send(page, "Hello");
    expect(await (await answered(page, 0)).innerText()).toContain("Echo: Hello");
    expect(transports).toEqual(["ws"]);
  } finally {
    await browser.close();
    await (await starting).close();
  }
}, 60_000);
