// Falcon chat: the sidebar of conversations. Newest first, more loaded as the list scrolls;
// open one (its whole history), rename it in place, delete it (after a confirmation), export
// it as Markdown; a drawer on narrow screens. Kept by the server when signed in with saved
// conversations on, else in this browser (conversation-store.js). Everything from a store
// is inserted as text. chat.js uses window.falconConversations (docs/page.md "Conversations");
// the drawer is drawer.js's.
"use strict";
window.falconConversations = (() => {
  const OPEN_KEY = "falcon-chat:open"; // sessionStorage: this tab's open conversation (an id, no text)
  const ID = /^[A-Za-z0-9_-]{22}$/;
  const stores = window.falconConversationStore;
  const auth = window.falconSignIn;
  const $ = (id) => document.getElementById(id);
  const nav = $("sidebar");
  const list = $("conversation-list");
  const scroller = $("conversation-scroll");
  const end = $("list-end");
  const status = $("sidebar-status");
  const toggle = $("sidebar-toggle");
  const closeDrawer = window.falconDrawer.close;

  let chat = null; // chat.js: { replace(turns), input }
  let store = null; // null while nobody is signed in
  let storeKey = "";
  let openId = null;
  let items = [];
  let next = null;
  let loading = false;
  let generation = 0; // a list reset makes earlier pages' answers stale
  let editing = null; // id being renamed
  let confirming = null; // id whose delete waits for confirmation

  try {
    openId = ID.test(sessionStorage.getItem(OPEN_KEY)) ? sessionStorage.getItem(OPEN_KEY) : null;
  } catch {
    // storage off
  }
  const setOpen = (id) => {
    openId = id;
    try {
      if (id) sessionStorage.setItem(OPEN_KEY, id);
      else sessionStorage.removeItem(OPEN_KEY);
    } catch {
      // storage off: a reload starts a new chat
    }
  };
  const say = (text) => (status.textContent = text);
  const pageSize = () => Number(document.documentElement.dataset.conversationPage) || 30;

  function el(tag, className, text) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined) node.textContent = text;
    return node;
  }

  function button(text, label, onClick, className = "ghost small") {
    const b = el("button", className, text);
    b.type = "button";
    if (label) b.setAttribute("aria-label", label);
    b.addEventListener("click", onClick);
    return b;
  }

  function when(iso) {
    const t = el("time", "conv-time");
    t.dateTime = iso;
    const d = new Date(iso);
    t.textContent = d.toDateString() === new Date().toDateString() ? d.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" }) : d.toLocaleDateString();
    return t;
  }

  function item(c) {
    const li = el("li", "conv");
    li.dataset.id = c.id;
    const current = c.id === openId;
    if (editing === c.id) {
      li.append(renameField(c));
      return li;
    }
    const opener = button("", null, () => open(c.id), "conv-open");
    opener.append(el("span", "conv-title", c.title), when(c.updatedAt));
    if (current) opener.setAttribute("aria-current", "true");
    li.append(opener);
    if (confirming === c.id) {
      const box = el("div", "conv-confirm");
      box.setAttribute("role", "group");
      box.setAttribute("aria-label", "Confirm delete");
      box.addEventListener("keydown", (e) => e.key === "Escape" && (e.stopPropagation(), cancel(c.id)));
      box.append(el("p", "", `Delete “${c.title}”? This cannot be undone.`), button("Delete", null, () => remove(c), "danger small"), button("Cancel", null, () => cancel(c.id)));
      li.append(box);
    } else if (current) {
      const actions = el("div", "conv-actions");
      actions.append(
        button("Rename", `Rename “${c.title}”`, () => startRename(c.id)),
        button("Export", `Export “${c.title}” as Markdown`, () => exportFile(c)),
        button("Delete", `Delete “${c.title}”`, () => ask(c.id)),
      );
      li.append(actions);
    }
    return li;
  }

  function renameField(c) {
    const field = el("input", "conv-rename");
    Object.assign(field, { type: "text", value: c.title, maxLength: 100 });
    field.setAttribute("aria-label", "Conversation title (Enter saves, Escape cancels)");
    let saving = false;
    field.addEventListener("keydown", async (event) => {
      if (event.key === "Escape") {
        event.preventDefault();
        event.stopPropagation(); // not the drawer's Escape
        cancel(c.id);
      } else if (event.key === "Enter" && !saving) {
        event.preventDefault();
        const title = field.value.trim();
        if (!title || title.length > 100) return say("A title needs 1 to 100 characters.");
        saving = true;
        try {
          const renamed = await store.rename(c.id, title);
          items = items.map((x) => (x.id === c.id ? { ...x, title: renamed.title ?? title } : x));
          say("Renamed.");
        } catch (error) {
          say(`Could not rename: ${error.message}`);
        }
        cancel(c.id);
      }
    });
    field.addEventListener("blur", () => !saving && editing === c.id && cancel(c.id, false));
    return field;
  }

  // Redraws the list, keeping focus on the same conversation's control.
  function render(focusId, selector = ".conv-open") {
    list.replaceChildren(...items.map(item));
    if (!items.length && !loading && !next) say("No conversations yet.");
    else if (status.textContent === "No conversations yet.") say("");
    const target = focusId && list.querySelector(`[data-id="${focusId}"] ${selector}`);
    if (target) target.focus();
    if (target && selector === ".conv-rename") target.select();
  }

  const startRename = (id) => ((editing = id), (confirming = null), render(id, ".conv-rename"));
  const ask = (id) => ((confirming = id), render(id, ".conv-confirm .ghost"));
  function cancel(id, refocus = true) {
    editing = confirming = null;
    render(refocus ? id : null);
  }

  async function loadMore() {
    if (!store || loading || (items.length && !next)) return;
    loading = true;
    const mine = generation;
    try {
      const page = await store.list(next, pageSize());
      if (mine !== generation) return;
      const known = new Set(items.map((c) => c.id));
      items.push(...page.conversations.filter((c) => c && ID.test(c.id) && !known.has(c.id)));
      next = typeof page.next === "string" && page.next ? page.next : null;
      if (status.textContent.startsWith("Could not load")) say("");
    } catch (error) {
      if (mine === generation) say(`Could not load the conversations: ${error.message}`);
      next = null;
    } finally {
      if (mine === generation) {
        loading = false;
        render();
        // Still in view (a short page): the observer only calls on a change, so look again.
        if (next) observer.unobserve(end), observer.observe(end);
      }
    }
  }
  const observer = new IntersectionObserver((entries) => entries.some((e) => e.isIntersecting) && loadMore(), { root: scroller, rootMargin: "80px" });
  observer.observe(end);

  function reload() {
    generation++;
    items = [];
    next = null;
    loading = false;
    render();
    loadMore();
  }

  // `quiet`: the reloaded tab's own conversation, read again (focus stays where it is).
  async function open(id, quiet = false) {
    if (id === openId && !quiet) return closeDrawer(chat.input);
    say("Opening…");
    try {
      const found = await store.open(id);
      setOpen(id);
      chat.replace(found.turns);
      say("");
      render();
      closeDrawer(quiet ? null : chat.input);
    } catch (error) {
      if (error.status === 404) {
        items = items.filter((c) => c.id !== id);
        if (id === openId) setOpen(null), chat.replace([]); // gone, or not this person's: a new chat
        render();
      }
      say(error.status === 404 ? "That conversation no longer exists." : `Could not open it: ${error.message}`);
    }
  }

  async function remove(c) {
    say("Deleting…");
    try {
      await store.remove(c.id);
      items = items.filter((x) => x.id !== c.id);
      confirming = null;
      if (openId === c.id) {
        setOpen(null);
        chat.replace([]);
      }
      render();
      say(`Deleted “${c.title}”.`);
      closeDrawer(chat.input);
    } catch (error) {
      cancel(c.id);
      say(`Could not delete: ${error.message}`);
    }
  }

  async function exportFile(c) {
    try {
      const { name, blob } = await store.file(c.id, c.title);
      const link = el("a");
      link.href = URL.createObjectURL(blob);
      link.download = name;
      document.body.append(link);
      link.click();
      link.remove();
      setTimeout(() => URL.revokeObjectURL(link.href), 10000);
      say(`Exported “${name}”.`);
    } catch (error) {
      say(`Could not export: ${error.message}`);
    }
  }

  // Which store, from the sign-in state: the server's with saved conversations on, else this browser's.
  function signInState(state) {
    const signedIn = state.mode === "signed-in";
    const server = signedIn && auth.conversations();
    const key = state.mode === "none" ? "local:" : signedIn ? (server ? "server" : `local:${auth.email()}`) : "";
    if (key === storeKey) return;
    storeKey = key;
    store = !key ? null : server ? stores.server(auth, window.falconAnswers.errorOf) : stores.local(key.slice(6));
    if (store && store.watch) store.watch(reload);
    nav.hidden = toggle.hidden = !store;
    $("intro").textContent = `Ask the Falcon model anything. ${server ? "Your conversations are saved to your account." : "Your conversations are kept in this browser only."}`;
    say("");
    reload();
    // Reloaded: the server has the open conversation's messages.
    if (server && openId) open(openId, true);
  }

  // chat.js keeps the open conversation's turns; in this browser they go to its store too.
  function keep(turns) {
    if (!store || store.kind !== "local" || !turns.length) return;
    try {
      const summary = store.keep(openId, turns);
      if (summary.id !== openId) setOpen(summary.id);
      items = [summary, ...items.filter((c) => c.id !== summary.id)];
      render();
    } catch {
      say("This browser's storage is full: the conversation is not kept. Delete old ones to make room.");
    }
  }

  // The request for one answer: with the server, the conversation's id instead of its history.
  function body(base, retry) {
    if (!store || store.kind !== "server") return base;
    return openId ? { text: base.text, conversationId: openId, ...(retry ? { retry: true } : {}) } : { text: base.text };
  }

  // An answer ended: a new conversation's id, or the open one moves to the top.
  function answered(outcome) {
    if (!store || store.kind !== "server") return;
    if (outcome.saved === false) say("This answer could not be saved.");
    const id = outcome.conversationId;
    if (typeof id !== "string" || !ID.test(id)) return;
    if (id !== openId) {
      setOpen(id);
      return reload();
    }
    const c = items.find((x) => x.id === id);
    if (c) items = [{ ...c, updatedAt: new Date().toISOString() }, ...items.filter((x) => x !== c)];
    render();
  }

  function reset() {
    setOpen(null);
    editing = confirming = null;
    render();
  }

  return { attach: (api) => (chat = api), signInState, keep, body, answered, reset, clean: stores.clean };
})();
