/**
 * A local stand-in for Cognito's hosted sign-in and OAuth endpoints, on an origin of its
 * own (another port, so the page's CORS and CSP are exercised as against
 * https://<prefix>.auth.<region>.amazoncognito.com). Same paths, parameters, token shapes
 * and error bodies as Cognito's (DESIGN.md "Sign-in"):
 *
 *   GET  /oauth2/authorize  code grant with PKCE (S256 only); signs in silently while the
 *                           session cookie lives, else shows the form ("Email", "Password",
 *                           "Sign in"; a wrong password stays on the form with an error)
 *   POST /login             the form
 *   POST /oauth2/token      authorization_code (+ code_verifier) and refresh_token grants
 *   POST /oauth2/revoke     revokes a refresh token (and the tokens issued with it)
 *   GET  /logout            ends the session, back to an allowed logout_uri
 *   GET  /<pool>/.well-known/jwks.json
 *
 * Tokens are RS256 JWTs signed with a key made at start-up. `verifyIdToken` checks what
 * API Gateway's Cognito authorizer checks (signature, issuer, audience, token_use, expiry).
 */
import { createHash, generateKeyPairSync, randomBytes, randomUUID, sign, verify, type KeyObject } from "node:crypto";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { readBody, send, sendJson } from "./http";
import type { Log } from "./processes";

export interface StandInUser {
  email: string;
  password: string;
  groups?: string[];
}

export interface CognitoStandInOptions {
  users: StandInUser[];
  /** Exact URLs the client may return to after sign-in and sign-out. */
  redirectUris: string[];
  /** ID and access token lifetime. @default 3600 */
  tokenLifetimeSeconds?: number;
  log: Log;
}

export interface IdClaims {
  sub: string;
  email: string;
  "cognito:groups"?: string[];
  exp: number;
  [claim: string]: unknown;
}

const REGION = "ap-northeast-2";
export const POOL_ID = `${REGION}_devPool01`;
export const CLIENT_ID = "devpageclient0000000000000";
const KID = "dev-key-1";
const CODE_TTL_MS = 5 * 60_000; // Cognito: authorization codes are valid for 5 minutes
const SESSION_COOKIE = "cognito";

const b64url = (data: Buffer | string) => Buffer.from(data).toString("base64url");

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

export class CognitoStandIn {
  readonly clientId = CLIENT_ID;
  readonly poolId = POOL_ID;
  private readonly server: http.Server;
  private readonly privateKey: KeyObject;
  private readonly publicKey: KeyObject;
  private readonly users = new Map<string, { password: string; sub: string; groups: string[] }>();
  private readonly codes = new Map<string, { sub: string; redirectUri: string; challenge: string; expires: number }>();
  private readonly refreshTokens = new Map<string, { sub: string; revoked: boolean }>();
  private readonly sessions = new Map<string, string>(); // cookie -> sub
  tokenLifetimeSeconds: number;
  url = "";

  constructor(private readonly options: CognitoStandInOptions) {
    ({ privateKey: this.privateKey, publicKey: this.publicKey } = generateKeyPairSync("rsa", { modulusLength: 2048 }));
    for (const user of options.users) this.addUser(user);
    this.tokenLifetimeSeconds = options.tokenLifetimeSeconds ?? 3600;
    this.server = http.createServer((req, res) => {
      this.handle(req, res).catch((error: Error) => {
        options.log(`[cognito] ${req.method} ${req.url}: ${error.stack ?? error}`);
        if (!res.headersSent) sendJson(res, 500, { error: "internal_error" });
      });
    });
  }

  get issuer(): string {
    return `${this.url}/${POOL_ID}`;
  }

  addUser(user: StandInUser): void {
    this.users.set(user.email.toLowerCase(), { password: user.password, sub: randomUUID(), groups: user.groups ?? [] });
  }

  async start(): Promise<string> {
    await new Promise<void>((resolve, reject) => {
      this.server.once("error", reject);
      this.server.listen(0, "127.0.0.1", resolve);
    });
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
    return this.url;
  }

  close(): Promise<void> {
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    this.server.closeAllConnections();
    return closed;
  }

  /** The claims of a valid ID token of this pool and client, or null (what API Gateway's authorizer accepts). */
  verifyIdToken(token: string | undefined): IdClaims | null {
    const raw = token?.replace(/^Bearer\s+/i, "").trim();
    const parts = raw?.split(".");
    if (!parts || parts.length !== 3) return null;
    try {
      const header = JSON.parse(Buffer.from(parts[0], "base64url").toString());
      if (header.alg !== "RS256" || header.kid !== KID) return null;
      const ok = verify("RSA-SHA256", Buffer.from(`${parts[0]}.${parts[1]}`), this.publicKey, Buffer.from(parts[2], "base64url"));
      if (!ok) return null;
      const claims = JSON.parse(Buffer.from(parts[1], "base64url").toString());
      const valid = claims.iss === this.issuer && claims.aud === CLIENT_ID && claims.token_use === "id" && typeof claims.exp === "number" && claims.exp * 1000 > Date.now();
      return valid ? (claims as IdClaims) : null;
    } catch {
      return null;
    }
  }

