import { configError } from "../errors.ts";
import { createLogger } from "../log.ts";
import type { GatewayConfig, ResolvedConfig } from "../types.ts";
import { interpolate } from "./interpolate.ts";
import { validateConfig } from "./schema.ts";

/**
 * Validates a config and fills in defaults, without starting anything (used by `createGateway` and
 * `portcullis check`).
 *
 * @example
 * const resolved = resolveConfig(config); // throws ERR_CONFIG naming the path on a mistake
 */
export function resolveConfig(input: GatewayConfig): ResolvedConfig {
  const valid = validateConfig(input);
  const s = valid.server ?? {};
  const server: ResolvedConfig["server"] = {
    host: interpolate(s.host ?? "127.0.0.1", "server.host"),
    port: s.port ?? 8787,
    maxBodyBytes: s.maxBodyBytes ?? 4 * 1024 * 1024,
    allowedOrigins: (s.allowedOrigins ?? []).map((o, i) => new URL(interpolate(o, `server.allowedOrigins[${i}]`)).origin),
    separator: s.separator ?? "__",
    sessionIdleSeconds: s.sessionIdleSeconds ?? 1800,
    maxSessions: s.maxSessions ?? 10_000,
  };
  for (const name of Object.keys(input.servers)) {
    if (name.includes(server.separator)) {
      throw configError(`servers.${name}`, `server names must not contain the separator "${server.separator}"`);
    }
  }
  const auth = input.auth === undefined ? [] : Array.isArray(input.auth) ? [...input.auth] : [input.auth];
  const logger = input.logger ?? createLogger(input.logLevel ?? "info");
  return { server, auth, servers: { ...input.servers }, logger };
}

