import type { KeyValueStore, TokenRecord, TokenStore, UsageUpdate } from "../types.ts";
import { newId } from "./secret.ts";

// How the derived store lays its data out in the key-value store. Items get a prefix of their own, so
// no item kind a plugin picks can ever land in a token namespace.
const TOKENS = "token";
const BY_HASH = "token-hash";
const usageOf = (id: string): string => `token-usage:${id}`;
const itemsOf = (kind: string): string => `item:${kind}`;
// Usage entries of one token are summed into one once there are more than this many, which keeps a
// token read down to a short list however long the gateway runs.
const FOLD_AFTER = 4;

interface UsageEntry {
  count: number;
  lastUsedAt: string;
}

function usageEntry(value: unknown): UsageEntry | undefined {
  const u = value as Partial<UsageEntry> | undefined;
  return typeof u?.count === "number" && typeof u.lastUsedAt === "string" ? { count: u.count, lastUsedAt: u.lastUsedAt } : undefined;
}

function tokenRecord(value: unknown): TokenRecord | undefined {
  const r = value as Partial<TokenRecord> | undefined;
  return typeof r?.id === "string" && typeof r.hash === "string" ? (value as TokenRecord) : undefined;
}

/**
 * Which contract a configured store implements, judged by its hooks (never by its name): a full
 * `TokenStore` (it has `findByHash`), a minimal `KeyValueStore` (it has `take`, `get`, `put`, `list`
 * and `close`), or neither.
 *
 * @example
 * storeKind(memoryStore()); // "token-store"
 * storeKind({ name: "kv", get, put, take, list, close }); // "key-value"
 */
export function storeKind(value: unknown): "token-store" | "key-value" | undefined {
  if (typeof value !== "object" || value === null) return undefined;
  const has = (hook: string): boolean => typeof (value as Record<string, unknown>)[hook] === "function";
  // A full store is checked first, so every store written before the key-value contract keeps working.
  if (has("findByHash")) return "token-store";
  if (["get", "put", "take", "list", "close"].every(has)) return "key-value";
  return undefined;
}

/**
 * The store the gateway uses for a configured one: a full `TokenStore` as it is, a `KeyValueStore`
 * through {@link deriveStore}.
 *
 * @example
 * const store = asTokenStore(config.tokens?.store ?? memoryStore());
 */
export function asTokenStore(store: TokenStore | KeyValueStore): TokenStore {
  return storeKind(store) === "token-store" ? store as TokenStore : deriveStore(store as KeyValueStore);
}

/**
 * Builds the full store the gateway uses (tokens, lookup by hash, usage counters, items) on top of
 * the five hooks of a {@link KeyValueStore}, with the same guarantees as a store that implements it all.
 *
 * How each part is kept, and why it needs no read-modify-write from the key-value store:
 * - a token record lives under its id; it is only ever written by `put`, so nothing but an explicit
 *   revoke or rotate can replace it, and a revocation can never be undone by a concurrent writer;
 * - the lookup by hash is an index (hash -> id) written before the record and checked against the
 *   record on every read, so an index entry left behind by a crash or a replaced hash never matches;
 * - usage is kept beside the record as separate entries, one per `addUsage`, added up on read; once a
 *   token has a handful they are taken (a take hands each to one process only, so none is counted
 *   twice) and put back as their sum. Usage written by several processes at once is never lost; only
 *   a crash between taking and putting back the sum can drop those few counts. Usage counters belong
 *   to `addUsage`: a `put` of a record that already exists keeps the counts already stored;
 * - items map one to one onto key-value entries, so `takeItem` is exactly as atomic as `take`.
 * Writes of one token from this process are applied in the order they were made.
 *
 * @example
 * const store = deriveStore({ name: "store:my-kv", get, put, take, list, close });
 * await store.put(record);
 * await store.findByHash(record.hash); // the record
 */
