import { GatewayError, isGatewayError } from "../errors.ts";
import { identityHeaders as coreIdentityHeaders, type IdentityField } from "../mcp/identity-headers.ts";
import { checkServerNames } from "../mcp/namespacing.ts";
import { envSecrets as coreEnvSecrets } from "../secrets/env.ts";
import { memoryStore as coreMemoryStore } from "../tokens/memory-store.ts";
import type { AuditSink, AuthStrategy, GatewayConfig, IdentityMapper, KeyValueStore, SecretSource, TokenStore, Upstream } from "../types.ts";
import { findMissingEnv, interpolate, interpolateDeep } from "./interpolate.ts";
import { GATEWAY_JSON_SCHEMA, type JsonSchema } from "./json-schema.ts";
import { type SchemaIssue, validateJson } from "./json-validate.ts";

/** Options shared by the JSON forms of both upstream kinds. */
interface JsonUpstreamOptions {
  timeoutMs?: number;
  connectTimeoutMs?: number;
  restart?: { initialDelayMs?: number; maxDelayMs?: number };
  identity?: IdentityMapper[] | false;
  allowSampling?: boolean;
  allowElicitation?: boolean;
  maxCallerConnections?: number;
  maxCallerConnectionsPerUser?: number;
}

/** What `stdio()` is called with for a JSON `{ command }` or `{ script }` server. */
export interface JsonStdioOptions extends JsonUpstreamOptions {
  command?: string;
  args?: string[];
  script?: string;
  env?: Record<string, string>;
  cwd?: string;
  inheritEnv?: boolean;
  stderr?: "log" | "inherit" | "ignore";
  userCredential?: { env: string; required?: boolean; idleSeconds?: number };
}

/** What `http()` is called with for a JSON `{ url }` server. */
export interface JsonHttpOptions extends JsonUpstreamOptions {
  url: string;
  headers?: Record<string, string>;
  userCredential?: { header?: string; format?: string; required?: boolean; idleSeconds?: number };
}

/**
 * The plugin factories a JSON config is turned into, passed in so core does not depend on plugins (the
 * CLI passes the built-in ones). The defaults core itself has (identity headers, environment secrets,
 * the memory store) are used when left out; a config naming a plugin that was not passed is an error.
 */
export interface JsonPluginFactories {
  stdio(options: JsonStdioOptions): Upstream;
  http(options: JsonHttpOptions): Upstream;
  identityHeaders(options: { fields?: IdentityField[]; names?: Partial<Record<IdentityField, string>> }): IdentityMapper;
  jwtAssertion?(options: { header?: string; expiresInSeconds?: number; issuer?: string; audience?: (server: string) => string }): IdentityMapper;
  envSecrets?(options: { prefix?: string }): SecretSource;
  vault?(options: { masterKey?: string; previousKeys?: string[] }): SecretSource;
  jsonlAudit?(options: { path: string; maxBuffered?: number; flushMs?: number }): AuditSink;
  consoleAudit?(): AuditSink;
  fileStore?(options: { dir: string }): TokenStore | KeyValueStore;
  memoryStore?(): TokenStore | KeyValueStore;
}

/**
 * Makes the strategies of one `auth` entry of a JSON config (`{ "type": "bearer", ... }`), given the entry
 * with `${VAR}` already replaced and its JSON path for errors.
 */
export type JsonAuthFactory = (auth: Record<string, unknown>, path: string) => GatewayConfig["auth"];

type Json = Record<string, unknown>;

interface JsonIdentityForwarding {
  enabled?: boolean;
  headers?: IdentityField[];
  headerNames?: Partial<Record<IdentityField, string>>;
  jwtAssertion?: boolean | { header?: string; expiresInSeconds?: number; issuer?: string; audience?: string };
}

const ROOT = GATEWAY_JSON_SCHEMA;

