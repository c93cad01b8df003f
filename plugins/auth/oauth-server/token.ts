import { type GatewayError, isGatewayError, type RequestInfo } from "../../../core/mod.ts";
import type { ClientRecord } from "./clients.ts";
import { readForm } from "./form.ts";
import type { SessionRecord } from "./grants.ts";
import { oauthError } from "./oauth-error.ts";
import { resourceAllowed, type OauthRuntime } from "./runtime.ts";

async function s256(verifier: string): Promise<string> {
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(verifier)));
  let bin = "";
  for (const b of digest) bin += String.fromCharCode(b);
  return btoa(bin).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

function tokenResponse(body: Record<string, unknown>): Response {
  return new Response(JSON.stringify(body), { status: 200, headers: { "content-type": "application/json", "cache-control": "no-store", pragma: "no-cache" } });
}

function narrowed(requested: string | null, allowed: string[]): string[] {
  if (requested === null || requested.trim() === "") return allowed;
  const asked = [...new Set(requested.split(" ").filter(Boolean))];
  const extra = asked.find((s) => !allowed.includes(s));
  if (extra) throw oauthError("invalid_scope", `scope ${extra.slice(0, 100)} was not granted`);
  return asked;
}

/** `/oauth/token` and `/oauth/revoke`. */
export interface TokenEndpoints {
  token(request: Request, url: URL, info?: RequestInfo): Promise<Response>;
  revoke(request: Request, url: URL): Promise<Response>;
}

/**
 * Builds the token and revocation endpoints: authorization_code (one-time, PKCE-checked), refresh_token
 * (rotated; a reused one ends the whole session), client_credentials (configured or admin-registered clients).
 *
 * @example
 * const ep = tokenEndpoints(runtime);
 * routes.push({ method: "POST", path: "/oauth/token", handler: (r, c) => ep.token(r, c.url) });
 */
