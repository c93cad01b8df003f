import { createAudit } from "./audit/bus.ts";
import { runAuth } from "./auth/pipeline.ts";
import { permissionPolicy } from "./auth/permissions.ts";
import { needsWriteScope } from "./auth/step-up.ts";
import { resolveConfig } from "./config/resolve.ts";
import { GatewayError } from "./errors.ts";
import { readJsonBody } from "./http/body.ts";
import { originAllowed } from "./http/origin.ts";
import { decodePathSegment } from "./http/path.ts";
import { errorResponse, json, toErrorResponse } from "./http/responses.ts";
import { createMcpEndpoint } from "./mcp/endpoint.ts";
import { createRegistry } from "./mcp/registry.ts";
import { findVault, handleCredentialsApi } from "./secrets/api.ts";
import { createSecretResolver } from "./secrets/resolver.ts";
import { createUserCredentials } from "./secrets/user-credentials.ts";
import { createSigningKeys } from "./tokens/signing-keys.ts";
import { handleAuthApi } from "./tokens/api.ts";
import { constantTimeEqual, hashSecret } from "./tokens/secret.ts";
import { createTokenService } from "./tokens/service.ts";
import type { AuthStrategy, Gateway, GatewayConfig, Identity, IdentityMapper, PluginContext, RequestInfo, Route } from "./types.ts";

const MCP_METHODS = "GET, POST, DELETE";
const MCP_METHOD_SET = new Set(MCP_METHODS.split(", "));

function routesOf(plugins: ReadonlyArray<{ routes?: Route[] }>): Map<string, Route> {
  const routes = new Map<string, Route>();
  for (const p of plugins) for (const r of p.routes ?? []) routes.set(`${r.method} ${r.path}`, r);
  return routes;
}

/** The route for a request: an exact `METHOD path`, else the longest route path ending in `*` that prefixes it. */
function findRoute(routes: Map<string, Route>, method: string, path: string): Route | undefined {
  const exact = routes.get(`${method} ${path}`);
  if (exact) return exact;
  let best: Route | undefined;
  for (const r of routes.values()) {
    if (r.method !== method || !r.path.endsWith("*")) continue;
    const prefix = r.path.slice(0, -1);
    if (path.startsWith(prefix) && path.length > prefix.length && (!best || prefix.length > best.path.length - 1)) best = r;
  }
  return best;
}

/** Every identity mapper in force: the gateway's and each server's own. */
function mappersOf(config: { identity: IdentityMapper[]; servers: Record<string, { identity?: IdentityMapper[] | false }> }): IdentityMapper[] {
  const all = new Set(config.identity);
  for (const u of Object.values(config.servers)) for (const m of u.identity || []) all.add(m);
  return [...all];
}

/**
 * Validates a configuration and builds the gateway: a web-standard `fetch` handler plus `close()`.
 * Upstreams start connecting at once, in the background.
 *
 * @example
 * const gateway = createGateway(config);
 * const response = await gateway.fetch(new Request("http://127.0.0.1:8787/healthz"));
 * await gateway.close();
 */
