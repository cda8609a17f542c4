// Falcon chat page. Plain DOM: user and model text only ever reach the page
// through textContent / createElement, never as HTML.
"use strict";
(() => {
  const STORE_KEY = "falcon-chat:v1";
  const MAX_TEXT = 4000; // the /chat contract: 1..4000 characters after trimming
  // Bounds of the history sent along (the stack's defaults; the server rejects more):
  const HISTORY_ENTRIES = 10; // user + assistant entries, i.e. the last 5 exchanges
  const HISTORY_CHARS = 8000; // over all entries' content
  const DEFAULT_TIMEOUT_MS = 35000; // API Gateway gives up after 29 s

  const $ = (id) => document.getElementById(id);
  const log = $("log");
  const intro = $("intro");
  const form = $("composer");
  const input = $("input");
  const sendButton = $("send");

  // A turn: { text, at, reply?, replyAt?, error?: { title, detail, status? } }
  let turns = load();
  let inflight = null; // { turn, controller }
  const views = new WeakMap(); // turn -> { root, bot }

  function load() {
    try {
      const saved = JSON.parse(sessionStorage.getItem(STORE_KEY) || "[]");
      if (!Array.isArray(saved)) return [];
      return saved
        .filter((t) => t && typeof t.text === "string" && typeof t.at === "string")
        .map((t) => {
          if (typeof t.reply !== "string" && !(t.error && typeof t.error.title === "string")) {
            // Reloaded while a request was in flight.
            t.error = { title: "Interrupted", detail: "The page was reloaded before the answer arrived." };
          }
          return t;
        });
    } catch {
      return [];
    }
  }

  function save() {
    try {
      if (turns.length) sessionStorage.setItem(STORE_KEY, JSON.stringify(turns));
      else sessionStorage.removeItem(STORE_KEY);
    } catch {
      // Storage full or disabled: the conversation still works, it just is not kept.
    }
  }

  // Earlier completed exchanges, newest last, bounded in count and size.
  function historyBefore(turn) {
    const done = turns.slice(0, turns.indexOf(turn)).filter((t) => typeof t.reply === "string");
    const kept = [];
    let size = 0;
    for (let i = done.length - 1; i >= 0 && (kept.length + 1) * 2 <= HISTORY_ENTRIES; i--) {
      size += done[i].text.length + done[i].reply.length;
      if (size > HISTORY_CHARS) break;
      kept.unshift(done[i]);
    }
    return kept.flatMap((t) => [
      { role: "user", content: t.text },
      { role: "assistant", content: t.reply },
    ]);
  }

  function el(tag, className, text) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined) node.textContent = text;
    return node;
  }

  function stamp(iso, prefix) {
    const t = el("time", "meta");
    t.dateTime = iso;
    const clock = new Date(iso).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
    t.textContent = prefix ? `${prefix} · ${clock}` : clock;
    return t;
  }

  // Paragraphs and ``` fenced code blocks, built from text nodes.
  function formatted(text) {
    const box = el("div", "bubble");
    const fence = /```[^\n`]*\n?([\s\S]*?)(?:```|$)/g;
    let last = 0;
    const prose = (chunk) => {
      for (const para of chunk.split(/\n\s*\n/)) {
        const trimmed = para.trim();
        if (trimmed) box.append(el("p", "", trimmed));
      }
    };
    for (let m; (m = fence.exec(text)) !== null; ) {
      prose(text.slice(last, m.index));
      const pre = el("pre");
      pre.append(el("code", "", m[1].replace(/\n$/, "")));
      box.append(pre);
      last = fence.lastIndex;
    }
    prose(text.slice(last));
    if (!box.firstChild) box.append(el("p", "", text.trim() || "(empty answer)"));
    return box;
  }

  function userView(turn) {
    const msg = el("div", "msg user");
    msg.append(el("span", "sr-only", "You said:"), formatted(turn.text), stamp(turn.at));
    return msg;
  }

  function botView(turn) {
    const msg = el("div", "msg bot");
    msg.append(el("span", "sr-only", "Falcon:"));
    if (typeof turn.reply === "string") {
      msg.append(formatted(turn.reply), stamp(turn.replyAt || turn.at));
    } else if (turn.error) {
      const box = el("div", "bubble error");
      box.append(el("strong", "", turn.error.title), el("span", "detail", turn.error.detail));
      if (turn === turns[turns.length - 1] && !inflight) {
        const actions = el("div", "actions");
        const retry = el("button", "retry", "Retry");
        retry.type = "button";
        retry.addEventListener("click", () => {
          if (inflight) return;
          input.focus();
          request(turn);
        });
        actions.append(retry);
        box.append(actions);
      }
      const code = turn.error.status ? `HTTP ${turn.error.status}` : "";
      msg.append(box, stamp(turn.replyAt || turn.at, code));
    } else {
      const box = el("div", "bubble pending");
      for (let i = 0; i < 3; i++) box.append(el("span", "dot"));
      box.append(el("span", "sr-only", "thinking…"));
      msg.append(box);
    }
    return msg;
  }

  function show(turn) {
    let view = views.get(turn);
    if (!view) {
      view = { root: el("div", "turn"), bot: null };
      view.root.append(userView(turn));
      views.set(turn, view);
      log.append(view.root);
    }
    const bot = botView(turn);
    if (view.bot) view.bot.replaceWith(bot);
    else view.root.append(bot);
    view.bot = bot;
    intro.hidden = true;
    log.scrollTop = log.scrollHeight;
  }

  function setBusy(busy) {
    sendButton.disabled = busy;
  }

  function timeoutMs() {
    const configured = Number(document.documentElement.dataset.timeoutMs);
    return configured > 0 ? configured : DEFAULT_TIMEOUT_MS;
  }

  const TITLES = {
    400: "Message not accepted",
    429: "Too many requests — wait a moment, then retry",
    502: "The model gave no usable answer",
    504: "The model did not answer in time",
  };

  function httpError(status, data) {
    const message =
      data && typeof data.message === "string" && data.message.trim()
        ? data.message.trim().slice(0, 500)
        : null;
    if (status === 200) {
      return { title: "Unexpected answer", detail: "The server's answer could not be read.", status };
    }
    const title = TITLES[status] || (status >= 500 ? "Server error" : "Request failed");
    return { title, detail: message || `The server answered with status ${status}.`, status };
  }

  async function request(turn) {
    delete turn.error;
    const controller = new AbortController();
    const current = { turn, controller, timedOut: false };
    inflight = current;
    setBusy(true);
    show(turn);
    const limit = timeoutMs();
    const timer = setTimeout(() => {
      current.timedOut = true;
      controller.abort();
    }, limit);
    let outcome;
    try {
      const res = await fetch("chat", {
        method: "POST",
        headers: { "Content-Type": "application/json", Accept: "application/json" },
        body: JSON.stringify({ text: turn.text, history: historyBefore(turn) }),
        signal: controller.signal,
        cache: "no-store",
        credentials: "same-origin",
      });
      const raw = await res.text();
      let data = null;
      try {
        data = JSON.parse(raw);
      } catch {
        // Not JSON (a proxy's HTML error page, say): fall back to the status.
      }
      outcome =
        res.status === 200 && data && typeof data.msg === "string"
          ? { reply: data.msg }
          : { error: httpError(res.status, data) };
    } catch {
      outcome = current.timedOut
        ? {
            error: {
              title: "No answer in time",
              detail: `Gave up waiting after ${Math.round(limit / 1000) || 1} s. The model may be busy.`,
            },
          }
        : { error: { title: "Network error", detail: "Could not reach the server. Check your connection." } };
    } finally {
      clearTimeout(timer);
    }
    if (inflight !== current) return; // "New chat" dropped this request
    inflight = null;
    Object.assign(turn, outcome, { replyAt: new Date().toISOString() });
    save();
    setBusy(false);
    show(turn);
  }

  function submit() {
    const text = input.value.trim();
    if (inflight) return;
    if (!text) {
      input.focus();
      return;
    }
    const previous = turns[turns.length - 1];
    const turn = { text: text.slice(0, MAX_TEXT), at: new Date().toISOString() };
    turns.push(turn);
    const stale = previous && views.get(previous).bot.querySelector(".actions");
    if (stale) stale.remove(); // only the latest turn can be retried
    input.value = "";
    save();
    request(turn);
  }

  function newChat() {
    if (inflight) inflight.controller.abort();
    inflight = null;
    turns = [];
    save();
    for (const node of log.querySelectorAll(".turn")) node.remove();
    intro.hidden = false;
    setBusy(false);
    input.focus();
  }

  form.addEventListener("submit", (event) => {
    event.preventDefault();
    submit();
  });
  input.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      submit();
    }
  });
  $("new-chat").addEventListener("click", newChat);

  turns.forEach(show);
})();
