import { configError } from "../errors.ts";

const PATTERN = /\$\$\{|\$\{([A-Za-z_][A-Za-z0-9_]*)\}/g;

/** Reads one environment variable on any runtime, or undefined. */
export function readEnv(name: string): string | undefined {
  const g = globalThis as { Deno?: { env: { get(n: string): string | undefined } }; process?: { env: Record<string, string | undefined> } };
  if (g.Deno) return g.Deno.env.get(name);
  return g.process?.env[name];
}

/**
 * Replaces `${VAR}` in a string from the environment; `$${` stands for a literal `${`.
 * A missing variable is a config error naming the variable and the config path.
 *
 * @example
 * interpolate("Bearer ${GITHUB_TOKEN}", "servers.github.headers.Authorization");
 */
export function interpolate(value: string, path: string, env: (name: string) => string | undefined = readEnv): string {
  if (!value.includes("${")) return value;
  return value.replace(PATTERN, (match, name: string | undefined) => {
    if (match === "$${") return "${";
    const v = env(name!);
    if (v === undefined) throw configError(path, `environment variable ${name} is not set`);
    return v;
  });
}

/**
 * Interpolates every string inside plain objects and arrays, leaving functions and class instances alone.
 *
 * @example
 * const cfg = interpolateDeep(JSON.parse(text), "");
 */
export function interpolateDeep<T>(value: T, path: string, env?: (name: string) => string | undefined): T {
  if (typeof value === "string") return interpolate(value, path, env) as T;
  if (Array.isArray(value)) return value.map((v, i) => interpolateDeep(v, `${path}[${i}]`, env)) as T;
  if (value !== null && typeof value === "object" && Object.getPrototypeOf(value) === Object.prototype) {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = interpolateDeep(v, path ? `${path}.${k}` : k, env);
    return out as T;
  }
  return value;
}
