import { configError, decodeMasterKey, GatewayError, interpolate, MASTER_KEY_ENV, openKeyring, readEnv, rotateMasterKey, SECRET_NAME, type Audit, type Keyring, type SecretInfo, type SecretSource, type StoredSealed, type TokenStore, type VaultAdmin } from "../../core/mod.ts";

/** Options of `vault()`. */
export interface VaultOptions {
  /**
   * The master key: 32 random bytes as base64 or 64 hex digits (`openssl rand -base64 32`).
   * Default `$PORTCULLIS_MASTER_KEY`. `${VAR}` is interpolated.
   */
  masterKey?: string;
  /**
   * Earlier master keys still accepted for reading, while records are re-encrypted under the current one
   * (done at start). Default: `$PORTCULLIS_MASTER_KEY_PREVIOUS`, comma-separated.
   */
  previousKeys?: string[];
}

/** The vault: a secret source plus the admin operations the API and CLI use. */
export type Vault = SecretSource & VaultAdmin;

/** The store kind vault records live under. */
const KIND = "secret";
/** Largest secret value accepted, in characters. */
export const MAX_SECRET_LENGTH = 16_384;

function infoOf(name: string, r: StoredSealed): SecretInfo {
  return {
    name,
    createdAt: String(r.createdAt ?? ""),
    updatedAt: String(r.updatedAt ?? ""),
    ...(typeof r.updatedBy === "string" ? { updatedBy: r.updatedBy } : {}),
    keyId: r.kid,
  };
}

/**
 * Checks a secret's name and value (API and CLI alike); errors never contain the value.
 *
 * @example
 * checkSecret("GITHUB", value);
 */
export function checkSecret(name: string, value: unknown): string {
  if (typeof name !== "string" || !SECRET_NAME.test(name)) {
    throw new GatewayError("ERR_BAD_REQUEST", "name: expected letters, digits, _ . / - (starting with a letter or _), at most 128 characters");
  }
  if (typeof value !== "string" || value.length === 0) throw new GatewayError("ERR_BAD_REQUEST", "value: expected a non-empty string");
  if (value.length > MAX_SECRET_LENGTH) throw new GatewayError("ERR_BAD_REQUEST", `value: expected at most ${MAX_SECRET_LENGTH} characters`);
  return value;
}

/**
 * Secrets kept encrypted (AES-256-GCM, a random IV per record, bound to its name) in the gateway's
 * configured store, under the master key from `PORTCULLIS_MASTER_KEY`. Set, list and delete them with
 * `portcullis secrets` or `/v1/credentials`; values are never listed or logged. A start with the wrong
 * master key fails with an error naming `PORTCULLIS_MASTER_KEY`.
 *
 * @example
 * defineGateway({
 *   secrets: [vault(), envSecrets()],
 *   servers: { github: stdio({ command: "github-mcp", env: { GITHUB_TOKEN: secret("GITHUB") } }) },
 * })
 */
export function vault(options: VaultOptions = {}): Vault {
  if (typeof options !== "object" || options === null) throw configError("vault", "expected options { masterKey?, previousKeys? }");
  let what = MASTER_KEY_ENV;
  let master: string | undefined;
  if (options.masterKey !== undefined) {
    if (typeof options.masterKey !== "string") throw configError("vault.masterKey", "expected a string", typeof options.masterKey);
    what = "vault.masterKey";
    master = interpolate(options.masterKey, what);
  } else {
    master = readEnv(MASTER_KEY_ENV);
  }
  if (master === undefined || master.trim() === "") {
    throw configError(what, `expected a master key: set ${MASTER_KEY_ENV} to 32 random bytes as base64 or hex (generate one with \`openssl rand -base64 32\`)`);
  }
  decodeMasterKey(master, what);
  let previous: string[];
  if (options.previousKeys !== undefined) {
    if (!Array.isArray(options.previousKeys)) throw configError("vault.previousKeys", "expected an array of keys");
    previous = options.previousKeys.map((k, i) => {
      if (typeof k !== "string") throw configError(`vault.previousKeys[${i}]`, "expected a string", typeof k);
      const t = interpolate(k, `vault.previousKeys[${i}]`);
      decodeMasterKey(t, `vault.previousKeys[${i}]`);
      return t;
    });
  } else {
    previous = (readEnv("PORTCULLIS_MASTER_KEY_PREVIOUS") ?? "").split(",").map((s) => s.trim()).filter(Boolean);
    for (const [i, p] of previous.entries()) decodeMasterKey(p, `PORTCULLIS_MASTER_KEY_PREVIOUS[${i}]`);
  }

  let ring: Keyring | undefined;
  let store: TokenStore | undefined;
  let audit: Audit | undefined;
  let settle!: (err?: unknown) => void;
  // Upstreams may ask for a secret before the gateway has run setup(); they wait for it.
  const ready = new Promise<void>((resolve, reject) => (settle = (err) => (err === undefined ? resolve() : reject(err))));
  ready.catch(() => undefined);
  const listeners = new Set<(name: string) => void>();
  const changed = (name: string): void => {
    for (const l of listeners) {
      try {
        l(name);
      } catch {
        // A failing listener must not undo or fail the change itself.
      }
    }
  };

  return {
    name: "secrets:vault",
    async setup(ctx) {
      try {
        store = ctx.store;
        audit = ctx.audit;
        ring = await openKeyring(ctx.store, master!, previous, what);
        settle();
      } catch (err) {
        settle(err);
        throw err;
      }
    },
    async get(name) {
      await ready;
      const item = await store!.getItem(KIND, name);
      return item === undefined ? undefined : await ring!.open(KIND, name, item);
    },
    onChange(listener) {
      listeners.add(listener);
      return () => void listeners.delete(listener);
    },
    async set(name, value, actor) {
      checkSecret(name, value);
      await ready;
      const info = await ring!.serialize(async () => {
        const prev = await store!.getItem(KIND, name) as StoredSealed | undefined;
        const now = new Date().toISOString();
        const record: StoredSealed = { ...(await ring!.seal(KIND, name, value)), createdAt: prev?.createdAt ?? now, updatedAt: now, ...(actor ? { updatedBy: actor } : {}) };
        await store!.putItem(KIND, name, record);
        return infoOf(name, record);
      });
      audit?.emit({ type: "credential", action: "set", name, actor, outcome: "ok" });
      changed(name);
      return info;
    },
    async delete(name, actor) {
      await ready;
      const gone = await ring!.serialize(() => store!.takeItem(KIND, name));
      audit?.emit({ type: "credential", action: "delete", name, actor, outcome: gone === undefined ? "missing" : "ok" });
      if (gone === undefined) return false;
      changed(name);
      return true;
    },
    async list() {
      await ready;
      return (await store!.listItems(KIND)).map(({ key, value }) => infoOf(key, value as StoredSealed)).sort((a, b) => a.name.localeCompare(b.name));
    },
    async rotateKey(newKey, actor) {
      await ready;
      if (typeof newKey !== "string" || newKey.trim() === "") throw new GatewayError("ERR_BAD_REQUEST", "newKey: expected 32 random bytes as base64 or hex");
      try {
        decodeMasterKey(newKey, "newKey");
      } catch (err) {
        throw new GatewayError("ERR_BAD_REQUEST", (err as Error).message);
      }
      return await rotateMasterKey(store!, ring!, newKey, { audit, actor, what: "newKey" });
    },
    keyring: () => ring,
  };
}
