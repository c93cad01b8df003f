// The contract of a store plugin. Type-only: imports no implementation.
import type { Permissions } from "./identity.ts";

/**
 * Kinds of gateway credentials: bearer tokens and API keys (a secret the gateway hands out once), and
 * certificate records (no secret: the rights of a client certificate, found by its fingerprint or subject).
 */
export type TokenType = "token" | "api-key" | "certificate";

/** Which client certificate a `certificate` record is for: one exact certificate, or any the CA issues to a subject. */
export interface CertificateBinding {
  /** SHA-256 of the certificate (DER), 64 lower-case hex digits. */
  fingerprint?: string;
  /** The subject as `mtls()` maps it (SAN email, CN or SPIFFE ID), for certificates re-issued to the same subject. */
  subject?: string;
}

/**
 * What a credential is for, which sets the lifetime and rotation policy it falls under
 * (`tokens.maxLifetime`, `tokens.rotateEvery`): a person's development work, a production workload, or a
 * CI/CD pipeline.
 */
export type TokenKind = "development" | "production" | "ci";

/** A stored token or API key. Holds only the hash of its secret. */
export interface TokenRecord {
  /** Public id, used in URLs and audit events (`tok_...`). */
  id: string;
  /** SHA-256 (base64url) of the secret. Never returned by the API. */
  hash: string;
  type: TokenType;
  /** What the credential is for; its lifetime and rotation policy follow from it. */
  kind?: TokenKind;
  user: string;
  name?: string;
  email?: string;
  team?: string;
  roles: string[];
  org?: string;
  scopes: string[];
  permissions?: Permissions;
  /** The credential's own rate limit on tool calls (`100/m`), instead of `limits.token`. */
  rateLimit?: string;
  description?: string;
  createdAt: string;
  createdBy?: string;
  expiresAt?: string;
  lastUsedAt?: string;
  useCount: number;
  /** When the token stops working (immediately on revoke, after the grace period on rotate). */
  revokedAt?: string;
  /** The token this one replaced. */
  rotatedFrom?: string;
  /** The token that replaced this one. */
  rotatedTo?: string;
  /** For `certificate` records: the certificate they are for. */
  certificate?: CertificateBinding;
  /**
   * The gateway token that made this one for itself (self-service): revoking that token, or the token it
   * was rotated into, revokes this one too, so a stolen token cannot leave copies behind.
   */
  parentId?: string;
}

/** Usage counted in memory and written to the store in batches. */
export interface UsageUpdate {
  id: string;
  count: number;
  lastUsedAt: string;
}

/**
 * The contract a store plugin implements: JSON values under string keys, grouped in namespaces. The
 * gateway derives everything else it keeps (tokens, the lookup of a token by the hash of its secret,
 * usage counters, OAuth grants, vault records) from these five hooks; see `deriveStore`.
 *
 * What the gateway relies on, and what an implementation must therefore guarantee:
 * - `put` and `take` each change one key atomically, and an acknowledged write is durable (for a
 *   persistent store) before its promise resolves;
 * - writers of different keys never lose each other's writes, even from several processes;
 * - of two concurrent `take`s of one key, only one gets the value (the other gets `undefined`);
 * - `get` and `list` hand out copies: a caller mutating a returned value never changes what is stored.
 *
 * There is deliberately no read-modify-write hook: the derivation never needs one (see `deriveStore`).
 *
 * @example
 * const kv: KeyValueStore = {
 *   name: "store:my-kv",
 *   get: (ns, key) => db.read(ns, key),
 *   put: (ns, key, value) => db.write(ns, key, value),
 *   take: (ns, key) => db.remove(ns, key),
 *   list: (ns) => db.entries(ns),
 *   close: () => db.close(),
 * };
 * defineGateway({ tokens: { store: kv }, ... });
 */
