#!/usr/bin/env node
/**
 * The `portcullis` command.
 *
 *   portcullis start [--config FILE] [--port N] [--host H]
 *   portcullis check [--config FILE]
 *   portcullis tokens create|list|revoke|rotate ...
 *   portcullis certs ca|server|client ...   (development certificates)
 *
 * @example
 * // node dist/cli.js start --config gateway.config.ts --port 8787
 * @module
 */
import { join } from "node:path";
import process from "node:process";
import { parseArgs } from "node:util";
import { warnAboutEnv } from "../config/env.ts";
import { resolveConfig } from "../config/resolve.ts";
import { GatewayError, isGatewayError } from "../errors.ts";
import { createGateway } from "../gateway.ts";
import { serve } from "../serve/mod.ts";
import { readTls } from "../serve/tls-files.ts";
import type { GatewayConfig, Upstream } from "../types.ts";
import { VERSION } from "../version.ts";
import { jsonlAudit } from "../../plugins/audit/jsonl.ts";
import { fileStore } from "../../plugins/stores/file.ts";
import { redisStore } from "../../plugins/stores/redis.ts";
import { authWithEnvironment, loadConfigFile } from "./load-config.ts";
import { certsCommand } from "./certs.ts";
import { secretsCommand } from "./secrets.ts";
import { tokensCommand } from "./tokens.ts";
import { usageCommand } from "./usage.ts";
import { reviewCommand } from "./review.ts";

const HELP = `portcullis ${VERSION}: an MCP gateway

Usage:
  portcullis start [--config FILE] [--port N] [--host HOST]   serve the gateway
  portcullis check [--config FILE]                            validate a config and exit
  portcullis tokens create --user U [--name N] [--email E] [--team T] [--roles a,b] [--org O]
                    [--type token|api-key|certificate] [--scopes mcp:read,mcp:write,admin]
                    [--fingerprint SHA256-HEX | --cert-subject S]   (a certificate record, for mtls())
                    [--servers s1,s2] [--tools server__tool,server__glob*,read] [--expires-in 30d]
                    [--kind development|production|ci] [--rate-limit 100/m]
  portcullis tokens list [--user U] [--team T] [--type T] [--state active|expired|revoked]
  portcullis tokens revoke ID
  portcullis tokens rotate ID [--grace SECONDS]
  portcullis tokens usage ID                 calls by server/tool/day (sparkline), last use, addresses
  portcullis usage [--user U]                one user's usage over all their tokens
  portcullis review [--unused-days 30] [--expiring-days 7] [--not-rotated-days 90] [--format table|json|csv]
      access review: unused, expiring, over-long, wildcard/admin, unknown-user and unrotated credentials
      token commands work on the configured store, or on a running gateway with
      --url http://127.0.0.1:8787 --admin-token T (or $PORTCULLIS_ADMIN_TOKEN); --json for JSON
  portcullis secrets set NAME [--value V]   (without --value the value is read from stdin)
  portcullis secrets list | delete NAME | rotate-key [--new-key K]
      secrets live encrypted under $PORTCULLIS_MASTER_KEY; values are never printed; these work on
      the configured store, or on a running gateway with --url and an admin token
  portcullis certs ca --out DIR
  portcullis certs server --ca DIR [--host localhost,127.0.0.1] --out DIR
  portcullis certs client --ca DIR --user alice@example.com [--team T] --out DIR
      development certificates only: a private CA (ca.crt, ca.key), a server certificate
      (server.crt, server.key) and a client certificate (client.crt, client.key); keys are mode 0600
  portcullis --version | --help

The config defaults to $PORTCULLIS_CONFIG or ./gateway.config.ts; the port to $PORTCULLIS_PORT, then the
config's server.port, then 8787. Tokens are stored in $PORTCULLIS_DATA_DIR (default ./.portcullis) unless
the config names a store or $PORTCULLIS_REDIS_URL names a Redis shared by several instances, and audit events go to audit.jsonl there unless the config names its sinks or
says audit: false. $PORTCULLIS_AUTH_TYPE (bearer | api-key) replaces the config's auth strategies; oauth,
oauth-server and oidc keep the config's; $PORTCULLIS_AUTH_ENABLED=false turns auth off. PORTKEY_AUTH_TYPE
and PORTKEY_AUTH_ENABLED are accepted as aliases. A .json config is described by core/config/gateway.config.schema.json.
`;

/**
 * Applies the environment's overrides and the CLI's defaults to a loaded config: the file store and the
 * JSONL audit file in the data directory (unless the config names its own, or says `audit: false`).
 */
