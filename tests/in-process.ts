// Fixtures of the fast in-process suites (examples, plugins-in-process): a gateway driven only through
// `gateway.fetch(new Request(...))`, no sockets; in-process upstreams (examples/custom-upstream.ts) that
// echo what they received; raw JSON-RPC in both protocol eras; the admin API for tokens.
import { fromJsonSchema, McpServer } from "@modelcontextprotocol/server";
import * as assert from "uvu/assert";
import { createGateway, type AuthStrategy, type Gateway, type GatewayConfig } from "../core/mod.ts";
import { memoryStore } from "../plugins/mod.ts";
import { quietLogger } from "./helpers.ts";

export const ADMIN = "admin-token-for-in-process-tests-0123456789";
export const BASE = "http://gateway.test";
const ACCEPT = "application/json, text/event-stream";

/** The two protocol eras the gateway serves: sessions (2025-11-25) and stateless requests (2026-07-28). */
export type Era = "2025-11-25" | "2026-07-28";

/** What an echo server's `whoami` tool saw: its own name, the request's `_meta` and the HTTP headers the gateway sent. */
export interface Seen {
  server: string;
  meta: Record<string, unknown>;
  headers: Record<string, string>;
}

/**
 * An MCP server that shows what reached it: `whoami` answers with a {@link Seen}, `shout` upper-cases
 * its message prefixed with the server's name (so a test can tell which server answered), and `secret`
 * (when given one) answers with the secret and its SHA-256.
 */
export function echoServer(name: string, secret?: string): McpServer {
  const server = new McpServer({ name, version: "1.0.0" });
  server.registerTool("whoami", { description: "What this request carried.", annotations: { readOnlyHint: true } }, (ctx) => {
    const headers: Record<string, string> = {};
    for (const [k, v] of ctx.http?.req?.headers ?? []) headers[k] = v;
    const seen: Seen = { server: name, meta: (ctx.mcpReq._meta ?? {}) as Record<string, unknown>, headers };
    return { content: [{ type: "text", text: JSON.stringify(seen) }] };
  });
  server.registerTool("shout", {
    description: "Upper-case a message.",
    inputSchema: fromJsonSchema<{ message: string }>({ type: "object", properties: { message: { type: "string" } }, required: ["message"] }),
  }, ({ message }) => ({ content: [{ type: "text", text: `${name}: ${message.toUpperCase()}` }] }));
  if (secret !== undefined) {
    server.registerTool("secret", { description: "The secret this server was built with." }, async () => {
      const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(secret)));
      const sha256 = Array.from(digest, (b) => b.toString(16).padStart(2, "0")).join("");
      return { content: [{ type: "text", text: JSON.stringify({ value: secret, sha256 }) }] };
    });
  }
  return server;
}

/** One JSON-RPC answer: HTTP status, session id, the parsed message (from JSON or the last SSE event). */
export interface RpcAnswer {
  status: number;
  session: string | null;
  headers: Headers;
  body: any;
}

/** A gateway under test and the ways a test talks to it. */
export interface Harness {
  gateway: Gateway;
  /** The admin API (or any JSON route) with the admin token unless `auth` headers are given. */
  api(method: string, path: string, body?: unknown, auth?: Record<string, string>): Promise<{ status: number; body: any }>;
  /** Creates a token or API key through `POST /v1/auth/tokens` and returns the answer (with its secret). */
  token(body: Record<string, unknown>): Promise<{ id: string; token: string; [k: string]: unknown }>;
  /** One raw JSON-RPC message to `/mcp`; in the 2026-07-28 era with its `_meta` envelope and `Mcp-Method`/`Mcp-Name` headers. */
  rpc(auth: Record<string, string>, message: Record<string, unknown>, options?: { era?: Era; session?: string; headers?: Record<string, string> }): Promise<RpcAnswer>;
  /** initialize + notifications/initialized in the 2025-11-25 era; returns the session id. */
  open(auth: Record<string, string>): Promise<string>;
  /** tools/call, returning the first text content; fails the test on an error answer. */
  call(auth: Record<string, string>, name: string, args?: Record<string, unknown>, options?: { era?: Era; session?: string; headers?: Record<string, string>; meta?: Record<string, unknown> }): Promise<string>;
  /** `whoami` of one server, parsed. */
  whoami(auth: Record<string, string>, server: string, options?: { era?: Era; session?: string; headers?: Record<string, string>; meta?: Record<string, unknown> }): Promise<Seen>;
}

/** `Authorization: Bearer <secret>`. */
export function bearerAuth(secret: string): Record<string, string> {
  return { authorization: `Bearer ${secret}` };
}

