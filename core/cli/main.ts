#!/usr/bin/env node
/**
 * The `portcullis` command.
 *
 *   portcullis start [--config FILE] [--port N] [--host H]
 *   portcullis check [--config FILE]
 *   portcullis tokens create|list|revoke|rotate ...
 *
 * @example
 * // node dist/cli.js start --config gateway.config.ts --port 8787
 * @module
 */
import process from "node:process";
import { parseArgs } from "node:util";
import { resolveConfig } from "../config/resolve.ts";
import { isGatewayError } from "../errors.ts";
import { createGateway } from "../gateway.ts";
import { serve } from "../serve/mod.ts";
import type { GatewayConfig } from "../types.ts";
import { VERSION } from "../version.ts";
import { fileStore } from "../../plugins/stores/file.ts";
import { jsonAuthTypes, loadConfigFile } from "./load-config.ts";
import { secretsCommand } from "./secrets.ts";
import { tokensCommand } from "./tokens.ts";

const HELP = `portcullis ${VERSION}: an MCP gateway

Usage:
  portcullis start [--config FILE] [--port N] [--host HOST]   serve the gateway
  portcullis check [--config FILE]                            validate a config and exit
  portcullis tokens create --user U [--name N] [--email E] [--team T] [--roles a,b] [--org O]
                    [--type token|api-key] [--scopes mcp:read,mcp:write,admin]
                    [--servers s1,s2] [--tools server__tool,server__glob*,read] [--expires-in 30d]
  portcullis tokens list [--user U] [--team T] [--type T] [--state active|expired|revoked]
  portcullis tokens revoke ID
  portcullis tokens rotate ID [--grace SECONDS]
      token commands work on the configured store, or on a running gateway with
      --url http://127.0.0.1:8787 --admin-token T (or $PORTCULLIS_ADMIN_TOKEN); --json for JSON
  portcullis secrets set NAME [--value V]   (without --value the value is read from stdin)
  portcullis secrets list | delete NAME | rotate-key [--new-key K]
      secrets live encrypted under $PORTCULLIS_MASTER_KEY; values are never printed; these work on
      the configured store, or on a running gateway with --url and an admin token
  portcullis --version | --help

The config defaults to $PORTCULLIS_CONFIG or ./gateway.config.ts; the port to $PORTCULLIS_PORT, then the
config's server.port, then 8787. Tokens are stored in $PORTCULLIS_DATA_DIR (default ./.portcullis) unless
the config names a store. $PORTCULLIS_AUTH_TYPE (bearer | api-key) replaces the config's auth strategies; oauth keeps the config's.
`;

/** Applies the environment's overrides and the CLI's defaults (the file store) to a loaded config. */
function withEnvironment(config: GatewayConfig): GatewayConfig {
  const out: GatewayConfig = { ...config };
  if (!out.tokens?.store) out.tokens = { ...out.tokens, store: fileStore({ dir: process.env.PORTCULLIS_DATA_DIR || ".portcullis" }) };
  const type = process.env.PORTCULLIS_AUTH_TYPE;
  const enabled = process.env.PORTCULLIS_AUTH_ENABLED;
  if (enabled !== undefined && !["true", "false", "1", "0"].includes(enabled)) {
    fail(`PORTCULLIS_AUTH_ENABLED: expected true or false, received ${JSON.stringify(enabled)}`);
  }
  if (enabled === "false" || enabled === "0") {
    out.auth = [];
  } else if (type) {
    const make = jsonAuthTypes[type];
    if (!make) fail(`PORTCULLIS_AUTH_TYPE: expected one of ${Object.keys(jsonAuthTypes).join(", ")}, received ${JSON.stringify(type)}`);
    if (type === "oauth") {
      // OAuth needs an issuer and client settings, which do not fit in one variable: the config says them.
      const strategies = config.auth === undefined ? [] : Array.isArray(config.auth) ? config.auth : [config.auth];
      // An OAuth strategy is one that publishes protected-resource metadata (RFC 9728), whatever its name.
      if (!strategies.some((s) => s.routes?.some((r) => r.path === "/.well-known/oauth-protected-resource"))) {
        fail('PORTCULLIS_AUTH_TYPE=oauth: the config must give the OAuth settings (auth: { "type": "oauth", "issuer", ... } in a JSON config, or oauthServer()/oidc() in gateway.config.ts)');
      }
      return out;
    }
    const header = process.env.PORTCULLIS_API_KEY_HEADER;
    out.auth = make(header === undefined ? { type } : { type, header }, "PORTCULLIS_AUTH_TYPE");
  }
  return out;
}

