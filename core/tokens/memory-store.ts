import type { TokenRecord, TokenStore, UsageUpdate } from "../types.ts";

/**
 * Keeps tokens in memory only: for tests and throw-away gateways. Everything is lost at exit.
 *
 * @example
 * defineGateway({ tokens: { store: memoryStore() }, ... })
 */
export function memoryStore(): TokenStore {
  const byId = new Map<string, TokenRecord>();
  const byHash = new Map<string, string>();
  const items = new Map<string, Map<string, unknown>>();
  const kindOf = (kind: string) => {
    let m = items.get(kind);
    if (!m) items.set(kind, m = new Map());
    return m;
  };
  // Values are copied in and out so a caller mutating an object never changes what is stored.
  const copy = (v: unknown) => v === undefined ? undefined : structuredClone(v);
  return {
    name: "store:memory",
    get: (id) => Promise.resolve(byId.get(id)),
    findByHash(hash) {
      const id = byHash.get(hash);
      return Promise.resolve(id === undefined ? undefined : byId.get(id));
    },
    put(record) {
      const prev = byId.get(record.id);
      if (prev && prev.hash !== record.hash) byHash.delete(prev.hash);
      byId.set(record.id, { ...record });
      byHash.set(record.hash, record.id);
      return Promise.resolve();
    },
    list: () => Promise.resolve([...byId.values()].map((r) => ({ ...r }))),
    addUsage(updates: UsageUpdate[]) {
      for (const u of updates) {
        const r = byId.get(u.id);
        if (r) byId.set(u.id, { ...r, useCount: r.useCount + u.count, lastUsedAt: u.lastUsedAt });
      }
      return Promise.resolve();
    },
    getItem: (kind, key) => Promise.resolve(copy(items.get(kind)?.get(key))),
    putItem(kind, key, value) {
      kindOf(kind).set(key, copy(value));
      return Promise.resolve();
    },
    takeItem(kind, key) {
      const m = items.get(kind);
      const v = m?.get(key);
      m?.delete(key);
      return Promise.resolve(v);
    },
    listItems: (kind) => Promise.resolve([...(items.get(kind) ?? new Map()).entries()].map(([key, value]) => ({ key, value: copy(value) }))),
    close: () => Promise.resolve(),
  };
}
