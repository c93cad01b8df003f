import { getDefaultEnvironment, StdioClientTransport } from "@modelcontextprotocol/client/stdio";
import type { Transport } from "@modelcontextprotocol/client";
import { configError } from "../../core/errors.ts";
import { interpolate } from "../../core/config/interpolate.ts";
import { scriptCommand } from "../../core/serve/script-command.ts";
import type { Upstream } from "../../core/types.ts";

/** Options of the stdio upstream. Give either `command` (with `args`) or `script`. */
export interface StdioOptions {
  /** Executable to start. */
  command?: string;
  args?: string[];
  /** A .ts/.js MCP server file run with the gateway's own runtime (node, deno or bun). */
  script?: string;
  /** Extra environment; `${VAR}` is replaced from the gateway's environment. */
  env?: Record<string, string>;
  /** Pass the gateway's whole environment instead of a safe default set (PATH, HOME ...). Default false. */
  inheritEnv?: boolean;
  cwd?: string;
  /** What to do with the server's stderr; default "inherit" (shown in the gateway's log). */
  stderr?: "inherit" | "ignore";
  /** Per-request timeout in milliseconds; default 60000. */
  timeoutMs?: number;
  /** Start timeout in milliseconds; default 15000. */
  connectTimeoutMs?: number;
  /** Restart backoff after a crash; defaults 250 ms doubling up to 30 s. */
  restart?: { initialDelayMs?: number; maxDelayMs?: number };
}

function str(value: unknown, path: string): string {
  if (typeof value !== "string" || value === "") throw configError(path, "expected a non-empty string", JSON.stringify(value));
  return interpolate(value, path);
}

/**
 * An MCP server started as a child process speaking MCP over stdin/stdout. It is restarted with
 * exponential backoff when it exits.
 *
 * @example
 * stdio({ command: "npx", args: ["-y", "@modelcontextprotocol/server-filesystem", "/srv/docs"] })
 * stdio({ script: "./examples/servers/notes.ts" })
 */
export function stdio(options: StdioOptions): Upstream {
  if (typeof options !== "object" || options === null) throw configError("stdio", "expected options { command, args? } or { script }");
  if ((options.command === undefined) === (options.script === undefined)) {
    throw configError("stdio", "expected exactly one of command or script");
  }
  let command: string;
  let args: string[];
  if (options.script !== undefined) {
    ({ command, args } = scriptCommand(str(options.script, "stdio.script")));
  } else {
    command = str(options.command, "stdio.command");
    if (options.args !== undefined && !Array.isArray(options.args)) throw configError("stdio.args", "expected an array of strings");
    args = (options.args ?? []).map((a, i) => {
      if (typeof a !== "string") throw configError(`stdio.args[${i}]`, "expected a string", JSON.stringify(a));
      return interpolate(a, `stdio.args[${i}]`);
    });
  }
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(options.env ?? {})) {
    if (typeof v !== "string") throw configError(`stdio.env.${k}`, "expected a string", JSON.stringify(v));
    env[k] = interpolate(v, `stdio.env.${k}`);
  }
  const cwd = options.cwd === undefined ? undefined : str(options.cwd, "stdio.cwd");
  if (options.stderr !== undefined && options.stderr !== "inherit" && options.stderr !== "ignore") {
    throw configError("stdio.stderr", 'expected "inherit" or "ignore"', JSON.stringify(options.stderr));
  }
  // Logs and /healthz show the command as written, before ${VAR} interpolation, so no secret passed
  // on the command line reaches them.
  const shown = options.script !== undefined ? [command, ...args].join(" ") : [options.command, ...(options.args ?? [])].join(" ");
  return {
    name: "upstream:stdio",
    describe: () => shown,
    timeoutMs: options.timeoutMs,
    connectTimeoutMs: options.connectTimeoutMs,
    restart: options.restart,
    createTransport(): Transport {
      const base = options.inheritEnv ? (globalThis as { process?: { env: Record<string, string> } }).process?.env ?? {} : getDefaultEnvironment();
      return new StdioClientTransport({ command, args, cwd, env: { ...base, ...env }, stderr: options.stderr ?? "inherit" });
    },
  };
}
