import { createRemoteJWKSet, decodeJwt, decodeProtectedHeader, errors, jwtVerify, type JWTPayload, type JWTVerifyGetKey, type JWTVerifyOptions } from "jose";
import * as oauth from "oauth4webapi";
import { GatewayError, type AuthOutcome, type Logger } from "../../../core/mod.ts";
import { identityFrom, refuse, type Refusal } from "./identity.ts";
import type { ResolvedOidcOptions } from "./options.ts";

// After a failed discovery the next request tries again this soon, so an IdP down at start does not stick.
const DISCOVERY_RETRY_MS = 5000;

/** What discovery found: the IdP's metadata and its signing keys (cached; an unknown `kid` refetches at most once per cooldown). */
export interface Discovered {
  metadata: oauth.AuthorizationServer;
  keys: JWTVerifyGetKey;
}

/** The IdP's discovered metadata and keys, fetched once and shared; rejects with `ERR_UPSTREAM_UNAVAILABLE`. */
export type Discover = () => Promise<Discovered>;

/**
 * Discovery (OIDC, else RFC 8414) and the key-set cache of the configured issuer. The first call
 * fetches; later calls share the answer, and a failure is retried after 5 s.
 *
 * @example
 * const discover = createDiscovery(options, () => log);
 * const { metadata } = await discover();
 */
export function createDiscovery(options: ResolvedOidcOptions, log: () => Logger | undefined): Discover {
  const { issuer, issuerUrl, insecure, timeoutMs } = options;
  let discovered: Promise<Discovered> | undefined;
  let failedAt = 0;

  async function fetchMetadata(): Promise<oauth.AuthorizationServer> {
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

  return function discover(): Promise<Discovered> {
    if (discovered === undefined || (failedAt !== 0 && Date.now() - failedAt > DISCOVERY_RETRY_MS)) {
      failedAt = 0;
      discovered = fetchMetadata().then((metadata) => {
        if (typeof metadata.jwks_uri !== "string") throw new Error("the IdP's metadata has no jwks_uri");
        const keys = createRemoteJWKSet(new URL(metadata.jwks_uri), { cacheMaxAge: options.jwks.cacheMaxAgeMs, cooldownDuration: options.jwks.cooldownMs, timeoutDuration: timeoutMs });
        return { metadata, keys };
      });
      discovered.catch((err) => {
        failedAt = Date.now();
        log()?.warn("oidc: discovery failed", { issuer, error: err instanceof Error ? err.message : String(err) });
      });
    }
    return discovered.catch(() => {
      throw new GatewayError("ERR_UPSTREAM_UNAVAILABLE", "the identity provider's metadata could not be fetched");
    });
  };
}

/** Turns jose's verification errors into refusals whose reasons name the check, never the token. */
function refusalOf(err: unknown): Refusal {
  const code = (err as { code?: string }).code;
  const claim = (err as { claim?: string }).claim;
  if (code === "ERR_JWT_EXPIRED") return refuse("token expired", "ERR_TOKEN_EXPIRED");
  const reason = code === "ERR_JWT_CLAIM_VALIDATION_FAILED"
    ? claim === "nbf" ? "token is not valid yet" : claim === "aud" ? "token audience is not this gateway" : claim === "iss" ? "token issuer is not the configured issuer" : `token claim ${claim ?? ""} is invalid`
    : code === "ERR_JWKS_NO_MATCHING_KEY" ? "no signing key of the issuer matches the token"
    : code === "ERR_JWS_SIGNATURE_VERIFICATION_FAILED" ? "token signature is invalid"
    : code === "ERR_JOSE_ALG_NOT_ALLOWED" ? "token algorithm is not allowed"
    : "malformed token";
  return refuse(reason);
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

/** Judges a JWT access token; `ownOrigins` are the gateway's own, whose tokens (oauthServer) belong to another strategy. */
export type JwtVerifier = (token: string, ownOrigins: Array<string | undefined>) => Promise<AuthOutcome>;

/**
 * Verifies JWT access tokens of the configured issuer against its JWKS: algorithm, issuer (or an alias),
 * audience, `exp`/`nbf` with the clock skew, then the identity. JWTs of other issuers are refused, or
 * left to the next strategy with `otherIssuers: "skip"`; an unreachable JWKS throws `ERR_UPSTREAM_UNAVAILABLE`.
 *
 * @example
 * const verifyJwt = createJwtVerifier(options, createDiscovery(options, () => log), () => log);
 * await verifyJwt(token, [publicUrl, ctx.url.origin]); // { identity } | { error } | undefined
 */
export function createJwtVerifier(options: ResolvedOidcOptions, discover: Discover, log: () => Logger | undefined): JwtVerifier {
  const { issuer, aliases, algorithms } = options;
  const strip = (u: string): string => u.replace(/\/+$/, "");

  return async function verifyJwt(token, ownOrigins) {
    let alg: unknown;
    let iss: unknown;
    try {
      alg = decodeProtectedHeader(token).alg;
      iss = decodeJwt(token).iss;
    } catch {
      return refuse("malformed token");
    }
    if (typeof iss === "string" && strip(iss) !== strip(issuer) && !aliases.includes(iss)) {
      const own = ownOrigins.filter((u): u is string => !!u).map(strip);
      if (own.includes(strip(iss)) || options.otherIssuers === "skip") return undefined;
    }
    if (typeof alg !== "string" || !algorithms.includes(alg)) return refuse("token algorithm is not allowed");
    const { metadata, keys } = await discover();
    let payload: JWTPayload;
    try {
      payload = await verifyWithKeySet(token, keys, {
        issuer: [metadata.issuer, ...aliases],
        audience: options.audience,
        algorithms,
        clockTolerance: options.clockSkew,
        requiredClaims: ["exp"],
      });
    } catch (err) {
      if (isUnreachable(err)) {
        log()?.warn("oidc: the IdP's JWKS could not be fetched", { issuer });
        throw new GatewayError("ERR_UPSTREAM_UNAVAILABLE", "the identity provider's signing keys could not be fetched");
      }
      return refusalOf(err);
    }
    return identityFrom(payload as Record<string, unknown>, options);
  };
}
