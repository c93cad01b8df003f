import { type AuthInfo, type JSONRPCMessage, parseJSONRPCMessage, type Server, type Transport } from "@modelcontextprotocol/server";
import { GatewayError } from "../errors.ts";
import { readJsonBody } from "../http/body.ts";
import { decodePathSegment } from "../http/path.ts";
import type { AccessPolicy, Audit, AuthContext, Identity, Logger, Route } from "../types.ts";
import { unrefTimer } from "../unref-timer.ts";
import { chargeToolCalls, type RateLimiter } from "../limits/rate-limit.ts";
import type { Tracing } from "../observe/tracing.ts";
import { createAggregateServer } from "./aggregate-server.ts";
import { splitName } from "./namespacing.ts";
import { hasMcpScope, insufficientScope } from "./route.ts";
import { createSessionTable, type SessionEntry } from "./session-table.ts";
import type { UpstreamRegistry } from "./registry.ts";

/** What the legacy HTTP+SSE transport (protocol 2024-11-05) needs from the gateway. */
export interface LegacySseOptions {
  registry: UpstreamRegistry;
  policy: AccessPolicy;
  audit: Audit;
  separator: string;
  maxBodyBytes: number;
  bodyTimeoutMs: number;
  /** Most open legacy sessions; past it a new stream is refused with 503. */
  maxSessions: number;
  /** Most open legacy sessions of one principal; at the limit its least recently used session is closed. */
  maxSessionsPerUser: number;
  /** A session without a POST for this long is closed. */
  sessionIdleSeconds: number;
  log: Logger;
  /** Interval of the keep-alive comment on each stream, in ms; default 20000. */
  pingMs?: number;
  /** The gateway's rate limits: tool calls POSTed to `/messages` are charged like those on `/mcp`. */
  limits?: RateLimiter;
  /** The gateway's tracing: a span per request, as on `/mcp`. */
  tracing?: Tracing;
}

/** The legacy transport: its routes and the handles the gateway needs to end its sessions. */
export interface LegacySse {
  /** `GET /sse`, `GET /sse/<server>` and `POST /messages`, for the gateway's route table. */
  routes: Route[];
  /** Open legacy sessions. */
  sessionCount(): number;
  /**
   * The credential `credentialId` (a token id, an OAuth grant) stops being valid at `at` (ms): sessions it
   * opened end then, or at once when `at` has passed.
   */
  expireCredential(credentialId: string, at: number): void;
  /** Ends every session (their streams close) and stops the sweep. */
  close(): Promise<void>;
}

/** The server side of one SSE stream, as the SDK's `Server` sees it, plus the way POSTs reach it. */
interface SseChannel extends Transport {
  readonly body: ReadableStream<Uint8Array>;
  /** Hands one POSTed message to the server, with the caller of that POST. */
  deliver(message: JSONRPCMessage, authInfo: AuthInfo): void;
}

interface Session extends SessionEntry {
  channel: SseChannel;
  server: Server;
}

const DEFAULT_PING_MS = 20_000;
// Output a client has not read yet, per stream: a client that stops reading loses its session rather
// than making the gateway hold everything sent to it.
const MAX_UNREAD_BYTES = 32 * 1024 * 1024;
const encoder = new TextEncoder();
const PING = encoder.encode(": ping\n\n");

function sseEvent(event: string, data: string): Uint8Array {
  // JSON.stringify escapes line breaks, so every payload here fits on one `data:` line.
  return encoder.encode(`event: ${event}\ndata: ${data}\n\n`);
}

/**
 * Opens the stream of one session. Its first event tells the client where to POST; a comment every
 * `pingMs` keeps proxies and load balancers from cutting a quiet stream.
 */
