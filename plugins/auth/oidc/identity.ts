import type { AuthOutcome } from "../../../core/mod.ts";
import type { ResolvedOidcOptions } from "./options.ts";
import { mapIdentity, verifiedEmail } from "./presets.ts";

/** The strategy name, on the plugin and on every identity it returns. */
export const STRATEGY = "auth:oidc";

/** A refused token: the outcome a strategy returns, never a thrown error. */
export type Refusal = { error: { code: "ERR_INVALID_CREDENTIAL" | "ERR_TOKEN_EXPIRED" | "ERR_FORBIDDEN"; reason: string } };

/**
 * A refusal whose reason names the failed check, never the token.
 *
 * @example
 * refuse("token too large"); // { error: { code: "ERR_INVALID_CREDENTIAL", reason: "token too large" } }
 */
export function refuse(reason: string, code: Refusal["error"]["code"] = "ERR_INVALID_CREDENTIAL"): Refusal {
  return { error: { code, reason } };
}

/**
 * The checks a JWT and an introspection answer share once the IdP vouched for them (tenant, required
 * scopes, allowed domains), then the identity their claims map to.
 *
 * @example
 * identityFrom({ sub: "u1", scope: "mcp:read", exp: 1900000000 }, options); // { identity: { subject: "u1", ... } }
 */
export function identityFrom(payload: Record<string, unknown>, options: ResolvedOidcOptions): AuthOutcome {
  if (options.tenant && payload.tid !== options.tenant) return refuse("token tenant is not the configured tenant");
  const { claims, verifiedEmailClaims } = options;
  const identity = mapIdentity(payload, {
    claims,
    scopes: options.scopeMap,
    defaultScopes: options.defaultScopes,
    roleMap: options.roleMap,
    strategy: STRATEGY,
    verifiedEmailClaims,
    trustUnverifiedEmail: options.trustUnverifiedEmail,
  });
  if (!identity) return refuse("token names no subject");
  // The IdP vouches for this subject: `bob` here is never the gateway's own user `bob`.
  identity.issuer = `oidc:${options.issuer}`;
  if (typeof payload.exp === "number") identity.expiresAt = payload.exp * 1000;
  if (options.requiredScopes.length > 0) {
    const granted = new Set([...(typeof payload.scope === "string" ? payload.scope.split(" ") : []), ...(Array.isArray(payload.scp) ? payload.scp : typeof payload.scp === "string" ? payload.scp.split(" ") : [])]);
    const missing = options.requiredScopes.filter((s) => !granted.has(s));
    if (missing.length > 0) return refuse(`token lacks the required scope ${missing.join(" ")}`, "ERR_FORBIDDEN");
  }
  if (options.allowedDomains) {
    // Only a domain the IdP vouches for: an unverified `x@corp.com` is just text its holder typed in.
    const domain = options.provider === "google"
      ? (typeof payload.hd === "string" ? payload.hd : undefined)
      : verifiedEmail(payload, claims, verifiedEmailClaims)?.split("@").pop();
    if (domain === undefined || !options.allowedDomains.includes(domain.toLowerCase())) return refuse("the account's domain is not allowed", "ERR_FORBIDDEN");
  }
  return { identity };
}
