import { type GatewayErrorCode, isGatewayError } from "../errors.ts";

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

/**
 * Turns any thrown value into a response; unknown errors become a 500 with nothing internal in it.
 *
 * @example
 * catch (err) { return toErrorResponse(err, false, log); }
 */
export function toErrorResponse(err: unknown, rpc: boolean, onUnknown: (err: unknown) => void): Response {
  const make = rpc ? rpcErrorResponse : errorResponse;
  if (isGatewayError(err)) {
    return make(err.code, err.message, err.status, err.headers);
  }
  onUnknown(err);
  return make("ERR_INTERNAL", "internal error", 500);
}
