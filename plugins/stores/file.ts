import { mkdir, open, readFile, rename, unlink, writeFile } from "node:fs/promises";
import type { FileHandle } from "node:fs/promises";
import { join, resolve } from "node:path";
import process from "node:process";
import { GatewayError, type TokenRecord, type TokenStore, type UsageUpdate } from "../../core/mod.ts";

/** Options of the file store. */
export interface FileStoreOptions {
  /** Directory of the store; created with mode 0700. */
  dir: string;
}

// Directories opened by a store in this process: a second store on the same directory would not see the
// first one's writes, so it is refused like a store locked by another process.
const openDirs = new Set<string>();

// `item` with no `v` deletes the item.
type Entry = { op: "put"; r: TokenRecord } | { op: "usage"; u: UsageUpdate[] } | { op: "item"; k: string; key: string; v?: unknown };

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as { code?: string }).code === "EPERM";
  }
}

/**
 * The embedded default store: an append-only log (`tokens.log`, one JSON entry a line) in `dir`.
 * Every acknowledged write has been fsynced; concurrent writes are grouped into one append and one
 * fsync; a torn last line left by a crash is dropped on open; the log is compacted (written aside and
 * renamed over, atomically) when it holds much more history than live records. One gateway process
 * owns the directory at a time (`store.lock`).
 *
 * @example
 * fileStore({ dir: "./.portcullis" })
 */
