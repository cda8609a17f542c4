/**
 * Shared set-up for the browser tests: the dev server (real handler, fake model)
 * and headless Chromium, started once per test file. Tests share one tab, reset
 * between tests (routes removed, sessionStorage cleared, page reloaded) because a new
 * tab costs more than most tests; a test that needs its own asks for `fresh`.
 * Every request, console error and dialog of the current test is recorded.
 */
import { mkdirSync, copyFileSync } from "node:fs";
import path from "node:path";
import { chromium, type Browser, type BrowserContext, type Locator, type Page } from "playwright-core";
import { startDevServer, type DevServer } from "../../dev/server";

export const ROOT = path.resolve(__dirname, "..", "..");

const CHROMIUM_ARGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

export interface Harness {
  dev: DevServer;
  browser: Browser;
  /** What the dev server, the handler and the fake model logged. */
  serverLog: string[];
  close(): Promise<void>;
  /** The tab most tests share (a new page costs more than a test); see openChat. */
  shared?: { context: BrowserContext; page: Page; current?: Session };
}

/** The model read timeout the handler gets here, so [[slow:3000]] ends as a 504 quickly. */
const MODEL_READ_TIMEOUT_SECONDS = 1;

export async function startHarness(): Promise<Harness> {
  const serverLog: string[] = [];
  const [dev, browser] = await Promise.all([
    startDevServer({
      port: 0,
      log: (line) => serverLog.push(line),
      lambdaEnv: { MODEL_READ_TIMEOUT_SECONDS: String(MODEL_READ_TIMEOUT_SECONDS) },
    }),
    chromium.launch({ executablePath: process.env.CHROMIUM_PATH ?? "/usr/bin/chromium", args: CHROMIUM_ARGS }),
  ]);
  return {
    dev,
    browser,
    serverLog,
    async close() {
      await Promise.all([browser.close(), dev.close()]);
    },
  };
}

export interface ChatBody {
  text: string;
  history?: { role: string; content: string }[];
}

export interface Session {
  context: BrowserContext;
  page: Page;
  /** Every URL the page requested. */
  requests: string[];
  /** Bodies of the POST /chat requests the page sent, in order. */
  chatBodies: ChatBody[];
  /** console.error messages and uncaught page errors. */
  consoleErrors: string[];
  /** Dialogs (alert/confirm/prompt) the page tried to open. */
  dialogs: string[];
  close(): Promise<void>;
}

export interface OpenOptions {
  viewport?: { width: number; height: number };
  colorScheme?: "light" | "dark";
  /** Client-side timeout for this page (the page's data-timeout-ms), default the page's own. */
  timeoutMs?: number;
  /** A tab of its own (a new browser context), e.g. to install a fake clock. */
  fresh?: boolean;
}

async function newTab(h: Harness): Promise<{ context: BrowserContext; page: Page }> {
  const context = await h.browser.newContext({ locale: "en-US", timezoneId: "UTC", reducedMotion: "reduce" });
  // Record CSP violations, so an injection is caught even where the policy stopped it.
  await context.addInitScript(() => {
    const w = globalThis as any;
    w.__cspViolations = [];
    w.document.addEventListener("securitypolicyviolation", (e: any) => w.__cspViolations.push(e.violatedDirective));
  });
  return { context, page: await context.newPage() };
}

/** Opens the chat page with an empty conversation; listeners record what the page does. */
export async function openChat(h: Harness, options: OpenOptions = {}): Promise<Session> {
  let tab: { context: BrowserContext; page: Page };
  if (options.fresh) {
    tab = await newTab(h);
  } else {
    h.shared ??= await newTab(h);
    tab = h.shared;
    await tab.page.unrouteAll({ behavior: "ignoreErrors" });
    if (tab.page.url().startsWith(h.dev.url)) {
      await tab.page.evaluate(() => (globalThis as any).sessionStorage.clear());
    }
  }
  const { context, page } = tab;
  const session: Session = {
    context,
    page,
    requests: [],
    chatBodies: [],
    consoleErrors: [],
    dialogs: [],
    close: options.fresh ? () => context.close() : async () => undefined,
  };
  if (options.fresh || !h.shared?.current) {
    // Listeners report to whichever session is current on this tab.
    const target = options.fresh ? () => session : () => h.shared!.current!;
    page.on("request", (request) => {
      target().requests.push(request.url());
      if (request.method() === "POST" && new URL(request.url()).pathname === "/chat") {
        target().chatBodies.push(JSON.parse(request.postData() ?? "null"));
      }
    });
    page.on("console", (message) => {
      if (message.type() === "error") target().consoleErrors.push(message.text());
    });
    page.on("pageerror", (error) => target().consoleErrors.push(`pageerror: ${error.message}`));
    page.on("dialog", (dialog) => {
      target().dialogs.push(`${dialog.type()}: ${dialog.message()}`);
      void dialog.dismiss();
    });
  }
  if (!options.fresh) h.shared!.current = session;
  await page.setViewportSize(options.viewport ?? { width: 1280, height: 800 });
  await page.emulateMedia({ colorScheme: options.colorScheme ?? "light" });
  await page.goto(h.dev.url);
  if (options.timeoutMs) {
    await page.evaluate((ms) => {
      (globalThis as any).document.documentElement.dataset.timeoutMs = String(ms);
    }, options.timeoutMs);
  }
  await page.locator("#input").waitFor();
  return session;
}

/** Every request went to the dev server on 127.0.0.1, nowhere else. */
function expectOnlyLocalRequests(h: Harness, session: Session) {
  const origin = new URL(h.dev.url).origin;
  expect(new URL(h.dev.url).hostname).toBe("127.0.0.1");
  expect(session.requests.filter((url) => new URL(url).origin !== origin)).toEqual([]);
}

/**
 * The set-up of a browser test file: the harness once for the file, and after each
 * test the check that none of its requests left 127.0.0.1. Returns `open`, which
 * opens the chat page (see openChat) for the current test.
 */
export function browserSuite(): { open(options?: OpenOptions): Promise<Session> } {
  let h: Harness;
  const opened: Session[] = [];
  beforeAll(async () => {
    h = await startHarness();
  });
  afterAll(() => h?.close());
  afterEach(async () => {
    for (const session of opened.splice(0)) {
      await session.close();
      expectOnlyLocalRequests(h, session);
    }
  });
  return {
    async open(options) {
      const session = await openChat(h, options);
      opened.push(session);
      return session;
    },
  };
}

// ------------------------------------------------------------------ page helpers

export const input = (page: Page) => page.locator("#input");
export const sendButton = (page: Page) => page.locator("#send");
export const turns = (page: Page) => page.locator("#log .turn");
export const turn = (page: Page, index: number) => turns(page).nth(index);
export const userBubble = (page: Page, index: number) => turn(page, index).locator(".msg.user .bubble");
export const botBubble = (page: Page, index: number) => turn(page, index).locator(".msg.bot .bubble");

/** Types text into the message field and presses Enter. */
export async function send(page: Page, text: string) {
  await input(page).fill(text);
  await input(page).press("Enter");
}

/** Waits until turn `index` is answered (reply or error) and returns its bot bubble. */
export async function answered(page: Page, index: number): Promise<Locator> {
  const bubble = turn(page, index).locator(".msg.bot .bubble:not(.pending)");
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
