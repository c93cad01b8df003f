import { readFile } from "node:fs/promises";
import { resolve } from "node:path";
import { pathToFileURL } from "node:url";
// Node needs hooks to import a TypeScript config, Deno and Bun do not: the runtime's adapter knows.
import { importModule } from "#serve-adapter";
import { fromJsonConfig, type JsonAuthFactory } from "../config/json-config.ts";
import { GatewayError, isGatewayError } from "../errors.ts";
import type { GatewayConfig } from "../types.ts";
import { apiKey } from "../../plugins/auth/api-key.ts";
import { bearer } from "../../plugins/auth/bearer.ts";
import { oauthServer } from "../../plugins/auth/oauth-server.ts";
import { oidc } from "../../plugins/auth/oidc.ts";
import { http } from "../../plugins/upstreams/http.ts";
import { stdio } from "../../plugins/upstreams/stdio.ts";
import { identityHeaders } from "../../plugins/mod.ts";

/** The auth types a `.json` config's `auth.type` and `PORTCULLIS_AUTH_TYPE` can select. */
export const jsonAuthTypes: Record<string, JsonAuthFactory> = {
  bearer: () => [bearer()],
  "api-key": (auth, path) => {
    if (auth.header !== undefined && typeof auth.header !== "string") throw new GatewayError("ERR_CONFIG", `${path}.header: expected a header name such as X-API-Key`);
    return [apiKey({ header: auth.header as string | undefined })];
  },
  oauth: jsonOauth,
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
  const repath = (err: unknown): never => {
    if (!isGatewayError(err)) throw err;
    throw new GatewayError("ERR_CONFIG", err.message.replace(/^auth\.oauth\.(upstream\.)?|^oidc\./, `${path}.`));
  };
  // The block arrives interpolated; oauthServer() and oidc() interpolate their options again, so a
  // literal `${` that survived the first pass is escaped to stay literal.
  const lit = <T>(v: T): T => (typeof v === "string" ? v.replaceAll("${", "$${") as T : Array.isArray(v) ? v.map(lit) as T : v);
  auth = Object.fromEntries(Object.entries(auth).map(([k, v]) => [k, lit(v)]));
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
    return repath(err);
  }
}

/**
 * Loads a gateway config file: `.ts`/`.mts`/`.js`/`.mjs` (default export, or a function returning the
 * config) or `.json` (Portkey-compatible).
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
    return fromJsonConfig(json, { stdio, http, identityHeaders }, jsonAuthTypes);
  }
  let mod: Record<string, unknown>;
  try {
    await readFile(path);
  } catch (err) {
    throw new GatewayError("ERR_CONFIG", `cannot read config file ${file}: ${(err as Error).message}`);
  }
  try {
    mod = await importModule(pathToFileURL(path).href);
  } catch (err) {
    if (isGatewayError(err)) throw err;
    // A syntax error or a failed import in the config file is a config error too (exit code 2).
    throw new GatewayError("ERR_CONFIG", `${file}: could not load: ${err instanceof Error ? err.message : String(err)}`);
  }
  let config = mod.default;
  if (typeof config === "function") config = await (config as () => unknown)();
  if (typeof config !== "object" || config === null) {
    throw new GatewayError("ERR_CONFIG", `${file}: expected a default export made with defineGateway({...})`);
  }
  return config as GatewayConfig;
}