function isObject(value: unknown): value is Json {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function line(issue: SchemaIssue): string {
  return `${issue.path || "config"}: ${issue.message}`;
}

function fail(lines: string[]): GatewayError {
  return new GatewayError("ERR_CONFIG", `invalid gateway config:\n  ${[...new Set(lines)].join("\n  ")}`);
}

/**
 * The lines of a plugin factory's config error, with the factory's own path prefix (`stdio`, `auth.oauth`,
 * `oidc` ...) replaced by the JSON path the options came from. Anything else is rethrown.
 */
function repath(err: unknown, prefixes: readonly string[], to: string): string[] {
  if (!isGatewayError(err) || err.code !== "ERR_CONFIG") throw err;
  const lines = err.message.split("\n").map((l) => l.trim()).filter((l) => l !== "" && l !== "invalid gateway config:");
  return lines.map((l) => {
    for (const p of prefixes) {
      if (l.startsWith(p) && /^[.:[]/.test(l.slice(p.length))) return `${to}${l.slice(p.length)}`;
    }
    return l;
  });
}

/** The auth entries of a config and the JSON path of each: `auth` for one object, `auth[i]` in a list. */
function authEntries(auth: unknown): Array<{ entry: unknown; path: string }> {
  if (auth === undefined) return [];
  if (Array.isArray(auth)) return auth.map((entry, i) => ({ entry, path: `auth[${i}]` }));
  return [{ entry: auth, path: "auth" }];
}

/**
 * Checks the auth entries: `enabled` a boolean, `type` one the caller can build, and, for the types the
 * schema describes, the entry against its schema. Disabled entries are not looked at further.
 */
function authIssues(auth: unknown, known: Record<string, JsonAuthFactory>): SchemaIssue[] {
  if (auth !== undefined && !isObject(auth) && !Array.isArray(auth)) {
    return validateJson(auth, (ROOT.properties as Record<string, JsonSchema>).auth!, ROOT, "auth");
  }
  const issues: SchemaIssue[] = [];
  const types = Object.keys(known);
  for (const { entry, path } of authEntries(auth)) {
    if (!isObject(entry)) {
      issues.push(...validateJson(entry, { $ref: "#/$defs/authStrategy" }, ROOT, path));
      continue;
    }
    if (entry.enabled !== undefined && typeof entry.enabled !== "boolean") {
      issues.push({ path: `${path}.enabled`, message: `expected true or false, received ${JSON.stringify(entry.enabled)}` });
      continue;
    }
    if (entry.enabled === false) continue;
    if (typeof entry.type !== "string" || !Object.hasOwn(known, entry.type)) {
      const expected = types.length ? `one of ${types.join(", ")}` : "no type (no built-in strategy is available in this version)";
      issues.push({ path: `${path}.type`, message: `${entry.type === undefined ? "required, but missing; expected" : "expected"} ${expected}${entry.type === undefined ? "" : `, received ${JSON.stringify(entry.type)}`}` });
      continue;
    }
    // Types registered by the caller beyond the built-in ones are theirs to check.
    if ((ROOT.$defs as Record<string, JsonSchema>)[`auth-${entry.type}`]) {
      issues.push(...validateJson(entry, { $ref: `#/$defs/auth-${entry.type}` }, ROOT, path));
    }
  }
  return issues;
}

/**
 * Every problem of a JSON config the schema can tell, each with its JSON path: the document against
 * `GATEWAY_JSON_SCHEMA`, the auth entries against the types `auth` can build.
 *
 * @example
 * checkJsonConfig({ mcpServers: { a: { command: 5 } } }, jsonAuthTypes); // [{ path: "mcpServers.a.command", ... }]
 */
export function checkJsonConfig(input: unknown, auth: Record<string, JsonAuthFactory>): SchemaIssue[] {
  if (!isObject(input)) return validateJson(input, ROOT);
  const { auth: authPart, ...rest } = input;
  return [...validateJson(rest, ROOT), ...authIssues(authPart, auth)];
}

/** `jwtAssertion.audience` as data: a string in which `{server}` stands for the server's name. */
function audienceOf(template: string | undefined): ((server: string) => string) | undefined {
  return template === undefined ? undefined : (server) => template.replaceAll("{server}", server);
}

function need<K extends keyof JsonPluginFactories>(factories: JsonPluginFactories, key: K, path: string): NonNullable<JsonPluginFactories[K]> {
  const f = factories[key];
  if (!f) throw new GatewayError("ERR_CONFIG", `${path}: the ${String(key)} plugin is not available to this JSON config loader`);
  return f as NonNullable<JsonPluginFactories[K]>;
}

/** The identity mappers of an `identityForwarding` block; false when it turns forwarding off. */
function identityOf(raw: JsonIdentityForwarding, path: string, factories: JsonPluginFactories): IdentityMapper[] | false {
  const spec = interpolateDeep(raw, path);
  if (spec.enabled === false) return false;
  const out: IdentityMapper[] = [];
  if (!(Array.isArray(spec.headers) && spec.headers.length === 0)) {
    const options: Parameters<JsonPluginFactories["identityHeaders"]>[0] = {};
    if (spec.headers !== undefined) options.fields = spec.headers;
    if (spec.headerNames !== undefined) options.names = spec.headerNames;
    out.push(factories.identityHeaders(options));
  }
  if (spec.jwtAssertion !== undefined && spec.jwtAssertion !== false) {
    const j = spec.jwtAssertion === true ? {} : spec.jwtAssertion;
    const make = need(factories, "jwtAssertion", `${path}.jwtAssertion`);
    try {
      out.push(make({ ...j, audience: audienceOf(j.audience) }));
    } catch (err) {
      throw new GatewayError("ERR_CONFIG", repath(err, ["jwtAssertion"], `${path}.jwtAssertion`).join("\n  "));
    }
  }
  return out;
}

/**
 * One server of `mcpServers`. Its strings go to `stdio()`/`http()` as written: they replace `${VAR}`
 * themselves, once, and keep `${secret:NAME}` for the secret sources. Only its `identityForwarding` is
 * interpolated here, as it is made into mappers here.
 */
function upstreamOf(name: string, entry: Json, factories: JsonPluginFactories): Upstream {
  const { type: _type, identityForwarding, ...options } = entry;
  const path = `mcpServers.${name}`;
  const identity = identityForwarding === undefined ? undefined : identityOf(identityForwarding as JsonIdentityForwarding, `${path}.identityForwarding`, factories);
  const withIdentity = identity === undefined ? options : { ...options, identity };
  try {
    return "url" in entry ? factories.http(withIdentity as unknown as JsonHttpOptions) : factories.stdio(withIdentity as JsonStdioOptions);
  } catch (err) {
    throw new GatewayError("ERR_CONFIG", repath(err, ["stdio", "http"], path).join("\n  "));
  }
}

function storeOf(raw: Json, factories: JsonPluginFactories): TokenStore | KeyValueStore {
  const spec = interpolateDeep(raw, "tokens.store");
  if (spec.type === "memory") return (factories.memoryStore ?? coreMemoryStore)();
  try {
    return need(factories, "fileStore", "tokens.store")({ dir: spec.dir as string });
  } catch (err) {
    throw new GatewayError("ERR_CONFIG", repath(err, ["fileStore"], "tokens.store").join("\n  "));
  }
}

function auditOf(raw: unknown, factories: JsonPluginFactories): AuditSink[] | false | undefined {
  if (raw === undefined || raw === true) return undefined;
  if (raw === false) return false;
  let sinks: unknown[];
  if (Array.isArray(raw)) sinks = raw;
  else {
    const settings = raw as { enabled?: boolean; sinks?: unknown[] };
    if (settings.enabled === false) return false;
    if (settings.sinks === undefined) return undefined;
    sinks = settings.sinks;
  }
  const base = Array.isArray(raw) ? "audit" : "audit.sinks";
  return sinks.map((s, i) => {
    const path = `${base}[${i}]`;
    const spec = interpolateDeep(s as Json, path);
    try {
      if (spec.type === "console") return need(factories, "consoleAudit", path)();
      const { type: _type, ...options } = spec;
      return need(factories, "jsonlAudit", path)(options as { path: string });
    } catch (err) {
      throw new GatewayError("ERR_CONFIG", repath(err, ["jsonlAudit"], path).join("\n  "));
    }
  });
}

function secretsOf(raw: Json[], factories: JsonPluginFactories): SecretSource[] {
  return raw.map((s, i) => {
    const path = `secrets[${i}]`;
    try {
      if (s.type === "vault") {
        // vault() replaces `${VAR}` in its keys itself: they are passed as written.
        const { type: _type, ...options } = s;
        return need(factories, "vault", path)(options);
      }
      const { type: _type, ...options } = interpolateDeep(s, path);
      return (factories.envSecrets ?? coreEnvSecrets)(options as { prefix?: string });
    } catch (err) {
      throw new GatewayError("ERR_CONFIG", repath(err, ["vault", "envSecrets"], path).join("\n  "));
    }
  });
}

/**
 * Converts a JSON config into a gateway config: the Portkey-compatible keys (`server`, `auth`,
 * `mcpServers`, `identityForwarding`) and every built-in plugin that can be written as data (`tokens`,
 * `roles`, `audit`, `secrets`, `admin`, `logLevel`; see core/config/gateway.config.schema.json). Every problem is
 * reported at once, each with its JSON path: what the schema tells, every `${VAR}` that is not set,
 * then what the plugin factories find. Each string is interpolated exactly once.
 *
 * @example
 * const config = fromJsonConfig(JSON.parse(text), { stdio, http, identityHeaders }, jsonAuthTypes);
 */
export function fromJsonConfig(input: unknown, factories: JsonPluginFactories, auth: Record<string, JsonAuthFactory>): GatewayConfig {
  const issues = checkJsonConfig(input, auth);
  const missing = findMissingEnv(input);
  if (issues.length > 0 || missing.length > 0) {
    throw fail([...issues.map(line), ...missing.map((m) => `${m.path}: environment variable ${m.name} is not set`)]);
  }
  const json = input as Json;
  const problems: string[] = [];
  const attempt = <T>(fn: () => T): T | undefined => {
    try {
      return fn();
    } catch (err) {
      if (!isGatewayError(err) || err.code !== "ERR_CONFIG") throw err;
      problems.push(...err.message.split("\n").map((l) => l.trim()).filter((l) => l !== "" && l !== "invalid gateway config:"));
      return undefined;
    }
  };

  // host, allowedOrigins and publicUrl are interpolated by resolveConfig; the separator is used here.
  const server = json.server === undefined ? undefined : { ...(json.server as Json) } as GatewayConfig["server"] & Json;
  if (server?.separator !== undefined) server.separator = interpolate(server.separator, "server.separator");
  const separator = server?.separator ?? "__";
  // Portkey's `server.ssl` is `server.tls` of the TypeScript config; the paths are interpolated there.
  if (server !== undefined && "ssl" in server) {
    const { enabled, cert, key, ca } = server.ssl as { enabled?: boolean; cert?: string; key?: string; ca?: string };
    delete server.ssl;
    // Only an explicit `enabled: false` serves plain HTTP: an ssl block left half-written is an error.
    if (enabled !== false) {
      if (cert === undefined) problems.push("server.ssl.cert: expected the PEM certificate file (server.ssl.enabled is not false)");
      if (key === undefined) problems.push("server.ssl.key: expected the PEM private key file (server.ssl.enabled is not false)");
      if (cert !== undefined && key !== undefined) server.tls = { cert, key, ...(ca === undefined ? {} : { ca }) };
    }
  }

  const servers: Record<string, Upstream> = {};
  const names = Object.keys(json.mcpServers as Json);
  names.forEach((name, i) => {
    const problem = checkServerNames(names.slice(0, i + 1), separator);
    if (problem) problems.push(`mcpServers.${name}: ${problem}`);
    const made = attempt(() => upstreamOf(name, (json.mcpServers as Json)[name] as Json, factories));
    if (made) servers[name] = made;
  });

  const config: GatewayConfig = { servers };
  if (server !== undefined) config.server = server;
  if (json.logLevel !== undefined) config.logLevel = json.logLevel as GatewayConfig["logLevel"];

  if (json.identityForwarding !== undefined) {
    const mappers = attempt(() => identityOf(json.identityForwarding as JsonIdentityForwarding, "identityForwarding", factories));
    if (mappers !== undefined) config.identity = mappers === false ? [] : mappers;
  }

  const strategies: AuthStrategy[] = [];
  for (const { entry, path } of authEntries(json.auth)) {
    const e = entry as Json;
    if (e.enabled === false) continue;
    const made = attempt(() => auth[e.type as string]!(interpolateDeep(e, path), path));
    if (made !== undefined) strategies.push(...(Array.isArray(made) ? made : [made]));
  }
  // One strategy stays one (as written in TypeScript); none enabled leaves auth out.
  if (strategies.length > 0) config.auth = strategies.length === 1 && !Array.isArray(json.auth) ? strategies[0]! : strategies;

  // The page's mTLS: with `server.ssl` and an mtls strategy reading certificates at the TLS layer (no proxy
  // in front), the server asks clients for certificates, trusting the strategy's CA file unless ssl names one.
  const direct = authEntries(json.auth).map(({ entry }) => entry as Json).find((e) => e.type === "mtls" && e.enabled !== false && e.proxy === undefined);
  if (direct !== undefined && server?.tls !== undefined) {
    const ca = server.tls.ca ?? (typeof direct.ca === "string" && !direct.ca.includes("-----BEGIN") ? direct.ca : undefined);
    if (ca === undefined) problems.push("server.ssl.ca: expected the CA file that signs client certificates (auth type mtls gives its CA as PEM text or a list)");
    else server.tls = { ...server.tls, ca, requestCert: true };
  }

  if (json.tokens !== undefined) {
    const { store, ...rest } = json.tokens as Json;
    const tokens = interpolateDeep(rest, "tokens") as NonNullable<GatewayConfig["tokens"]>;
    if (store !== undefined) {
      const made = attempt(() => storeOf(store as Json, factories));
      if (made) tokens.store = made;
    }
    config.tokens = tokens;
  }
  if (json.roles !== undefined) config.roles = interpolateDeep(json.roles as NonNullable<GatewayConfig["roles"]>, "roles");
  if (json.audit !== undefined) {
    const audit = attempt(() => auditOf(json.audit, factories));
    if (audit !== undefined) config.audit = audit;
  }
  if (json.secrets !== undefined) {
    const secrets = attempt(() => secretsOf(json.secrets as Json[], factories));
    if (secrets) config.secrets = secrets;
  }
  // admin.token is interpolated by resolveConfig.
  if (json.admin !== undefined) config.admin = { ...(json.admin as NonNullable<GatewayConfig["admin"]>) };
  // Settings that are plain data, handed over as a TypeScript config would write them (resolveConfig
  // interpolates what it interpolates there, so each string still is interpolated once).
  for (const key of ["console", "keys", "metrics", "tracing", "limits", "alerts"] as const) {
    if (json[key] !== undefined) (config as unknown as Record<string, unknown>)[key] = json[key];
  }

  if (problems.length > 0) throw fail(problems);
  return config;
}
