import { Client, ProtocolError, ProtocolErrorCode, SdkError, SdkErrorCode } from "@modelcontextprotocol/client";
import type { Prompt, Resource, ResourceTemplateType as ResourceTemplate, Tool } from "@modelcontextprotocol/client";
import type { Transport } from "@modelcontextprotocol/client";
import type { Context } from "@opentelemetry/api";
import type { Tracing } from "../observe/tracing.ts";
import type { Redactor } from "../secrets/redact.ts";
import type { Identity, IdentityMapper, Logger, TransportContext, Upstream } from "../types.ts";
import { unrefTimer } from "../unref-timer.ts";
import { VERSION } from "../version.ts";
import { MAX_NAME_LENGTH, nameTooLong } from "./namespacing.ts";
import { SERVER_REQUEST_KINDS } from "./server-requests.ts";

/** What an upstream offers, cached between list-changed notifications. */
export interface Listing {
  tools: Tool[];
  prompts: Prompt[];
  resources: Resource[];
  resourceTemplates: ResourceTemplate[];
}

/** A list kind that can change. */
export type ListKind = "tools" | "prompts" | "resources";

type State = "idle" | "connecting" | "ready" | "down" | "closed";

const EMPTY: Listing = { tools: [], prompts: [], resources: [], resourceTemplates: [] };
// A server that keeps failing to connect is logged once with the cause, then at most once a minute.
const FAILURE_LOG_INTERVAL_MS = 60_000;
// What a server writes (a stdio server's stderr) while starting is held until it is connected, then
// logged; if it fails, its last lines become part of the cause instead of being logged on every attempt.
const HELD_LINES = 100;
const CAUSE_LINES = 5;
const CAUSE_LINE_CHARS = 300;
const MAX_PAGES = 100;
// Forwarded results go back to the caller as they are, and the caller's own client validates them:
// validating them here too cost ~50 µs of CPU per call on Node (zod), for nothing.
const PASSTHROUGH = { "~standard": { version: 1, vendor: "portcullis", validate: (value: unknown) => ({ value }) } };

