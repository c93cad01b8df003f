import type { Identity } from "../../../core/mod.ts";

/**
 * Where an identity field comes from in the token's claims: a claim name, a dot path (`realm_access.roles`),
 * a leading `*` followed by `/roles` for "any namespaced URL claim ending in `/roles`" (Auth0), or a list of those. For `roles` and
 * `scopes` every listed claim contributes; for the other fields the first present one wins.
 */
export type OidcClaimPath = string | string[];

/** How token claims become the gateway's identity fields. */
export interface OidcClaimMapping {
  subject?: OidcClaimPath;
  email?: OidcClaimPath;
  name?: OidcClaimPath;
  team?: OidcClaimPath;
  org?: OidcClaimPath;
  /**
   * The boolean claim saying the IdP verified the address in `email` (first present wins). Only `true`
   * counts: an address the user merely typed into their IdP profile is no proof they own its mailbox or domain.
   */
  emailVerified?: OidcClaimPath;
  /** Groups and roles: all become `Identity.roles`, so the gateway's `roles` config applies to them. */
  roles?: OidcClaimPath;
  /** Claims holding the IdP's scopes (space-separated string or array). */
  scopes?: OidcClaimPath;
}

/** The identity providers with a preset. */
export type OidcProvider = "okta" | "auth0" | "azure-ad" | "google" | "custom";

/** What a preset contributes: the issuer shape it expects and its claim mapping. */
export interface OidcPreset {
  /** The issuer shape this provider uses, checked at config time (loopback `http` issuers are exempt, for tests). */
  issuerPattern?: RegExp;
  /** Human description of `issuerPattern` for config errors. */
  issuerExpected?: string;
  /** The issuer to use when none is configured. */
  defaultIssuer?: string;
  /** Other spellings of the issuer the provider puts in `iss`. */
  issuerAliases?: string[];
  claims: Required<Omit<OidcClaimMapping, "team" | "org">> & Pick<OidcClaimMapping, "team" | "org">;
  /**
   * The claims `emailVerified` vouches for, when narrower than `claims.email` (Azure's flag is about
   * `email` only, not the `preferred_username`/`upn` fallbacks). Default: `claims.email`.
   */
  verifiedEmailClaims?: OidcClaimPath;
  /** Gateway scopes granted to every valid token (providers whose tokens carry no API scopes). */
  defaultScopes?: string[];
}

/**
 * The built-in presets. Okta custom authorization servers put scopes in `scp` and groups in `groups`;
 * Auth0 requires custom claims to be namespaced and puts RBAC permissions in `permissions`; Azure AD v2
 * tokens carry the tenant in `tid` and a per-app `sub`, so the stable `oid` is the subject; Google has no
 * API scopes for third-party resources, so its tokens get `mcp:read`/`mcp:write` unless configured otherwise.
 * Every preset names the claim that says the email is verified (`email_verified`; Azure's optional
 * `xms_edov`), because without it an address is whatever the account holder typed in.
 *
 * @example
 * const { claims } = OIDC_PRESETS["azure-ad"];
 */
