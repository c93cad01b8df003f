import { readEnv } from "../config/interpolate.ts";
import type { SecretSource } from "../types.ts";

/** Options of `envSecrets()`. */
export interface EnvSecretsOptions {
  /** Prefix added to the secret's name to find the variable: `prefix: "MCP_"` reads `secret("GITHUB")` from `MCP_GITHUB`. */
  prefix?: string;
}

/**
 * Secrets from the gateway's environment: `secret("GITHUB_TOKEN")` reads `$GITHUB_TOKEN`. The default
 * source when a config names none.
 *
 * @example
 * defineGateway({ secrets: [envSecrets({ prefix: "PORTCULLIS_SECRET_" })], ... })
 */
export function envSecrets(options: EnvSecretsOptions = {}): SecretSource {
  const prefix = options.prefix ?? "";
  if (typeof prefix !== "string") throw new TypeError("envSecrets.prefix: expected a string");
  return {
    name: "secrets:env",
    get(name) {
      const value = readEnv(prefix + name);
      return Promise.resolve(value === undefined || value === "" ? undefined : value);
    },
  };
}
