import { ProtocolError, ProtocolErrorCode } from "@modelcontextprotocol/server";
import { credentialOf, principalOf } from "../auth/principal.ts";
import type { Context } from "@opentelemetry/api";
import type { Audit, Identity } from "../types.ts";
import { unrefTimer } from "../unref-timer.ts";
import type { UpstreamRegistry } from "./registry.ts";
import { askableCapabilities, gateServerRequest, type ServerRequestRecord } from "./server-requests.ts";
import type { CallerChannel, UpstreamConnection } from "./upstream-connection.ts";

/**
 * Multi-round-trip requests (MCP 2026-07-28) over upstreams that ask the 2025 way.
 *
 * A stateless caller cannot be sent requests: a server that needs its input answers `input_required`,
 * and the caller retries with `inputResponses` and the `requestState` it was given. Most servers still
 * push `sampling/createMessage`, `elicitation/create` or `roots/list` while a call runs. The gateway
 * bridges the two: the call runs upstream on a connection leased to that one request (declaring only the
 * capabilities this request declares), a request the server pushes is answered to the caller as
 * `input_required`, the upstream call is held, and the caller's retry delivers the answer. A round's
 * `requestState` is an unguessable handle, single-use, bound to the credential, server, method and target
 * of the call, and expires.
 */

/** What one stateless request declares in its `_meta` envelope. */
export interface InputWants {
  /** The client capabilities a server may use (sampling, elicitation, roots), as the request declares them. */
  capabilities: Record<string, unknown>;
  /** The request's log level (`io.modelcontextprotocol/logLevel`): without one, no logs are relayed. */
  logLevel?: string;
}

/** One request that may need the caller's input, first or retried. */
export interface RoundRequest {
  server: string;
  method: string;
  /** The name (tool, prompt) or URI the request targets: a retry must name the same. */
  target: string;
  params: Record<string, unknown>;
  identity: Identity;
  wants: InputWants;
  /** Set on a retry: the `requestState` the caller echoes, and its answers by input key. */
  state?: string;
  inputResponses?: Record<string, unknown>;
  /** The caller's progress token for this request, if it asked for progress. */
  progressToken?: string | number;
  /** With tracing on: the request's span, parent of the upstream call's. */
  trace?: Context;
  /** Sends a notification on this request's response stream. */
  notify(notification: { method: string; params: Record<string, unknown> }): Promise<void>;
  /** How a server's log message is shown to this caller (its logger prefixed in the aggregate). */
  showLog(params: Record<string, unknown>): Record<string, unknown>;
  signal: AbortSignal;
}

/** Settings of the input rounds. */
export interface InputRoundsOptions {
  registry: UpstreamRegistry;
  audit: Audit;
  /** How long a round waits for the caller's retry, ms (default 5 minutes). */
  roundTtlMs?: number;
  /** How long an unleased connection is kept for reuse, ms (default 60 s). */
  idleMs?: number;
}

/** The stateless callers' rounds of one gateway. */
export interface InputRounds {
  /** A connection that lists what `server` offers a caller with these capabilities (tools that need sampling, say). */
  listing(server: string, identity: Identity, wants: InputWants): Promise<UpstreamConnection | undefined>;
  /** Runs a request, or resumes it with the caller's answers: its result, or `input_required`. */
  run(request: RoundRequest): Promise<Record<string, unknown>>;
  /** Rounds waiting for a retry. */
  pending(): number;
  close(): Promise<void>;
}

interface Ask {
  key: string;
  method: string;
  params: Record<string, unknown> | undefined;
  sent: boolean;
  resolve(result: Record<string, unknown>): void;
  reject(err: Error): void;
  record: ServerRequestRecord;
}

type Outcome = { ok: true; value: Record<string, unknown> } | { ok: false; error: unknown };

interface Round {
  credential: string;
  server: string;
  method: string;
  target: string;
  identity: Identity;
  logLevel?: string;
  pooled: Pooled;
  outcome: Promise<Outcome>;
  asks: Ask[];
  nextKey: number;
  wake?: () => void;
  /** The HTTP request of the round in progress: where notifications go; none between rounds. */
  current?: RoundRequest;
  progress: Promise<void>;
  abort: AbortController;
  timer?: ReturnType<typeof setTimeout>;
  state?: string;
}

interface Pooled {
  key: string;
  conn: UpstreamConnection;
  ready: Promise<UpstreamConnection>;
  holder?: Round;
  level?: string;
  idleSince: number;
}

const DEFAULT_TTL_MS = 5 * 60_000;
const DEFAULT_IDLE_MS = 60_000;

function invalidState(): ProtocolError {
  return new ProtocolError(ProtocolErrorCode.InvalidParams, "Invalid or expired requestState", { reason: "invalid_request_state" });
}

