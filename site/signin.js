// Falcon chat: signing in with Cognito's hosted page (authorization code + PKCE S256,
// WebCrypto; no third-party code). Used by answers.js and chat.js through
// window.falconSignIn. Tokens live in this closure only: never in the URL, never in
// storage (docs/page.md "Sign-in" argues why and what a reload does).
"use strict";
window.falconSignIn = (() => {
  const PENDING_KEY = "falcon-chat:sign-in"; // { state, verifier, at }: the redirect in flight (no token)
  const SESSION_KEY = "falcon-chat:signed-in"; // "1" while this tab is signed in (no token)
  const SIGNED_OUT_KEY = "falcon-chat:signed-out"; // "1" on the way back from Sign out
  const REFRESH_AHEAD_MS = 60000; // refresh a minute before the ID token expires
  const PENDING_MAX_MS = 10 * 60000;

  let config = null; // { auth, clientId, signInOrigin, redirectPath, conversations }
  let tokens = null; // { id, refresh, expiresAt (local clock), email }
  let refreshTimer = null;
  let refreshing = null;
  const listeners = new Set();

  const b64url = (bytes) => btoa(String.fromCharCode(...new Uint8Array(bytes))).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  const random = (n) => b64url(crypto.getRandomValues(new Uint8Array(n)));
  const redirectUri = () => `${location.origin}${config.redirectPath}`;

  function claimsOf(jwt) {
    try {
      const part = jwt.split(".")[1].replace(/-/g, "+").replace(/_/g, "/");
      return JSON.parse(decodeURIComponent(escape(atob(part))));
    } catch {
      return {};
    }
  }

  function emit(state) {
    for (const fn of listeners) fn(state);
  }

  function store(key, value) {
    try {
      if (value === null) sessionStorage.removeItem(key);
      else sessionStorage.setItem(key, value);
    } catch {
      // storage off: reloads then need the sign-in page again
    }
  }

  function read(key) {
    try {
      return sessionStorage.getItem(key);
    } catch {
      return null;
    }
  }

  // Expiry measured on this computer's clock from expires_in: a clock that is off by
  // minutes (skew) neither refreshes too late nor rejects a fresh token.
  function keep(reply, previous) {
    const email = claimsOf(reply.id_token).email || (previous && previous.email) || "";
    tokens = {
      id: reply.id_token,
      refresh: reply.refresh_token || (previous && previous.refresh),
      expiresAt: Date.now() + Number(reply.expires_in || 3600) * 1000,
      email,
    };
    store(SESSION_KEY, "1");
    clearTimeout(refreshTimer);
    tokens.ahead = Math.min(REFRESH_AHEAD_MS, (tokens.expiresAt - Date.now()) / 4); // short-lived tokens too
    refreshTimer = setTimeout(() => refresh().catch(() => undefined), tokens.expiresAt - Date.now() - tokens.ahead);
  }

  async function tokenRequest(params) {
    let res;
    try {
      res = await fetch(`${config.signInOrigin}/oauth2/token`, {
        method: "POST",
        headers: { "Content-Type": "application/x-www-form-urlencoded" },
        body: new URLSearchParams({ client_id: config.clientId, ...params }),
        cache: "no-store",
        credentials: "omit",
      });
    } catch {
      throw Object.assign(new Error("The sign-in service could not be reached. Check your connection."), { network: true });
    }
    const data = await res.json().catch(() => ({}));
    if (!res.ok || typeof data.id_token !== "string") {
      throw Object.assign(new Error(data.error === "invalid_grant" ? "Your session has ended." : `Sign-in failed (${data.error || res.status}).`), { code: data.error });
    }
    return data;
  }

  function ended(message) {
    tokens = null;
    clearTimeout(refreshTimer);
    store(SESSION_KEY, null);
    emit({ mode: "signed-out", message });
  }

  // One refresh at a time; a refused refresh token (revoked, expired) ends the session.
  function refresh() {
    if (!tokens || !tokens.refresh) return Promise.reject(new Error("not signed in"));
    refreshing ??= tokenRequest({ grant_type: "refresh_token", refresh_token: tokens.refresh })
      .then((reply) => {
        keep(reply, tokens);
        emit({ mode: "signed-in", email: tokens.email });
        return tokens.id;
      })
      .catch((error) => {
        if (!error.network) ended("Your session has ended. Sign in again to continue.");
        throw error;
      })
      .finally(() => (refreshing = null));
    return refreshing;
  }

  async function signIn() {
    const verifier = random(48);
    const challenge = b64url(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(verifier)));
    const state = random(24);
    store(PENDING_KEY, JSON.stringify({ state, verifier, at: Date.now() }));
    const url = new URL(`${config.signInOrigin}/oauth2/authorize`);
    for (const [k, v] of Object.entries({ response_type: "code", client_id: config.clientId, redirect_uri: redirectUri(), scope: "openid email", state, code_challenge: challenge, code_challenge_method: "S256" })) {
      url.searchParams.set(k, v);
    }
    location.assign(url.toString());
  }

  // Back from the sign-in page with ?code&state or ?error: the URL is cleaned at once.
  async function callback(params) {
    history.replaceState(null, "", location.pathname + location.hash);
    const pending = (() => {
      try {
        return JSON.parse(read(PENDING_KEY) || "null");
      } catch {
        return null;
      }
    })();
    store(PENDING_KEY, null);
    if (params.has("error")) {
      const denied = params.get("error") === "access_denied";
      return { mode: "signed-out", message: denied ? "Sign-in was cancelled." : `Sign-in failed: ${params.get("error_description") || params.get("error")}.` };
    }
    if (!pending || pending.state !== params.get("state") || Date.now() - pending.at > PENDING_MAX_MS) {
      return { mode: "signed-out", message: "That sign-in link is not from this tab or has expired. Sign in again." };
    }
    try {
      keep(await tokenRequest({ grant_type: "authorization_code", code: params.get("code"), redirect_uri: redirectUri(), code_verifier: pending.verifier }), null);
      return { mode: "signed-in", email: tokens.email };
    } catch (error) {
      return { mode: "signed-out", message: error.code === "invalid_grant" ? "That sign-in has already been used or expired. Sign in again." : error.message };
    }
  }

  // What the page is: { mode: "none" } (no sign-in), "signed-in" { email }, or "signed-out" { message? }.
  async function start() {
    // The stack adds this <meta> to chat.html only with sign-in; without it, the open page.
    const meta = document.querySelector('meta[name="falcon-sign-in"]');
    if (!meta) return { mode: "none" };
    try {
      const res = await fetch(meta.content, { cache: "no-cache", credentials: "same-origin" });
      config = res.ok ? await res.json() : null;
    } catch {
      config = null;
    }
    if (!config || config.auth !== "cognito" || !config.clientId || !config.signInOrigin) {
      config = null;
      return { mode: "none" };
    }
    const params = new URLSearchParams(location.search);
    if (params.has("code") || params.has("error")) return callback(params);
    // Reloaded while signed in: Cognito's own session cookie signs in again without the
    // form (a quick round trip), since no token was kept.
    if (read(SESSION_KEY) === "1") {
      await signIn();
      return { mode: "redirecting" };
    }
    if (read(SIGNED_OUT_KEY) === "1") {
      store(SIGNED_OUT_KEY, null);
      return { mode: "signed-out", message: "You have signed out." };
    }
    return { mode: "signed-out" };
  }

  // Revokes the refresh token (and the tokens issued with it), then ends Cognito's session.
  async function signOut() {
    const refreshToken = tokens && tokens.refresh;
    tokens = null;
    clearTimeout(refreshTimer);
    store(SESSION_KEY, null);
    store(SIGNED_OUT_KEY, "1");
    if (refreshToken) {
      await fetch(`${config.signInOrigin}/oauth2/revoke`, {
        method: "POST",
        headers: { "Content-Type": "application/x-www-form-urlencoded" },
        body: new URLSearchParams({ token: refreshToken, client_id: config.clientId }),
        credentials: "omit",
      }).catch(() => undefined);
    }
    const url = new URL(`${config.signInOrigin}/logout`);
    url.searchParams.set("client_id", config.clientId);
    url.searchParams.set("logout_uri", redirectUri());
    location.assign(url.toString());
  }

  // The ID token for a request, refreshed first when it is about to expire.
  async function idToken() {
    if (!tokens) throw new Error("not signed in");
    if (Date.now() >= tokens.expiresAt - tokens.ahead) return refresh();
    return tokens.id;
  }

  // fetch() with the ID token; a 401 (expired early, revoked, the server's clock ahead)
  // gets one refresh and one retry.
  async function authorizedFetch(url, init = {}) {
    const attempt = async (token) => fetch(url, { ...init, headers: { ...(init.headers || {}), Authorization: token } });
    const res = await attempt(await idToken());
    if (res.status !== 401) return res;
    return attempt(await refresh());
  }

  // A single-use ticket for the WebSocket handshake (sent as a subprotocol, never in the URL).
  async function ticket() {
    const res = await authorizedFetch("chat/ticket", { method: "POST", headers: { "Content-Type": "application/json" }, body: "{}", cache: "no-store" });
    const data = await res.json().catch(() => ({}));
    if (!res.ok || typeof data.ticket !== "string") throw new Error(`no ticket (${res.status})`);
    return data.ticket;
  }

  return {
    start,
    signIn,
    signOut,
    idToken,
    refresh,
    authorizedFetch,
    ticket,
    active: () => config !== null && tokens !== null,
    enabled: () => config !== null,
    conversations: () => config !== null && config.conversations === true, // saved by the server
    email: () => (tokens ? tokens.email : ""),
    ended,
    onChange: (fn) => listeners.add(fn),
  };
})();
