/**
 * Sign-in through `npm run dev`: the page against the local Cognito stand-in (its own
 * origin), the real handlers checking tokens, tickets and allowances in the shared store.
 */
import type { BrowserContext, Page, WebSocket } from "playwright-core";
import { ask, answered, botBubble, person, send, signIn as signInPage, startHarness, type Harness } from "./harness";

// One person per test that chats: each has their own daily allowance.
const [ANN, BOB, CAROL, DAVE, ERIN, FRANK] = ["ann", "bob", "carol", "dave", "erin", "frank"].map(person);
const ALLOWANCE = 3;

let h: Harness;
const contexts: BrowserContext[] = [];

beforeAll(async () => {
  h = await startHarness({ auth: true, users: [ANN, BOB, CAROL, DAVE, ERIN, FRANK], dailyAnswersPerUser: ALLOWANCE, fakeArgs: ["--first-token-ms", "30", "--tokens-per-second", "300"] });
});
afterAll(() => h?.close());
afterEach(async () => {
  for (const c of contexts.splice(0)) await c.close();
  if (h.dev.cognito) h.dev.cognito.tokenLifetimeSeconds = 3600;
});

interface Tab {
  page: Page;
  sockets: WebSocket[];
  received: string[];
  /** Every request the page made: method, URL and whether it carried Authorization. */
  requests: { method: string; url: URL; authorization?: string; body?: string | null }[];
}

async function tab(): Promise<Tab> {
  const context = await h.browser.newContext();
  contexts.push(context);
  const page = await context.newPage();
  const t: Tab = { page, sockets: [], received: [], requests: [] };
  page.on("request", (r) => t.requests.push({ method: r.method(), url: new URL(r.url()), authorization: r.headers().authorization, body: r.postData() }));
  page.on("websocket", (ws) => {
    t.sockets.push(ws);
    ws.on("framereceived", ({ payload }) => t.received.push(payload.toString()));
  });
  await page.goto(`${h.dev.url}chat.html`);
  return t;
}

const signIn = (t: Tab, user = ANN) => signInPage(t.page, user);

const turnCount = (page: Page) => page.locator("#log .turn").count();
const tokenRequests = (t: Tab, grant: string) => t.requests.filter((r) => r.url.pathname === "/oauth2/token" && r.body?.includes(`grant_type=${grant}`));