export const OIDC_PRESETS: Record<OidcProvider, OidcPreset> = {
  okta: {
    issuerPattern: /^https:\/\/[^/]+\/oauth2\/[^/]+$/,
    issuerExpected: "an Okta custom authorization server issuer such as https://dev-123.okta.com/oauth2/default",
    // `sub` is the Okta login: address-shaped in many orgs, but the login is not a verified mailbox.
    claims: { subject: ["uid", "sub"], email: "email", emailVerified: "email_verified", name: "name", team: "team", roles: ["groups", "roles"], scopes: ["scp", "scope"] },
  },
  auth0: {
    issuerPattern: /^https:\/\/[^/]+\/$/,
    issuerExpected: "an Auth0 tenant issuer with its trailing slash, such as https://example.us.auth0.com/",
    claims: {
      subject: "sub",
      email: ["*/email", "email"],
      emailVerified: ["*/email_verified", "email_verified"],
      name: ["*/name", "name"],
      team: "*/team",
      org: ["org_id", "*/org"],
      roles: ["*/roles", "*/groups"],
      scopes: ["scope", "permissions"],
    },
  },
  "azure-ad": {
    issuerPattern: /^https:\/\/login\.microsoftonline\.com\/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\/v2\.0$/,
    issuerExpected: "an Azure AD v2 issuer such as https://login.microsoftonline.com/<tenant id>/v2.0",
    // Azure emits no `email_verified`; `email` is mutable and unverified (the "nOAuth" problem) unless the
    // optional `xms_edov` claim (email domain owner verified) says otherwise.
    claims: { subject: ["oid", "sub"], email: ["email", "preferred_username", "upn"], emailVerified: "xms_edov", name: "name", org: "tid", roles: ["roles", "groups"], scopes: "scp" },
    verifiedEmailClaims: "email",
  },
  google: {
    issuerPattern: /^https:\/\/accounts\.google\.com$/,
    issuerExpected: "https://accounts.google.com",
    defaultIssuer: "https://accounts.google.com",
    // Google documents both spellings in its ID tokens.
    issuerAliases: ["accounts.google.com"],
    claims: { subject: "sub", email: "email", emailVerified: "email_verified", name: "name", org: "hd", roles: "groups", scopes: "scope" },
    defaultScopes: ["mcp:read", "mcp:write"],
  },
  custom: {
    // Client-credentials tokens of some servers (and their introspection answers) carry only `client_id`.
    claims: { subject: ["sub", "client_id"], email: "email", emailVerified: "email_verified", name: "name", roles: ["roles", "groups"], scopes: ["scope", "scp"] },
  },
};

