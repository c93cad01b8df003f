import { configError } from "../errors.ts";
import { interpolate } from "../config/interpolate.ts";

const BRAND: unique symbol = Symbol.for("portcullis.secret-ref") as never;

/** What a secret name may look like: `GITHUB_TOKEN`, `github.token`, `team-a/api-key`. */
export const SECRET_NAME = /^[A-Za-z_][A-Za-z0-9_.\/-]{0,127}$/;

/**
 * A reference to a secret, resolved when an upstream connection is built (so a changed value applies to
 * the next connection). Stands for the whole value of an `env` entry or header.
 */
export interface SecretRef {
  readonly [BRAND]: true;
  readonly name: string;
  /** `${secret:NAME}`, so a template literal such as `` `Bearer ${secret("X")}` `` works as well. */
  toString(): string;
}

/** A config value that may hold secrets: a plain string (with `${secret:NAME}` inside) or `secret("NAME")`. */
export type SecretValue = string | SecretRef;

/**
 * A reference to the secret `name`, for upstream `env` and `headers` values. The value is looked up in
 * the gateway's secret sources (`envSecrets()`, `vault()`) each time a connection is built.
 *
 * @example
 * stdio({ command: "github-mcp", env: { GITHUB_TOKEN: secret("GITHUB") } })
 * http({ url, headers: { Authorization: `Bearer ${secret("API_TOKEN")}` } })
 */
export function secret(name: string): SecretRef {
  if (typeof name !== "string" || !SECRET_NAME.test(name)) {
    throw configError("secret()", "expected a secret name of letters, digits, _ . / - (starting with a letter or _)", JSON.stringify(name));
  }
  const ref = Object.create(null) as { [BRAND]: true; name: string; toString(): string };
  Object.defineProperty(ref, BRAND, { value: true });
  Object.defineProperty(ref, "name", { value: name, enumerable: true });
  Object.defineProperty(ref, "toString", { value: () => `\${secret:${name}}` });
  return Object.freeze(ref) as SecretRef;
}

/**
 * Whether `value` came from `secret()`.
 *
 * @example
 * isSecretRef(secret("X")); // true
 */
export function isSecretRef(value: unknown): value is SecretRef {
  return typeof value === "object" && value !== null && (value as { [BRAND]?: boolean })[BRAND] === true;
}

/** A value split into literal text and secret names, ready to render once the secrets are known. */
export interface SecretTemplate {
  parts: Array<string | { secret: string }>;
  /** The secret names used, each once. */
  names: string[];
}

const REF = /\$\$\{|\$\{secret:([^}]*)\}/g;

/**
 * Parses a config value into a template: `secret("NAME")`, or a string in which `${secret:NAME}` marks a
 * secret and `${VAR}` is replaced from the environment now (`$${` is a literal `${`). Errors name `path`.
 *
 * @example
 * const t = parseSecretTemplate("Bearer ${secret:GITHUB}", "http.headers.Authorization");
 * t.names; // ["GITHUB"]
 */
export function parseSecretTemplate(value: unknown, path: string): SecretTemplate {
  if (isSecretRef(value)) return { parts: [{ secret: value.name }], names: [value.name] };
  if (typeof value !== "string") throw configError(path, 'expected a string or secret("NAME")', value === null ? "null" : typeof value);
  const parts: SecretTemplate["parts"] = [];
  const names = new Set<string>();
  let literal = "";
  let last = 0;
  for (const m of value.matchAll(REF)) {
    literal += value.slice(last, m.index);
    last = m.index! + m[0].length;
    // The escape stays in the literal for interpolate() to turn into `${`, exactly as elsewhere in configs.
    if (m[0] === "$${") {
      literal += "$${";
      continue;
    }
    const name = m[1]!;
    if (!SECRET_NAME.test(name)) throw configError(path, "expected ${secret:NAME} with a name of letters, digits, _ . / -", JSON.stringify(m[0]));
    if (literal) parts.push(interpolate(literal, path));
    literal = "";
    parts.push({ secret: name });
    names.add(name);
  }
  literal += value.slice(last);
  if (literal) parts.push(interpolate(literal, path));
  return { parts, names: [...names] };
}

/**
 * Renders a template with secret values from `resolve`.
 *
 * @example
 * const header = await renderSecretTemplate(t, (name) => ctx.secret(name));
 */
export async function renderSecretTemplate(template: SecretTemplate, resolve: (name: string) => Promise<string>): Promise<string> {
  let out = "";
  for (const p of template.parts) out += typeof p === "string" ? p : await resolve(p.secret);
  return out;
}