export function deriveStore(kv: KeyValueStore): TokenStore {
  // Several steps make one token write; without this two writes of one token could interleave them.
  const queues = new Map<string, Promise<void>>();
  function inOrder<T>(id: string, step: () => Promise<T>): Promise<T> {
    const run = (queues.get(id) ?? Promise.resolve()).then(step);
    const tail = run.then(() => undefined, () => undefined);
    queues.set(id, tail);
    void tail.then(() => {
      if (queues.get(id) === tail) queues.delete(id);
    });
    return run;
  }

  async function withUsage(record: TokenRecord): Promise<TokenRecord> {
    const entries = await kv.list(usageOf(record.id));
    if (entries.length === 0) return record;
    let useCount = record.useCount;
    let lastUsedAt = record.lastUsedAt;
    for (const { value } of entries) {
      const u = usageEntry(value);
      if (!u) continue;
      useCount += u.count;
      // ISO timestamps of one format order as strings.
      if (lastUsedAt === undefined || u.lastUsedAt > lastUsedAt) lastUsedAt = u.lastUsedAt;
    }
    return { ...record, useCount, ...(lastUsedAt === undefined ? {} : { lastUsedAt }) };
  }

  async function read(id: string): Promise<TokenRecord | undefined> {
    const record = tokenRecord(await kv.get(TOKENS, id));
    return record && await withUsage(record);
  }

  async function fold(namespace: string): Promise<void> {
    const entries = await kv.list(namespace);
    if (entries.length <= FOLD_AFTER) return;
    // Taken, not read: an entry another process is folding at the same moment goes to one of us only.
    const taken = (await Promise.all(entries.map((e) => kv.take(namespace, e.key)))).map(usageEntry);
    let sum: UsageEntry | undefined;
    for (const u of taken) {
      if (!u) continue;
      sum = !sum ? u : { count: sum.count + u.count, lastUsedAt: u.lastUsedAt > sum.lastUsedAt ? u.lastUsedAt : sum.lastUsedAt };
    }
    if (sum) await kv.put(namespace, newId("use_"), sum);
  }

  return {
    name: kv.name,
    ...(kv.open ? { open: () => kv.open!() } : {}),
    get: read,
    async findByHash(hash) {
      const id = await kv.get(BY_HASH, hash);
      if (typeof id !== "string") return undefined;
      const record = tokenRecord(await kv.get(TOKENS, id));
      // The index is a hint; the record is the truth.
      return record && record.hash === hash ? await withUsage(record) : undefined;
    },
    put(record) {
      return inOrder(record.id, async () => {
        const prev = tokenRecord(await kv.get(TOKENS, record.id));
        // Index first: a crash in between leaves an index entry with no record, which matches nothing,
        // rather than a record that cannot be found by its hash.
        if (prev?.hash !== record.hash) await kv.put(BY_HASH, record.hash, record.id);
        const stored: TokenRecord = { ...record };
        if (prev) {
          stored.useCount = prev.useCount;
          if (prev.lastUsedAt === undefined) delete stored.lastUsedAt;
          else stored.lastUsedAt = prev.lastUsedAt;
        }
        await kv.put(TOKENS, record.id, stored);
        if (prev && prev.hash !== record.hash && (await kv.get(BY_HASH, prev.hash)) === record.id) await kv.take(BY_HASH, prev.hash);
      });
    },
    async list() {
      const records = (await kv.list(TOKENS)).map((e) => tokenRecord(e.value)).filter((r) => r !== undefined);
      return await Promise.all(records.map(withUsage));
    },
    async addUsage(updates: UsageUpdate[]) {
      await Promise.all(updates.map(async (u) => {
        // Usage of a token that is not stored is dropped, as a full store drops it.
        if (u.count <= 0 || !tokenRecord(await kv.get(TOKENS, u.id))) return;
        const namespace = usageOf(u.id);
        await kv.put(namespace, newId("use_"), { count: u.count, lastUsedAt: u.lastUsedAt } satisfies UsageEntry);
        await fold(namespace);
      }));
    },
    getItem: (kind, key) => kv.get(itemsOf(kind), key),
    putItem: (kind, key, value) => kv.put(itemsOf(kind), key, value),
    takeItem: (kind, key) => kv.take(itemsOf(kind), key),
    listItems: (kind) => kv.list(itemsOf(kind)),
    ...(kv.increment ? { increment: (ns: string, key: string, by: number, ttlMs: number) => kv.increment!(itemsOf(ns), key, by, ttlMs) } : {}),
    // Pub/sub is passed through as it is: it is what tells the other processes on a shared store.
    ...(kv.publish ? { publish: (channel: string, message: string) => kv.publish!(channel, message) } : {}),
    ...(kv.subscribe ? { subscribe: (channel: string, listener: (message: string) => void) => kv.subscribe!(channel, listener) } : {}),
    close: () => kv.close(),
  };
}
