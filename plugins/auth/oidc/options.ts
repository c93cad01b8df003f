import * as oauth from "oauth4webapi";
import * as v from "valibot";
import { configError, interpolateDeep, pathOf, type GatewayError } from "../../../core/mod.ts";
import { OIDC_PRESETS, type OidcClaimMapping, type OidcClaimPath, type OidcProvider } from "./presets.ts";

/** Options of the OIDC resource-server strategy. */
export interface OidcOptions {
  /** The IdP's issuer identifier (`https://dev-123.okta.com/oauth2/default`). `http` only on loopback (tests). */
  issuer?: string;
  /** The `aud` the IdP puts in access tokens meant for the gateway (API identifier, client id, `api://...`). */
  audience: string | string[];
  /** Issuer check and claim mapping preset; default `custom`. */
  provider?: OidcProvider;
  /** Per-field claim paths, overriding the preset's. */
  claims?: OidcClaimMapping;
  /** Allowed clock difference for `exp` and `nbf`, in seconds; default 30, at most 300. */
  clockSkewSeconds?: number;
  /** Accepted signature algorithms (asymmetric only); default RS*, PS*, ES*, EdDSA. */
  algorithms?: string[];
  /** Gateway scope -> the IdP scope name(s) that grant it. Default: `mcp:read`, `mcp:write`, `admin` pass through by name. */
  scopes?: Record<string, string | string[]>;
  /** Gateway scopes every valid token gets, whatever it carries (default: none; `google`: `mcp:read mcp:write`). */
  defaultScopes?: string[];
  /** IdP scopes every token must carry, else 403. */
  requiredScopes?: string[];
  /** IdP group/role value -> gateway role(s) (Azure group object ids, say); unmapped values pass through. */
  roleMap?: Record<string, string | string[]>;
  /**
   * Accepted account domains: Google's `hd` claim, else the domain of a *verified* email (`emailVerified`
   * claim `true`); tokens without one get 403. For Azure AD prefer `tenant`, which Azure always proves.
   */
  allowedDomains?: string[];
  /**
   * Report the token's email even when the IdP does not mark it verified (default false). Upstreams get
   * it as X-User-Email, so only set this if your IdP lets no one choose an address they do not own. It
   * never satisfies `allowedDomains` and never becomes the subject.
   */
  trustUnverifiedEmail?: boolean;
  /** Azure AD tenant id (GUID): sets the v2 issuer and requires a matching `tid`. */
  tenant?: string;
  /** RFC 7662 introspection for opaque (non-JWT) access tokens, used when the IdP advertises an endpoint. */
  introspection?: OidcIntrospectionOptions;
  /** JWKS caching: `cacheMaxAgeSeconds` (default 600) and `cooldownSeconds` between refetches for an unknown `kid` (default 30). */
  jwks?: { cacheMaxAgeSeconds?: number; cooldownSeconds?: number; timeoutMs?: number };
  /**
   * A JWT from another issuer: `refuse` it (401, default) or `skip` it so a later strategy (another
   * `oidc()`) can take it. JWTs the gateway itself issued are always skipped.
   */
  otherIssuers?: "refuse" | "skip";
}

/** RFC 7662 introspection settings of `oidc()`. */
export interface OidcIntrospectionOptions {
  clientId: string;
  clientSecret: string;
  authMethod?: "client_secret_basic" | "client_secret_post";
  /** How long an active answer is reused, in seconds; default 30, at most 60, never past `exp`. */
  cacheSeconds?: number;
  /**
   * Refuse answers without an `aud` naming one of `audience` (default true). With `false` an answer
   * without `aud` is accepted, so any opaque token the IdP issued for *another* API works here too.
   */
  requireAudience?: boolean;
  /** Introspection calls in flight at once; further unknown tokens get 503 `ERR_OVERLOADED`. Default 16. */
  maxInFlight?: number;
}

/** Introspection after validation: the client's credentials ready for oauth4webapi, times in milliseconds. */
export interface IntrospectionSettings {
  clientId: string;
  auth: oauth.ClientAuth;
  cacheMs: number;
  requireAudience: boolean;
  maxInFlight: number;
}

