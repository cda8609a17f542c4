/**
 * Shared set-up for the browser tests: the dev server (real handler, fake model)
 * and headless Chromium, started once per test file. Tests share one tab, reset
 * between tests (routes removed, sessionStorage and localStorage cleared, page reloaded) because a new
 * tab costs more than most tests; a test that needs its own asks for `fresh`.
 * Every request, console error and dialog of the current test is recorded.
 */
import path from "node:path";
import {
  chromium,
  type Browser,
  type BrowserContext,
  type Page,
  type WebSocket,
  type WebSocketRoute,
} from "playwright-core";
import { startDevServer, type DevServer, type DevServerOptions } from "../../dev/server";
import type { ChatBody, Frame } from "./page";
import { CHROMIUM_ARGS, CHROMIUM_PATH } from "../../scripts/chromium";

export * from "./page";

export const ROOT = path.resolve(__dirname, "..", "..");

export interface Harness {
  dev: DevServer;
  browser: Browser;
  /** What the dev server, the handler and the fake model logged. */
  serverLog: string[];
  close(): Promise<void>;
  /** The tab most tests share (a new page costs more than a test); see openChat. */
  shared?: { context: BrowserContext; page: Page; current?: Session };
}

/** Fake model flags for a brisk stream (first token after 30 ms, 300 tokens/s) where the pace does not matter. */
export const QUICK_MODEL = ["--first-token-ms", "30", "--tokens-per-second", "300"];

/** The model read timeout the handler gets here, so [[slow:3000]] ends as a 504 quickly. */
const MODEL_READ_TIMEOUT_SECONDS = 1;

/** Starts the dev server (real handlers, fake model; `dev` adds options) and Chromium. */
export async function startHarness(dev: DevServerOptions = {}): Promise<Harness> {
  const serverLog: string[] = [];
  const [server, browser] = await Promise.all([
    startDevServer({
      port: 0,
      log: (line) => serverLog.push(line),
      // The page's behaviours without sign-in (auth: none); signin.test.ts opts in.
      auth: false,
      ...dev,
      lambdaEnv: { MODEL_READ_TIMEOUT_SECONDS: String(MODEL_READ_TIMEOUT_SECONDS), ...dev.lambdaEnv },
    }),
    chromium.launch({ executablePath: CHROMIUM_PATH, args: CHROMIUM_ARGS }),
  ]);
  return {
    dev: server,
    browser,
    serverLog,
    async close() {
      await Promise.all([browser.close(), server.close()]);
    },
  };
}

export interface Session {
  context: BrowserContext;
  page: Page;
  /** Every URL the page requested, WebSocket URLs included. */
  requests: string[];
  /** What the page asked, in order, whichever way: POST /chat bodies and chat frames' text and history. */
  chatBodies: ChatBody[];
  /** How each of chatBodies went: "ws" (a chat frame on /stream) or "post" (POST /chat). */
  via: ("ws" | "post")[];
  /** Frames the page's WebSockets sent and received, parsed. */
  sent: Frame[];
  received: Frame[];
  /** The page's WebSockets, in the order it opened them. */
  sockets: WebSocket[];
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
  /**
   * Intercepts the page's WebSockets to /stream (implies `fresh`: Playwright cannot
   * remove a WebSocket route again). See refuseStream and rewriteFirstFrame.
   */
  routeStream?: (ws: WebSocketRoute) => Promise<void> | void;
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
  const fresh = options.fresh || options.routeStream !== undefined;
  if (fresh) {
    tab = await newTab(h);
    if (options.routeStream) await tab.page.routeWebSocket(/\/stream$/, options.routeStream);
  } else {
    h.shared ??= await newTab(h);
    tab = h.shared;
    await tab.page.unrouteAll({ behavior: "ignoreErrors" });
    if (tab.page.url().startsWith(h.dev.url)) {
      await tab.page.evaluate(() => {
        (globalThis as any).sessionStorage.clear();
        (globalThis as any).localStorage.clear(); // the conversations kept in this browser (auth none)
      });
    }
  }
  const { context, page } = tab;
  const session: Session = {
    context,
    page,
    requests: [],
    chatBodies: [],
    via: [],
    sent: [],
    received: [],
    sockets: [],
    consoleErrors: [],
    dialogs: [],
    close: fresh ? () => context.close() : async () => undefined,
  };
  if (fresh || !h.shared?.current) {
    // Listeners report to whichever session is current on this tab.
    const target = fresh ? () => session : () => h.shared!.current!;
    const parse = (payload: string | Buffer): Frame => {
      try {
        return JSON.parse(payload.toString());
      } catch {
        return { message: `(not JSON) ${payload.toString().slice(0, 200)}` };
      }
    };
    page.on("request", (request) => {
      target().requests.push(request.url());
      if (request.method() === "POST" && new URL(request.url()).pathname === "/chat") {
        target().chatBodies.push(JSON.parse(request.postData() ?? "null"));
        target().via.push("post");
      }
    });
    page.on("websocket", (ws) => {
      target().requests.push(ws.url());
      target().sockets.push(ws);
      ws.on("framesent", ({ payload }) => {
        const frame = parse(payload);
        target().sent.push(frame);
        if (frame.action === "chat") {
          target().chatBodies.push({ text: frame.text ?? "", history: frame.history });
          target().via.push("ws");
        }
      });
      ws.on("framereceived", ({ payload }) => target().received.push(parse(payload)));
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
  if (!fresh) h.shared!.current = session;
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

/** Every request (WebSockets included) went to the dev server on 127.0.0.1, nowhere else. */
function expectOnlyLocalRequests(h: Harness, session: Session) {
  const { host } = new URL(h.dev.url);
  expect(new URL(h.dev.url).hostname).toBe("127.0.0.1");
  expect(session.requests.filter((url) => new URL(url).host !== host)).toEqual([]);
}

/**
 * The set-up of a browser test file: the harness once for the file, and after each
 * test the check that none of its requests left 127.0.0.1. Returns `open`, which
 * opens the chat page (see openChat) for the current test.
 */
export function browserSuite(dev: DevServerOptions = {}): {
  open(options?: OpenOptions): Promise<Session>;
  harness(): Harness;
} {
  let h: Harness;
  const opened: Session[] = [];
  beforeAll(async () => {
    h = await startHarness(dev);
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
    harness: () => h,
  };
}