function sseChannel(sessionId: string, endpoint: string, pingMs: number): SseChannel {
  let controller!: ReadableStreamDefaultController<Uint8Array>;
  let closed = false;
  const finish = (): void => {
    if (closed) return;
    closed = true;
    clearInterval(ping);
    try {
      controller.close();
    } catch {
      // Already cancelled by the runtime: the client went away first.
    }
    channel.onclose?.();
  };
  const push = (chunk: Uint8Array): void => {
    if (closed) return;
    if ((controller.desiredSize ?? 0) < 0) {
      channel.onerror?.(new Error("the client stopped reading its SSE stream"));
      finish();
      return;
    }
    controller.enqueue(chunk);
  };
  const ping = setInterval(() => push(PING), pingMs);
  unrefTimer(ping);
  const channel: SseChannel = {
    sessionId,
    body: new ReadableStream<Uint8Array>(
      {
        start(c) {
          controller = c;
          c.enqueue(sseEvent("endpoint", endpoint));
        },
        // The runtime stops reading when the connection is gone.
        cancel: finish,
      },
      { highWaterMark: MAX_UNREAD_BYTES, size: (chunk) => chunk.byteLength },
    ),
    start: async () => {},
    async send(message) {
      if (closed) throw new Error("the SSE stream of this session is closed");
      push(sseEvent("message", JSON.stringify(message)));
    },
    close: async () => finish(),
    deliver(message, authInfo) {
      channel.onmessage?.(message, { authInfo });
    },
  };
  return channel;
}

function messagesOf(body: unknown): JSONRPCMessage[] {
  const all = Array.isArray(body) ? body : [body];
  // JSON-RPC 2.0: an empty batch is an invalid request.
  if (all.length === 0) throw new GatewayError("ERR_BAD_REQUEST", "Invalid Request: empty JSON-RPC batch");
  try {
    return all.map((m) => parseJSONRPCMessage(m));
  } catch {
    throw new GatewayError("ERR_BAD_REQUEST", "Invalid Request: not a JSON-RPC message");
  }
}

function requireMcpScope(identity: Identity): void {
  if (!hasMcpScope(identity)) throw insufficientScope("the credential carries neither mcp:read nor mcp:write");
}

/**
 * The legacy HTTP+SSE transport (protocol 2024-11-05) behind the gateway's authentication: `GET /sse`
 * (every server the caller may use, names prefixed like `/mcp`) or `GET /sse/<server>` (one server,
 * unprefixed) opens a session whose stream first names `/messages?sessionId=<id>`; the client POSTs its
 * messages there (answered 202) with the same credential, and every answer and server message comes back
 * as a `message` event on the stream. Sessions are bounded like the 2025-11-25 ones (global and per-user
 * caps, idle timeout, credential expiry and revocation) and end when the stream closes.
 *
 * @example
 * const legacy = legacySseRoutes({ registry, policy, audit, log, ...config.server });
 * const router = createRouter([...owned("core", [...mcpRoutes(o), ...legacy.routes])]);
 * tokens.onInvalidate((id, endsAt) => legacy.expireCredential(id, endsAt));
 * await legacy.close();
 */