/** `oidc()` options after validation, with the preset's defaults applied. */
export interface ResolvedOidcOptions {
  provider: OidcProvider;
  issuer: string;
  issuerUrl: URL;
  /** An `http:` issuer (loopback only, for tests) that oauth4webapi must be told to accept. */
  insecure: boolean;
  /** Other spellings of the issuer accepted in `iss`. */
  aliases: string[];
  tenant?: string;
  audience: string[];
  clockSkew: number;
  algorithms: string[];
  claims: OidcClaimMapping;
  verifiedEmailClaims?: OidcClaimPath;
  scopeMap: Record<string, string[]>;
  defaultScopes: string[];
  requiredScopes: string[];
  roleMap?: Record<string, string[]>;
  allowedDomains?: string[];
  trustUnverifiedEmail: boolean;
  introspection?: IntrospectionSettings;
  jwks: { cacheMaxAgeMs: number; cooldownMs: number };
  /** Every call to the IdP (discovery, JWKS, introspection) gives up after this long. */
  timeoutMs: number;
  otherIssuers: "refuse" | "skip";
}

const ASYMMETRIC = ["RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA", "Ed25519"];
const GATEWAY_SCOPES = ["mcp:read", "mcp:write", "admin"];
const PROVIDERS = Object.keys(OIDC_PRESETS) as OidcProvider[];
const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

function isLoopback(url: URL): boolean {
  return url.hostname === "127.0.0.1" || url.hostname === "localhost" || url.hostname === "[::1]";
}

function urlOf(value: string): URL | undefined {
  try {
    return new URL(value);
  } catch {
    return undefined;
  }
}

function azureIssuer(tenant: string): string {
  return `https://login.microsoftonline.com/${tenant}/v2.0`;
}

function isNames(value: unknown, minItems = 0): value is string[] {
  return Array.isArray(value) && value.length >= minItems && value.every((s) => typeof s === "string" && s !== "");
}

function isNameOrNames(value: unknown, minItems: number): value is string | string[] {
  return (typeof value === "string" && value !== "") || isNames(value, minItems);
}

/** A list of non-empty names, judged as a whole so the error names the option rather than an item. */
function names(what: string): v.GenericSchema<unknown, string[]> {
  return v.custom<string[]>((x) => isNames(x), `expected an array of ${what}`);
}

/** One name or a list of them, always a list afterwards. */
function nameOrNames(expected: string, minItems: number): v.GenericSchema<unknown, string[]> {
  return v.pipe(
    v.custom<string | string[]>((x) => isNameOrNames(x, minItems), expected),
    v.transform((x) => (typeof x === "string" ? [x] : x)),
  );
}

function between(min: number, max: number, unit: string): v.GenericSchema<unknown, number> {
  const expected = `expected a number of ${unit} between ${min} and ${max}`;
  return v.pipe(v.number(expected), v.minValue(min, expected), v.maxValue(max, expected));
}

/**
 * valibot reports a missing key with the message of the object around it; this hands it the message of
 * the key's own schema instead, so a missing `audience` is explained as what an audience is.
 */
function objectMessage(expected: string, entries: v.ObjectEntries): (issue: v.ObjectIssue) => string {
  return (issue) => {
    const key = issue.path?.[0]?.key;
    const own = typeof key === "string" ? (entries[key] as { message?: unknown } | undefined)?.message : undefined;
    return typeof own === "string" ? own : expected;
  };
}

const ISSUER = v.pipe(
  v.string("expected an https URL"),
  v.check((s) => urlOf(s) !== undefined, "expected an https URL"),
  v.check((s) => {
    const url = urlOf(s)!;
    return url.protocol === "https:" || (url.protocol === "http:" && isLoopback(url));
  }, "expected an https URL (http only on loopback)"),
  v.check((s) => {
    const url = urlOf(s)!;
    return !url.search && !url.hash;
  }, "expected a URL without query or fragment"),
);

const claimPath = v.optional(v.custom<OidcClaimPath>((x) => isNameOrNames(x, 1), "expected a claim name or an array of claim names"));

const CLAIM_ENTRIES = { subject: claimPath, email: claimPath, emailVerified: claimPath, name: claimPath, team: claimPath, org: claimPath, roles: claimPath, scopes: claimPath };

const CLAIMS = v.strictObject(
  CLAIM_ENTRIES,
  // With a path the issue is an unknown key; without one, claims is not an object at all.
  (issue) => (issue.path ? `unknown field; expected one of ${Object.keys(CLAIM_ENTRIES).join(", ")}` : "expected an object of identity field -> claim path"),
);

