import { CLIENT_CAPABILITIES_META_KEY, LOG_LEVEL_META_KEY, ProtocolError, ProtocolErrorCode, Server, UriTemplate } from "@modelcontextprotocol/server";
import type { Context } from "@opentelemetry/api";
import type { InputRounds, InputWants } from "./input-rounds.ts";
import { type RequestSpans, traceHandlers } from "../observe/trace-mcp.ts";
import type { Tracing } from "../observe/tracing.ts";
import type { Audit } from "../types.ts";
import type { AccessPolicy } from "../types.ts";
import type { Identity } from "../types.ts";
import { VERSION } from "../version.ts";
import { joinName, MAX_NAME_LENGTH, nameTooLong, splitName } from "./namespacing.ts";
import { resolveTool, type ToolResolution } from "./resolve-tool.ts";
import type { UpstreamRegistry } from "./registry.ts";
import type { CallerChannel, Listing, UpstreamConnection } from "./upstream-connection.ts";
import { askableCapabilities, gateServerRequest } from "./server-requests.ts";

/** Inputs of one aggregated MCP server instance (one per session or per stateless request). */
export interface AggregateOptions {
  registry: UpstreamRegistry;
  policy: AccessPolicy;
  audit: Audit;
  separator: string;
  /** Serve this one upstream, unprefixed (`/mcp/<server>`). */
  only?: string;
  /**
   * The server serves one caller session (2025-11-25 or the legacy SSE transport), which can be asked
   * things and sent logs: upstream connections of its own are opened for it when it needs them.
   */
  session?: boolean;
  /**
   * For stateless (2026-07-28) requests: the gateway's input rounds, through which a server's requests
   * reach a caller that declared the capability as `input_required` results.
   */
  rounds?: InputRounds;
  /** The gateway's tracing: each request gets a server span, its upstream call a child span. */
  tracing?: Tracing;
}

type Params = Record<string, unknown>;

/** One aggregated MCP server instance, and its direct path for plain tool calls. */
export interface AggregateServer {
  /** The MCP server, to connect to a transport. */
  server: Server;
  /**
   * Serves one `tools/call` without the MCP server's request machinery: the same resolution, policy,
   * audit and forwarding, minus the SDK's validation and streaming. Only for a call nothing can follow:
   * the caller asked for no progress and the session has no upstream connections of its own (so no
   * server message can belong to it). Returns undefined when the call needs the full path.
   */
  directToolCall(params: Params & { name: string }, identity: Identity, known: ToolResolution | undefined, signal: AbortSignal, trace?: Context): Promise<Record<string, unknown>> | undefined;
  /**
   * The shared connection of the server that owns `uri`, when the identity may read it and the server
   * takes subscriptions on it; undefined otherwise.
   */
  subscribable(identity: Identity, uri: string): Promise<UpstreamConnection | undefined>;
}

/** What each request hands the server: the caller as authenticated for this very request. */
export interface CallerInfo {
  identity: Identity;
  /** A `tools/call` the HTTP layer has already resolved for this request. */
  resolved?: ToolResolution;
  /** With tracing on: the parent of this request's span (the caller's `traceparent`, else a new trace). */
  trace?: Context;
}

type CallCtx = { http?: { authInfo?: { extra?: Record<string, unknown> } } };
/** The parts of a handler's context the relay uses. */
type Ctx = NotifyCtx & {
  mcpReq: {
    signal: AbortSignal;
    send(request: unknown): Promise<unknown>;
    /** 2026-07-28: the request's `_meta` envelope, the answers of a retried request and its echoed state. */
    envelope?: Record<string, unknown>;
    inputResponses?: Record<string, unknown>;
    requestState?(): unknown;
  };
};

/** The methods whose 2026-07-28 results may be `input_required`. */
const INPUT_METHODS = new Set(["tools/call", "prompts/get", "resources/read"]);

/** What a stateless request declares the gateway may ask of it (capabilities, log level); undefined for nothing. */
function wantsOf(ctx: Ctx): InputWants | undefined {
  const envelope = ctx.mcpReq.envelope;
  const capabilities = askableCapabilities(envelope?.[CLIENT_CAPABILITIES_META_KEY] as Record<string, unknown> | undefined);
  const level = envelope?.[LOG_LEVEL_META_KEY];
  const logLevel = typeof level === "string" ? level : undefined;
  return Object.keys(capabilities).length > 0 || logLevel !== undefined ? { capabilities, logLevel } : undefined;
}

