import { configError, GatewayError } from "../errors.ts";

/** The environment variable holding the master key. */
export const MASTER_KEY_ENV = "PORTCULLIS_MASTER_KEY";

/** A master key ready for use: the AES-GCM key and its public id. */
export interface MasterKey {
  /** First 8 bytes of SHA-256 of the raw key, base64url: names the key in records without revealing it. */
  id: string;
  key: CryptoKey;
}

/** One encrypted value as stored. Nothing in it is secret without the master key. */
export interface SealedRecord {
  /** Format version. */
  v: 1;
  alg: "A256GCM";
  /** Id of the master key that encrypted it. */
  kid: string;
  /** 96-bit random IV, base64url. */
  iv: string;
  /** Ciphertext with the GCM tag, base64url. */
  ct: string;
}

/**
 * The master keys in force: the current one encrypts, any of them decrypts (by the record's key id),
 * so records written under a previous key stay readable while a rotation runs.
 */
export interface Keyring {
  /** The key new records are encrypted with. */
  current(): MasterKey;
  /** Whether a key with this id is known. */
  has(kid: string): boolean;
  /** Ids of every known key, current first. */
  ids(): string[];
  /** Adds a key and makes it the current one. */
  promote(key: MasterKey): void;
  seal(kind: string, name: string, plaintext: string): Promise<SealedRecord>;
  open(kind: string, name: string, record: unknown): Promise<string>;
  /** Runs `fn` after every earlier write of this keyring finished: keeps a rotation from overwriting a concurrent set. */
  serialize<T>(fn: () => Promise<T>): Promise<T>;
}

const enc = new TextEncoder();
const dec = new TextDecoder();

function toBase64Url(bytes: Uint8Array): string {
  let bin = "";
  for (const b of bytes) bin += String.fromCharCode(b);
  return btoa(bin).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

function fromBase64(text: string): Uint8Array<ArrayBuffer> | undefined {
  const std = text.replace(/-/g, "+").replace(/_/g, "/");
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(std)) return undefined;
  try {
    const bin = atob(std.padEnd(Math.ceil(std.length / 4) * 4, "="));
    return Uint8Array.from(bin, (c) => c.charCodeAt(0));
  } catch {
    return undefined;
  }
}

/**
 * Decodes a master key written as 64 hex digits or as base64/base64url of 32 bytes. The error names
 * `what` (the variable or option) and the expected format, never the value.
 *
 * @example
 * const raw = decodeMasterKey(Deno.env.get("PORTCULLIS_MASTER_KEY")!, "PORTCULLIS_MASTER_KEY");
 */
export function decodeMasterKey(text: string, what: string = MASTER_KEY_ENV): Uint8Array<ArrayBuffer> {
  const t = typeof text === "string" ? text.trim() : "";
  let bytes: Uint8Array<ArrayBuffer> | undefined;
  if (/^[0-9a-fA-F]{64}$/.test(t)) {
    bytes = new Uint8Array(32);
    for (let i = 0; i < 32; i++) bytes[i] = parseInt(t.slice(i * 2, i * 2 + 2), 16);
  } else {
    bytes = fromBase64(t);
  }
  if (!bytes || bytes.length !== 32) {
    throw configError(what, "expected 32 random bytes as base64 or 64 hex digits (generate one with `openssl rand -base64 32`)", `${t.length} characters`);
  }
  return bytes;
}

/**
 * Imports a master key (see `decodeMasterKey` for the format) for AES-256-GCM and derives its id.
 *
 * @example
 * const key = await importMasterKey("q4Jx...base64...=");
 * key.id; // "Vb3c9a1Qx2E"
 */
export async function importMasterKey(text: string, what: string = MASTER_KEY_ENV): Promise<MasterKey> {
  const raw = decodeMasterKey(text, what);
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", raw));
  const key = await crypto.subtle.importKey("raw", raw, { name: "AES-GCM" }, false, ["encrypt", "decrypt"]);
  return { id: toBase64Url(digest.subarray(0, 8)), key };
}

// Binds a ciphertext to what it is: a record copied to another kind or name fails to decrypt.
function aad(kind: string, name: string): Uint8Array<ArrayBuffer> {
  return enc.encode(JSON.stringify(["portcullis/v1", kind, name]));
}

/** Whether a stored value has the shape of a sealed record. */
export function isSealed(value: unknown): value is SealedRecord {
  const r = value as SealedRecord | null;
  return typeof r === "object" && r !== null && r.v === 1 && r.alg === "A256GCM" && typeof r.kid === "string" && typeof r.iv === "string" && typeof r.ct === "string";
}

/**
 * A keyring over one or more master keys; the first is current.
 *
 * @example
 * const ring = createKeyring([await importMasterKey(env.PORTCULLIS_MASTER_KEY)]);
 * const sealed = await ring.seal("secret", "GITHUB", "ghp_...");
 * await ring.open("secret", "GITHUB", sealed); // "ghp_..."
 */
export function createKeyring(keys: MasterKey[]): Keyring {
  if (keys.length === 0) throw new GatewayError("ERR_CONFIG", `no master key: set ${MASTER_KEY_ENV}`);
  const byId = new Map<string, MasterKey>();
  let current = keys[0]!;
  for (const k of keys) if (!byId.has(k.id)) byId.set(k.id, k);
  let tail: Promise<unknown> = Promise.resolve();
  return {
    current: () => current,
    has: (kid) => byId.has(kid),
    ids: () => [current.id, ...[...byId.keys()].filter((id) => id !== current.id)],
    promote(key) {
      byId.set(key.id, key);
      current = key;
    },
    async seal(kind, name, plaintext) {
      const k = current;
      const iv = crypto.getRandomValues(new Uint8Array(12));
      const ct = new Uint8Array(await crypto.subtle.encrypt({ name: "AES-GCM", iv, additionalData: aad(kind, name) }, k.key, enc.encode(plaintext)));
      return { v: 1, alg: "A256GCM", kid: k.id, iv: toBase64Url(iv), ct: toBase64Url(ct) };
    },
    async open(kind, name, record) {
      if (!isSealed(record)) throw new GatewayError("ERR_INTERNAL", `${kind} ${name}: not an encrypted record`);
      const k = byId.get(record.kid);
      if (!k) {
        throw new GatewayError("ERR_CONFIG", `${kind} ${name} is encrypted with master key id ${record.kid}, which is not configured (${MASTER_KEY_ENV} has id ${current.id})`);
      }
      const iv = fromBase64(record.iv);
      const ct = fromBase64(record.ct);
      try {
        if (!iv || !ct) throw new Error("bad encoding");
        const pt = await crypto.subtle.decrypt({ name: "AES-GCM", iv, additionalData: aad(kind, name) }, k.key, ct);
        return dec.decode(pt);
      } catch {
        throw new GatewayError("ERR_INTERNAL", `${kind} ${name}: decryption failed (the record was altered or moved)`);
      }
    },
    serialize(fn) {
      const run = tail.then(fn, fn);
      tail = run.catch(() => undefined);
      return run;
    },
  };
}
