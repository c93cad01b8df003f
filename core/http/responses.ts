import { GatewayError, type GatewayErrorCode, isGatewayError } from "../errors.ts";

/**
 * A JSON response.
 *
 * @example
 * return json({ ok: true }, 200);
 */
export function json(body: unknown, status = 200, headers?: HeadersInit): Response {
  const h = new Headers(headers);
  h.set("content-type", "application/json");
  h.set("cache-control", "no-store");
  return new Response(JSON.stringify(body), { status, headers: h });
}

/**
 * The gateway's HTTP error body: `{ error: { code, message } }`.
 *
 * @example
 * return errorResponse("ERR_NOT_FOUND", "no such token", 404);
 */
export function errorResponse(code: GatewayErrorCode, message: string, status: number, headers?: HeadersInit): Response {
  return json({ error: { code, message } }, status, headers);
}

/** JSON-RPC error codes the gateway uses on `/mcp` before a request reaches the MCP layer. */
const RPC_CODE: Partial<Record<GatewayErrorCode, number>> = {
  ERR_PARSE: -32700,
  ERR_BAD_REQUEST: -32600,
  ERR_BODY_TOO_LARGE: -32600,
  ERR_UNSUPPORTED_MEDIA_TYPE: -32600,
  ERR_METHOD_NOT_ALLOWED: -32600,
  ERR_SESSION_NOT_FOUND: -32001,
};

/**
 * An HTTP-level error on `/mcp`, shaped as a JSON-RPC error so MCP clients can show it; the gateway
 * code travels in `error.data.code`.
 *
 * @example
 * return rpcErrorResponse("ERR_PARSE", "Parse error: Unexpected token", 400);
 */
export function rpcErrorResponse(code: GatewayErrorCode, message: string, status: number, headers?: HeadersInit): Response {
  return json(
    { jsonrpc: "2.0", id: null, error: { code: RPC_CODE[code] ?? -32000, message, data: { code } } },
    status,
    headers,
  );
}

// RFC 6749 §5.2 / RFC 6750 §3.1 names for gateway codes, when the thrower did not name one itself.
const OAUTH_CODE: Partial<Record<GatewayErrorCode, string>> = {
  ERR_BAD_REQUEST: "invalid_request",
  ERR_PARSE: "invalid_request",
  ERR_BODY_TOO_LARGE: "invalid_request",
  ERR_UNSUPPORTED_MEDIA_TYPE: "invalid_request",
  ERR_INVALID_CREDENTIAL: "invalid_token",
  ERR_TOKEN_EXPIRED: "invalid_token",
  ERR_TOKEN_REVOKED: "invalid_token",
  ERR_AUTH_REQUIRED: "invalid_request",
  ERR_FORBIDDEN: "access_denied",
  ERR_INSUFFICIENT_SCOPE: "insufficient_scope",
  ERR_OVERLOADED: "temporarily_unavailable",
};

/**
 * An OAuth error response (RFC 6749 §5.2): `{ error, error_description }`, never cached.
 *
 * @example
 * return oauthErrorResponse("invalid_grant", "the code was already used", 400);
 */
export function oauthErrorResponse(error: string, description: string, status: number, headers?: HeadersInit): Response {
  const h = new Headers(headers);
  h.set("pragma", "no-cache");
  return json({ error, error_description: description }, status, h);
}

/** How a route answers errors: JSON API errors, OAuth errors, or JSON-RPC errors. */
export type ErrorShape = "json" | "oauth" | "rpc";

/**
 * Turns any thrown value into a response of the route's shape; unknown errors become a 500 with nothing
 * internal in it, after `onUnknown` has seen them. The one place errors become responses.
 *
 * @example
 * catch (err) { return toErrorResponse(err, "json", log); }
 */
export function toErrorResponse(err: unknown, shape: ErrorShape, onUnknown: (err: unknown) => void): Response {
  if (!isGatewayError(err)) {
    onUnknown(err);
    err = new GatewayError("ERR_INTERNAL", "internal error");
  }
  const e = err as GatewayError;
  if (shape === "oauth") return oauthErrorResponse(e.oauth ?? OAUTH_CODE[e.code] ?? (e.status >= 500 ? "server_error" : "invalid_request"), e.message, e.status, e.headers);
  return (shape === "rpc" ? rpcErrorResponse : errorResponse)(e.code, e.message, e.status, e.headers);
}
