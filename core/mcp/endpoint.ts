import { createMcpHandler, isLegacyRequest, WebStandardStreamableHTTPServerTransport } from "@modelcontextprotocol/server";
import type { Context } from "@opentelemetry/api";
import type { Tracing } from "../observe/tracing.ts";
import type { Audit } from "../types.ts";
import type { AccessPolicy } from "../types.ts";
import { GatewayError } from "../errors.ts";
import type { Identity, Logger } from "../types.ts";
import { type AggregateServer, createAggregateServer } from "./aggregate-server.ts";
import { directAnswer, plainToolCall } from "./direct-call.ts";
import { createInputRounds } from "./input-rounds.ts";
import { createListenBridge, isResourceListen } from "./listen.ts";
import { createEventStore } from "./event-store.ts";
import { createSessionTable, type SessionEntry } from "./session-table.ts";
import type { UpstreamRegistry } from "./registry.ts";
import type { ToolResolution } from "./resolve-tool.ts";

/** Settings of the MCP endpoint. */
export interface EndpointOptions {
  registry: UpstreamRegistry;
  policy: AccessPolicy;
  audit: Audit;
  separator: string;
  maxBodyBytes: number;
  sessionIdleSeconds: number;
  maxSessions: number;
  /** Most open sessions of one principal; at the limit its least recently used session is closed. */
  maxSessionsPerUser: number;
  log: Logger;
  /** The gateway's tracing: a span per MCP request, parented by the caller's `traceparent`. */
  tracing?: Tracing;
}

/** Serves `/mcp` and `/mcp/<server>` for 2025-11-25 (sessions) and 2026-07-28 (stateless) clients. */
export interface McpEndpoint {
  /**
   * Handles one authenticated request; `body` is the parsed JSON body of a POST, `resolved` the tool a
   * single `tools/call` body names, when the HTTP layer has already resolved it.
   */
  handle(request: Request, identity: Identity, body: unknown, only?: string, resolved?: ToolResolution): Promise<Response>;
  /** Open 2025-era sessions. */
  sessionCount(): number;
  /**
   * The credential `credentialId` (a token id, an OAuth grant) stops being valid at `at` (ms): sessions it
   * opened end then, or at once when `at` has passed.
   */
  expireCredential(credentialId: string, at: number): void;
  close(): Promise<void>;
}

interface Session extends SessionEntry {
  transport: WebStandardStreamableHTTPServerTransport;
  aggregate: AggregateServer;
  /** Tool calls in flight on the direct path, by JSON-RPC id: how to cancel each. */
  direct: Map<string, AbortController>;
}

interface Binding {
  identity: Identity;
  only: string | undefined;
  resolved?: ToolResolution;
  /** With tracing on: the parent of the request's span. */
  trace?: Context;
}

/** The request id a `notifications/cancelled` body names, if it is one. */
function cancelledRequest(body: unknown): unknown {
  const b = body as { method?: unknown; params?: { requestId?: unknown } } | null;
  return typeof b === "object" && b !== null && b.method === "notifications/cancelled" ? b.params?.requestId : undefined;
}

function isInitialize(body: unknown): boolean {
  const one = (m: unknown) => typeof m === "object" && m !== null && (m as { method?: unknown }).method === "initialize";
  return Array.isArray(body) ? body.some(one) : one(body);
}

/**
 * Creates the MCP endpoint over an upstream registry.
 *
 * @example
 * const endpoint = createMcpEndpoint({ registry, policy, separator: "__", maxBodyBytes: 4 << 20, sessionIdleSeconds: 600, maxSessions: 10000, maxSessionsPerUser: 16, log });
 */
