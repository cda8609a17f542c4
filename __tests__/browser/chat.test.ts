/**
 * The chat page in Chromium against the dev server: the real handler and the fake model.
 * One test per behaviour; every test also checks that no request left 127.0.0.1.
 */
import {
  QUICK_MODEL,
  browserSuite,
  answered,
  ask,
  botBubble,
  input,
  screenshot,
  send,
  sendButton,
  turn,
  turns,
  userBubble,
  type Session,
} from "./harness";

// Streaming at a brisk pace: these tests are about the page, not the model's speed (stream.test.ts).
const { open } = browserSuite({ fakeArgs: QUICK_MODEL });

/** How the fake model reports the history it was given, e.g. "(2 earlier turns)". */
function earlierTurns(reply: string): number {
  const found = /(\d+) earlier turns?/i.exec(reply);
  if (!found) throw new Error(`the fake model's reply does not say how many earlier turns it saw: ${reply}`);
  return Number(found[1]);
}

it("sends a message and shows the reply", async () => {
  const s = await open();
  const reply = await ask(s.page, "What is the capital of France?");
  expect(reply).toContain("Echo: What is the capital of France?");
  expect(await userBubble(s.page, 0).innerText()).toBe("What is the capital of France?");
  expect(s.chatBodies).toEqual([{ text: "What is the capital of France?", history: [] }]);
  expect(s.via).toEqual(["ws"]);
  expect(await turn(s.page, 0).locator("time").count()).toBe(2);
  expect(await input(s.page).inputValue()).toBe("");
});

it("a follow-up sends the earlier turns as history and the reply reflects them", async () => {
  const s = await open();
  const first = await ask(s.page, "My name is Ada.");
  expect(earlierTurns(first)).toBe(0);
  const second = await ask(s.page, "What is my name?");
  expect(s.chatBodies[1]).toEqual({
    text: "What is my name?",
    history: [
      { role: "user", content: "My name is Ada." },
      { role: "assistant", content: first },
    ],
  });
  expect(earlierTurns(second)).toBe(2);
});

it("shows a pending indicator and disables Send while the model works", async () => {
  let release!: () => void;
  const held = new Promise<void>((resolve) => (release = resolve));
  // The page's chat frames wait between page and server until released.
  const s = await open({
    routeStream: (ws) => {
      const server = ws.connectToServer();
      ws.onMessage(async (message) => {
        await held;
        server.send(message);
      });
    },
  });
  await send(s.page, "first");
  await turn(s.page, 0).locator(".pending").waitFor();
  expect(await sendButton(s.page).isDisabled()).toBe(true);
  expect(await s.page.locator("#stop").isVisible()).toBe(true);
  // Enter while busy neither sends nor loses the draft.
  await send(s.page, "second");
  expect(await input(s.page).inputValue()).toBe("second");
  expect(await turns(s.page).count()).toBe(1);
  release();
  await answered(s.page, 0);
  expect(await turn(s.page, 0).locator(".pending").count()).toBe(0);
  expect(await sendButton(s.page).isEnabled()).toBe(true);
  expect(await s.page.locator("#stop").isHidden()).toBe(true);
  expect(s.chatBodies.map((b) => b.text)).toEqual(["first"]);
});

it("keeps the conversation for the browser session and sends it after a reload", async () => {
  const s = await open();
  const reply = await ask(s.page, "Remember me");
  await s.page.reload();
  expect(await userBubble(s.page, 0).innerText()).toBe("Remember me");
  expect(await botBubble(s.page, 0).innerText()).toBe(reply);
  await ask(s.page, "Still there?");
  expect(s.chatBodies[1].history).toEqual([
    { role: "user", content: "Remember me" },
    { role: "assistant", content: reply },
  ]);
});

it("bounds the history to the last 10 entries and 8000 characters, which the server accepts", async () => {
  const s = await open();
  // Seed a long conversation the way the page stores it, then reload.
  await s.page.evaluate(() => {
    const at = new Date().toISOString();
    const saved = Array.from({ length: 8 }, (_, i) => ({ text: `q${i}`, at, reply: `a${i}`, replyAt: at }));
    (globalThis as any).sessionStorage.setItem("falcon-chat:v1", JSON.stringify(saved));
  });
  await s.page.reload();
  expect(await turns(s.page).count()).toBe(8);
  await ask(s.page, "count");
  expect(s.chatBodies[0].history).toEqual(
    [3, 4, 5, 6, 7].flatMap((i) => [
      { role: "user", content: `q${i}` },
      { role: "assistant", content: `a${i}` },
    ]),
  );

  await s.page.evaluate(() => {
    const at = new Date().toISOString();
    const long = (c: string) => c.repeat(3000);
    const saved = ["a", "b", "c"].map((c) => ({ text: c, at, reply: long(c), replyAt: at }));
    (globalThis as any).sessionStorage.setItem("falcon-chat:v1", JSON.stringify(saved));
  });
  await s.page.reload();
  await ask(s.page, "long");
  const history = s.chatBodies[1].history ?? [];
  expect(history.reduce((n, e) => n + e.content.length, 0)).toBeLessThanOrEqual(8000);
  expect(history.map((e) => e.content.slice(0, 1))).toEqual(["b", "b", "c", "c"]);
});

