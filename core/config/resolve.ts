import { configError, isGatewayError } from "../errors.ts";
import { parseDuration } from "../tokens/duration.ts";
import { memoryStore } from "../tokens/memory-store.ts";
import { resolveTokenPolicy } from "../tokens/rotation-policy.ts";
import { asTokenStore } from "../tokens/derive-store.ts";
import { identityHeaders } from "../mcp/identity-headers.ts";
import { envSecrets } from "../secrets/env.ts";
import { createLogger } from "../log.ts";
import type { GatewayConfig, ResolvedConfig } from "../types.ts";
import { collectMissingEnvSync, findMissingEnv, interpolate, readEnv } from "./interpolate.ts";
import { toolEntryProblem } from "../auth/permissions.ts";
import { checkServerNames } from "../mcp/namespacing.ts";
import { validateConfig } from "./schema.ts";
import { resolveLimits } from "../limits/settings.ts";
import { resolveAlertRules } from "../audit/alerts.ts";
import { resolveMetrics, resolveTracing } from "../observe/settings.ts";
import { parseCidr } from "../observe/cidr.ts";

/**
 * Validates a config and fills in defaults, without starting anything (used by `createGateway` and
 * `portcullis check`).
 *
 * @example
 * const resolved = resolveConfig(config); // throws ERR_CONFIG naming the path on a mistake
 */
export function resolveConfig(input: GatewayConfig): ResolvedConfig {
  // Every `${VAR}` missing from the settings resolved here is named in one error.
  return collectMissingEnvSync(() => resolve(input));
}

function resolveTls(t: NonNullable<NonNullable<GatewayConfig["server"]>["tls"]>): NonNullable<ResolvedConfig["server"]["tls"]> {
  const requestCert = t.requestCert ?? false;
  const ca = t.ca === undefined ? undefined : interpolate(t.ca, "server.tls.ca");
  // Without a CA there is nothing to verify a client certificate against: every one would be unauthorized.
  if (requestCert && ca === undefined) throw configError("server.tls.ca", "expected the CA file client certificates are verified against (server.tls.requestCert is true)");
  if (t.rejectUnauthorized && !requestCert) throw configError("server.tls.rejectUnauthorized", "expected server.tls.requestCert: true with it");
  return {
    cert: interpolate(t.cert, "server.tls.cert"),
    key: interpolate(t.key, "server.tls.key"),
    ...(ca === undefined ? {} : { ca }),
    minVersion: t.minVersion ?? "TLSv1.2",
    requestCert,
    rejectUnauthorized: t.rejectUnauthorized ?? false,
  };
}