function withEnvironment(config: GatewayConfig): GatewayConfig {
  const out: GatewayConfig = { ...config };
  const dataDir = process.env.PORTCULLIS_DATA_DIR || ".portcullis";
  // $PORTCULLIS_REDIS_URL puts a config without a store of its own on Redis (several instances, JSON configs).
  const redisUrl = process.env.PORTCULLIS_REDIS_URL;
  if (!out.tokens?.store) out.tokens = { ...out.tokens, store: redisUrl ? redisStore({ url: redisUrl }) : fileStore({ dir: dataDir }) };
  if (out.audit === undefined) out.audit = [jsonlAudit({ path: join(dataDir, "audit.jsonl") })];
  out.auth = authWithEnvironment(config, process.env);
  if (out.auth === undefined) delete out.auth;
  return out;
}

/**
 * The CLI is where a first admin token is printed: once, straight to the terminal, never through the
 * logger or the audit trail. A config with its own `admin.onBootstrap` keeps it.
 */
function printingBootstrap(config: GatewayConfig): GatewayConfig {
  if (config.admin?.onBootstrap !== undefined) return config;
  const onBootstrap = (secret: string, id: string): void => {
    console.error(
      `\n[portcullis] No admin was configured, so an admin token was created (id ${id}).\n` +
        `[portcullis] It is shown only this once; only its hash is stored:\n\n    ${secret}\n`,
    );
  };
  return { ...config, admin: { ...config.admin, onBootstrap } };
}

/** The secrets the configured servers use: environment variables ending in one are not typos. */
function secretNamesOf(servers: Record<string, Upstream>): string[] {
  return Object.values(servers).flatMap((u) => u.secretNames?.() ?? []);
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
        fingerprint: { type: "string" },
        "cert-subject": { type: "string" },
        value: { type: "string" },
        "new-key": { type: "string" },
        grace: { type: "string" },
        state: { type: "string" },
        out: { type: "string" },
        ca: { type: "string" },
        days: { type: "string" },
        kind: { type: "string" },
        "rate-limit": { type: "string" },
        format: { type: "string" },
        "unused-days": { type: "string" },
        "expiring-days": { type: "string" },
        "not-rotated-days": { type: "string" },
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

  if (command === "certs") {
    process.stdout.write(await certsCommand(positionals[1] ?? "", values) + "\n");
    return;
  }

  if (command === "usage" || command === "review" || (command === "tokens" && positionals[1] === "usage")) {
    const config = async () => {
      try {
        return withEnvironment(await loadConfigFile(file));
      } catch (err) {
        if (values.config === undefined && isGatewayError(err) && /cannot read config file/.test(err.message)) return withEnvironment({ servers: {} });
        throw err;
      }
    };
    const o = { ...values, adminToken: values["admin-token"] };
    if (command === "tokens" && !positionals[2]) throw new GatewayError("ERR_BAD_REQUEST", "tokens usage needs a token id");
    const out = command === "review"
      ? await reviewCommand({ ...o, unusedDays: values["unused-days"], expiringDays: values["expiring-days"], notRotatedDays: values["not-rotated-days"] }, config)
      : command === "usage"
      ? await usageCommand({ user: values.user }, o, config)
      : await usageCommand({ tokenId: positionals[2] }, o, config);
    process.stdout.write(out + "\n");
    return;
  }

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
      certSubject: values["cert-subject"],
      rateLimit: values["rate-limit"],
    }, async () => withEnvironment(await exists()));
    process.stdout.write(out + "\n");
    return;
  }

  if (command === "check") {
    const config = withEnvironment(await loadConfigFile(file));
    const resolved = resolveConfig(config);
    // The certificate files are read as `start` would, so a wrong path fails here too.
    if (resolved.server.tls !== undefined) await readTls(resolved.server.tls);
    warnAboutEnv(process.env, resolved.logger, [], secretNamesOf(resolved.servers));
    const lines = Object.entries(resolved.servers).map(([name, u]) => `  ${name}: ${u.name} ${u.describe()}`);
    process.stdout.write(
      `${file}: OK\n` +
        `listen: ${resolved.server.tls ? "https" : "http"}://${resolved.server.host}:${resolved.server.port}\n` +
        `auth: ${resolved.auth.length ? resolved.auth.map((a) => a.name).join(", ") : "none (every /mcp request will be refused)"}\n` +
        `servers:\n${lines.join("\n") || "  (none)"}\n`,
    );
    return;
  }

  if (command === "start") {
    const config = printingBootstrap(withEnvironment(await loadConfigFile(file)));
    const gateway = createGateway(config);
    const log = gateway.config.logger;
    warnAboutEnv(process.env, log, [], secretNamesOf(gateway.config.servers));
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