function lookup(claims: Record<string, unknown>, path: string): unknown {
  if (path.startsWith("*/")) {
    // Auth0 namespaced claims (`https://example.com/roles`): the namespace is the operator's choice.
    const suffix = path.slice(1);
    for (const [k, value] of Object.entries(claims)) if (k.endsWith(suffix) && /^https?:\/\//.test(k)) return value;
    return undefined;
  }
  if (Object.hasOwn(claims, path)) return claims[path];
  let value: unknown = claims;
  for (const part of path.split(".")) {
    if (typeof value !== "object" || value === null || Array.isArray(value) || !Object.hasOwn(value, part)) return undefined;
    value = (value as Record<string, unknown>)[part];
  }
  return value;
}

function paths(p: OidcClaimPath | undefined): string[] {
  return p === undefined ? [] : Array.isArray(p) ? p : [p];
}

/**
 * The first string value among the claim paths.
 *
 * @example
 * firstString({ email: "a@example.com" }, ["email", "upn"]); // "a@example.com"
 */
export function firstString(claims: Record<string, unknown>, path: OidcClaimPath | undefined): string | undefined {
  for (const p of paths(path)) {
    const value = lookup(claims, p);
    if (typeof value === "string" && value !== "") return value;
    if (typeof value === "number") return String(value);
  }
  return undefined;
}

/**
 * Every string value of every listed claim: arrays, and space-separated strings (the `scope` claim).
 *
 * @example
 * allStrings({ scope: "a b", permissions: ["c"] }, ["scope", "permissions"]); // ["a", "b", "c"]
 */
export function allStrings(claims: Record<string, unknown>, path: OidcClaimPath | undefined): string[] {
  const out = new Set<string>();
  for (const p of paths(path)) {
    const value = lookup(claims, p);
    const items = typeof value === "string" ? value.split(" ") : Array.isArray(value) ? value : [];
    for (const item of items) if (typeof item === "string" && item !== "") out.add(item);
  }
  return [...out];
}

/**
 * The account's email address if the IdP vouches for it: the first `emailVerified` claim present is
 * `true` and the address comes from a claim that flag is about (`verifiedEmailClaims`, default `email`).
 *
 * @example
 * verifiedEmail({ email: "a@example.com", email_verified: true }, OIDC_PRESETS.custom.claims); // "a@example.com"
 * verifiedEmail({ email: "a@example.com" }, OIDC_PRESETS.custom.claims); // undefined
 */
export function verifiedEmail(claims: Record<string, unknown>, mapping: OidcClaimMapping, verifiedEmailClaims?: OidcClaimPath): string | undefined {
  let flag: unknown;
  for (const p of paths(mapping.emailVerified)) {
    flag = lookup(claims, p);
    if (flag !== undefined) break;
  }
  // Strictly boolean `true`: `"false"` is truthy, and a string flag is not what any preset's IdP emits.
  if (flag !== true) return undefined;
  const email = firstString(claims, verifiedEmailClaims ?? mapping.email);
  return email !== undefined && email.includes("@") ? email : undefined;
}

/** What `mapIdentity` needs besides the claims. */
export interface IdentityMappingOptions {
  claims: OidcClaimMapping;
  /** Gateway scope -> the IdP scope names that grant it. */
  scopes: Record<string, string[]>;
  defaultScopes: string[];
  /** IdP group/role value -> gateway roles; values without an entry pass through unchanged. */
  roleMap?: Record<string, string[]>;
  strategy: string;
  /** The claims the `emailVerified` flag vouches for (see `OidcPreset.verifiedEmailClaims`). */
  verifiedEmailClaims?: OidcClaimPath;
  /** Report the `email` claim even when the IdP does not say it is verified (never used for the subject). */
  trustUnverifiedEmail?: boolean;
}

/**
 * Builds the gateway identity from verified token (or introspection) claims. Returns undefined when
 * the claims name no subject. `email` is set only from a verified address unless `trustUnverifiedEmail`;
 * the subject never comes from an unverified address.
 *
 * @example
 * mapIdentity({ sub: "u1", scp: ["mcp:read"] }, { claims: OIDC_PRESETS.okta.claims, scopes: { "mcp:read": ["mcp:read"] }, defaultScopes: [], strategy: "auth:oidc" });
 */
export function mapIdentity(claims: Record<string, unknown>, options: IdentityMappingOptions): Identity | undefined {
  const verified = verifiedEmail(claims, options.claims, options.verifiedEmailClaims);
  // The standard names count even when `claims.email` points elsewhere (`subject: "email", email: "mail"`).
  const emailPaths = new Set(["email", "*/email", ...paths(options.claims.email), ...paths(options.verifiedEmailClaims)]);
  let subject: string | undefined;
  for (const p of paths(options.claims.subject)) {
    const value = firstString(claims, p);
    if (value === undefined) continue;
    // A subject mapped from an email claim would let anyone who types `ceo@corp.com` into their IdP
    // profile become that user: such a candidate counts only when it is the verified address.
    if (emailPaths.has(p) && value.includes("@") && value !== verified) continue;
    subject = value;
    break;
  }
  if (subject === undefined) return undefined;
  const granted = new Set(allStrings(claims, options.claims.scopes));
  const scopes = new Set(options.defaultScopes);
  for (const [gatewayScope, idpScopes] of Object.entries(options.scopes)) {
    if (idpScopes.some((s) => granted.has(s))) scopes.add(gatewayScope);
  }
  const roles = new Set<string>();
  for (const value of allStrings(claims, options.claims.roles)) {
    for (const role of options.roleMap?.[value] ?? [value]) roles.add(role);
  }
  const identity: Identity = { subject, roles: [...roles], scopes: [...scopes], strategy: options.strategy };
  // Forwarded upstream as X-User-Email, where it is taken at face value: verified addresses only by default.
  const email = options.trustUnverifiedEmail ? firstString(claims, options.claims.email) : verified;
  // A custom mapping may point at a login name: never report a non-address as an email.
  if (email !== undefined && email.includes("@")) identity.email = email;
  const name = firstString(claims, options.claims.name);
  if (name !== undefined) identity.name = name;
  const team = firstString(claims, options.claims.team);
  if (team !== undefined) identity.team = team;
  const org = firstString(claims, options.claims.org);
  if (org !== undefined) identity.org = org;
  const kept: Record<string, unknown> = {};
  for (const k of ["iss", "client_id", "azp", "cid", "tid", "hd"]) if (typeof claims[k] === "string") kept[k] = claims[k];
  identity.claims = kept;
  return identity;
}
