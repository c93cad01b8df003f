import type { KeyValueStore, TokenStore } from "../types.ts";
import { deriveStore } from "./derive-store.ts";

/**
 * The key-value part of {@link memoryStore}: namespaced values in maps, nothing on disk.
 *
 * @example
 * const store = deriveStore(memoryKeyValueStore());
 */
export function memoryKeyValueStore(): KeyValueStore {
  // Values are kept as JSON text: every read hands out a fresh copy (a caller mutating it never changes
  // what is stored), values behave exactly as in a store that persists JSON, and parsing text is several
  // times cheaper than cloning an object graph on the token lookup path.
  const namespaces = new Map<string, Map<string, string>>();
  const parse = (text: string | undefined): unknown => text === undefined ? undefined : JSON.parse(text);
  return {
    name: "store:memory",
    get: (ns, key) => Promise.resolve(parse(namespaces.get(ns)?.get(key))),
    put(ns, key, value) {
      const text = JSON.stringify(value);
      if (text === undefined) return Promise.reject(new TypeError(`store:memory: ${ns}/${key}: expected a JSON value`));
      let m = namespaces.get(ns);
      if (!m) namespaces.set(ns, m = new Map());
      m.set(key, text);
      return Promise.resolve();
    },
    take(ns, key) {
      // Looked up and deleted in one synchronous step, so no other take can come in between.
      const m = namespaces.get(ns);
      const text = m?.get(key);
      m?.delete(key);
      if (m?.size === 0) namespaces.delete(ns);
      return Promise.resolve(parse(text));
    },
    list(ns) {
      const m = namespaces.get(ns);
      return Promise.resolve(m ? [...m].map(([key, text]) => ({ key, value: parse(text) })) : []);
    },
    close: () => Promise.resolve(),
  };
}

/**
 * Keeps tokens in memory only: for tests and throw-away gateways. Everything is lost at exit. It is the
 * key-value store above run through `deriveStore`, like any custom store of that kind.
 *
 * @example
 * defineGateway({ tokens: { store: memoryStore() }, ... })
 */
export function memoryStore(): TokenStore {
  return deriveStore(memoryKeyValueStore());
}
