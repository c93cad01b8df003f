/**
 * The benchmark's upstream: an MCP server built with the official SDK whose `echo` tool answers with
 * its message, plus `tool_1` ... `tool_<N-1>` so lists can be made as long as a real server's.
 *
 * Over stdio by default (floor A, and the gateway's upstream); `--http PORT` serves the same tool over
 * the SDK's Streamable HTTP transport with 2025-11-25 sessions, no gateway and no auth (floor B).
 * `--tools N` (or `ECHO_TOOLS=N`) sets how many tools it offers; default 1.
 *
 * Run: node --import ./core/serve/node-ts-register.mjs bench/echo-server.ts [--tools 50] [--http 0]
 *      deno run -A bench/echo-server.ts | bun run bench/echo-server.ts
 */
import { fromJsonSchema, McpServer, WebStandardStreamableHTTPServerTransport } from "@modelcontextprotocol/server";

interface Env {
  process?: { argv: string[]; env: Record<string, string | undefined>; stdout: { write(s: string): void } };
}

const G = globalThis as Env;
const MESSAGE = fromJsonSchema<{ message: string }>({ type: "object", properties: { message: { type: "string" } }, required: ["message"] });

/**
 * One echo server instance offering `tools` tools in all (`echo` and `tool_<i>`).
 *
 * @example
 * const server = createEchoServer(50);
 */
export function createEchoServer(tools: number): McpServer {
  const server = new McpServer({ name: "echo", version: "1.0.0" }, { capabilities: { tools: {} } });
  server.registerTool("echo", {
    description: "Echo the message back.",
    annotations: { readOnlyHint: true },
    inputSchema: MESSAGE,
  }, ({ message }) => ({ content: [{ type: "text", text: message }] }));
  for (let i = 1; i < tools; i++) {
    server.registerTool(`tool_${i}`, {
      description: `Filler tool number ${i}: echoes too, so listings have the size of a real server's.`,
      annotations: { readOnlyHint: i % 2 === 0 },
      inputSchema: MESSAGE,
    }, ({ message }) => ({ content: [{ type: "text", text: message }] }));
  }
  return server;
}

/**
 * A web-standard handler for the SDK's own Streamable HTTP transport with sessions: one transport and
 * server per session, the way the SDK's examples wire it.
 *
 * @example
 * const handler = echoHttpHandler(1);
 * const response = await handler(request);
 */
export function echoHttpHandler(tools: number): (request: Request) => Promise<Response> {
  const sessions = new Map<string, WebStandardStreamableHTTPServerTransport>();
  return async (request) => {
    if (new URL(request.url).pathname !== "/mcp") return new Response("not found", { status: 404 });
    const id = request.headers.get("mcp-session-id");
    if (id !== null) {
      const transport = sessions.get(id);
      if (!transport) return new Response(JSON.stringify({ jsonrpc: "2.0", id: null, error: { code: -32001, message: "Session not found" } }), { status: 404 });
      return transport.handleRequest(request);
    }
    const transport: WebStandardStreamableHTTPServerTransport = new WebStandardStreamableHTTPServerTransport({
      sessionIdGenerator: () => crypto.randomUUID(),
      onsessioninitialized: (sid) => void sessions.set(sid, transport),
      onsessionclosed: (sid) => void sessions.delete(sid),
    });
    await createEchoServer(tools).connect(transport);
    return transport.handleRequest(request);
  };
}

function option(args: string[], name: string): string | undefined {
  const at = args.indexOf(name);
  return at === -1 ? undefined : args[at + 1];
}

async function serveHttp(handler: (request: Request) => Promise<Response>, port: number): Promise<number> {
  const g = globalThis as {
    Deno?: { serve(o: object, h: (r: Request) => Promise<Response>): { addr: { port: number } } };
    Bun?: { serve(o: object): { port: number } };
  };
  if (g.Deno) return g.Deno.serve({ port, hostname: "127.0.0.1", onListen() {} }, handler).addr.port;
  if (g.Bun) return g.Bun.serve({ port, hostname: "127.0.0.1", idleTimeout: 0, fetch: handler }).port;
  const { serve } = await import("@hono/node-server");
  return await new Promise<number>((resolve) => {
    serve({ port, hostname: "127.0.0.1", fetch: handler }, (info) => resolve(info.port));
  });
}

async function main(args: string[]): Promise<void> {
  const tools = Number(option(args, "--tools") ?? G.process?.env.ECHO_TOOLS ?? 1);
  if (!Number.isInteger(tools) || tools < 1 || tools > 10_000) throw new Error(`--tools: expected 1..10000, received ${tools}`);
  const http = option(args, "--http");
  if (http === undefined) {
    const { StdioServerTransport } = await import("@modelcontextprotocol/server/stdio");
    await createEchoServer(tools).connect(new StdioServerTransport());
    return;
  }
  const port = await serveHttp(echoHttpHandler(tools), Number(http));
  // The harness reads the port from this first line of stdout.
  G.process?.stdout.write(`listening ${port}\n`);
}

const self = (import.meta as { main?: boolean }).main;
const argv = G.process?.argv ?? [];
if (self === true || (self === undefined && argv[1] !== undefined && import.meta.url.endsWith(argv[1].replace(/^.*[\\/]/, "")))) {
  await main(argv.slice(2));
}
