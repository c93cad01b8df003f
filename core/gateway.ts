import { createAudit } from "./audit/bus.ts";
import { adminBearerStrategy, adminTokenStrategy } from "./auth/admin-token.ts";
import { authenticator } from "./auth/authenticate.ts";
import { permissionPolicy } from "./auth/permissions.ts";
import { resolveConfig } from "./config/resolve.ts";
import { GatewayError } from "./errors.ts";
import { json } from "./http/responses.ts";
import { createRouter, type OwnedRoute } from "./http/router.ts";
import { handleRequest, stripHeaders } from "./http/steps.ts";
import { createMcpEndpoint } from "./mcp/endpoint.ts";
import { createRegistry } from "./mcp/registry.ts";
import type { UpstreamConnection } from "./mcp/upstream-connection.ts";
import { legacySseRoutes } from "./mcp/legacy-sse.ts";
import { mcpRoutes } from "./mcp/route.ts";
import { credentialRoutes, findVault } from "./secrets/api.ts";
import { createSecretResolver } from "./secrets/resolver.ts";
import { createUserCredentials } from "./secrets/user-credentials.ts";
import { createSigningKeys } from "./tokens/signing-keys.ts";
import { tokenRoutes } from "./tokens/api.ts";
import { createTokenService } from "./tokens/service.ts";
import type { Gateway, GatewayConfig, IdentityMapper, PluginContext, ResolvedConfig, Route } from "./types.ts";

/** Every identity mapper in force: the gateway's and each server's own. */
function mappersOf(config: ResolvedConfig): IdentityMapper[] {
  const all = new Set(config.identity);
  for (const u of Object.values(config.servers)) for (const m of u.identity || []) all.add(m);
  return [...all];
}

// Everything under /v1/ is the API browsers' pages call: the Origin check guards it whoever serves the route.
const owned = (owner: string, routes: readonly Route[] = []): OwnedRoute[] =>
  routes.map((r) => ({ ...r, origin: r.origin ?? r.path.startsWith("/v1/"), owner }));

/**
 * Validates a configuration and builds the gateway: a web-standard `fetch` handler plus `close()`.
 * Upstreams start connecting at once, in the background. What happens to one request is in
 * `handleRequest` (core/http/steps.ts): strip forged headers, find the route, check the Origin,
 * authenticate, run the handler, shape the error.
 *
 * @example
 * const gateway = createGateway(config);
 * const response = await gateway.fetch(new Request("http://127.0.0.1:8787/healthz"));
 * await gateway.close();
 */