describe("sign-in with the local Cognito stand-in", () => {
  it("asks for sign-in before the first question, and keeps the composer off until then", async () => {
    const t = await tab();
    await t.page.locator("#signin-panel:not([hidden])").waitFor();
    expect(await t.page.locator("#signin-message").textContent()).toBe("This chatbot is for signed-in users.");
    expect(await t.page.locator("#input").isDisabled()).toBe(true);
  });

  it("shows an error for a wrong password and stays on the form", async () => {
    const t = await tab();
    await t.page.getByRole("button", { name: "Sign in" }).click();
    await t.page.getByLabel("Email").fill(ANN.email);
    await t.page.getByLabel("Password").fill("not-the-password");
    await t.page.getByRole("button", { name: "Sign in" }).click();
    await expect(t.page.getByRole("alert").textContent()).resolves.toBe("Incorrect username or password.");
    expect(new URL(t.page.url()).origin).toBe(h.dev.cognito!.url);
    expect(await t.page.getByLabel("Email").inputValue()).toBe(ANN.email);
  });

  it("signs in with PKCE, shows who is signed in, and keeps the code out of the address", async () => {
    const t = await tab();
    await signIn(t);
    expect(await t.page.locator("#who").textContent()).toBe(`Signed in as ${ANN.email}`);
    expect(t.page.url()).toBe(`${h.dev.url}chat.html`);
    const authorize = t.requests.find((r) => r.url.pathname === "/oauth2/authorize")!.url.searchParams;
    expect(authorize.get("code_challenge_method")).toBe("S256");
    expect(authorize.get("code_challenge")).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(tokenRequests(t, "authorization_code")[0].body).toMatch(/code_verifier=[A-Za-z0-9_-]{64}/);
    const stored = await t.page.evaluate(() => JSON.stringify({ ...(globalThis as any).sessionStorage, ...(globalThis as any).localStorage }));
    expect(stored).not.toMatch(/eyJ/); // no JWT in storage
  });

  it("chats over the WebSocket with a ticket sent as a subprotocol, never in the URL", async () => {
    const t = await tab();
    await signIn(t);
    expect(await ask(t.page, "Hello over the socket")).toContain("Hello over the socket");
    expect(t.sockets).toHaveLength(1);
    expect(t.sockets[0].url()).toBe(`${h.dev.url.replace("http", "ws")}stream`);
    expect(t.received.some((f) => JSON.parse(f).type === "done")).toBe(true);
    const ticket = t.requests.filter((r) => r.url.pathname === "/chat/ticket");
    expect(ticket).toHaveLength(1);
    expect(ticket[0].authorization).toMatch(/^eyJ/);
    expect(t.requests.some((r) => r.url.pathname === "/chat")).toBe(false);
  });

  it("falls back to POST /chat with the ID token after a fresh ticket was tried", async () => {
    const t = await tab();
    await t.page.routeWebSocket(/\/stream$/, (ws) => ws.close({ code: 1006, reason: "refused" }));
    await signIn(t, CAROL);
    expect(await ask(t.page, "Hello by POST")).toContain("Hello by POST");
    const posts = t.requests.filter((r) => r.method === "POST" && r.url.pathname === "/chat");
    expect(posts).toHaveLength(1);
    expect(posts[0].authorization).toMatch(/^eyJ/);
    expect(t.requests.filter((r) => r.url.pathname === "/chat/ticket")).toHaveLength(2);
  });

  it("stays signed in across a reload through Cognito's session, without a token in storage, keeping the conversation", async () => {
    const t = await tab();
    await signIn(t, DAVE);
    await ask(t.page, "Remember me");
    await t.page.reload();
    await t.page.locator("#who:not([hidden])").waitFor();
    expect(await turnCount(t.page)).toBe(1);
    expect(t.page.url()).toBe(`${h.dev.url}chat.html`);
    expect(tokenRequests(t, "authorization_code")).toHaveLength(2); // a second code, no form
  });

  it("signs out: revokes the refresh token, ends the Cognito session, and the next sign-in needs the form", async () => {
    const t = await tab();
    await signIn(t);
    await t.page.getByRole("button", { name: "Sign out" }).click();
    await t.page.locator("#signin-panel:not([hidden])").waitFor();
    expect(await t.page.locator("#signin-message").textContent()).toBe("You have signed out.");
    const revoke = t.requests.find((r) => r.url.pathname === "/oauth2/revoke")!;
    expect(revoke.body).toMatch(/^token=[A-Za-z0-9_-]+&client_id=/);
    expect(t.requests.some((r) => r.url.pathname === "/logout")).toBe(true);
    await t.page.getByRole("button", { name: "Sign in" }).click();
    await t.page.getByLabel("Password").waitFor();
  });

  it("refreshes an expiring token silently, and a socket whose sign-in expired reconnects and asks again", async () => {
    h.dev.cognito!.tokenLifetimeSeconds = 3;
    const t = await tab();
    await signIn(t, ERIN);
    await ask(t.page, "First");
    await t.page.waitForTimeout(3500); // the socket's sign-in (its ticket's token) has now expired
    expect(await ask(t.page, "Second")).toContain("Second");
    expect(tokenRequests(t, "refresh_token").length).toBeGreaterThanOrEqual(1);
    expect(t.sockets.length).toBe(2); // closed by the server with a 401 frame, then a fresh ticket
    expect(t.received.some((f) => JSON.parse(f).status === 401)).toBe(true);
    expect(await t.page.locator("#signin-panel").isHidden()).toBe(true);
  });

  it("gives a second person their own session and allowance", async () => {
    const ann = await tab();
    await signIn(ann, ANN);
    const bob = await tab();
    await signIn(bob, BOB);
    expect(await bob.page.locator("#who").textContent()).toBe(`Signed in as ${BOB.email}`);
    expect(await ask(bob.page, "Bob here")).toContain("Bob here");
    expect(await ask(ann.page, "Ann here")).toContain("Ann here");
  });

  it("shows the daily allowance reached as 429 with when it resets", async () => {
    const t = await tab();
    await signIn(t, FRANK);
    for (let i = 0; i < ALLOWANCE; i++) await ask(t.page, `Question ${i}`);
    await send(t.page, "One too many");
    const bubble = await answered(t.page, ALLOWANCE);
    expect(await bubble.locator("strong").textContent()).toBe("Daily allowance used up");
    expect(await bubble.textContent()).toMatch(/used all 3 answers of your daily allowance; it resets at 00:00 UTC \(in /);
    // Retry cannot help before midnight UTC (contract/error-reasons.json: action "none").
    expect(await botBubble(t.page, ALLOWANCE).locator(".retry").count()).toBe(0);
  });

  it("says so when sign-in was cancelled, and offers it again", async () => {
    const t = await tab();
    await t.page.getByRole("button", { name: "Sign in" }).click();
    await t.page.getByRole("link", { name: "Cancel" }).click();
    await t.page.locator("#signin-panel:not([hidden])").waitFor();
    expect(await t.page.locator("#signin-message").textContent()).toBe("Sign-in was cancelled.");
    expect(t.page.url()).toBe(`${h.dev.url}chat.html`);
  });

  it("refuses a sign-in answer that this tab did not ask for", async () => {
    const t = await tab();
    await t.page.goto(`${h.dev.url}chat.html?code=forged&state=not-ours`);
    await t.page.locator("#signin-panel:not([hidden])").waitFor();
    expect(await t.page.locator("#signin-message").textContent()).toBe("That sign-in link is not from this tab or has expired. Sign in again.");
    expect(tokenRequests(t, "authorization_code")).toHaveLength(0);
  });

  it("answers 401 in the {message} shape without a valid token", async () => {
    const res = await fetch(`${h.dev.url}chat`, { method: "POST", headers: { "Content-Type": "application/json", Authorization: "eyJhbGciOiJIUzI1NiJ9.e30.forged" }, body: '{"text":"hi"}' });
    expect(res.status).toBe(401);
    expect(await res.json()).toEqual({ message: "Unauthorized", reason: "unauthorized" });
  });
});

describe("npm run dev -- --no-auth", () => {
  let open: Harness;
  beforeAll(async () => {
    open = await startHarness({ auth: false });
  });
  afterAll(() => open?.close());

  it("behaves as without sign-in: no panel, no page configuration, chat without a token", async () => {
    const context = await open.browser.newContext();
    const page = await context.newPage();
    await page.goto(`${open.dev.url}chat.html`);
    expect(await ask(page, "Open chat")).toContain("Open chat");
    expect(await page.locator("#signin-panel").isHidden()).toBe(true);
    expect(await page.locator("#who").isHidden()).toBe(true);
    expect((await fetch(`${open.dev.url}auth-config.json`)).status).toBe(404);
    expect(open.dev.cognito).toBeUndefined();
    await context.close();
  });
});
