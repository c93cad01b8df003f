import { readBearer } from "../http/bearer.ts";
import { constantTimeEqual, hashSecretSync, TOKEN_PREFIX } from "../tokens/secret.ts";
import { identityOf } from "../tokens/service.ts";
import type { AuthStrategy, Identity, TokenService } from "../types.ts";

/** The strategy name of the configured static admin token (`admin.token`, `PORTCULLIS_ADMIN_TOKEN`). */
export const ADMIN_TOKEN_STRATEGY = "admin-token";

/** The strategy name of gateway bearer tokens with the admin scope taken by the admin API on its own. */
export const ADMIN_BEARER_STRATEGY = "admin-bearer";

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

/**
 * Gateway bearer tokens (`Authorization: Bearer pt_...`) carrying the `admin` scope, such as the one the
 * gateway prints at its first start, whatever strategies authenticate `/mcp` (an API-key or OAuth
 * config has no `bearer()`): the admin API must always take its own admin credentials. The gateway puts
 * it after the configured strategies on admin and user routes only, so where `bearer()` is configured
 * that decides as before, and a token is never made valid on `/mcp` by it. A `pt_` token without the
 * admin scope is refused: no configured strategy takes it.
 *
 * @example
 * const other = [adminTokenStrategy(token), ...config.auth, adminBearerStrategy(tokens)];
 */
export function adminBearerStrategy(tokens: TokenService): AuthStrategy {
  return scopedBearerStrategy(tokens, ADMIN_BEARER_STRATEGY, ["admin"], {
    code: "ERR_INVALID_CREDENTIAL",
    reason: "this gateway's auth does not take bearer tokens; only tokens with the admin scope are taken, on the admin API",
  });
}

/**
 * Gateway bearer tokens (`pt_...`) carrying one of `scopes`, whatever strategies authenticate `/mcp`: the
 * shape of the admin API's and `/metrics`' own way in. Another `pt_` token gets `refusal`; anything else is
 * left to other strategies.
 *
 * @example
 * const scrape = scopedBearerStrategy(tokens, "metrics-bearer", ["metrics", "admin"], { code: "ERR_FORBIDDEN", reason: "needs the metrics scope" });
 */
export function scopedBearerStrategy(tokens: TokenService, name: string, scopes: readonly string[], refusal: { code: "ERR_INVALID_CREDENTIAL" | "ERR_FORBIDDEN"; reason: string }): AuthStrategy {
  return {
    name,
    async authenticate(request) {
      const presented = readBearer(request);
      if (presented === undefined || !presented.startsWith(TOKEN_PREFIX)) return undefined;
      const result = await tokens.verify(presented, "token");
      if (!result.ok) return { error: { code: result.code, reason: result.reason, tokenId: result.tokenId } };
      if (!result.record.scopes.some((s) => scopes.includes(s))) return { error: { ...refusal, tokenId: result.record.id } };
      return { identity: identityOf(result.record, name) };
    },
  };
}