it("adopts the history limits the server reports for its model (the dev server's Falcon3-7B: 40 entries)", async () => {
  const s = await open();
  await s.page.evaluate(() => {
    const at = new Date().toISOString();
    const saved = Array.from({ length: 30 }, (_, i) => ({ text: `q${i}`, at, reply: `a${i}`, replyAt: at }));
    (globalThis as any).sessionStorage.setItem("falcon-chat:v1", JSON.stringify(saved));
  });
  await s.page.reload();
  await ask(s.page, "first");
  expect(s.chatBodies[0].history).toHaveLength(10); // before any answer: what every model accepts
  await ask(s.page, "second");
  expect(s.chatBodies[1].history).toHaveLength(40);
  expect(earlierTurns(await botBubble(s.page, 31).innerText())).toBe(40);
});

it('"New chat" clears the conversation and the history', async () => {
  const s = await open();
  await ask(s.page, "one");
  await ask(s.page, "two");
  await s.page.locator("#new-chat").click();
  expect(await turns(s.page).count()).toBe(0);
  expect(await s.page.locator("#intro").isVisible()).toBe(true);
  expect(await s.page.evaluate(() => (globalThis as any).sessionStorage.getItem("falcon-chat:v1"))).toBeNull();
  await ask(s.page, "three");
  expect(s.chatBodies[2]).toEqual({ text: "three", history: [] });
  await s.page.reload();
  expect(await turns(s.page).count()).toBe(1);
});

it("is usable by keyboard alone: Tab to the input, Shift+Enter adds a line, Enter sends, focus visible", async () => {
  const s = await open();
  const active = () => s.page.evaluate(() => (globalThis as any).document.activeElement?.id ?? "");
  const ring = (selector: string) =>
    s.page.locator(selector).evaluate((el: any) => {
      const style = (globalThis as any).getComputedStyle(el);
      return style.outlineStyle === "none" ? 0 : parseFloat(style.outlineWidth);
    });

  const order: string[] = [];
  for (let i = 0; i < 5 && (await active()) !== "input"; i++) {
    await s.page.keyboard.press("Tab");
    order.push(await active());
  }
  expect(order).toEqual(["new-chat", "log", "input"]);
  expect(await ring(".field")).toBeGreaterThanOrEqual(2);

  await s.page.keyboard.type("line one");
  await s.page.keyboard.press("Shift+Enter");
  await s.page.keyboard.type("line two");
  expect(await input(s.page).inputValue()).toBe("line one\nline two");
  expect(s.chatBodies).toEqual([]);

  await s.page.keyboard.press("Enter");
  await answered(s.page, 0);
  expect(s.chatBodies[0].text).toBe("line one\nline two");
  expect(await userBubble(s.page, 0).innerText()).toBe("line one\nline two");
  expect(await active()).toBe("input");

  await s.page.keyboard.press("Tab");
  expect(await active()).toBe("send");
  expect(await ring("#send")).toBeGreaterThanOrEqual(2);
  const back: string[] = [];
  for (let i = 0; i < 10 && (await active()) !== "new-chat"; i++) {
    await s.page.keyboard.press("Shift+Tab");
    back.push(await active());
  }
  // Back past the log and the sidebar's open conversation: its button, Rename, Export, Delete.
  expect(back).toEqual(["input", "log", "", "", "", "", "new-chat"]);
  expect(await ring("#new-chat")).toBeGreaterThanOrEqual(2);
  await s.page.keyboard.press("Enter");
  expect(await turns(s.page).count()).toBe(0);
});

describe("text is text: script and HTML never run", () => {
  const PAYLOAD =
    `<img src=x onerror="window.__pwned='img';alert('img')">` +
    `<script>window.__pwned='script';alert('script')</script><b>bold</b>`;

  async function expectInert(session: Session) {
    const page = session.page;
    expect(await page.locator("#log img, #log script, #log b, #log iframe").count()).toBe(0);
    expect(await page.evaluate(() => (globalThis as any).__pwned ?? null)).toBeNull();
    expect(await page.evaluate(() => (globalThis as any).__cspViolations)).toEqual([]);
    expect(session.dialogs).toEqual([]);
  }

  it("in the user's message", async () => {
    const s = await open(); // harness records CSP violations in __cspViolations
    await ask(s.page, PAYLOAD);
    expect(await userBubble(s.page, 0).innerText()).toBe(PAYLOAD);
    expect(await botBubble(s.page, 0).innerText()).toContain(PAYLOAD);
    await s.page.reload(); // and again when restored from sessionStorage
    expect(await userBubble(s.page, 0).innerText()).toBe(PAYLOAD);
    await expectInert(s);
  });

  it("in the model's reply", async () => {
    const s = await open(); // harness records CSP violations in __cspViolations
    const reply = await ask(s.page, "show me some [[html]]");
    expect(reply).toContain("<script>alert(1)</script><b>bold</b>");
    await expectInert(s);
  });

  it("in a fenced code block of the reply", async () => {
    const s = await open(); // harness records CSP violations in __cspViolations
    await ask(s.page, "```html\n" + PAYLOAD + "\n```");
    expect(await botBubble(s.page, 0).locator("pre code").innerText()).toBe(PAYLOAD);
    await expectInert(s);
  });
});