/** `params` without the fields of a 2026-07-28 retry, which an upstream asked the 2025 way never sees. */
function withoutRoundFields(params: Record<string, unknown>): Record<string, unknown> {
  if (!("inputResponses" in params) && !("requestState" in params)) return params;
  const { inputResponses: _a, requestState: _b, ...rest } = params;
  return rest;
}

type ProgressFn = (p: { progress: number; total?: number; message?: string }) => void;
type NotifyCtx = { mcpReq: { notify(n: { method: "notifications/progress"; params: Record<string, unknown> }): Promise<void> } };

/**
 * Relays an upstream's progress to the caller under the caller's own token, on the caller's request
 * stream (`onprogress` is undefined when the caller asked for none). `settled()` waits for the relayed
 * notifications, so the last one is written before the response ends the stream.
 */
function progressOf(params: unknown, ctx: NotifyCtx): { onprogress?: ProgressFn; settled(): Promise<void> } {
  const token = (params as { _meta?: { progressToken?: unknown } } | undefined)?._meta?.progressToken;
  if (typeof token !== "string" && typeof token !== "number") return { settled: () => Promise.resolve() };
  let last: Promise<void> = Promise.resolve();
  return {
    onprogress: (p) => {
      last = last.then(() => ctx.mcpReq.notify({ method: "notifications/progress", params: { ...p, progressToken: token } })).catch(() => undefined);
    },
    settled: () => last,
  };
}

// The server span of each traced request in progress (traceHandlers, callTool), for its upstream call.
const requestSpans: RequestSpans = new WeakMap();

/** Forwards one request upstream with the caller's identity, relaying its progress. */
async function forward(conn: UpstreamConnection, method: string, params: Record<string, unknown>, identity: Identity, ctx: NotifyCtx & { mcpReq: { signal: AbortSignal } }): Promise<Record<string, unknown>> {
  const progress = progressOf(params, ctx);
  try {
    return await conn.request(method, params, { signal: ctx.mcpReq.signal, identity, onprogress: progress.onprogress, trace: requestSpans.get(ctx) });
  } finally {
    await progress.settled();
  }
}

function invalid(message: string): ProtocolError {
  return new ProtocolError(ProtocolErrorCode.InvalidParams, message);
}

// A name of unbounded length must not travel into errors, logs or the audit trail.
function shown(name: string): string {
  return name.length > MAX_NAME_LENGTH ? `${name.slice(0, MAX_NAME_LENGTH)}…` : name;
}

/**
 * The identity of the request being served. Every request is decided with the rights of the credential
 * that presented it, never with those of whoever opened the session.
 */
function callerOf(ctx: CallCtx): Identity;
function callerOf(ctx: CallCtx, part: "resolved"): ToolResolution | undefined;
function callerOf(ctx: CallCtx, part: "identity" | "resolved" = "identity"): Identity | ToolResolution | undefined {
  const caller = ctx.http?.authInfo?.extra?.caller as CallerInfo | undefined;
  if (!caller) throw new ProtocolError(ProtocolErrorCode.InternalError, "request reached the MCP server without an identity");
  return part === "identity" ? caller.identity : caller.resolved;
}

/**
 * Builds a low-level MCP `Server` whose tools, prompts and resources are those of every upstream the
 * identity may reach, namespaced `<server><sep><name>` (or unprefixed for a single server).
 *
 * @example
 * const { server } = createAggregateServer({ registry, policy, audit, separator: "__" });
 * await server.connect(transport);
 * // each request then carries its caller: transport.handleRequest(req, { authInfo: { ..., extra: { caller: { identity } } } })
 */
