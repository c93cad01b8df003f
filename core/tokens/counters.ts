import type { TokenStore } from "../types.ts";
import { unrefTimer } from "../unref-timer.ts";

/** Expiring counters: failed attempts, rate-limit windows. */
export interface Counters {
  /** Adds `by` to `key` in `namespace` (a new counter starts at 0 and is forgotten `ttlMs` later); the new value. */
  increment(namespace: string, key: string, by: number, ttlMs: number): Promise<number>;
  close(): void;
}

/**
 * The store's own counters when it has them (shared by every process on the store), else counters kept
 * in this process (what a single-process store such as the file store needs: nothing else counts).
 *
 * @example
 * const counters = createCounters(store);
 * const failures = await counters.increment("auth-failures", "203.0.113.9", 1, 60_000);
 */
export function createCounters(store: Pick<TokenStore, "increment">): Counters {
  if (store.increment) {
    const increment = store.increment.bind(store);
    return { increment, close: () => {} };
  }
  const local = new Map<string, { value: number; until: number }>();
  // Expired counters are dropped once a minute, so keys nobody uses again do not pile up.
  const sweep = setInterval(() => {
    const now = Date.now();
    for (const [k, c] of local) if (c.until <= now) local.delete(k);
  }, 60_000);
  unrefTimer(sweep);
  return {
    increment(namespace, key, by, ttlMs) {
      const k = `${namespace}\u0000${key}`;
      const now = Date.now();
      let c = local.get(k);
      if (!c || c.until <= now) local.set(k, c = { value: 0, until: now + ttlMs });
      c.value += by;
      return Promise.resolve(c.value);
    },
    close: () => clearInterval(sweep),
  };
}
