// Falcon chat: getting one answer from the server. Answers stream over one WebSocket
// (/stream, docs/streaming.md); POST /chat is the fallback when the socket cannot be
// opened. Used by chat.js through window.falconAnswers = { ask, preconnect }.
"use strict";
window.falconAnswers = (() => {
  const auth = window.falconSignIn; // signin.js; inactive when the site has no sign-in
  const DEFAULT_TIMEOUT_MS = 35000; // API Gateway gives up after 29 s; on the socket: the longest silence
  // Until a streamed answer's job says `started`: Lambda may keep it queued up to 60 s
  // (maximum_event_age_in_seconds), then its on-failure destination sends an error frame.
  const DEFAULT_QUEUE_TIMEOUT_MS = 90000;
  const DEFAULT_NOTICE_MS = 3000; // then the person is told the answer has not started yet
  const FRAME_LIMIT = 32768; // API Gateway closes a socket on a larger frame: such a message goes by POST
  const PAUSE_MS = 60000; // after a refused handshake, answers go by POST this long

  const TITLES = {
    400: "Message not accepted",
    429: "Too many requests — wait a moment, then retry",
    502: "The model gave no usable answer",
    503: "The model is not running",
    504: "The model did not answer in time",
  };
  // What the page says and offers for each `reason` of contract/error-reasons.json
  // (retry: false hides Retry; reconnect: Retry opens a new socket).
  const REASONS = {
    invalid_request: { title: TITLES[400], retry: false },
    unauthorized: { title: "Please sign in again", retry: false },
    not_allowed: { title: "Access not allowed", retry: false },
    request_refused: { title: "Request refused", retry: false },
    not_found: { title: "Conversation not found", retry: false },
    rate_limited: { title: "Too many messages from your address — wait a few minutes, then retry" },
    site_quota: { title: "The site's daily limit is reached — try again tomorrow", retry: false },
    throttled: { title: "The chat is handling many requests — retry in a moment" },
    connection_limit: { title: "This connection reached its answer limit — Retry opens a new one", reconnect: true },
    busy: { title: "Too busy right now — the answer could not start; retry in a moment" },
    daily_allowance: { title: "Daily allowance used up", retry: false },
    internal: { title: "Server error" },
    model_error: { title: TITLES[502] },
    model_not_running: { title: TITLES[503] },
    stream_failed: { title: "The answer could not be completed" },
    model_timeout: { title: TITLES[504] },
  };

  let socket = null; // { ws, opened, cut, ready: Promise<boolean> }
  let pausedUntil = 0;
  let current = null; // the answer in flight: { id, text, limit, on, timer, ended, socket?, controller? }
  let lastId = 0;

  function httpError(status, data) {
    const message =
      data && typeof data.message === "string" && data.message.trim()
        ? data.message.trim().slice(0, 500)
        : null;
    if (status === 200) {
      return { title: "Unexpected answer", detail: "The server's answer could not be read.", status };
    }
    if (status === 401) {
      return { title: "Signed out", detail: "Your session has ended. Sign in again to continue; the conversation is kept.", status, signIn: true };
    }
    const reason = data && Object.hasOwn(REASONS, data.reason) ? data.reason : undefined;
    const known = reason ? REASONS[reason] : {};
    // A 503 without the API's {"message"} is a proxy's, not the model's.
    const title =
      known.title ||
      (status !== 503 || message ? TITLES[status] : "") ||
      (status >= 500 ? "Server error" : "Request failed");
    const error = { title, detail: message || `The server answered with status ${status}.`, status };
    if (reason) error.reason = reason;
    if (known.retry === false) error.retry = false;
    return error;
  }

  function setting(name, fallback) {
    const configured = Number(document.documentElement.dataset[name]);
    return configured > 0 ? configured : fallback;
  }

  // The answer's last word: `outcome` is { reply } or { error: { title, detail, status? } }; null says nothing.
  function end(cur, outcome) {
    if (cur.ended) return;
    cur.ended = true;
    clearTimeout(cur.timer);
    clearTimeout(cur.noticeTimer);
    if (current === cur) current = null;
    if (outcome) cur.on.end(outcome);
  }

  // Ends the request on the wire; closing the socket is what stops the server's answer.
  function cut(cur) {
    if (cur.controller) cur.controller.abort();
    const s = cur.socket || (socket && !socket.opened ? socket : null);
    if (s) {
      s.cut = true;
      if (s.ws) s.ws.close();
      if (socket === s) socket = null;
    }
  }

  // No frame (or no POST answer) for the configured time; longer while the job has not started.
  function arm(cur) {
    clearTimeout(cur.timer);
    const limit = cur.queued ? setting("queueTimeoutMs", DEFAULT_QUEUE_TIMEOUT_MS) : cur.limit;
    cur.timer = setTimeout(() => {
      cut(cur);
      const seconds = Math.round(limit / 1000) || 1;
      end(cur, {
        error: { title: "No answer in time", detail: `Gave up waiting after ${seconds} s. The model may be busy.` },
      });
    }, limit);
  }

  // Sent over the socket: waits for the job's `started`, telling the person early if it is late.
  function queue(cur) {
    cur.queued = true;
    arm(cur);
    cur.noticeTimer = setTimeout(() => {
      if (cur.queued && !cur.ended) cur.on.notice("Your answer has not started yet: the chat is busy. Still waiting…");
    }, setting("noticeMs", DEFAULT_NOTICE_MS));
  }

  function connect() {
    if (socket) return socket;
    if (Date.now() < pausedUntil || typeof WebSocket !== "function") return null;
    const s = { ws: null, opened: false, cut: false };
    // Signed in: a fresh ticket per handshake, and one more try with a new ticket before
    // answers go by POST (a browser cannot read why a handshake was refused).
    s.ready = open(s, auth && auth.active() ? 2 : 1);
    socket = s;
    return s;
  }

  async function open(s, tries) {
    for (let attempt = 1; attempt <= tries && !s.cut; attempt++) {
      let protocols;
      if (auth && auth.active()) {
        const ticket = await auth.ticket().catch(() => null);
        if (!ticket) break;
        protocols = ["falcon-chat", `ticket.${ticket}`];
      }
      if (!s.cut && (await handshake(s, protocols))) return true;
    }
    // Refused (origin check, WAF, quota, ticket: the browser cannot tell which): use POST a while.
    if (!s.cut) pausedUntil = Date.now() + PAUSE_MS;
    if (socket === s) socket = null;
    return false;
  }

  function handshake(s, protocols) {
    const url = new URL("stream", location.href);
    url.protocol = url.protocol === "https:" ? "wss:" : "ws:";
    return new Promise((resolve) => {
      let ws;
      try {
        ws = protocols ? new WebSocket(url, protocols) : new WebSocket(url);
      } catch {
        resolve(false);
        return;
      }
      s.ws = ws;
      ws.onopen = () => resolve((s.opened = true));
      ws.onclose = () => {
        if (!s.opened) {
          resolve(false);
          return;
        }
        if (socket === s) socket = null;
        if (current && current.socket === s && !s.reauth) {
          end(current, {
            error: { title: "Connection lost", detail: "The connection closed before the answer was complete." },
          });
        }
      };
      ws.onmessage = (event) => onFrame(s, event.data);
    });
  }

  // The server closed the socket because the sign-in expired: refresh, reconnect with a
  // fresh ticket and ask again; the conversation stays as it is.
  async function reauthenticate(s, cur) {
    s.reauth = true;
    if (socket === s) socket = null;
    try {
      await auth.refresh();
    } catch {
      end(cur, { error: httpError(401, null) });
      return;
    }
    if (!cur.ended) send(cur, cur.body);
  }

  function onFrame(s, data) {
    const cur = current;
    if (!cur || cur.socket !== s) return;
    let f;
    try {
      f = JSON.parse(data);
    } catch {
      return;
    }
    if (!f || typeof f !== "object") return;
    if (f.id !== cur.id) {
      // API Gateway's own answer when a route failed: {"message", "connectionId", "requestId"}.
      if (f.id === undefined && f.type === undefined && typeof f.message === "string") {
        const limited = /too many/i.test(f.message);
        end(cur, { error: httpError(limited ? 429 : 500, { ...f, reason: limited ? "throttled" : "internal" }) });
      }
      return; // a frame of an earlier answer
    }
    if (cur.queued && f.type !== "error") {
      cur.queued = false;
      clearTimeout(cur.noticeTimer);
      cur.on.notice(null);
    }
    arm(cur);
    if (f.type === "started") return;
    if (f.type === "token" && typeof f.text === "string") {
      cur.text += f.text;
      cur.on.text(cur.text);
    } else if (f.type === "done") {
      end(cur, { reply: typeof f.msg === "string" ? f.msg : cur.text, limits: historyLimits(f), ...saving(f) });
    } else if (f.type === "error" && Number(f.status) === 401 && auth && auth.enabled() && !cur.reauthed) {
      cur.reauthed = true;
      reauthenticate(s, cur);
    } else if (f.type === "error") {
      end(cur, { error: httpError(Number(f.status) || 500, f) });
      // The limit is this connection's: the next answer (Retry) goes over a new one.
      if (f.reason === "connection_limit" && socket === s) {
        s.cut = true;
        s.ws.close();
        socket = null;
      }
    }
  }

  // The history the server accepts for its model ({ turns, chars }), when an answer says so.
  function historyLimits(answer) {
    const l = answer && answer.history_limits;
    const ok = (n) => Number.isInteger(n) && n >= 0;
    return l && ok(l.turns) && ok(l.chars) ? { turns: l.turns, chars: l.chars } : undefined;
  }

  // Saved conversations: the answer's conversation, and whether it was saved.
  const saving = (answer) => ({ conversationId: answer.conversationId, saved: answer.saved });

  async function post(cur, body) {
    cur.controller = new AbortController();
    let outcome;
    try {
      const init = {
        method: "POST",
        headers: { "Content-Type": "application/json", Accept: "application/json" },
        body: JSON.stringify(body),
        signal: cur.controller.signal,
        cache: "no-store",
        credentials: "same-origin",
      };
      // Signed in: the ID token, refreshed once on a 401 (authorizedFetch).
      const res = auth && auth.active() ? await auth.authorizedFetch("chat", init) : await fetch("chat", init);
      const raw = await res.text();
      let data = null;
      try {
        data = JSON.parse(raw);
      } catch {
        // Not JSON (a proxy's HTML error page, say): fall back to the status.
      }
      outcome =
        res.status === 200 && data && typeof data.msg === "string"
          ? { reply: data.msg, limits: historyLimits(data), ...saving(data) }
          : { error: httpError(res.status, data) };
    } catch {
      outcome =
        auth && auth.enabled() && !auth.active()
          ? { error: httpError(401, null) } // the refresh was refused: the session has ended
          : { error: { title: "Network error", detail: "Could not reach the server. Check your connection." } };
    }
    end(cur, outcome); // nothing when it was cancelled or timed out first
  }

  async function send(cur, body) {
    const frame = JSON.stringify({ action: "chat", id: cur.id, ...body });
    const s = new Blob([frame]).size <= FRAME_LIMIT ? connect() : null;
    if (s && (await s.ready) && !cur.ended && s.ws.readyState === WebSocket.OPEN) {
      cur.socket = s;
      s.ws.send(frame);
      queue(cur);
    } else if (!cur.ended) {
      post(cur, body);
    }
  }

  // Asks for one answer to `body` ({ text, history } or { text, conversationId?, retry? }): `on.text(soFar)` as it streams,
  // `on.notice(text | null)` while it has not started, then `on.end(outcome)` once. Returns { cancel() }: ends it at once, on.end is not called.
  function ask(body, on) {
    const cur = { id: `a${Date.now().toString(36)}${++lastId}`, text: "", limit: setting("timeoutMs", DEFAULT_TIMEOUT_MS), on, ended: false, body };
    current = cur;
    arm(cur);
    send(cur, body);
    return {
      cancel() {
        cut(cur);
        end(cur, null);
      },
    };
  }

  // Opens the socket ahead of the first question (while it is typed), off the answer's clock.
  function preconnect() {
    if (!current) connect();
  }

  return { ask, preconnect, errorOf: httpError };
})();
