import { execFile } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { Client, StreamableHTTPClientTransport } from "@modelcontextprotocol/client";
import { StdioClientTransport } from "@modelcontextprotocol/client/stdio";
import { freePort, type Proc, sleep, start, stop, waitForLine } from "./procs.ts";
import { callTool, openSession } from "./raw-mcp.ts";

const run = promisify(execFile);

/** The repository root (bench/lib/../..), where the CLI, the sources and node_modules are. */
export const ROOT = new URL("../../", import.meta.url).pathname;
const NODE = process.execPath;
const REGISTER = join(ROOT, "core/serve/node-ts-register.mjs");
const ECHO = join(ROOT, "bench/echo-server.ts");
const CONFIG = join(ROOT, "bench/gateway.config.ts");
/** How the echo server is started everywhere: on node, whichever runtime is being measured. */
const ECHO_CMD = [NODE, "--import", REGISTER, ECHO];

/** A runtime the gateway can run on. */
export type Runtime = "node" | "deno" | "bun";

/** A client connection the harness drives. */
export interface Session {
  client: Client;
  close(): Promise<void>;
}

/** One thing being measured: a floor, a peer gateway, or Portcullis on one runtime. */
export interface Target {
  id: string;
  label: string;
  /**
   * Why the harness does not open its many idle sessions on this target, when it does not (a peer
   * that starts an upstream process per session).
   */
  noIdleSessions?: string;
  /** The tool the calls go to. */
  tool: string;
  /** The `/mcp` URL and bearer token, for HTTP targets. */
  url?: string;
  token?: string;
  /** Starts the long-lived process(es). */
  open(): Promise<void>;
  /** The process whose memory is reported. */
  pid(): number | undefined;
  /** A connected SDK client. */
  session(): Promise<Session>;
  /** Spawns a fresh process with one upstream (one tool) and returns ms from spawn to the first served tools/call. */
  startup(): Promise<number>;
  close(): Promise<void>;
}

const cleanups = new Set<() => Promise<void>>();

/** Time from spawning `p` (started just before `t0`) to its first served tools/call; stops it after. */
async function timeToFirstCall(t0: number, p: Proc, port: number, token: string | undefined, tool: string): Promise<number> {
  try {
    await firstCall(`http://127.0.0.1:${port}/mcp`, token, tool, p);
    return performance.now() - t0;
  } finally {
    await stop(p);
  }
}

/**
 * Runs every pending cleanup (SDK-spawned stdio servers, temp dirs); used on success, error and SIGINT.
 *
 * @example
 * await cleanupAll();
 */
export async function cleanupAll(): Promise<void> {
  await Promise.all([...cleanups].map((c) => c().catch(() => undefined)));
  cleanups.clear();
}

function track(fn: () => Promise<void>): () => Promise<void> {
  const once = async () => {
    cleanups.delete(once);
    await fn();
  };
  cleanups.add(once);
  return once;
}

async function httpClient(url: string, token: string | undefined): Promise<Session> {
  const client = new Client({ name: "portcullis-bench", version: "1.0.0" });
  const headers: Record<string, string> = token ? { authorization: `Bearer ${token}` } : {};
  const transport = new StreamableHTTPClientTransport(new URL(url), { requestInit: { headers } });
  await client.connect(transport);
  const close = track(async () => {
    // End the session server-side too, as a well-behaved client would.
    await transport.terminateSession().catch(() => undefined);
    await client.close().catch(() => undefined);
  });
  return { client, close };
}

async function stdioClient(tools: number): Promise<Session> {
  const client = new Client({ name: "portcullis-bench", version: "1.0.0" });
  const transport = new StdioClientTransport({ command: ECHO_CMD[0]!, args: [...ECHO_CMD.slice(1), "--tools", String(tools)], stderr: "ignore" });
  await client.connect(transport);
  const close = track(() => client.close().catch(() => undefined));
  return { client, close };
}

/** Polls with plain fetch until one tools/call succeeds; returns when it did. Bounded by `ms`. */
async function firstCall(url: string, token: string | undefined, tool: string, proc: Proc, ms = 30_000): Promise<void> {
  const end = performance.now() + ms;
  let last: unknown;
  while (performance.now() < end) {
    if (proc.child.exitCode !== null) throw new Error(`process exited during start: ${proc.stderr().slice(-2000)}`);
    try {
      const session = await openSession(url, token, AbortSignal.timeout(Math.max(1, Math.ceil(end - performance.now()))));
      await callTool(url, token, session, tool, { message: "first" }, AbortSignal.timeout(Math.max(1, Math.ceil(end - performance.now()))));
      return;
    } catch (err) {
      last = err;
      await sleep(5);
    }
  }
  throw new Error(`no served tools/call within ${ms} ms: ${last instanceof Error ? last.message : String(last)}`);
}

