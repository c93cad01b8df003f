// The configuration and the running gateway. Type-only: imports no implementation.
import type { AuditSink } from "./audit.ts";
import type { AuthStrategy } from "./auth.ts";
import type { Identity, Permissions, RequestInfo } from "./identity.ts";
import type { IdentityMapper } from "./identity-mapper.ts";
import type { Logger } from "./logger.ts";
import type { AuthorizeHook } from "./policy.ts";
import type { SecretSource } from "./secrets.ts";
import type { KeyValueStore, TokenStore } from "./store.ts";
import type { SigningKeys, TokenService } from "./tokens.ts";
import type { Upstream } from "./upstream.ts";

/** Gateway-wide settings of the HTTP server and the MCP endpoint. */
export interface ServerSettings {
  /** Interface to listen on; default `127.0.0.1`. */
  host?: string;
  /** Port to listen on; default 8787. */
  port?: number;
  /** Largest request body accepted, in bytes; default 4 MiB. */
  maxBodyBytes?: number;
  /** Browser origins allowed to call the gateway besides the gateway's own and loopback origins. */
  allowedOrigins?: string[];
  /** Separator between server and tool names on `/mcp`; default `__`. */
  separator?: string;
  /** Idle time after which a 2025-era session is closed, in seconds; default 600. */
  sessionIdleSeconds?: number;
  /** Most concurrent 2025-era sessions; default 10000. */
  maxSessions?: number;
  /**
   * Most concurrent 2025-era sessions of one caller (one principal); default 16. At the limit the caller's
   * own least recently used session is closed to make room, so one caller can never use up `maxSessions`.
   */
  maxSessionsPerUser?: number;
  /** Time allowed to receive a whole request body, in ms; default 30000. A slower body gets 408. */
  bodyTimeoutMs?: number;
  /** Time allowed to receive a request's headers, in ms; default 15000 (enforced by the serving adapter). */
  headersTimeoutMs?: number;
  /**
   * The URL clients use to reach the gateway (`https://mcp.example.com`), used as the issuer of the
   * tokens it signs. Default: the origin of each request.
   */
  publicUrl?: string;
  /**
   * Serve HTTPS instead of HTTP. Files are read at start (an unreadable or malformed one fails the start)
   * and read again on SIGHUP and when they change, without dropping connections (Node; Deno and Bun
   * need a restart).
   *
   * @example
   * tls: { cert: "certs/server.crt", key: "certs/server.key" }
   */
  tls?: TlsSettings;
}

/** The certificate the gateway serves HTTPS with, and optionally the client certificates it asks for. */
export interface TlsSettings {
  /** PEM file of the server certificate (with its intermediates after it). */
  cert: string;
  /** PEM file of the certificate's private key. */
  key: string;
  /** PEM file of the CA certificates client certificates are verified against (with `requestCert`). */
  ca?: string;
  /** Oldest TLS version accepted; default `TLSv1.2`. */
  minVersion?: "TLSv1.2" | "TLSv1.3";
  /**
   * Ask clients for a certificate (mTLS; Node only, see the README). The verified result reaches auth
   * strategies as `info.tls`. Requests without one are not refused here, so other strategies still apply.
   */
  requestCert?: boolean;
  /** With `requestCert`, refuse handshakes without a certificate the `ca` verifies; default false. */
  rejectUnauthorized?: boolean;
}

/** Where tokens live and how long they may last. */
export interface TokenSettings {
  /**
   * A store plugin: a full `TokenStore`, or a minimal `KeyValueStore` the gateway derives one from.
   * Default: `fileStore({ dir: PORTCULLIS_DATA_DIR or ./.portcullis })` under the CLI, `memoryStore()` otherwise.
   */
  store?: TokenStore | KeyValueStore;
  /** Lifetime of a token created without `expiresIn`; default `30d`. */
  defaultExpiresIn?: string;
  /** Longest `expiresIn` accepted; default `365d`. */
  maxExpiresIn?: string;
  /**
   * How long a verified token may be answered from memory, ms; default 1000, 0 turns the cache off.
   * Revoke and rotate drop the entry at once; it never outlives the token's expiry.
   */
  verifyCacheMs?: number;
}

