// Falcon chat page: the conversation and how it is shown. Plain DOM: user and model
// text only ever reach the page through textContent / createElement, never as HTML.
// Answers come from answers.js (window.falconAnswers), the sidebar and where conversations
// are kept from conversations.js (window.falconConversations), both loaded before this file.
"use strict";
(() => {
  const STORE_KEY = "falcon-chat:v1";
  const MAX_TEXT = 4000; // the /chat contract: 1..4000 characters after trimming
  // Bounds of the history sent along (the server rejects more). These fit every model; each
  // answer says what the server accepts for its model (history_limits), used from then on:
  // Falcon 3's 32K window takes far more.
  let historyEntries = 10; // user + assistant entries, i.e. the last 5 exchanges
  let historyChars = 8000; // over all entries' content
  const answers = window.falconAnswers;
  const auth = window.falconSignIn;
  const convos = window.falconConversations;

  const $ = (id) => document.getElementById(id);
  const log = $("log");
  const intro = $("intro");
  const form = $("composer");
  const input = $("input");
  const sendButton = $("send");
  const stopButton = $("stop");
  const announcer = $("announce");

  // A turn: { text, at, reply?, stopped?, replyAt?, error?: { title, detail, status?, reason?, retry? } }
  let turns = load();
  let inflight = null; // the answer in flight: { turn, text, answer: { cancel() } }
  const views = new WeakMap(); // turn -> { root, bot }

  // The open conversation's working copy, for this tab (a reload shows it at once).
  function load() {
    try {
      return convos.clean(JSON.parse(sessionStorage.getItem(STORE_KEY) || "[]"));
    } catch {
      return [];
    }
  }

  // `keep`: a change of this conversation (not another one shown), for its store too.
  function save(keep = true) {
    try {
      if (turns.length) sessionStorage.setItem(STORE_KEY, JSON.stringify(turns));
      else sessionStorage.removeItem(STORE_KEY);
    } catch {
      // Storage full or disabled: the conversation still works, it just is not kept.
    }
    if (keep) convos.keep(turns);
  }

  // Earlier completed exchanges (not stopped, not failed), newest last, bounded in count and size.
  function historyBefore(turn) {
    const done = turns.slice(0, turns.indexOf(turn)).filter((t) => typeof t.reply === "string" && !t.stopped);
    const kept = [];
    let size = 0;
    for (let i = done.length - 1; i >= 0 && (kept.length + 1) * 2 <= historyEntries; i--) {
      size += done[i].text.length + done[i].reply.length;
      if (size > historyChars) break;
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
  function formatted(text, empty) {
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
    if (!box.firstChild) box.append(el("p", "", text.trim() || empty || "(empty answer)"));
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
    const live = inflight && inflight.turn === turn ? inflight : null;
    if (live && live.text.trim()) {
      // Growing text: announced once, when the answer ends (see announce).
      msg.setAttribute("aria-busy", "true");
      const box = formatted(live.text);
      box.classList.add("streaming");
      msg.append(box);
    } else if (live) {
      msg.setAttribute("aria-busy", "true");
      const box = el("div", "bubble pending");
      for (let i = 0; i < 3; i++) box.append(el("span", "dot"));
      box.append(el("span", "sr-only", "thinking…"));
      msg.append(box);
      if (live.notice) msg.append(el("p", "notice", live.notice));
    } else if (typeof turn.reply === "string") {
      const box = formatted(turn.reply, turn.stopped ? "(stopped before any text arrived)" : "");
      if (turn.stopped) box.classList.add("stopped");
      msg.append(box, stamp(turn.replyAt || turn.at, turn.stopped ? "Stopped" : ""));
    } else if (turn.error) {
      const box = el("div", "bubble error");
      box.append(el("strong", "", turn.error.title), el("span", "detail", turn.error.detail));
      if (turn === turns[turns.length - 1] && turn.error.retry !== false) {
        const actions = el("div", "actions");
        // Signed out (401): sign in again; the conversation waits in this tab's storage.
        const again = turn.error.signIn && auth && auth.enabled();
        const retry = el("button", "retry", again ? "Sign in again" : "Retry");
        retry.type = "button";
        retry.addEventListener("click", () => {
          if (again) {
            auth.signIn();
            return;
          }
          if (inflight) return;
          input.focus();
          request(turn, true);
        });
        actions.append(retry);
        box.append(actions);
      }
      const code = turn.error.status ? `HTTP ${turn.error.status}` : "";
      msg.append(box, stamp(turn.replyAt || turn.at, code));
    }
    return msg;
  }

  function show(turn, follow = true) {
    // While text streams in, keep the view at the bottom only if the reader is there.
    const atBottom = log.scrollHeight - log.scrollTop - log.clientHeight < 48;
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
    if (follow || atBottom) log.scrollTop = log.scrollHeight;
  }

  // The one announcement per answer: the log itself is not live (it would read every token).
  function announce(turn) {
    announcer.textContent = turn.error
      ? `${turn.error.title}. ${turn.error.detail}`
      : `Falcon${turn.stopped ? " (stopped)" : ""}: ${turn.reply || "no text"}`;
  }

  function setBusy(busy) {
    sendButton.disabled = busy || input.disabled; // input is disabled while signed out
    if (!busy && document.activeElement === stopButton) input.focus();
    stopButton.hidden = !busy;
  }

  function finish(cur, outcome) {
    if (inflight !== cur) return; // already ended (Stop, New chat)
    inflight = null;
    const { limits, conversationId, saved, ...result } = outcome;
    if (limits) ({ turns: historyEntries, chars: historyChars } = limits);
    Object.assign(cur.turn, result, { replyAt: new Date().toISOString() });
    save();
    convos.answered({ conversationId, saved });
    setBusy(false);
    show(cur.turn);
    announce(cur.turn);
  }

  function request(turn, retry = false) {
    delete turn.error;
    delete turn.reply;
    delete turn.stopped;
    const cur = { turn, text: "" };
    inflight = cur;
    setBusy(true);
    show(turn);
    cur.answer = answers.ask(
      convos.body({ text: turn.text, history: historyBefore(turn) }, retry),
      {
        text(soFar) {
          cur.text = soFar;
          if (inflight === cur) show(turn, false);
        },
        notice(text) {
          cur.notice = text;
          if (inflight === cur) show(turn, false);
          if (text) announcer.textContent = text;
        },
        end: (outcome) => finish(cur, outcome),
      },
    );
  }

  // Ends the answer at once and keeps what arrived; closing the socket stops the server too.
  function stop() {
    const cur = inflight;
    if (!cur) return;
    cur.answer.cancel();
    finish(cur, { reply: cur.text, stopped: true });
    input.focus();
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

  // Shows `next` as the conversation (another one opened, or none); ends an answer in flight.
  function replace(next) {
    if (inflight) inflight.answer.cancel();
    inflight = null;
    turns = next;
    save(false);
    for (const node of log.querySelectorAll(".turn")) node.remove();
    intro.hidden = false;
    setBusy(false);
    turns.forEach((turn) => show(turn));
  }

  function newChat() {
    convos.reset();
    replace([]);
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
    } else if (event.key === "Escape" && inflight) {
      event.preventDefault();
      stop();
    }
  });
  input.addEventListener("input", answers.preconnect);
  stopButton.addEventListener("click", stop);
  $("new-chat").addEventListener("click", newChat);

  // Sign-in (signin.js): who is signed in, Sign out, and the sign-in panel when nobody is.
  const panel = $("signin-panel");
  function signInState(state) {
    const signedIn = state.mode === "signed-in";
    const blocked = state.mode === "signed-out" || state.mode === "redirecting" || state.mode === "starting";
    $("who").hidden = !signedIn;
    $("sign-out").hidden = !signedIn;
    $("who-email").textContent = signedIn ? state.email : "";
    panel.hidden = state.mode !== "signed-out";
    $("signin-message").textContent = state.message || "This chatbot is for signed-in users.";
    input.disabled = blocked;
    sendButton.disabled = blocked || Boolean(inflight);
    convos.signInState(state);
  }
  convos.attach({ replace, input });
  if (auth) {
    signInState({ mode: "starting" });
    auth.onChange(signInState);
    auth.start().then(signInState, () => signInState({ mode: "signed-out", message: "Sign-in could not start. Reload the page." }));
    $("sign-in").addEventListener("click", () => auth.signIn());
    $("sign-out").addEventListener("click", () => {
      newChat(); // nothing of this person's stays on screen or in the tab
      auth.signOut();
    });
  }

  turns.forEach((turn) => show(turn));
})();
