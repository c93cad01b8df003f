import { configError, readBearer, tokenStrategy, type AuthStrategy } from "../../core/mod.ts";

/** Options of the API-key strategy. */
export interface ApiKeyOptions {
  /** Header carrying the key; default `X-API-Key`. */
  header?: string;
}

/**
 * Gateway-issued API keys (`pk_...`, created with `type: "api-key"`) in a header, `X-API-Key` by default.
 * A `pt_` bearer token in that header is refused saying where it goes; an API key sent as
 * `Authorization: Bearer` that no strategy accepts is answered "this is an API key; send it in the
 * X-API-Key header" (the configured name).
 *
 * @example
 * defineGateway({ auth: [apiKey({ header: "X-API-Key" })], servers: { ... } })
 */
export function apiKey(options: ApiKeyOptions = {}): AuthStrategy {
  const header = options.header ?? "X-API-Key";
  if (typeof header !== "string" || !/^[A-Za-z0-9-]+$/.test(header)) throw configError("apiKey.header", "expected a header name such as X-API-Key", JSON.stringify(header));
  if (/^(authorization|cookie|host|content-type|content-length)$/i.test(header)) throw configError("apiKey.header", "expected a header that carries nothing else", JSON.stringify(header));
  return tokenStrategy("auth:api-key", "api-key", (request) => request.headers.get(header)?.trim() || null, `ApiKey header="${header}"`, {
    place: `in the ${header} header`,
    elsewhere: readBearer,
  });
}
