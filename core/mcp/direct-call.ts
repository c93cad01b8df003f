import { isJsonContentType, ProtocolErrorCode, SUPPORTED_PROTOCOL_VERSIONS } from "@modelcontextprotocol/server";

/** A plain `tools/call` the gateway answers itself: its JSON-RPC id and params. */
export interface PlainToolCall {
  id: string | number;
  params: Record<string, unknown> & { name: string };
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);

/**
 * The `tools/call` in a POST to an open session when the gateway can answer it directly, as the router
 * it is: one well-formed JSON-RPC request whose caller accepts a JSON answer and names a known protocol
 * version (the same header checks the full path makes). Anything else (a batch, a notification, odd
 * headers, a malformed message) returns undefined and takes the full path, which answers it precisely.
 *
 * @example
 * const call = plainToolCall(request, body); // { id: 7, params: { name: "echo", arguments: {...} } }
 */
export function plainToolCall(request: Request, body: unknown): PlainToolCall | undefined {
  if (!isObject(body) || body.jsonrpc !== "2.0" || body.method !== "tools/call") return undefined;
  const { id, params } = body;
  if ((typeof id !== "string" && typeof id !== "number") || !isObject(params) || typeof params.name !== "string") return undefined;
  if (params.arguments !== undefined && !isObject(params.arguments)) return undefined;
  if (params._meta !== undefined && !isObject(params._meta)) return undefined;
  const accept = request.headers.get("accept");
  if (!accept?.includes("application/json") || !accept.includes("text/event-stream")) return undefined;
  if (!isJsonContentType(request.headers.get("content-type"))) return undefined;
  const version = request.headers.get("mcp-protocol-version");
  if (version !== null && !SUPPORTED_PROTOCOL_VERSIONS.includes(version)) return undefined;
  return { id, params: params as PlainToolCall["params"] };
}

/**
 * The JSON answer to a directly served call: its result, or the JSON-RPC error it failed with (a
 * ProtocolError keeps its code and data; anything else is an internal error with its message).
 */
export async function directAnswer(id: string | number, pending: Promise<Record<string, unknown>>, sessionId: string): Promise<Response> {
  let body: string;
  try {
    body = JSON.stringify({ jsonrpc: "2.0", id, result: await pending });
  } catch (err) {
    const e = err as { code?: unknown; message?: unknown; data?: unknown };
    const code = typeof e.code === "number" && Number.isSafeInteger(e.code) ? e.code : ProtocolErrorCode.InternalError;
    const message = typeof e.message === "string" && e.message !== "" ? e.message : "Internal error";
    body = JSON.stringify({ jsonrpc: "2.0", id, error: { code, message, ...(e.data === undefined ? {} : { data: e.data }) } });
  }
  return new Response(body, { status: 200, headers: { "content-type": "application/json", "mcp-session-id": sessionId } });
}
