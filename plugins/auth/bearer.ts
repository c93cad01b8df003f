import { configError, readBearer, TOKEN_PREFIX, tokenStrategy, type AuthStrategy } from "../../core/mod.ts";

/** Options of the bearer strategy. */
export interface BearerOptions {
  /** Realm in the `WWW-Authenticate` challenge; default "portcullis". */
  realm?: string;
}

/**
 * Gateway-issued bearer tokens: `Authorization: Bearer pt_...`. A bearer credential without the `pt_`
 * prefix is left to the next strategy (an OIDC access token, say). A `pt_` token sent in `X-API-Key`
 * that no strategy accepts is answered "this is a bearer token; send it as Authorization: Bearer".
 *
 * @example
 * defineGateway({ auth: [bearer()], servers: { ... } })
 */
export function bearer(options: BearerOptions = {}): AuthStrategy {
  const realm = options.realm ?? "portcullis";
  if (!/^[\x20-\x7e]*$/.test(realm) || realm.includes('"')) throw configError("bearer.realm", "expected printable ASCII without quotes");
  return tokenStrategy("auth:bearer", "token", (request) => {
    const token = readBearer(request);
    return token !== undefined && token.startsWith(TOKEN_PREFIX) ? token : null;
  }, `Bearer realm="${realm}"`, { place: "as Authorization: Bearer", elsewhere: (request) => request.headers.get("x-api-key") });
}