const INTROSPECTION_ENTRIES = {
  clientId: v.pipe(v.string("expected a client id"), v.minLength(1, "expected a client id")),
  clientSecret: v.pipe(v.string("expected a client secret"), v.minLength(1, "expected a client secret")),
  authMethod: v.optional(v.picklist(["client_secret_basic", "client_secret_post"], "expected client_secret_basic or client_secret_post"), "client_secret_basic"),
  cacheSeconds: v.optional(between(0, 60, "seconds"), 30),
  requireAudience: v.nullish(v.boolean("expected true or false"), true),
  maxInFlight: v.optional(v.pipe(between(1, 1024, "calls"), v.integer("expected a whole number of calls")), 16),
};

const JWKS = v.object(
  {
    cacheMaxAgeSeconds: v.optional(between(0, 86400, "seconds"), 600),
    cooldownSeconds: v.optional(between(0, 3600, "seconds"), 30),
    timeoutMs: v.optional(between(100, 60_000, "milliseconds"), 5000),
  },
  "expected { cacheMaxAgeSeconds?, cooldownSeconds?, timeoutMs? }",
);

// Entries in the order their errors are reported: the first problem found is the one thrown.
const ENTRIES = {
  provider: v.nullish(v.picklist(PROVIDERS, `expected one of ${PROVIDERS.join(", ")}`), "custom"),
  tenant: v.optional(v.pipe(v.string("expected the directory (tenant) id, a GUID"), v.regex(GUID, "expected the directory (tenant) id, a GUID"), v.toLowerCase())),
  issuer: v.nullish(ISSUER),
  audience: nameOrNames("expected the audience the IdP puts in tokens for the gateway (a non-empty string)", 1),
  clockSkewSeconds: v.optional(between(0, 300, "seconds"), 30),
  algorithms: v.optional(
    v.pipe(
      // `none` and HMAC would let anyone holding the IdP's public key material mint tokens.
      v.array(v.picklist(ASYMMETRIC, `expected an asymmetric algorithm (${ASYMMETRIC.join(", ")})`), "expected an array of algorithm names"),
      v.minLength(1, "expected at least one algorithm"),
    ),
    ASYMMETRIC,
  ),
  claims: v.optional(CLAIMS),
  scopes: v.optional(v.record(v.string(), nameOrNames("expected an IdP scope name or an array of them", 1), "expected an object of gateway scope -> IdP scope(s)")),
  defaultScopes: v.optional(names("gateway scopes")),
  requiredScopes: v.optional(names("IdP scope names"), []),
  roleMap: v.optional(v.record(v.string(), nameOrNames("expected a role name or an array of them", 0), "expected an object of IdP group -> gateway role(s)")),
  allowedDomains: v.optional(v.pipe(names("domain names"), v.transform((ds) => ds.map((d) => d.toLowerCase())))),
  trustUnverifiedEmail: v.optional(v.boolean("expected true or false"), false),
  introspection: v.optional(v.object(INTROSPECTION_ENTRIES, objectMessage("expected { clientId, clientSecret }", INTROSPECTION_ENTRIES))),
  jwks: v.nullish(JWKS, {}),
  otherIssuers: v.nullish(v.picklist(["refuse", "skip"], "expected refuse or skip"), "refuse"),
};

/** The whole options object: each option on its own, then the rules that tie provider, tenant and issuer together. */
const OPTIONS = v.pipe(
  v.object(ENTRIES, objectMessage("expected an options object", ENTRIES)),
  v.forward(v.check((o) => o.tenant === undefined || o.provider === "azure-ad", 'is only used with provider "azure-ad"'), ["tenant"]),
  v.transform((o) => ({ ...o, issuer: o.issuer ?? (o.tenant ? azureIssuer(o.tenant) : OIDC_PRESETS[o.provider].defaultIssuer) })),
  v.forward(
    v.check((o) => o.issuer !== undefined, (issue) => (issue.input.provider === "azure-ad" ? "expected an https URL (or set oidc.tenant)" : "expected an https URL")),
    ["issuer"],
  ),
  // Presets know their IdP's issuer shape; loopback issuers are exempt so tests can stand in for any IdP.
  v.forward(
    v.check((o) => {
      const pattern = OIDC_PRESETS[o.provider].issuerPattern;
      return !pattern || o.issuer === undefined || isLoopback(new URL(o.issuer)) || pattern.test(o.issuer);
    }, (issue) => `expected ${OIDC_PRESETS[issue.input.provider].issuerExpected}`),
    ["issuer"],
  ),
  v.forward(
    v.check((o) => !o.tenant || o.issuer === undefined || isLoopback(new URL(o.issuer)) || o.issuer === azureIssuer(o.tenant), (issue) => `expected ${azureIssuer(issue.input.tenant!)} for oidc.tenant`),
    ["issuer"],
  ),
);

