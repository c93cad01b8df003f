// The contract of an auth strategy plugin and of routes. Type-only: imports no implementation.
import type { Identity, RequestInfo } from "./identity.ts";
import type { PluginContext } from "./plugin-context.ts";

/** The decision of one auth strategy about one request. `undefined` means "not my credential". */
export type AuthOutcome =
  | { identity: Identity }
  | { error: { code: "ERR_AUTH_REQUIRED" | "ERR_INVALID_CREDENTIAL" | "ERR_TOKEN_EXPIRED" | "ERR_TOKEN_REVOKED" | "ERR_FORBIDDEN"; reason: string; tokenId?: string } }
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
  /**
   * Headers a hop in front of the gateway sets for this strategy (a TLS-terminating proxy's
   * `X-Forwarded-Client-Cert`): the gateway removes them from every request before anything reads it
   * and hands their values to the strategies only, in `ctx.info.proxyHeaders`. The strategy decides
   * whether the peer was allowed to set them.
   */
  headerNames?(): string[];
  /**
   * Whether the directory behind this strategy still knows `subject` (an access review asks it about the
   * user of every token): `true` or `false` when it can tell, `undefined` when it cannot (a subject of
   * another issuer, a directory it cannot query). Implement it only where the answer is real; a strategy
   * without it makes "users the IdP no longer knows" undeterminable, and the review says so.
   */
  knowsUser?(subject: string): boolean | undefined | Promise<boolean | undefined>;
  routes?: Route[];
  /** Receives the gateway's services (token service, audit, logger) once, before the first request. */
  setup?(ctx: PluginContext): void | Promise<void>;
  close?(): void | Promise<void>;
}