/**
 * Floor A: the SDK client talking to the echo server directly over stdio (one process per client).
 *
 * @example
 * const a = floorA(250);
 */
export function floorA(tools: number): Target {
  let shared: Session | undefined;
  let pid: number | undefined;
  return {
    id: "floorA",
    label: "floor A: stdio direct",
    tool: "echo",
    async open() {
      shared = await stdioClient(tools);
      pid = (shared.client.transport as StdioClientTransport | undefined)?.pid ?? undefined;
    },
    pid: () => pid,
    // One stdio process serves one client: every session is the shared one (concurrent calls are
    // in flight together on it), so floor A does not cost 32 processes.
    session: async () => ({ client: shared!.client, close: async () => undefined }),
    async startup() {
      const t0 = performance.now();
      const s = await stdioClient(1);
      try {
        await s.client.callTool({ name: "echo", arguments: { message: "first" } });
        return performance.now() - t0;
      } finally {
        await s.close();
      }
    },
    async close() {
      await shared?.close();
    },
  };
}

/**
 * Floor B: the SDK client talking to the SDK's own Streamable HTTP server (2025-11-25 sessions) that
 * hosts the echo tool in its process; no gateway, no auth.
 *
 * @example
 * const b = floorB(250);
 */
export function floorB(tools: number): Target {
  let proc: Proc | undefined;
  const target: Target = {
    id: "floorB",
    label: "floor B: SDK HTTP server",
    tool: "echo",
    async open() {
      proc = start(ECHO_CMD[0]!, [...ECHO_CMD.slice(1), "--http", "0", "--tools", String(tools)]);
      const [, port] = await waitForLine(proc, /^listening (\d+)$/);
      target.url = `http://127.0.0.1:${port}/mcp`;
    },
    pid: () => proc?.pid,
    session: () => httpClient(target.url!, undefined),
    async startup() {
      const port = await freePort();
      const t0 = performance.now();
      const p = start(ECHO_CMD[0]!, [...ECHO_CMD.slice(1), "--http", String(port), "--tools", "1"]);
      return await timeToFirstCall(t0, p, port, undefined, "echo");
    },
    async close() {
      if (proc) await stop(proc);
    },
  };
  return target;
}

function gatewayCommand(runtime: Runtime, port: number): [string, string[]] {
  const tail = ["start", "--config", CONFIG, "--port", String(port), "--host", "127.0.0.1"];
  if (runtime === "deno") return [join(ROOT, "node_modules/.bin/deno"), ["run", "-A", "--quiet", join(ROOT, "core/cli/main.ts"), ...tail]];
  if (runtime === "bun") return [join(ROOT, "node_modules/.bin/bun"), ["run", join(ROOT, "core/cli/main.ts"), ...tail]];
  return [NODE, [join(ROOT, "dist/cli.js"), ...tail]];
}

function gatewayEnv(dir: string, upstreams: number, tools: number): Record<string, string> {
  return {
    PORTCULLIS_DATA_DIR: dir,
    BENCH_UPSTREAMS: String(upstreams),
    BENCH_TOOLS: String(tools),
    BENCH_AUDIT: join(dir, "audit.jsonl"),
    BENCH_ECHO_CMD: JSON.stringify(ECHO_CMD),
    PORTCULLIS_ADMIN_TOKEN: "",
  };
}

/** A data dir with the file store holding one token for the bench user, created with the real CLI. */
async function tokenDir(upstreams: number, tools: number): Promise<{ dir: string; token: string }> {
  const dir = await mkdtemp(join(tmpdir(), "portcullis-bench-"));
  track(() => rm(dir, { recursive: true, force: true }));
  const { stdout } = await run(NODE, [
    join(ROOT, "dist/cli.js"), "tokens", "create", "--config", CONFIG,
    "--user", "bench", "--email", "bench@example.com", "--team", "perf", "--roles", "bench",
    "--scopes", "mcp:read,mcp:write", "--servers", "echo*", "--tools", "echo*__*", "--expires-in", "1d", "--json",
  ], { cwd: ROOT, env: { ...process.env, ...gatewayEnv(dir, upstreams, tools) } });
  const token = (JSON.parse(stdout) as { token?: string }).token;
  if (!token) throw new Error(`tokens create printed no token: ${stdout.slice(0, 200)}`);
  return { dir, token };
}

