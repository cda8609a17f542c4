// Falcon chat: getting one answer from the server. Answers stream over one WebSocket
// (/stream, docs/streaming.md); POST /chat is the fallback when the socket cannot be
// opened. Used by chat.js through window.falconAnswers = { ask, preconnect }.
"use strict";
window.falconAnswers = (() => {
  const DEFAULT_TIMEOUT_MS = 35000; // API Gateway gives up after 29 s; on the socket: the longest silence
  const FRAME_LIMIT = 32768; // API Gateway closes a socket on a larger frame: such a message goes by POST
  const PAUSE_MS = 60000; // after a refused handshake, answers go by POST this long

  const TITLES = {
    400: "Message not accepted",
    429: "Too many requests — wait a moment, then retry",
    502: "The model gave no usable answer",
    503: "The model is not running",
    504: "The model did not answer in time",
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
    // A 503 without the API's {"message"} is a proxy's, not the model's.
    const title =
      (status !== 503 || message ? TITLES[status] : "") || (status >= 500 ? "Server error" : "Request failed");
    return { title, detail: message || `The server answered with status ${status}.`, status };
  }

  function timeoutMs() {
    const configured = Number(document.documentElement.dataset.timeoutMs);
    return configured > 0 ? configured : DEFAULT_TIMEOUT_MS;
  }

  // The answer's last word: `outcome` is { reply } or { error: { title, detail, status? } }; null says nothing.
  function end(cur, outcome) {
    if (cur.ended) return;
    cur.ended = true;
    clearTimeout(cur.timer);
    if (current === cur) current = null;
    if (outcome) cur.on.end(outcome);
  }

  // Ends the request on the wire; closing the socket is what stops the server's answer.
  function cut(cur) {
    if (cur.controller) cur.controller.abort();
    const s = cur.socket || (socket && !socket.opened ? socket : null);
    if (s) {
      s.cut = true;
      s.ws.close();
      if (socket === s) socket = null;
    }
  }

  // No frame (or no POST answer) for the configured time.
  function arm(cur) {
    clearTimeout(cur.timer);
    cur.timer = setTimeout(() => {
      cut(cur);
      const seconds = Math.round(cur.limit / 1000) || 1;
      end(cur, {
        error: { title: "No answer in time", detail: `Gave up waiting after ${seconds} s. The model may be busy.` },
      });
    }, cur.limit);
  }

  function connect() {
    if (socket) return socket;
    if (Date.now() < pausedUntil || typeof WebSocket !== "function") return null;
    const url = new URL("stream", location.href);
    url.protocol = url.protocol === "https:" ? "wss:" : "ws:";
    let ws;
    try {
      ws = new WebSocket(url);
    } catch {
      return null;
    }
    const s = { ws, opened: false, cut: false };
    s.ready = new Promise((resolve) => {
      ws.onopen = () => resolve((s.opened = true));
      ws.onclose = () => {
        if (socket === s) socket = null;
        if (!s.opened) {
          // Refused (origin check, WAF, quota: the browser cannot tell which): use POST a while.
          if (!s.cut) pausedUntil = Date.now() + PAUSE_MS;
          resolve(false);
        } else if (current && current.socket === s) {
          end(current, {
            error: { title: "Connection lost", detail: "The connection closed before the answer was complete." },
          });
        }
      };
    });
    ws.onmessage = (event) => onFrame(s, event.data);
    socket = s;
    return s;
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
        end(cur, { error: httpError(/too many/i.test(f.message) ? 429 : 500, f) });
      }
      return; // a frame of an earlier answer
    }
    arm(cur);
    if (f.type === "token" && typeof f.text === "string") {
      cur.text += f.text;
      cur.on.text(cur.text);
    } else if (f.type === "done") {
      end(cur, { reply: typeof f.msg === "string" ? f.msg : cur.text, limits: historyLimits(f) });
    } else if (f.type === "error") {
      end(cur, { error: httpError(Number(f.status) || 500, f) });
    }
  }

  // The history the server accepts for its model ({ turns, chars }), when an answer says so.
  function historyLimits(answer) {
    const l = answer && answer.history_limits;
    const ok = (n) => Number.isInteger(n) && n >= 0;
    return l && ok(l.turns) && ok(l.chars) ? { turns: l.turns, chars: l.chars } : undefined;
  }

  async function post(cur, body) {
    cur.controller = new AbortController();
    let outcome;
    try {
      const res = await fetch("chat", {
        method: "POST",
        headers: { "Content-Type": "application/json", Accept: "application/json" },
        body: JSON.stringify(body),
        signal: cur.controller.signal,
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
          ? { reply: data.msg, limits: historyLimits(data) }
          : { error: httpError(res.status, data) };
    } catch {
      outcome = { error: { title: "Network error", detail: "Could not reach the server. Check your connection." } };
    }
    end(cur, outcome); // nothing when it was cancelled or timed out first
  }

  async function send(cur, body) {
    const frame = JSON.stringify({ action: "chat", id: cur.id, ...body });
    const s = new Blob([frame]).size <= FRAME_LIMIT ? connect() : null;
    if (s && (await s.ready) && !cur.ended && s.ws.readyState === WebSocket.OPEN) {
      cur.socket = s;
      s.ws.send(frame);
    } else if (!cur.ended) {
      post(cur, body);
    }
  }

  // Asks for one answer to `body` ({ text, history }): `on.text(soFar)` as it streams, then
  // `on.end(outcome)` once. Returns { cancel() }: ends it at once, on.end is not called.
  function ask(body, on) {
    const cur = { id: `a${Date.now().toString(36)}${++lastId}`, text: "", limit: timeoutMs(), on, ended: false };
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

  return { ask, preconnect };
})();
