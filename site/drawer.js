// Falcon chat: the conversations sidebar as a drawer on narrow screens (chat-style.css shows
// it beside the chat from 721 px). The toggle says whether it is open (aria-expanded); while
// it is, focus is inside it and the rest of the page is inert; Escape, Close, the backdrop or
// choosing a conversation close it, and focus goes back to the toggle (or where the choice
// leads). Used by conversations.js through window.falconDrawer.
"use strict";
window.falconDrawer = (() => {
  const $ = (id) => document.getElementById(id);
  const app = $("app");
  const toggle = $("sidebar-toggle");
  const isOpen = () => app.classList.contains("drawer-open");
  const inert = (on) => app.querySelectorAll(".bar, .chat").forEach((part) => (part.inert = on));

  function open() {
    app.classList.add("drawer-open");
    toggle.setAttribute("aria-expanded", "true");
    inert(true);
    const list = $("conversation-list");
    (list.querySelector('[aria-current="true"]') || list.querySelector(".conv-open") || $("sidebar-close")).focus();
  }

  // Focus goes to `focus` (back to the toggle only from an open drawer; null: nowhere).
  function close(focus = toggle) {
    const was = isOpen();
    app.classList.remove("drawer-open");
    toggle.setAttribute("aria-expanded", "false");
    inert(false);
    if (focus && (was || focus !== toggle)) focus.focus();
  }

  toggle.addEventListener("click", () => (isOpen() ? close() : open()));
  $("sidebar-close").addEventListener("click", () => close());
  $("sidebar").addEventListener("keydown", (e) => e.key === "Escape" && isOpen() && (e.preventDefault(), close()));
  app.addEventListener("click", (e) => e.target === app && close()); // the backdrop (.app::after)
  matchMedia("(max-width: 720px)").addEventListener("change", () => close(null));
  return { close };
})();
