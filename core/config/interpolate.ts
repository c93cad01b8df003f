import { GatewayError } from "../errors.ts";

const PATTERN = /\$\$\{|\$\{([A-Za-z_][A-Za-z0-9_]*)\}/g;

/** One `${VAR}` a config uses that the environment does not have. */
export interface MissingEnv {
  /** The variable's name. */
  name: string;
  /** Where in the config it is used (`mcpServers.github.env.GITHUB_TOKEN`). */
  path: string;
}

// Shared through globalThis rather than a module variable: a TypeScript config imports `portcullis`, which
// on Node is the built bundle, a second copy of this module beside the CLI's own.
const STATE = Symbol.for("portcullis.config-env");

interface EnvState {
  /** Collectors of the config loads in progress, innermost last. */
  collectors: MissingEnv[][];
  /** Every variable a config named with `${VAR}`, set or not, so it is never reported as unknown. */
  referenced: Set<string>;
}

function state(): EnvState {
  const g = globalThis as { [STATE]?: EnvState };
  return (g[STATE] ??= { collectors: [], referenced: new Set() });
}

/** Reads one environment variable on any runtime, or undefined. */
export function readEnv(name: string): string | undefined {
  const g = globalThis as { Deno?: { env: { get(n: string): string | undefined } }; process?: { env: Record<string, string | undefined> } };
  if (g.Deno) return g.Deno.env.get(name);
  return g.process?.env[name];
}

/**
 * The config error listing every missing variable, each with the path that uses it.
 *
 * @example
 * throw missingEnvError([{ name: "GITHUB_TOKEN", path: "mcpServers.github.env.GITHUB_TOKEN" }]);
 */
export function missingEnvError(missing: readonly MissingEnv[]): GatewayError {
  const lines = [...new Set(missing.map((m) => `${m.path || "config"}: environment variable ${m.name} is not set`))];
  if (lines.length === 1) return new GatewayError("ERR_CONFIG", lines[0]!);
  const names = [...new Set(missing.map((m) => m.name))];
  return new GatewayError("ERR_CONFIG", `invalid gateway config: ${names.length} environment variable${names.length === 1 ? " is" : "s are"} not set (${names.join(", ")}):\n  ${lines.join("\n  ")}`);
}

/**
 * Replaces `${VAR}` in a string from the environment; `$${` stands for a literal `${`.
 * A missing variable is a config error naming the variable and the config path; while a config is
 * being loaded (`collectMissingEnv`), it is recorded instead, so one error can name every missing one.
 *
 * @example
 * interpolate("Bearer ${GITHUB_TOKEN}", "servers.github.headers.Authorization");
 */
export function interpolate(value: string, path: string, env: (name: string) => string | undefined = readEnv): string {
  if (!value.includes("${")) return value;
  const missing: MissingEnv[] = [];
  const out = value.replace(PATTERN, (match, name: string | undefined) => {
    if (match === "$${") return "${";
    state().referenced.add(name!);
    const v = env(name!);
    if (v === undefined) {
      missing.push({ name: name!, path });
      return match;
    }
    return v;
  });
  if (missing.length === 0) return out;
  const collector = state().collectors.at(-1);
  if (!collector) throw missingEnvError(missing);
  collector.push(...missing);
  return out;
}

/**
 * Interpolates every string inside plain objects and arrays, leaving functions and class instances alone.
 *
 * @example
 * const cfg = interpolateDeep(JSON.parse(text), "");
 */
export function interpolateDeep<T>(value: T, path: string, env?: (name: string) => string | undefined): T {
  // Inside a config load the load's collector gathers them; on its own, one error names them all.
  if (state().collectors.length > 0) return walk(value, path, env);
  return collectMissingEnvSync(() => walk(value, path, env));
}

function walk<T>(value: T, path: string, env?: (name: string) => string | undefined): T {
  if (typeof value === "string") return interpolate(value, path, env) as T;
  if (Array.isArray(value)) return value.map((v, i) => walk(v, `${path}[${i}]`, env)) as T;
  if (value !== null && typeof value === "object" && Object.getPrototypeOf(value) === Object.prototype) {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = walk(v, path ? `${path}.${k}` : k, env);
    return out as T;
  }
  return value;
}

/**
 * Every `${VAR}` in a JSON document whose variable is not set, with its path; nothing is replaced.
 *
 * @example
 * findMissingEnv(JSON.parse(text)); // [{ name: "GITHUB_TOKEN", path: "mcpServers.github.env.GITHUB_TOKEN" }]
 */
export function findMissingEnv(value: unknown, path = "", env: (name: string) => string | undefined = readEnv): MissingEnv[] {
  if (typeof value === "string") {
    const out: MissingEnv[] = [];
    for (const m of value.matchAll(PATTERN)) {
      if (m[1] === undefined) continue;
      state().referenced.add(m[1]);
      if (env(m[1]) === undefined) out.push({ name: m[1], path });
    }
    return out;
  }
  if (Array.isArray(value)) return value.flatMap((v, i) => findMissingEnv(v, `${path}[${i}]`, env));
  if (value !== null && typeof value === "object") {
    return Object.entries(value).flatMap(([k, v]) => findMissingEnv(v, path ? `${path}.${k}` : k, env));
  }
  return [];
}

/**
 * Runs `fn` (a config being built) with missing variables recorded rather than thrown at the first;
 * afterwards one error names them all. A missing variable wins over any other error `fn` throws, which
 * is most likely its consequence (a URL that is only `${VAR}`, say).
 *
 * @example
 * const config = collectMissingEnvSync(() => buildConfig());
 */
export function collectMissingEnvSync<T>(fn: () => T): T {
  const c = collecting();
  try {
    return c.check(fn());
  } catch (err) {
    throw c.fail(err);
  } finally {
    c.done();
  }
}

/** One collection of missing variables: what a result or an error becomes once `fn` has run. */
function collecting(): { check<T>(result: T): T; fail(err: unknown): unknown; done(): void } {
  const { collectors } = state();
  const mine: MissingEnv[] = [];
  collectors.push(mine);
  return {
    check(result) {
      if (mine.length > 0) throw missingEnvError(mine);
      return result;
    },
    fail: (err) => mine.length > 0 ? missingEnvError(mine) : err,
    done: () => void collectors.splice(collectors.lastIndexOf(mine), 1),
  };
}

/**
 * `collectMissingEnvSync` for an asynchronous `fn`, such as importing a TypeScript config.
 *
 * @example
 * const mod = await collectMissingEnv(() => import(url));
 */
export async function collectMissingEnv<T>(fn: () => Promise<T>): Promise<T> {
  const c = collecting();
  try {
    return c.check(await fn());
  } catch (err) {
    throw c.fail(err);
  } finally {
    c.done();
  }
}

/**
 * The variables configs loaded in this process named with `${VAR}` (so they are known, not typos).
 *
 * @example
 * referencedEnv().has("GITHUB_TOKEN");
 */
export function referencedEnv(): ReadonlySet<string> {
  return state().referenced;
}
