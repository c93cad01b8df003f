import { GatewayError } from "../errors.ts";
import type { Logger } from "../types.ts";
import { referencedEnv } from "./interpolate.ts";

/**
 * Every `PORTCULLIS_*` variable the gateway reads, and the `PORTKEY_*` names accepted for the
 * Portkey-compatible setup. A variable of either prefix not listed here (nor named by the config with
 * `${VAR}`) is reported at start: it is most likely a typo that would otherwise be silently ignored.
 */
export const KNOWN_ENV: readonly string[] = [
  "PORTCULLIS_CONFIG",
  "PORTCULLIS_PORT",
  "PORTCULLIS_DATA_DIR",
  "PORTCULLIS_REDIS_URL",
  "PORTCULLIS_ADMIN_TOKEN",
  "PORTCULLIS_MASTER_KEY",
  "PORTCULLIS_MASTER_KEY_PREVIOUS",
  "PORTCULLIS_AUTH_TYPE",
  "PORTCULLIS_AUTH_ENABLED",
  "PORTCULLIS_API_KEY_HEADER",
  "PORTKEY_AUTH_TYPE",
  "PORTKEY_AUTH_ENABLED",
];

/** Prefixes of variable families the gateway documents for secrets (`envSecrets({ prefix: "PORTCULLIS_SECRET_" })`). */
const KNOWN_PREFIXES: readonly string[] = ["PORTCULLIS_SECRET_"];

/** A setting read from the environment, with the variable it came from (for error messages). */
export interface EnvSetting {
  value: string;
  /** The variable that was used: `PORTCULLIS_AUTH_TYPE` or its alias `PORTKEY_AUTH_TYPE`. */
  from: string;
}

/** The environment's auth overrides, as the CLI applies them. */
export interface AuthEnv {
  /** `PORTCULLIS_AUTH_TYPE` (or `PORTKEY_AUTH_TYPE`): the strategy that replaces the config's. */
  type?: EnvSetting;
  /** `PORTCULLIS_AUTH_ENABLED` (or `PORTKEY_AUTH_ENABLED`) as a boolean. */
  enabled?: { value: boolean; from: string };
}

function aliased(env: Record<string, string | undefined>, name: string, alias: string, conflicts: string[]): EnvSetting | undefined {
  const own = env[name];
  const other = env[alias];
  if (own !== undefined && own !== "") {
    if (other !== undefined && other !== "" && other !== own) conflicts.push(`${name} and ${alias} differ; ${name} is used`);
    return { value: own, from: name };
  }
  if (other !== undefined && other !== "") return { value: other, from: alias };
  return undefined;
}

/**
 * Reads `PORTCULLIS_AUTH_TYPE` and `PORTCULLIS_AUTH_ENABLED`, or their Portkey names `PORTKEY_AUTH_TYPE`
 * and `PORTKEY_AUTH_ENABLED`. A bad `..._ENABLED` is a config error naming the variable that was set.
 *
 * @example
 * const { type, enabled } = authFromEnv(process.env);
 */
export function authFromEnv(env: Record<string, string | undefined>): AuthEnv {
  const conflicts: string[] = [];
  const type = aliased(env, "PORTCULLIS_AUTH_TYPE", "PORTKEY_AUTH_TYPE", conflicts);
  const rawEnabled = aliased(env, "PORTCULLIS_AUTH_ENABLED", "PORTKEY_AUTH_ENABLED", conflicts);
  let enabled: AuthEnv["enabled"];
  if (rawEnabled) {
    const v = rawEnabled.value.trim().toLowerCase();
    if (!["true", "false", "1", "0"].includes(v)) {
      throw new GatewayError("ERR_CONFIG", `${rawEnabled.from}: expected true or false, received ${JSON.stringify(rawEnabled.value)}`);
    }
    enabled = { value: v === "true" || v === "1", from: rawEnabled.from };
  }
  return { type, enabled };
}

/**
 * The `PORTCULLIS_*` and `PORTKEY_*` variables set in `env` that the gateway does not read, the config
 * does not name with `${VAR}`, and no secret the config uses could be read from (a name ending in one of
 * `secretNames`), sorted. Only names: values are never looked at.
 *
 * @example
 * unknownEnv(process.env); // ["PORTCULLIS_PROT"]
 */
export function unknownEnv(env: Record<string, string | undefined>, known: Iterable<string> = [], secretNames: Iterable<string> = []): string[] {
  const ok = new Set([...KNOWN_ENV, ...known, ...referencedEnv()]);
  // `secret("TOKEN")` is read from `$TOKEN`, or `$<prefix>TOKEN` with envSecrets({ prefix }).
  const secrets = [...secretNames];
  return Object.keys(env)
    .filter((k) => /^(PORTCULLIS|PORTKEY)_/.test(k) && env[k] !== undefined && !ok.has(k))
    .filter((k) => !KNOWN_PREFIXES.some((p) => k.startsWith(p)) && !secrets.some((n) => k.endsWith(n)))
    .sort();
}

/** Edit distance between two names, for "did you mean" (names are short, so the quadratic table is fine). */
function distance(a: string, b: string): number {
  let row = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const next = [i];
    for (let j = 1; j <= b.length; j++) next[j] = Math.min(row[j]! + 1, next[j - 1]! + 1, row[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    row = next;
  }
  return row[b.length]!;
}

/**
 * The known variable a typo most likely meant, if one is close enough.
 *
 * @example
 * closestKnownEnv("PORTCULLIS_PROT"); // "PORTCULLIS_PORT"
 */
export function closestKnownEnv(name: string): string | undefined {
  let best: { name: string; d: number } | undefined;
  for (const k of KNOWN_ENV) {
    const d = distance(name, k);
    if (d <= 3 && (!best || d < best.d)) best = { name: k, d };
  }
  return best?.name;
}

/**
 * Warns once, through the logger, about each unknown `PORTCULLIS_*`/`PORTKEY_*` variable (by name,
 * never its value) and about a `PORTCULLIS_` variable and its `PORTKEY_` alias that disagree.
 *
 * @example
 * warnAboutEnv(process.env, gateway.config.logger, [], ["GITHUB_TOKEN"]);
 */
export function warnAboutEnv(env: Record<string, string | undefined>, log: Logger, known: Iterable<string> = [], secretNames: Iterable<string> = []): void {
  for (const name of unknownEnv(env, known, secretNames)) {
    const guess = closestKnownEnv(name);
    log.warn(`unknown environment variable ${name} is ignored${guess ? `; did you mean ${guess}?` : ""}`, { variable: name });
  }
  const conflicts: string[] = [];
  aliased(env, "PORTCULLIS_AUTH_TYPE", "PORTKEY_AUTH_TYPE", conflicts);
  aliased(env, "PORTCULLIS_AUTH_ENABLED", "PORTKEY_AUTH_ENABLED", conflicts);
  for (const conflict of conflicts) log.warn(conflict);
}