export function fileStore(options: FileStoreOptions): TokenStore {
  if (typeof options?.dir !== "string" || options.dir === "") throw new GatewayError("ERR_CONFIG", "fileStore.dir: expected a directory path");
  const dir = options.dir;
  const logPath = join(dir, "tokens.log");
  const lockPath = join(dir, "store.lock");
  const byId = new Map<string, TokenRecord>();
  const byHash = new Map<string, string>();
  const items = new Map<string, Map<string, unknown>>();
  let handle: FileHandle | undefined;
  let opening: Promise<void> | undefined;
  let locked = false;
  let closed = false;
  const key = resolve(dir);
  let lines = 0;
  let queue: Array<{ line: string; apply: () => void; done: (err?: unknown) => void }> = [];
  let writing: Promise<void> | undefined;

  const apply = (e: Entry): void => {
    if (e.op === "put") {
      const prev = byId.get(e.r.id);
      if (prev && prev.hash !== e.r.hash) byHash.delete(prev.hash);
      byId.set(e.r.id, e.r);
      byHash.set(e.r.hash, e.r.id);
    } else if (e.op === "item") {
      let m = items.get(e.k);
      if (!m) items.set(e.k, m = new Map());
      if (e.v === undefined) m.delete(e.key);
      else m.set(e.key, e.v);
    } else {
      for (const u of e.u) {
        const r = byId.get(u.id);
        if (r) byId.set(u.id, { ...r, useCount: r.useCount + u.count, lastUsedAt: u.lastUsedAt });
      }
    }
  };

  async function lock(): Promise<void> {
    if (openDirs.has(key)) throw new GatewayError("ERR_CONFLICT", `the token store in ${dir} is already open in this process`);
    await mkdir(dir, { recursive: true, mode: 0o700 });
    for (let attempt = 0; attempt < 2; attempt++) {
      try {
        await writeFile(lockPath, String(process.pid), { flag: "wx", mode: 0o600 });
        locked = true;
        openDirs.add(key);
        return;
      } catch (err) {
        if ((err as { code?: string }).code !== "EEXIST") throw err;
        const pid = Number(await readFile(lockPath, "utf8").catch(() => ""));
        if (Number.isInteger(pid) && pid > 0 && pid !== process.pid && alive(pid)) {
          throw new GatewayError("ERR_CONFLICT", `the token store in ${dir} is in use by process ${pid}; stop it, or use the CLI with --url against the running gateway`);
        }
        await unlink(lockPath).catch(() => undefined);
      }
    }
    throw new GatewayError("ERR_CONFLICT", `could not lock the token store in ${dir}`);
  }

  async function load(): Promise<void> {
    let text = "";
    try {
      text = await readFile(logPath, "utf8");
    } catch (err) {
      if ((err as { code?: string }).code !== "ENOENT") throw err;
    }
    let good = 0;
    let offset = 0;
    while (offset < text.length) {
      const nl = text.indexOf("\n", offset);
      // A last line without its newline was torn by a crash before its fsync: it was never acknowledged.
      if (nl === -1) break;
      const line = text.slice(offset, nl);
      offset = nl + 1;
      if (line.trim() === "") continue;
      try {
        apply(JSON.parse(line) as Entry);
        lines++;
        good = offset;
      } catch {
        good = offset;
      }
    }
    const goodBytes = new TextEncoder().encode(text.slice(0, good)).byteLength;
    handle = await open(logPath, "a+", 0o600);
    if ((await handle.stat()).size !== goodBytes) await handle.truncate(goodBytes);
    if (lines > 2 * live() + 1000) await compact();
  }

  const live = (): number => {
    let n = byId.size;
    for (const m of items.values()) n += m.size;
    return n;
  };

  async function compact(): Promise<void> {
    const tmp = `${logPath}.tmp`;
    const out = await open(tmp, "w", 0o600);
    try {
      const entries: Entry[] = [...byId.values()].map((r) => ({ op: "put", r }));
      for (const [k, m] of items) for (const [key, v] of m) entries.push({ op: "item", k, key, v });
      await out.writeFile(entries.map((e) => JSON.stringify(e) + "\n").join(""));
      await out.sync();
    } finally {
      await out.close();
    }
    await handle?.close();
    await rename(tmp, logPath);
    try {
      const d = await open(dir, "r");
      await d.sync().finally(() => d.close());
    } catch {
      // Not every platform can fsync a directory; the rename itself is still atomic.
    }
    handle = await open(logPath, "a+", 0o600);
    lines = live();
  }

  async function drain(): Promise<void> {
    while (queue.length > 0) {
      const batch = queue;
      queue = [];
      const before = (await handle!.stat()).size;
      try {
        await handle!.appendFile(batch.map((b) => b.line).join(""));
        await handle!.datasync();
        lines += batch.length;
        for (const b of batch) {
          b.apply();
          b.done();
        }
      } catch (err) {
        // Cut a partly written batch off so the next one does not get glued onto a broken line.
        await handle!.truncate(before).catch(() => undefined);
        for (const b of batch) b.done(err);
      }
      if (queue.length === 0 && lines > 2 * live() + 1000) await compact().catch(() => undefined);
    }
  }

  // One writer at a time; whatever is queued meanwhile goes out in the next group commit.
  function kick(): void {
    if (writing) return;
    writing = drain().finally(() => {
      writing = undefined;
      if (queue.length > 0) kick();
    });
  }

  function append(entry: Entry): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      queue.push({ line: JSON.stringify(entry) + "\n", apply: () => apply(entry), done: (err) => (err ? reject(err) : resolve()) });
      kick();
    });
  }

  const ready = async (): Promise<void> => {
    if (closed) throw new GatewayError("ERR_OVERLOADED", "the token store is closed");
    opening ??= (async () => {
      await lock();
      await load();
    })().catch(async (err) => {
      await release();
      opening = undefined;
      throw err;
    });
    await opening;
  };

  async function release(): Promise<void> {
    await handle?.close().catch(() => undefined);
    handle = undefined;
    if (!locked) return;
    locked = false;
    openDirs.delete(key);
    // Only remove the lock if it is still ours.
    const owner = await readFile(lockPath, "utf8").catch(() => "");
    if (owner === String(process.pid)) await unlink(lockPath).catch(() => undefined);
  }

  return {
    name: "store:file",
    open: ready,
    async get(id) {
      await ready();
      return byId.get(id);
    },
    async findByHash(hash) {
      await ready();
      const id = byHash.get(hash);
      return id === undefined ? undefined : byId.get(id);
    },
    async put(record) {
      await ready();
      await append({ op: "put", r: { ...record } });
    },
    async list() {
      await ready();
      return [...byId.values()];
    },
    async addUsage(updates) {
      await ready();
      if (updates.length > 0) await append({ op: "usage", u: updates });
    },
    async getItem(kind, key) {
      await ready();
      const v = items.get(kind)?.get(key);
      return v === undefined ? undefined : structuredClone(v);
    },
    async putItem(kind, key, value) {
      await ready();
      await append({ op: "item", k: kind, key, v: structuredClone(value) });
    },
    async takeItem(kind, key) {
      await ready();
      const m = items.get(kind);
      const v = m?.get(key);
      if (v === undefined) return undefined;
      // Removed from memory at once, so a concurrent take finds nothing while the delete is written.
      m!.delete(key);
      await append({ op: "item", k: kind, key });
      return v;
    },
    async listItems(kind) {
      await ready();
      return [...(items.get(kind) ?? new Map<string, unknown>()).entries()].map(([key, value]) => ({ key, value: structuredClone(value) }));
    },
    async close() {
      closed = true;
      if (!opening) return;
      await opening.catch(() => undefined);
      while (writing) await writing;
      await release();
    },
  };
}
