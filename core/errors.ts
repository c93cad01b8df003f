/** Every error code the gateway produces; tests and clients match on these, never on message text. */
export type GatewayErrorCode =
  | "ERR_CONFIG"
  | "ERR_BAD_REQUEST"
  | "ERR_PARSE"
  | "ERR_BODY_TOO_LARGE"
  | "ERR_REQUEST_TIMEOUT"
  | "ERR_CLIENT_ABORTED"
  | "ERR_UNSUPPORTED_MEDIA_TYPE"
  | "ERR_METHOD_NOT_ALLOWED"
  | "ERR_NOT_FOUND"
  | "ERR_FORBIDDEN_ORIGIN"
  | "ERR_UNAUTHENTICATED"
  | "ERR_AUTH_REQUIRED"
  | "ERR_INVALID_CREDENTIAL"
  | "ERR_TOKEN_EXPIRED"
  | "ERR_TOKEN_REVOKED"
  | "ERR_FORBIDDEN"
  | "ERR_INSUFFICIENT_SCOPE"
  | "ERR_CONFLICT"
  | "ERR_SESSION_NOT_FOUND"
  | "ERR_UPSTREAM_UNAVAILABLE"
  | "ERR_UPSTREAM_TIMEOUT"
  | "ERR_UPSTREAM_FAILED"
  | "ERR_UNKNOWN_TOOL"
  | "ERR_OVERLOADED"
  | "ERR_TOO_MANY_ATTEMPTS"
  | "ERR_RATE_LIMITED"
  | "ERR_INTERNAL";

const STATUS: Record<GatewayErrorCode, number> = {
  ERR_CONFIG: 500,
  ERR_BAD_REQUEST: 400,
  ERR_PARSE: 400,
  ERR_BODY_TOO_LARGE: 413,
  ERR_REQUEST_TIMEOUT: 408,
  // Nobody reads this answer (the client is gone); a 4xx keeps it out of server-fault counts.
  ERR_CLIENT_ABORTED: 400,
  ERR_UNSUPPORTED_MEDIA_TYPE: 415,
  ERR_METHOD_NOT_ALLOWED: 405,
  ERR_NOT_FOUND: 404,
  ERR_FORBIDDEN_ORIGIN: 403,
  ERR_UNAUTHENTICATED: 401,
  ERR_AUTH_REQUIRED: 401,
  ERR_INVALID_CREDENTIAL: 401,
  ERR_TOKEN_EXPIRED: 401,
  ERR_TOKEN_REVOKED: 401,
  ERR_FORBIDDEN: 403,
  ERR_INSUFFICIENT_SCOPE: 403,
  ERR_CONFLICT: 409,
  ERR_SESSION_NOT_FOUND: 404,
  ERR_UPSTREAM_UNAVAILABLE: 502,
  ERR_UPSTREAM_TIMEOUT: 504,
  ERR_UPSTREAM_FAILED: 502,
  ERR_UNKNOWN_TOOL: 404,
  ERR_OVERLOADED: 503,
  // Too many failed authentications from one address or against one credential (limits.failedAuth).
  ERR_TOO_MANY_ATTEMPTS: 429,
  // A rate limit of the credential, the user or the server (limits, a token's rateLimit).
  ERR_RATE_LIMITED: 429,
  ERR_INTERNAL: 500,
};

/**
 * The one error class of the gateway: a string `code`, the HTTP `status` it maps to, and an optional `cause`.
 *
 * @example
 * throw new GatewayError("ERR_TOKEN_EXPIRED", "token expired");
 */
export class GatewayError extends Error {
  readonly code: GatewayErrorCode;
  readonly status: number;
  /** Response headers that belong with this error (a `WWW-Authenticate` challenge, `Allow`). */
  readonly headers?: Record<string, string>;
  /**
   * The RFC 6749 error code (`invalid_grant`, `invalid_client` ...) when the error is answered as an OAuth
   * error (routes with `errors: "oauth"`); without it one is derived from `code`.
   */
  readonly oauth?: string;

  constructor(code: GatewayErrorCode, message: string, options?: { cause?: unknown; status?: number; headers?: Record<string, string>; oauth?: string }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = "GatewayError";
    this.code = code;
    this.status = options?.status ?? STATUS[code];
    if (options?.headers) this.headers = options.headers;
    if (options?.oauth) this.oauth = options.oauth;
  }
}

/**
 * True when `value` is a GatewayError (also across duplicated module copies).
 *
 * @example
 * if (isGatewayError(e) && e.code === "ERR_CONFIG") process.exit(2);
 */
export function isGatewayError(value: unknown): value is GatewayError {
  return value instanceof GatewayError ||
    (value instanceof Error && value.name === "GatewayError" && typeof (value as GatewayError).code === "string");
}

/**
 * A configuration error naming the config path and what was expected.
 *
 * @example
 * throw configError("server.port", "expected an integer between 0 and 65535", "\"80a\"");
 */
export function configError(path: string, expected: string, received?: string): GatewayError {
  const where = path === "" ? "config" : path;
  return new GatewayError("ERR_CONFIG", `${where}: ${expected}${received === undefined ? "" : `, received ${received}`}`);
}
