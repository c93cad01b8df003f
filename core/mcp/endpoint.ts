import { createMcpHandler, isLegacyRequest, type Server, WebStandardStreamableHTTPServerTransport } from "@modelcontextprotocol/server";
import type { Audit } from "../audit/bus.ts";
import type { AccessPolicy } from "../auth/policy.ts";
import { GatewayError } from "../errors.ts";
import type { Identity, Logger } from "../types.ts";
import { unrefTimer } from "../unref-timer.ts";
import { createAggregateServer } from "./aggregate-server.ts";
import type { UpstreamRegistry } from "./registry.ts";

/** Settings of the MCP endpoint. */
export interface EndpointOptions {
  registry: UpstreamRegistry;
  policy: AccessPolicy;
  audit: Audit;
  separator: string;
  maxBodyBytes: number;
  sessionIdleSeconds: number;
  maxSessions: number;
  log: Logger;
}

/** Serves `/mcp` and `/mcp/<server>` for 2025-11-25 (sessions) and 2026-07-28 (stateless) clients. */
export interface McpEndpoint {
  /** Handles one authenticated request; `body` is the parsed JSON body of a POST. */
  handle(request: Request, identity: Identity, body: unknown, only?: string): Promise<Response>;
  /** Open 2025-era sessions. */
  sessionCount(): number;
  close(): Promise<void>;
}

interface Session {
  transport: WebStandardStreamableHTTPServerTransport;
  server: Server;
  subject: string;
  only: string | undefined;
  lastSeen: number;
}

interface Binding {
  identity: Identity;
  only: string | undefined;
}

function isInitialize(body: unknown): boolean {
  const one = (m: unknown) => typeof m === "object" && m !== null && (m as { method?: unknown }).method === "initialize";
  return Array.isArray(body) ? body.some(one) : one(body);
}

/**
 * Creates the MCP endpoint over an upstream registry.
 *
 * @example
 * const endpoint = createMcpEndpoint({ registry, policy, separator: "__", maxBodyBytes: 4 << 20, sessionIdleSeconds: 1800, maxSessions: 10000, log });
 */
export function createMcpEndpoint(opts: EndpointOptions): McpEndpoint {
  const { registry, policy, audit, separator, log } = opts;
  const sessions = new Map<string, Session>();

  // 2026-07-28: stateless; one short-lived aggregate server per request, bound to the caller's identity.
  const modern = createMcpHandler(
    (ctx) => {
      const binding = ctx.authInfo?.extra?.binding as Binding | undefined;
      if (!binding) throw new Error("request reached the MCP handler without an identity");
      return createAggregateServer({ registry, policy, audit, separator, identity: binding.identity, only: binding.only });
    },
    {
      legacy: "reject",
      maxRequestBodySize: opts.maxBodyBytes,
      onerror: (err) => log.debug("mcp request rejected", { error: err.message }),
    },
  );

  const unsubscribe = registry.onChange((server, kind) => {
    for (const s of sessions.values()) {
      if (s.only !== undefined && s.only !== server) continue;
      const send = kind === "tools" ? s.server.sendToolListChanged() : kind === "prompts" ? s.server.sendPromptListChanged() : s.server.sendResourceListChanged();
      send.catch(() => undefined);
    }
    if (kind === "tools") modern.notify.toolsChanged();
    else if (kind === "prompts") modern.notify.promptsChanged();
    else modern.notify.resourcesChanged();
  });

  const sweep = setInterval(() => {
    const cutoff = Date.now() - opts.sessionIdleSeconds * 1000;
    for (const [id, s] of sessions) {
      if (s.lastSeen < cutoff) {
        sessions.delete(id);
        s.transport.close().catch(() => undefined);
        log.debug("idle session closed", { session: id.slice(0, 8) });
      }
    }
  }, Math.min(60_000, opts.sessionIdleSeconds * 500));
  unrefTimer(sweep);

  const authInfo = (binding: Binding) => ({ token: "", clientId: binding.identity.subject, scopes: binding.identity.scopes, extra: { binding } });

  async function legacy(request: Request, identity: Identity, body: unknown, only: string | undefined): Promise<Response> {
    const id = request.headers.get("mcp-session-id");
    if (id !== null) {
      const session = sessions.get(id);
      // A session belongs to the identity and the path that opened it; anyone else is told it does not exist.
      if (!session || session.subject !== identity.subject || session.only !== only) {
        throw new GatewayError("ERR_SESSION_NOT_FOUND", "Session not found");
      }
      session.lastSeen = Date.now();
      return session.transport.handleRequest(request, { parsedBody: body });
    }
    if (request.method !== "POST" || !isInitialize(body)) {
      throw new GatewayError("ERR_BAD_REQUEST", "Bad Request: Mcp-Session-Id header is required");
    }
    if (sessions.size >= opts.maxSessions) {
      throw new GatewayError("ERR_OVERLOADED", "too many open sessions; try again later");
    }
    const server = createAggregateServer({ registry, policy, audit, separator, identity, only });
    const transport: WebStandardStreamableHTTPServerTransport = new WebStandardStreamableHTTPServerTransport({
      sessionIdGenerator: () => crypto.randomUUID(),
      maxRequestBodySize: opts.maxBodyBytes,
      onsessioninitialized: (sid) => {
        sessions.set(sid, { transport, server, subject: identity.subject, only, lastSeen: Date.now() });
      },
      onsessionclosed: (sid) => {
        sessions.delete(sid);
      },
    });
    transport.onclose = () => {
      if (transport.sessionId) sessions.delete(transport.sessionId);
    };
    await server.connect(transport);
    return transport.handleRequest(request, { parsedBody: body });
  }

  return {
    async handle(request, identity, body, only) {
      // A request naming an open session is a 2025-era request: skip the SDK's classification, which
      // validates the body against its schemas again (~30-40 µs of CPU per call measured on Node).
      const sid = request.headers.get("mcp-session-id");
      const useLegacy = (sid !== null && sessions.has(sid)) || (request.method === "POST"
        ? await isLegacyRequest(request, body, { maxRequestBodySize: opts.maxBodyBytes })
        : sid !== null);
      if (useLegacy) return legacy(request, identity, body, only);
      return modern.fetch(request, { parsedBody: body, authInfo: authInfo({ identity, only }) });
    },
    sessionCount: () => sessions.size,
    async close() {
      clearInterval(sweep);
      unsubscribe();
      const all = [...sessions.values()];
      sessions.clear();
      await Promise.all(all.map((s) => s.transport.close().catch(() => undefined)));
      await modern.close();
    },
  };
}