export function createGateway(input: GatewayConfig): Gateway {
  const config = resolveConfig(input);
  const log = config.logger;
  const audit = createAudit(config.audit, log);
  const tokens = createTokenService({
    store: config.tokens.store,
    audit,
    log,
    defaultLifetimeSeconds: config.tokens.defaultLifetimeSeconds,
    maxLifetimeSeconds: config.tokens.maxLifetimeSeconds,
    verifyCacheMs: config.tokens.verifyCacheMs,
  });
  const keys = createSigningKeys({ retainSeconds: 86400 });
  const secrets = createSecretResolver(config.secrets, audit);
  // Users' own upstream credentials, encrypted under the vault's master key (or PORTCULLIS_MASTER_KEY).
  const vault = findVault(config.secrets);
  const userCredentials = createUserCredentials({ store: config.tokens.store, audit, vault });
  const mappers = mappersOf(config);
  // Identity headers are only ever set by the gateway: the same names arriving from a client are
  // removed before any strategy, hook or upstream could read them.
  const forged = [...new Set(mappers.flatMap((m) => m.headerNames?.() ?? []).map((h) => h.toLowerCase()))];
  const policy = permissionPolicy({ roles: config.roles, authorize: config.authorize, separator: config.server.separator });
  const registry = createRegistry(config.servers, log, { secrets, identity: config.identity, audit, userCredentials });
  const endpoint = createMcpEndpoint({
    registry,
    policy,
    audit,
    separator: config.server.separator,
    maxBodyBytes: config.server.maxBodyBytes,
    sessionIdleSeconds: config.server.sessionIdleSeconds,
    maxSessions: config.server.maxSessions,
    maxSessionsPerUser: config.server.maxSessionsPerUser,
    log,
  });
  // A revoked or rotated credential ends the MCP sessions it opened (at once, or when its grace ends).
  const offInvalidate = tokens.onInvalidate((id, endsAt) => endpoint.expireCredential(id, endsAt));
  const routes = routesOf([...config.auth, ...mappers]);
  const stepUp = new Set(config.auth.filter((s) => s.scopeStepUp).map((s) => s.name));
  routes.set("GET /.well-known/jwks.json", {
    method: "GET",
    path: "/.well-known/jwks.json",
    handler: async () => json(await keys.jwks()),
  });
  const pluginContext: PluginContext = {
    tokens,
    audit,
    log,
    store: config.tokens.store,
    keys,
    publicUrl: config.server.publicUrl,
    serversFor: (identity) => registry.names().filter((name) => policy.server(identity, name)),
    endSessions: (credentialId) => endpoint.expireCredential(credentialId, Date.now()),
  };
  const unknown = (err: unknown) => log.error("unhandled error", { error: err instanceof Error ? err.stack ?? err.message : String(err) });
  const adminHash = config.admin.token === undefined ? undefined : hashSecret(config.admin.token);
  let closing: Promise<void> | undefined;

  const started = (async () => {
    await config.tokens.store.open?.();
    for (const s of config.auth) await s.setup?.(pluginContext);
    for (const m of mappers) await m.setup?.(pluginContext);
    for (const s of config.secrets) await s.setup?.(pluginContext);
    await userCredentials.setup();
    if (config.admin.bootstrap && config.admin.token === undefined && !(await tokens.hasActiveAdmin())) {
      const { record, secret } = await tokens.create(
        { user: "admin", name: "First admin", scopes: ["admin", "mcp:read", "mcp:write"], expiresInSeconds: config.tokens.maxLifetimeSeconds },
        "bootstrap",
      );
      // Printed once, straight to the terminal and never through the logger or the audit trail.
      console.error(
        `\n[portcullis] No admin was configured, so an admin token was created (id ${record.id}).\n` +
          `[portcullis] It is shown only this once; only its hash is stored:\n\n    ${secret}\n`,
      );
    }
  })();
  started.catch((err) => log.error("gateway start failed", { error: err instanceof Error ? err.message : String(err) }));

  async function authenticate(request: Request, url: URL, info: RequestInfo, allowAdminToken: boolean): Promise<Identity> {
    if (allowAdminToken && adminHash) {
      const m = /^Bearer\s+(\S+)\s*$/i.exec(request.headers.get("authorization") ?? "");
      if (m && constantTimeEqual(await hashSecret(m[1]!), await adminHash)) {
        audit.emit({ type: "auth", outcome: "success", strategy: "admin-token", subject: "admin-token", path: url.pathname, remoteAddress: info.remoteAddress });
        return { subject: "admin-token", roles: [], scopes: ["admin"], strategy: "admin-token" };
      }
    }
    const result = await runAuth(config.auth, request, { url, info });
    if (result.ok) {
      const id = result.identity;
      audit.emit({ type: "auth", outcome: "success", strategy: id.strategy, subject: id.subject, tokenId: id.tokenId, path: url.pathname, remoteAddress: info.remoteAddress });
      return id;
    }
    audit.emit({
      type: "auth",
      outcome: "failure",
      strategy: result.strategy,
      tokenId: result.tokenId,
      code: result.error.code,
      reason: result.error.message,
      path: url.pathname,
      remoteAddress: info.remoteAddress,
    });
    throw result.error;
  }

  async function mcp(request: Request, url: URL, info: RequestInfo, only: string | undefined): Promise<Response> {
    if (!MCP_METHOD_SET.has(request.method)) {
      throw new GatewayError("ERR_METHOD_NOT_ALLOWED", `method ${request.method} is not allowed on ${url.pathname}`, { headers: { allow: MCP_METHODS } });
    }
    if (!originAllowed(request.headers.get("origin"), config.server.allowedOrigins)) {
      throw new GatewayError("ERR_FORBIDDEN_ORIGIN", "Origin not allowed");
    }
    const identity = await authenticate(request, url, info, false);
    // Step-up (RFC 6750 / MCP authorization): tell the client which scope to ask its authorization server for.
    const insufficient = (message: string) => {
      const prm = routes.has("GET /.well-known/oauth-protected-resource/mcp")
        ? `, resource_metadata="${(config.server.publicUrl ?? url.origin).replace(/\/+$/, "")}/.well-known/oauth-protected-resource/mcp"`
        : "";
      return new GatewayError("ERR_INSUFFICIENT_SCOPE", message, {
        headers: { "www-authenticate": `Bearer error="insufficient_scope", scope="mcp:read mcp:write"${prm}` },
      });
    };
    if (!identity.scopes.includes("mcp:read") && !identity.scopes.includes("mcp:write")) {
      throw insufficient("the credential carries neither mcp:read nor mcp:write");
    }
    if (only !== undefined && !registry.get(only)) throw new GatewayError("ERR_NOT_FOUND", `no MCP server named '${only}'`);
    const body = request.method === "POST" ? await readJsonBody(request, config.server.maxBodyBytes) : undefined;
    // JSON-RPC 2.0: an empty batch is an invalid request, whichever transport would otherwise take it.
    if (Array.isArray(body) && body.length === 0) throw new GatewayError("ERR_BAD_REQUEST", "Invalid Request: empty JSON-RPC batch");
    if (stepUp.has(identity.strategy) && await needsWriteScope(body, identity, only, { registry, policy, separator: config.server.separator })) {
      throw insufficient("this tool needs the mcp:write scope");
    }
    return endpoint.handle(request, identity, body, only);
  }

  async function fetch(input: Request, info: RequestInfo = {}): Promise<Response> {
    let request = input;
    for (const h of forged) {
      if (request.headers.has(h)) {
        const headers = new Headers(request.headers);
        for (const name of forged) headers.delete(name);
        request = new Request(request, { headers });
        break;
      }
    }
    let url: URL;
    try {
      url = new URL(request.url);
    } catch {
      return errorResponse("ERR_BAD_REQUEST", "bad request URL", 400);
    }
    const path = url.pathname;
    const isMcp = path === "/mcp" || path.startsWith("/mcp/");
    try {
      if (closing) throw new GatewayError("ERR_OVERLOADED", "the gateway is shutting down");
      await started;
      if (isMcp) {
        const rest = path.slice("/mcp/".length);
        if (path !== "/mcp" && (rest === "" || rest.includes("/"))) throw new GatewayError("ERR_NOT_FOUND", "not found");
        return await mcp(request, url, info, path === "/mcp" ? undefined : decodePathSegment(rest));
      }
      if (path === "/healthz") {
        if (request.method !== "GET" && request.method !== "HEAD") {
          throw new GatewayError("ERR_METHOD_NOT_ALLOWED", `method ${request.method} is not allowed on /healthz`, { headers: { allow: "GET, HEAD" } });
        }
        const upstreams: Record<string, string> = {};
        for (const c of registry.all()) upstreams[c.name] = c.state;
        const degraded = Object.values(upstreams).some((s) => s !== "ready");
        return json({ status: degraded ? "degraded" : "ok", upstreams, sessions: endpoint.sessionCount() });
      }
      if (path === "/v1/credentials" || path.startsWith("/v1/credentials/") || path === "/v1/me/credentials" || path.startsWith("/v1/me/credentials/")) {
        if (!originAllowed(request.headers.get("origin"), config.server.allowedOrigins)) {
          throw new GatewayError("ERR_FORBIDDEN_ORIGIN", "Origin not allowed");
        }
        const res = await handleCredentialsApi(request, url, { vault, users: userCredentials, servers: config.servers, authenticate: (req) => authenticate(req, url, info, true) });
        if (res) return res;
      }
      // Plugin routes may live under /v1/auth/ (the OAuth server's /v1/auth/sessions): they win over the token API.
      const route = findRoute(routes, request.method, path);
      if (path.startsWith("/v1/auth/")) {
        if (!originAllowed(request.headers.get("origin"), config.server.allowedOrigins)) {
          throw new GatewayError("ERR_FORBIDDEN_ORIGIN", "Origin not allowed");
        }
        const res = route ? undefined : await handleAuthApi(request, url, {
          tokens,
          separator: config.server.separator,
          defaultLifetimeSeconds: config.tokens.defaultLifetimeSeconds,
          authenticate: (req) => authenticate(req, url, info, true),
        });
        if (res) return res;
      }
      if (route) return await route.handler(request, { url, info, authenticate: () => authenticate(request, url, info, true) });
      throw new GatewayError("ERR_NOT_FOUND", "not found");
    } catch (err) {
      return toErrorResponse(err, isMcp, unknown);
    }
  }

  return {
    fetch,
    config,
    tokens,
    keys,
    ready: async () => {
      await started;
      await registry.ready();
    },
    close() {
      closing ??= (async () => {
        offInvalidate();
        await endpoint.close();
        await registry.close();
        await Promise.all([...config.auth, ...mappers, ...config.secrets].map((p) => p.close?.()));
        await tokens.close();
        await config.tokens.store.close();
        await audit.close();
      })();
      return closing;
    },
  };
}
