import type { Authenticate } from "../auth/authenticate.ts";
import { GatewayError, isGatewayError } from "../errors.ts";
import { readApiBody } from "../http/api-body.ts";
import { json } from "../http/responses.ts";
import { hashSecretSync, newSecret } from "../tokens/secret.ts";
import type { Audit, AuthContext, Route, TokenStore } from "../types.ts";
import { consoleApp } from "./client.ts";
import { LOGIN_COOKIE, readCookie, sessionCookieName, setCookie } from "./cookie.ts";
import { appPage, signInPage } from "./page.ts";
import { consoleHeaders } from "./security-headers.ts";
import { csrfFor, type ConsoleSessions } from "./sessions.ts";
import { CONSOLE_CSS } from "./styles.ts";

/** The store items kind of IdP sign-ins in progress (keyed by the hash of their `state`). */
const LOGIN_KIND = "console-login";
const LOGIN_TTL_MS = 10 * 60_000;
const CLIENT_NAME = "Portcullis console";

/** What the console routes need from the gateway. */
export interface ConsoleRouteOptions {
  sessions: ConsoleSessions;
  /** The gateway's own authentication of the `/v1` API (every strategy, the admin token, audited). */
  authenticate: Authenticate;
  /** Sends a request through the gateway itself: the console is a client of the gateway's own OAuth endpoints. */
  self(request: Request): Promise<Response>;
  /** Whether the gateway is an OAuth server signing users in at an IdP (`/oauth/authorize` is served). */
  oauth(): boolean;
  store: Pick<TokenStore, "getItem" | "putItem" | "takeItem">;
  audit: Audit;
  publicUrl?: string;
  idleMs: number;
  absoluteMs: number;
  bodyTimeoutMs: number;
}

interface PendingLogin {
  codeVerifier: string;
  clientId: string;
  redirectUri: string;
  expiresAt: number;
}

const SCRIPT = `(${consoleApp.toString()})();\n`;

function b64url(bytes: Uint8Array): string {
  let s = "";
  for (const b of bytes) s += String.fromCharCode(b);
  return btoa(s).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

async function pkceChallenge(verifier: string): Promise<string> {
  return b64url(new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(verifier))));
}

function redirect(location: string, cookies: string[] = []): Response {
  const headers = consoleHeaders("text/plain; charset=utf-8", { location });
  for (const c of cookies) headers.append("set-cookie", c);
  return new Response(null, { status: 303, headers });
}

/**
 * The console: `/console` (the page, its script and stylesheet, all from the gateway itself under a
 * strict CSP), sign-in with a pasted credential (`POST /console/sign-in`, JSON only) or through the IdP
 * when the gateway is an OAuth server (`/console/sign-in/idp` and `/console/callback`: the console is an
 * OAuth client of the gateway's own `/oauth/authorize` and `/oauth/token`, code + PKCE), and sign-out.
 * Everything else the page does goes through the public `/v1` API with the session cookie.
 *
 * @example
 * const routes = consoleRoutes({ sessions, authenticate, self: gateway.fetch, oauth: () => true, store, audit, idleMs, absoluteMs, bodyTimeoutMs });
 */