/** Admin access settings. */
export interface AdminSettings {
  /** A static admin token (default `$PORTCULLIS_ADMIN_TOKEN`); compared in constant time. */
  token?: string;
  /**
   * On a start with no admin at all, create one admin token and hand it to `onBootstrap`; default true.
   * Without `onBootstrap` nothing is created (the `portcullis` CLI passes one that prints the token once).
   */
  bootstrap?: boolean;
  /**
   * Receives the first admin token (its secret, shown only this once, and its id) when `bootstrap` makes
   * one; the gateway itself never prints it. If this throws, the token is revoked and the start fails.
   *
   * @example
   * admin: { onBootstrap: (secret, id) => saveToKeychain(id, secret) }
   */
  onBootstrap?: (secret: string, id: string) => void | Promise<void>;
}

/** The gateway configuration, as written in `gateway.config.ts`. */
export interface GatewayConfig {
  server?: ServerSettings;
  /** Auth strategies, tried in order. None configured means every `/mcp` request is refused. */
  auth?: AuthStrategy | AuthStrategy[];
  /** The MCP servers behind the gateway, by name. */
  servers: Record<string, Upstream>;
  /** Gateway tokens and API keys. */
  tokens?: TokenSettings;
  /** Role name -> servers and tools its holders may reach. */
  roles?: Record<string, Permissions>;
  /** Last-word authorization hook, called for every list and call decision. */
  authorize?: AuthorizeHook;
  /**
   * Audit sinks; every auth attempt, token operation and tool call goes to each. Left out, the
   * `portcullis` CLI writes `audit.jsonl` in its data directory (`$PORTCULLIS_DATA_DIR`, default
   * `.portcullis`); `createGateway` alone writes no file. `false` (or `[]`) turns auditing off everywhere.
   */
  audit?: AuditSink[] | false;
  /** Who upstreams learn is calling; default `[identityHeaders()]`; `[]` forwards nothing. */
  identity?: IdentityMapper[];
  /** Where `secret("NAME")` references are resolved, asked in order; default `[envSecrets()]`. */
  secrets?: SecretSource[];
  /** Admin access to `/v1/auth`. */
  admin?: AdminSettings;
  /** Log level; default `info`. */
  logLevel?: "debug" | "info" | "warn" | "error" | "silent";
  /** A logger to use instead of the built-in one (writes to stderr). */
  logger?: Logger;
}

/** A running gateway: a web-standard fetch handler plus shutdown. */
export interface Gateway {
  fetch(request: Request, info?: RequestInfo): Promise<Response>;
  close(): Promise<void>;
  /** The validated configuration in force. */
  readonly config: ResolvedConfig;
  /** The token service (issue, verify, list, revoke, rotate), for embedding and the CLI. */
  readonly tokens: TokenService;
  /** The gateway's signing keys (identity assertions, OAuth access tokens): `keys.rotate()` starts a new key. */
  readonly keys: SigningKeys;
  /** Resolves when every upstream has either connected or failed its first attempt. */
  ready(): Promise<void>;
}

/** `server.tls` after validation and defaults: file paths (not yet read) and the TLS choices. */
export interface ResolvedTls {
  cert: string;
  key: string;
  ca?: string;
  minVersion: "TLSv1.2" | "TLSv1.3";
  requestCert: boolean;
  rejectUnauthorized: boolean;
}

/** The configuration after validation and defaults. */
export interface ResolvedConfig {
  server: Required<Omit<ServerSettings, "allowedOrigins" | "publicUrl" | "tls">> & { allowedOrigins: string[]; publicUrl?: string; tls?: ResolvedTls };
  auth: AuthStrategy[];
  servers: Record<string, Upstream>;
  logger: Logger;
  tokens: { store: TokenStore; defaultLifetimeSeconds: number; maxLifetimeSeconds: number; verifyCacheMs: number };
  roles?: Record<string, Permissions>;
  authorize?: AuthorizeHook;
  audit: AuditSink[];
  identity: IdentityMapper[];
  secrets: SecretSource[];
  admin: { token?: string; bootstrap: boolean };
}
