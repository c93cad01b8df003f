import { decodeProtectedHeader, exportJWK, generateKeyPair, importJWK, type JWK, type JWTPayload, jwtVerify, SignJWT } from "jose";
import { GatewayError } from "../errors.ts";
import type { Keyring } from "../secrets/crypto.ts";
import { unrefTimer } from "../unref-timer.ts";
import { createCounters } from "./counters.ts";
import { hashSecretSync, newId } from "./secret.ts";
import type { Logger, SigningKeys, TokenStore } from "../types.ts";

interface Key {
  kid: string;
  privateKey: CryptoKey;
  publicKey: CryptoKey;
  publicJwk: JWK;
  /** When it became the current key, ms since epoch. */
  createdAt: number;
  /** When a retired key stops being published, ms since epoch; undefined while current. */
  retireAt?: number;
}

/** A signing key as a shared store keeps it: the private half sealed under the master key. */
interface StoredKey {
  kid: string;
  createdAt: number;
  retireAt?: number;
  publicJwk: JWK;
  /** The private JWK, encrypted (AES-256-GCM, bound to kind `signing-key` and the kid). */
  privateKey: unknown;
}

/** Where a key set shared by several gateway processes lives. */
export interface SharedKeyOptions {
  /** The store every process uses (one with `subscribe`: a shared one). */
  store: TokenStore;
  /** The master keyring that seals the private keys; resolves to undefined when none is configured. */
  keyring(): Promise<Keyring | undefined>;
}

/** Options of the key set. */
export interface SigningKeyOptions {
  /** How long a replaced key stays published, seconds: at least the longest lifetime of a signed token. Default 86400. */
  retainSeconds?: number;
  /** Makes a new key current this often, seconds (one process does it for all on a shared store); default never. */
  rotateEverySeconds?: number;
  /** Keep the keys in `store` (private halves encrypted) so every process signs and verifies with the same ones. */
  shared?: SharedKeyOptions;
  log?: Logger;
}

/** The key set as the gateway holds it: the plugin-facing hooks plus start and stop. */
export interface SigningKeySet extends SigningKeys {
  /** Loads (or makes) the shared keys and starts scheduled rotation; throws a clear ERR_CONFIG without a master key. */
  start(): Promise<void>;
  close(): Promise<void>;
}

const ALG = "ES256";
const KIND = "signing-key";
/** The store channel on which processes sharing a store announce a new signing key. */
export const KEYS_CHANNEL = "signing-keys";
// A P-256 signature check costs 100-500 µs; a token presented again (every call of a session) is
// answered from memory for at most this long, never past its expiry or its key's retirement.
const VERIFIED_TTL_MS = 60_000;
const VERIFIED_MAX = 10_000;
// A token naming a kid this process does not know makes it read the shared keys again (joining a read in
// flight), at most this often: tokens with made-up kids cost the store at most 20 small reads a second.
const RELOAD_MIN_MS = 50;

async function makeKey(): Promise<Key> {
  const { privateKey, publicKey } = await generateKeyPair(ALG, { extractable: true });
  const kid = newId("key_");
  const jwk = await exportJWK(publicKey);
  return { kid, privateKey, publicKey, publicJwk: { ...jwk, kid, alg: ALG, use: "sig" }, createdAt: Date.now() };
}

/**
 * Creates the gateway's key set. On its own the keys live in memory only: a restart makes a new key, so
 * tokens the gateway signed before it (short-lived by design) stop verifying and clients refresh or sign
 * in again. With `shared`, the keys live in the shared store with their private halves encrypted under the
 * master key, so every gateway process signs with the same current key and publishes the same JWKS; a
 * rotation (by `rotate()` or every `rotateEverySeconds`, done by one process under a lock) reaches the
 * others through the store's pub/sub, and within a second through a token naming the new key.
 *
 * @example
 * const keys = createSigningKeys();
 * const jwt = await keys.sign({ email: "a@example.com" }, { issuer, audience: "notes", subject: "alice", expiresInSeconds: 60 });
 */
