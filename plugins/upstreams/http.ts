import { StreamableHTTPClientTransport, type Transport } from "@modelcontextprotocol/client";
import { configError, GatewayError, interpolate, parseSecretTemplate, renderSecretTemplate, type IdentityMapper, type SecretTemplate, type SecretValue, type TransportContext, type Upstream } from "../../core/mod.ts";
import { type CallerOptions, callerOptionsOf, identityOf, type PerUserBase, perUserOf } from "./per-user.ts";

/** Options of the Streamable HTTP upstream. */
export interface HttpOptions extends CallerOptions {
  /** The server's MCP endpoint, e.g. `https://mcp.example.com/mcp`. `${VAR}` is interpolated. */
  url: string;
  /**
   * Headers sent on every request (credentials of the server). `${VAR}` is interpolated at config time;
   * `secret("NAME")` and `${secret:NAME}` are resolved from the secret sources for each new connection.
   */
  headers?: Record<string, SecretValue>;
  /** Per-request timeout in milliseconds; default 60000. */
  timeoutMs?: number;
  /** Connect timeout in milliseconds; default 15000. */
  connectTimeoutMs?: number;
  /** Reconnect backoff after a failure; defaults 250 ms doubling up to 30 s. */
  restart?: { initialDelayMs?: number; maxDelayMs?: number };
  /**
   * Per-user credentials: each user's requests carry their own stored credential
   * (`PUT /v1/me/credentials/<server>`) in `header` (default `Authorization`), written as `format`
   * (default `Bearer {credential}`), replacing a configured header of the same name.
   */
  userCredential?: PerUserBase & { header?: string; format?: string };
  /** Identity mappers for this server only (replacing the gateway's); `false` forwards no identity. */
  identity?: IdentityMapper[] | false;
}

const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
// A value with CR, LF or NUL could end the header and start another one.
const UNSAFE = /[\r\n\u0000]/;

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
  if (options.headers !== undefined && (typeof options.headers !== "object" || options.headers === null)) throw configError("http.headers", "expected an object of strings");
  const headers: Record<string, SecretTemplate> = {};
  for (const [k, v] of Object.entries(options.headers ?? {})) {
    if (!TOKEN.test(k)) throw configError(`http.headers.${k}`, "expected a valid header name");
    headers[k] = parseSecretTemplate(v, `http.headers.${k}`);
  }
  const secretNames = [...new Set(Object.values(headers).flatMap((t) => t.names))];
  const perUser = perUserOf(options.userCredential, "http.userCredential");
  const credentialHeader = options.userCredential?.header ?? "Authorization";
  const credentialFormat = options.userCredential?.format ?? "Bearer {credential}";
  if (perUser) {
    if (typeof credentialHeader !== "string" || !TOKEN.test(credentialHeader)) throw configError("http.userCredential.header", "expected a header name such as Authorization", JSON.stringify(credentialHeader));
    if (typeof credentialFormat !== "string" || !credentialFormat.includes("{credential}") || UNSAFE.test(credentialFormat)) {
      throw configError("http.userCredential.format", 'expected a string containing {credential}, such as "Bearer {credential}"', JSON.stringify(credentialFormat));
    }
  }
  const identity = identityOf(options.identity, "http.identity");
  // Shown in logs and /healthz: never the query string or user info, which may carry credentials.
  const shown = `${url.origin}${url.pathname}`;
  return {
    name: "upstream:http",
    identityVia: "headers",
    describe: () => shown,
    timeoutMs: options.timeoutMs,
    connectTimeoutMs: options.connectTimeoutMs,
    restart: options.restart,
    ...(perUser ? { perUser } : {}),
    ...(identity === undefined ? {} : { identity }),
    ...callerOptionsOf(options, "http"),
    secretNames: () => secretNames,
    async createTransport(ctx: TransportContext): Promise<Transport> {
      const resolved: Record<string, string> = {};
      for (const [k, t] of Object.entries(headers)) {
        const value = await renderSecretTemplate(t, (name) => ctx.secret(name));
        if (UNSAFE.test(value)) throw new GatewayError("ERR_CONFIG", `header ${k}: a secret's value contains CR, LF or NUL (secrets ${t.names.join(", ")})`);
        resolved[k] = value;
      }
      if (perUser && ctx?.user) {
        const credential = ctx.user.credential;
        if (UNSAFE.test(credential)) throw new GatewayError("ERR_BAD_REQUEST", `the stored credential for ${credentialHeader} contains CR, LF or NUL; store it again`);
        for (const k of Object.keys(resolved)) if (k.toLowerCase() === credentialHeader.toLowerCase()) delete resolved[k];
        resolved[credentialHeader] = credentialFormat.split("{credential}").join(credential);
      }
      return new StreamableHTTPClientTransport(url, { requestInit: { headers: resolved } });
    },
  };
}
