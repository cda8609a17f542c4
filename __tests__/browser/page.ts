/**
 * What the browser tests do with the chat page: its parts, sending and waiting for
 * answers, intercepting its WebSocket, screenshots; and the shapes of what it sends.
 */
import { copyFileSync, mkdirSync } from "node:fs";
import path from "node:path";
import type { Locator, Page, WebSocketRoute } from "playwright-core";

const ROOT = path.resolve(__dirname, "..", "..");

export interface ChatBody {
  text: string;
  history?: { role: string; content: string }[];
}

/** A frame of the streaming contract (docs/streaming.md), as sent or received. */
export interface Frame {
  action?: string;
  type?: string;
  id?: string;
  text?: string;
  msg?: string;
  status?: number;
  message?: string;
  history?: ChatBody["history"];
}

/** For OpenOptions.routeStream: every handshake to /stream fails, as a refused one does. */
export async function refuseStream(ws: WebSocketRoute) {
  await ws.close({ code: 1006, reason: "refused" }); // before Playwright would open it
}

/**
 * For OpenOptions.routeStream: the page's first chat frame is rewritten on its way to the
 * dev server, the rest go through unchanged; `originals` gets what the page really sent.
 */
export function rewriteFirstFrame(rewrite: (frame: Frame) => Frame, originals: Frame[]) {
  let first = true;
  return (ws: WebSocketRoute) => {
    const server = ws.connectToServer();
    ws.onMessage((message) => {
      const frame: Frame = JSON.parse(message.toString());
      originals.push(frame);
      server.send(JSON.stringify(first && frame.action === "chat" ? rewrite(frame) : frame));
      if (frame.action === "chat") first = false;
    });
  };
}

export const input = (page: Page) => page.locator("#input");
export const sendButton = (page: Page) => page.locator("#send");
export const turns = (page: Page) => page.locator("#log .turn");
export const turn = (page: Page, index: number) => turns(page).nth(index);
export const userBubble = (page: Page, index: number) => turn(page, index).locator(".msg.user .bubble");
export const botBubble = (page: Page, index: number) => turn(page, index).locator(".msg.bot .bubble");

/** An account of the Cognito stand-in, e.g. person("ann"): ann@example.com, "Ann-password-1". */
export const person = (name: string) => ({ email: `${name}@example.com`, password: `${name[0].toUpperCase()}${name.slice(1)}-password-1` });

/** Signs in through the stand-in's form from the page's sign-in panel. */
export async function signIn(page: Page, user: { email: string; password: string }) {
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.getByLabel("Email").fill(user.email);
  await page.getByLabel("Password").fill(user.password);
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.locator("#who:not([hidden])").waitFor();
}

/** Types text into the message field and presses Enter. */
export async function send(page: Page, text: string) {
  await input(page).fill(text);
  await input(page).press("Enter");
}

/** Waits until turn `index` is answered (reply, error or stopped) and returns its bot bubble. */
export async function answered(page: Page, index: number): Promise<Locator> {
  const bubble = turn(page, index).locator(".msg.bot:not([aria-busy]) .bubble");
  await bubble.waitFor();
  return bubble;
}

/** Sends text and waits for the model's reply in the new turn; fails on an error bubble. */
export async function ask(page: Page, text: string): Promise<string> {
  const index = await turns(page).count();
  await send(page, text);
  const bubble = await answered(page, index);
  const error = await bubble.evaluate((el: any) => el.classList.contains("error"));
  const content = await bubble.innerText();
  if (error) throw new Error(`expected a reply to ${JSON.stringify(text)}, got an error: ${content}`);
  return content;
}

/**
 * Saves a screenshot under test-results/screenshots/ (gitignored); with
 * UPDATE_SCREENSHOTS=1 also copies it to docs/screenshots/ for the README.
 */
export async function screenshot(page: Page, name: string) {
  const dir = path.join(ROOT, "test-results", "screenshots");
  mkdirSync(dir, { recursive: true });
  const file = path.join(dir, `${name}.png`);
  await page.screenshot({ path: file });
  if (process.env.UPDATE_SCREENSHOTS === "1") {
    const docs = path.join(ROOT, "docs", "screenshots");
    mkdirSync(docs, { recursive: true });
    copyFileSync(file, path.join(docs, `${name}.png`));
  }
  return file;
}
