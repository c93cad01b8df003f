import { StreamableHTTPClientTransport, type Transport } from "@modelcontextprotocol/client";
import { configError } from "../../core/errors.ts";
import { interpolate } from "../../core/config/interpolate.ts";
import type { Upstream } from "../../core/types.ts";

/** Options of the Streamable HTTP upstream. */
export interface HttpOptions {
  /** The server's MCP endpoint, e.g. `https://mcp.example.com/mcp`. `${VAR}` is interpolated. */
  url: string;
  /** Headers sent on every request (credentials of the server); `${VAR}` is interpolated. */
  headers?: Record<string, string>;
  /** Per-request timeout in milliseconds; default 60000. */
  timeoutMs?: number;
  /** Connect timeout in milliseconds; default 15000. */
  connectTimeoutMs?: number;
  /** Reconnect backoff after a failure; defaults 250 ms doubling up to 30 s. */
  restart?: { initialDelayMs?: number; maxDelayMs?: number };
}

/**
 * An MCP server reached over Streamable HTTP. Its credentials stay in the gateway: clients never see
 * the configured headers.
 *
 * @example
 * http({ url: "https://mcp.example.com/mcp", headers: { Authorization: "Bearer ${EXAMPLE_TOKEN}" } })
 */
export function http(options: HttpOptions): Upstream {
  if (typeof options !== "object" || options === null) throw configError("http", "expected options { url, headers? }");
  if (typeof options.url !== "string") throw configError("http.url", "expected an http(s) URL", JSON.stringify(options.url));
  let url: URL;
  try {
    url = new URL(interpolate(options.url, "http.url"));
  } catch (err) {
    if (err instanceof Error && err.name === "GatewayError") throw err;
    throw configError("http.url", "expected an http(s) URL", JSON.stringify(options.url));
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") throw configError("http.url", "expected an http(s) URL", JSON.stringify(options.url));
  const headers: Record<string, string> = {};
  for (const [k, v] of Object.entries(options.headers ?? {})) {
    if (typeof v !== "string") throw configError(`http.headers.${k}`, "expected a string", typeof v);
    headers[k] = interpolate(v, `http.headers.${k}`);
  }
  // Shown in logs and /healthz: never the query string or user info, which may carry credentials.
  const shown = `${url.origin}${url.pathname}`;
  return {
    name: "upstream:http",
    describe: () => shown,
    timeoutMs: options.timeoutMs,
    connectTimeoutMs: options.connectTimeoutMs,
    restart: options.restart,
    createTransport(): Transport {
      return new StreamableHTTPClientTransport(url, { requestInit: { headers } });
    },
  };
}
