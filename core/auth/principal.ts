import type { Identity } from "../types.ts";

/**
 * The issuer-qualified subject of an identity, `<issuer>#<subject>`: the only form in which identities
 * are compared (session ownership, per-user credentials, OAuth sessions), so that an admin-made gateway
 * token for `bob` is never the identity provider's user `bob`.
 *
 * @example
 * principalOf({ subject: "bob", issuer: "gateway", roles: [], scopes: [], strategy: "auth:bearer" }); // "gateway#bob"
 */
export function principalOf(identity: Pick<Identity, "subject" | "issuer" | "strategy">): string {
  return `${identity.issuer ?? identity.strategy}#${identity.subject}`;
}

/**
 * The credential an identity was presented with (what an MCP session is bound to): the strategy's
 * `credentialId`, else the gateway token id, else the principal.
 *
 * @example
 * credentialOf(identity); // "tok_0123456789abcdef"
 */
export function credentialOf(identity: Identity): string {
  return `${identity.strategy}\u0000${identity.credentialId ?? identity.tokenId ?? principalOf(identity)}`;
}