function message(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** `_meta` keys only the gateway may write: its own namespace, whatever mappers are configured. */
export const RESERVED_META_PREFIX = "io.portcullis/";

/**
 * `params` without the `_meta` entries a client may not set: the gateway's namespace (where upstreams
 * read the caller's identity and assertion) and any key an identity mapper declares. Matched without
 * regard to case, so a server comparing loosely cannot be fooled either.
 */
function withoutReservedMeta(params: Record<string, unknown> | undefined, extra: ReadonlySet<string>): Record<string, unknown> | undefined {
  const meta = params?._meta;
  if (typeof meta !== "object" || meta === null) return params;
  let clean: Record<string, unknown> | undefined;
  for (const key of Object.keys(meta)) {
    const k = key.toLowerCase();
    // The caller's progress token never travels as it is: on a connection shared by many callers it could
    // name another caller's request. The connection mints its own per request and maps progress back.
    if (k.startsWith(RESERVED_META_PREFIX) || extra.has(k) || key === "progressToken") {
      clean ??= { ...(meta as Record<string, unknown>) };
      delete clean[key];
    }
  }
  return clean ? { ...params, _meta: clean } : params;
}

/** A connection that has failed since it last worked: what /healthz shows of it. */
export interface ConnectionFailure {
  /** The last error, with its cause (never credentials the gateway added). */
  error: string;
  /** Failed attempts in a row. */
  attempts: number;
  /** When the first of them failed, ISO 8601. */
  since: string;
}

/** What one forwarded request carries besides its method and params. */
export interface CallContext {
  /** Cancels the upstream request (the caller cancelled or went away). */
  signal?: AbortSignal;
  /** The caller, for the identity mappers (headers for HTTP upstreams, `_meta` for stdio). */
  identity?: Identity;
  /**
   * Receives the upstream's progress for this one request (the caller asked for progress). The upstream
   * sees a token minted for this request only, so progress can never reach another caller.
   */
  onprogress?: (progress: { progress: number; total?: number; message?: string }) => void;
  /**
   * The trace this request belongs to (the caller's MCP request span): with tracing on, the upstream call
   * is a child span, and its W3C `traceparent` goes upstream as a header and in `params._meta`.
   */
  trace?: Context;
}

/**
 * A connection that serves one caller session alone: it declares that caller's client capabilities
 * upstream, and everything the server starts on it belongs to that caller.
 */
export interface CallerChannel {
  /** The caller's client capabilities the upstream may use (sampling, elicitation, roots), never more. */
  capabilities: Record<string, unknown>;
  /** A request the server sends (`sampling/createMessage`, `elicitation/create`, `roots/list`). */
  onRequest(method: string, params: Record<string, unknown> | undefined): Promise<Record<string, unknown>>;
  /** A notification the server sends (`notifications/message`, `notifications/resources/updated`). */
  onNotification(method: string, params: Record<string, unknown> | undefined): void;
}

const CALLER_NOTIFICATIONS = ["notifications/message", "notifications/resources/updated"];

/** What a connection needs besides its upstream. */
export interface ConnectionOptions {
  /** Set for a connection of one caller session (see CallerChannel). */
  caller?: CallerChannel;
  /** A shared connection's `notifications/resources/updated` (for subscriptions made on it), by URI. */
  onResourceUpdated?: (server: string, uri: string) => void;
  /** Called once when the connection is closed for good. */
  onClosed?: () => void;
  log: Logger;
  onChange: (server: string, kind: ListKind) => void;
  /** Builds the transport context (secret lookups are audited against this server and user). */
  context: TransportContext;
  /** Identity mappers applied to every forwarded request. */
  identity: readonly IdentityMapper[];
  /** Whether closing this connection closes the upstream plugin too (not for one user's connection). */
  ownsUpstream?: boolean;
  /** Known secret values: whatever the upstream sends back (results, errors, listings) passes through it. */
  redactor?: Redactor;
  /** The gateway's tracing: upstream calls made within a traced request become child spans. */
  tracing?: Tracing;
}

/**
 * One long-lived MCP client connection to an upstream server: connects in the background, keeps the
 * server's listings cached, restarts with exponential backoff after a crash, and turns every failure
 * into a JSON-RPC error that names the server.
 */
export class UpstreamConnection {
  readonly name: string;
  readonly upstream: Upstream;
  #log: Logger;
  #onChange: (server: string, kind: ListKind) => void;
  #context: TransportContext;
  #mappers: readonly IdentityMapper[];
  #reservedMeta: ReadonlySet<string>;
  #caller: CallerChannel | undefined;
  #onClosed: (() => void) | undefined;
  #onResourceUpdated: ((server: string, uri: string) => void) | undefined;
  #via: "headers" | "meta";
  #ownsUpstream: boolean;
  #redactor: Redactor | undefined;
  #tracing: Tracing | undefined;
  /** When the connection last served a request, ms; per-user connections are closed when idle. */
  lastUsed = Date.now();
  #state: State = "idle";
  #client: Client | undefined;
  #pending: Promise<Client> | undefined;
  #lastError = "not started";
  #attempt = 0;
  /** Failed attempts since the connection last worked, when the first failed, and when one was last logged. */
  #failures = 0;
  #failingSince = 0;
  #failureLoggedAt = 0;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #generation = 0;
  #listing: Listing = EMPTY;
  #seq: Record<ListKind, number> = { tools: 0, prompts: 0, resources: 0 };
  /** Progress relays of the requests in flight, by the token minted for each. */
  #progress = new Map<string, NonNullable<CallContext["onprogress"]>>();
  #applied: Record<ListKind, number> = { tools: 0, prompts: 0, resources: 0 };
  /** Connection attempts so far (the first one included), for the restarts metric. */
  #connects = 0;

  constructor(name: string, upstream: Upstream, options: ConnectionOptions) {
    this.name = name;
    this.upstream = upstream;
    this.#log = options.log;
    this.#onChange = options.onChange;
    this.#context = options.context;
    this.#mappers = options.identity;
    this.#reservedMeta = new Set(options.identity.flatMap((m) => m.metaKeys?.() ?? []).map((k) => k.toLowerCase()));
    this.#ownsUpstream = options.ownsUpstream ?? true;
    this.#caller = options.caller;
    this.#onClosed = options.onClosed;
    this.#onResourceUpdated = options.onResourceUpdated;
    this.#redactor = options.redactor;
    this.#tracing = options.tracing;
    this.#via = upstream.identityVia ?? "meta";
  }

  /** What the upstream said it can do (logging, resources.subscribe ...), once connected. */
  get serverCapabilities(): Record<string, unknown> | undefined {
    return this.#client?.getServerCapabilities() as Record<string, unknown> | undefined;
  }

  /** Connection attempts after the first (reconnects after a crash, a failure or a secret change), for /metrics. */
  get restarts(): number {
    return Math.max(0, this.#connects - 1);
  }

  /** The tools the upstream last listed (empty before its first listing), without waiting: for metric labels. */
  get tools(): readonly Tool[] {
    return this.#listing.tools;
  }

  /** Current state, for /healthz. */
  get state(): State {
    return this.#state;
  }

  /** The last connection error, for /healthz (never contains credentials the gateway added). */
  get lastError(): string | undefined {
    return this.#state === "ready" ? undefined : this.#lastError;
  }

  /** The failures since the connection last worked, for /healthz; undefined while it works or has not failed. */
  get failure(): ConnectionFailure | undefined {
    if (this.#state === "ready" || this.#state === "closed" || this.#failures === 0) return undefined;
    return { error: this.#lastError, attempts: this.#failures, since: new Date(this.#failingSince).toISOString() };
  }

  /** Starts connecting; resolves once the first attempt has succeeded or failed. */
  start(): Promise<void> {
    if (this.#state !== "idle") return Promise.resolve();
    return this.#connect().then(() => undefined, () => undefined);
  }

  /** The cached listing; waits for a connection in progress, returns empty lists for a down server. */
  async listing(): Promise<Listing> {
    if (this.#state === "connecting" && this.#pending) {
      await this.#withConnectTimeout(this.#pending).catch(() => undefined);
    }
    return this.#state === "ready" ? this.#listing : EMPTY;
  }

  /** Throws the "unavailable" JSON-RPC error naming the server unless it is connected (waiting for a start in progress). */
  async assertAvailable(): Promise<void> {
    await this.#ready();
  }

  /**
   * Sends one request to the upstream and returns its result, or throws a ProtocolError naming the server.
   *
   * @example
   * await conn.request("tools/call", { name: "echo", arguments: { message: "hi" } });
   */
  async request(method: string, params: Record<string, unknown> | undefined, call: CallContext = {}): Promise<Record<string, unknown>> {
    const client = await this.#ready();
    this.lastUsed = Date.now();
    params = withoutReservedMeta(params, this.#reservedMeta);
    let headers: Record<string, string> | undefined;
    if (call.identity && this.#mappers.length > 0) ({ params, headers } = await this.#forward(params ?? {}, call.identity));
    // A token minted for this one request, unguessable, mapped back to the caller's relay.
    let token: string | undefined;
    if (call.onprogress) {
      token = crypto.randomUUID();
      this.#progress.set(token, call.onprogress);
      params = { ...params, _meta: { ...(params?._meta as object | undefined), progressToken: token } };
    }
    const tracing = this.#tracing;
    let span: ReturnType<Tracing["start"]> | undefined;
    if (call.trace && tracing?.tracer) {
      const tool = method === "tools/call" && typeof params?.name === "string" ? params.name : undefined;
      span = tracing.start(tool === undefined ? method : `${method} ${tool}`, "client", call.trace, {
        "mcp.method": method,
        "mcp.server": this.name,
        ...(tool === undefined ? {} : { "mcp.tool": tool }),
      });
      // HTTP upstreams read the header; stdio ones (and any that prefer it) the `_meta` entries.
      const carrier = tracing.carrier(tracing.within(call.trace, span));
      headers = { ...headers, ...(carrier as Record<string, string>) };
      params = { ...params, _meta: { ...(params?._meta as object | undefined), ...carrier } };
    }
    let result: Record<string, unknown>;
    try {
      result = await client.request(
        { method, params } as never,
        PASSTHROUGH as never,
        // Per-request headers go to the transport with this one request (Streamable HTTP sends them on its POST).
        {
          timeout: this.upstream.timeoutMs ?? 60_000,
          signal: call.signal,
          maxTotalTimeout: this.upstream.timeoutMs ?? 60_000,
          headers,
        } as never,
      ) as Record<string, unknown>;
      if (span) tracing!.end(span, result.isError === true ? "the tool reported an error" : undefined);
    } catch (err) {
      const translated = this.#redactError(this.#translate(err));
      if (span) tracing!.end(span, translated.message);
      throw translated;
    } finally {
      if (token !== undefined) {
        // The client dispatches notifications a microtask after it reads them but settles responses at
        // once, so a last progress sent just before the result is still on its way: let it through first.
        await new Promise((r) => setTimeout(r, 0));
        this.#progress.delete(token);
      }
    }
    return this.#redactor ? this.#redactor.redact(result) : result;
  }

  /** What the identity mappers produce for this call: HTTP headers, and `_meta` entries merged into `params`. */
  async #forward(params: Record<string, unknown>, identity: Identity): Promise<{ params: Record<string, unknown>; headers?: Record<string, string> }> {
    let headers: Record<string, string> | undefined;
    let meta: Record<string, unknown> | undefined;
    for (const mapper of this.#mappers) {
      const out = await mapper.map(identity, this.name, this.#via);
      if (out.headers) headers = headers ? { ...headers, ...out.headers } : out.headers;
      if (out.meta) meta = meta ? { ...meta, ...out.meta } : out.meta;
    }
    return { params: meta ? { ...params, _meta: { ...(params._meta as object | undefined), ...meta } } : params, headers };
  }

  /** Sends a notification upstream (a caller's `notifications/roots/list_changed`); dropped while not connected. */
  async notify(method: string, params?: Record<string, unknown>): Promise<void> {
    if (this.#state !== "ready" || !this.#client) return;
    await this.#client.notification({ method, params } as never).catch(() => undefined);
  }

  /** Drops the current connection and connects again at once (a secret it uses changed). */
  restart(): void {
    if (this.#state === "closed" || this.#state === "idle") return;
    const client = this.#client;
    this.#client = undefined;
    this.#attempt = 0;
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = undefined;
    // A new generation first, so the old client's close is not taken for a crash.
    this.#connect().catch(() => undefined);
    client?.close().catch(() => undefined);
  }

  /** Closes the connection for good. */
  async close(): Promise<void> {
    if (this.#state === "closed") return;
    this.#onClosed?.();
    this.#state = "closed";
    this.#generation++;
    if (this.#timer) clearTimeout(this.#timer);
    const client = this.#client;
    this.#client = undefined;
    await client?.close().catch(() => undefined);
    if (this.#ownsUpstream) await this.upstream.close?.();
  }

  async #ready(): Promise<Client> {
    if (this.#state === "ready" && this.#client) return this.#client;
    if (this.#state === "connecting" && this.#pending) {
      try {
        return await this.#withConnectTimeout(this.#pending);
      } catch (err) {
        throw this.#unavailable(message(err));
      }
    }
    if (this.#state === "closed") throw this.#unavailable("the gateway is shutting down");
    if (this.#state === "idle") {
      try {
        return await this.#withConnectTimeout(this.#connect());
      } catch (err) {
        throw this.#unavailable(message(err));
      }
    }
    throw this.#unavailable(this.#lastError);
  }

  // An upstream echoing a credential it was given (in an error, say) must not hand it to the caller.
  #redactError(err: Error): Error {
    if (!this.#redactor || !(err instanceof ProtocolError)) return err;
    const message = this.#redactor.redactText(err.message);
    const data = this.#redactor.redact(err.data);
    return message === err.message && data === err.data ? err : new ProtocolError(err.code, message, data);
  }

  #unavailable(reason: string): ProtocolError {
    const shown = this.#redactor ? this.#redactor.redactText(reason) : reason;
    return new ProtocolError(ProtocolErrorCode.InternalError, `Upstream server '${this.name}' is unavailable: ${shown}`, { server: this.name });
  }

  #translate(err: unknown): Error {
    if (err instanceof ProtocolError) {
      return new ProtocolError(err.code, `${this.name}: ${err.message}`, err.data ?? { server: this.name });
    }
    if (err instanceof SdkError) {
      if (err.code === SdkErrorCode.RequestTimeout) {
        return new ProtocolError(ProtocolErrorCode.InternalError, `Upstream server '${this.name}' did not answer within ${this.upstream.timeoutMs ?? 60_000} ms`, { server: this.name });
      }
      if (err.code === SdkErrorCode.ConnectionClosed || err.code === SdkErrorCode.NotConnected || err.code === SdkErrorCode.SendFailed) {
        return new ProtocolError(ProtocolErrorCode.InternalError, `Upstream server '${this.name}' closed the connection during the request; it is being restarted`, { server: this.name });
      }
    }
    if (err instanceof Error && err.name === "AbortError") return err;
    return new ProtocolError(ProtocolErrorCode.InternalError, `Upstream server '${this.name}' failed: ${message(err)}`, { server: this.name });
  }

  #withConnectTimeout<T>(p: Promise<T>): Promise<T> {
    const ms = this.upstream.connectTimeoutMs ?? 15_000;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`no connection within ${ms} ms`)), ms);
      unrefTimer(timer);
    });
    return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
  }

  #connect(): Promise<Client> {
    const generation = ++this.#generation;
    this.#connects++;
    this.#state = "connecting";
    // Until this attempt is connected, the server's own output and transport errors are held: on success
    // the output is logged, on failure both become the cause, logged only as often as failures are.
    let connected = false;
    const held: string[] = [];
    let dropped = 0;
    let transportError: string | undefined;
    const log = this.#context.log;
    const context: TransportContext = log
      ? {
        ...this.#context,
        log: (line) => {
          if (connected) return log(line);
          held.push(line);
          if (held.length > HELD_LINES) (held.shift(), dropped++);
        },
      }
      : this.#context;
    const attempt = (async (): Promise<Client> => {
      const transport = await this.upstream.createTransport(context);
      const caller = this.#caller;
      const client = new Client({ name: "portcullis", version: VERSION }, { capabilities: caller?.capabilities ?? {} });
      if (caller) {
        for (const [method, capability] of Object.entries(SERVER_REQUEST_KINDS)) {
          if (!(capability in caller.capabilities)) continue;
          // What the server asks the caller can quote a credential the gateway gave it: redacted like its results.
          client.setRequestHandler(method as never, (async (request: { params?: Record<string, unknown> }) =>
            await caller.onRequest(method, this.#redactor ? this.#redactor.redact(request.params) : request.params)) as never);
        }
        for (const method of CALLER_NOTIFICATIONS) {
          client.setNotificationHandler(method as never, ((n: { params?: Record<string, unknown> }) => caller.onNotification(method, this.#redactor ? this.#redactor.redact(n.params) : n.params)) as never);
        }
      }
      const onUpdated = this.#onResourceUpdated;
      if (!caller && onUpdated) {
        client.setNotificationHandler("notifications/resources/updated", (n) => {
          const uri = (n as { params?: { uri?: unknown } }).params?.uri;
          if (typeof uri === "string") onUpdated(this.name, uri);
        });
      }
      client.onclose = () => this.#closed(generation);
      // A transport error can quote the upstream's answer, which may echo a credential the gateway sent.
      client.onerror = (err) => {
        if (!connected) {
          transportError ??= message(err);
          return;
        }
        this.#log.debug("upstream transport error", { server: this.name, error: this.#redactor ? this.#redactor.redactText(message(err)) : message(err) });
      };
      // Progress is routed by the tokens this connection minted; any other token reaches nobody.
      client.setNotificationHandler("notifications/progress", (n) => {
        const { progressToken, ...progress } = (n as { params: { progressToken: unknown; progress: number; total?: number; message?: string } }).params;
        const relay = this.#progress.get(String(progressToken));
        if (relay) relay(this.#redactor ? this.#redactor.redact(progress) : progress);
      });
      client.setNotificationHandler("notifications/tools/list_changed", () => this.#refresh(generation, client, "tools"));
      client.setNotificationHandler("notifications/prompts/list_changed", () => this.#refresh(generation, client, "prompts"));
      client.setNotificationHandler("notifications/resources/list_changed", () => this.#refresh(generation, client, "resources"));
      try {
        await this.#withConnectTimeout(client.connect(transport));
        this.#listing = EMPTY;
        await Promise.all((["tools", "prompts", "resources"] as const).map((k) => this.#fetchKind(generation, client, k)));
        if (generation !== this.#generation) throw new Error("superseded");
      } catch (err) {
        await client.close().catch(() => undefined);
        throw err;
      }
      this.#client = client;
      this.#state = "ready";
      this.#attempt = 0;
      const recovered = this.#failures > 0 ? { failedAttempts: this.#failures, failingSince: new Date(this.#failingSince).toISOString() } : {};
      this.#failures = 0;
      this.#log.info("upstream connected", { server: this.name, via: this.upstream.describe(), tools: this.#listing.tools.length, prompts: this.#listing.prompts.length, resources: this.#listing.resources.length, ...recovered });
      connected = true;
      if (dropped > 0) log?.(`(${dropped} earlier lines written while starting are not shown)`);
      for (const line of held.splice(0)) log?.(line);
      return client;
    })();
    this.#pending = attempt;
    attempt.catch((err) => {
      if (generation !== this.#generation || this.#state === "closed") return;
      // "Connection closed" says nothing: what the transport reported and the server wrote say why.
      let cause = message(err);
      if (transportError !== undefined && !cause.includes(transportError)) cause += ` (${transportError})`;
      if (held.length > 0) {
        const tail = held.slice(-CAUSE_LINES).map((l) => (l.length > CAUSE_LINE_CHARS ? `${l.slice(0, CAUSE_LINE_CHARS)}…` : l));
        cause += `; the server wrote: ${tail.join(" | ")}`;
      }
      // Connect errors can quote the upstream's answer, which may echo a credential the gateway sent.
      this.#lastError = this.#redactor ? this.#redactor.redactText(cause) : cause;
      this.#state = "down";
      const delayMs = this.#scheduleReconnect();
      this.#logFailure(delayMs);
    });
    return attempt;
  }

  /** The first failure in a row is logged with its cause; later ones at most once a minute (debug otherwise). */
  #logFailure(delayMs: number): void {
    const now = Date.now();
    this.#failures++;
    const retry = `${delayMs < 10_000 ? (delayMs / 1000).toFixed(1) : Math.round(delayMs / 1000)} s`;
    if (this.#failures === 1) {
      this.#failingSince = now;
      this.#failureLoggedAt = now;
      this.#log.warn("upstream connection failed; retrying with backoff", { server: this.name, via: this.upstream.describe(), error: this.#lastError, retryIn: retry });
      return;
    }
    const fields = { server: this.name, error: this.#lastError, attempts: this.#failures, since: new Date(this.#failingSince).toISOString(), retryIn: retry };
    if (now - this.#failureLoggedAt >= FAILURE_LOG_INTERVAL_MS) {
      this.#failureLoggedAt = now;
      this.#log.warn("upstream still failing", fields);
    } else {
      this.#log.debug("upstream connection failed again", fields);
    }
  }

  #closed(generation: number): void {
    if (generation !== this.#generation || this.#state === "closed" || this.#state === "connecting") return;
    this.#client = undefined;
    this.#state = "down";
    this.#lastError = "the server exited or closed the connection";
    this.#log.warn("upstream connection lost", { server: this.name });
    this.#scheduleReconnect();
  }

  /** Schedules the next attempt; returns its delay in ms. */
  #scheduleReconnect(): number {
    if (this.#timer) clearTimeout(this.#timer);
    const first = this.upstream.restart?.initialDelayMs ?? 250;
    const cap = this.upstream.restart?.maxDelayMs ?? 30_000;
    const delay = Math.min(cap, first * 2 ** this.#attempt) * (0.8 + Math.random() * 0.4);
    this.#attempt++;
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      if (this.#state === "down") this.#connect().catch(() => undefined);
    }, delay);
    unrefTimer(this.#timer);
    return delay;
  }

  async #refresh(generation: number, client: Client, kind: ListKind): Promise<void> {
    try {
      await this.#fetchKind(generation, client, kind);
      if (generation === this.#generation && this.#state === "ready") this.#onChange(this.name, kind);
    } catch (err) {
      this.#log.warn("upstream list refresh failed", { server: this.name, kind, error: message(err) });
    }
  }

  // Each fetch of a kind takes a sequence number and only a newer fetch may replace an older one's
  // result, so a list_changed arriving during the initial listing is never lost to a slower, older answer.
  async #fetchKind(generation: number, client: Client, kind: ListKind): Promise<void> {
    const seq = ++this.#seq[kind];
    const caps = client.getServerCapabilities() ?? {};
    const update: Partial<Listing> = {};
    if (kind === "tools") update.tools = caps.tools ? await this.#list(client, "tools/list", "tools") as Tool[] : [];
    if (kind === "prompts") update.prompts = caps.prompts ? await this.#list(client, "prompts/list", "prompts") as Prompt[] : [];
    if (kind === "resources") {
      const [resources, templates] = caps.resources
        ? await Promise.all([
          this.#list(client, "resources/list", "resources"),
          this.#list(client, "resources/templates/list", "resourceTemplates").catch(() => []),
        ])
        : [[], []];
      update.resources = resources as Resource[];
      update.resourceTemplates = templates as ResourceTemplate[];
    }
    // A name no client could address (MCP asks for at most 128 characters) is left out, not matched on.
    if (update.tools) update.tools = this.#named(update.tools, "tool");
    if (update.prompts) update.prompts = this.#named(update.prompts, "prompt");
    if (generation !== this.#generation || seq < this.#applied[kind]) return;
    this.#applied[kind] = seq;
    this.#listing = { ...this.#listing, ...(this.#redactor ? this.#redactor.redact(update) : update) };
  }

  #named<T extends { name: string }>(items: T[], what: string): T[] {
    const kept = items.filter((i) => typeof i.name === "string" && !nameTooLong(i.name));
    if (kept.length < items.length) {
      this.#log.warn(`upstream ${what} names over ${MAX_NAME_LENGTH} characters ignored`, { server: this.name, count: items.length - kept.length });
    }
    return kept;
  }

  async #list(client: Client, method: string, key: string): Promise<unknown[]> {
    const out: unknown[] = [];
    let cursor: string | undefined;
    for (let page = 0; page < MAX_PAGES; page++) {
      const result = await client.request(
        { method, params: cursor ? { cursor } : {} } as never,
        { timeout: this.upstream.timeoutMs ?? 60_000 } as never,
      ) as Record<string, unknown>;
      out.push(...((result[key] as unknown[] | undefined) ?? []));
      cursor = result.nextCursor as string | undefined;
      if (!cursor) break;
    }
    return out;
  }
}
