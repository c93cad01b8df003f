import type { Transport } from "@modelcontextprotocol/client";
import type { Audit } from "./audit/bus.ts";
import type { AuditSink } from "./audit/events.ts";
import type { AuthorizeHook } from "./auth/permissions.ts";
import type { TokenService } from "./tokens/service.ts";
import type { SigningKeys } from "./tokens/signing-keys.ts";
import type { TokenStore } from "./tokens/types.ts";

/** What the serving adapter knows about the connection a request came in on. */
export interface RequestInfo {
  /** The peer's IP address. */
  remoteAddress?: string;
  /** TLS details when the gateway terminates TLS itself (mTLS). */
  tls?: {
    /** Whether the runtime verified the peer certificate against the configured CA. */
    authorized?: boolean;
    /** The peer's certificate, DER-encoded. */
    peerCertificate?: Uint8Array;
  };
}

/** Who is calling, as established by an auth strategy. Never built from client-supplied identity headers. */
export interface Identity {
  /** Stable subject identifier (user id, email or token owner). */
  subject: string;
  email?: string;
  name?: string;
  team?: string;
  roles: string[];
  org?: string;
  /** Granted scopes such as `mcp:read`, `mcp:write`, `admin`. */
  scopes: string[];
  /** The name of the strategy that authenticated the request. */
  strategy: string;
  /** The gateway token or key id, when the credential was one. */
  tokenId?: string;
  /**
   * Who vouches for `subject`: `gateway` for the gateway's own tokens and keys, `oidc:<iss>` for an
   * identity provider, `oauth:<issuer>` for the gateway's OAuth server. Subjects are only ever compared
   * together with their issuer (`principalOf`), so `bob` of one issuer is never `bob` of another.
   * Default: the strategy's name.
   */
  issuer?: string;
  /**
   * The credential that presented this identity: a token id, an OAuth grant, a certificate fingerprint.
   * An MCP session is bound to it; another credential cannot use the session. Default: the principal.
   */
  credentialId?: string;
  /** When the presenting credential stops being valid, ms since the epoch; a session bound to it ends then. */
  expiresAt?: number;
  /** Server and tool restrictions carried by the credential itself. */
  permissions?: Permissions;
  /** Extra claims a strategy wants to keep (never secrets). */
  claims?: Record<string, unknown>;
}

/** Which servers and tools a credential or role may reach. Entries are names or globs (`github__*`). */
export interface Permissions {
  servers?: string[];
  tools?: string[];
}

/** The decision of one auth strategy about one request. `undefined` means "not my credential". */
export type AuthOutcome =
  | { identity: Identity }
  | { error: { code: "ERR_INVALID_CREDENTIAL" | "ERR_TOKEN_EXPIRED" | "ERR_TOKEN_REVOKED" | "ERR_FORBIDDEN"; reason: string; tokenId?: string } }
  | undefined;

/** What a strategy sees besides the request. */
export interface AuthContext {
  url: URL;
  info: RequestInfo;
  /**
   * Set for route handlers only: authenticates the request like `/v1/auth` does (every strategy plus
   * the static admin token, audited), or throws a 401 GatewayError.
   */
  authenticate?: () => Promise<Identity>;
  /** Set for route handlers of routes with `auth` other than "none": the caller, already authenticated. */
  identity?: Identity;
}

/**
 * Who may call a route: `none` (anyone; the handler may still call `ctx.authenticate()`), `user` (any
 * authenticated caller, the admin token included), `admin` (a caller with the `admin` scope), `mcp` (the
 * configured strategies only, never the admin token), or a check that throws a GatewayError to refuse
 * an authenticated caller.
 */
export type RouteAuth = "none" | "user" | "admin" | "mcp" | ((identity: Identity) => void);

/**
 * An HTTP route, declared as data: core's own and every plugin's (OAuth endpoints, well-known documents)
 * go into one table, where two declaring the same method and path is a config error.
 */
export interface Route {
  /** `*` serves every method; the handler then answers 405 itself. */
  method: "GET" | "HEAD" | "POST" | "PUT" | "DELETE" | "*";
  /** An exact path, or a prefix ending in `*` (`/v1/auth/sessions/*`). */
  path: string;
  /** Default `none`. */
  auth?: RouteAuth;
  /** Refuse foreign browser Origins (403 `ERR_FORBIDDEN_ORIGIN`) before anything else; default false. */
  origin?: boolean;
  /** How errors are answered: `json` API errors (default), `oauth` (RFC 6749 §5.2), `rpc` (JSON-RPC). */
  errors?: "json" | "oauth" | "rpc";
  handler: (request: Request, ctx: AuthContext) => Response | Promise<Response>;
}

/** Gateway services handed to plugins when the gateway starts. */
export interface PluginContext {
  tokens: TokenService;
  audit: Audit;
  log: Logger;
  /** The configured store: tokens, plus namespaced items (grants, sessions, vault records). */
  store: TokenStore;
  /** The gateway's JWT signing keys (identity assertions, OAuth access tokens); public half at `/.well-known/jwks.json`. */
  keys: SigningKeys;
  /** The gateway's public base URL when configured (`server.publicUrl`), else undefined: use the request's origin. */
  publicUrl?: string;
  /** The configured servers `identity` may reach under the permission model (for consent pages and the like). */
  serversFor(identity: Identity): string[];
  /**
   * Ends every MCP session opened with the credential `credentialId` (an identity's `credentialId`, else
   * its `tokenId`): call it when a strategy's own credential is revoked (an OAuth grant ended, say).
   */
  endSessions(credentialId: string): void;
}

