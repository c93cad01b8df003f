import { readFile } from "node:fs/promises";
import { resolve } from "node:path";
import { pathToFileURL } from "node:url";
// Node needs hooks to import a TypeScript config, Deno and Bun do not: the runtime's adapter knows.
import { importModule } from "#serve-adapter";
import { authFromEnv } from "../config/env.ts";
import { collectMissingEnv } from "../config/interpolate.ts";
import { fromJsonConfig, type JsonAuthFactory, type JsonPluginFactories } from "../config/json-config.ts";
import { GatewayError, isGatewayError } from "../errors.ts";
import type { GatewayConfig } from "../types.ts";
import { apiKey } from "../../plugins/auth/api-key.ts";
import { bearer } from "../../plugins/auth/bearer.ts";
import { oauthServer } from "../../plugins/auth/oauth-server.ts";
import { mtls } from "../../plugins/auth/mtls.ts";
import { oidc } from "../../plugins/auth/oidc.ts";
import { consoleAudit, envSecrets, fileStore, http, identityHeaders, jsonlAudit, jwtAssertion, memoryStore, stdio, vault } from "../../plugins/mod.ts";

/** The built-in plugins a `.json` config can name. */
export const jsonPlugins: JsonPluginFactories = { stdio, http, identityHeaders, jwtAssertion, envSecrets, vault, jsonlAudit, consoleAudit, fileStore, memoryStore };

/** An entry's options without the keys that only say which strategy it is. */
function optionsOf(auth: Record<string, unknown>): Record<string, unknown> {
  const { type: _type, enabled: _enabled, ...options } = auth;
  return options;
}

// Entries arrive with `${VAR}` replaced; oauthServer() and oidc() replace it in their options again, so a
// literal `${` that survived the first pass is escaped to stay literal.
function literal<T>(v: T): T {
  if (typeof v === "string") return v.replaceAll("${", "$${") as T;
  if (Array.isArray(v)) return v.map(literal) as T;
  if (typeof v === "object" && v !== null) return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, literal(x)])) as T;
  return v;
}

/** A plugin's config error with the plugin's own path prefix replaced by the entry's JSON path. */
function repathed(err: unknown, from: RegExp, path: string): never {
  if (!isGatewayError(err)) throw err;
  throw new GatewayError("ERR_CONFIG", err.message.replace(from, `${path}.`).replace(/^(bearer|apiKey):/, `${path}:`));
}

/** The auth types a `.json` config's `auth.type` and `PORTCULLIS_AUTH_TYPE` can select. */
export const jsonAuthTypes: Record<string, JsonAuthFactory> = {
  bearer: (auth, path) => {
    try {
      return [bearer(optionsOf(auth) as { realm?: string })];
    } catch (err) {
      return repathed(err, /^bearer\./, path);
    }
  },
  "api-key": (auth, path) => {
    if (auth.header !== undefined && typeof auth.header !== "string") throw new GatewayError("ERR_CONFIG", `${path}.header: expected a header name such as X-API-Key`);
    try {
      return [apiKey({ header: auth.header as string | undefined })];
    } catch (err) {
      return repathed(err, /^apiKey\./, path);
    }
  },
  oauth: jsonOauth,
  "oauth-server": (auth, path) => {
    try {
      return [oauthServer(literal(optionsOf(auth)) as unknown as Parameters<typeof oauthServer>[0])];
    } catch (err) {
      return repathed(err, /^auth\.oauth\./, path);
    }
  },
  oidc: (auth, path) => {
    try {
      return [oidc(literal(optionsOf(auth)) as unknown as Parameters<typeof oidc>[0])];
    } catch (err) {
      return repathed(err, /^oidc\./, path);
    }
  },
  mtls: (auth, path) => {
    try {
      return [mtls(optionsOf(auth) as unknown as Parameters<typeof mtls>[0])];
    } catch (err) {
      return repathed(err, /^mtls\./, path);
    }
  },
};

const OAUTH_KEYS = ["type", "enabled", "provider", "issuer", "clientId", "clientSecret", "scopes", "tokenExpiration", "audience", "tenant"];

/**
 * The Portkey-compatible `{ "type": "oauth", provider, issuer, clientId, clientSecret, scopes, tokenExpiration }`:
 * with a client secret the gateway signs users in at the IdP itself (`oauthServer`); with only an
 * `audience` it accepts the IdP's own access tokens (`oidc`). Errors are re-pathed to the JSON keys.
 */
function jsonOauth(auth: Record<string, unknown>, path: string): ReturnType<JsonAuthFactory> {
  for (const key of Object.keys(auth)) {
    if (!OAUTH_KEYS.includes(key)) throw new GatewayError("ERR_CONFIG", `${path}.${key}: unknown key; expected one of ${OAUTH_KEYS.slice(2).join(", ")}`);
  }
  auth = literal(auth);
  try {
    if (auth.clientSecret !== undefined || auth.audience === undefined) {
      return [oauthServer({
        upstream: {
          issuer: auth.issuer as string,
          clientId: auth.clientId as string,
          clientSecret: auth.clientSecret as string,
          scopes: auth.scopes as string[] | undefined,
          provider: auth.provider as string | undefined,
        },
        tokenExpiration: auth.tokenExpiration as string | undefined,
      })];
    }
    return [oidc({
      issuer: auth.issuer as string | undefined,
      audience: auth.audience as string,
      provider: auth.provider as "custom" | undefined,
      tenant: auth.tenant as string | undefined,
    })];
  } catch (err) {
    return repathed(err, /^auth\.oauth\.(upstream\.)?|^oidc\./, path);
  }
}

