/**
 * A complete custom store written only against Portcullis's exported types: every token, API key, OAuth
 * grant and vault record in one JSON file.
 *
 * It implements the five hooks of `KeyValueStore` and nothing else; the gateway derives the rest
 * (lookup of a token by its hash, usage counters, items). The whole file is rewritten on each change:
 * written beside the real one, flushed to disk, then renamed over it, so a crash leaves either the old
 * file or the new one, never half of each. Changes that arrive while a write is under way go out
 * together in the next one. One process owns the file; several gateways sharing a store need a database.
 *
 * @example
 * import { jsonFileStore } from "./examples/custom-store.ts";
 * defineGateway({ tokens: { store: jsonFileStore({ path: "./data/store.json" }) }, servers: { ... } });
 */
import { mkdir, open, readFile, rename } from "node:fs/promises";
import { dirname } from "node:path";
import { configError, type KeyValueStore } from "portcullis";

/** Options of {@link jsonFileStore}. */
export interface JsonFileStoreOptions {
  /** The JSON file; its directory is created when missing. */
  path: string;
}

type Snapshot = Record<string, Record<string, unknown>>;

// What a caller gets back is always a fresh copy, and exactly what a restart would read from the file.
function jsonCopy(value: unknown): unknown {
  return value === undefined ? undefined : JSON.parse(JSON.stringify(value));
}

async function writeAtomically(path: string, text: string): Promise<void> {
  const tmp = `${path}.tmp`;
  const file = await open(tmp, "w", 0o600);
  try {
    await file.writeFile(text);
    // Flushed before the rename, or a crash could leave the new name pointing at empty blocks.
    await file.sync();
  } finally {
    await file.close();
  }
  await rename(tmp, path);
}

/**
 * A store in one JSON file. Throws at config time when `path` is missing.
 *
 * @example
 * const store = jsonFileStore({ path: "./data/store.json" });
 * await store.put("notes", "a", { text: "hello" });
 * await store.take("notes", "a"); // { text: "hello" }; a second take gets undefined
 */
export function jsonFileStore(options: JsonFileStoreOptions): KeyValueStore {
  if (typeof options?.path !== "string" || options.path === "") throw configError("jsonFileStore.path", "expected a file path");
  const path = options.path;
  const data = new Map<string, Map<string, unknown>>();
  let opening: Promise<void> | undefined;
  let closed = false;
  // The write on disk now (or the last one), and the next one, which every change made meanwhile joins.
  let writing: Promise<void> = Promise.resolve();
  let next: Promise<void> | undefined;

  function ready(): Promise<void> {
    if (closed) return Promise.reject(new Error(`the store ${path} is closed`));
    opening ??= (async () => {
      await mkdir(dirname(path), { recursive: true, mode: 0o700 });
      let text = "{}";
      try {
        text = await readFile(path, "utf8");
      } catch (err) {
        if ((err as { code?: string }).code !== "ENOENT") throw err;
      }
      for (const [ns, entries] of Object.entries(JSON.parse(text) as Snapshot)) data.set(ns, new Map(Object.entries(entries)));
    })();
    return opening;
  }

  // Resolves once a write that started after the caller's change has reached the disk.
  function persist(): Promise<void> {
    next ??= writing.then(() => {
      next = undefined;
      // Taken now, so it holds every change made before this write started.
      const snapshot: Snapshot = {};
      for (const [ns, entries] of data) snapshot[ns] = Object.fromEntries(entries);
      return writeAtomically(path, JSON.stringify(snapshot));
    });
    const mine = next;
    writing = mine.catch(() => undefined);
    return mine;
  }

  return {
    name: "store:json-file",
    open: ready,
    async get(ns, key) {
      await ready();
      return jsonCopy(data.get(ns)?.get(key));
    },
    async put(ns, key, value) {
      await ready();
      let entries = data.get(ns);
      if (!entries) data.set(ns, entries = new Map());
      entries.set(key, jsonCopy(value));
      await persist();
    },
    async take(ns, key) {
      await ready();
      const entries = data.get(ns);
      const value = entries?.get(key);
      if (value === undefined) return undefined;
      // Gone from memory before anything is awaited, so a second take finds nothing.
      entries!.delete(key);
      if (entries!.size === 0) data.delete(ns);
      await persist();
      return value;
    },
    async list(ns) {
      await ready();
      return [...(data.get(ns) ?? new Map<string, unknown>())].map(([key, value]) => ({ key, value: jsonCopy(value) }));
    },
    async close() {
      closed = true;
      await writing;
    },
  };
}
