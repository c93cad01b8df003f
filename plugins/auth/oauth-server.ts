import { decodeJwt, decodeProtectedHeader } from "jose";
import { API_KEY_PREFIX, configError, GatewayError, identityOf, isGatewayError, TOKEN_PREFIX, type AuthContext, type AuthOutcome, type AuthStrategy, type Identity, type PluginContext, type RequestInfo, type Route, readBearer } from "../../core/mod.ts";
import type { MtlsStrategy } from "./mtls.ts";
import { authorizeEndpoints } from "./oauth-server/authorize.ts";
import { createClientRegistry, type ClientRegistry } from "./oauth-server/clients.ts";
import { createGrants, type Grants, type SessionRecord } from "./oauth-server/grants.ts";
import { createIdpClient } from "./oauth-server/idp.ts";
import { authorizationServerMetadata, protectedResourceMetadata } from "./oauth-server/metadata.ts";
import { type OauthServerOptions, resolveOptions } from "./oauth-server/options.ts";
import { type OauthRuntime, resourceOf } from "./oauth-server/runtime.ts";
import { sessionsApi } from "./oauth-server/sessions-api.ts";
import { tokenEndpoints } from "./oauth-server/token.ts";

export type { ClaimMapping, OauthServerOptions, RegistrationLimits, StaticClient, UpstreamIdp } from "./oauth-server/options.ts";

const NAME = "auth:oauth";

/** Extra options that only change what pages show. */
export interface OauthServerExtras {
  /** Server names listed on the consent page ("it will reach ..."); default: a sentence about permissions. */
  servers?: string[];
  /**
   * Certificate-bound access tokens (RFC 8705): a client that presents a certificate this `mtls()`
   * strategy verifies at `/oauth/token` gets access tokens bound to it (`cnf.x5t#S256`), refused when
   * presented without that certificate; the session's refresh tokens only work with it too.
   */
  mtls?: MtlsStrategy;
  /** With `mtls`: refuse token requests that present no verified client certificate. Default false. */
  requireCertificateBoundTokens?: boolean;
}