function resolve(input: GatewayConfig): ResolvedConfig {
  const valid = validateConfig(input);
  const s = valid.server ?? {};
  const server: ResolvedConfig["server"] = {
    host: interpolate(s.host ?? "127.0.0.1", "server.host"),
    port: s.port ?? 8787,
    maxBodyBytes: s.maxBodyBytes ?? 4 * 1024 * 1024,
    allowedOrigins: (s.allowedOrigins ?? []).map((o, i) => {
      const value = interpolate(o, `server.allowedOrigins[${i}]`);
      // A missing variable is reported with the others; the origin it would have made cannot be judged.
      if (findMissingEnv(o).length > 0) return value;
      try {
        const url = new URL(value);
        if (url.protocol === "http:" || url.protocol === "https:") return url.origin;
      } catch {
        // reported below
      }
      throw configError(`server.allowedOrigins[${i}]`, "expected an origin such as https://app.example.com", JSON.stringify(value));
    }),
    trustedProxies: (s.trustedProxies ?? []).map((entry, i) => {
      const value = interpolate(entry, `server.trustedProxies[${i}]`);
      if (findMissingEnv(entry).length === 0 && parseCidr(value) === undefined) {
        throw configError(`server.trustedProxies[${i}]`, "expected an IP address or CIDR range such as 10.0.0.0/8 or ::1", JSON.stringify(value));
      }
      return value;
    }),
    separator: s.separator ?? "__",
    sessionIdleSeconds: s.sessionIdleSeconds ?? 600,
    maxSessions: s.maxSessions ?? 10_000,
    maxSessionsPerUser: s.maxSessionsPerUser ?? 16,
    bodyTimeoutMs: s.bodyTimeoutMs ?? 30_000,
    headersTimeoutMs: s.headersTimeoutMs ?? 15_000,
    publicUrl: s.publicUrl === undefined ? undefined : interpolate(s.publicUrl, "server.publicUrl").replace(/\/$/, ""),
  };
  if (s.tls !== undefined) server.tls = resolveTls(s.tls);
  const serverNames = Object.keys(input.servers);
  serverNames.forEach((name, i) => {
    // Namespaced names must split one way only: `notes` and `notes_` with `__` would both claim `notes___x`.
    const problem = checkServerNames(serverNames.slice(0, i + 1), server.separator);
    if (problem) throw configError(`servers.${name}`, problem);
  });
  const auth = [...(valid.auth ?? [])] as ResolvedConfig["auth"];
  const logger = input.logger ?? createLogger(input.logLevel ?? "info");
  const duration = (value: string | undefined, fallback: number, path: string): number => {
    if (value === undefined) return fallback;
    try {
      return parseDuration(value, path);
    } catch (err) {
      throw isGatewayError(err) ? configError(path, "expected a duration such as 90m, 24h, 7d or 30d", JSON.stringify(value)) : err;
    }
  };
  const tokens = {
    // A key-value store is accepted as it is and given the rest by deriveStore; a full store is used as is.
    store: input.tokens?.store ? asTokenStore(input.tokens.store) : memoryStore(),
    defaultLifetimeSeconds: duration(input.tokens?.defaultExpiresIn, 30 * 86400, "tokens.defaultExpiresIn"),
    maxLifetimeSeconds: duration(input.tokens?.maxExpiresIn, 365 * 86400, "tokens.maxExpiresIn"),
    verifyCacheMs: input.tokens?.verifyCacheMs ?? 1000,
    policy: resolveTokenPolicy(input.tokens, duration),
  };
  if (tokens.defaultLifetimeSeconds > tokens.maxLifetimeSeconds) {
    throw configError("tokens.defaultExpiresIn", "expected a lifetime no longer than tokens.maxExpiresIn");
  }
  const adminToken = input.admin?.token !== undefined ? interpolate(input.admin.token, "admin.token") : readEnv("PORTCULLIS_ADMIN_TOKEN") || undefined;
  if (adminToken !== undefined && adminToken.length < 32) {
    throw configError(input.admin?.token !== undefined ? "admin.token" : "PORTCULLIS_ADMIN_TOKEN", "expected at least 32 characters");
  }
  for (const [role, grant] of Object.entries(input.roles ?? {})) {
    (grant.tools ?? []).forEach((entry, i) => {
      const problem = toolEntryProblem(entry, server.separator);
      if (problem) throw configError(`roles.${role}.tools[${i}]`, problem, JSON.stringify(entry));
    });
  }
  return {
    server,
    auth,
    servers: { ...input.servers },
    logger,
    tokens,
    roles: input.roles,
    authorize: input.authorize,
    audit: input.audit === false ? [] : input.audit ?? [],
    identity: input.identity ?? [identityHeaders()],
    secrets: input.secrets ?? [envSecrets()],
    admin: { token: adminToken, bootstrap: input.admin?.bootstrap ?? true },
    console: {
      enabled: input.console?.enabled ?? true,
      idleTimeoutSeconds: duration(input.console?.idleTimeout, 1800, "console.idleTimeout"),
      absoluteTimeoutSeconds: duration(input.console?.absoluteTimeout, 43200, "console.absoluteTimeout"),
    },
    limits: resolveLimits(input.limits, Object.keys(input.servers)),
    alerts: resolveAlertRules(input.alerts),
    metrics: resolveMetrics(input.metrics),
    ...(input.tracing === undefined ? {} : { tracing: resolveTracing(input.tracing) }),
    keys: {
      ...(input.keys?.rotateEvery === undefined ? {} : { rotateEverySeconds: duration(input.keys.rotateEvery, 0, "keys.rotateEvery") }),
      retainSeconds: duration(input.keys?.retain, 86400, "keys.retain"),
      ...(input.keys?.masterKey === undefined ? {} : { masterKey: interpolate(input.keys.masterKey, "keys.masterKey") }),
    },
  };
}