  private jwt(claims: Record<string, unknown>): string {
    const head = b64url(JSON.stringify({ kid: KID, alg: "RS256" }));
    const body = b64url(JSON.stringify(claims));
    return `${head}.${body}.${b64url(sign("RSA-SHA256", Buffer.from(`${head}.${body}`), this.privateKey))}`;
  }

  private tokensFor(sub: string, withRefresh: boolean): Record<string, unknown> {
    const [email, user] = [...this.users.entries()].find(([, u]) => u.sub === sub)!;
    const now = Math.floor(Date.now() / 1000);
    const exp = now + this.tokenLifetimeSeconds;
    const common = { sub, iss: this.issuer, auth_time: now, iat: now, exp, jti: randomUUID(), origin_jti: randomUUID() };
    const groups = user.groups.length ? { "cognito:groups": user.groups } : {};
    const idToken = this.jwt({ ...common, ...groups, aud: CLIENT_ID, token_use: "id", email, email_verified: true, "cognito:username": sub, at_hash: b64url(randomBytes(16)) });
    const accessToken = this.jwt({ ...common, ...groups, client_id: CLIENT_ID, token_use: "access", scope: "openid email", username: sub });
    const tokens: Record<string, unknown> = { id_token: idToken, access_token: accessToken, expires_in: this.tokenLifetimeSeconds, token_type: "Bearer" };
    if (withRefresh) {
      const refresh = b64url(randomBytes(48));
      this.refreshTokens.set(refresh, { sub, revoked: false });
      tokens.refresh_token = refresh;
    }
    return tokens;
  }

  private cors(req: http.IncomingMessage): Record<string, string> {
    // Cognito's token and revoke endpoints answer CORS requests from any origin.
    return { "Access-Control-Allow-Origin": String(req.headers.origin ?? "*"), "Access-Control-Allow-Headers": "Content-Type, Authorization", "Access-Control-Allow-Methods": "POST" };
  }

  private sessionOf(req: http.IncomingMessage): string | undefined {
    const cookie = String(req.headers.cookie ?? "").split(/;\s*/).find((c) => c.startsWith(`${SESSION_COOKIE}=`));
    return cookie ? this.sessions.get(cookie.slice(SESSION_COOKIE.length + 1)) : undefined;
  }

  private redirect(res: http.ServerResponse, location: string, headers: Record<string, string> = {}): void {
    res.writeHead(302, { Location: location, "Cache-Control": "no-store", ...headers });
    res.end();
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const url = new URL(req.url ?? "/", this.url);
    const path = url.pathname;
    if (req.method === "OPTIONS") {
      res.writeHead(204, this.cors(req));
      res.end();
    } else if (path === `/${POOL_ID}/.well-known/jwks.json`) {
      sendJson(res, 200, { keys: [{ ...this.publicKey.export({ format: "jwk" }), kid: KID, alg: "RS256", use: "sig" }] });
    } else if (path === "/oauth2/authorize" && req.method === "GET") {
      this.authorize(url.searchParams, req, res);
    } else if (path === "/login" && req.method === "POST") {
      const form = new URLSearchParams((await readBody(req, 16_384))?.toString("utf8") ?? "");
      const user = this.users.get((form.get("username") ?? "").trim().toLowerCase());
      if (!user || user.password !== form.get("password")) {
        this.options.log("[cognito] sign-in refused: incorrect username or password");
        this.form(res, form, "Incorrect username or password.");
        return;
      }
      const cookie = b64url(randomBytes(24));
      this.sessions.set(cookie, user.sub);
      this.issueCode(form, user.sub, res, { "Set-Cookie": `${SESSION_COOKIE}=${cookie}; Path=/; HttpOnly; SameSite=Lax` });
    } else if (path === "/oauth2/token" && req.method === "POST") {
      this.token(new URLSearchParams((await readBody(req, 16_384))?.toString("utf8") ?? ""), req, res);
    } else if (path === "/oauth2/revoke" && req.method === "POST") {
      const form = new URLSearchParams((await readBody(req, 16_384))?.toString("utf8") ?? "");
      if (form.get("client_id") !== CLIENT_ID) return sendJson(res, 400, { error: "invalid_client" }, this.cors(req));
      const refresh = this.refreshTokens.get(form.get("token") ?? "");
      if (refresh) refresh.revoked = true;
      send(res, 200, "", "application/json", this.cors(req));
    } else if (path === "/logout" && req.method === "GET") {
      const logoutUri = url.searchParams.get("logout_uri") ?? "";
      if (url.searchParams.get("client_id") !== CLIENT_ID || !this.options.redirectUris.includes(logoutUri)) {
        send(res, 400, "Required String parameter 'redirect_uri' is not present\n", "text/plain; charset=utf-8");
        return;
      }
      const cookie = String(req.headers.cookie ?? "").split(/;\s*/).find((c) => c.startsWith(`${SESSION_COOKIE}=`));
      if (cookie) this.sessions.delete(cookie.slice(SESSION_COOKIE.length + 1));
      this.redirect(res, logoutUri, { "Set-Cookie": `${SESSION_COOKIE}=; Path=/; Max-Age=0` });
    } else {
      sendJson(res, 404, { message: "Not Found" });
    }
  }