export function tokenEndpoints(rt: OauthRuntime): TokenEndpoints {
  function checkResource(form: URLSearchParams, issuer: string): void {
    const resource = form.get("resource");
    if (resource !== null && !resourceAllowed(resource, issuer)) throw oauthError("invalid_target", "resource does not name this gateway's MCP endpoint");
  }

  function need(form: URLSearchParams, name: string): string {
    const v = form.get(name);
    if (!v) throw oauthError("invalid_request", `${name} is missing`);
    return v;
  }

  function allows(client: ClientRecord, grant: string): void {
    if (!client.grantTypes.includes(grant)) throw oauthError("unauthorized_client", `this client may not use ${grant}`);
  }

  async function issue(session: SessionRecord, scopes: string[], issuer: string, refresh: boolean): Promise<Response> {
    const body: Record<string, unknown> = {
      access_token: await rt.accessToken(session, scopes, issuer),
      token_type: "Bearer",
      expires_in: rt.options.accessTtl,
      scope: scopes.join(" "),
    };
    if (refresh) body.refresh_token = await rt.grants.issueRefresh(session);
    return tokenResponse(body);
  }

  /** Ends the session a replayed code or refresh token belongs to, audits it, and returns the error to throw. */
  async function replayed(session: { id: string; subject?: string }, action: "code_replay" | "refresh_reuse", client: ClientRecord, reason: string, message: string): Promise<GatewayError> {
    await rt.grants.endSession(session.id, action, "system");
    rt.audit({ action, outcome: "refused", clientId: client.clientId, sessionId: session.id, subject: session.subject, reason });
    return oauthError("invalid_grant", message);
  }

  async function authorizationCode(client: ClientRecord, form: URLSearchParams, issuer: string, x5t: string | undefined): Promise<Response> {
    allows(client, "authorization_code");
    const code = need(form, "code");
    const redeemed = await rt.grants.redeemCode(code);
    // A code is good once: a second use means it leaked, so whatever the first use produced is ended.
    if (redeemed.replayOf) throw await replayed(redeemed.replayOf, "code_replay", client, "authorization code used twice; its session was ended", "authorization code is invalid or was already used");
    const c = redeemed.ok;
    if (!c) throw oauthError("invalid_grant", "authorization code is invalid, expired or was already used");
    if (c.clientId !== client.clientId) throw oauthError("invalid_grant", "authorization code was issued to another client");
    if (form.get("redirect_uri") !== c.redirectUri) throw oauthError("invalid_grant", "redirect_uri does not match the authorization request");
    const verifier = need(form, "code_verifier");
    if (!/^[A-Za-z0-9._~-]{43,128}$/.test(verifier) || (await s256(verifier)) !== c.codeChallenge) {
      throw oauthError("invalid_grant", "code_verifier does not match the code_challenge");
    }
    const resource = form.get("resource");
    if (resource !== null && resource !== c.resource && !resourceAllowed(resource, issuer)) throw oauthError("invalid_target", "resource does not match the authorization request");
    const session = await rt.grants.createSession({
      ...c.user,
      id: c.sid,
      clientId: client.clientId,
      clientName: client.name,
      grantType: "authorization_code",
      scopes: c.scopes,
      expiresAt: new Date(Date.now() + rt.options.refreshTtl * 1000).toISOString(),
      ...(x5t ? { x5t } : {}),
    });
    // A concurrent second redemption of this code already ended the session it reserved.
    if (!session) throw oauthError("invalid_grant", "authorization code is invalid or was already used");
    await rt.clients.markUsed(client);
    rt.audit({ action: "token", outcome: "ok", clientId: client.clientId, subject: session.subject, sessionId: session.id, grantType: "authorization_code" });
    return await issue(session, c.scopes, issuer, client.grantTypes.includes("refresh_token"));
  }

  async function refreshToken(client: ClientRecord, form: URLSearchParams, issuer: string, x5t: string | undefined): Promise<Response> {
    allows(client, "refresh_token");
    checkResource(form, issuer);
    const redeemed = await rt.grants.redeemRefresh(need(form, "refresh_token"));
    // Rotation means an old refresh token is only ever presented by someone who copied it: end the family.
    if (redeemed.replayOf) throw await replayed(redeemed.replayOf, "refresh_reuse", client, "a rotated refresh token was used again; the session was ended", "refresh token is invalid or was already used");
    const r = redeemed.ok;
    if (!r) throw oauthError("invalid_grant", "refresh token is invalid, expired or revoked");
    if (r.clientId !== client.clientId) {
      await rt.grants.endSession(r.session.id, "refresh_reuse", "system");
      rt.audit({ action: "refresh_reuse", outcome: "refused", clientId: client.clientId, sessionId: r.session.id, reason: "refresh token presented by another client; the session was ended" });
      throw oauthError("invalid_grant", "refresh token was issued to another client");
    }
    // RFC 8705 §4: a session bound to a certificate is refreshed only by a request that presents it.
    if (r.session.x5t !== undefined && r.session.x5t !== x5t) {
      throw oauthError("invalid_grant", x5t === undefined ? "refresh token is bound to a client certificate the request does not present" : "refresh token is bound to another client certificate");
    }
    const scopes = narrowed(form.get("scope"), r.session.scopes);
    const session = await rt.grants.touch(r.session.id);
    // Ended (or expired) between reading the refresh token and now: the end stands, nothing is issued.
    if (!session) throw oauthError("invalid_grant", "refresh token is invalid, expired or revoked");
    await rt.clients.markUsed(client);
    rt.audit({ action: "refresh", outcome: "ok", clientId: client.clientId, subject: session.subject, sessionId: session.id, grantType: "refresh_token" });
    return await issue(session, scopes, issuer, true);
  }

  async function clientCredentials(client: ClientRecord, form: URLSearchParams, issuer: string, x5t: string | undefined): Promise<Response> {
    allows(client, "client_credentials");
    if (!client.identity || !client.secretHash) throw oauthError("unauthorized_client", "this client has no identity to act as");
    checkResource(form, issuer);
    // RFC 6749 §3.3: a machine client asking for more than it may have gets what it may have (the
    // response's `scope` says so); asking for nothing it may have is an error.
    const allowed = client.scopes ?? [];
    const asked = form.get("scope");
    const scopes = asked === null || asked.trim() === "" ? allowed : allowed.filter((s) => asked.split(" ").includes(s));
    if (scopes.length === 0) throw oauthError("invalid_scope", "none of the requested scopes is allowed for this client");
    const id = client.identity;
    const session = await rt.grants.createSession({
      subject: id.subject,
      email: id.email,
      name: id.name,
      team: id.team,
      org: id.org,
      roles: id.roles ?? [],
      permissions: id.permissions,
      clientId: client.clientId,
      clientName: client.name,
      grantType: "client_credentials",
      scopes,
      expiresAt: new Date(Date.now() + rt.options.accessTtl * 1000).toISOString(),
      ...(x5t ? { x5t } : {}),
    });
    if (!session) throw oauthError("invalid_grant", "the session could not be created");
    await rt.clients.markUsed(client);
    rt.audit({ action: "token", outcome: "ok", clientId: client.clientId, subject: session.subject, sessionId: session.id, grantType: "client_credentials" });
    return await issue(session, scopes, issuer, false);
  }

  return {
    async token(request, url, info = {}) {
      const form = await readForm(request, rt.plugin().bodyTimeoutMs);
      const client = await rt.clients.authenticate(request, form);
      const issuer = rt.issuerOf(url);
      const grant = form.get("grant_type");
      try {
        const x5t = await rt.thumbprint(info);
        if (x5t === undefined && rt.requireCertificate) throw oauthError("invalid_client", "this server issues certificate-bound tokens only: present a client certificate", { status: 401 });
        if (grant === "authorization_code") return await authorizationCode(client, form, issuer, x5t);
        if (grant === "refresh_token") return await refreshToken(client, form, issuer, x5t);
        if (grant === "client_credentials") return await clientCredentials(client, form, issuer, x5t);
      } catch (err) {
        // A fault of the gateway carries no OAuth code: it is no refusal of the client, and not audited as one.
        if (isGatewayError(err) && err.oauth !== undefined && grant !== "refresh_token") {
          rt.audit({ action: "token", outcome: "refused", clientId: client.clientId, grantType: grant ?? undefined, reason: `status ${err.status}` });
        }
        throw err;
      }
      throw oauthError("unsupported_grant_type", "grant_type must be authorization_code, refresh_token or client_credentials");
    },

    async revoke(request, url) {
      const form = await readForm(request, rt.plugin().bodyTimeoutMs);
      const client = await rt.clients.authenticate(request, form);
      const token = form.get("token");
      if (!token) throw oauthError("invalid_request", "token is missing");
      let sid: string | undefined;
      const refresh = await rt.grants.findRefresh(token);
      if (refresh && refresh.clientId === client.clientId) sid = refresh.sid;
      if (!sid && token.split(".").length === 3) {
        try {
          const issuer = rt.issuerOf(url);
          const claims = await rt.plugin().keys.verify(token, { issuer, audience: `${issuer}/mcp`, typ: "at+jwt" });
          if (claims.client_id === client.clientId && typeof claims.sid === "string") sid = claims.sid;
        } catch {
          // An expired or foreign access token: nothing to revoke, and RFC 7009 answers 200 all the same.
        }
      }
      if (sid) {
        const ended = await rt.grants.endSession(sid, "revoked", `client:${client.clientId}`);
        // Revoking is the client (or user) taking the grant back: the next sign-in asks for consent again.
        if (ended) await rt.grants.forgetApprovals(ended.subject, ended.clientId);
        rt.audit({ action: "revoke", outcome: "ok", clientId: client.clientId, sessionId: sid, subject: ended?.subject });
      }
      return new Response(null, { status: 200, headers: { "cache-control": "no-store" } });
    },
  };
}
