import { createRemoteJWKSet, decodeJwt, decodeProtectedHeader, errors, jwtVerify, type JWTPayload, type JWTVerifyGetKey, type JWTVerifyOptions } from "jose";
import * as oauth from "oauth4webapi";
import { configError, GatewayError } from "../../core/errors.ts";
import { hashSecret, TOKEN_PREFIX } from "../../core/tokens/secret.ts";
import type { AuthContext, AuthOutcome, AuthStrategy, Identity, Logger, PluginContext } from "../../core/types.ts";
import { type OidcClaimMapping, type OidcClaimPath, mapIdentity, OIDC_PRESETS, type OidcProvider, verifiedEmail } from "./oidc-presets.ts";
import { interpolateDeep } from "../../core/config/interpolate.ts";

export type { OidcClaimMapping, OidcClaimPath, OidcProvider } from "./oidc-presets.ts";

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

const ASYMMETRIC = ["RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA", "Ed25519"];
const GATEWAY_SCOPES = ["mcp:read", "mcp:write", "admin"];
const MAX_TOKEN_LENGTH = 16384;
const MAX_CACHED = 10_000;
// Refusals are remembered by token hash so a flood of junk bearers costs the IdP one call each at most.
const NEGATIVE_CACHE_MS = 30_000;
const DISCOVERY_RETRY_MS = 5000;
const NAME = "auth:oidc";

type Refusal = { error: { code: "ERR_INVALID_CREDENTIAL" | "ERR_TOKEN_EXPIRED" | "ERR_FORBIDDEN"; reason: string } };

function isLoopback(url: URL): boolean {
  return url.hostname === "127.0.0.1" || url.hostname === "localhost" || url.hostname === "[::1]";
}

function checkUrl(value: unknown, path: string): URL {
  if (typeof value !== "string") throw configError(path, "expected an https URL", value === undefined ? "nothing" : typeof value);
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw configError(path, "expected an https URL", JSON.stringify(value));
  }
  if (url.protocol !== "https:" && !(url.protocol === "http:" && isLoopback(url))) {
    throw configError(path, "expected an https URL (http only on loopback)", JSON.stringify(value));
  }
  if (url.search || url.hash) throw configError(path, "expected a URL without query or fragment", JSON.stringify(value));
  return url;
}

function stringList(value: unknown, path: string, what: string): string[] | undefined {
  if (value === undefined) return undefined;
  if (!Array.isArray(value) || value.some((v) => typeof v !== "string" || v === "")) throw configError(path, `expected an array of ${what}`);
  return value as string[];
}

function claimPath(value: unknown, path: string): OidcClaimPath | undefined {
  if (value === undefined) return undefined;
  if (typeof value === "string" && value !== "") return value;
  if (Array.isArray(value) && value.length > 0 && value.every((v) => typeof v === "string" && v !== "")) return value as string[];
  throw configError(path, "expected a claim name or an array of claim names");
}

function seconds(value: unknown, path: string, min: number, max: number, fallback: number, unit = "seconds"): number {
  if (value === undefined) return fallback;
  if (typeof value !== "number" || !Number.isFinite(value) || value < min || value > max) {
    throw configError(path, `expected a number of ${unit} between ${min} and ${max}`, JSON.stringify(value));
  }
  return value;
}

/** Turns jose's verification errors into refusals whose reasons name the check, never the token. */
function refusalOf(err: unknown): Refusal {
  const code = (err as { code?: string }).code;
  const claim = (err as { claim?: string }).claim;
  if (code === "ERR_JWT_EXPIRED") return { error: { code: "ERR_TOKEN_EXPIRED", reason: "token expired" } };
  const reason = code === "ERR_JWT_CLAIM_VALIDATION_FAILED"
    ? claim === "nbf" ? "token is not valid yet" : claim === "aud" ? "token audience is not this gateway" : claim === "iss" ? "token issuer is not the configured issuer" : `token claim ${claim ?? ""} is invalid`
    : code === "ERR_JWKS_NO_MATCHING_KEY" ? "no signing key of the issuer matches the token"
    : code === "ERR_JWS_SIGNATURE_VERIFICATION_FAILED" ? "token signature is invalid"
    : code === "ERR_JOSE_ALG_NOT_ALLOWED" ? "token algorithm is not allowed"
    : "malformed token";
  return { error: { code: "ERR_INVALID_CREDENTIAL", reason } };
}