export function createGateway(input: GatewayConfig): Gateway {
  const config = resolveConfig(input);
  const { server } = config;
  const log = config.logger;
  const audit = createAudit(config.audit, log);
  const tokens = createTokenService({ ...config.tokens, audit, log });
  const keys = createSigningKeys({ retainSeconds: 86400 });
  const secrets = createSecretResolver(config.secrets, audit);
  // Users' own upstream credentials, encrypted under the vault's master key (or PORTCULLIS_MASTER_KEY).
  const vault = findVault(config.secrets);
  const userCredentials = createUserCredentials({ store: config.tokens.store, audit, vault });
  const mappers = mappersOf(config);
  const policy = permissionPolicy({ roles: config.roles, authorize: config.authorize, separator: server.separator });
  const registry = createRegistry(config.servers, log, { secrets, identity: config.identity, audit, userCredentials });
  const endpoint = createMcpEndpoint({ registry, policy, audit, log, ...server });
  // Clients of the 2024-11-05 HTTP+SSE transport: /sse, /sse/<server> and /messages.
  const legacy = legacySseRoutes({ registry, policy, audit, log, ...server });
  // A revoked or rotated credential ends the MCP sessions it opened (at once, or when its grace ends).
  const expire = (id: string, endsAt: number): void => {
    endpoint.expireCredential(id, endsAt);
    legacy.expireCredential(id, endsAt);
  };
  const offInvalidate = tokens.onInvalidate(expire);

  // `/mcp` takes only the configured strategies; the admin API also takes the static admin token, and
  // gateway tokens with the admin scope whatever the configured strategies are.
  const admin = config.admin.token === undefined ? [] : [adminTokenStrategy(config.admin.token)];
  const authenticate = authenticator({ mcp: config.auth, other: [...admin, ...config.auth, adminBearerStrategy(tokens)], audit });

  const router = createRouter([
    ...owned("core", [
      ...mcpRoutes({
        endpoint,
        registry,
        policy,
        separator: server.separator,
        maxBodyBytes: server.maxBodyBytes,
        bodyTimeoutMs: server.bodyTimeoutMs,
        stepUp: new Set(config.auth.filter((s) => s.scopeStepUp).map((s) => s.name)),
        publicUrl: server.publicUrl,
        hasResourceMetadata: () => router.has("GET", "/.well-known/oauth-protected-resource/mcp"),
      }),
      ...legacy.routes,
      ...tokenRoutes({ tokens, store: config.tokens.store, strategies: config.auth, separator: server.separator, defaultLifetimeSeconds: config.tokens.defaultLifetimeSeconds, bodyTimeoutMs: server.bodyTimeoutMs }),
      ...credentialRoutes({ vault, users: userCredentials, servers: config.servers, bodyTimeoutMs: server.bodyTimeoutMs }),
      { method: "GET", path: "/.well-known/jwks.json", handler: async () => json(await keys.jwks()) },
      ...["GET", "HEAD"].map((method) => ({
        method: method as "GET" | "HEAD",
        path: "/healthz",
        handler: () => {
          const upstreams: Record<string, string> = {};
          // A server failing to connect is named with its last error, how many attempts and since when.
          const failures: Record<string, NonNullable<UpstreamConnection["failure"]>> = {};
          for (const c of registry.all()) {
            upstreams[c.name] = c.state;
            if (c.failure) failures[c.name] = c.failure;
          }
          const degraded = Object.values(upstreams).some((s) => s !== "ready");
          return json({ status: degraded ? "degraded" : "ok", upstreams, ...(Object.keys(failures).length > 0 ? { failures } : {}), sessions: endpoint.sessionCount() + legacy.sessionCount() });
        },
      })),
    ]),
    ...config.auth.flatMap((s) => owned(s.name, s.routes)),
    ...mappers.flatMap((m) => owned(m.name, m.routes)),
  ]);

  const pluginContext: PluginContext = {
    tokens,
    audit,
    log,
    store: config.tokens.store,
    keys,
    publicUrl: server.publicUrl,
    bodyTimeoutMs: server.bodyTimeoutMs,
    serversFor: (identity) => registry.names().filter((name) => policy.server(identity, name)),
    endSessions: (credentialId) => expire(credentialId, Date.now()),
  };
  let closing: Promise<void> | undefined;
  const started = (async () => {
    await config.tokens.store.open?.();
    for (const plugin of [...config.auth, ...mappers, ...config.secrets]) await plugin.setup?.(pluginContext);
    await userCredentials.setup();
    if (config.admin.bootstrap && config.admin.token === undefined && !(await tokens.hasActiveAdmin())) {
      // A library prints no secrets: the first admin token goes to whoever asked for it (the CLI prints it).
      const receive = input.admin?.onBootstrap;
      if (receive === undefined) {
        log.info("no admin is configured: set admin.token, or admin.onBootstrap to receive a first admin token");
      } else {
        const { record, secret } = await tokens.create(
          { user: "admin", name: "First admin", scopes: ["admin", "mcp:read", "mcp:write"], expiresInSeconds: config.tokens.maxLifetimeSeconds },
          "bootstrap",
        );
        try {
          await receive(secret, record.id);
        } catch (err) {
          // A secret nobody received must not count as the admin: the next start makes another.
          await tokens.revoke(record.id, "bootstrap");
          throw err;
        }
      }
    }
  })();
  started.catch((err) => log.error("gateway start failed", { error: err instanceof Error ? err.message : String(err) }));

  // Identity headers are only ever set by the gateway: the same names arriving from a client are
  // removed before any strategy, hook or upstream could read them.
  const proxyHeaders = [...new Set(config.auth.flatMap((s) => s.headerNames?.() ?? []).map((h) => h.toLowerCase()))];
  const strip = stripHeaders([...mappers.flatMap((m) => m.headerNames?.() ?? []), ...proxyHeaders]);

  return {
    fetch: (request, info = {}) =>
      handleRequest(strip(request), proxyHeaders.length === 0 ? info : { ...info, proxyHeaders: Object.fromEntries(proxyHeaders.flatMap((h) => request.headers.has(h) ? [[h, request.headers.get(h)!]] : [])) }, {
        router,
        authenticate,
        allowedOrigins: server.allowedOrigins,
        log,
        ready: () => {
          if (closing) throw new GatewayError("ERR_OVERLOADED", "the gateway is shutting down");
          return started;
        },
      }),
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
        await legacy.close();
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

