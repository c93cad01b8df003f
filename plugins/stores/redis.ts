import type { createClient } from "redis";

// The client library is loaded when the store opens: a gateway that does not use Redis never loads it.
type RedisClient = ReturnType<typeof createClient>;
import { configError, GatewayError, interpolate, type KeyValueStore } from "../../core/mod.ts";

/** TLS settings of the connection to Redis (PEM text, not file names). */
export interface RedisTlsOptions {
  /** CA certificates the server certificate is checked against; default the system's. */
  ca?: string;
  /** Client certificate, for a server that asks for one. */
  cert?: string;
  /** Private key of `cert`. */
  key?: string;
  /** Name checked against the server certificate; default the URL's host. */
  servername?: string;
}

/** Options of the Redis store. */
export interface RedisStoreOptions {
  /** `redis://[user:password@]host:port[/db]`, or `rediss://` for TLS; `${VAR}` is replaced from the environment. */
  url: string;
  /** Prefix of every key and channel this store uses, so several gateways can share one Redis; default `portcullis:`. */
  prefix?: string;
  /** TLS to Redis: `true` (system CAs) or the certificates to use. A `rediss://` URL turns it on too. */
  tls?: boolean | RedisTlsOptions;
  /**
   * Refuse to open on a Redis without the append-only file (`appendonly yes`), where an acknowledged write
   * can be lost on a restart; default true.
   */
  requireAof?: boolean;
  /** How long `open()` waits for the first connection, ms; default 5000. */
  connectTimeoutMs?: number;
}

// Removes one field of a hash and returns it in one step: Redis runs a script atomically, so of two
// concurrent takes only one sees the value.
const TAKE = "local v = redis.call('HGET', KEYS[1], ARGV[1]) if v then redis.call('HDEL', KEYS[1], ARGV[1]) end return v";
// A counter's lifetime starts with its first increment and is not extended by the next ones.
const INCREMENT = "local v = redis.call('INCRBY', KEYS[1], ARGV[1]) if redis.call('PTTL', KEYS[1]) < 0 then redis.call('PEXPIRE', KEYS[1], ARGV[2]) end return v";

/** The URL with any user name and password removed: what errors may show. */
function safeUrl(url: URL): string {
  return `${url.protocol}//${url.host}${url.pathname === "/" ? "" : url.pathname}`;
}

/**
 * A store on Redis, for several gateway instances behind a load balancer: every instance sees the same
 * tokens, OAuth grants, vault records and counters, and revocations reach all of them at once through
 * Redis pub/sub. Each namespace is one Redis hash (`<prefix>kv:<namespace>`); `take` is a Lua script
 * (atomic), `increment` a Lua script over a key with an expiry, `publish`/`subscribe` Redis channels
 * (`<prefix>ch:<channel>`). Values are JSON written as the gateway hands them over: secrets arrive
 * hashed or encrypted. Durability is Redis's: run it with `appendonly yes` and `appendfsync always`
 * (every acknowledged write is on disk) or `everysec` (up to a second of writes can be lost in a crash
 * of the machine); without the append-only file the store refuses to open unless `requireAof: false`.
 *
 * While Redis is unreachable, every operation fails at once with a 503 (`ERR_OVERLOADED`) naming the
 * URL (without its password), so requests that need the store are refused, never let through; the
 * client reconnects by itself when Redis is back.
 *
 * @example
 * import { redisStore } from "portcullis/plugins";
 * defineGateway({ tokens: { store: redisStore({ url: "redis://127.0.0.1:6379" }) }, servers: {} });
 */