/**
 * Portcullis as a separate process on one runtime (the real CLI), with `upstreams` echo servers of
 * `tools` tools each over stdio, bearer auth from the file store, roles and token permissions, the
 * default identity mapper and a JSONL audit file.
 *
 * @example
 * const gw = portcullis("deno", 5, 50);
 */
export function portcullis(runtime: Runtime, upstreams: number, tools: number): Target {
  let proc: Proc | undefined;
  let boot: { dir: string; token: string } | undefined;
  const target: Target = {
    id: runtime,
    label: `portcullis ${runtime}`,
    tool: "echo1__echo",
    async open() {
      const { dir, token } = await tokenDir(upstreams, tools);
      boot = await tokenDir(1, 1);
      const port = await freePort();
      const [cmd, args] = gatewayCommand(runtime, port);
      proc = start(cmd, args, gatewayEnv(dir, upstreams, tools));
      proc.child.stdout!.resume();
      target.url = `http://127.0.0.1:${port}/mcp`;
      target.token = token;
      await firstCall(target.url, token, target.tool, proc, 60_000);
    },
    pid: () => proc?.pid,
    session: () => httpClient(target.url!, target.token),
    async startup() {
      const port = await freePort();
      const [cmd, args] = gatewayCommand(runtime, port);
      const t0 = performance.now();
      const p = start(cmd, args, gatewayEnv(boot!.dir, 1, 1));
      p.child.stdout!.resume();
      return await timeToFirstCall(t0, p, port, boot!.token, "echo1__echo");
    },
    async close() {
      if (proc) await stop(proc);
    },
  };
  return target;
}

/**
 * Portcullis as `instances` node processes (the real CLI) sharing one real redis-server (appendonly yes,
 * appendfsync always: every acknowledged write on disk, as the file store does), each with the same
 * upstreams as {@link portcullis}. Clients are spread over the instances round robin and each keeps its
 * instance, as a load balancer with sticky sessions does.
 *
 * @example
 * const pair = portcullisRedis(2, 5, 50);
 */
export function portcullisRedis(instances: number, upstreams: number, tools: number): Target {
  const procs: Proc[] = [];
  const urls: string[] = [];
  let redisUrl = "";
  let next = 0;
  let extraEnv: Record<string, string> = {};
  const target: Target = {
    id: `node-redis-x${instances}`,
    label: `portcullis node x${instances} on redis`,
    tool: "echo1__echo",
    noIdleSessions: "several processes; the idle-session figure is the single node process's",
    async open() {
      const dir = await mkdtemp(join(tmpdir(), "portcullis-bench-redis-"));
      track(() => rm(dir, { recursive: true, force: true }));
      const port = await freePort();
      const redis = start("/usr/bin/redis-server", ["--port", String(port), "--bind", "127.0.0.1", "--dir", dir, "--save", "", "--appendonly", "yes", "--appendfsync", "always"]);
      procs.push(redis);
      await waitForLine(redis, /Ready to accept connections/);
      redisUrl = `redis://127.0.0.1:${port}`;
      const key = btoa(String.fromCharCode(...crypto.getRandomValues(new Uint8Array(32))));
      extraEnv = { BENCH_REDIS_URL: redisUrl, PORTCULLIS_MASTER_KEY: key };
      const { stdout } = await run(NODE, [
        join(ROOT, "dist/cli.js"), "tokens", "create", "--config", CONFIG,
        "--user", "bench", "--email", "bench@example.com", "--team", "perf", "--roles", "bench",
        "--scopes", "mcp:read,mcp:write", "--servers", "echo*", "--tools", "echo*__*", "--expires-in", "1d", "--json",
      ], { cwd: ROOT, env: { ...process.env, ...gatewayEnv(dir, upstreams, tools), ...extraEnv } });
      const token = (JSON.parse(stdout) as { token?: string }).token;
      if (!token) throw new Error(`tokens create printed no token: ${stdout.slice(0, 200)}`);
      target.token = token;
      for (let i = 0; i < instances; i++) {
        const gwPort = await freePort();
        const [cmd, args] = gatewayCommand("node", gwPort);
        const p = start(cmd, args, { ...gatewayEnv(join(dir, `gw${i}`), upstreams, tools), BENCH_AUDIT: join(dir, `audit${i}.jsonl`), ...extraEnv });
        p.child.stdout!.resume();
        procs.push(p);
        urls.push(`http://127.0.0.1:${gwPort}/mcp`);
      }
      await Promise.all(urls.map((u, i) => firstCall(u, token, target.tool, procs[i + 1]!, 60_000)));
      target.url = urls[0];
    },
    // The first instance: the sequential figures are measured on it.
    pid: () => procs[1]?.pid,
    session: () => httpClient(urls[next++ % urls.length]!, target.token),
    async startup() {
      // One more instance joining the same Redis (with one upstream), to its first served call.
      const port = await freePort();
      const [cmd, args] = gatewayCommand("node", port);
      const dir = await mkdtemp(join(tmpdir(), "portcullis-bench-redis-boot-"));
      track(() => rm(dir, { recursive: true, force: true }));
      const t0 = performance.now();
      const p = start(cmd, args, { ...gatewayEnv(dir, 1, 1), ...extraEnv });
      p.child.stdout!.resume();
      return await timeToFirstCall(t0, p, port, target.token, "echo1__echo");
    },
    async close() {
      // Gateways first, Redis last.
      for (const p of procs.slice(1)) await stop(p);
      if (procs[0]) await stop(procs[0]);
    },
  };
  return target;
}

