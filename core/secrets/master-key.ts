import type { Audit } from "../types.ts";
import { GatewayError } from "../errors.ts";
import type { TokenStore } from "../tokens/types.ts";
import { createKeyring, importMasterKey, isSealed, type Keyring, MASTER_KEY_ENV, type MasterKey, type SealedRecord } from "./crypto.ts";

/**
 * Store kinds whose items are sealed records (plus plain metadata) under the master key. The item's key
 * is the AAD name, so a record only decrypts under its own kind and key.
 */
export const SEALED_KINDS = ["secret", "user-credential"] as const;

const CHECK_KIND = "vault";
const CHECK_KEY = "key-check";
const CHECK_TEXT = "portcullis master key check";

/** A sealed record with the plain metadata stored beside it. */
export type StoredSealed = SealedRecord & Record<string, unknown>;

function wrongKey(what: string, has: string[], stored: string): GatewayError {
  return new GatewayError(
    "ERR_CONFIG",
    `${what} is not the master key this store was encrypted with: the store needs key id ${stored}, configured key id(s) ${has.join(", ")}. ` +
      `Start with the right ${MASTER_KEY_ENV} (after a rotation: the new key; during one: the old key in previousKeys / PORTCULLIS_MASTER_KEY_PREVIOUS).`,
  );
}

/**
 * Builds the keyring for `store` and proves it fits: the stored key-check record must decrypt and every
 * sealed record must be under a known key, else a clear `ERR_CONFIG` naming `what`. A first start writes
 * the key check; records left under a previous key (a rotation interrupted, or a restart with the new key
 * plus `previousKeys`) are re-encrypted under the current key.
 *
 * @example
 * const ring = await openKeyring(store, env.PORTCULLIS_MASTER_KEY, [], "PORTCULLIS_MASTER_KEY");
 */
export async function openKeyring(store: TokenStore, current: string, previous: readonly string[], what: string = MASTER_KEY_ENV): Promise<Keyring> {
  const keys: MasterKey[] = [await importMasterKey(current, what)];
  for (const [i, p] of previous.entries()) keys.push(await importMasterKey(p, `${what === MASTER_KEY_ENV ? "PORTCULLIS_MASTER_KEY_PREVIOUS" : "previousKeys"}[${i}]`));
  const ring = createKeyring(keys);
  const check = await store.getItem(CHECK_KIND, CHECK_KEY);
  if (check !== undefined) {
    if (!isSealed(check) || !ring.has(check.kid)) throw wrongKey(what, ring.ids(), isSealed(check) ? check.kid : "?");
    let text: string;
    try {
      text = await ring.open(CHECK_KIND, CHECK_KEY, check);
    } catch {
      throw wrongKey(what, ring.ids(), check.kid);
    }
    if (text !== CHECK_TEXT) throw wrongKey(what, ring.ids(), check.kid);
  }
  let stale = check !== undefined && (check as SealedRecord).kid !== ring.current().id;
  for (const kind of SEALED_KINDS) {
    for (const { value } of await store.listItems(kind)) {
      if (!isSealed(value)) continue;
      if (!ring.has(value.kid)) throw wrongKey(what, ring.ids(), value.kid);
      if (value.kid !== ring.current().id) stale = true;
    }
  }
  if (stale) await reencryptAll(store, ring);
  else if (check === undefined) await store.putItem(CHECK_KIND, CHECK_KEY, { ...await ring.seal(CHECK_KIND, CHECK_KEY, CHECK_TEXT), since: new Date().toISOString() });
  return ring;
}

/**
 * Which master key the store's records are under and since when (`since` is missing for a store
 * written before the gateway recorded it): what an access review judges "not rotated for N days" by.
 * Undefined for a store no master key was ever used with.
 *
 * @example
 * await masterKeyInUse(store); // { keyId: "Vb3c9a1Qx2E", since: "2026-09-01T10:00:00.000Z" }
 */
export async function masterKeyInUse(store: Pick<TokenStore, "getItem">): Promise<{ keyId: string; since?: string } | undefined> {
  const check = await store.getItem(CHECK_KIND, CHECK_KEY) as StoredSealed | undefined;
  if (!isSealed(check)) return undefined;
  return { keyId: check.kid, ...(typeof check.since === "string" ? { since: check.since } : {}) };
}

/** What a rotation did. */
export interface RotationResult {
  /** The new current key's id. */
  keyId: string;
  /** The key ids records were under before. */
  previousKeyIds: string[];
  /** How many records were re-encrypted. */
  reencrypted: number;
}

async function reencryptAll(store: TokenStore, ring: Keyring): Promise<number> {
  const target = ring.current().id;
  // Writes queued before the new key became current may still be sealing under the old one: let them
  // land first, so the listing below sees them. Every later write seals under the new key.
  await ring.serialize(async () => undefined);
  let n = 0;
  for (const kind of SEALED_KINDS) {
    for (const { key } of await store.listItems(kind)) {
      // Re-read under the keyring's write lock so a value set meanwhile is never replaced by an older one.
      await ring.serialize(async () => {
        const now = await store.getItem(kind, key) as StoredSealed | undefined;
        if (!isSealed(now) || now.kid === target) return;
        const sealed = await ring.seal(kind, key, await ring.open(kind, key, now));
        await store.putItem(kind, key, { ...now, ...sealed });
        n++;
      });
    }
  }
  await ring.serialize(async () => {
    // The moment the current key took over: access reviews count a key's age from it.
    await store.putItem(CHECK_KIND, CHECK_KEY, { ...await ring.seal(CHECK_KIND, CHECK_KEY, CHECK_TEXT), since: new Date().toISOString() });
  });
  return n;
}

/**
 * Master-key rotation: makes `newKey` current and re-encrypts every sealed record and the key check
 * under it, one record at a time. Reads keep working throughout (each record names its key and the
 * keyring still holds the old one). Audited as one `credential` event with action `rotate-key`.
 *
 * @example
 * const r = await rotateMasterKey(store, ring, newKeyText, { audit, actor: "cli" });
 */
export async function rotateMasterKey(store: TokenStore, ring: Keyring, newKeyText: string, opts: { audit?: Audit; actor?: string; what?: string } = {}): Promise<RotationResult> {
  const newKey = await importMasterKey(newKeyText, opts.what ?? "new key");
  const previousKeyIds = ring.ids();
  ring.promote(newKey);
  try {
    const reencrypted = await reencryptAll(store, ring);
    opts.audit?.emit({ type: "credential", action: "rotate-key", name: "master-key", actor: opts.actor, outcome: "ok" });
    return { keyId: newKey.id, previousKeyIds: previousKeyIds.filter((id) => id !== newKey.id), reencrypted };
  } catch (err) {
    opts.audit?.emit({ type: "credential", action: "rotate-key", name: "master-key", actor: opts.actor, outcome: "error" });
    throw err;
  }
}