function isUnreachable(err: unknown): boolean {
  const code = (err as { code?: string }).code;
  // A JWKS that cannot be fetched is the IdP being down, not a bad credential.
  return code === "ERR_JWKS_TIMEOUT" || code === "ERR_JOSE_GENERIC" || code === "ERR_JWKS_INVALID" || err instanceof TypeError || (err as Error)?.name === "AbortError" || (err as Error)?.name === "TimeoutError";
}

/**
 * jwtVerify against a key set, trying every key that matches the token's header. IdPs do publish two
 * keys under one `kid` (mid-rotation, or a reused `kid`), and jose will not guess between them: it
 * throws ERR_JWKS_MULTIPLE_MATCHING_KEYS carrying the candidates, and leaving that uncaught refused
 * every token with that `kid`. Only a signature failure moves on to the next candidate; any later
 * failure (expired, wrong audience) comes from a key that did verify the signature, so it is the verdict.
 */
async function verifyWithKeySet(token: string, keys: JWTVerifyGetKey, options: JWTVerifyOptions): Promise<JWTPayload> {
  try {
    return (await jwtVerify(token, keys, options)).payload;
  } catch (err) {
    if (!(err instanceof errors.JWKSMultipleMatchingKeys)) throw err;
    for await (const key of err) {
      try {
        return (await jwtVerify(token, key, options)).payload;
      } catch (inner) {
        if (!(inner instanceof errors.JWSSignatureVerificationFailed)) throw inner;
      }
    }
    // Signed by none of them: the same refusal as a single key that does not match.
    throw new errors.JWSSignatureVerificationFailed();
  }
}

/**
 * OAuth 2.0 / OIDC resource server: accepts access tokens the company IdP (Okta, Auth0, Azure AD, Google
 * or any OIDC provider) issued for the gateway. JWTs are verified against the IdP's JWKS (found by
 * discovery, cached, refetched for an unknown `kid` at most once per cooldown); opaque tokens go through
 * RFC 7662 introspection when configured. Serves the protected resource metadata (RFC 9728) and answers
 * 401s with a `resource_metadata` challenge so MCP clients find the IdP. Gateway `pt_` tokens, and other
 * bearer credentials it cannot judge, are left to the next strategy.
 *
 * @example
 * defineGateway({
 *   auth: [bearer(), oidc({ provider: "okta", issuer: "https://dev-123.okta.com/oauth2/default", audience: "api://portcullis" })],
 *   servers: { notes: stdio({ command: "notes-server" }) },
 * });
 */