/** What an error may say it received: nothing of the secret, not even its type, and no string where credentials go. */
function receivedOf(value: unknown, path: string): string | undefined {
  if (path === "introspection.clientSecret") return undefined;
  if (value === undefined) return "nothing";
  if (value === null) return "null";
  if (typeof value === "number" || typeof value === "boolean") return String(value);
  const credentials = path === "introspection" || path.startsWith("introspection.client");
  if (typeof value === "string" && !credentials) return JSON.stringify(value);
  return undefined;
}

function configErrorOf(issue: v.BaseIssue<unknown>): GatewayError {
  const path = pathOf(issue);
  const at = path === "" ? "oidc" : `oidc.${path}`;
  // The failing value is the last path item's; a forwarded check's `input` is the whole options object.
  const last = issue.path?.at(-1);
  const value = last ? last.value : issue.input;
  // "received" follows an "expected"; it would only confuse "unknown field" and "is only used with".
  return configError(at, issue.message, issue.message.startsWith("expected") ? receivedOf(value, path) : undefined);
}

/**
 * Validates `oidc()` options at config time and applies the preset's defaults. `${VAR}` in any string
 * option is replaced from the environment first. Throws `ERR_CONFIG` naming the option, e.g.
 * `oidc.issuer: expected an https URL`.
 *
 * @example
 * const o = resolveOptions({ provider: "okta", issuer: "https://dev-1.okta.com/oauth2/default", audience: "api://portcullis" });
 * o.audience; // ["api://portcullis"]
 */
export function resolveOptions(input: OidcOptions): ResolvedOidcOptions {
  const result = v.safeParse(OPTIONS, interpolateDeep(input, "oidc"), { abortEarly: true });
  if (!result.success) throw configErrorOf(result.issues[0]);
  const o = result.output;
  const preset = OIDC_PRESETS[o.provider];
  const issuer = o.issuer!;
  const issuerUrl = new URL(issuer);
  const i = o.introspection;
  return {
    provider: o.provider,
    issuer,
    issuerUrl,
    insecure: issuerUrl.protocol === "http:",
    aliases: isLoopback(issuerUrl) ? [] : preset.issuerAliases ?? [],
    tenant: o.tenant,
    audience: o.audience,
    clockSkew: o.clockSkewSeconds,
    algorithms: o.algorithms,
    claims: { ...preset.claims, ...o.claims },
    // A configured `claims.email` replaces the preset's paths, and the flag then speaks for those.
    verifiedEmailClaims: o.claims?.email !== undefined ? undefined : preset.verifiedEmailClaims,
    scopeMap: o.scopes ?? Object.fromEntries(GATEWAY_SCOPES.map((s) => [s, [s]])),
    defaultScopes: o.defaultScopes ?? preset.defaultScopes ?? [],
    requiredScopes: o.requiredScopes,
    roleMap: o.roleMap,
    allowedDomains: o.allowedDomains,
    trustUnverifiedEmail: o.trustUnverifiedEmail,
    introspection: i && {
      clientId: i.clientId,
      auth: i.authMethod === "client_secret_post" ? oauth.ClientSecretPost(i.clientSecret) : oauth.ClientSecretBasic(i.clientSecret),
      cacheMs: i.cacheSeconds * 1000,
      requireAudience: i.requireAudience,
      maxInFlight: i.maxInFlight,
    },
    jwks: { cacheMaxAgeMs: o.jwks.cacheMaxAgeSeconds * 1000, cooldownMs: o.jwks.cooldownSeconds * 1000 },
    timeoutMs: o.jwks.timeoutMs,
    otherIssuers: o.otherIssuers,
  };
}