// The auth types that need settings no environment variable carries (an issuer, a client ...).
const CONFIGURED_ONLY = new Set(["oauth", "oauth-server", "oidc"]);

/**
 * The config's auth as the environment overrides it: `PORTCULLIS_AUTH_ENABLED=false` (or
 * `PORTKEY_AUTH_ENABLED`) turns auth off; `PORTCULLIS_AUTH_TYPE` (or `PORTKEY_AUTH_TYPE`) `bearer` or
 * `api-key` replaces the config's strategies, while `oauth`, `oauth-server` and `oidc` keep the config's
 * OAuth strategy and require one, and `mtls` keeps the config's and requires an `mtls` one. Errors name
 * the variable that was set.
 *
 * @example
 * config.auth = authWithEnvironment(config, process.env);
 */
export function authWithEnvironment(config: GatewayConfig, env: Record<string, string | undefined>): GatewayConfig["auth"] {
  const { type, enabled } = authFromEnv(env);
  if (enabled?.value === false) return [];
  if (!type) return config.auth;
  const make = Object.hasOwn(jsonAuthTypes, type.value) ? jsonAuthTypes[type.value] : undefined;
  if (!make) throw new GatewayError("ERR_CONFIG", `${type.from}: expected one of ${Object.keys(jsonAuthTypes).join(", ")}, received ${JSON.stringify(type.value)}`);
  if (CONFIGURED_ONLY.has(type.value)) {
    const strategies = config.auth === undefined ? [] : Array.isArray(config.auth) ? config.auth : [config.auth];
    // An OAuth strategy is one that publishes protected-resource metadata (RFC 9728), whatever its name.
    if (!strategies.some((s) => s.routes?.some((r) => r.path === "/.well-known/oauth-protected-resource"))) {
      throw new GatewayError(
        "ERR_CONFIG",
        `${type.from}=${type.value}: the config must give the OAuth settings (auth: { "type": "${type.value}", "issuer", ... } in a JSON config, or oauthServer()/oidc() in gateway.config.ts)`,
      );
    }
    return config.auth;
  }
  if (type.value === "mtls") {
    // The CA comes from the config, never the environment: the config must have the strategy already.
    const strategies = config.auth === undefined ? [] : Array.isArray(config.auth) ? config.auth : [config.auth];
    if (!strategies.some((s) => s.name === "auth:mtls")) {
      throw new GatewayError("ERR_CONFIG", `${type.from}=mtls: the config must give the CA (auth: { "type": "mtls", "ca": "/path/to/ca.crt" } in a JSON config, or mtls({ ca }) in gateway.config.ts)`);
    }
    return config.auth;
  }
  const header = env.PORTCULLIS_API_KEY_HEADER;
  return make(header === undefined ? { type: type.value } : { type: type.value, header }, type.from);
}

// Config modules whose evaluation failed or met a missing `${VAR}`, by URL: the runtime keeps a module
// once imported (evaluated with the variable left in, or failed with whatever the missing variable led
// to), so a later load of the same file in this process must fail the same way.
const failedModules = new Map<string, GatewayError>();

/**
 * Loads a gateway config file: `.ts`/`.mts`/`.js`/`.mjs` (default export, or a function returning the
 * config) or `.json` (Portkey-compatible, see core/config/gateway.config.schema.json). Every `${VAR}` that is
 * not set is reported in one error.
 *
 * @example
 * const config = await loadConfigFile("./gateway.config.ts");
 */
export async function loadConfigFile(file: string): Promise<GatewayConfig> {
  const path = resolve(file);
  if (path.endsWith(".json")) {
    let text: string;
    try {
      text = await readFile(path, "utf8");
    } catch (err) {
      throw new GatewayError("ERR_CONFIG", `cannot read config file ${file}: ${(err as Error).message}`);
    }
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch (err) {
      throw new GatewayError("ERR_CONFIG", `${file}: invalid JSON: ${(err as Error).message}`);
    }
    return fromJsonConfig(json, jsonPlugins, jsonAuthTypes);
  }
  let mod: Record<string, unknown>;
  try {
    await readFile(path);
  } catch (err) {
    throw new GatewayError("ERR_CONFIG", `cannot read config file ${file}: ${(err as Error).message}`);
  }
  const url = pathToFileURL(path).href;
  const failed = failedModules.get(url);
  if (failed) throw failed;
  try {
    mod = await collectMissingEnv(() => importModule(url));
  } catch (err) {
    if (isGatewayError(err)) {
      failedModules.set(url, err);
      throw err;
    }
    // A syntax error or a failed import in the config file is a config error too (exit code 2).
    throw new GatewayError("ERR_CONFIG", `${file}: could not load: ${err instanceof Error ? err.message : String(err)}`);
  }
  let config = mod.default;
  if (typeof config === "function") {
    const make = config as () => unknown;
    config = await collectMissingEnv(async () => await make());
  }
  if (typeof config !== "object" || config === null) {
    throw new GatewayError("ERR_CONFIG", `${file}: expected a default export made with defineGateway({...})`);
  }
  return config as GatewayConfig;
}
