/**
 * Saved conversations through `npm run dev` with sign-in: the page's sidebar against the
 * real conversations function (API Gateway proxy events from the dev server, the caller from
 * the verified stand-in token) and the real chat paths saving each turn into the shared store.
 * One person per test, so that each starts with no conversations.
 */
import { readFileSync } from "node:fs";
import type { BrowserContext, Page } from "playwright-core";
import { QUICK_MODEL, answered, ask, botBubble, person, send, signIn, startHarness, turns, userBubble, type Harness } from "./harness";

const [GINA, HAL, IVY, JON, KIM, LEA, MAX, NED, OLI, PAT, QUIN] = ["gina", "hal", "ivy", "jon", "kim", "lea", "max", "ned", "oli", "pat", "quin"].map(person);

let h: Harness;
const contexts: BrowserContext[] = [];
beforeAll(async () => {
  h = await startHarness({ auth: true, users: [GINA, HAL, IVY, JON, KIM, LEA, MAX, NED, OLI, PAT, QUIN], fakeArgs: QUICK_MODEL });
});
afterAll(() => h?.close());
afterEach(async () => {
  for (const c of contexts.splice(0)) await c.close();
});

interface Tab {
  page: Page;
  /** Every request the page made (method and URL). */
  requests: { method: string; url: URL }[];
  /** What each question sent: chat frames and POST /chat bodies. */
  asked: Record<string, unknown>[];
}

/** A signed-in tab of its own; `byPost`: every handshake refused, so questions go by POST /chat. */
async function tab(user: { email: string; password: string }, { viewport = { width: 1280, height: 800 }, byPost = false } = {}): Promise<Tab> {
  const context = await h.browser.newContext({ viewport, locale: "en-US", timezoneId: "UTC" });
  contexts.push(context);
  const page = await context.newPage();
  if (byPost) await page.routeWebSocket(/\/stream$/, (ws) => ws.close({ code: 1006, reason: "refused" }));
  const t: Tab = { page, requests: [], asked: [] };
  page.on("request", (r) => {
    t.requests.push({ method: r.method(), url: new URL(r.url()) });
    if (r.method() === "POST" && new URL(r.url()).pathname === "/chat") t.asked.push(JSON.parse(r.postData() ?? "{}"));
  });
  page.on("websocket", (ws) =>
    ws.on("framesent", ({ payload }) => {
      const frame = JSON.parse(payload.toString());
      if (frame.action === "chat") t.asked.push(frame);
    }),
  );
  await page.goto(`${h.dev.url}chat.html`);
  await signIn(page, user);
  return t;
}

const titles = (page: Page) => page.locator("#conversation-list .conv-title").allInnerTexts();
const openId = (page: Page) => page.evaluate(() => (globalThis as any).sessionStorage.getItem("falcon-chat:open") as string | null);
const conversationButton = (page: Page, title: string) => page.locator("#conversation-list .conv-open", { hasText: title });

/** Waits until the sidebar lists exactly these titles, in this order. */
async function listed(page: Page, want: string[]) {
  await page.waitForFunction(
    (joined) => [...(globalThis as any).document.querySelectorAll("#conversation-list .conv-title")].map((e: any) => e.textContent).join("\n") === joined,
    want.join("\n"),
  );
}

/** Reloads with the tab's working copy gone, so what shows comes from the server. */
async function reloadFromServer(page: Page) {
  await page.evaluate(() => (globalThis as any).sessionStorage.removeItem("falcon-chat:v1"));
  await page.reload();
  await page.locator("#who:not([hidden])").waitFor();
}