export interface KeyValueStore {
  name: string;
  /** Opens the store (reads files, connects); called once by the gateway before use. */
  open?(): Promise<void>;
  /** The value under `key` in `namespace`, or `undefined` when there is none. */
  get(namespace: string, key: string): Promise<unknown | undefined>;
  /** Inserts or replaces a JSON value (never `undefined`); resolves once it is durable. */
  put(namespace: string, key: string, value: unknown): Promise<void>;
  /** Removes a value and returns it, atomically: of two concurrent takes only one gets it. */
  take(namespace: string, key: string): Promise<unknown | undefined>;
  /** Every entry of a namespace, in no particular order; `[]` for an empty or unknown one. */
  list(namespace: string): Promise<Array<{ key: string; value: unknown }>>;
  /**
   * Optional: atomically adds `by` to the counter `key` of `namespace` (created at 0, and forgotten
   * `ttlMs` after it was created) and returns the new value. A store shared by several gateway processes
   * implements it so that counters (failed attempts, rate limits) add up across all of them; without it
   * each process counts on its own.
   */
  increment?(namespace: string, key: string, by: number, ttlMs: number): Promise<number>;
  /**
   * Optional: sends `message` to every process subscribed to `channel` on this store, this one included.
   * A store shared by several gateway processes implements it (with {@link subscribe}) so that a revoke,
   * rotation or ended session on one process reaches the others at once. Delivery is best effort: a
   * message lost while a connection is down is covered by the bounded caches (`verifyCacheMs`).
   */
  publish?(channel: string, message: string): Promise<void>;
  /**
   * Optional: calls `listener` with every message published on `channel` from now on; resolves to the
   * unsubscribe function once listening. A store with this hook is taken as shared by several processes.
   */
  subscribe?(channel: string, listener: (message: string) => void): Promise<() => Promise<void>>;
  close(): Promise<void>;
}

/**
 * Persistence for tokens and API keys, as the gateway uses it. Implementations store only hashes, make
 * every acknowledged write durable, and never lose a concurrent writer's record. A store plugin may
 * implement this whole interface, or only {@link KeyValueStore}, from which the gateway derives it.
 */
export interface TokenStore {
  name: string;
  /** Opens the store (reads files, connects); called once by the gateway before use. */
  open?(): Promise<void>;
  get(id: string): Promise<TokenRecord | undefined>;
  findByHash(hash: string): Promise<TokenRecord | undefined>;
  /** Inserts or replaces a record; resolves once it is durable. */
  put(record: TokenRecord): Promise<void>;
  list(): Promise<TokenRecord[]>;
  /** Adds batched usage counts. */
  addUsage(updates: UsageUpdate[]): Promise<void>;
  /**
   * Namespaced JSON items kept beside the tokens (OAuth grants and sessions, vault secrets, signing keys).
   * Values are stored as given: callers encrypt or hash whatever is secret before putting it.
   */
  getItem(kind: string, key: string): Promise<unknown | undefined>;
  /** Inserts or replaces an item; resolves once it is durable. */
  putItem(kind: string, key: string, value: unknown): Promise<void>;
  /** Removes an item and returns its value, atomically: of two concurrent takes only one gets it. */
  takeItem(kind: string, key: string): Promise<unknown | undefined>;
  listItems(kind: string): Promise<Array<{ key: string; value: unknown }>>;
  /**
   * Optional: atomically adds `by` to the counter `key` of `namespace` (created at 0, and forgotten
   * `ttlMs` after it was created) and returns the new value. A store shared by several gateway processes
   * implements it so that counters (failed attempts, rate limits) add up across all of them; without it
   * each process counts on its own.
   */
  increment?(namespace: string, key: string, by: number, ttlMs: number): Promise<number>;
  /**
   * Optional: sends `message` to every process subscribed to `channel` on this store, this one included.
   * A store shared by several gateway processes implements it (with {@link subscribe}) so that a revoke,
   * rotation or ended session on one process reaches the others at once. Delivery is best effort: a
   * message lost while a connection is down is covered by the bounded caches (`verifyCacheMs`).
   */
  publish?(channel: string, message: string): Promise<void>;
  /**
   * Optional: calls `listener` with every message published on `channel` from now on; resolves to the
   * unsubscribe function once listening. A store with this hook is taken as shared by several processes.
   */
  subscribe?(channel: string, listener: (message: string) => void): Promise<() => Promise<void>>;
  close(): Promise<void>;
}

/** The token as the API shows it: everything but the hash. */
export type PublicToken = Omit<TokenRecord, "hash"> & { state: "active" | "expired" | "revoked" };