/** RFC 8705 §3.1: `x5t#S256` is the base64url SHA-256 of the DER certificate; `mtls()` gives it in hex. */
function thumbprintOf(hex: string): string {
  let bin = "";
  for (let i = 0; i < hex.length; i += 2) bin += String.fromCharCode(parseInt(hex.slice(i, i + 2), 16));
  return btoa(bin).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

/**
 * The gateway as the OAuth 2.1 authorization server MCP clients talk to, signing users in through the
 * company IdP (OIDC code + PKCE + nonce) and issuing its own short-lived access tokens (ES256 JWTs with
 * `aud` = the gateway's `/mcp` URL), rotated refresh tokens, and `client_credentials` tokens for agents.
 * Serves the RFC 9728 / 8414 metadata, `/oauth/register|authorize|callback|consent|token|revoke` and
 * `/v1/auth/sessions`. Access tokens of other issuers, and `pt_` tokens, are left to other strategies.
 *
 * @example
 * defineGateway({
 *   auth: [oauthServer({ upstream: { issuer: "https://acme.okta.com", clientId: "0oa...", clientSecret: process.env.OKTA_SECRET! } }), bearer()],
 *   servers: { ... },
 * })
 */
export function oauthServer(input: OauthServerOptions & OauthServerExtras): AuthStrategy {
  const options = resolveOptions(input);
  if (input.servers !== undefined && (!Array.isArray(input.servers) || input.servers.some((s) => typeof s !== "string"))) {
    throw configError("auth.oauth.servers", "expected an array of server names");
  }
  const bound = input.mtls;
  if (bound !== undefined && (typeof bound !== "object" || bound === null || typeof bound.certificateOf !== "function")) {
    throw configError("auth.oauth.mtls", "expected the strategy mtls({ ... }) returns");
  }
  if (input.requireCertificateBoundTokens !== undefined && typeof input.requireCertificateBoundTokens !== "boolean") {
    throw configError("auth.oauth.requireCertificateBoundTokens", "expected true or false");
  }
  if (input.requireCertificateBoundTokens && !bound) throw configError("auth.oauth.requireCertificateBoundTokens", "needs mtls: the mtls() strategy that verifies the certificates");
  const thumbprint = async (info: RequestInfo): Promise<string | undefined> => {
    const cert = await bound?.certificateOf({ info });
    return cert && thumbprintOf(cert.fingerprint);
  };
  let plugin: PluginContext | undefined;
  let clients: ClientRegistry | undefined;
  let grants: Grants | undefined;
  const idp = createIdpClient(options);

  const issuerOf = (url: URL) => (plugin?.publicUrl ?? url.origin).replace(/\/+$/, "");
  const ready = (): PluginContext => {
    if (!plugin) throw new GatewayError("ERR_INTERNAL", `${NAME} used before the gateway set it up`);
    return plugin;
  };

  const rt: OauthRuntime = {
    options,
    get clients() {
      ready();
      return clients!;
    },
    get grants() {
      ready();
      return grants!;
    },
    idp,
    plugin: ready,
    issuerOf,
    thumbprint,
    requireCertificate: input.requireCertificateBoundTokens ?? false,
    audit(event) {
      plugin?.audit.emit({ type: "oauth", ...event });
    },
    async accessToken(session: SessionRecord, scopes: string[], issuer: string) {
      const claims: Record<string, unknown> = {
        scope: scopes.join(" "),
        client_id: session.clientId,
        sid: session.id,
        roles: session.roles,
      };
      if (session.email) claims.email = session.email;
      if (session.name) claims.name = session.name;
      if (session.team) claims.team = session.team;
      if (session.org) claims.org = session.org;
      if (session.permissions) claims.permissions = session.permissions;
      if (session.x5t) claims.cnf = { "x5t#S256": session.x5t };
      return await ready().keys.sign(claims, { issuer, audience: resourceOf(issuer), subject: session.subject, expiresInSeconds: options.accessTtl, typ: "at+jwt" });
    },
  };

  async function verifyAccessToken(token: string, url: URL, info: RequestInfo): Promise<AuthOutcome> {
    // Cheap checks first, so tokens meant for another strategy pass through untouched.
    if (token.startsWith(TOKEN_PREFIX) || token.startsWith(API_KEY_PREFIX) || token.split(".").length !== 3) return undefined;
    const issuer = issuerOf(url);
    try {
      if (decodeProtectedHeader(token).typ !== "at+jwt" || decodeJwt(token).iss !== issuer) return undefined;
    } catch {
      return undefined;
    }
    let claims: Record<string, unknown>;
    try {
      claims = await ready().keys.verify(token, { issuer, audience: resourceOf(issuer), typ: "at+jwt" });
    } catch (err) {
      if (isGatewayError(err) && (err.code === "ERR_TOKEN_EXPIRED" || err.code === "ERR_INVALID_CREDENTIAL")) {
        return { error: { code: err.code, reason: err.message } };
      }
      throw err;
    }
    const sid = typeof claims.sid === "string" ? claims.sid : undefined;
    if (!sid) return { error: { code: "ERR_INVALID_CREDENTIAL", reason: "access token names no session" } };
    // RFC 8705 §3: a certificate-bound token is only good on a request that presents that certificate.
    const cnf = claims.cnf as Record<string, unknown> | undefined;
    if (cnf !== undefined) {
      const expected = typeof cnf === "object" && cnf !== null ? cnf["x5t#S256"] : undefined;
      const presented = await thumbprint(info);
      if (typeof expected !== "string" || presented === undefined || presented !== expected) {
        return { error: { code: "ERR_INVALID_CREDENTIAL", reason: presented === undefined ? "access token is bound to a client certificate the request does not present" : "access token is bound to another client certificate", tokenId: sid } };
      }
    }
    if (!(await rt.grants.isActive(sid))) return { error: { code: "ERR_TOKEN_REVOKED", reason: "the session of this access token was ended", tokenId: sid } };
    const strings = (v: unknown) => (Array.isArray(v) ? v.filter((x): x is string => typeof x === "string") : []);
    const identity: Identity = {
      subject: String(claims.sub),
      roles: strings(claims.roles),
      scopes: typeof claims.scope === "string" ? claims.scope.split(" ").filter(Boolean) : [],
      strategy: NAME,
      // The subject is the identity provider's, vouched for by this OAuth server: never a gateway token's user.
      issuer: `oauth:${issuer}`,
      tokenId: sid,
      ...(typeof claims.exp === "number" ? { expiresAt: claims.exp * 1000 } : {}),
      claims: { client_id: claims.client_id, sid },
    };
    if (typeof claims.email === "string") identity.email = claims.email;
    if (typeof claims.name === "string") identity.name = claims.name;
    if (typeof claims.team === "string") identity.team = claims.team;
    if (typeof claims.org === "string") identity.org = claims.org;
    if (claims.permissions && typeof claims.permissions === "object") identity.permissions = claims.permissions as Identity["permissions"];
    return { identity };
  }

  /** Who calls `/v1/auth/sessions` or `/oauth/register`: an OAuth access token of ours or a gateway `pt_` token. */
  async function who(request: Request, url: URL, info: RequestInfo, required: boolean): Promise<Identity | undefined> {
    const token = readBearer(request);
    if (token === undefined) {
      if (!required) return undefined;
      throw new GatewayError("ERR_AUTH_REQUIRED", "authentication required", { headers: { "www-authenticate": 'Bearer realm="portcullis"' } });
    }
    let outcome = await verifyAccessToken(token, url, info);
    if (outcome === undefined && token.startsWith(TOKEN_PREFIX)) {
      const r = await ready().tokens.verify(token, "token");
      outcome = r.ok ? { identity: identityOf(r.record, "auth:bearer") } : { error: { code: r.code, reason: r.reason } };
    }
    if (outcome === undefined) throw new GatewayError("ERR_INVALID_CREDENTIAL", "unrecognised credential", { headers: { "www-authenticate": 'Bearer realm="portcullis"' } });
    if ("error" in outcome) throw new GatewayError(outcome.error.code, outcome.error.reason, { headers: { "www-authenticate": 'Bearer error="invalid_token"' } });
    return outcome.identity;
  }

  const authorize = authorizeEndpoints(rt, { servers: input.servers ?? [] });
  const tokens = tokenEndpoints(rt);
  const sessions = sessionsApi(rt);

  // The gateway's own authentication (every strategy, the static admin token, audited) when it offers it.
  const caller = async (request: Request, ctx: AuthContext): Promise<Identity> => ctx.authenticate ? await ctx.authenticate() : (await who(request, ctx.url, ctx.info, true))!;

  // `errors: "oauth"` on the protocol endpoints: the gateway renders their GatewayErrors as RFC 6749 §5.2
  // bodies. The browser endpoints answer their own errors (a page or a redirect); the rest are JSON APIs.
  const route = (method: Route["method"], path: string, handler: (request: Request, url: URL, ctx: AuthContext) => Promise<Response> | Response, errors?: Route["errors"]): Route => ({
    method,
    path,
    ...(errors ? { errors } : {}),
    handler: (request, ctx) => handler(request, ctx.url, ctx),
  });

  const routes: Route[] = [
    route("GET", "/.well-known/oauth-protected-resource", (_r, url) => protectedResourceMetadata(issuerOf(url), "/mcp", !!bound)),
    route("GET", "/.well-known/oauth-protected-resource/mcp", (_r, url) => protectedResourceMetadata(issuerOf(url), "/mcp", !!bound)),
    route("GET", "/.well-known/oauth-protected-resource/mcp/*", (_r, url) => {
      const server = url.pathname.slice("/.well-known/oauth-protected-resource/mcp/".length);
      if (!/^[A-Za-z0-9._~-]+$/.test(server)) throw new GatewayError("ERR_NOT_FOUND", "not found");
      return protectedResourceMetadata(issuerOf(url), `/mcp/${server}`, !!bound);
    }),
    route("GET", "/.well-known/oauth-authorization-server", (_r, url) => authorizationServerMetadata(issuerOf(url), !!bound)),
    route("POST", "/oauth/register", async (request, _url, ctx) => {
      // Registration is open (MCP clients register themselves); a credential only matters when it is an admin's.
      const admin = request.headers.has("authorization") ? await caller(request, ctx).catch(() => undefined) : undefined;
      return await rt.clients.register(request, admin?.scopes.includes("admin") ? admin : undefined, ctx.info.remoteAddress);
    }, "oauth"),
    route("GET", "/oauth/authorize", (request, url) => authorize.authorize(request, url)),
    route("GET", "/oauth/callback", (request, url) => authorize.callback(request, url)),
    route("POST", "/oauth/consent", (request, url) => authorize.consent(request, url)),
    route("POST", "/oauth/token", (request, url, ctx) => withCors(() => tokens.token(request, url, ctx.info)), "oauth"),
    route("POST", "/oauth/revoke", (request, url) => withCors(() => tokens.revoke(request, url)), "oauth"),
    route("GET", "/v1/auth/sessions", (request, url, ctx) => sessions.list(request, url, () => caller(request, ctx))),
    route("GET", "/v1/auth/sessions/*", (request, url, ctx) => sessions.one(request, url, () => caller(request, ctx))),
    route("DELETE", "/v1/auth/sessions/*", (request, url, ctx) => sessions.one(request, url, () => caller(request, ctx))),
  ];

  return {
    name: NAME,
    // Clients can come back for a token with mcp:write: read-only tokens calling write tools get 403 insufficient_scope.
    scopeStepUp: true,
    // Points MCP clients at the metadata that names this gateway as their authorization server (RFC 9728 §5.1).
    challenge: (ctx) => {
      const path = ctx.url.pathname;
      const suffix = path === "/mcp" || /^\/mcp\/[A-Za-z0-9._~-]+$/.test(path) ? path : "/mcp";
      return `Bearer resource_metadata="${issuerOf(ctx.url)}/.well-known/oauth-protected-resource${suffix}", scope="mcp:read mcp:write"`;
    },
    routes,
    setup(ctx) {
      plugin = ctx;
      const g = createGrants(ctx.store);
      // However a grant ends (the sessions API, refresh-token reuse, revocation), the MCP sessions its
      // access tokens opened end with it.
      grants = {
        ...g,
        async endSession(id, reason, actor) {
          const ended = await g.endSession(id, reason, actor);
          ctx.endSessions(id);
          return ended;
        },
      };
      clients = createClientRegistry({
        store: ctx.store,
        bodyTimeoutMs: ctx.bodyTimeoutMs,
        statics: options.clients,
        allowInsecureMetadata: options.allowInsecureClientMetadata,
        perMinute: options.registration.perMinute,
        maxClients: options.registration.maxClients,
        sessionTtlSeconds: options.refreshTtl,
        onRegister: (c) => rt.audit({ action: "register", outcome: "ok", clientId: c.clientId, actor: c.registeredBy, reason: c.grantTypes.join(" ") }),
      });
    },
    async authenticate(request, ctx) {
      const token = readBearer(request);
      if (token === undefined) return undefined;
      return await verifyAccessToken(token, ctx.url, ctx.info);
    },
  };
}

// Token and revocation answers are readable by browser-based clients; they authenticate by form body, not cookies.
const CORS = { "access-control-allow-origin": "*" };

/**
 * Runs a token or revocation endpoint and makes its answer readable cross-origin, its OAuth errors too:
 * those are handed on with the CORS header added, for the gateway to render. Errors that are no OAuth
 * refusal (a fault of the gateway) get no CORS header, as before.
 */
async function withCors(run: () => Promise<Response>): Promise<Response> {
  let res: Response;
  try {
    res = await run();
  } catch (err) {
    if (!isGatewayError(err) || err.oauth === undefined) throw err;
    throw new GatewayError(err.code, err.message, { oauth: err.oauth, status: err.status, headers: { ...err.headers, ...CORS }, cause: err.cause });
  }
  const headers = new Headers(res.headers);
  for (const [name, value] of Object.entries(CORS)) headers.set(name, value);
  return new Response(res.body, { status: res.status, headers });
}
