import { Client, ProtocolError, ProtocolErrorCode, SdkError, SdkErrorCode } from "@modelcontextprotocol/client";
import type { Prompt, Resource, ResourceTemplateType as ResourceTemplate, Tool } from "@modelcontextprotocol/client";
import type { Logger, Upstream } from "../types.ts";
import { unrefTimer } from "../unref-timer.ts";
import { VERSION } from "../version.ts";

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
const MAX_PAGES = 100;

function message(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
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
  #state: State = "idle";
  #client: Client | undefined;
  #pending: Promise<Client> | undefined;
  #lastError = "not started";
  #attempt = 0;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #generation = 0;
  #listing: Listing = EMPTY;
  #seq: Record<ListKind, number> = { tools: 0, prompts: 0, resources: 0 };
  #applied: Record<ListKind, number> = { tools: 0, prompts: 0, resources: 0 };

  constructor(name: string, upstream: Upstream, log: Logger, onChange: (server: string, kind: ListKind) => void) {
    this.name = name;
    this.upstream = upstream;
    this.#log = log;
    this.#onChange = onChange;
  }

  /** Current state, for /healthz. */
  get state(): State {
    return this.#state;
  }

  /** The last connection error, for /healthz (never contains credentials the gateway added). */
  get lastError(): string | undefined {
    return this.#state === "ready" ? undefined : this.#lastError;
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
  async request(method: string, params: Record<string, unknown> | undefined, signal?: AbortSignal): Promise<Record<string, unknown>> {
    const client = await this.#ready();
    try {
      return await client.request(
        { method, params } as never,
        { timeout: this.upstream.timeoutMs ?? 60_000, signal, maxTotalTimeout: this.upstream.timeoutMs ?? 60_000 } as never,
      ) as Record<string, unknown>;
    } catch (err) {
      throw this.#translate(err);
    }
  }

  /** Closes the connection for good. */
  async close(): Promise<void> {
    this.#state = "closed";
    this.#generation++;
    if (this.#timer) clearTimeout(this.#timer);
    const client = this.#client;
    this.#client = undefined;
    await client?.close().catch(() => undefined);
    await this.upstream.close?.();
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

  #unavailable(reason: string): ProtocolError {
    return new ProtocolError(ProtocolErrorCode.InternalError, `Upstream server '${this.name}' is unavailable: ${reason}`, { server: this.name });
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
    this.#state = "connecting";
    const attempt = (async (): Promise<Client> => {
      const transport = await this.upstream.createTransport();
      const client = new Client({ name: "portcullis", version: VERSION }, { capabilities: {} });
      client.onclose = () => this.#closed(generation);
      client.onerror = (err) => this.#log.debug("upstream transport error", { server: this.name, error: message(err) });
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
      this.#log.info("upstream connected", { server: this.name, via: this.upstream.describe(), tools: this.#listing.tools.length, prompts: this.#listing.prompts.length, resources: this.#listing.resources.length });
      return client;
    })();
    this.#pending = attempt;
    attempt.catch((err) => {
      if (generation !== this.#generation || this.#state === "closed") return;
      this.#lastError = message(err);
      this.#state = "down";
      this.#log.warn("upstream connection failed", { server: this.name, error: this.#lastError });
      this.#scheduleReconnect();
    });
    return attempt;
  }

  #closed(generation: number): void {
    if (generation !== this.#generation || this.#state === "closed" || this.#state === "connecting") return;
    this.#client = undefined;
    this.#state = "down";
    this.#lastError = "the server exited or closed the connection";
    this.#log.warn("upstream connection lost", { server: this.name });
    this.#scheduleReconnect();
  }

  #scheduleReconnect(): void {
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
    if (generation !== this.#generation || seq < this.#applied[kind]) return;
    this.#applied[kind] = seq;
    this.#listing = { ...this.#listing, ...update };
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