  private authorize(params: URLSearchParams, req: http.IncomingMessage, res: http.ServerResponse): void {
    const redirectUri = params.get("redirect_uri") ?? "";
    if (params.get("client_id") !== CLIENT_ID || !this.options.redirectUris.includes(redirectUri)) {
      send(res, 400, "redirect_mismatch\n", "text/plain; charset=utf-8"); // Cognito's error page, no redirect
      return;
    }
    const back = (error: string, description: string) => {
      const target = new URL(redirectUri);
      target.searchParams.set("error", error);
      target.searchParams.set("error_description", description);
      if (params.get("state")) target.searchParams.set("state", params.get("state")!);
      this.redirect(res, target.toString());
    };
    if (params.get("response_type") !== "code") return back("unsupported_response_type", "response_type must be code");
    if (params.get("code_challenge_method") !== "S256" || !params.get("code_challenge")) return back("invalid_request", "PKCE with S256 is required");
    const scopes = (params.get("scope") ?? "").split(/\s+/).filter(Boolean);
    if (scopes.some((s) => !["openid", "email"].includes(s))) return back("invalid_scope", "invalid_scope");
    const sub = this.sessionOf(req);
    if (sub) this.issueCode(params, sub, res); // the session cookie signs in silently, as Cognito's does
    else this.form(res, params);
  }

  private issueCode(params: URLSearchParams, sub: string, res: http.ServerResponse, headers: Record<string, string> = {}): void {
    const code = randomUUID();
    const redirectUri = params.get("redirect_uri") ?? "";
    this.codes.set(code, { sub, redirectUri, challenge: params.get("code_challenge") ?? "", expires: Date.now() + CODE_TTL_MS });
    const target = new URL(redirectUri);
    target.searchParams.set("code", code);
    if (params.get("state")) target.searchParams.set("state", params.get("state")!);
    this.redirect(res, target.toString(), headers);
  }

  private form(res: http.ServerResponse, params: URLSearchParams, error?: string): void {
    const hidden = ["client_id", "redirect_uri", "state", "code_challenge", "code_challenge_method", "scope", "response_type"]
      .map((name) => `<input type="hidden" name="${name}" value="${escapeHtml(params.get(name) ?? "")}">`)
      .join("");
    const cancel = new URL(params.get("redirect_uri") ?? "http://invalid/");
    cancel.searchParams.set("error", "access_denied");
    cancel.searchParams.set("error_description", "The user denied the request");
    if (params.get("state")) cancel.searchParams.set("state", params.get("state")!);
    send(res, 200, `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Sign in</title></head><body>
<h1>Sign in (local Cognito stand-in)</h1>
${error ? `<p role="alert" id="loginErrorMessage">${escapeHtml(error)}</p>` : ""}
<form method="post" action="/login">${hidden}
<p><label for="username">Email</label> <input id="username" name="username" type="email" autocomplete="username" value="${escapeHtml(params.get("username") ?? "")}" required></p>
<p><label for="password">Password</label> <input id="password" name="password" type="password" autocomplete="current-password" required></p>
<p><button type="submit">Sign in</button> <a href="${escapeHtml(cancel.toString())}">Cancel</a></p>
</form></body></html>`, "text/html; charset=utf-8", { "Cache-Control": "no-store" });
  }

  private token(form: URLSearchParams, req: http.IncomingMessage, res: http.ServerResponse): void {
    const fail = (error: string) => sendJson(res, 400, { error }, this.cors(req));
    if (form.get("client_id") !== CLIENT_ID) return fail("invalid_client");
    const grant = form.get("grant_type");
    if (grant === "authorization_code") {
      const code = this.codes.get(form.get("code") ?? "");
      this.codes.delete(form.get("code") ?? ""); // single use
      if (!code || code.expires < Date.now() || code.redirectUri !== form.get("redirect_uri")) return fail("invalid_grant");
      const challenge = createHash("sha256").update(form.get("code_verifier") ?? "").digest("base64url");
      if (challenge !== code.challenge) return fail("invalid_grant");
      return sendJson(res, 200, this.tokensFor(code.sub, true), { ...this.cors(req), "Cache-Control": "no-store" });
    }
    if (grant === "refresh_token") {
      const refresh = this.refreshTokens.get(form.get("refresh_token") ?? "");
      if (!refresh || refresh.revoked) return fail("invalid_grant");
      return sendJson(res, 200, this.tokensFor(refresh.sub, false), { ...this.cors(req), "Cache-Control": "no-store" });
    }
    return fail("unsupported_grant_type");
  }
}