function fail(message: string, code = 2): never {
  process.stderr.write(`portcullis: ${message}\n`);
  process.exit(code);
}

function port(value: string | undefined, what: string): number | undefined {
  if (value === undefined || value === "") return undefined;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0 || n > 65535) fail(`${what}: expected an integer between 0 and 65535, received ${JSON.stringify(value)}`);
  return n;
}

/**
 * Runs the CLI with the given arguments.
 *
 * @example
 * await main(["check", "--config", "gateway.config.ts"]);
 */
export async function main(argv: string[]): Promise<void> {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        config: { type: "string", short: "c" },
        port: { type: "string", short: "p" },
        host: { type: "string" },
        url: { type: "string" },
        "admin-token": { type: "string" },
        json: { type: "boolean" },
        user: { type: "string" },
        name: { type: "string" },
        email: { type: "string" },
        team: { type: "string" },
        roles: { type: "string" },
        org: { type: "string" },
        type: { type: "string" },
        scopes: { type: "string" },
        servers: { type: "string" },
        tools: { type: "string" },
        "expires-in": { type: "string" },
        value: { type: "string" },
        "new-key": { type: "string" },
        grace: { type: "string" },
        state: { type: "string" },
        help: { type: "boolean", short: "h" },
        version: { type: "boolean", short: "v" },
      },
    });
  } catch (err) {
    fail(`${(err as Error).message}\n\n${HELP}`);
  }
  const { values, positionals } = parsed;
  if (values.version) return void process.stdout.write(`${VERSION}\n`);
  const command = positionals[0];
  if (values.help || command === undefined || command === "help") return void process.stdout.write(HELP);
  const file = values.config ?? process.env.PORTCULLIS_CONFIG ?? "gateway.config.ts";

  if (command === "tokens" || command === "secrets") {
    const exists = async () => {
      try {
        return await loadConfigFile(file);
      } catch (err) {
        // No config file at all is fine for token and secret commands: the default store is used.
        if (values.config === undefined && isGatewayError(err) && /cannot read config file/.test(err.message)) return { servers: {} };
        throw err;
      }
    };
    const out = command === "secrets"
      ? await secretsCommand(positionals[1] ?? "", positionals[2], { ...values, adminToken: values["admin-token"], newKey: values["new-key"] }, async () => withEnvironment(await exists()))
      : await tokensCommand(positionals[1] ?? "", positionals[2], {
      ...values,
      adminToken: values["admin-token"],
      expiresIn: values["expires-in"],
    }, async () => withEnvironment(await exists()));
    process.stdout.write(out + "\n");
    return;
  }

  if (command === "check") {
    const config = withEnvironment(await loadConfigFile(file));
    const resolved = resolveConfig(config);
    const lines = Object.entries(resolved.servers).map(([name, u]) => `  ${name}: ${u.name} ${u.describe()}`);
    process.stdout.write(
      `${file}: OK\n` +
        `listen: http://${resolved.server.host}:${resolved.server.port}\n` +
        `auth: ${resolved.auth.length ? resolved.auth.map((a) => a.name).join(", ") : "none (every /mcp request will be refused)"}\n` +
        `servers:\n${lines.join("\n") || "  (none)"}\n`,
    );
    return;
  }

  if (command === "start") {
    const config = withEnvironment(await loadConfigFile(file));
    const gateway = createGateway(config);
    const log = gateway.config.logger;
    try {
      await gateway.ready();
    } catch (err) {
      await gateway.close().catch(() => undefined);
      throw err;
    }
    if (gateway.config.auth.length === 0) log.warn("no auth strategy configured: every /mcp request will be refused with 401");
    const served = await serve(gateway, {
      port: port(values.port, "--port") ?? port(process.env.PORTCULLIS_PORT, "PORTCULLIS_PORT"),
      host: values.host,
    });
    log.info(`listening on ${served.url}/mcp`, { servers: Object.keys(gateway.config.servers) });
    return;
  }

  fail(`unknown command ${JSON.stringify(command)}\n\n${HELP}`);
}

const args = process.argv.slice(2);
main(args).catch((err) => {
  if (isGatewayError(err)) fail(err.message, err.code === "ERR_CONFIG" ? 2 : 1);
  fail(err instanceof Error ? err.stack ?? err.message : String(err), 1);
});