export function consoleRoutes(o: ConsoleRouteOptions): Route[] {
  const base = (url: URL): string => (o.publicUrl ?? url.origin).replace(/\/+$/, "");
  const secure = (url: URL): boolean => url.protocol === "https:" || (o.publicUrl?.startsWith("https:") ?? false);
  // One registration of the console as a public OAuth client per redirect URI, per process.
  const clients = new Map<string, Promise<string>>();

  const sessionCookie = (url: URL, value: string, maxAgeMs: number): string =>
    setCookie(sessionCookieName(secure(url)), value, { secure: secure(url), maxAge: maxAgeMs / 1000, sameSite: "Strict", path: "/" });

  async function currentSession(request: Request, url: URL): Promise<{ secret: string } | undefined> {
    const secret = readCookie(request, sessionCookieName(secure(url)));
    if (secret === undefined) return undefined;
    return (await o.sessions.lookup(secret)) ? { secret } : undefined;
  }

  async function page(request: Request, ctx: AuthContext): Promise<Response> {
    const current = await currentSession(request, ctx.url);
    const error = ctx.url.searchParams.get("error");
    const html = current ? appPage({ csrf: csrfFor(current.secret) }) : signInPage({ oauth: o.oauth(), error: error === null ? undefined : error.slice(0, 200) });
    return new Response(html, { headers: consoleHeaders("text/html; charset=utf-8") });
  }

  async function startSession(request: Request, url: URL, identity: Parameters<ConsoleSessions["create"]>[0], method: "token" | "oauth", credential: string | undefined, endsAt?: number): Promise<string> {
    const { record, secret } = await o.sessions.create(identity, { method, credential, endsAt, userAgent: request.headers.get("user-agent") ?? undefined });
    return sessionCookie(url, secret, record.expiresAt - Date.now());
  }

  async function signInWithToken(request: Request, ctx: AuthContext): Promise<Response> {
    // JSON only: a cross-site form cannot send it, so nobody can sign a visitor in as someone else.
    const type = request.headers.get("content-type") ?? "";
    if (!/^application\/json\s*(;|$)/i.test(type)) throw new GatewayError("ERR_UNSUPPORTED_MEDIA_TYPE", "Content-Type must be application/json");
    const body = await readApiBody(request, o.bodyTimeoutMs) as { token?: unknown };
    if (typeof body !== "object" || body === null || typeof body.token !== "string" || body.token.trim() === "" || body.token.length > 16384) {
      throw new GatewayError("ERR_BAD_REQUEST", "token: expected the admin or user token to sign in with");
    }
    // The pasted credential is judged exactly as the `/v1` API judges it, audited, and then forgotten.
    const probe = new Request(new URL("/v1/auth/whoami", ctx.url), { headers: { authorization: `Bearer ${body.token.trim()}` } });
    let identity;
    try {
      identity = await o.authenticate(probe, { url: new URL(probe.url), info: ctx.info }, "other");
    } catch (err) {
      o.audit.emit({ type: "console", action: "sign_in_failed", method: "token", reason: isGatewayError(err) ? err.code : "error" });
      throw err;
    }
    if (identity.strategy === "console-session") throw new GatewayError("ERR_INVALID_CREDENTIAL", "sign in with a token, not a console session");
    const cookie = await startSession(request, ctx.url, identity, "token", identity.tokenId);
    return json({ ok: true, user: identity.subject }, 200, { "set-cookie": cookie, "cache-control": "no-store" });
  }

  async function clientId(redirectUri: string): Promise<string> {
    let p = clients.get(redirectUri);
    if (!p) {
      p = (async () => {
        const res = await o.self(new Request(new URL("/oauth/register", redirectUri), {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: JSON.stringify({ client_name: CLIENT_NAME, redirect_uris: [redirectUri], token_endpoint_auth_method: "none", grant_types: ["authorization_code", "refresh_token"], response_types: ["code"] }),
        }));
        const body = await res.json() as { client_id?: string; error_description?: string };
        if (res.status !== 201 || typeof body.client_id !== "string") throw new GatewayError("ERR_INTERNAL", `the console could not register as an OAuth client: ${body.error_description ?? res.status}`);
        return body.client_id;
      })();
      clients.set(redirectUri, p);
      p.catch(() => clients.delete(redirectUri));
    }
    return await p;
  }

  async function startIdp(_request: Request, ctx: AuthContext): Promise<Response> {
    if (!o.oauth()) throw new GatewayError("ERR_NOT_FOUND", "sign-in through an identity provider needs oauthServer() in auth");
    const redirectUri = `${base(ctx.url)}/console/callback`;
    const id = await clientId(redirectUri);
    const state = newSecret("pst_");
    const codeVerifier = newSecret("pcv_");
    const pending: PendingLogin = { codeVerifier, clientId: id, redirectUri, expiresAt: Date.now() + LOGIN_TTL_MS };
    await o.store.putItem(LOGIN_KIND, hashSecretSync(state), pending);
    const authorize = new URL(`${base(ctx.url)}/oauth/authorize`);
    authorize.searchParams.set("response_type", "code");
    authorize.searchParams.set("client_id", id);
    authorize.searchParams.set("redirect_uri", redirectUri);
    authorize.searchParams.set("state", state);
    authorize.searchParams.set("code_challenge", await pkceChallenge(codeVerifier));
    authorize.searchParams.set("code_challenge_method", "S256");
    // `admin` is granted only to users holding one of the OAuth server's adminRoles.
    authorize.searchParams.set("scope", "mcp:read mcp:write admin");
    authorize.searchParams.set("resource", `${base(ctx.url)}/mcp`);
    // Lax: the browser comes back to /console/callback from the IdP's (another site's) redirect.
    const bind = setCookie(LOGIN_COOKIE, state, { secure: secure(ctx.url), maxAge: LOGIN_TTL_MS / 1000, sameSite: "Lax", path: "/console/callback" });
    return redirect(authorize.toString(), [bind]);
  }

  async function callback(request: Request, ctx: AuthContext): Promise<Response> {
    const url = ctx.url;
    const clear = setCookie(LOGIN_COOKIE, "", { secure: secure(url), maxAge: 0, sameSite: "Lax", path: "/console/callback" });
    const fail = (reason: string): Response => {
      o.audit.emit({ type: "console", action: "sign_in_failed", method: "oauth", reason });
      return redirect(`/console?error=${encodeURIComponent(reason)}`, [clear]);
    };
    const state = url.searchParams.get("state");
    const bound = readCookie(request, LOGIN_COOKIE);
    // The state must be the one this browser was given: a code delivered to another browser is refused.
    if (state === null || bound === undefined || state !== bound || state.length > 200) return fail("the sign-in did not start in this browser, or took too long: try again");
    const pending = await o.store.takeItem(LOGIN_KIND, hashSecretSync(state)) as PendingLogin | undefined;
    if (!pending || pending.expiresAt < Date.now()) return fail("the sign-in expired: try again");
    const code = url.searchParams.get("code");
    if (code === null) return fail(`the identity provider refused the sign-in (${(url.searchParams.get("error") ?? "no code").slice(0, 60)})`);
    const form = new URLSearchParams({ grant_type: "authorization_code", code, redirect_uri: pending.redirectUri, client_id: pending.clientId, code_verifier: pending.codeVerifier, resource: `${base(url)}/mcp` });
    const res = await o.self(new Request(`${base(url)}/oauth/token`, { method: "POST", headers: { "content-type": "application/x-www-form-urlencoded" }, body: form }));
    const tokens = await res.json() as { access_token?: string; error?: string };
    if (res.status !== 200 || typeof tokens.access_token !== "string") return fail(`the code was refused (${tokens.error ?? res.status})`);
    const probe = new Request(`${base(url)}/v1/auth/whoami`, { headers: { authorization: `Bearer ${tokens.access_token}` } });
    const identity = await o.authenticate(probe, { url: new URL(probe.url), info: ctx.info }, "other");
    // The console session lasts as long as the OAuth session behind it at most, not as the short access token.
    let endsAt: number | undefined;
    if (identity.tokenId) {
      const s = await o.self(new Request(`${base(url)}/v1/auth/sessions/${encodeURIComponent(identity.tokenId)}`, { headers: { authorization: `Bearer ${tokens.access_token}` } }));
      const body = await s.json() as { expiresAt?: string };
      if (s.status === 200 && typeof body.expiresAt === "string") endsAt = Date.parse(body.expiresAt);
    }
    const { expiresAt: _short, ...rest } = identity;
    const cookie = await startSession(request, url, { ...rest, ...(endsAt !== undefined ? { expiresAt: endsAt } : {}) }, "oauth", identity.tokenId, endsAt);
    return redirect("/console", [clear, cookie]);
  }

  async function signOut(request: Request, ctx: AuthContext): Promise<Response> {
    const identity = await ctx.authenticate!();
    const id = identity.credentialId?.startsWith("console:") ? identity.credentialId.slice("console:".length) : undefined;
    if (id === undefined) throw new GatewayError("ERR_BAD_REQUEST", "no console session to sign out of");
    await o.sessions.end(id, "signed out", identity.subject);
    o.audit.emit({ type: "console", action: "sign_out", sessionId: id, subject: identity.subject });
    return json({ ok: true }, 200, { "set-cookie": sessionCookie(ctx.url, "", 0), "cache-control": "no-store" });
  }

  const asset = (body: string, type: string) => (): Response => new Response(body, { headers: consoleHeaders(type) });
  return [
    { method: "GET", path: "/console", handler: page },
    { method: "GET", path: "/console/app.js", handler: asset(SCRIPT, "text/javascript; charset=utf-8") },
    { method: "GET", path: "/console/app.css", handler: asset(CONSOLE_CSS, "text/css; charset=utf-8") },
    { method: "POST", path: "/console/sign-in", origin: true, handler: signInWithToken },
    { method: "GET", path: "/console/sign-in/idp", handler: startIdp },
    { method: "GET", path: "/console/callback", handler: callback },
    { method: "POST", path: "/console/sign-out", origin: true, handler: signOut },
  ];
}