/** What an identity mapper adds to one upstream request. */
export interface ForwardedIdentity {
  /** HTTP headers for Streamable HTTP upstreams. */
  headers?: Record<string, string>;
  /** Entries merged into the request's `params._meta` (how stdio upstreams learn the caller). */
  meta?: Record<string, unknown>;
}

/**
 * Turns the caller's identity into what an upstream receives. Runs on every forwarded request, so keep
 * it cheap (cache per identity where possible).
 */
export interface IdentityMapper {
  /** A label for logs and errors (`identity:headers`); the gateway recognises a mapper by its `map` hook. */
  name: string;
  map(identity: Identity, server: string, via: "headers" | "meta"): ForwardedIdentity | Promise<ForwardedIdentity>;
  /** Header names the mapper sends; the same headers arriving from clients are stripped before anything reads them. */
  headerNames?(): string[];
  /**
   * `_meta` keys the mapper writes outside the gateway's own `io.portcullis/` namespace (which is always
   * reserved); the same keys arriving from clients are removed before a request is forwarded.
   */
  metaKeys?(): string[];
  setup?(ctx: PluginContext): void | Promise<void>;
  routes?: Route[];
  close?(): void | Promise<void>;
}

/**
 * Resolves `secret("NAME")` references in upstream settings. `envSecrets()` reads the environment;
 * `vault()` keeps values encrypted in the store.
 */
export interface SecretSource {
  /** A label for logs and errors (`secrets:env`); a source is recognised by its `get` hook. */
  name: string;
  /** The value, or undefined when this source does not have it (the next source is asked). */
  get(name: string): Promise<string | undefined>;
  /** Subscribes to value changes (so upstreams using the secret reconnect); returns the unsubscribe function. */
  onChange?(listener: (name: string) => void): () => void;
  setup?(ctx: PluginContext): void | Promise<void>;
  close?(): void | Promise<void>;
}

/** What an upstream plugin gets when it builds a transport. */
export interface TransportContext {
  /** Resolves a secret by name from the configured sources; throws a clear error when none has it. Audited. */
  secret(name: string): Promise<string>;
  /** Set on per-user connections: the user and their own credential for this server. */
  user?: { identity: Identity; credential: string };
  /** Writes one line of the server's own output (a stdio server's stderr) to the gateway's log, redacted. */
  log?(line: string): void;
}

/**
 * An authentication strategy: recognises a credential in a request and returns an identity, a failure,
 * or `undefined` when the request carries no credential of its kind.
 */
export interface AuthStrategy {
  name: string;
  authenticate(request: Request, ctx: AuthContext): AuthOutcome | Promise<AuthOutcome>;
  /** A `WWW-Authenticate` challenge offered when no strategy accepted the request; a function when it depends on the request (its URL). */
  challenge?: string | ((ctx: AuthContext) => string);
  /**
   * The client can ask its authorization server for more scope (OAuth): a read-only token calling a write
   * tool its permissions reach gets 403 `insufficient_scope` instead of "Unknown tool".
   */
  scopeStepUp?: boolean;
  routes?: Route[];
  /** Receives the gateway's services (token service, audit, logger) once, before the first request. */
  setup?(ctx: PluginContext): void | Promise<void>;
  close?(): void | Promise<void>;
}

/** How to reach one MCP server. */
export interface Upstream {
  /** A label for logs and errors (`upstream:stdio`); an upstream is recognised by its `createTransport` hook. */
  name: string;
  /** A short human description (command line or URL, never credentials). */
  describe(): string;
  /** A fresh, unstarted MCP client transport; called again after every crash. */
  createTransport(ctx: TransportContext): Transport | Promise<Transport>;
  /** How the caller's identity travels: HTTP headers or `params._meta`; default `meta` (`http()` says `headers`). */
  identityVia?: "headers" | "meta";
  /** Names of the secrets this upstream uses: a change of one reconnects it (a stdio server restarts). */
  secretNames?(): string[];
  /**
   * Per-user credentials: each user's calls go over their own connection built with their own stored
   * credential (`PUT /v1/me/credentials/<server>`). `required`: a user without one is refused with a clear error.
   */
  perUser?: { required: boolean; idleSeconds?: number };
  /** Identity mappers for this server only, replacing the gateway's; `false` forwards nothing. */
  identity?: IdentityMapper[] | false;
  /** Per-request timeout in milliseconds (default 60000). */
  timeoutMs?: number;
  /** Connect timeout in milliseconds (default 15000). */
  connectTimeoutMs?: number;
  /** Reconnect backoff: first delay and cap, in milliseconds. */
  restart?: { initialDelayMs?: number; maxDelayMs?: number };
  /** Called once when the gateway closes. */
  close?(): void | Promise<void>;
}

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
}

/** Where tokens live and how long they may last. */
export interface TokenSettings {
  /** Default: `fileStore({ dir: PORTCULLIS_DATA_DIR or ./.portcullis })` under the CLI, `memoryStore()` otherwise. */
  store?: TokenStore;
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
  /** On a start with no admin at all, create one admin token and print it once; default true. */
  bootstrap?: boolean;
}

/** A small leveled logger; the gateway never passes secrets to it. */
export interface Logger {
  debug(message: string, fields?: Record<string, unknown>): void;
  info(message: string, fields?: Record<string, unknown>): void;
  warn(message: string, fields?: Record<string, unknown>): void;
  error(message: string, fields?: Record<string, unknown>): void;
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
  /** Audit sinks; every auth attempt, token operation and tool call goes to each. */
  audit?: AuditSink[];
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

/** The configuration after validation and defaults. */
export interface ResolvedConfig {
  server: Required<Omit<ServerSettings, "allowedOrigins" | "publicUrl">> & { allowedOrigins: string[]; publicUrl?: string };
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
