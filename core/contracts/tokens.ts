// The token service and signing keys that plugins are handed. Type-only: imports no implementation.
import type { JWK, JWTPayload } from "jose";
import type { Permissions } from "./identity.ts";
import type { CertificateBinding, PublicToken, TokenKind, TokenRecord, TokenType } from "./store.ts";

/** What an admin asks for when creating a token. */
export interface CreateTokenInput {
  user: string;
  name?: string;
  email?: string;
  team?: string;
  roles?: string[];
  org?: string;
  type?: TokenType;
  /** What the credential is for (`tokens.maxLifetime` and `tokens.rotateEvery` apply per kind). */
  kind?: TokenKind;
  scopes?: string[];
  permissions?: Permissions;
  description?: string;
  /** The credential's own rate limit on tool calls, such as `100/m` (`limits.token` otherwise). */
  rateLimit?: string;
  /** The gateway token making a token for itself: revoked with it (see `TokenRecord.parentId`). */
  parentId?: string;
  /** Lifetime in seconds; capped by the configured maximum. */
  expiresInSeconds?: number;
  /** With `type: "certificate"`: the client certificate the record gives its rights to. */
  certificate?: CertificateBinding;
}

/** Filters of the list operation. */
export interface TokenFilter {
  user?: string;
  team?: string;
  type?: TokenType;
  state?: PublicToken["state"];
}

/** The result of checking a presented secret. */
export type VerifyResult =
  | { ok: true; record: TokenRecord }
  | { ok: false; code: "ERR_INVALID_CREDENTIAL" | "ERR_TOKEN_EXPIRED" | "ERR_TOKEN_REVOKED"; reason: string; tokenId?: string };

/** Issue, verify, list, revoke and rotate gateway tokens and API keys. */
export interface TokenService {
  create(input: CreateTokenInput, actor: string): Promise<{ record: PublicToken; secret: string }>;
  verify(secret: string, type: TokenType): Promise<VerifyResult>;
  get(id: string): Promise<PublicToken | undefined>;
  list(filter?: TokenFilter): Promise<PublicToken[]>;
  revoke(id: string, actor: string): Promise<PublicToken>;
  rotate(id: string, graceSeconds: number, actor: string): Promise<{ record: PublicToken; secret: string }>;
  /**
   * The `certificate` record for a client certificate: the one for its exact fingerprint, else the one for
   * its subject; `undefined` when there is none. A revoked or expired record is a failed result.
   */
  findCertificate(fingerprint: string, subject?: string): Promise<VerifyResult | undefined>;
  /** Whether any active token carries the `admin` scope. */
  hasActiveAdmin(): Promise<boolean>;
  /**
   * Tells `listener` when a credential stops being valid earlier than its expiry: revoked (`endsAt` now)
   * or rotated (`endsAt` the end of its grace period). Returns the unsubscribe function.
   */
  onInvalidate(listener: (tokenId: string, endsAt: number) => void): () => void;
  /** Writes batched usage counters to the store. */
  flush(): Promise<void>;
  close(): Promise<void>;
}

/** Options of `sign`. */
export interface SignOptions {
  issuer: string;
  audience: string | string[];
  subject?: string;
  /** Lifetime in seconds. */
  expiresInSeconds: number;
  /** The JWT `typ` header, e.g. `at+jwt` for access tokens. */
  typ?: string;
}

/** Options of `verify`. */
export interface VerifyOptions {
  issuer: string | string[];
  audience: string | string[];
  typ?: string;
  /** Allowed clock skew in seconds; default 30. */
  clockToleranceSeconds?: number;
}

/** The gateway's own JWT signing keys (ES256): sign, verify, publish, rotate. */
export interface SigningKeys {
  /** Signs `claims` with the current key; adds `iat`, `exp`, `jti`, `iss`, `aud`, `sub`. */
  sign(claims: JWTPayload, options: SignOptions): Promise<string>;
  /** Verifies a JWT signed by one of the published keys; throws `ERR_INVALID_CREDENTIAL` or `ERR_TOKEN_EXPIRED`. */
  verify(jwt: string, options: VerifyOptions): Promise<JWTPayload>;
  /** The public keys, current first, as served at `/.well-known/jwks.json`. */
  jwks(): Promise<{ keys: JWK[] }>;
  /** Makes a new key current; the previous one stays published (and verifiable) for `retainSeconds`. */
  rotate(): Promise<void>;
}