/** A gateway with the static admin token, a memory store unless one is given, and no log output. */
export async function harness(config: GatewayConfig): Promise<Harness> {
  const gateway = createGateway({
    logger: quietLogger,
    admin: { token: ADMIN, bootstrap: false },
    ...config,
    tokens: { store: memoryStore(), ...config.tokens },
  });
  await gateway.ready();

  async function api(method: string, path: string, body?: unknown, auth: Record<string, string> = bearerAuth(ADMIN)): Promise<{ status: number; body: any }> {
    const res = await gateway.fetch(new Request(BASE + path, {
      method,
      headers: { ...auth, ...(body === undefined ? {} : { "content-type": "application/json" }) },
      body: body === undefined ? undefined : JSON.stringify(body),
    }));
    const text = await res.text();
    return { status: res.status, body: text ? JSON.parse(text) : undefined };
  }

  async function rpc(auth: Record<string, string>, message: Record<string, unknown>, options: { era?: Era; session?: string; headers?: Record<string, string> } = {}): Promise<RpcAnswer> {
    const era = options.era ?? "2025-11-25";
    const headers: Record<string, string> = { ...options.headers, ...auth, "content-type": "application/json", accept: ACCEPT, "mcp-protocol-version": era };
    if (options.session) headers["mcp-session-id"] = options.session;
    let params = message.params as Record<string, unknown> | undefined;
    if (era === "2026-07-28" && typeof message.id !== "undefined") {
      // A stateless request carries its own envelope and names its method (and tool) in headers too.
      const envelope = { "io.modelcontextprotocol/protocolVersion": era, "io.modelcontextprotocol/clientCapabilities": {} };
      params = { ...params, _meta: { ...(params?._meta as object | undefined), ...envelope } };
      headers["mcp-method"] = String(message.method);
      if (message.method === "tools/call") headers["mcp-name"] = String(params.name);
    }
    const res = await gateway.fetch(new Request(`${BASE}/mcp`, {
      method: "POST",
      headers,
      body: JSON.stringify({ jsonrpc: "2.0", ...message, ...(params ? { params } : {}) }),
    }));
    const text = await res.text();
    const data = text.split("\n").filter((l) => l.startsWith("data:")).map((l) => l.slice(5)).pop() ?? text;
    return { status: res.status, session: res.headers.get("mcp-session-id"), headers: res.headers, body: data.trim() ? JSON.parse(data) : undefined };
  }

  async function open(auth: Record<string, string>): Promise<string> {
    const init = await rpc(auth, { id: 1, method: "initialize", params: { protocolVersion: "2025-11-25", capabilities: {}, clientInfo: { name: "in-process", version: "1" } } });
    assert.is(init.status, 200, JSON.stringify(init.body));
    assert.ok(init.session, "a 2025-11-25 initialize opens a session");
    assert.is((await rpc(auth, { method: "notifications/initialized" }, { session: init.session! })).status, 202);
    return init.session!;
  }

  let nextId = 100;
  async function call(auth: Record<string, string>, name: string, args: Record<string, unknown> = {}, options: { era?: Era; session?: string; headers?: Record<string, string>; meta?: Record<string, unknown> } = {}): Promise<string> {
    const params = { name, arguments: args, ...(options.meta ? { _meta: options.meta } : {}) };
    const r = await rpc(auth, { id: nextId++, method: "tools/call", params }, options);
    assert.is(r.status, 200, JSON.stringify(r.body));
    assert.not.ok(r.body.error, JSON.stringify(r.body));
    assert.not.ok(r.body.result.isError, JSON.stringify(r.body.result));
    return r.body.result.content[0].text;
  }

  return {
    gateway,
    api,
    async token(body) {
      const r = await api("POST", "/v1/auth/tokens", body);
      assert.is(r.status, 201, JSON.stringify(r.body));
      return r.body;
    },
    rpc,
    open,
    call,
    whoami: async (auth, server, options) => JSON.parse(await call(auth, `${server}__whoami`, {}, options)) as Seen,
  };
}

/**
 * An auth strategy that only looks: it records the headers named in `names` of every request it sees
 * and never claims one. Placed first, it shows what any strategy could have read.
 */
export function lookingStrategy(names: string[]): AuthStrategy & { seen: Array<Record<string, string | null>> } {
  const seen: Array<Record<string, string | null>> = [];
  return {
    name: "auth:looking",
    seen,
    authenticate(request: Request): undefined {
      seen.push(Object.fromEntries(names.map((n) => [n, request.headers.get(n)])));
      return undefined;
    },
  };
}
