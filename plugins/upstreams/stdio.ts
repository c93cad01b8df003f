import { stat } from "node:fs/promises";
import { getDefaultEnvironment, StdioClientTransport } from "@modelcontextprotocol/client/stdio";
import type { Transport } from "@modelcontextprotocol/client";
import { configError, GatewayError, interpolate, parseSecretTemplate, renderSecretTemplate, type IdentityMapper, type SecretTemplate, type SecretValue, type TransportContext, type Upstream } from "../../core/mod.ts";
import { scriptCommand } from "./script-command.ts";
import { type CallerOptions, callerOptionsOf, identityOf, type PerUserBase, perUserOf } from "./per-user.ts";

/** Options of the stdio upstream. Give either `command` (with `args`) or `script`. */
export interface StdioOptions extends CallerOptions {
  /** Executable to start. */
  command?: string;
  args?: string[];
  /** A .ts/.js MCP server file run with the gateway's own runtime (node, deno or bun). */
  script?: string;
  /**
   * Extra environment; `${VAR}` is replaced from the gateway's environment at config time, while
   * `secret("NAME")` and `${secret:NAME}` are resolved from the secret sources each time the server starts.
   */
  env?: Record<string, SecretValue>;
  /** Pass the gateway's whole environment instead of a safe default set (PATH, HOME ...). Default false. */
  inheritEnv?: boolean;
  cwd?: string;
  /**
   * What to do with the server's stderr: "log" (default) writes each line to the gateway's log with known
   * secret values redacted; "inherit" passes it through untouched; "ignore" drops it.
   */
  stderr?: "log" | "inherit" | "ignore";
  /** Per-request timeout in milliseconds; default 60000. */
  timeoutMs?: number;
  /** Start timeout in milliseconds; default 15000. */
  connectTimeoutMs?: number;
  /** Restart backoff after a crash; defaults 250 ms doubling up to 30 s. */
  restart?: { initialDelayMs?: number; maxDelayMs?: number };
  /**
   * Per-user credentials: each user gets their own server process with their stored credential
   * (`PUT /v1/me/credentials/<server>`) in this environment variable.
   */
  userCredential?: PerUserBase & { env: string };
  /** Identity mappers for this server only (replacing the gateway's); `false` forwards no identity. */
  identity?: IdentityMapper[] | false;
}

const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** Splits a stream into lines and hands each to `log` (a partial last line waits for its newline, up to 8 KiB). */
function forwardLines(stream: { on(event: "data", listener: (chunk: Uint8Array | string) => void): unknown } | null, log: (line: string) => void): void {
  if (!stream) return;
  const decoder = new TextDecoder();
  let pending = "";
  stream.on("data", (chunk) => {
    pending += typeof chunk === "string" ? chunk : decoder.decode(chunk, { stream: true });
    let nl: number;
    while ((nl = pending.indexOf("\n")) !== -1) {
      const line = pending.slice(0, nl).replace(/\r$/, "");
      pending = pending.slice(nl + 1);
      if (line !== "") log(line);
    }
    if (pending.length > 8192) {
      log(pending);
      pending = "";
    }
  });
}

/** Why a path the server needs is unusable (as written in the config, so no `${VAR}` value shows), or undefined. */
async function missingPath(path: string, shown: string, what: "working directory" | "script", dir: boolean): Promise<string | undefined> {
  try {
    const info = await stat(path);
    if (dir && !info.isDirectory()) return `${what} ${shown} is not a directory`;
    return undefined;
  } catch (err) {
    const code = (err as { code?: unknown }).code;
    return code === "ENOENT" || code === "ENOTDIR" ? `${what} ${shown} does not exist` : undefined;
  }
}

/**
 * A failed spawn told in words: every runtime says "ENOENT" for a command that is not there, which
 * reads like a missing file anywhere.
 */
function spawnProblem(err: unknown, shown: string): unknown {
  const code = (err as { code?: unknown } | null)?.code;
  const text = err instanceof Error ? err.message : String(err);
  if (code === "ENOENT" || /\bENOENT\b|not found in \$PATH/i.test(text)) {
    return new Error(shown.includes("/") ? `command ${shown} does not exist (${text})` : `command not found: ${shown} is not on PATH (${text})`);
  }
  if (code === "EACCES" || /\bEACCES\b/.test(text)) return new Error(`command ${shown} is not executable (${text})`);
  return err;
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
  if (options.env !== undefined && (typeof options.env !== "object" || options.env === null)) throw configError("stdio.env", "expected an object of strings");
  const env: Record<string, SecretTemplate> = {};
  for (const [k, v] of Object.entries(options.env ?? {})) env[k] = parseSecretTemplate(v, `stdio.env.${k}`);
  const secretNames = [...new Set(Object.values(env).flatMap((t) => t.names))];
  const perUser = perUserOf(options.userCredential, "stdio.userCredential");
  const credentialEnv = options.userCredential?.env;
  if (perUser && (typeof credentialEnv !== "string" || !ENV_NAME.test(credentialEnv))) {
    throw configError("stdio.userCredential.env", "expected an environment variable name such as GITHUB_TOKEN", JSON.stringify(credentialEnv));
  }
  const identity = identityOf(options.identity, "stdio.identity");
  const cwd = options.cwd === undefined ? undefined : str(options.cwd, "stdio.cwd");
  if (options.stderr !== undefined && options.stderr !== "log" && options.stderr !== "inherit" && options.stderr !== "ignore") {
    throw configError("stdio.stderr", 'expected "log", "inherit" or "ignore"', JSON.stringify(options.stderr));
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
    ...(perUser ? { perUser } : {}),
    ...(identity === undefined ? {} : { identity }),
    ...callerOptionsOf(options, "stdio"),
    secretNames: () => secretNames,
    async createTransport(ctx: TransportContext): Promise<Transport> {
      const base = options.inheritEnv ? (globalThis as { process?: { env: Record<string, string> } }).process?.env ?? {} : getDefaultEnvironment();
      const resolved: Record<string, string> = {};
      // Resolved at every start, so a changed secret reaches the restarted process.
      for (const [k, t] of Object.entries(env)) resolved[k] = await renderSecretTemplate(t, (name) => ctx.secret(name));
      if (credentialEnv && ctx?.user) {
        if (/[\u0000]/.test(ctx.user.credential)) throw new GatewayError("ERR_BAD_REQUEST", `the stored credential for ${credentialEnv} contains a NUL character`);
        resolved[credentialEnv] = ctx.user.credential;
      }
      // Checked before every start: spawning in a missing directory fails with the same ENOENT as a missing command.
      const problem = (cwd !== undefined ? await missingPath(cwd, options.cwd!, "working directory", true) : undefined) ??
        (options.script !== undefined ? await missingPath(args.at(-1)!, options.script, "script", false) : undefined);
      if (problem) throw new Error(problem);
      const mode = options.stderr ?? "log";
      const transport = new StdioClientTransport({ command, args, cwd, env: { ...base, ...resolved }, stderr: mode === "log" ? "pipe" : mode });
      if (mode === "log" && ctx.log) forwardLines(transport.stderr, ctx.log);
      const start = transport.start.bind(transport);
      const shownCommand = options.command ?? command;
      transport.start = async () => {
        try {
          await start();
        } catch (err) {
          throw spawnProblem(err, shownCommand);
        }
      };
      return transport;
    },
  };
}