export function createMcpEndpoint(opts: EndpointOptions): McpEndpoint {
  const { registry, policy, audit, separator, log, tracing } = opts;
  const sessions = createSessionTable<Session>({
    ...opts,
    close: (s) => {
      for (const call of (s as Session).direct.values()) call.abort(new Error("the session ended"));
      return (s as Session).transport.close();
    },
  });
  // 2026-07-28 requests that can be asked things: a server's requests reach them as input_required.
  const rounds = createInputRounds({ registry, audit });
  // 2026-07-28 resource subscriptions: routed to the servers that own the URIs, updates to the listeners.
  const listen = createListenBridge(log);
  const offUpdates = registry.onResourceUpdated((_server, uri) => modern.notify.resourceUpdated(uri));

  // 2026-07-28: stateless; one short-lived aggregate server per request, bound to the caller's identity.
  const modern = createMcpHandler(
    (ctx) => {
      const binding = ctx.authInfo?.extra?.binding as Binding | undefined;
      if (!binding) throw new Error("request reached the MCP handler without an identity");
      return createAggregateServer({ registry, policy, audit, separator, only: binding.only, rounds, tracing }).server;
    },
    {
      legacy: "reject",
      maxRequestBodySize: opts.maxBodyBytes,
      onerror: (err) => log.debug("mcp request rejected", { error: err.message }),
    },
  );

  const unsubscribe = registry.onChange((changed, kind) => {
    for (const s of sessions.values()) {
      if (s.only !== undefined && s.only !== changed) continue;
      const { server } = s.aggregate;
      const send = kind === "tools" ? server.sendToolListChanged() : kind === "prompts" ? server.sendPromptListChanged() : server.sendResourceListChanged();
      send.catch(() => undefined);
    }
    if (kind === "tools") modern.notify.toolsChanged();
    else if (kind === "prompts") modern.notify.promptsChanged();
    else modern.notify.resourcesChanged();
  });

  const authInfo = (binding: Binding) => ({
    token: "",
    clientId: binding.identity.subject,
    scopes: binding.identity.scopes,
    extra: { binding, caller: { identity: binding.identity, resolved: binding.resolved, trace: binding.trace } },
  });

  async function legacy(request: Request, identity: Identity, body: unknown, only: string | undefined, resolved: ToolResolution | undefined, trace: Context | undefined): Promise<Response> {
    const id = request.headers.get("mcp-session-id");
    if (id !== null) {
      const session = sessions.use(id, identity, { only });
      // The hot path: a plain tool call is routed and answered as JSON without the SDK's server machinery
      // (its schema validation, request bookkeeping and SSE stream cost most of the gateway's CPU per call).
      const call = request.method === "POST" ? plainToolCall(request, body) : undefined;
      if (call) {
        // Cancelled when the caller goes away or sends notifications/cancelled for it (below).
        const cancel = new AbortController();
        const pending = session.aggregate.directToolCall(call.params, identity, resolved, AbortSignal.any([request.signal, cancel.signal]), trace);
        if (pending) {
          const key = JSON.stringify(call.id);
          session.direct.set(key, cancel);
          return directAnswer(call.id, pending.finally(() => session.direct.get(key) === cancel && session.direct.delete(key)), id);
        }
      }
      const cancelled = cancelledRequest(body);
      if (cancelled !== undefined) session.direct.get(JSON.stringify(cancelled))?.abort(new Error("cancelled by the client"));
      return session.transport.handleRequest(request, { parsedBody: body, authInfo: authInfo({ identity, only, resolved, trace }) });
    }
    if (request.method !== "POST" || !isInitialize(body)) {
      throw new GatewayError("ERR_BAD_REQUEST", "Bad Request: Mcp-Session-Id header is required");
    }
    sessions.admit(identity);
    const aggregate = createAggregateServer({ registry, policy, audit, separator, only, session: true, tracing });
    const { server } = aggregate;
    const transport: WebStandardStreamableHTTPServerTransport = new WebStandardStreamableHTTPServerTransport({
      sessionIdGenerator: () => crypto.randomUUID(),
      maxRequestBodySize: opts.maxBodyBytes,
      // Resumability: SSE events get ids, and a client that reconnects with Last-Event-ID is sent what it
      // missed. One store per session, so no session can ever name or replay another's events.
      eventStore: createEventStore(),
      onsessioninitialized: (sid) => sessions.add({ ...sessions.entry(sid, identity, only), transport, aggregate, direct: new Map() }),
      onsessionclosed: (sid) => {
        const s = sessions.get(sid);
        if (s) sessions.forget(s);
      },
    });
    transport.onclose = () => {
      const s = transport.sessionId ? sessions.get(transport.sessionId) : undefined;
      if (s && s.transport === transport) sessions.forget(s);
    };
    await server.connect(transport);
    return transport.handleRequest(request, { parsedBody: body, authInfo: authInfo({ identity, only, trace }) });
  }

  return {
    async handle(request, identity, body, only, resolved) {
      // A request naming an open session is a 2025-era request: skip the SDK's classification, which
      // validates the body against its schemas again (~30-40 µs of CPU per call measured on Node).
      const sid = request.headers.get("mcp-session-id");
      const useLegacy = (sid !== null && sessions.get(sid) !== undefined) || (request.method === "POST"
        ? await isLegacyRequest(request, body, { maxRequestBodySize: opts.maxBodyBytes })
        : sid !== null);
      // One property read when tracing is off; on, the caller's `traceparent` (or a new trace) parents the request.
      const trace = tracing?.tracer ? tracing.parentOf(request.headers) : undefined;
      if (useLegacy) return legacy(request, identity, body, only, resolved, trace);
      const info = authInfo({ identity, only, resolved, trace });
      const cancelled = cancelledRequest(body);
      if (cancelled !== undefined) listen.cancel(identity, cancelled);
      if (isResourceListen(body)) {
        const aggregate = createAggregateServer({ registry, policy, audit, separator, only, rounds, tracing });
        return listen.serve(body, identity, aggregate, request.signal, (narrowed) => modern.fetch(request, { parsedBody: narrowed, authInfo: info }));
      }
      return modern.fetch(request, { parsedBody: body, authInfo: info });
    },
    sessionCount: () => sessions.size(),
    expireCredential: (credentialId, at) => sessions.expireCredential(credentialId, at),
    async close() {
      unsubscribe();
      offUpdates();
      await sessions.close();
      await modern.close();
      await rounds.close();
    },
  };
}
