#!/usr/bin/env node
/**
 * The `portcullis` command.
 *
 *   portcullis start [--config FILE] [--port N] [--host H]
 *   portcullis check [--config FILE]
 *
 * @example
 * // node dist/cli.js start --config gateway.config.ts --port 8787
 * @module
 */
import process from "node:process";
import { parseArgs } from "node:util";
import { resolveConfig } from "./config/resolve.ts";
import { isGatewayError } from "./errors.ts";
import { createGateway } from "./gateway.ts";
import { serve } from "./serve/mod.ts";
import { loadConfigFile } from "./serve/load-config.ts";
import { VERSION } from "./version.ts";

const HELP = `portcullis ${VERSION}: an MCP gateway

Usage:
  portcullis start [--config FILE] [--port N] [--host HOST]   serve the gateway
  portcullis check [--config FILE]                            validate a config and exit
  portcullis --version | --help

The config defaults to $PORTCULLIS_CONFIG or ./gateway.config.ts; the port to $PORTCULLIS_PORT, then the
config's server.port, then 8787.
`;

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

  if (command === "check") {
    const config = await loadConfigFile(file);
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
    const config = await loadConfigFile(file);
    const gateway = createGateway(config);
    const log = gateway.config.logger;
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