/** A peer gateway's command line: it listens on `port` and fronts one echo server of `tools` tools over stdio. */
type PeerCommand = (port: number, tools: number) => [string, string[]];

const SUPERGATEWAY = join(ROOT, "node_modules/supergateway/dist/index.js");
const MCP_PROXY = join(ROOT, "node_modules/mcp-proxy/dist/bin/mcp-proxy.mjs");
const quoted = (parts: string[]) => parts.map((p) => `'${p.replace(/'/g, "'\\''")}'`).join(" ");

/**
 * A peer gateway from npm as its own process on node, fronting the same echo server over stdio, with
 * its defaults otherwise (no auth: neither peer has bearer tokens, policy or audit to switch on).
 */
function peer(id: string, label: string, command: PeerCommand, tools: number, noIdleSessions?: string): Target {
  let proc: Proc | undefined;
  const target: Target = {
    id,
    label,
    tool: "echo",
    noIdleSessions,
    async open() {
      const port = await freePort();
      const [cmd, args] = command(port, tools);
      proc = start(cmd, args);
      proc.child.stdout!.resume();
      target.url = `http://127.0.0.1:${port}/mcp`;
      await firstCall(target.url, undefined, "echo", proc, 60_000);
    },
    pid: () => proc?.pid,
    session: () => httpClient(target.url!, undefined),
    async startup() {
      const port = await freePort();
      const [cmd, args] = command(port, 1);
      const t0 = performance.now();
      const p = start(cmd, args);
      p.child.stdout!.resume();
      return await timeToFirstCall(t0, p, port, undefined, "echo");
    },
    async close() {
      if (proc) await stop(proc);
    },
  };
  return target;
}

/**
 * supergateway (npm) in stdio -> Streamable HTTP mode with sessions (`--stateful`, what a 2025-11-25
 * client needs): it starts one echo server process per session, so the idle-sessions figure is left out.
 *
 * @example
 * const sg = supergateway(250);
 */
export function supergateway(tools: number): Target {
  return peer(
    "supergateway",
    "peer: supergateway",
    (port, n) => [NODE, [SUPERGATEWAY, "--stdio", quoted([...ECHO_CMD, "--tools", String(n)]), "--outputTransport", "streamableHttp", "--stateful", "--port", String(port), "--logLevel", "none"]],
    tools,
    "supergateway starts an upstream process per session",
  );
}

/**
 * mcp-proxy (npm) serving Streamable HTTP only (`--server stream`) on 127.0.0.1; every session shares
 * its one echo server process.
 *
 * @example
 * const mp = mcpProxy(250);
 */
export function mcpProxy(tools: number): Target {
  return peer(
    "mcp-proxy",
    "peer: mcp-proxy",
    (port, n) => [NODE, [MCP_PROXY, "--port", String(port), "--host", "127.0.0.1", "--server", "stream", "--", ...ECHO_CMD, "--tools", String(n)]],
    tools,
  );
}
