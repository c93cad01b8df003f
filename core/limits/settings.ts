import { configError, isGatewayError } from "../errors.ts";
import { parseDuration } from "../tokens/duration.ts";
import type { LimitSettings, ResolvedLimits } from "../types.ts";
import { LOCKOUT_DEFAULTS } from "./lockout.ts";
import { parseRate, type Rate } from "./rate.ts";

function asConfig<T>(path: string, expected: string, value: unknown, parse: () => T): T {
  try {
    return parse();
  } catch (err) {
    throw isGatewayError(err) ? configError(path, expected, JSON.stringify(value)) : err;
  }
}

function rateAt(value: string, path: string): Rate {
  return asConfig(path, "expected a rate such as 100/m, 1000/h or 20/10s", value, () => parseRate(value, path));
}

function msAt(value: string | undefined, fallback: number, path: string): number {
  return value === undefined ? fallback : asConfig(path, "expected a duration such as 30s, 1m, 5m or 1h", value, () => parseDuration(value, path) * 1000);
}

/**
 * `limits` after validation and defaults: the failed-authentication defence on unless turned off, rates
 * parsed; undefined for `limits: false`. Server names in `limits.server` must be configured servers.
 *
 * @example
 * resolveLimits({ token: "100/m" }, ["github"]); // { failedAuth: { windowMs: 60000, ... }, token: { limit: 100, windowMs: 60000, text: "100/m" }, servers: {} }
 */
export function resolveLimits(input: LimitSettings | false | undefined, serverNames: readonly string[]): ResolvedLimits | undefined {
  if (input === false) return undefined;
  const o = input ?? {};
  const out: ResolvedLimits = { servers: {} };
  if (o.failedAuth !== false) {
    const f = o.failedAuth ?? {};
    out.failedAuth = {
      windowMs: msAt(f.within, LOCKOUT_DEFAULTS.windowMs, "limits.failedAuth.within"),
      slowAfter: f.slowAfter ?? Math.min(LOCKOUT_DEFAULTS.slowAfter, f.lockAfter ?? Infinity),
      delayMs: f.delayMs ?? LOCKOUT_DEFAULTS.delayMs,
      lockAfter: f.lockAfter ?? LOCKOUT_DEFAULTS.lockAfter,
      lockMs: msAt(f.lockFor, LOCKOUT_DEFAULTS.lockMs, "limits.failedAuth.lockFor"),
    };
  }
  if (o.token !== undefined) out.token = rateAt(o.token, "limits.token");
  if (o.user !== undefined) out.user = rateAt(o.user, "limits.user");
  if (typeof o.server === "string") out.server = rateAt(o.server, "limits.server");
  else if (o.server !== undefined) {
    for (const [name, value] of Object.entries(o.server)) {
      if (name === "*") out.server = rateAt(value, "limits.server[*]");
      else if (!serverNames.includes(name)) throw configError(`limits.server.${name}`, `expected the name of a configured server (${serverNames.join(", ") || "none configured"}) or *`);
      else out.servers[name] = rateAt(value, `limits.server.${name}`);
    }
  }
  return out;
}
