import { createAudit } from "./audit/bus.ts";
import { createAlerts } from "./audit/alerts.ts";
import { createLockout } from "./limits/lockout.ts";
import { createRateLimiter, tokenRateOf } from "./limits/rate-limit.ts";
import { createCounters } from "./tokens/counters.ts";
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
import { createKeyring, importMasterKey, type Keyring, MASTER_KEY_ENV } from "./secrets/crypto.ts";
import { readEnv } from "./config/interpolate.ts";
import { newId } from "./tokens/secret.ts";
import { createSigningKeys } from "./tokens/signing-keys.ts";
import { tokenRoutes } from "./tokens/api.ts";
import { createTokenService } from "./tokens/service.ts";
import { parseCidr } from "./observe/cidr.ts";
import { createMetrics } from "./observe/metrics.ts";
import { metricsBearerStrategy, metricsRoutes } from "./observe/metrics-route.ts";
import { createTracing } from "./observe/tracing.ts";
import { auditTail, consoleSessionRoutes } from "./console/api.ts";
import { consoleRoutes } from "./console/routes.ts";
import { createConsoleSessions } from "./console/sessions.ts";
import { consoleSessionStrategy } from "./console/strategy.ts";
import { tokenUsageHandler, createUsageTracker, usageRoutes } from "./tokens/usage.ts";
import { reviewRoutes } from "./tokens/review.ts";
import { masterKeyInUse } from "./secrets/master-key.ts";
import { createRotationNotices } from "./tokens/rotation-policy.ts";
import { withClientAddress } from "./http/client-address.ts";
import type { Gateway, GatewayConfig, IdentityMapper, PluginContext, ResolvedConfig, Route } from "./types.ts";

/** Every identity mapper in force: the gateway's and each server's own. */
function mappersOf(config: ResolvedConfig): IdentityMapper[] {
  const all = new Set(config.identity);
  for (const u of Object.values(config.servers)) for (const m of u.identity || []) all.add(m);
  return [...all];
}

