import { constantTimeEqual, hashSecret, isGatewayError } from "../../../core/mod.ts";
import { readForm } from "./form.ts";
import { CONSENT_KIND as CONSENT, type GrantSubject, LOGIN_KIND as LOGIN } from "./grants.ts";
import { consentPage, errorPage } from "./html.ts";
import { oauthError } from "./oauth-error.ts";
import { MCP_SCOPES } from "./options.ts";
import { resourceAllowed, resourceOf, type OauthRuntime } from "./runtime.ts";

// Scopes MCP clients commonly add that mean nothing at the gateway: accepted and dropped.
const IGNORED_SCOPES = new Set(["openid", "profile", "email", "offline_access"]);

/** An authorization request that passed every check, waiting for sign-in (and consent). */
interface PendingAuthorization {
  clientId: string;
  clientName: string;
  redirectUri: string;
  codeChallenge: string;
  clientState?: string;
  resource: string;
  scopes: string[];
  issuer: string;
  /** Hash of the secret in the browser's login cookie: binds the IdP round trip to this browser. */
  browserHash: string;
  cookie: string;
  expiresAt: number;
}

interface PendingConsent extends PendingAuthorization {
  user: GrantSubject;
  csrfHash: string;
}

function random(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(32));
  return b64url(bytes);
}

function b64url(bytes: Uint8Array): string {
  let bin = "";
  for (const b of bytes) bin += String.fromCharCode(b);
  return btoa(bin).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

async function derive(label: string, secret: string): Promise<string> {
  return b64url(new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(`${label}:${secret}`))));
}

