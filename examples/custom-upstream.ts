/**
 * A custom upstream plugin written only against Portcullis's exported types (plus the MCP SDK): an MCP
 * server that runs inside the gateway's own process. No child process, no socket: the gateway's MCP
 * client and the server talk over a pair of linked in-memory transports.
 *
 * Good for tools that are a few functions of your own (no reason to pay for a process), and for fast
 * tests: a whole gateway, upstream included, driven through `gateway.fetch(new Request(...))`.
 *
 * @example
 * import { McpServer } from "@modelcontextprotocol/server";
 * import { inProcess } from "./examples/custom-upstream.ts";
 * defineGateway({
 *   auth: [bearer()],
 *   servers: {
 *     clock: inProcess({
 *       build: () => {
 *         const server = new McpServer({ name: "clock", version: "1.0.0" });
 *         server.registerTool("now", { description: "The time." }, () => ({ content: [{ type: "text", text: new Date().toISOString() }] }));
 *         return server;
 *       },
 *     }),
 *   },
 * });
 */
import type { JSONRPCMessage, Transport, TransportSendOptions } from "@modelcontextprotocol/client";
import type { McpServer } from "@modelcontextprotocol/server";
import { configError, type IdentityMapper, type TransportContext, type Upstream } from "portcullis";

/** Options of {@link inProcess}. */
export interface InProcessOptions {
  /**
   * Builds a fresh server. Called for every connection the gateway makes: at start, and again after
   * the previous one closed. `ctx.secret("NAME")` resolves a secret from the gateway's sources.
   */
  build: (ctx: TransportContext) => McpServer | Promise<McpServer>;
  /** Shown in logs and `/healthz`; default `in-process`. */
  label?: string;
  /**
   * How the caller's identity reaches the server: `meta` (default) in `params._meta`, or `headers`,
   * which tools read from `ctx.http.req.headers` exactly as behind a Streamable HTTP endpoint.
   */
  identityVia?: "headers" | "meta";
  /** Names of the secrets `build` reads: when one changes the gateway reconnects, and `build` runs again. */
  secrets?: string[];
  /** Identity mappers for this server only (replacing the gateway's); `false` forwards no identity. */
  identity?: IdentityMapper[] | false;
  /** Per-request timeout in milliseconds; default the gateway's (60000). */
  timeoutMs?: number;
}

// Only a placeholder for the `Request` a tool sees: nothing is ever fetched from it.
const REQUEST_URL = "http://in-process.invalid/mcp";

type MessageHandler = NonNullable<Transport["onmessage"]>;
type Extra = Parameters<MessageHandler>[1];

/**
 * One end of an in-memory pair. The SDK's `InMemoryTransport` carries a message's auth info but drops
 * its per-request headers, and those headers are how identity mappers talk to `identityVia: "headers"`
 * servers; so this pair hands them over as the `Request` an HTTP server would have received.
 */
class LinkedEnd implements Transport {
  peer: LinkedEnd | undefined;
  onmessage?: Transport["onmessage"];
  onclose?: () => void;
  onerror?: (error: Error) => void;
  #queue: Array<{ message: JSONRPCMessage; extra: Extra }> = [];
  #closed = false;
  #ended: (() => void) | undefined;

  constructor(ended?: () => void) {
    this.#ended = ended;
  }

  start(): Promise<void> {
    // Messages sent before this end was started were kept, in order, rather than lost.
    for (const { message, extra } of this.#queue.splice(0)) this.onmessage?.(message, extra);
    return Promise.resolve();
  }

  send(message: JSONRPCMessage, options?: TransportSendOptions): Promise<void> {
    const peer = this.peer;
    if (this.#closed || !peer) return Promise.reject(new Error("in-process transport is closed"));
    const extra: Extra = options?.headers ? { request: new Request(REQUEST_URL, { method: "POST", headers: options.headers }) } : undefined;
    // Copied, as a real transport serializes it: neither side can change an object the other still holds.
    message = structuredClone(message);
    if (peer.onmessage) peer.onmessage(message, extra);
    else peer.#queue.push({ message, extra });
    return Promise.resolve();
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    const peer = this.peer;
    this.peer = undefined;
    this.#queue = [];
    // Either end closing closes both, like a process exiting or a socket dropping.
    await peer?.close();
    this.#ended?.();
    this.onclose?.();
  }
}

/**
 * An upstream served in-process: `build()` makes an `McpServer` (from `@modelcontextprotocol/server`),
 * which is connected to the gateway over linked in-memory transports. Closing the gateway closes every
 * server it built. Throws a config error (`ERR_CONFIG`) for bad options.
 *
 * @example
 * inProcess({ label: "notes", build: () => createNotesServer({ crashable: false }) })
 * inProcess({ identityVia: "headers", secrets: ["API_TOKEN"], build: async (ctx) => myServer(await ctx.secret("API_TOKEN")) })
 */
export function inProcess(options: InProcessOptions): Upstream {
  if (typeof options !== "object" || options === null || typeof options.build !== "function") {
    throw configError("inProcess.build", "expected a function (ctx) => McpServer");
  }
  const label = options.label ?? "in-process";
  if (typeof label !== "string" || label === "") throw configError("inProcess.label", "expected a non-empty string", JSON.stringify(options.label));
  const via = options.identityVia ?? "meta";
  if (via !== "headers" && via !== "meta") throw configError("inProcess.identityVia", 'expected "headers" or "meta"', JSON.stringify(options.identityVia));
  const secrets = options.secrets ?? [];
  if (!Array.isArray(secrets) || secrets.some((s) => typeof s !== "string" || s === "")) {
    throw configError("inProcess.secrets", "expected an array of secret names");
  }
  if (options.identity !== undefined && options.identity !== false && !Array.isArray(options.identity)) {
    throw configError("inProcess.identity", "expected an array of identity mappers or false");
  }
  const live = new Set<McpServer>();

  return {
    name: "upstream:in-process",
    describe: () => `in-process ${label}`,
    identityVia: via,
    timeoutMs: options.timeoutMs,
    ...(options.identity === undefined ? {} : { identity: options.identity }),
    secretNames: () => secrets,
    async createTransport(ctx: TransportContext): Promise<Transport> {
      const server = await options.build(ctx);
      const gatewayEnd = new LinkedEnd();
      const serverEnd = new LinkedEnd(() => live.delete(server));
      gatewayEnd.peer = serverEnd;
      serverEnd.peer = gatewayEnd;
      live.add(server);
      // Connected now, so the gateway's first message (initialize) finds the server listening.
      await server.connect(serverEnd);
      return gatewayEnd;
    },
    async close(): Promise<void> {
      await Promise.all([...live].map((server) => server.close()));
      live.clear();
    },
  };
}