it("has no horizontal scroll at 360 px, even with long words and code", async () => {
  const s = await open({ viewport: { width: 360, height: 740 } });
  await ask(s.page, "x".repeat(300));
  await ask(s.page, "```\n" + "const value = 'a long line of code that does not wrap'; ".repeat(5) + "\n```");
  const widths = await s.page.evaluate(() => {
    const d = (globalThis as any).document;
    return [d.documentElement, d.body, d.getElementById("log")].map((el: any) => [el.scrollWidth, el.clientWidth]);
  });
  for (const [scrollWidth, clientWidth] of widths) expect(scrollWidth).toBeLessThanOrEqual(clientWidth);
  expect(await sendButton(s.page).isVisible()).toBe(true);
  expect(await s.page.locator("#new-chat").isVisible()).toBe(true);
});

it("logs no console errors through a whole conversation", async () => {
  const s = await open();
  await ask(s.page, "hello");
  await ask(s.page, "```js\nconsole.log(1)\n```");
  await s.page.reload();
  await ask(s.page, "again");
  await s.page.locator("#new-chat").click();
  expect(s.consoleErrors).toEqual([]);
  expect(s.requests.length).toBeGreaterThan(4);
});

describe("colours follow prefers-color-scheme with readable contrast", () => {
  // WCAG relative luminance and contrast of two computed "rgb(...)" colours.
  const luminance = (rgb: number[]) =>
    rgb
      .map((v) => v / 255)
      .map((c) => (c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4))
      .reduce((sum, c, i) => sum + c * [0.2126, 0.7152, 0.0722][i], 0);
  const parse = (css: string) => (css.match(/[\d.]+/g) ?? []).slice(0, 3).map(Number);
  const contrast = (a: string, b: string) => {
    const [x, y] = [luminance(parse(a)), luminance(parse(b))].sort((p, q) => q - p);
    return (x + 0.05) / (y + 0.05);
  };

  it.each(["light", "dark"] as const)("%s", async (scheme) => {
    const s = await open({ colorScheme: scheme });
    await ask(s.page, "hello");
    await send(s.page, "again [[fail:429]]");
    await answered(s.page, 1);
    const pairs = await s.page.evaluate(() => {
      const d = (globalThis as any).document;
      const w = globalThis as any;
      const background = (el: any): string => {
        for (let node = el; node; node = node.parentElement) {
          const bg = w.getComputedStyle(node).backgroundColor;
          if (!/rgba\(.*, 0\)$|transparent/.test(bg)) return bg;
        }
        return w.getComputedStyle(d.documentElement).backgroundColor;
      };
      const selectors = [
        "h1",
        ".msg.user .bubble",
        ".msg.bot .bubble p",
        ".meta",
        ".error strong",
        ".error .detail",
        ".retry",
        "#send",
        "#stop",
        "#new-chat",
        ".hint",
        "#input",
        ".conv-title",
        ".conv-time",
        "#conversation-list button.ghost",
      ];
      return selectors.map((sel) => {
        const el = d.querySelector(sel);
        return { sel, fg: w.getComputedStyle(el).color, bg: background(el) };
      });
    });
    const low = pairs
      .map((p) => ({ ...p, ratio: Math.round(contrast(p.fg, p.bg) * 100) / 100 }))
      .filter((p) => p.ratio < 4.5);
    expect(low).toEqual([]);
    const pageBg = pairs.find((p) => p.sel === "h1")!.bg;
    expect(luminance(parse(pageBg)) > 0.5).toBe(scheme === "light");
  });
});

it("screenshots at desktop (1280x800) and phone (360x740) width", async () => {
  for (const [name, viewport] of [
    ["chat-desktop", { width: 1280, height: 800 }],
    ["chat-phone", { width: 360, height: 740 }],
  ] as const) {
    const s = await open({ viewport });
    await ask(s.page, "Write a Python function that greets someone.");
    await ask(s.page, "```python\ndef greet(name):\n    return f\"Hello, {name}!\"\n```\nCan you make it shorter?");
    await input(s.page).fill("Thanks! One more question…");
    const file = await screenshot(s.page, name);
    expect(file).toMatch(/\.png$/);
  }
});
