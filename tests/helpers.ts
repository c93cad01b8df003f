// Shared test fixtures: real upstreams (server-everything over stdio, the SDK-built notes server over
// stdio and Streamable HTTP), a served gateway on a loopback port, and real MCP SDK clients.
import { Client, StreamableHTTPClientTransport } from "@modelcontextprotocol/client";
import { createGateway, serve, type GatewayConfig, type Served } from "../core/mod.ts";
import { http, stdio } from "../plugins/mod.ts";
import { sha256Hex, teamKeys } from "../examples/custom-auth-plugin.ts";
import { notesHttpHandler } from "../examples/servers/notes.ts";

export const ALICE_KEY = "alice-key-0123456789abcdef0123456789abcdef";
export const BOB_KEY = "bob-key-0123456789abcdef0123456789abcdef";

export const EVERYTHING = new URL("../node_modules/@modelcontextprotocol/server-everything/dist/index.js", import.meta.url).pathname;
export const NOTES = new URL("../examples/servers/notes.ts", import.meta.url).pathname;

export const runtime: "node" | "deno" | "bun" = (globalThis as { Deno?: unknown }).Deno ? "deno" : (globalThis as { Bun?: unknown }).Bun ? "bun" : "node";

/** The auth strategy every test gateway uses: two users with team keys. */
export async function testAuth() {
  return teamKeys({
    keys: [
      { sha256: await sha256Hex(ALICE_KEY), user: "alice", email: "alice@example.com", team: "platform", roles: ["admin"] },
      { sha256: await sha256Hex(BOB_KEY), user: "bob", email: "bob@example.com", team: "data", roles: [] },
    ],
  });
}

/** server-everything (a v1-SDK server from npm) as a stdio upstream, started with node. */
export function everythingUpstream() {
  return stdio({ command: "node", args: [EVERYTHING, "stdio"], stderr: "ignore" });
}

/** A loopback HTTP server for the SDK-built notes server (Streamable HTTP). */
export async function startNotesHttp(): Promise<{ url: string; close(): Promise<void> }> {
  const handler = notesHttpHandler();
  const gatewayLike = {
    fetch: (req: Request) => handler.fetch(req),
    close: () => handler.close(),
    config: { server: { host: "127.0.0.1", port: 0 }, logger: quietLogger },
  };
  const served = await serve(gatewayLike, { port: 0, handleSignals: false });
  return { url: `${served.url}/mcp`, close: () => served.close() };
}

export const quietLogger = { debug() {}, info() {}, warn() {}, error() {} };

/** Starts a gateway over real HTTP on a free loopback port. */
export async function startGateway(config: GatewayConfig): Promise<{ served: Served; url: string; close(): Promise<void>; gateway: ReturnType<typeof createGateway> }> {
  const gateway = createGateway({ logger: quietLogger, admin: { bootstrap: false }, ...config });
  await gateway.ready();
  const served = await serve(gateway, { port: 0, handleSignals: false });
  return { served, gateway, url: served.url, close: () => served.close() };
}

/** A real MCP SDK client connected to `url` with a team key, in the given protocol era. */
export async function connectClient(url: string, key: string, era: "2025-11-25" | "2026-07-28" = "2025-11-25"): Promise<{ client: Client; transport: StreamableHTTPClientTransport }> {
  const client = new Client(
    { name: "portcullis-test", version: "1.0.0" },
    { versionNegotiation: { mode: era === "2025-11-25" ? "legacy" : { pin: "2026-07-28" } } },
  );
  const transport = new StreamableHTTPClientTransport(new URL(url), { requestInit: { headers: { "x-team-key": key } } });
  await client.connect(transport);
  return { client, transport };
}

/** Waits until `check` returns true, polling, at most `ms`. */
export async function waitFor(check: () => boolean | Promise<boolean>, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`condition not met within ${ms} ms`);
}

export { http, stdio };
