/**
 * The conversations sidebar with `npm run dev -- --no-auth` (auth: none): conversations kept
 * in this browser's localStorage, the same sidebar as with the server; the drawer on a
 * narrow screen; keyboard and screen-reader semantics.
 */
import { readFileSync } from "node:fs";
import type { Page } from "playwright-core";
import { ask, browserSuite, turns, userBubble } from "./harness";

const { open } = browserSuite({ fakeArgs: ["--first-token-ms", "30", "--tokens-per-second", "300"] });

const titles = (page: Page) => page.locator("#conversation-list .conv-title").allInnerTexts();
const active = (page: Page) => page.evaluate(() => {
  const el = (globalThis as any).document.activeElement;
  return el.id || el.className;
});

/** Two conversations, "Beta" (open) above "Alpha". */
async function two(page: Page) {
  await ask(page, "Alpha in the browser");
  await page.locator("#new-chat").click();
  await ask(page, "Beta in the browser");
}

it("keeps conversations in this browser: the same sidebar, and they survive a reload", async () => {
  const s = await open();
  await two(s.page);
  expect(await titles(s.page)).toEqual(["Beta in the browser", "Alpha in the browser"]);
  await s.page.reload();
  await s.page.locator("#conversation-list .conv").nth(1).waitFor();
  expect(await titles(s.page)).toEqual(["Beta in the browser", "Alpha in the browser"]);
  expect(await s.page.locator('#conversation-list [aria-current="true"] .conv-title').innerText()).toBe("Beta in the browser");
  await s.page.locator("#conversation-list .conv-open", { hasText: "Alpha" }).click();
  await s.page.locator("#log .turn").first().waitFor();
  expect(await userBubble(s.page, 0).innerText()).toBe("Alpha in the browser");
  const stored = await s.page.evaluate(() => Object.keys((globalThis as any).localStorage).sort());
  expect(stored.filter((k: string) => k.startsWith("falcon-chat:conversation:v1:"))).toHaveLength(2);
  expect(stored).toContain("falcon-chat:conversations:v1");
  expect(s.requests.some((url) => /^\/conversations(\/|$)/.test(new URL(url).pathname))).toBe(false);
});

it("asks with the history, as without saved conversations, and never with a conversation id", async () => {
  const s = await open();
  const reply = await ask(s.page, "Local first");
  await ask(s.page, "Local second");
  expect(s.chatBodies[1]).toEqual({ text: "Local second", history: [{ role: "user", content: "Local first" }, { role: "assistant", content: reply }] });
  expect(s.sent.filter((f) => f.action === "chat").some((f) => "conversationId" in f)).toBe(false);
});

it("renames, exports and deletes a conversation kept in this browser", async () => {
  const s = await open();
  await two(s.page);
  await s.page.getByRole("button", { name: "Rename “Beta in the browser”" }).click();
  await s.page.getByRole("textbox", { name: /Conversation title/ }).fill("Renamed: here & now");
  await s.page.getByRole("textbox", { name: /Conversation title/ }).press("Enter");
  expect(await titles(s.page)).toEqual(["Renamed: here & now", "Alpha in the browser"]);

  const [download] = await Promise.all([s.page.waitForEvent("download"), s.page.getByRole("button", { name: /^Export/ }).click()]);
  expect(download.suggestedFilename()).toBe("Renamed here now.md");
  const markdown = readFileSync((await download.path())!, "utf8");
  expect(markdown).toMatch(/^# Renamed\\: here \\& now\n\n## You · .* UTC\n\nBeta in the browser\n\n## Falcon · /);

  await s.page.getByRole("button", { name: /^Delete/ }).click();
  await s.page.getByRole("group", { name: "Confirm delete" }).getByRole("button", { name: "Delete" }).click();
  expect(await titles(s.page)).toEqual(["Alpha in the browser"]);
  expect(await turns(s.page).count()).toBe(0);
  await s.page.reload();
  await s.page.locator("#conversation-list .conv").first().waitFor();
  expect(await titles(s.page)).toEqual(["Alpha in the browser"]);
});

it("is a navigation landmark with a list, aria-current on the open conversation, reached by keyboard with visible focus", async () => {
  const s = await open();
  await two(s.page);
  const nav = s.page.getByRole("navigation", { name: "Conversations" });
  expect(await nav.getByRole("list").getByRole("listitem").count()).toBe(2);
  expect(await nav.locator("[aria-current]").count()).toBe(1);
  await s.page.locator("#new-chat").focus();
  await s.page.keyboard.press("Tab");
  expect(await s.page.evaluate(() => (globalThis as any).document.activeElement.getAttribute("aria-current"))).toBe("true");
  const ring = await s.page.evaluate(() => parseFloat((globalThis as any).getComputedStyle((globalThis as any).document.activeElement).outlineWidth));
  expect(ring).toBeGreaterThanOrEqual(2);
  await s.page.keyboard.press("Tab");
  expect(await s.page.evaluate(() => (globalThis as any).document.activeElement.textContent)).toBe("Rename");
  await s.page.keyboard.press("Tab"); // Export
  await s.page.keyboard.press("Tab"); // Delete
  await s.page.keyboard.press("Tab"); // the other conversation
  await s.page.keyboard.press("Enter");
  await s.page.locator("#log .turn").first().waitFor();
  expect(await userBubble(s.page, 0).innerText()).toBe("Alpha in the browser");
  expect(await active(s.page)).toBe("input");
});

it("opens as a drawer on a narrow screen: focus moves in, Escape closes it and focus returns to the toggle", async () => {
  const s = await open({ viewport: { width: 360, height: 740 } });
  await two(s.page);
  const toggle = s.page.getByRole("button", { name: "Conversations" });
  const nav = s.page.locator("#sidebar");
  expect(await nav.isVisible()).toBe(false);
  expect([await toggle.getAttribute("aria-expanded"), await toggle.getAttribute("aria-controls")]).toEqual(["false", "sidebar"]);

  await toggle.click();
  expect(await nav.isVisible()).toBe(true);
  expect(await toggle.getAttribute("aria-expanded")).toBe("true");
  expect(await s.page.evaluate(() => (globalThis as any).document.activeElement.closest("#sidebar") !== null)).toBe(true);
  expect(await s.page.locator(".chat").evaluate((el: any) => el.inert)).toBe(true);
  await s.page.keyboard.press("Escape");
  expect(await nav.isVisible()).toBe(false);
  expect(await active(s.page)).toBe("sidebar-toggle");
  expect(await toggle.getAttribute("aria-expanded")).toBe("false");

  await s.page.keyboard.press("Enter"); // the toggle again
  await s.page.locator("#conversation-list .conv-open", { hasText: "Alpha" }).click();
  await s.page.locator("#log .turn").first().waitFor();
  expect(await nav.isVisible()).toBe(false);
  expect(await active(s.page)).toBe("input");
  const widths = await s.page.evaluate(() => [(globalThis as any).document.documentElement.scrollWidth, (globalThis as any).document.documentElement.clientWidth]);
  expect(widths[0]).toBeLessThanOrEqual(widths[1]);
});