function newState(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(24));
  let bin = "";
  for (const b of bytes) bin += String.fromCharCode(b);
  return btoa(bin).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

/**
 * Creates the input rounds of a gateway.
 *
 * @example
 * const rounds = createInputRounds({ registry, audit });
 * const result = await rounds.run({ server: "everything", method: "tools/call", target: "ask", params, identity, wants, notify, showLog, signal });
 */
export function createInputRounds(o: InputRoundsOptions): InputRounds {
  const ttl = o.roundTtlMs ?? DEFAULT_TTL_MS;
  const idleMs = o.idleMs ?? DEFAULT_IDLE_MS;
  /** Pooled connections by server, principal and declared capabilities. */
  const pool = new Map<string, Pooled[]>();
  /** Rounds waiting for the caller's retry, by their requestState. */
  const waiting = new Map<string, Round>();

  const keyOf = (server: string, identity: Identity, wants: InputWants): string =>
    `${server}\u0000${principalOf(identity)}\u0000${JSON.stringify(askableCapabilities(wants.capabilities))}`;

  function open(server: string, identity: Identity, wants: InputWants): Pooled | undefined {
    const key = keyOf(server, identity, wants);
    const entry = {} as Pooled;
    const channel: CallerChannel = {
      capabilities: askableCapabilities(wants.capabilities),
      async onRequest(method, params) {
        const round = entry.holder;
        const record = gateServerRequest(o.audit, server, o.registry.get(server)?.upstream, identity, method, round !== undefined);
        return await new Promise((resolve, reject) => {
          round!.asks.push({ key: `${method.split("/")[0]}-${++round!.nextKey}`, method, params, sent: false, resolve, reject, record });
          round!.wake?.();
        });
      },
      onNotification(method, params) {
        const round = entry.holder;
        // Subscriptions of this era are `subscriptions/listen`; a pushed resource update has no request to belong to.
        if (!round?.current || method !== "notifications/message" || round.logLevel === undefined) return;
        round.current.notify({ method, params: round.current.showLog(params ?? {}) }).catch(() => undefined);
      },
    };
    const conn = o.registry.callerConnection(server, identity, channel);
    if (!conn) return undefined;
    Object.assign(entry, { key, conn, idleSince: Date.now(), ready: conn.start().then(() => conn) });
    const list = pool.get(key) ?? [];
    list.push(entry);
    pool.set(key, list);
    return entry;
  }

  function drop(entry: Pooled): void {
    const list = pool.get(entry.key);
    if (list) {
      list.splice(list.indexOf(entry), 1);
      if (list.length === 0) pool.delete(entry.key);
    }
    entry.conn.close().catch(() => undefined);
  }

  function lease(server: string, identity: Identity, wants: InputWants, round: Round): Pooled | undefined {
    const free = pool.get(keyOf(server, identity, wants))?.find((p) => p.holder === undefined && p.conn.state !== "closed");
    const entry = free ?? open(server, identity, wants);
    if (entry) entry.holder = round;
    return entry;
  }

  function release(round: Round, reuse: boolean): void {
    const entry = round.pooled;
    if (entry.holder !== round) return;
    entry.holder = undefined;
    entry.idleSince = Date.now();
    if (!reuse) drop(entry);
  }

  const sweep = setInterval(() => {
    const now = Date.now();
    for (const list of [...pool.values()]) {
      for (const entry of [...list]) if (entry.holder === undefined && now - entry.idleSince > idleMs) drop(entry);
    }
  }, Math.max(1_000, Math.min(idleMs, 30_000)));
  unrefTimer(sweep);

  /** Ends a round that will not be resumed: its open asks fail, the upstream call is cancelled. */
  function abandon(round: Round, why: string): void {
    if (round.state !== undefined) waiting.delete(round.state);
    if (round.timer) clearTimeout(round.timer);
    for (const ask of round.asks) {
      ask.record("error");
      ask.reject(new ProtocolError(ProtocolErrorCode.InvalidRequest, why));
    }
    round.asks = [];
    round.abort.abort(new Error(why));
    release(round, false);
  }

  /** Waits for the round's next step: the upstream's result, or requests the caller must answer first. */
  async function step(round: Round, request: RoundRequest): Promise<Record<string, unknown>> {
    round.current = request;
    const unsent = () => round.asks.some((a) => !a.sent);
    const asked = new Promise<"asked">((resolve) => {
      round.wake = () => resolve("asked");
      if (unsent()) resolve("asked");
    });
    let onAbort: (() => void) | undefined;
    const gone = new Promise<"gone">((resolve) => {
      onAbort = () => resolve("gone");
      if (request.signal.aborted) resolve("gone");
      else request.signal.addEventListener("abort", onAbort, { once: true });
    });
    const next = await Promise.race([round.outcome, asked, gone]);
    request.signal.removeEventListener("abort", onAbort!);
    round.wake = undefined;
    if (next === "gone") {
      abandon(round, "the client went away");
      throw new ProtocolError(ProtocolErrorCode.InternalError, "the request was cancelled");
    }
    if (next === "asked") {
      // Requests the server sends together are answered together: let the rest of a burst arrive.
      await new Promise((r) => setTimeout(r, 0));
      const asks = round.asks.filter((a) => !a.sent);
      for (const a of asks) a.sent = true;
      round.current = undefined;
      round.state = newState();
      waiting.set(round.state, round);
      round.timer = setTimeout(() => abandon(round, "the client did not answer in time"), ttl);
      unrefTimer(round.timer);
      return {
        resultType: "input_required",
        inputRequests: Object.fromEntries(asks.map((a) => [a.key, { method: a.method, ...(a.params === undefined ? {} : { params: a.params }) }])),
        requestState: round.state,
      };
    }
    await round.progress;
    round.current = undefined;
    // The server finished without waiting for answers it asked for at the last moment: nobody will give them.
    for (const ask of round.asks) {
      ask.record("error");
      ask.reject(new ProtocolError(ProtocolErrorCode.InvalidRequest, "the request has ended"));
    }
    round.asks = [];
    release(round, true);
    if (next.ok) return next.value;
    throw next.error;
  }

  async function start(request: RoundRequest): Promise<Record<string, unknown>> {
    const { server, identity, wants } = request;
    const round = {
      credential: credentialOf(identity),
      server,
      method: request.method,
      target: request.target,
      identity,
      logLevel: wants.logLevel,
      asks: [],
      nextKey: 0,
      progress: Promise.resolve(),
      abort: new AbortController(),
    } as unknown as Round;
    const pooled = lease(server, identity, wants, round);
    if (!pooled) throw new ProtocolError(ProtocolErrorCode.InternalError, `Server '${server}' cannot be reached for this request`, { server });
    round.pooled = pooled;
    let conn: UpstreamConnection;
    try {
      conn = await pooled.ready;
      // The level is the request's own; a connection keeps the last one set, so it is set when it differs.
      if (wants.logLevel !== undefined && wants.logLevel !== pooled.level && conn.serverCapabilities?.logging !== undefined) {
        await conn.request("logging/setLevel", { level: wants.logLevel }, { identity });
        pooled.level = wants.logLevel;
      }
    } catch (err) {
      release(round, false);
      throw err;
    }
    const onprogress = (p: { progress: number; total?: number; message?: string }) => {
      const current = round.current;
      if (current?.progressToken === undefined) return;
      round.progress = round.progress.then(() => current.notify({ method: "notifications/progress", params: { ...p, progressToken: current.progressToken } })).catch(() => undefined);
    };
    round.outcome = conn.request(request.method, request.params, { identity, signal: round.abort.signal, onprogress, trace: request.trace })
      .then((value): Outcome => ({ ok: true, value }), (error): Outcome => ({ ok: false, error }));
    return await step(round, request);
  }

  async function resume(request: RoundRequest): Promise<Record<string, unknown>> {
    const round = waiting.get(request.state!);
    // Single use, and only for the very call it was issued to, by the same credential.
    if (!round || round.credential !== credentialOf(request.identity) || round.server !== request.server || round.method !== request.method || round.target !== request.target) {
      throw invalidState();
    }
    waiting.delete(request.state!);
    round.state = undefined;
    if (round.timer) clearTimeout(round.timer);
    for (const ask of round.asks.filter((a) => a.sent)) {
      const answer = request.inputResponses?.[ask.key];
      round.asks.splice(round.asks.indexOf(ask), 1);
      if (typeof answer === "object" && answer !== null) {
        ask.record("ok");
        ask.resolve(answer as Record<string, unknown>);
      } else {
        ask.record("error");
        ask.reject(new ProtocolError(ProtocolErrorCode.InvalidRequest, `the client did not answer ${ask.method}`));
      }
    }
    return await step(round, request);
  }

  return {
    async listing(server, identity, wants) {
      const list = pool.get(keyOf(server, identity, wants));
      const entry = list?.find((p) => p.conn.state !== "closed") ?? open(server, identity, wants);
      return entry ? await entry.ready : undefined;
    },
    run: (request) => request.state === undefined ? start(request) : resume(request),
    pending: () => waiting.size,
    async close() {
      clearInterval(sweep);
      for (const round of [...waiting.values()]) abandon(round, "the gateway is shutting down");
      const all = [...pool.values()].flat();
      pool.clear();
      await Promise.all(all.map((p) => p.conn.close().catch(() => undefined)));
    },
  };
}