/** The store channel on which processes sharing a store announce sessions ended for a credential. */
const SESSIONS_CHANNEL = "sessions-end";
/** The store channel on which processes sharing a store announce changed vault secrets and user credentials. */
const CREDENTIALS_CHANNEL = "credentials-changed";

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
  // Off unless configured: then no tracing SDK is even loaded.
  const tracing = createTracing(config.tracing, log);
  const tokens = createTokenService({ ...config.tokens, audit, log });
  // Per-token usage (calls by server/tool/day, addresses) from what the audit bus sees; `usage.onNewAddress`
  // tells when a token authenticates from an address it was never seen at.
  const usage = createUsageTracker({ store: config.tokens.store, bus: audit, log });
  // Failed attempts, rate-limit windows and alert counts: in the store's own counters when it has them, so
  // processes sharing a store count together.
  const counters = createCounters(config.tokens.store);
  const lockout = config.limits?.failedAuth ? createLockout(config.limits.failedAuth, counters, audit) : undefined;
  const rateLimiter = config.limits ? createRateLimiter(config.limits, counters, audit, async (id) => tokenRateOf(await config.tokens.store.get(id))) : undefined;
  const alerts = config.alerts?.length
    ? createAlerts(config.alerts, { bus: audit, counters, store: config.tokens.store, log, newAddresses: (listener) => usage.onNewAddress(listener) })
    : undefined;
  const rotation = Object.keys(config.tokens.policy.rotateEverySeconds).length > 0
    ? createRotationNotices({ policy: config.tokens.policy, tokens, store: config.tokens.store, audit, log })
    : undefined;
  const secrets = createSecretResolver(config.secrets, audit);
  // Users' own upstream credentials, encrypted under the vault's master key (or PORTCULLIS_MASTER_KEY).
  const vault = findVault(config.secrets);
  // A store with pub/sub is shared by several gateway processes: they share their signing keys through it
  // (private halves sealed under the master key) and tell each other about ended sessions.
  const store = config.tokens.store;
  const sharedStore = typeof store.subscribe === "function";
  const masterKeyring = async (): Promise<Keyring | undefined> => {
    const fromVault = vault?.keyring();
    if (fromVault) return fromVault;
    const text = config.keys?.masterKey ?? readEnv(MASTER_KEY_ENV);
    if (text === undefined || text.trim() === "") return undefined;
    return createKeyring([await importMasterKey(text, config.keys?.masterKey === undefined ? MASTER_KEY_ENV : "keys.masterKey")]);
  };
  const keys = createSigningKeys({
    retainSeconds: config.keys?.retainSeconds ?? 86400,
    ...(config.keys?.rotateEverySeconds === undefined ? {} : { rotateEverySeconds: config.keys.rotateEverySeconds }),
    ...(sharedStore ? { shared: { store, keyring: masterKeyring } } : {}),
    log,
  });
  const userCredentials = createUserCredentials({ store: config.tokens.store, audit, vault });
  // The console's sessions (cookie secret and CSRF token hashed, in the store's items) and the audit tail it shows admins.
  const consoleSessions = createConsoleSessions({ store: config.tokens.store, audit, idleMs: config.console.idleTimeoutSeconds * 1000, absoluteMs: config.console.absoluteTimeoutSeconds * 1000 });
  const consoleSecure = (url: URL): boolean => url.protocol === "https:" || (server.publicUrl?.startsWith("https:") ?? false);
  const tail = auditTail(audit);
  const mappers = mappersOf(config);
  const policy = permissionPolicy({ roles: config.roles, authorize: config.authorize, separator: server.separator });
  // On a shared store, a vault secret or a user's credential changed on another process reconnects the
  // upstream connections here that use it, as a change made here does.
  const remoteSecret = new Set<(name: string) => void>();
  const remoteUser = new Set<(subject: string, server: string) => void>();
  const sharedSecrets: typeof secrets = {
    resolve: (name, use) => secrets.resolve(name, use),
    redactor: secrets.redactor,
    onChange(listener) {
      const off = secrets.onChange(listener);
      remoteSecret.add(listener);
      return () => {
        off();
        remoteSecret.delete(listener);
      };
    },
  };
  const sharedUsers = {
    get: (subject: string, server: string) => userCredentials.get(subject, server),
    onChange(listener: (subject: string, server: string) => void): () => void {
      const off = userCredentials.onChange(listener);
      remoteUser.add(listener);
      return () => {
        off();
        remoteUser.delete(listener);
      };
    },
  };
  const registry = createRegistry(config.servers, log, { secrets: sharedSecrets, identity: config.identity, audit, userCredentials: sharedUsers, tracing });
  const endpoint = createMcpEndpoint({ registry, policy, audit, log, ...server, tracing });
  // Clients of the 2024-11-05 HTTP+SSE transport: /sse, /sse/<server> and /messages.
  const legacy = legacySseRoutes({ registry, policy, audit, log, ...server, tracing, ...(rateLimiter ? { limits: rateLimiter } : {}) });
  // A revoked or rotated credential ends the MCP sessions it opened (at once, or when its grace ends).
  const expire = (id: string, endsAt: number): void => {
    endpoint.expireCredential(id, endsAt);
    legacy.expireCredential(id, endsAt);
    consoleSessions.endForCredential(id, endsAt).catch((err: unknown) => log.warn("could not end the console sessions of a credential", { error: err instanceof Error ? err.message : String(err) }));
  };
  const offInvalidate = tokens.onInvalidate(expire);
  // Prometheus metrics: counters from the audit bus and the request step, gauges read at scrape time.
  const metrics = config.metrics?.enabled === false
    ? undefined
    : createMetrics({ audit, registry, sessions: () => ({ "streamable-http": endpoint.sessionCount(), sse: legacy.sessionCount() }), store: config.tokens.store });
  // Sessions ended here for a credential the token service does not know (an OAuth grant) end on every
  // other process on a shared store too.
  const origin = newId("gw_");
  const endSessions = (credentialId: string): void => {
    expire(credentialId, Date.now());
    store.publish?.(SESSIONS_CHANNEL, JSON.stringify({ from: origin, id: credentialId })).catch((err: unknown) => {
      log.warn("could not announce ended sessions to the other gateway processes", { error: err instanceof Error ? err.message : String(err) });
    });
  };
  let offSessions: (() => Promise<void>) | undefined;
  let offCredentials: (() => Promise<void>) | undefined;
  const announceCredential = (change: { kind: "secret"; name: string } | { kind: "user"; subject: string; server: string }): void => {
    store.publish?.(CREDENTIALS_CHANNEL, JSON.stringify({ from: origin, ...change })).catch((err: unknown) => {
      log.warn("could not announce a credential change to the other gateway processes", { error: err instanceof Error ? err.message : String(err) });
    });
  };
  const offLocalSecret = sharedStore ? secrets.onChange((name) => announceCredential({ kind: "secret", name })) : undefined;
  const offLocalUser = sharedStore ? userCredentials.onChange((subject, server) => announceCredential({ kind: "user", subject, server })) : undefined;

  // `/mcp` takes only the configured strategies; the admin API also takes the static admin token, and
  // gateway tokens with the admin scope whatever the configured strategies are.
  const admin = config.admin.token === undefined ? [] : [adminTokenStrategy(config.admin.token)];
  const authenticate = authenticator({ mcp: config.auth, other: [...admin, ...config.auth, adminBearerStrategy(tokens), consoleSessionStrategy({ sessions: consoleSessions, tokens, secure: consoleSecure })], audit, lockout });

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
        ...(rateLimiter ? { limits: rateLimiter } : {}),
      }),
      ...legacy.routes,
      ...tokenRoutes({ tokens, store: config.tokens.store, strategies: config.auth, separator: server.separator, defaultLifetimeSeconds: config.tokens.defaultLifetimeSeconds, bodyTimeoutMs: server.bodyTimeoutMs, usage: tokenUsageHandler({ tracker: usage, tokens }), serversFor: (identity) => registry.names().filter((name) => policy.server(identity, name)) }),
      ...usageRoutes({ tracker: usage, tokens }),
      ...reviewRoutes({ tokens, strategies: config.auth, policy: config.tokens.policy, ...(vault ? { secrets: () => vault.list(), masterKey: () => masterKeyInUse(config.tokens.store) } : {}) }),
      ...credentialRoutes({ vault, users: userCredentials, servers: config.servers, bodyTimeoutMs: server.bodyTimeoutMs }),
      ...(config.console.enabled
        ? [
          ...consoleRoutes({
            sessions: consoleSessions,
            authenticate,
            // The console signs users in as an OAuth client of this gateway's own endpoints, through the gateway itself.
            self: (request) => handleRequest(strip(request), {}, { router, authenticate, allowedOrigins: server.allowedOrigins, log, ready: () => started }),
            oauth: () => router.has("GET", "/oauth/authorize"),
            store: config.tokens.store,
            audit,
            publicUrl: server.publicUrl,
            idleMs: config.console.idleTimeoutSeconds * 1000,
            absoluteMs: config.console.absoluteTimeoutSeconds * 1000,
            bodyTimeoutMs: server.bodyTimeoutMs,
          }),
          ...consoleSessionRoutes(consoleSessions),
          ...tail.routes,
        ]
        : []),
      { method: "GET", path: "/.well-known/jwks.json", handler: async () => json(await keys.jwks()) },
      // A scraper from `metrics.allowFrom`, or a credential with the metrics or admin scope (a `metrics` gateway token whatever `auth` is).
      ...(metrics
        ? metricsRoutes({
          metrics,
          allowFrom: (config.metrics?.allowFrom ?? []).map((c) => parseCidr(c)!),
          authenticate: authenticator({ mcp: [], other: [...admin, ...config.auth, metricsBearerStrategy(tokens)], audit, lockout }),
        })
        : []),
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
    endSessions,
  };
  let closing: Promise<void> | undefined;
  const started = (async () => {
    await config.tokens.store.open?.();
    await tracing.ready();
    offSessions = await store.subscribe?.(SESSIONS_CHANNEL, (message) => {
      try {
        const m = JSON.parse(message) as { from?: unknown; id?: unknown };
        if (m.from !== origin && typeof m.id === "string") expire(m.id, Date.now());
      } catch {
        // Not one of ours.
      }
    });
    // Names only (a secret's name, a user and a server), never a value.
    offCredentials = await store.subscribe?.(CREDENTIALS_CHANNEL, (message) => {
      let m: { from?: unknown; kind?: unknown; name?: unknown; subject?: unknown; server?: unknown };
      try {
        m = JSON.parse(message);
      } catch {
        return;
      }
      if (m.from === origin) return;
      if (m.kind === "secret" && typeof m.name === "string") for (const l of remoteSecret) l(m.name);
      if (m.kind === "user" && typeof m.subject === "string" && typeof m.server === "string") for (const l of remoteUser) l(m.subject, m.server);
    });
    for (const plugin of [...config.auth, ...mappers, ...config.secrets]) await plugin.setup?.(pluginContext);
    await keys.start();
    await userCredentials.setup();
    // On a shared store, instances starting together must not each make a first admin: one takes the lock.
    const firstToBootstrap = async (): Promise<boolean> => !store.increment || (await store.increment("lock", "admin-bootstrap", 1, 60_000)) === 1;
    if (config.admin.bootstrap && config.admin.token === undefined && !(await tokens.hasActiveAdmin()) && await firstToBootstrap()) {
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
  const trustedProxies = server.trustedProxies.map((c) => parseCidr(c)!);
  const proxyHeaders = [...new Set(config.auth.flatMap((s) => s.headerNames?.() ?? []).map((h) => h.toLowerCase()))];
  const strip = stripHeaders([...mappers.flatMap((m) => m.headerNames?.() ?? []), ...proxyHeaders]);

  return {
    fetch: (request, given = {}) => {
      // Behind trusted proxies the client's address is the one their X-Forwarded-For names; from anyone
      // else that header means nothing.
      const info = trustedProxies.length === 0 ? given : withClientAddress(given, request.headers.get("x-forwarded-for"), trustedProxies);
      return handleRequest(strip(request), proxyHeaders.length === 0 ? info : { ...info, proxyHeaders: Object.fromEntries(proxyHeaders.flatMap((h) => request.headers.has(h) ? [[h, request.headers.get(h)!]] : [])) }, {
        router,
        authenticate,
        allowedOrigins: server.allowedOrigins,
        ...(rotation ? { headersFor: rotation.headersFor } : {}),
        ...(metrics ? { observe: metrics.request } : {}),
        log,
        ready: () => {
          if (closing) throw new GatewayError("ERR_OVERLOADED", "the gateway is shutting down");
          return started;
        },
      });
    },
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
        tail.close();
        await endpoint.close();
        await legacy.close();
        await registry.close();
        metrics?.close();
        // The spans of the last requests are exported before the gateway says it has closed.
        await tracing.close();
        await Promise.all([...config.auth, ...mappers, ...config.secrets].map((p) => p.close?.()));
        await alerts?.close();
        lockout?.close();
        counters.close();
        await tokens.close();
        await usage.close();
        await keys.close();
        await offSessions?.().catch(() => undefined);
        await offCredentials?.().catch(() => undefined);
        offLocalSecret?.();
        offLocalUser?.();
        await config.tokens.store.close();
        await audit.close();
      })();
      return closing;
    },
  };
}