export function oidc(input: OidcOptions): AuthStrategy {
  if (typeof input !== "object" || input === null) throw configError("oidc", "expected an options object");
  // `${VAR}` in any string option (issuer, audience, introspection secret ...) is replaced from the environment, once.
  const options = interpolateDeep(input, "oidc");
  const provider = options.provider ?? "custom";
  if (!Object.hasOwn(OIDC_PRESETS, provider)) {
    throw configError("oidc.provider", `expected one of ${Object.keys(OIDC_PRESETS).join(", ")}`, JSON.stringify(provider));
  }
  const preset = OIDC_PRESETS[provider];
  let tenant: string | undefined;
  if (options.tenant !== undefined) {
    if (provider !== "azure-ad") throw configError("oidc.tenant", 'is only used with provider "azure-ad"');
    if (typeof options.tenant !== "string" || !/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(options.tenant)) {
      throw configError("oidc.tenant", "expected the directory (tenant) id, a GUID", JSON.stringify(options.tenant));
    }
    tenant = options.tenant.toLowerCase();
  }
  const issuerInput = options.issuer ?? (tenant ? `https://login.microsoftonline.com/${tenant}/v2.0` : preset.defaultIssuer);
  if (issuerInput === undefined) throw configError("oidc.issuer", provider === "azure-ad" ? "expected an https URL (or set oidc.tenant)" : "expected an https URL", "nothing");
  const issuerUrl = checkUrl(issuerInput, "oidc.issuer");
  const issuer = issuerInput as string;
  if (preset.issuerPattern && !isLoopback(issuerUrl) && !preset.issuerPattern.test(issuer)) {
    throw configError("oidc.issuer", `expected ${preset.issuerExpected}`, JSON.stringify(issuer));
  }
  if (tenant && !isLoopback(issuerUrl) && issuer !== `https://login.microsoftonline.com/${tenant}/v2.0`) {
    throw configError("oidc.issuer", `expected https://login.microsoftonline.com/${tenant}/v2.0 for oidc.tenant`, JSON.stringify(issuer));
  }
  const audience = typeof options.audience === "string" && options.audience !== "" ? [options.audience] : stringList(options.audience, "oidc.audience", "audience strings");
  if (!audience || audience.length === 0) throw configError("oidc.audience", "expected the audience the IdP puts in tokens for the gateway (a non-empty string)");
  const clockSkew = seconds(options.clockSkewSeconds, "oidc.clockSkewSeconds", 0, 300, 30);
  const algorithms = stringList(options.algorithms, "oidc.algorithms", "algorithm names") ?? ASYMMETRIC;
  for (const [i, alg] of algorithms.entries()) {
    // `none` and HMAC would let anyone holding the IdP's public key material mint tokens.
    if (!ASYMMETRIC.includes(alg)) throw configError(`oidc.algorithms[${i}]`, `expected an asymmetric algorithm (${ASYMMETRIC.join(", ")})`, JSON.stringify(alg));
  }
  if (algorithms.length === 0) throw configError("oidc.algorithms", "expected at least one algorithm");
  const claims: OidcClaimMapping = { ...preset.claims };
  if (options.claims !== undefined) {
    if (typeof options.claims !== "object" || options.claims === null) throw configError("oidc.claims", "expected an object of identity field -> claim path");
    const fields = ["subject", "email", "emailVerified", "name", "team", "org", "roles", "scopes"] as const;
    for (const [k, v] of Object.entries(options.claims)) {
      if (!(fields as readonly string[]).includes(k)) throw configError(`oidc.claims.${k}`, `unknown field; expected one of ${fields.join(", ")}`);
      claims[k as (typeof fields)[number]] = claimPath(v, `oidc.claims.${k}`);
    }
  }
  let scopeMap: Record<string, string[]> = Object.fromEntries(GATEWAY_SCOPES.map((s) => [s, [s]]));
  if (options.scopes !== undefined) {
    if (typeof options.scopes !== "object" || options.scopes === null) throw configError("oidc.scopes", "expected an object of gateway scope -> IdP scope(s)");
    scopeMap = {};
    for (const [k, v] of Object.entries(options.scopes)) {
      const list = typeof v === "string" && v !== "" ? [v] : stringList(v, `oidc.scopes.${k}`, "IdP scope names");
      if (!list || list.length === 0) throw configError(`oidc.scopes.${k}`, "expected an IdP scope name or an array of them");
      scopeMap[k] = list;
    }
  }
  const defaultScopes = stringList(options.defaultScopes, "oidc.defaultScopes", "gateway scopes") ?? preset.defaultScopes ?? [];
  const requiredScopes = stringList(options.requiredScopes, "oidc.requiredScopes", "IdP scope names") ?? [];
  let roleMap: Record<string, string[]> | undefined;
  if (options.roleMap !== undefined) {
    if (typeof options.roleMap !== "object" || options.roleMap === null) throw configError("oidc.roleMap", "expected an object of IdP group -> gateway role(s)");
    roleMap = {};
    for (const [k, v] of Object.entries(options.roleMap)) {
      const list = typeof v === "string" ? [v] : stringList(v, `oidc.roleMap.${k}`, "role names");
      if (!list || list.some((r) => r === "")) throw configError(`oidc.roleMap.${k}`, "expected a role name or an array of them");
      roleMap[k] = list;
    }
  }
  const allowedDomains = stringList(options.allowedDomains, "oidc.allowedDomains", "domain names")?.map((d) => d.toLowerCase());
  if (options.trustUnverifiedEmail !== undefined && typeof options.trustUnverifiedEmail !== "boolean") {
    throw configError("oidc.trustUnverifiedEmail", "expected true or false", JSON.stringify(options.trustUnverifiedEmail));
  }
  const trustUnverifiedEmail = options.trustUnverifiedEmail === true;
  // A configured `claims.email` replaces the preset's paths, and the flag then speaks for those.
  const verifiedEmailClaims = options.claims?.email !== undefined ? undefined : preset.verifiedEmailClaims;
  let introspection: { clientId: string; auth: oauth.ClientAuth; cacheMs: number; requireAudience: boolean; maxInFlight: number } | undefined;
  if (options.introspection !== undefined) {
    const i = options.introspection;
    if (typeof i !== "object" || i === null) throw configError("oidc.introspection", "expected { clientId, clientSecret }");
    if (typeof i.clientId !== "string" || i.clientId === "") throw configError("oidc.introspection.clientId", "expected a client id");
    // Never echo the secret, not even its type when it is present.
    if (typeof i.clientSecret !== "string" || i.clientSecret === "") throw configError("oidc.introspection.clientSecret", "expected a client secret");
    if (i.authMethod !== undefined && i.authMethod !== "client_secret_basic" && i.authMethod !== "client_secret_post") {
      throw configError("oidc.introspection.authMethod", "expected client_secret_basic or client_secret_post", JSON.stringify(i.authMethod));
    }
    introspection = {
      clientId: i.clientId,
      auth: i.authMethod === "client_secret_post" ? oauth.ClientSecretPost(i.clientSecret) : oauth.ClientSecretBasic(i.clientSecret),
      cacheMs: seconds(i.cacheSeconds, "oidc.introspection.cacheSeconds", 0, 60, 30) * 1000,
      requireAudience: i.requireAudience ?? true,
      maxInFlight: seconds(i.maxInFlight, "oidc.introspection.maxInFlight", 1, 1024, 16, "calls"),
    };
    if (typeof introspection.requireAudience !== "boolean") {
      throw configError("oidc.introspection.requireAudience", "expected true or false", JSON.stringify(i.requireAudience));
    }
    if (!Number.isInteger(introspection.maxInFlight)) throw configError("oidc.introspection.maxInFlight", "expected a whole number of calls", JSON.stringify(i.maxInFlight));
  }
  const jwksOptions = options.jwks ?? {};
  if (typeof jwksOptions !== "object" || jwksOptions === null) throw configError("oidc.jwks", "expected { cacheMaxAgeSeconds?, cooldownSeconds?, timeoutMs? }");
  const cacheMaxAgeMs = seconds(jwksOptions.cacheMaxAgeSeconds, "oidc.jwks.cacheMaxAgeSeconds", 0, 86400, 600) * 1000;
  const cooldownMs = seconds(jwksOptions.cooldownSeconds, "oidc.jwks.cooldownSeconds", 0, 3600, 30) * 1000;
  const timeoutMs = seconds(jwksOptions.timeoutMs, "oidc.jwks.timeoutMs", 100, 60_000, 5000, "milliseconds");
  const otherIssuers = options.otherIssuers ?? "refuse";
  if (otherIssuers !== "refuse" && otherIssuers !== "skip") throw configError("oidc.otherIssuers", "expected refuse or skip", JSON.stringify(otherIssuers));
  const insecure = issuerUrl.protocol === "http:";
  const aliases = isLoopback(issuerUrl) ? [] : preset.issuerAliases ?? [];

  let log: Logger | undefined;
  let publicUrl: string | undefined;
  let metadata: Promise<oauth.AuthorizationServer> | undefined;
  let metadataFailedAt = 0;
  let jwks: ReturnType<typeof createRemoteJWKSet> | undefined;
  let warnedNoIntrospection = false;
  const cache = new Map<string, { identity: Identity; until: number }>();
  const refusals = new Map<string, { refusal: NonNullable<AuthOutcome>; until: number }>();
  const pending = new Map<string, Promise<AuthOutcome>>();
  let inFlight = 0;

  async function discover(): Promise<oauth.AuthorizationServer> {
    const request = async (algorithm: "oidc" | "oauth2") => {
      const response = await oauth.discoveryRequest(issuerUrl, { algorithm, signal: AbortSignal.timeout(timeoutMs), [oauth.allowInsecureRequests]: insecure });
      return await oauth.processDiscoveryResponse(issuerUrl, response);
    };
    try {
      return await request("oidc");
    } catch {
      // Plain OAuth servers (RFC 8414) publish under a different well-known name.
      return await request("oauth2");
    }
  }

  function server(): Promise<oauth.AuthorizationServer> {
    if (metadata === undefined || (metadataFailedAt !== 0 && Date.now() - metadataFailedAt > DISCOVERY_RETRY_MS)) {
      metadataFailedAt = 0;
      metadata = discover().then((as) => {
        if (typeof as.jwks_uri !== "string") throw new Error("the IdP's metadata has no jwks_uri");
        jwks = createRemoteJWKSet(new URL(as.jwks_uri), { cacheMaxAge: cacheMaxAgeMs, cooldownDuration: cooldownMs, timeoutDuration: timeoutMs });
        return as;
      });
      metadata.catch((err) => {
        metadataFailedAt = Date.now();
        log?.warn("oidc: discovery failed", { issuer, error: err instanceof Error ? err.message : String(err) });
      });
    }
    return metadata.catch(() => {
      throw new GatewayError("ERR_UPSTREAM_UNAVAILABLE", "the identity provider's metadata could not be fetched");
    });
  }

  function baseUrl(ctx: AuthContext): string {
    return (publicUrl ?? ctx.url.origin).replace(/\/+$/, "");
  }

  function refuse(reason: string, code: Refusal["error"]["code"] = "ERR_INVALID_CREDENTIAL"): Refusal {
    return { error: { code, reason } };
  }

  /** Checks shared by JWT and introspected tokens, then the identity. */
  function finish(payload: Record<string, unknown>): AuthOutcome {
    if (tenant && payload.tid !== tenant) return refuse("token tenant is not the configured tenant");
    const identity = mapIdentity(payload, { claims, scopes: scopeMap, defaultScopes, roleMap, strategy: NAME, verifiedEmailClaims, trustUnverifiedEmail });
    if (!identity) return refuse("token names no subject");
    // The IdP vouches for this subject: `bob` here is never the gateway's own user `bob`.
    identity.issuer = `oidc:${issuer}`;
    if (typeof payload.exp === "number") identity.expiresAt = payload.exp * 1000;
    if (requiredScopes.length > 0) {
      const granted = new Set([...(typeof payload.scope === "string" ? payload.scope.split(" ") : []), ...(Array.isArray(payload.scp) ? payload.scp : typeof payload.scp === "string" ? payload.scp.split(" ") : [])]);
      const missing = requiredScopes.filter((s) => !granted.has(s));
      if (missing.length > 0) return refuse(`token lacks the required scope ${missing.join(" ")}`, "ERR_FORBIDDEN");
    }
    if (allowedDomains) {
      // Only a domain the IdP vouches for: an unverified `x@corp.com` is just text its holder typed in.
      const domain = provider === "google"
        ? (typeof payload.hd === "string" ? payload.hd : undefined)
        : verifiedEmail(payload, claims, verifiedEmailClaims)?.split("@").pop();
      if (domain === undefined || !allowedDomains.includes(domain.toLowerCase())) return refuse("the account's domain is not allowed", "ERR_FORBIDDEN");
    }
    return { identity };
  }

  async function verifyJwt(token: string, ctx: AuthContext): Promise<AuthOutcome> {
    let alg: unknown;
    let iss: unknown;
    try {
      alg = decodeProtectedHeader(token).alg;
      iss = decodeJwt(token).iss;
    } catch {
      return refuse("malformed token");
    }
    if (typeof iss === "string" && iss.replace(/\/+$/, "") !== issuer.replace(/\/+$/, "") && !aliases.includes(iss)) {
      const own = [publicUrl, ctx.url.origin].filter((u): u is string => !!u).map((u) => u.replace(/\/+$/, ""));
      // The gateway's own access tokens (oauthServer) belong to another strategy.
      if (own.includes(iss.replace(/\/+$/, "")) || otherIssuers === "skip") return undefined;
    }
    if (typeof alg !== "string" || !algorithms.includes(alg)) return refuse("token algorithm is not allowed");
    const as = await server();
    let payload: JWTPayload;
    try {
      payload = await verifyWithKeySet(token, jwks!, {
        issuer: [as.issuer, ...aliases],
        audience,
        algorithms,
        clockTolerance: clockSkew,
        requiredClaims: ["exp"],
      });
    } catch (err) {
      if (isUnreachable(err)) {
        log?.warn("oidc: the IdP's JWKS could not be fetched", { issuer });
        throw new GatewayError("ERR_UPSTREAM_UNAVAILABLE", "the identity provider's signing keys could not be fetched");
      }
      return refusalOf(err);
    }
    return finish(payload as Record<string, unknown>);
  }

  /** Remembers a refusal by token hash; the oldest entry goes first when full. */
  function rememberRefusal(key: string, refusal: NonNullable<AuthOutcome>, now: number): void {
    if (refusals.size >= MAX_CACHED) refusals.delete(refusals.keys().next().value!);
    refusals.set(key, { refusal, until: now + NEGATIVE_CACHE_MS });
  }

  async function introspect(token: string): Promise<AuthOutcome> {
    const as = await server();
    if (!as.introspection_endpoint) {
      if (!warnedNoIntrospection) log?.warn("oidc: introspection is configured but the IdP advertises no introspection endpoint", { issuer });
      warnedNoIntrospection = true;
      return undefined;
    }
    const key = await hashSecret(token);
    const now = Date.now();
    const hit = cache.get(key);
    if (hit && hit.until > now) return { identity: structuredClone(hit.identity) };
    if (hit) cache.delete(key);
    const miss = refusals.get(key);
    if (miss && miss.until > now) return structuredClone(miss.refusal);
    if (miss) refusals.delete(key);
    // Concurrent requests with one token share one IdP call.
    const shared = pending.get(key);
    if (shared) return structuredClone(await shared);
    if (inFlight >= introspection!.maxInFlight) {
      // 503, not 401: the token may well be good, and a 401 would send the client to re-authenticate.
      throw new GatewayError("ERR_OVERLOADED", "too many token introspections in progress; try again later");
    }
    inFlight++;
    const call = introspectNow(as, token, key, now);
    pending.set(key, call);
    try {
      return structuredClone(await call);
    } finally {
      inFlight--;
      pending.delete(key);
    }
  }

  async function introspectNow(as: oauth.AuthorizationServer, token: string, key: string, now: number): Promise<AuthOutcome> {
    let result: oauth.IntrospectionResponse;
    try {
      const client: oauth.Client = { client_id: introspection!.clientId };
      const response = await oauth.introspectionRequest(as, client, introspection!.auth, token, { signal: AbortSignal.timeout(timeoutMs), [oauth.allowInsecureRequests]: insecure });
      result = await oauth.processIntrospectionResponse(as, client, response);
    } catch (err) {
      log?.warn("oidc: introspection failed", { issuer, error: err instanceof Error ? err.name : "error" });
      throw new GatewayError("ERR_UPSTREAM_UNAVAILABLE", "the identity provider's introspection endpoint did not answer");
    }
    const nowSeconds = Math.floor(now / 1000);
    // A token that is not valid *yet* may become valid within the negative cache's lifetime.
    if (result.active && typeof result.nbf === "number" && result.nbf - clockSkew > nowSeconds) return refuse("token is not valid yet");
    const outcome = judge(result, as, nowSeconds);
    if (outcome && "error" in outcome) {
      rememberRefusal(key, outcome, now);
    } else if (outcome) {
      // Positive answers briefly, and never past the token's own expiry.
      const until = Math.min(now + introspection!.cacheMs, typeof result.exp === "number" ? result.exp * 1000 : Infinity);
      if (until > now) {
        if (cache.size >= MAX_CACHED) cache.delete(cache.keys().next().value!);
        cache.set(key, { identity: structuredClone(outcome.identity), until });
      }
    }
    return outcome;
  }

  /** The verdict on an introspection answer; every refusal here stays a refusal, so it may be cached. */
  function judge(result: oauth.IntrospectionResponse, as: oauth.AuthorizationServer, nowSeconds: number): AuthOutcome {
    if (!result.active) return refuse("token is not active");
    if (typeof result.exp === "number" && result.exp + clockSkew <= nowSeconds) return refuse("token expired", "ERR_TOKEN_EXPIRED");
    if (result.iss !== undefined && result.iss !== as.issuer) return refuse("token issuer is not the configured issuer");
    const aud = result.aud === undefined ? undefined : Array.isArray(result.aud) ? result.aud : [result.aud];
    // An answer without `aud` says nothing about which API the token is for: at a shared IdP it may be
    // another resource server's token, so it only passes when the operator opted out.
    if (aud === undefined && introspection!.requireAudience) return refuse("token audience is not this gateway");
    if (aud !== undefined && !aud.some((a) => audience!.includes(a))) return refuse("token audience is not this gateway");
    return finish(result as unknown as Record<string, unknown>);
  }

  // What a client should ask the IdP for to use /mcp; `admin` is deliberately not advertised.
  const mcpScopes = [...new Set([...(scopeMap["mcp:read"] ?? []), ...(scopeMap["mcp:write"] ?? [])])];

  const metadataRoute = (ctx: AuthContext): Response => {
    const base = baseUrl(ctx);
    const body = {
      resource: `${base}/mcp`,
      authorization_servers: [issuer],
      scopes_supported: mcpScopes,
      bearer_methods_supported: ["header"],
      resource_name: "Portcullis MCP gateway",
    };
    // Public metadata that browser-based MCP clients fetch cross-origin.
    return new Response(JSON.stringify(body), {
      headers: { "content-type": "application/json", "cache-control": "max-age=300", "access-control-allow-origin": "*" },
    });
  };

  return {
    name: NAME,
    // The client can get a token with more scope from the IdP: read-only tokens calling write tools get 403 insufficient_scope.
    scopeStepUp: true,
    challenge: (ctx) => {
      const scope = mcpScopes.join(" ");
      return `Bearer resource_metadata="${baseUrl(ctx)}/.well-known/oauth-protected-resource/mcp"${scope ? `, scope="${scope}"` : ""}`;
    },
    routes: [
      { method: "GET", path: "/.well-known/oauth-protected-resource", handler: (_req, ctx) => metadataRoute(ctx) },
      { method: "GET", path: "/.well-known/oauth-protected-resource/mcp", handler: (_req, ctx) => metadataRoute(ctx) },
    ],
    setup(ctx: PluginContext) {
      log = ctx.log;
      publicUrl = ctx.publicUrl;
      // Warm the metadata and key cache so the first caller does not wait; a failure is retried on use.
      server().catch(() => undefined);
    },
    async authenticate(request, ctx): Promise<AuthOutcome> {
      const header = request.headers.get("authorization");
      if (header === null) return undefined;
      const m = /^Bearer\s+(\S+)\s*$/i.exec(header);
      if (!m) return undefined;
      const token = m[1]!;
      if (token.startsWith(TOKEN_PREFIX)) return undefined;
      if (token.length > MAX_TOKEN_LENGTH) return refuse("token too large");
      const parts = token.split(".");
      if (parts.length === 3) return await verifyJwt(token, ctx);
      if (parts.length === 5) return refuse("encrypted access tokens are not supported");
      return introspection ? await introspect(token) : undefined;
    },
    close() {
      cache.clear();
      refusals.clear();
    },
  };
}
