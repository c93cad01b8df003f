import { configError } from "../../core/errors.ts";
import { TOKEN_PREFIX } from "../../core/tokens/secret.ts";
import { tokenStrategy } from "../../core/tokens/strategy.ts";
import type { AuthStrategy } from "../../core/types.ts";

/** Options of the bearer strategy. */
export interface BearerOptions {
  /** Realm in the `WWW-Authenticate` challenge; default "portcullis". */
  realm?: string;
}

/**
 * Gateway-issued bearer tokens: `Authorization: Bearer pt_...`. A bearer credential without the `pt_`
 * prefix is left to the next strategy (an OIDC access token, say).
 *
 * @example
 * defineGateway({ auth: [bearer()], servers: { ... } })
 */
export function bearer(options: BearerOptions = {}): AuthStrategy {
  const realm = options.realm ?? "portcullis";
  if (!/^[\x20-\x7e]*$/.test(realm) || realm.includes('"')) throw configError("bearer.realm", "expected printable ASCII without quotes");
  return tokenStrategy("auth:bearer", "token", (request) => {
    const header = request.headers.get("authorization");
    if (header === null) return null;
    const m = /^Bearer\s+(\S+)\s*$/i.exec(header);
    return m && m[1]!.startsWith(TOKEN_PREFIX) ? m[1]! : null;
  }, `Bearer realm="${realm}"`);
}
