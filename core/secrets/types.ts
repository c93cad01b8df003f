import type { Keyring } from "./crypto.ts";

/** Users' own credentials for upstream servers (`PUT /v1/me/credentials/<server>`), kept encrypted. */
export interface UserCredentials {
  /** The user's credential for `server`, decrypted, or undefined when they have not stored one. */
  get(subject: string, server: string): Promise<string | undefined>;
  /** Subscribes to changes (set or delete) so the user's connection to that server is rebuilt; returns the unsubscribe function. */
  onChange(listener: (subject: string, server: string) => void): () => void;
}

/** A stored secret as listed: names and metadata, never the value. */
export interface SecretInfo {
  name: string;
  createdAt: string;
  updatedAt: string;
  /** Who last set it: a subject, `admin-token` or `cli`. */
  updatedBy?: string;
  /** Id of the master key it is encrypted with. */
  keyId: string;
}

/** A user's own credential for a server as listed: never the value. */
export interface UserCredentialInfo {
  server: string;
  createdAt: string;
  updatedAt: string;
  updatedBy?: string;
  keyId: string;
}

/** What the `/v1/credentials` API and `portcullis secrets` need from the vault (`vault()` implements it). */
export interface VaultAdmin {
  /** Stores (or replaces) a secret, encrypted; listeners of `onChange` are told. Audited as `set`. */
  set(name: string, value: string, actor?: string): Promise<SecretInfo>;
  /** Removes a secret; false when there was none. Audited as `delete`. */
  delete(name: string, actor?: string): Promise<boolean>;
  /** Every secret's name and metadata, sorted by name. */
  list(): Promise<SecretInfo[]>;
  /**
   * Re-encrypts every record under `newKey` while reads keep working; afterwards start with
   * `PORTCULLIS_MASTER_KEY` set to the new key. Audited as `rotate-key`.
   */
  rotateKey(newKey: string, actor?: string): Promise<{ keyId: string; previousKeyIds: string[]; reencrypted: number }>;
  /** The keyring in use, once set up (user credentials share it, so one rotation covers both). */
  keyring(): Keyring | undefined;
}