describe("saved conversations (npm run dev with sign-in)", () => {
  it("lists two conversations newest first, each reopened with its own messages", async () => {
    const { page } = await tab(GINA);
    await ask(page, "Alpha question");
    await ask(page, "Alpha follow-up");
    await page.locator("#new-chat").click();
    await ask(page, "Beta question");
    await listed(page, ["Beta question", "Alpha question"]);
    await conversationButton(page, "Alpha question").click();
    await page.locator("#log .turn").nth(1).waitFor();
    expect(await turns(page).count()).toBe(2);
    expect(await userBubble(page, 1).innerText()).toBe("Alpha follow-up");
    expect(await page.locator('#conversation-list [aria-current="true"] .conv-title').innerText()).toBe("Alpha question");
  });

  it("asks with the conversation's id and no history once the server has saved it", async () => {
    const t = await tab(HAL);
    await ask(t.page, "First of two");
    const id = await openId(t.page);
    expect(id).toMatch(/^[A-Za-z0-9_-]{22}$/);
    await ask(t.page, "Second of two");
    expect(t.asked.map((b) => [b.text, b.conversationId, b.history])).toEqual([
      ["First of two", undefined, undefined],
      ["Second of two", id, undefined],
    ]);
  });

  it("keeps the open conversation across a reload, its messages read back from the server", async () => {
    const t = await tab(IVY);
    const reply = await ask(t.page, "Keep me open");
    const id = await openId(t.page);
    await reloadFromServer(t.page);
    await botBubble(t.page, 0).waitFor();
    expect(await userBubble(t.page, 0).innerText()).toBe("Keep me open");
    expect(await botBubble(t.page, 0).innerText()).toBe(reply);
    expect(await t.page.locator('#conversation-list [aria-current="true"] .conv-title').innerText()).toBe("Keep me open");
    expect(t.requests.some((r) => r.method === "GET" && r.url.pathname === `/conversations/${id}`)).toBe(true);
  });

  it("reopens a conversation with its whole history, following the messages' next cursor", async () => {
    const t = await tab(JON);
    for (const q of ["One", "Two", "Three"]) await ask(t.page, q);
    await t.page.locator("#new-chat").click();
    await t.page.evaluate(() => ((globalThis as any).document.documentElement.dataset.messagePage = "2"));
    await conversationButton(t.page, "One").click();
    await t.page.locator("#log .turn").nth(2).waitFor();
    expect(await t.page.locator("#log .msg.user .bubble").allInnerTexts()).toEqual(["One", "Two", "Three"]);
    const reads = t.requests.filter((r) => r.url.pathname.startsWith("/conversations/") && r.url.searchParams.get("limit") === "2");
    expect(reads.length).toBe(3); // 6 messages, 2 a page
    expect(reads.slice(1).every((r) => r.url.searchParams.get("cursor"))).toBe(true);
  });

  it("loads more conversations as the list scrolls, following next", async () => {
    const t = await tab(KIM, { viewport: { width: 1280, height: 420 } });
    for (const q of ["Q1", "Q2", "Q3", "Q4"]) {
      await ask(t.page, q);
      await t.page.locator("#new-chat").click();
    }
    // Pages of two conversations from here on; a new conversation starts the list again.
    await t.page.evaluate(() => ((globalThis as any).document.documentElement.dataset.conversationPage = "2"));
    await ask(t.page, "Q5");
    await t.page.waitForFunction(() => {
      const d = (globalThis as any).document;
      const scroller = d.getElementById("conversation-scroll");
      scroller.scrollTop = scroller.scrollHeight;
      return d.querySelectorAll("#conversation-list .conv").length === 5;
    }, null, { polling: 100 });
    expect(await titles(t.page)).toEqual(["Q5", "Q4", "Q3", "Q2", "Q1"]);
    const lists = t.requests.filter((r) => r.url.pathname === "/conversations" && r.url.searchParams.get("limit") === "2");
    expect(lists.length).toBe(3);
    expect(lists.map((r) => Boolean(r.url.searchParams.get("cursor")))).toEqual([false, true, true]);
  });

  it("renames a conversation in place: Escape cancels, Enter saves the trimmed title, 1 to 100 characters", async () => {
    const { page } = await tab(LEA);
    await ask(page, "Original title");
    await listed(page, ["Original title"]);
    await page.getByRole("button", { name: "Rename “Original title”" }).click();
    const field = page.getByRole("textbox", { name: /Conversation title/ });
    expect(await field.evaluate((el: any) => el === (globalThis as any).document.activeElement)).toBe(true);
    await field.fill("Never saved");
    await field.press("Escape");
    await listed(page, ["Original title"]);
    expect(await page.evaluate(() => (globalThis as any).document.activeElement.className)).toBe("conv-open");

    await page.getByRole("button", { name: "Rename “Original title”" }).click();
    await field.fill("   ");
    await field.press("Enter");
    expect(await page.locator("#sidebar-status").innerText()).toBe("A title needs 1 to 100 characters.");
    await field.fill("  Better title  ");
    await field.press("Enter");
    await listed(page, ["Better title"]);
    await reloadFromServer(page);
    await listed(page, ["Better title"]);
  });

  it("deletes a conversation only after confirmation, and it stays gone after a reload", async () => {
    const { page } = await tab(MAX);
    await ask(page, "Keep this one");
    await page.locator("#new-chat").click();
    await ask(page, "Delete this one");
    await listed(page, ["Delete this one", "Keep this one"]);
    await page.getByRole("button", { name: "Delete “Delete this one”" }).click();
    const confirm = page.getByRole("group", { name: "Confirm delete" });
    expect(await confirm.innerText()).toContain("Delete “Delete this one”? This cannot be undone.");
    await confirm.getByRole("button", { name: "Cancel" }).click();
    await listed(page, ["Delete this one", "Keep this one"]);

    await page.getByRole("button", { name: "Delete “Delete this one”" }).click();
    await confirm.getByRole("button", { name: "Delete" }).click();
    await listed(page, ["Keep this one"]);
    expect(await page.locator("#sidebar-status").innerText()).toBe("Deleted “Delete this one”.");
    expect(await turns(page).count()).toBe(0);
    expect(await openId(page)).toBeNull();
    await reloadFromServer(page);
    await listed(page, ["Keep this one"]);
  });

  it("exports the open conversation as the server's Markdown file", async () => {
    const { page } = await tab(NED);
    const reply = await ask(page, "Export me");
    await listed(page, ["Export me"]);
    const [download] = await Promise.all([page.waitForEvent("download"), page.getByRole("button", { name: "Export “Export me” as Markdown" }).click()]);
    expect(download.suggestedFilename()).toBe("Export me.md");
    const markdown = readFileSync((await download.path())!, "utf8");
    expect(markdown).toMatch(/^# Export me\n/);
    expect(markdown).toMatch(/\n## You · \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC\n\nExport me\n/);
    expect(markdown).toContain(`## Falcon · `);
    expect(markdown).toContain(reply.split("\n")[0]);
  });

  it("shows a second person none of the first person's conversations, and not the first person's one by its id", async () => {
    const first = await tab(OLI);
    await ask(first.page, "Oli's secret plan");
    const id = await openId(first.page);
    expect(id).toMatch(/^[A-Za-z0-9_-]{22}$/);
    const second = await tab(PAT);
    await second.page.locator("#sidebar-status", { hasText: "No conversations yet." }).waitFor();
    expect(await titles(second.page)).toEqual([]);
    // The first person's id in the second person's tab: the server answers 404, the page shows nothing of it.
    await second.page.evaluate((other) => (globalThis as any).sessionStorage.setItem("falcon-chat:open", other), id);
    await reloadFromServer(second.page);
    await second.page.locator("#sidebar-status", { hasText: "That conversation no longer exists." }).waitFor();
    expect(await second.page.locator("body").innerText()).not.toContain("secret plan");
    expect(second.requests.some((r) => r.url.pathname === `/conversations/${id}`)).toBe(true);
  });

  it("shows a title with markup as text, in the list and after a rename", async () => {
    const { page } = await tab(QUIN);
    const markup = `<b>bold</b><img src=x onerror="window.__pwned=1">`;
    await ask(page, markup);
    await listed(page, [markup]);
    await page.getByRole("button", { name: `Rename “${markup}”` }).click();
    await page.getByRole("textbox", { name: /Conversation title/ }).fill("<script>window.__pwned=2</script>");
    await page.getByRole("textbox", { name: /Conversation title/ }).press("Enter");
    await listed(page, ["<script>window.__pwned=2</script>"]);
    await reloadFromServer(page);
    await listed(page, ["<script>window.__pwned=2</script>"]);
    expect(await page.locator("#sidebar b, #sidebar img, #sidebar script").count()).toBe(0);
    expect(await page.evaluate(() => (globalThis as any).__pwned ?? null)).toBeNull();
  });

  it("retries a failed newest turn with retry: true, and the server keeps one copy of that turn", async () => {
    const t = await tab(GINA, { byPost: true }); // to rewrite the question on its way
    await ask(t.page, "Before the failure");
    let rewritten = false;
    await t.page.route(/\/chat$/, async (route) => {
      const body = JSON.parse(route.request().postData() ?? "{}");
      if (rewritten || body.text !== "Fails once") return route.continue();
      rewritten = true;
      return route.continue({ postData: JSON.stringify({ ...body, text: "Fails once [[fail:424]]" }) });
    });
    await send(t.page, "Fails once");
    await (await answered(t.page, 1)).locator(".retry").click();
    await botBubble(t.page, 1).locator("p").first().waitFor();
    const id = await openId(t.page);
    expect(t.asked.slice(-1)[0]).toEqual({ text: "Fails once", conversationId: id, retry: true });
    await reloadFromServer(t.page);
    await t.page.locator("#log .turn").nth(1).waitFor();
    expect(await t.page.locator("#log .msg.user .bubble").allInnerTexts()).toEqual(["Before the failure", "Fails once"]);
    expect(await botBubble(t.page, 1).evaluate((el: any) => el.classList.contains("error"))).toBe(false);
  });

  it("answers 401 without a valid token and 403 for a method the API does not have, as API Gateway does", async () => {
    const unauthorized = await fetch(`${h.dev.url}conversations`, { headers: { Authorization: "eyJhbGciOiJIUzI1NiJ9.e30.forged" } });
    expect([unauthorized.status, await unauthorized.json()]).toEqual([401, { message: "Unauthorized", reason: "unauthorized" }]);
    const missing = await fetch(`${h.dev.url}conversations/abc`, { method: "PUT" });
    expect([missing.status, ((await missing.json()) as { message: string }).message]).toEqual([403, "Missing Authentication Token"]);
  });
});

describe("npm run dev -- --no-conversations (sign-in, conversations kept in the browser)", () => {
  let local: Harness;
  beforeAll(async () => {
    local = await startHarness({ auth: true, conversations: false, users: [GINA], fakeArgs: QUICK_MODEL });
  });
  afterAll(() => local?.close());

  it("tells the page conversations are off, routes no /conversations, and the page keeps them in the browser per person", async () => {
    const config = (await (await fetch(`${local.dev.url}auth-config.json`)).json()) as { conversations?: boolean };
    expect(config.conversations).toBe(false);
    const context = await local.browser.newContext();
    contexts.push(context);
    const page = await context.newPage();
    await page.goto(`${local.dev.url}chat.html`);
    await signIn(page, GINA);
    await ask(page, "Kept in this browser");
    await listed(page, ["Kept in this browser"]);
    const keys = await page.evaluate(() => Object.keys((globalThis as any).localStorage));
    expect(keys).toContain(`falcon-chat:conversations:v1:${GINA.email}`);
    expect((await fetch(`${local.dev.url}conversations`)).status).toBe(404);
  });
});