export function createSigningKeys(options: SigningKeyOptions = {}): SigningKeySet {
  const retainMs = (options.retainSeconds ?? 86400) * 1000;
  const rotateMs = options.rotateEverySeconds === undefined ? undefined : options.rotateEverySeconds * 1000;
  const shared = options.shared;
  const locks = shared ? createCounters(shared.store) : undefined;
  let ring: Keyring | undefined;
  // Shared keys are read once `start()` has the master keyring; a use before that waits for it.
  let ringReady!: (err?: unknown) => void;
  const ringSet = new Promise<void>((resolve, reject) => (ringReady = (err) => (err === undefined ? resolve() : reject(err))));
  ringSet.catch(() => undefined);
  let keys: Promise<Key[]> | undefined;
  let lastLoad = 0;
  let reloading: Promise<Key[]> | undefined;
  let timer: ReturnType<typeof setInterval> | undefined;
  let unsubscribe: (() => Promise<void>) | undefined;
  // Keyed by the token's SHA-256 and the checks asked for, never by the token itself.
  const verified = new Map<string, { payload: JWTPayload; until: number; kid: string }>();
  // Keys already decrypted, by kid: a reload only opens the new ones.
  const opened = new Map<string, Key>();

  async function seal(key: Key): Promise<void> {
    const jwk = await exportJWK(key.privateKey);
    const record: StoredKey = {
      kid: key.kid,
      createdAt: key.createdAt,
      publicJwk: key.publicJwk,
      privateKey: await ring!.seal(KIND, key.kid, JSON.stringify(jwk)),
    };
    await shared!.store.putItem(KIND, key.kid, record);
  }

  async function openStored(s: StoredKey): Promise<Key | undefined> {
    const known = opened.get(s.kid);
    if (known) return { ...known, ...(s.retireAt === undefined ? {} : { retireAt: s.retireAt }) };
    try {
      const jwk = JSON.parse(await ring!.open(KIND, s.kid, s.privateKey)) as JWK;
      const privateKey = await importJWK(jwk, ALG) as CryptoKey;
      const publicKey = await importJWK(s.publicJwk, ALG) as CryptoKey;
      const key: Key = { kid: s.kid, privateKey, publicKey, publicJwk: s.publicJwk, createdAt: s.createdAt };
      opened.set(s.kid, key);
      return { ...key, ...(s.retireAt === undefined ? {} : { retireAt: s.retireAt }) };
    } catch (err) {
      // A key sealed under a master key no longer configured cannot sign here; the others still can.
      options.log?.warn("a shared signing key could not be opened; it is ignored", { kid: s.kid, error: err instanceof Error ? err.message : String(err) });
      return undefined;
    }
  }

  /** Reads the shared keys; newest current key first. */
  async function load(): Promise<Key[]> {
    lastLoad = Date.now();
    const now = Date.now();
    const list: Key[] = [];
    for (const { key, value } of await shared!.store.listItems(KIND)) {
      const s = value as StoredKey;
      if (typeof s?.kid !== "string" || s.kid !== key || typeof s.createdAt !== "number") continue;
      if (s.retireAt !== undefined && s.retireAt <= now) {
        await shared!.store.takeItem(KIND, key);
        opened.delete(key);
        continue;
      }
      const k = await openStored(s);
      if (k) list.push(k);
    }
    // Current keys (no retirement) first, newest first; two processes that raced to make the first key
    // both published theirs, and all sign with the newest.
    list.sort((a, b) => (a.retireAt === undefined ? 0 : 1) - (b.retireAt === undefined ? 0 : 1) || b.createdAt - a.createdAt);
    return list;
  }

  /** The lock that keeps two processes from rotating at once: the first to count 1 holds it for 10 s. */
  async function lock(name: string): Promise<boolean> {
    return (await locks!.increment("lock", `${KIND}:${name}`, 1, 10_000)) === 1;
  }

  async function loadOrMake(): Promise<Key[]> {
    let list = await load();
    if (list.some((k) => k.retireAt === undefined)) return list;
    if (!(await lock("first"))) {
      // Another process is making the first key: wait for it rather than make a second one.
      for (let i = 0; i < 20 && !list.some((k) => k.retireAt === undefined); i++) {
        await new Promise((r) => setTimeout(r, 100));
        list = await load();
      }
      if (list.some((k) => k.retireAt === undefined)) return list;
    }
    const fresh = await makeKey();
    await seal(fresh);
    return [fresh, ...list];
  }

  const all = (): Promise<Key[]> => {
    if (keys) return keys;
    const made = shared ? ringSet.then(loadOrMake) : makeKey().then((k) => [k]);
    keys = made;
    made.catch(() => {
      if (keys === made) keys = undefined;
    });
    return made;
  };
  const live = async (): Promise<Key[]> => {
    const now = Date.now();
    const list = await all();
    const kept = list.filter((k) => k.retireAt === undefined || k.retireAt > now);
    if (kept.length !== list.length) keys = Promise.resolve(kept);
    return kept;
  };
  const reload = (): Promise<Key[]> => {
    const next = ringSet.then(load);
    keys = next;
    next.catch(() => {
      if (keys === next) keys = undefined;
    });
    return next;
  };

  async function rotate(): Promise<void> {
    const fresh = await makeKey();
    const now = Date.now();
    if (!shared) {
      const list = await all();
      for (const k of list) k.retireAt ??= now + retainMs;
      keys = Promise.resolve([fresh, ...list]);
      return;
    }
    // The new key is stored before the old ones are marked: a process reading in between sees two
    // current keys (both valid), never none.
    await seal(fresh);
    for (const { key, value } of await shared.store.listItems(KIND)) {
      const s = value as StoredKey;
      // Only the retirement time changes: the sealed private half is written back as it was.
      if (s?.kid === key && s.retireAt === undefined && key !== fresh.kid) await shared.store.putItem(KIND, key, { ...s, retireAt: now + retainMs });
    }
    await reload();
    await shared.store.publish?.(KEYS_CHANNEL, JSON.stringify({ kid: fresh.kid })).catch(() => undefined);
  }

  /** Scheduled rotation: whoever sees the current key has served its time, and wins the lock, rotates. */
  async function tick(): Promise<void> {
    try {
      const list = shared ? await reload() : await all();
      const current = list.find((k) => k.retireAt === undefined);
      if (rotateMs === undefined || (current && current.createdAt + rotateMs > Date.now())) return;
      if (shared && !(await lock(`rotate:${current?.kid ?? "none"}`))) return;
      await rotate();
      options.log?.info("signing key rotated on schedule");
    } catch (err) {
      options.log?.warn("scheduled signing key check failed; it is tried again", { error: err instanceof Error ? err.message : String(err) });
    }
  }

  return {
    async start() {
      if (shared) {
        ring = await shared.keyring().catch((err: unknown) => {
          ringReady(err);
          throw err;
        });
        if (!ring) {
          const err = new GatewayError(
            "ERR_CONFIG",
            `tokens.store: ${shared.store.name} is shared by several gateway processes, so they share their signing keys through it, ` +
              "encrypted under the master key: set PORTCULLIS_MASTER_KEY (or keys.masterKey; generate one with `openssl rand -base64 32`)",
          );
          ringReady(err);
          throw err;
        }
        ringReady();
        await all();
        unsubscribe = await shared.store.subscribe?.(KEYS_CHANNEL, () => void reload().catch(() => undefined));
      }
      const every = shared ? Math.min(60_000, rotateMs ?? 60_000) : rotateMs;
      if (every !== undefined) {
        timer = setInterval(() => void tick(), Math.max(250, Math.floor(every / 4)));
        unrefTimer(timer);
      }
    },

    async close() {
      if (timer) clearInterval(timer);
      await unsubscribe?.().catch(() => undefined);
      verified.clear();
    },

    async sign(claims, o) {
      const [current] = await live();
      if (!current) throw new GatewayError("ERR_OVERLOADED", "no signing key is available yet", { status: 503 });
      const jwt = new SignJWT({ ...claims })
        .setProtectedHeader({ alg: ALG, kid: current.kid, ...(o.typ ? { typ: o.typ } : {}) })
        .setIssuer(o.issuer)
        .setAudience(o.audience)
        .setIssuedAt()
        .setExpirationTime(Math.floor(Date.now() / 1000) + o.expiresInSeconds)
        .setJti(claims.jti ?? crypto.randomUUID());
      if (o.subject !== undefined) jwt.setSubject(o.subject);
      return await jwt.sign(current.privateKey);
    },

    async verify(token, o) {
      const cacheKey = `${o.typ ?? ""}|${String(o.issuer)}|${String(o.audience)}|${hashSecretSync(token)}`;
      const hit = verified.get(cacheKey);
      if (hit) {
        if (hit.until > Date.now() && (await live()).some((k) => k.kid === hit.kid)) return hit.payload;
        verified.delete(cacheKey);
      }
      let kid: string | undefined;
      try {
        const header = decodeProtectedHeader(token);
        if (header.alg !== ALG) throw new Error("algorithm not allowed");
        kid = header.kid;
      } catch {
        throw new GatewayError("ERR_INVALID_CREDENTIAL", "malformed or unsupported token");
      }
      let key = (await live()).find((k) => k.kid === kid);
      // A key another process made since this one last read the store.
      if (!key && shared && typeof kid === "string" && (reloading || Date.now() - lastLoad >= RELOAD_MIN_MS)) {
        reloading ??= reload().finally(() => (reloading = undefined));
        await reloading.catch(() => undefined);
        key = (await live()).find((k) => k.kid === kid);
      }
      if (!key) throw new GatewayError("ERR_INVALID_CREDENTIAL", "token signed by an unknown or retired key");
      try {
        const { payload } = await jwtVerify(token, key.publicKey, {
          algorithms: [ALG],
          issuer: o.issuer,
          audience: o.audience,
          typ: o.typ,
          clockTolerance: o.clockToleranceSeconds ?? 30,
          requiredClaims: ["exp", "iat"],
        });
        const until = Math.min(Date.now() + VERIFIED_TTL_MS, (payload.exp as number) * 1000);
        // Map order is insertion order: the oldest entry goes first when full.
        if (verified.size >= VERIFIED_MAX) verified.delete(verified.keys().next().value!);
        verified.set(cacheKey, { payload, until, kid: key.kid });
        return payload;
      } catch (err) {
        const code = (err as { code?: string }).code;
        if (code === "ERR_JWT_EXPIRED") throw new GatewayError("ERR_TOKEN_EXPIRED", "token expired");
        throw new GatewayError("ERR_INVALID_CREDENTIAL", code === "ERR_JWT_CLAIM_VALIDATION_FAILED" ? `token claim check failed: ${(err as Error).message}` : "invalid token signature");
      }
    },

    async jwks() {
      return { keys: (await live()).map((k) => k.publicJwk) };
    },

    rotate,
  };
}