export function legacySseRoutes(opts: LegacySseOptions): LegacySse {
  const { registry, policy, audit, separator, log } = opts;
  const pingMs = opts.pingMs ?? DEFAULT_PING_MS;
  const sessions = createSessionTable<Session>({ ...opts, close: (s) => (s as Session).channel.close() });

  const unsubscribe = registry.onChange((server, kind) => {
    for (const s of sessions.values()) {
      if (s.only !== undefined && s.only !== server) continue;
      const send = kind === "tools" ? s.server.sendToolListChanged() : kind === "prompts" ? s.server.sendPromptListChanged() : s.server.sendResourceListChanged();
      send.catch(() => undefined);
    }
  });

  async function openStream(request: Request, ctx: AuthContext): Promise<Response> {
    const identity = ctx.identity as Identity;
    const path = ctx.url.pathname;
    const rest = path === "/sse" ? undefined : path.slice("/sse/".length);
    if (rest !== undefined && (rest === "" || rest.includes("/"))) throw new GatewayError("ERR_NOT_FOUND", "not found");
    requireMcpScope(identity);
    const only = rest === undefined ? undefined : decodePathSegment(rest);
    if (only !== undefined && !registry.get(only)) throw new GatewayError("ERR_NOT_FOUND", `no MCP server named '${only}'`);

    sessions.admit(identity);

    const id = crypto.randomUUID();
    // Relative, so it holds behind whatever host name the client reached the gateway by.
    const channel = sseChannel(id, `/messages?sessionId=${id}`, pingMs);
    // A session: the caller can be asked things (sampling, elicitation, roots) over its stream.
    const { server } = createAggregateServer({ registry, policy, audit, separator, only, session: true, tracing: opts.tracing });
    server.onerror = (err) => log.debug("legacy SSE session error", { session: id.slice(0, 8), error: err.message });
    const session: Session = { ...sessions.entry(id, identity, only), channel, server };
    // Node, Deno and Bun all cancel the stream when the client goes; the request's signal is a second
    // witness, for a server in front that drops the response without cancelling its body.
    const gone = (): void => void sessions.end(session, "client gone");
    // Set before connect(), which calls it first when the stream ends for any reason. Deno aborts the
    // signal of every completed response too, and warns when a listener is still attached then.
    channel.onclose = () => {
      request.signal.removeEventListener("abort", gone);
      sessions.forget(session);
    };
    sessions.add(session);
    await server.connect(channel);
    request.signal.addEventListener("abort", gone, { once: true });
    if (request.signal.aborted) {
      gone();
      throw new GatewayError("ERR_CLIENT_ABORTED", "the client went away before its stream opened");
    }
    log.debug("legacy SSE session opened", { session: id.slice(0, 8) });
    return new Response(channel.body, {
      headers: {
        "content-type": "text/event-stream",
        "cache-control": "no-cache, no-transform",
        // nginx would otherwise buffer the stream and hold back every event.
        "x-accel-buffering": "no",
      },
    });
  }

  async function post(request: Request, ctx: AuthContext): Promise<Response> {
    const identity = ctx.identity as Identity;
    requireMcpScope(identity);
    const id = ctx.url.searchParams.get("sessionId");
    if (!id) throw new GatewayError("ERR_BAD_REQUEST", "Bad Request: the sessionId query parameter is required");
    // A session belongs to the credential that opened it; anyone else is told it does not exist.
    const session = sessions.use(id, identity);
    const messages = messagesOf(await readJsonBody(request, opts.maxBodyBytes, opts.bodyTimeoutMs));
    // The stream may have closed while the body arrived.
    if (sessions.get(id) !== session) throw new GatewayError("ERR_SESSION_NOT_FOUND", "Session not found");
    if (opts.limits) {
      const refused = await chargeToolCalls(opts.limits, messages.length === 1 ? messages[0] : messages, identity, (name) => session.only ?? splitName(name, separator, registry.names())?.server);
      if (refused) return refused;
    }
    // Each message is decided with the rights of the credential of this very POST.
    const authInfo: AuthInfo = { token: "", clientId: identity.subject, scopes: identity.scopes, extra: { caller: { identity } } };
    for (const message of messages) session.channel.deliver(message, authInfo);
    return new Response(null, { status: 202 });
  }

  const shared = { auth: "mcp", origin: true, errors: "rpc" } as const;
  return {
    routes: [
      { method: "GET", path: "/sse", ...shared, handler: openStream },
      { method: "GET", path: "/sse/*", ...shared, handler: openStream },
      { method: "POST", path: "/messages", ...shared, handler: post },
    ],
    sessionCount: () => sessions.size(),
    expireCredential: (credentialId, at) => sessions.expireCredential(credentialId, at),
    async close() {
      unsubscribe();
      await sessions.close();
    },
  };
}
