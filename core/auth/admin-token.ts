import { readBearer } from "../http/bearer.ts";
import { constantTimeEqual, hashSecretSync } from "../tokens/secret.ts";
import type { AuthStrategy, Identity } from "../types.ts";

/** The strategy name of the configured static admin token (`admin.token`, `PORTCULLIS_ADMIN_TOKEN`). */
export const ADMIN_TOKEN_STRATEGY = "admin-token";

/**
 * The configured static admin token as an ordinary strategy: it recognises exactly that bearer token
 * (compared by hash, in constant time) and leaves every other credential to the next strategy. The
 * gateway puts it in front of the configured strategies on admin and user routes, never on `/mcp`.
 *
 * @example
 * const strategies = [adminTokenStrategy(process.env.PORTCULLIS_ADMIN_TOKEN!), ...config.auth];
 */
export function adminTokenStrategy(token: string): AuthStrategy {
  const hash = hashSecretSync(token);
  const identity: Identity = { subject: "admin-token", issuer: "gateway", roles: [], scopes: ["admin"], strategy: ADMIN_TOKEN_STRATEGY };
  return {
    name: ADMIN_TOKEN_STRATEGY,
    authenticate(request) {
      const presented = readBearer(request);
      if (presented === undefined || !constantTimeEqual(hashSecretSync(presented), hash)) return undefined;
      return { identity: { ...identity, roles: [], scopes: ["admin"] } };
    },
  };
}
