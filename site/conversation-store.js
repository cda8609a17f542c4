// Falcon chat: where conversations are kept. Two stores with one interface (used by
// conversations.js through window.falconConversationStore):
//   server(auth, errorOf): the signed-in person's, through the /conversations API
//   local(scope): this browser's localStorage (no sign-in, or conversations off)
// list(cursor, limit) -> { conversations: [{ id, title, createdAt, updatedAt, messageCount }], next },
// open(id) -> { id, title, turns } (turns as chat.js keeps them), rename(id, title) -> summary,
// remove(id), file(id) -> { name, blob } (Markdown); local only: keep(id | null, turns) -> summary.
"use strict";
window.falconConversationStore = (() => {
  const notFound = () => Object.assign(new Error("That conversation no longer exists."), { status: 404 });
  const iso = (at) => new Date(typeof at === "number" ? at : Date.parse(at) || Date.now()).toISOString();

  // Turns as chat.js keeps them; one kept while its answer was in flight shows as interrupted.
  function clean(saved) {
    if (!Array.isArray(saved)) return [];
    return saved
      .filter((t) => t && typeof t.text === "string" && typeof t.at === "string")
      .map((t) => {
        if (typeof t.reply !== "string" && !(t.error && typeof t.error.title === "string")) {
          t.error = { title: "Interrupted", detail: "The page was reloaded before the answer arrived." };
        }
        return t;
      });
  }

  // The first question cut at a word boundary to about 60 characters (the server's rule too).
  function titleOf(text) {
    const flat = text.replace(/\s+/g, " ").trim();
    if (flat.length <= 60) return flat || "New chat";
    const cut = flat.slice(0, 61).replace(/\s+\S*$/, "");
    return `${(cut.length >= 20 ? cut : flat.slice(0, 60)).trimEnd()}…`;
  }

  // The server's Content-Disposition filename, or one made from the title.
  function fileName(title, disposition) {
    const star = /filename\*=UTF-8''([^;]+)/i.exec(disposition || "");
    const plain = /filename="([^"]+)"/i.exec(disposition || "");
    try {
      if (star) return decodeURIComponent(star[1]);
    } catch {
      // fall through
    }
    if (plain) return plain[1];
    return `${title.replace(/[^\p{L}\p{N} _-]+/gu, "").replace(/\s+/g, " ").trim().slice(0, 60) || "conversation"}.md`;
  }

  function server(auth, errorOf) {
    async function call(path, init = {}) {
      const res = await auth.authorizedFetch(path, { cache: "no-store", credentials: "same-origin", ...init, headers: { Accept: "application/json", ...init.headers } });
      if (res.ok) return res;
      const data = await res.json().catch(() => null);
      const message = data && typeof data.message === "string" ? data.message.slice(0, 300) : `The server answered with status ${res.status}.`;
      throw Object.assign(new Error(message), { status: res.status });
    }
    const json = async (path, init) => (await call(path, init)).json();
    const at = (id) => `conversations/${encodeURIComponent(id)}`;

    // Messages (oldest first) to turns: each answer follows its question.
    function turnsOf(messages) {
      const turns = [];
      for (const m of messages) {
        const last = turns[turns.length - 1];
        if (m.role === "user") turns.push({ text: String(m.content ?? ""), at: iso(m.at) });
        else if (last && m.role === "assistant" && !last.replyAt) {
          last.replyAt = iso(m.at);
          if (m.status === "failed") {
            const e = m.error || {};
            last.error = errorOf(Number(e.status) || 500, { message: e.message, reason: e.reason });
          } else {
            last.reply = String(m.content ?? "");
            if (m.status === "stopped") last.stopped = true;
          }
        }
      }
      return clean(turns);
    }

    return {
      kind: "server",
      list: (cursor, limit) => json(`conversations?limit=${limit}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`),
      // The whole history: follows the messages' cursor to the end.
      async open(id) {
        const limit = Number(document.documentElement.dataset.messagePage) || 200; // tests: a few
        let page = await json(`${at(id)}?limit=${limit}`);
        const messages = [...page.messages];
        for (let i = 0; page.next && i < 1000; i++) {
          page = await json(`${at(id)}?limit=${limit}&cursor=${encodeURIComponent(page.next)}`);
          messages.push(...page.messages);
        }
        return { id, title: page.title, turns: turnsOf(messages) };
      },
      rename: (id, title) => json(at(id), { method: "PATCH", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ title }) }),
      // A large delete answers 202 part-way: send DELETE again until it is done.
      async remove(id) {
        for (let i = 0; i < 50; i++) if ((await call(at(id), { method: "DELETE" })).status !== 202) return;
        throw new Error("The delete did not finish; try again.");
      },
      async file(id, title) {
        const res = await call(`${at(id)}/export`, { headers: { Accept: "text/markdown" } });
        return { name: fileName(title, res.headers.get("Content-Disposition")), blob: await res.blob() };
      },
    };
  }

  function local(scope) {
    const suffix = scope ? `:${scope}` : "";
    const INDEX = `falcon-chat:conversations:v1${suffix}`;
    const itemKey = (id) => `falcon-chat:conversation:v1${suffix}:${id}`;
    const read = (key) => {
      try {
        return JSON.parse(localStorage.getItem(key) || "null");
      } catch {
        return null;
      }
    };
    const write = (key, value) => localStorage.setItem(key, JSON.stringify(value)); // throws when full
    const index = () => (Array.isArray(read(INDEX)) ? read(INDEX) : []).filter((c) => c && typeof c.id === "string" && typeof c.title === "string" && typeof c.updatedAt === "string");
    const find = (id) => index().find((c) => c.id === id) || null;
    const update = (summary) => write(INDEX, [summary, ...index().filter((c) => c.id !== summary.id)]);
    const newId = () => btoa(String.fromCharCode(...crypto.getRandomValues(new Uint8Array(16)))).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
    const answered = (t) => typeof t.reply === "string" || t.error;

    return {
      kind: "local",
      async list(cursor, limit) {
        const all = index().sort((a, b) => b.updatedAt.localeCompare(a.updatedAt));
        const start = Number(cursor) || 0;
        return { conversations: all.slice(start, start + limit), next: start + limit < all.length ? String(start + limit) : null };
      },
      async open(id) {
        const summary = find(id);
        if (!summary) throw notFound();
        return { id, title: summary.title, turns: clean(read(itemKey(id))) };
      },
      keep(id, turns) {
        const old = (id && find(id)) || null;
        const now = new Date().toISOString();
        const summary = {
          id: old ? old.id : newId(),
          title: old ? old.title : titleOf(turns[0].text),
          createdAt: old ? old.createdAt : now,
          updatedAt: now,
          messageCount: turns.reduce((n, t) => n + (answered(t) ? 2 : 1), 0),
        };
        write(itemKey(summary.id), turns);
        update(summary);
        return summary;
      },
      async rename(id, title) {
        const summary = find(id);
        if (!summary) throw notFound();
        update({ ...summary, title });
        return { ...summary, title };
      },
      async remove(id) {
        localStorage.removeItem(itemKey(id));
        write(INDEX, index().filter((c) => c.id !== id));
      },
      // The server's Markdown shape (lambda-chat/conversations/export.py): title and questions
      // escaped so they show as typed; answers keep their Markdown, without raw HTML.
      async file(id) {
        const { title, turns } = await this.open(id);
        const text = (v) => v.split(/\r?\n/).map((l) => l.replace(/[\\`*_{}[\]()<>#+\-.!|~&"'=:]/g, "\\$&")).join("  \n");
        const withoutHtml = (md) => {
          let fence = null; // `<` and `&` escaped outside fenced code
          return md.split("\n").map((l) => {
            const f = /^\s{0,3}(`{3,}|~{3,})/.exec(l);
            if (f && (!fence || f[1][0] === fence)) fence = fence ? null : f[1][0];
            else if (!fence) return l.replace(/&/g, "&amp;").replace(/</g, "&lt;");
            return l;
          }).join("\n");
        };
        const when = (at) => `${at.slice(0, 19).replace("T", " ")} UTC`;
        const parts = [`# ${text(title)}`];
        for (const t of turns) {
          parts.push("", `## You · ${when(t.at)}`, "", text(t.text), "", `## Falcon · ${when(t.replyAt || t.at)}`, "");
          if (t.error) parts.push(`*No answer: ${text(t.error.detail)}*`);
          else parts.push(withoutHtml(t.reply), ...(t.stopped ? ["", "*(stopped)*"] : []));
        }
        return { name: fileName(title), blob: new Blob([`${parts.join("\n")}\n`], { type: "text/markdown;charset=utf-8" }) };
      },
      // Another tab changed the list.
      watch: (fn) => addEventListener("storage", (e) => e.key === INDEX && fn()),
    };
  }

  return { server, local, clean };
})();
