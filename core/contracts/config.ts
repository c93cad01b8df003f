// The configuration and the running gateway. Type-only: imports no implementation.
import type { AuditSink } from "./audit.ts";
import type { AuthStrategy } from "./auth.ts";
import type { Identity, Permissions, RequestInfo } from "./identity.ts";
import type { IdentityMapper } from "./identity-mapper.ts";
import type { Logger } from "./logger.ts";
import type { AuthorizeHook } from "./policy.ts";
import type { SecretSource } from "./secrets.ts";
import type { KeyValueStore, TokenKind, TokenStore } from "./store.ts";
import type { SigningKeys, TokenService } from "./tokens.ts";
import type { Upstream } from "./upstream.ts";
import type { TracerProvider } from "@opentelemetry/api";

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
  /**
   * Reverse proxies (addresses or CIDRs) whose `X-Forwarded-For` names the client: requests from them are
   * counted, locked out, audited and rate-limited by the client's address instead of the proxy's. From
   * any other address the header is ignored. Default none.
   *
   * @example
   * trustedProxies: ["10.0.0.0/8", "::1"]
   */
  trustedProxies?: string[];
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
  /**
   * Longest lifetime per token kind (`kind` in the create body); a longer `expiresIn` is refused, and a
   * create without one gets at most this. Defaults follow the usual guidance: development `30d`,
   * production `7d`, ci `24h`. Tokens without a kind fall under `maxExpiresIn` only.
   *
   * @example
   * maxLifetime: { production: "3d", ci: "8h" }
   */
  maxLifetime?: Partial<Record<TokenKind, string>>;
  /**
   * How long after its creation a token of a kind is due for rotation; no default. A due token's
   * responses carry `Portcullis-Token-Rotate-By`, one audit event says it became due, and access reviews list it.
   *
   * @example
   * rotateEvery: { development: "14d", production: "2d" }
   */
  rotateEvery?: Partial<Record<TokenKind, string>>;
}

/** Lifetime and rotation policy per token kind, in seconds (`tokens.maxLifetime`, `tokens.rotateEvery`). */
export interface TokenPolicy {
  maxLifetimeSeconds: Record<TokenKind, number>;
  rotateEverySeconds: Partial<Record<TokenKind, number>>;
}

/** The gateway's own signing keys (identity assertions, OAuth access tokens). */
export interface KeySettings {
  /** Make a new signing key current this often (`30d`); default never (a new key at each start, or once for a shared store). */
  rotateEvery?: string;
  /** How long a replaced key still verifies and stays in the JWKS (`1d`): at least the longest lifetime of a signed token; default `1d`. */
  retain?: string;
  /**
   * The master key that encrypts the private keys in a store shared by several processes; default the
   * vault's, else `$PORTCULLIS_MASTER_KEY`. `${VAR}` is replaced from the environment.
   */
  masterKey?: string;
}