export function createAggregateServer(opts: AggregateOptions): AggregateServer {
  const { registry, policy, audit, separator, only } = opts;
  // Advertised only when an upstream this server fronts can do it: logging, completions, resource subscriptions.
  const fronted = (only ? [registry.get(only)] : registry.all()).filter((c): c is UpstreamConnection => c !== undefined);
  const upstreamCan = (key: "logging" | "completions" | "subscribe") =>
    fronted.some((c) => key === "subscribe" ? (c.serverCapabilities?.resources as { subscribe?: boolean } | undefined)?.subscribe === true : c.serverCapabilities?.[key] !== undefined);
  const session = opts.session === true;
  // A stateless request's own declarations; this server instance serves that one request.
  let wants: InputWants | undefined;
  /** The caller of a request; for a stateless one, also what it declares it can be asked. */
  const enter = (ctx: CallCtx): Identity => {
    if (!session && opts.rounds) wants = wantsOf(ctx as unknown as Ctx);
    return callerOf(ctx);
  };
  /** A server's log message as this caller sees it: in the aggregate, its logger named after the server. */
  const logAs = (name: string, params: Record<string, unknown>): Record<string, unknown> =>
    only ? params : { ...params, logger: params.logger ? `${name}/${String(params.logger)}` : name };
  const server = new Server(
    { name: only ? `portcullis/${only}` : "portcullis", version: VERSION },
    {
      capabilities: {
        tools: { listChanged: true },
        prompts: { listChanged: true },
        resources: { listChanged: true, ...((session || opts.rounds) && upstreamCan("subscribe") ? { subscribe: true } : {}) },
        ...(upstreamCan("completions") ? { completions: {} } : {}),
        ...((session || opts.rounds) && upstreamCan("logging") ? { logging: {} } : {}),
      },
    },
  );
  const tracing = opts.tracing?.tracer ? opts.tracing : undefined;
  if (tracing) traceHandlers(server, tracing, (ctx) => ((ctx as CallCtx).http?.authInfo?.extra?.caller as CallerInfo | undefined)?.trace, requestSpans);

  // A caller session's own upstream connections. A shared connection cannot tell whose a server-started
  // message is, so a caller that can be asked things (sampling, elicitation, roots), has set a log level or
  // subscribed gets connections of its own, opened on first use and closed with the session.
  const own = new Map<string, Promise<UpstreamConnection | undefined>>();
  // server -> the caller requests in progress there, newest last: what a server's request relates to.
  const inflight = new Map<string, Ctx[]>();
  let logLevel: string | undefined;
  const subscriptions = new Set<string>();
  const callerCaps = (): Record<string, unknown> => (server.getClientCapabilities() ?? {}) as Record<string, unknown>;
  const wantsOwn = (): boolean => {
    if (!session) return false;
    const caps = callerCaps();
    return "sampling" in caps || "elicitation" in caps || "roots" in caps || logLevel !== undefined || subscriptions.size > 0;
  };
  const ownConnection = (name: string, identity: Identity): Promise<UpstreamConnection | undefined> => {
    if (!wantsOwn()) return Promise.resolve(undefined);
    let pending = own.get(name);
    if (pending) return pending;
    const channel: CallerChannel = {
      capabilities: askableCapabilities(callerCaps()),
      async onRequest(method, params) {
        const ctx = inflight.get(name)?.at(-1);
        // Such a request must belong to one of the caller's requests (SEP-2260); with none in progress, nobody is asked.
        const record = gateServerRequest(audit, name, registry.get(name)?.upstream, identity, method, ctx !== undefined);
        try {
          const result = await ctx!.mcpReq.send({ method, params } as never) as Record<string, unknown>;
          record("ok");
          return result;
        } catch (err) {
          record("error");
          throw err;
        }
      },
      onNotification(method, params) {
        if (method === "notifications/message" && logLevel === undefined) return;
        const n = { method, params: method === "notifications/message" ? logAs(name, params ?? {}) : params ?? {} } as never;
        const ctx = inflight.get(name)?.at(-1);
        (ctx ? ctx.mcpReq.notify(n) : server.notification(n)).catch(() => undefined);
      },
    };
    const conn = registry.callerConnection(name, identity, channel);
    pending = conn === undefined ? Promise.resolve(undefined) : conn.start().then(async () => {
      if (logLevel !== undefined && conn.serverCapabilities?.logging !== undefined) {
        await conn.request("logging/setLevel", { level: logLevel }, { identity }).catch(() => undefined);
      }
      return conn;
    });
    own.set(name, pending);
    return pending;
  };
  const closeOwn = (): void => {
    for (const p of own.values()) p.then((c) => c?.close()).catch(() => undefined);
    own.clear();
  };
  const previousOnclose = server.onclose;
  server.onclose = () => {
    closeOwn();
    previousOnclose?.();
  };
  /** The connection that serves this caller on `name`: its own when it needs one, else the shared (or per-user) one. */
  // A stateless request that declares what it can be asked lists what servers offer such a caller.
  const connect = async (name: string, identity: Identity): Promise<UpstreamConnection | undefined> =>
    (await ownConnection(name, identity)) ??
      (wants && opts.rounds && !registry.get(name)?.upstream.perUser ? await opts.rounds.listing(name, identity, wants).catch(() => undefined) : undefined) ??
      await registry.connectionFor(name, identity);
  /**
   * Forwards over the caller's own connection when it has one, relating what the server starts to `ctx`;
   * a stateless request that can be asked things (or answers what it was asked) goes through the input rounds.
   */
  const relay = async (shared: UpstreamConnection, method: string, params: Record<string, unknown>, identity: Identity, ctx: Ctx): Promise<Record<string, unknown>> => {
    params = withoutRoundFields(params);
    if (!session && opts.rounds && INPUT_METHODS.has(method) && !shared.upstream.perUser) {
      const state = ctx.mcpReq.requestState?.();
      if (state !== undefined && typeof state !== "string") throw new ProtocolError(ProtocolErrorCode.InvalidParams, "Invalid or expired requestState");
      if (wants || state !== undefined) {
        const token = (params._meta as { progressToken?: unknown } | undefined)?.progressToken;
        return await opts.rounds.run({
          server: shared.name,
          method,
          target: String(params.name ?? params.uri),
          params,
          identity,
          wants: wants ?? { capabilities: {} },
          state,
          inputResponses: ctx.mcpReq.inputResponses,
          progressToken: typeof token === "string" || typeof token === "number" ? token : undefined,
          notify: (n) => ctx.mcpReq.notify(n as never),
          showLog: (p) => logAs(shared.name, p),
          signal: ctx.mcpReq.signal,
          trace: requestSpans.get(ctx),
        });
      }
    }
    const conn = (await ownConnection(shared.name, identity)) ?? shared;
    let list = inflight.get(shared.name);
    if (!list) inflight.set(shared.name, list = []);
    list.push(ctx);
    try {
      return await forward(conn, method, params, identity, ctx);
    } finally {
      list.splice(list.indexOf(ctx), 1);
    }
  };

  // A server that needs the caller's own credential, which they have not stored, simply lists nothing;
  // calling it says what to set.
  const visible = async (identity: Identity): Promise<UpstreamConnection[]> => {
    const names = (only ? [only] : registry.names()).filter((n) => policy.server(identity, n));
    const conns = await Promise.all(names.map((n) => connect(n, identity).catch(() => undefined)));
    return conns.filter((c): c is UpstreamConnection => c !== undefined);
  };
  const prefix = (server: string, name: string): string => only ? name : joinName(server, separator, name);
  const resolve = async (identity: Identity, full: string, what: string): Promise<{ conn: UpstreamConnection; name: string }> => {
    const parts = only ? { server: only, name: full } : splitName(full, separator, registry.names());
    if (!parts || nameTooLong(parts.name) || !registry.get(parts.server) || !policy.server(identity, parts.server)) throw invalid(`Unknown ${what}: ${shown(full)}`);
    const conn = await connect(parts.server, identity);
    if (!conn) throw invalid(`Unknown ${what}: ${shown(full)}`);
    return { conn, name: parts.name };
  };
  const listings = async (identity: Identity): Promise<Array<{ conn: UpstreamConnection; listing: Listing }>> =>
    await Promise.all((await visible(identity)).map(async (conn) => ({ conn, listing: await conn.listing() })));
  const routeUri = async (identity: Identity, uri: string): Promise<UpstreamConnection> => {
    const all = await listings(identity);
    for (const { conn, listing } of all) {
      if (policy.read(identity, conn.name) && listing.resources.some((r) => r.uri === uri)) return conn;
    }
    for (const { conn, listing } of all) {
      if (!policy.read(identity, conn.name)) continue;
      for (const t of listing.resourceTemplates) {
        if (t.uriTemplate === uri || new UriTemplate(t.uriTemplate).match(uri)) return conn;
      }
    }
    if (only && policy.read(identity, only)) {
      const conn = await connect(only, identity);
      if (conn) return conn;
    }
    throw invalid(`Unknown resource: ${shown(uri)}`);
  };

  server.setRequestHandler("tools/list", async (_request, ctx) => {
    const identity = enter(ctx);
    const tools = [];
    for (const { conn, listing } of await listings(identity)) {
      for (const tool of listing.tools) {
        if (policy.tool(identity, conn.name, tool, false)) tools.push({ ...tool, name: prefix(conn.name, tool.name) });
      }
    }
    return { tools };
  });

  /**
   * One `tools/call`: resolved against the caller's rights, audited, forwarded by `send` to the server
   * that has the tool. `known` is a resolution the HTTP layer already made for this very call (OAuth
   * step-up): never twice.
   */
  const callTool = async (identity: Identity, params: Params & { name: string }, known: ToolResolution | undefined, send: (conn: UpstreamConnection, params: Params, trace?: Context) => Promise<Record<string, unknown>>, trace?: Context): Promise<Record<string, unknown>> => {
    const started = performance.now();
    // With tracing on, the call is a server span (named once its tool is known) and its upstream call a child.
    const span = tracing && trace ? tracing.start("tools/call", "server", trace, { "mcp.method": "tools/call" }) : undefined;
    const record = (server: string, tool: string, outcome: "ok" | "tool_error" | "error" | "denied", error?: string) => {
      if (span) {
        if (server !== "" && outcome !== "denied") span.updateName(`tools/call ${prefix(server, tool)}`);
        span.setAttributes({ "mcp.server": server, "mcp.tool": shown(tool), "mcp.outcome": outcome });
        tracing!.end(span, outcome === "ok" ? undefined : error ?? outcome);
      }
      audit.emit({
        type: "tool_call",
        subject: identity.subject,
        tokenId: identity.tokenId,
        strategy: identity.strategy,
        server,
        tool: shown(tool),
        allowed: outcome !== "denied",
        outcome,
        durationMs: Math.round((performance.now() - started) * 1000) / 1000,
        ...(error === undefined ? {} : { error }),
      });
    };
    const r = known?.requested === params.name ? known : await resolveTool(params.name, identity, { registry, policy, separator, only, connect });
    if (r.decision === "unknown") {
      record(r.server ?? "", r.tool ?? params.name, "denied", "unknown tool");
      throw invalid(`Unknown tool: ${shown(params.name)}`);
    }
    if (r.decision === "unavailable") {
      record(r.server, r.tool, "error", r.error.message);
      throw r.error;
    }
    if (r.decision === "denied") {
      record(r.server, r.tool, "denied", "not permitted");
      throw invalid(`Unknown tool: ${shown(params.name)}`);
    }
    try {
      const result = await send(r.conn, { ...params, name: r.tool }, span ? tracing!.within(trace!, span) : undefined);
      record(r.server, r.tool, result.isError === true ? "tool_error" : "ok");
      return result;
    } catch (err) {
      record(r.server, r.tool, "error", (err as Error).message);
      throw err;
    }
  };

  server.setRequestHandler("tools/call", async (request, ctx) => {
    const identity = enter(ctx);
    // A session with connections of its own sees what the server offers that caller (tools that need
    // sampling, say), so it resolves against them rather than the shared listing.
    const known = wantsOwn() || wants ? undefined : callerOf(ctx, "resolved");
    const caller = ctx.http?.authInfo?.extra?.caller as CallerInfo | undefined;
    return await callTool(identity, request.params as Params & { name: string }, known, (conn, params, trace) => {
      if (trace) requestSpans.set(ctx, trace);
      return relay(conn, "tools/call", params, identity, ctx);
    }, caller?.trace) as never;
  });

  // Prompts, resources and templates: every readable upstream's items, names prefixed.
  const readable = async <K extends "prompts" | "resources" | "resourceTemplates">(identity: Identity, key: K): Promise<Listing[K]> => {
    const out: Array<Listing[K][number]> = [];
    for (const { conn, listing } of await listings(identity)) {
      if (!policy.read(identity, conn.name)) continue;
      for (const item of listing[key]) out.push({ ...item, name: prefix(conn.name, item.name) });
    }
    return out as Listing[K];
  };

  server.setRequestHandler("prompts/list", async (_request, ctx) => ({ prompts: await readable(enter(ctx), "prompts") }));

  server.setRequestHandler("prompts/get", async (request, ctx) => {
    const identity = enter(ctx);
    const params = request.params as Params & { name: string };
    const { conn, name } = await resolve(identity, params.name, "prompt");
    if (!policy.read(identity, conn.name)) throw invalid(`Unknown prompt: ${shown(params.name)}`);
    await conn.assertAvailable();
    return await relay(conn, "prompts/get", { ...params, name }, identity, ctx) as never;
  });

  server.setRequestHandler("resources/list", async (_request, ctx) => ({ resources: await readable(enter(ctx), "resources") }));

  server.setRequestHandler("resources/templates/list", async (_request, ctx) => ({ resourceTemplates: await readable(enter(ctx), "resourceTemplates") }));

  server.setRequestHandler("resources/read", async (request, ctx) => {
    const identity = enter(ctx);
    const params = request.params as Params & { uri: string };
    const conn = await routeUri(identity, params.uri);
    return await relay(conn, "resources/read", params, identity, ctx) as never;
  });

  if (upstreamCan("completions")) server.setRequestHandler("completion/complete", async (request, ctx) => {
    const identity = enter(ctx);
    const params = request.params as Params & { ref: { type: string; name?: string; uri?: string } };
    if (params.ref.type === "ref/prompt" && params.ref.name) {
      const { conn, name } = await resolve(identity, params.ref.name, "prompt");
      if (!policy.read(identity, conn.name)) throw invalid(`Unknown prompt: ${shown(params.ref.name)}`);
      return await forward(conn, "completion/complete", { ...params, ref: { ...params.ref, name } }, identity, ctx) as never;
    }
    if (params.ref.type === "ref/resource" && params.ref.uri) {
      const conn = await routeUri(identity, params.ref.uri);
      return await forward(conn, "completion/complete", params, identity, ctx) as never;
    }
    throw invalid("Unsupported completion reference");
  });

  if (session) {
    // The caller's roots changed: the servers that can ask for them (its own connections) are told.
    server.setNotificationHandler("notifications/roots/list_changed", () => {
      for (const p of own.values()) p.then((c) => c?.notify("notifications/roots/list_changed")).catch(() => undefined);
    });
  }
  if (session && upstreamCan("logging")) {
    server.setRequestHandler("logging/setLevel", async (request, ctx) => {
      const identity = enter(ctx);
      logLevel = (request.params as { level: string }).level;
      // Every server of this caller that logs gets the level, over the caller's own connection.
      for (const shared of await visible(identity)) {
        if (shared.serverCapabilities?.logging === undefined) continue;
        const conn = await ownConnection(shared.name, identity);
        await conn?.request("logging/setLevel", { level: logLevel }, { identity });
      }
      return {};
    });
  }
  if (session && upstreamCan("subscribe")) {
    const subscription = (method: "resources/subscribe" | "resources/unsubscribe") =>
      server.setRequestHandler(method, async (request, ctx) => {
        const identity = enter(ctx);
        const uri = (request.params as { uri: string }).uri;
        const owner = await routeUri(identity, uri);
        if ((owner.serverCapabilities?.resources as { subscribe?: boolean } | undefined)?.subscribe !== true) {
          throw new ProtocolError(ProtocolErrorCode.MethodNotFound, `Server '${owner.name}' does not support resource subscriptions`);
        }
        if (method === "resources/subscribe") subscriptions.add(uri);
        const conn = (await ownConnection(owner.name, identity)) ?? owner;
        if (method === "resources/unsubscribe") subscriptions.delete(uri);
        await conn.request(method, request.params as Record<string, unknown>, { identity, signal: ctx.mcpReq.signal });
        return {};
      });
    subscription("resources/subscribe");
    subscription("resources/unsubscribe");
  }

  return {
    server,
    directToolCall(params, identity, known, signal, trace) {
      const meta = params._meta as { progressToken?: unknown } | undefined;
      if (wantsOwn() || meta?.progressToken !== undefined) return undefined;
      return callTool(identity, params, known, (conn, forwarded, child) => conn.request("tools/call", forwarded, { signal, identity, trace: child }), trace);
    },
    async subscribable(identity, uri) {
      const owner = await routeUri(identity, uri).catch(() => undefined);
      if (!owner || owner.upstream.perUser || !registry.get(owner.name)) return undefined;
      const shared = registry.get(owner.name)!;
      return (shared.serverCapabilities?.resources as { subscribe?: boolean } | undefined)?.subscribe === true ? shared : undefined;
    },
  };
}
