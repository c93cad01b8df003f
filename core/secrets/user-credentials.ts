import type { Audit } from "../types.ts";
import { readEnv } from "../config/interpolate.ts";
import { GatewayError } from "../errors.ts";
import type { TokenStore } from "../tokens/types.ts";
import { type Keyring, MASTER_KEY_ENV } from "./crypto.ts";
import { openKeyring, type StoredSealed } from "./master-key.ts";
import type { UserCredentialInfo, UserCredentials, VaultAdmin } from "./types.ts";

const KIND = "user-credential";
/** Largest per-user credential accepted, in characters. */
export const MAX_CREDENTIAL_LENGTH = 16_384;

/** Users' own upstream credentials: the gateway's reading side plus what `/v1/me/credentials` needs. */
export interface UserCredentialStore extends UserCredentials {
  /** Whether a master key is configured (without one, nothing can be stored). */
  available(): boolean;
  /** Opens the keyring (the vault's, else one from `PORTCULLIS_MASTER_KEY`); a wrong key throws `ERR_CONFIG`. */
  setup(): Promise<void>;
  /** Stores (or replaces) `subject`'s credential for `server`, encrypted. Audited as `set`. */
  set(subject: string, server: string, value: string, actor?: string): Promise<UserCredentialInfo>;
  /** Removes it; false when there was none. Audited as `delete`. */
  delete(subject: string, server: string, actor?: string): Promise<boolean>;
  /** The servers `subject` has a credential for, with metadata, never values. */
  list(subject: string): Promise<UserCredentialInfo[]>;
}

/** What the user-credential store is built from. */
export interface UserCredentialOptions {
  /** The gateway's configured store. */
  store: TokenStore;
  audit: Audit;
  /** The configured vault, if any: its keyring is shared so one key rotation covers both. */
  vault?: VaultAdmin;
  /** The master key when there is no vault; default `$PORTCULLIS_MASTER_KEY`. */
  masterKey?: string;
}

// The item key is also the AAD name: a record copied to another user or server does not decrypt.
const keyOf = (subject: string, server: string): string => JSON.stringify([subject, server]);

function unavailable(): GatewayError {
  return new GatewayError("ERR_CONFIG", `per-user credentials need a master key: set ${MASTER_KEY_ENV} (generate one with \`openssl rand -base64 32\`)`, { status: 503 });
}

/**
 * Users' own credentials for upstream servers, encrypted like the vault (AES-256-GCM, bound to the user
 * and server) in the configured store under kind `user-credential`. Reads are audited as `use` with
 * the name `user:<server>` and the subject, never the value.
 *
 * @example
 * const users = createUserCredentials({ store, audit, vault: findVault(config.secrets) });
 * await users.setup();
 * await users.set("alice", "github", "ghp_...", "alice");
 * await users.get("alice", "github"); // "ghp_..."
 */
export function createUserCredentials(opts: UserCredentialOptions): UserCredentialStore {
  const { store, audit, vault } = opts;
  const master = opts.masterKey ?? readEnv(MASTER_KEY_ENV);
  const enabled = vault !== undefined || (master !== undefined && master.trim() !== "");
  let ring: Keyring | undefined;
  let settle!: (err?: unknown) => void;
  const ready = new Promise<void>((resolve, reject) => (settle = (err) => (err === undefined ? resolve() : reject(err))));
  ready.catch(() => undefined);
  const listeners = new Set<(subject: string, server: string) => void>();
  const changed = (subject: string, server: string): void => {
    for (const l of listeners) {
      try {
        l(subject, server);
      } catch {
        // A failing listener must not undo or fail the change itself.
      }
    }
  };
  const need = async (): Promise<Keyring> => {
    if (!enabled) throw unavailable();
    await ready;
    return ring!;
  };
  const infoOf = (r: StoredSealed): UserCredentialInfo => ({
    server: String(r.server),
    createdAt: String(r.createdAt ?? ""),
    updatedAt: String(r.updatedAt ?? ""),
    ...(typeof r.updatedBy === "string" ? { updatedBy: r.updatedBy } : {}),
    keyId: r.kid,
  });

  return {
    available: () => enabled,
    async setup() {
      try {
        if (vault) ring = vault.keyring();
        else if (enabled) {
          const previous = (readEnv("PORTCULLIS_MASTER_KEY_PREVIOUS") ?? "").split(",").map((s) => s.trim()).filter(Boolean);
          ring = await openKeyring(store, master!, previous, opts.masterKey === undefined ? MASTER_KEY_ENV : "masterKey");
        }
        if (enabled && !ring) throw new GatewayError("ERR_CONFIG", "the vault was not set up before the per-user credentials");
        settle();
      } catch (err) {
        settle(err);
        throw err;
      }
    },
    async get(subject, server) {
      if (!enabled) return undefined;
      await ready;
      const key = keyOf(subject, server);
      const item = await store.getItem(KIND, key);
      if (item === undefined) return undefined;
      let value: string;
      try {
        value = await ring!.open(KIND, key, item);
      } catch (err) {
        audit.emit({ type: "credential", action: "use", name: `user:${server}`, server, subject, outcome: "error" });
        throw err;
      }
      audit.emit({ type: "credential", action: "use", name: `user:${server}`, server, subject, outcome: "ok" });
      return value;
    },
    onChange(listener) {
      listeners.add(listener);
      return () => void listeners.delete(listener);
    },
    async set(subject, server, value, actor) {
      const r = await need();
      if (typeof value !== "string" || value.length === 0) throw new GatewayError("ERR_BAD_REQUEST", "value: expected a non-empty string");
      if (value.length > MAX_CREDENTIAL_LENGTH) throw new GatewayError("ERR_BAD_REQUEST", `value: expected at most ${MAX_CREDENTIAL_LENGTH} characters`);
      // A credential ends up in a header or an environment variable: control characters could split either.
      if (/[\u0000-\u0008\u000a-\u001f\u007f]/.test(value)) throw new GatewayError("ERR_BAD_REQUEST", "value: control characters (CR, LF ...) are not allowed");
      const key = keyOf(subject, server);
      const info = await r.serialize(async () => {
        const prev = await store.getItem(KIND, key) as StoredSealed | undefined;
        const now = new Date().toISOString();
        const record: StoredSealed = {
          ...(await r.seal(KIND, key, value)),
          subject,
          server,
          createdAt: prev?.createdAt ?? now,
          updatedAt: now,
          ...(actor ? { updatedBy: actor } : {}),
        };
        await store.putItem(KIND, key, record);
        return infoOf(record);
      });
      audit.emit({ type: "credential", action: "set", name: `user:${server}`, server, subject, actor, outcome: "ok" });
      changed(subject, server);
      return info;
    },
    async delete(subject, server, actor) {
      const r = await need();
      const gone = await r.serialize(() => store.takeItem(KIND, keyOf(subject, server)));
      audit.emit({ type: "credential", action: "delete", name: `user:${server}`, server, subject, actor, outcome: gone === undefined ? "missing" : "ok" });
      if (gone === undefined) return false;
      changed(subject, server);
      return true;
    },
    async list(subject) {
      await need();
      return (await store.listItems(KIND))
        .map(({ value }) => value as StoredSealed)
        .filter((r) => r.subject === subject)
        .map(infoOf)
        .sort((a, b) => a.server.localeCompare(b.server));
    },
  };
}