/** The console web page (`/console`). */
export interface ConsoleSettings {
  /** Serve `/console`; default true. */
  enabled?: boolean;
  /** A console session unused this long ends (`30m`); default `30m`. */
  idleTimeout?: string;
  /** A console session ends this long after sign-in whatever happens (`12h`); default `12h`. */
  absoluteTimeout?: string;
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

/** `GET /metrics` (Prometheus text format). */
export interface MetricsSettings {
  /** Serve `/metrics`; default true. Scrapes need the `metrics` or `admin` scope unless `allowFrom` lets them in. */
  enabled?: boolean;
  /**
   * Addresses or CIDR ranges (`10.0.0.0/8`, `2001:db8::/32`, `127.0.0.1`) that may scrape without a
   * credential; default none. The address is the connection's peer, never a forwarded header.
   *
   * @example
   * metrics: { allowFrom: ["10.0.0.0/8"] }
   */
  allowFrom?: string[];
}

/** OpenTelemetry traces: a span per MCP request, its upstream call as a child, W3C `traceparent` passed on. */
export interface TracingSettings {
  /**
   * Export spans over OTLP/HTTP (JSON) to this collector URL (`http://collector:4318/v1/traces`), with
   * these headers (`${VAR}` is replaced from the environment).
   *
   * @example
   * tracing: { otlp: { url: "http://127.0.0.1:4318/v1/traces", headers: { authorization: "Bearer ${OTEL_TOKEN}" } } }
   */
  otlp?: { url: string; headers?: Record<string, string> };
  /** `service.name` of the spans; default `portcullis`. */
  serviceName?: string;
  /** Spans go to this TracerProvider of your own (an embedding application's SDK) instead of `otlp`. */
  provider?: TracerProvider;
}

/**
 * The failed-authentication defence: failures are counted per client address and per presented
 * credential; past `slowAfter` in `within` each failure is answered `delayMs` late, past `lockAfter` the
 * address (or credential) is refused with 429 and `Retry-After` for `lockFor`, and the lockout is audited.
 * An address counts the distinct credentials that failed from it (a client retrying one stale token
 * locks out that token, not its address); failures without a credential in a header count each time.
 */
export interface FailedAuthSettings {
  /** Window failures are counted over; default `1m`. */
  within?: string;
  /** Failures in the window after which answers to failures are slowed; default 10. */
  slowAfter?: number;
  /** Delay added to each failure answer while slowed, ms; default 250. */
  delayMs?: number;
  /** Failures in the window after which further requests are refused with 429; default 20. */
  lockAfter?: number;
  /** How long a locked address or credential is refused; default `5m`. */
  lockFor?: string;
}

/**
 * Brute-force defence and rate limits. Rates are written `<count>/<window>`: `100/m`, `1000/h`, `20/10s`.
 * Rate limits count tool calls (`tools/call`), answered over budget with 429, `Retry-After` and a JSON-RPC
 * error whose `data.code` is `ERR_RATE_LIMITED`.
 *
 * @example
 * limits: { failedAuth: { lockAfter: 20 }, token: "100/m", user: "600/m", server: { github: "60/m", "*": "1000/m" } }
 */
export interface LimitSettings {
  /** On by default (see {@link FailedAuthSettings}); `false` turns it off. */
  failedAuth?: FailedAuthSettings | false;
  /** Tool calls of each token or API key; a token's own `rateLimit` (create body) wins. No default. */
  token?: string;
  /** Tool calls of each user, all their credentials together. No default. */
  user?: string;
  /** Tool calls each server receives from every caller together: one rate for all, or by server name (`*`: the rest). */
  server?: string | Record<string, string>;
}

/** What an alert rule watches. */
export type AlertTrigger =
  | "auth.failed"
  | "token.used_from_new_address"
  | "admin.action"
  | "lockout"
  | "rate_limit"
  | "oauth.replay"
  | "tool_call.denied";

/**
 * One alert rule. Without `count` it fires on every matching event; with `count` it fires once when the
 * `count`-th matching event of one `by` key arrives within `within`, and not again in that window. A
 * firing is an `alert` audit event, which every audit sink receives (a `webhookAudit` with
 * `filter: ["alert"]` notifies nothing else).
 *
 * @example
 * alerts: [{ when: "auth.failed", count: 10, within: "5m", by: "address" }, { when: "token.used_from_new_address" }]
 */
export interface AlertRule {
  when: AlertTrigger;
  /** A name for the rule in alerts; default `when`. */
  name?: string;
  /** Matching events needed to fire; default 1 (every event). */
  count?: number;
  /** Window `count` is counted over; default `5m`. */
  within?: string;
  /** What events are grouped by when counting; default `address`. */
  by?: "address" | "user" | "token";
  /** Shown in the alert (and the Slack message); default `warning`. */
  severity?: "info" | "warning" | "critical";
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
  /** The console web page at `/console` (sign-in, tokens, credentials, sessions; admin views). */
  console?: ConsoleSettings;
  /** Signing keys: scheduled rotation, and the master key that seals them in a shared store. */
  keys?: KeySettings;
  /** `GET /metrics` in the Prometheus text format; `false` turns it off. */
  metrics?: MetricsSettings | false;
  /** OpenTelemetry traces; left out, nothing is traced and no tracing SDK is loaded. */
  tracing?: TracingSettings;
  /**
   * Brute-force defence (on by default) and rate limits (none by default); `false` turns all of it off.
   * See {@link LimitSettings}.
   */
  limits?: LimitSettings | false;
  /** Alert rules evaluated on the audit trail; each firing is an `alert` audit event. See {@link AlertRule}. */
  alerts?: AlertRule[];
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
  server: Required<Omit<ServerSettings, "allowedOrigins" | "publicUrl" | "tls" | "trustedProxies">> & { allowedOrigins: string[]; publicUrl?: string; tls?: ResolvedTls; trustedProxies: string[] };
  auth: AuthStrategy[];
  servers: Record<string, Upstream>;
  logger: Logger;
  tokens: { store: TokenStore; defaultLifetimeSeconds: number; maxLifetimeSeconds: number; verifyCacheMs: number; policy: TokenPolicy };
  roles?: Record<string, Permissions>;
  authorize?: AuthorizeHook;
  audit: AuditSink[];
  identity: IdentityMapper[];
  secrets: SecretSource[];
  admin: { token?: string; bootstrap: boolean };
  /** `console` with defaults. */
  console: { enabled: boolean; idleTimeoutSeconds: number; absoluteTimeoutSeconds: number };
  /** `limits` after defaults; undefined with `limits: false`. */
  limits?: ResolvedLimits;
  /** `alerts` after defaults; absent means none. */
  alerts?: ResolvedAlertRule[];
  /** `metrics` with defaults (`allowFrom` validated); absent in configurations resolved before it existed. */
  metrics?: { enabled: boolean; allowFrom: string[] };
  /** `tracing` when configured. */
  tracing?: { otlp?: { url: string; headers: Record<string, string> }; serviceName: string; provider?: TracerProvider };
  /** `keys` in seconds; absent in configurations resolved before it existed. */
  keys?: { rotateEverySeconds?: number; retainSeconds: number; masterKey?: string };
}

/** A rate after parsing: `limit` events per `windowMs`. */
export interface ResolvedRate {
  limit: number;
  windowMs: number;
  text: string;
}

/** `limits` after validation and defaults: `failedAuth` undefined when off. */
export interface ResolvedLimits {
  failedAuth?: { windowMs: number; slowAfter: number; delayMs: number; lockAfter: number; lockMs: number };
  token?: ResolvedRate;
  user?: ResolvedRate;
  servers: Record<string, ResolvedRate>;
  server?: ResolvedRate;
}

/** An alert rule after defaults. */
export interface ResolvedAlertRule {
  name: string;
  when: AlertTrigger;
  /** 0: every matching event fires. */
  count: number;
  withinMs: number;
  by: "address" | "user" | "token";
  severity: "info" | "warning" | "critical";
}