export function redisStore(options: RedisStoreOptions): KeyValueStore {
  if (typeof options !== "object" || options === null) throw configError("redisStore", "expected { url, prefix?, tls? }");
  if (typeof options.url !== "string") throw configError("redisStore.url", "expected a redis:// or rediss:// URL", typeof options.url);
  const text = interpolate(options.url, "redisStore.url");
  let url: URL;
  try {
    // A variable still missing here is being collected by the config loader, which reports it.
    url = new URL(text.includes("${") ? "redis://unset.invalid" : text);
  } catch {
    throw configError("redisStore.url", "expected a redis:// or rediss:// URL such as redis://127.0.0.1:6379");
  }
  if (url.protocol !== "redis:" && url.protocol !== "rediss:") throw configError("redisStore.url", "expected a redis:// or rediss:// URL", url.protocol);
  const prefix = options.prefix ?? "portcullis:";
  if (typeof prefix !== "string" || prefix.length > 100) throw configError("redisStore.prefix", "expected a string of at most 100 characters");
  const tls = options.tls ?? false;
  if (typeof tls !== "boolean" && (typeof tls !== "object" || tls === null)) throw configError("redisStore.tls", "expected true, false or { ca?, cert?, key?, servername? }");
  const connectTimeoutMs = options.connectTimeoutMs ?? 5000;
  if (!Number.isInteger(connectTimeoutMs) || connectTimeoutMs <= 0) throw configError("redisStore.connectTimeoutMs", "expected a positive whole number of ms");
  const requireAof = options.requireAof ?? true;
  const where = safeUrl(url);
  const name = "store:redis";

  const socket = {
    connectTimeout: connectTimeoutMs,
    // Quick retries at first, then once a second: a restarted Redis is used again within a second.
    reconnectStrategy: (retries: number): number => Math.min(50 * (retries + 1), 1000),
    ...(tls === false ? {} : { tls: true as const, ...(tls === true ? {} : tls) }),
  };
  let client: RedisClient | undefined;
  let lastError = "";
  let subscriber: RedisClient | undefined;
  let subscribing: Promise<RedisClient> | undefined;
  let opening: Promise<void> | undefined;
  let closed = false;

  const hashOf = (ns: string): string => `${prefix}kv:${ns}`;
  const unavailable = (err: unknown): GatewayError => {
    if (err instanceof GatewayError) return err;
    const why = err instanceof Error && err.message ? err.message : lastError || "not connected";
    return new GatewayError("ERR_OVERLOADED", `the token store (Redis at ${where}) is unavailable: ${why}`, { status: 503, cause: err });
  };

  async function connect(): Promise<void> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(lastError || `no answer within ${connectTimeoutMs} ms`)), connectTimeoutMs);
    });
    // No offline queue: a command while Redis is unreachable fails at once (the request is refused)
    // instead of waiting, unanswered, for a reconnection.
    const made: RedisClient = (await import("redis")).createClient({ url: url.href, socket, disableOfflineQueue: true });
    // Connection errors are answered per command; the client's own error events must not crash the process.
    made.on("error", (err: unknown) => (lastError = err instanceof Error ? err.message || String((err as { code?: string }).code ?? "") : String(err)));
    client = made;
    try {
      await Promise.race([made.connect(), timeout]);
      if (requireAof) {
        const info = String(await Promise.race([made.info("persistence"), timeout]));
        if (!/^aof_enabled:1\s*$/m.test(info)) {
          throw new GatewayError(
            "ERR_CONFIG",
            `redisStore: Redis at ${where} runs without the append-only file, so acknowledged writes can be lost on a restart: ` +
              "set `appendonly yes` (and `appendfsync always` or `everysec`), or requireAof: false to accept it",
          );
        }
      }
    } catch (err) {
      await made.destroy();
      if (err instanceof GatewayError) throw err;
      throw new GatewayError("ERR_CONFIG", `redisStore: cannot reach Redis at ${where}: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
    } finally {
      clearTimeout(timer);
    }
  }

  async function ready(): Promise<void> {
    if (closed) throw new GatewayError("ERR_OVERLOADED", "the token store is closed");
    await (opening ??= connect());
  }

  async function run<T>(step: (client: RedisClient) => Promise<T>): Promise<T> {
    await ready();
    try {
      return await step(client!);
    } catch (err) {
      throw unavailable(err);
    }
  }

  const parse = (text: unknown): unknown => (typeof text === "string" ? JSON.parse(text) : undefined);

  return {
    name,
    open: ready,
    get: (ns, key) => run(async (client) => parse(await client.hGet(hashOf(ns), key))),
    put(ns, key, value) {
      const text = JSON.stringify(value);
      if (text === undefined) return Promise.reject(new TypeError(`${name}: ${ns}/${key}: expected a JSON value`));
      return run(async (client) => {
        await client.hSet(hashOf(ns), key, text);
      });
    },
    take: (ns, key) => run(async (client) => parse(await client.eval(TAKE, { keys: [hashOf(ns)], arguments: [key] }))),
    list: (ns) =>
      run(async (client) => {
        const all = await client.hGetAll(hashOf(ns));
        return Object.entries(all).map(([key, text]) => ({ key, value: JSON.parse(String(text)) }));
      }),
    increment(ns, key, by, ttlMs) {
      if (!Number.isInteger(by) || !Number.isInteger(ttlMs) || ttlMs <= 0) {
        return Promise.reject(new TypeError(`${name}: increment ${ns}/${key}: expected whole numbers, ttlMs above 0`));
      }
      return run(async (client) => Number(await client.eval(INCREMENT, { keys: [`${prefix}ctr:${ns}:${key}`], arguments: [String(by), String(ttlMs)] })));
    },
    publish: (channel, message) =>
      run(async (client) => {
        await client.publish(`${prefix}ch:${channel}`, message);
      }),
    async subscribe(channel, listener) {
      await ready();
      // One connection carries every subscription of this store (a subscribed connection can do nothing else).
      const sub = await (subscribing ??= (async () => {
        const s = client!.duplicate();
        s.on("error", () => undefined);
        await s.connect();
        subscriber = s;
        return s;
      })().catch((err) => {
        subscribing = undefined;
        throw unavailable(err);
      }));
      const name = `${prefix}ch:${channel}`;
      const handler = (message: string): void => listener(message);
      await sub.subscribe(name, handler);
      return async () => {
        if (sub.isOpen) await sub.unsubscribe(name, handler).catch(() => undefined);
      };
    },
    async close() {
      if (closed) return;
      closed = true;
      await opening?.catch(() => undefined);
      await subscribing?.catch(() => undefined);
      if (subscriber?.isOpen) await subscriber.close().catch(() => subscriber!.destroy());
      const c = client;
      if (c?.isOpen) await c.close().catch(() => c.destroy());
    },
  };
}