function cookieOf(request: Request, name: string): string | undefined {
  for (const part of (request.headers.get("cookie") ?? "").split(";")) {
    const eq = part.indexOf("=");
    if (eq > 0 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return undefined;
}

function setCookie(name: string, value: string, issuer: string, maxAge: number): string {
  const secure = issuer.startsWith("https:") ? "; Secure" : "";
  // Lax: the IdP's redirect back to /oauth/callback is a top-level navigation, which Lax still sends.
  return `${name}=${value}; Path=/oauth; Max-Age=${maxAge}; HttpOnly; SameSite=Lax${secure}`;
}

/**
 * Sends the browser back to the client. Only ever called with a redirect URI that exactly matched one
 * the client registered; carries `iss` (RFC 9207) so the client can tell which server answered.
 */
function backToClient(p: PendingAuthorization, params: Record<string, string>, status = 302, headers: Record<string, string> = {}): Response {
  const url = new URL(p.redirectUri);
  for (const [k, v] of Object.entries(params)) url.searchParams.set(k, v);
  if (p.clientState !== undefined) url.searchParams.set("state", p.clientState);
  url.searchParams.set("iss", p.issuer);
  return new Response(null, { status, headers: { location: url.href, "cache-control": "no-store", "referrer-policy": "no-referrer", ...headers } });
}

/** Where a browser endpoint's error goes once the client's redirect URI can be trusted with it. */
interface ErrorTarget {
  pending: PendingAuthorization;
  /** 302 after a GET, 303 after the consent form's POST. */
  status: number;
  headers: Record<string, string>;
}

/**
 * The one place a browser endpoint's OAuth error becomes an answer: back to the client with `error=`
 * when there is a trusted redirect target, else an error page that never redirects. Anything that is
 * not an OAuth error is no refusal of this request and goes on to the gateway's own error handling.
 */
function browserError(err: unknown, back: ErrorTarget | undefined): Response {
  if (!isGatewayError(err) || err.oauth === undefined) throw err;
  if (back) return backToClient(back.pending, { error: err.oauth, error_description: err.message }, back.status, back.headers);
  return errorPage(err.oauth, err.message, err.status, err.headers);
}

/** The three browser-facing steps: `/oauth/authorize`, `/oauth/callback`, `/oauth/consent`. */
export interface AuthorizeEndpoints {
  authorize(request: Request, url: URL): Promise<Response>;
  callback(request: Request, url: URL): Promise<Response>;
  consent(request: Request, url: URL): Promise<Response>;
}

/**
 * Builds the authorization endpoints. Errors before the user signed in show an error page (a redirect
 * URI anyone could register is no reason to redirect there); only trusted clients (`skipConsentFor`) get
 * them back at their redirect URI. After sign-in, errors go back to the client. Consent is asked once per
 * user, client, redirect URI and scopes, except for trusted clients.
 *
 * @example
 * const ep = authorizeEndpoints(runtime, { servers: ["github"] });
 * routes.push({ method: "GET", path: "/oauth/authorize", handler: (r, c) => ep.authorize(r, c.url) });
 */
export function authorizeEndpoints(rt: OauthRuntime, view: { servers: string[] }): AuthorizeEndpoints {
  async function issueCode(p: PendingAuthorization, user: GrantSubject, status: number, headers: Record<string, string>, reason?: string): Promise<Response> {
    const code = await rt.grants.issueCode({
      clientId: p.clientId,
      redirectUri: p.redirectUri,
      codeChallenge: p.codeChallenge,
      resource: p.resource,
      scopes: p.scopes,
      user,
      expiresAt: Date.now() + rt.options.codeTtl * 1000,
    });
    rt.audit({ action: "grant", outcome: "ok", clientId: p.clientId, subject: user.subject, grantType: "authorization_code", ...(reason ? { reason } : {}) });
    return backToClient(p, { code }, status, headers);
  }

  function scopesFor(requested: string[], user: GrantSubject): string[] {
    const scopes = requested.filter((s) => s !== "admin");
    // Admin over OAuth only when asked for and the IdP says the user holds an admin role.
    if (requested.includes("admin") && user.roles.some((r) => rt.options.adminRoles.includes(r))) scopes.push("admin");
    return scopes;
  }

  return {
    async authorize(request, url) {
      // Set once the client and its redirect URI check out: from then on a refusal is audited, and goes
      // back to the client when the operator trusts it.
      let refusing: { clientId: string; back?: ErrorTarget } | undefined;
      try {
        const q = url.searchParams;
        for (const key of ["client_id", "redirect_uri", "state", "code_challenge", "resource", "scope"]) {
          if (q.getAll(key).length > 1) throw oauthError("invalid_request", `parameter ${key} is repeated`);
        }
        const clientId = q.get("client_id");
        if (!clientId) throw oauthError("invalid_request", "client_id is missing");
        rt.grants.sweep();
        // Only an overloaded registry is worth saying so; a client that cannot be loaded is an unknown one.
        const client = await rt.clients.find(clientId).catch((err: unknown) => {
          if (isGatewayError(err) && err.code === "ERR_OVERLOADED") throw err;
          return undefined;
        });
        if (!client || !client.grantTypes.includes("authorization_code")) {
          throw oauthError("invalid_client", "this application is not registered with the gateway (or its metadata document could not be used)");
        }
        const asked = q.get("redirect_uri");
        const redirectUri = asked ?? (client.redirectUris.length === 1 ? client.redirectUris[0] : undefined);
        // Exact string match: no prefix, port or path leeway, so a code can only go where the client said.
        if (!redirectUri || !client.redirectUris.includes(redirectUri)) {
          rt.audit({ action: "deny", outcome: "refused", clientId: client.clientId, reason: "redirect_uri not registered" });
          throw oauthError("invalid_request", "redirect_uri is missing or not registered for this application; the gateway will not redirect there");
        }
        const issuer = rt.issuerOf(url);
        const clientState = q.get("state") ?? undefined;
        const base = { clientId: client.clientId, clientName: client.name, redirectUri, clientState, issuer } as PendingAuthorization;
        // Nobody signed in yet, so nothing vouches for a self-registered redirect URI: a redirect from here
        // would be an instant, interaction-free 302 off the gateway's domain to wherever a stranger chose.
        const trusted = rt.options.skipConsentFor.has(client.clientId);
        refusing = { clientId: client.clientId, ...(trusted ? { back: { pending: base, status: 302, headers: {} } } : {}) };
        if (q.get("response_type") !== "code") throw oauthError("unsupported_response_type", 'response_type must be "code"');
        const challenge = q.get("code_challenge");
        const method = q.get("code_challenge_method");
        if (!challenge) throw oauthError("invalid_request", "PKCE is required: code_challenge is missing");
        if (method !== "S256") throw oauthError("invalid_request", "code_challenge_method must be S256");
        if (!/^[A-Za-z0-9_-]{43}$/.test(challenge)) throw oauthError("invalid_request", "code_challenge is not a base64url SHA-256 value");
        const resource = q.get("resource") ?? resourceOf(issuer);
        if (!resourceAllowed(resource, issuer)) throw oauthError("invalid_target", `resource must be ${resourceOf(issuer)}`);
        const requested = (q.get("scope") ?? "").split(" ").filter((s) => s !== "" && !IGNORED_SCOPES.has(s));
        const known = [...MCP_SCOPES, "admin"] as string[];
        const unknown = requested.find((s) => !known.includes(s));
        if (unknown) throw oauthError("invalid_scope", `unknown scope ${unknown.slice(0, 100)}`);
        const scopes = requested.length > 0 ? [...new Set(requested)] : [...MCP_SCOPES];

        const state = random();
        const browser = random();
        const cookie = `pcl_${state.slice(0, 16)}`;
        const pending: PendingAuthorization = {
          ...base,
          codeChallenge: challenge,
          resource: resourceOf(issuer),
          scopes,
          browserHash: await hashSecret(browser),
          cookie,
          expiresAt: Date.now() + rt.options.loginTtl * 1000,
        };
        await rt.plugin().store.putItem(LOGIN, await hashSecret(state), pending);
        let target: URL;
        try {
          target = await rt.idp.authorizationUrl({
            state,
            nonce: await derive("nonce", browser),
            codeVerifier: await derive("pkce", browser),
            redirectUri: `${issuer}/oauth/callback`,
          });
        } catch (err) {
          rt.plugin().log.warn("identity provider unavailable", { error: err instanceof Error ? err.message : String(err) });
          throw oauthError("temporarily_unavailable", "the identity provider cannot be reached", { code: "ERR_UPSTREAM_UNAVAILABLE", status: 503, cause: err });
        }
        return new Response(null, {
          status: 302,
          headers: { location: target.href, "set-cookie": setCookie(cookie, browser, issuer, rt.options.loginTtl), "cache-control": "no-store" },
        });
      } catch (err) {
        if (refusing && isGatewayError(err) && err.oauth !== undefined) {
          rt.audit({ action: "deny", outcome: "refused", clientId: refusing.clientId, reason: err.message });
        }
        return browserError(err, refusing?.back);
      }
    },

    async callback(request, url) {
      // Set once this sign-in is known to be this browser's: errors from then on go back to the client.
      let back: ErrorTarget | undefined;
      try {
        const state = url.searchParams.get("state");
        if (!state) throw oauthError("invalid_request", "the identity provider's answer has no state");
        const p = (await rt.plugin().store.takeItem(LOGIN, await hashSecret(state))) as PendingAuthorization | undefined;
        if (!p || p.expiresAt < Date.now()) throw oauthError("invalid_request", "this sign-in is unknown, was already finished, or took too long; start again from your application");
        const browser = cookieOf(request, p.cookie);
        if (!browser || !constantTimeEqual(await hashSecret(browser), p.browserHash)) {
          throw oauthError("invalid_request", "this sign-in was started in another browser; start again from your application", { code: "ERR_FORBIDDEN", status: 403 });
        }
        const clear = { "set-cookie": setCookie(p.cookie, "", p.issuer, 0) };
        back = { pending: p, status: 302, headers: clear };
        if (url.searchParams.has("error")) {
          rt.audit({ action: "login_failed", outcome: "refused", clientId: p.clientId, reason: `identity provider: ${url.searchParams.get("error")!.slice(0, 100)}` });
          throw oauthError("access_denied", "sign-in at the identity provider did not complete");
        }
        let user: GrantSubject;
        try {
          const idpUser = await rt.idp.finish({
            params: url.searchParams,
            state,
            nonce: await derive("nonce", browser),
            codeVerifier: await derive("pkce", browser),
            redirectUri: `${p.issuer}/oauth/callback`,
          });
          // The IdP's `sub`, never the email: an address is not unique across IdP accounts (and may be unverified).
          user = { subject: idpUser.subject, email: idpUser.email, name: idpUser.name, team: idpUser.team, org: idpUser.org, roles: idpUser.roles };
        } catch (err) {
          const reason = err instanceof Error ? err.message : String(err);
          rt.audit({ action: "login_failed", outcome: "refused", clientId: p.clientId, reason: reason.slice(0, 200) });
          rt.plugin().log.warn("sign-in at the identity provider failed", { client: p.clientId, error: reason });
          throw oauthError("access_denied", "the identity provider's answer could not be verified", { cause: err });
        }
        const scopes = scopesFor(p.scopes, user);
        // Consent is what stops a client that registered itself (its redirect URI chosen by a stranger) from
        // getting codes silently from a signed-in user: skipped only for clients the operator named, or
        // when this user already approved exactly this client, redirect URI and scopes.
        if (rt.options.skipConsentFor.has(p.clientId)) return await issueCode({ ...p, scopes }, user, 302, clear, "trusted client");
        if (await rt.grants.hasApproval({ subject: user.subject, clientId: p.clientId, redirectUri: p.redirectUri, scopes })) {
          return await issueCode({ ...p, scopes }, user, 302, clear, "approved before");
        }
        const consentId = random();
        const csrf = random();
        const record: PendingConsent = { ...p, scopes, user, csrfHash: await hashSecret(csrf), expiresAt: Date.now() + rt.options.loginTtl * 1000 };
        await rt.plugin().store.putItem(CONSENT, await hashSecret(consentId), record);
        return consentPage({
          clientName: p.clientName,
          clientId: p.clientId,
          redirectUri: p.redirectUri,
          user: user.email ?? user.subject,
          scopes,
          // What this user may actually reach, unless the config names the servers to show.
          servers: view.servers.length > 0 ? view.servers : rt.plugin().serversFor({ ...user, scopes, strategy: "auth:oauth" }),
          action: "/oauth/consent",
          consentId,
          csrf,
        });
      } catch (err) {
        return browserError(err, back);
      }
    },

    async consent(request, url) {
      // Set once the form is known to come from this browser's sign-in: errors from then on go back to the client.
      let back: ErrorTarget | undefined;
      try {
        const form = await readForm(request, rt.plugin().bodyTimeoutMs).catch((err: unknown) => {
          // A body too large or too slow keeps its status (and `Connection: close`); anything else is a bad form.
          if (isGatewayError(err) && err.code !== "ERR_BAD_REQUEST") throw err;
          throw oauthError("invalid_request", "malformed consent form", { cause: err });
        });
        const origin = request.headers.get("origin");
        if (origin !== null && origin !== new URL(rt.issuerOf(url)).origin) {
          throw oauthError("invalid_request", "the consent form was posted from another site", { code: "ERR_FORBIDDEN", status: 403 });
        }
        const consentId = form.get("consent");
        const csrf = form.get("csrf");
        if (!consentId || !csrf) throw oauthError("invalid_request", "malformed consent form");
        const p = (await rt.plugin().store.takeItem(CONSENT, await hashSecret(consentId))) as PendingConsent | undefined;
        if (!p || p.expiresAt < Date.now()) throw oauthError("invalid_request", "this consent is unknown, was already answered, or took too long");
        const browser = cookieOf(request, p.cookie);
        const csrfOk = constantTimeEqual(await hashSecret(csrf), p.csrfHash);
        const browserOk = browser !== undefined && constantTimeEqual(await hashSecret(browser), p.browserHash);
        if (!csrfOk || !browserOk) throw oauthError("invalid_request", "the consent form did not come from this browser's sign-in", { code: "ERR_FORBIDDEN", status: 403 });
        const clear = { "set-cookie": setCookie(p.cookie, "", p.issuer, 0) };
        // 303: the browser posted the form, and must GET the client's redirect URI.
        back = { pending: p, status: 303, headers: clear };
        if (form.get("decision") !== "approve") {
          rt.audit({ action: "deny", outcome: "refused", clientId: p.clientId, subject: p.user.subject, reason: "the user declined consent" });
          throw oauthError("access_denied", "the user declined");
        }
        await rt.grants.rememberApproval({ subject: p.user.subject, clientId: p.clientId, redirectUri: p.redirectUri, scopes: p.scopes }, rt.options.refreshTtl);
        return await issueCode(p, p.user, 303, clear);
      } catch (err) {
        return browserError(err, back);
      }
    },
  };
}
