import * as oauth from "oauth4webapi";
import { GatewayError, hashSecret, type AuthOutcome, type Identity, type Logger } from "../../../core/mod.ts";
import { identityFrom, refuse } from "./identity.ts";
import type { IntrospectionSettings, ResolvedOidcOptions } from "./options.ts";
import type { Discover } from "./verify.ts";

const MAX_CACHED = 10_000;
// Refusals are remembered by token hash so a flood of junk bearers costs the IdP one call each at most.
const NEGATIVE_CACHE_MS = 30_000;

/** RFC 7662 introspection of opaque access tokens, with its caches. */
export interface Introspector {
  /** The verdict on an opaque token; undefined when the IdP offers no introspection endpoint. */
  introspect(token: string): Promise<AuthOutcome>;
  /** Forgets every cached answer. */
  clear(): void;
}

/**
 * Asks the IdP about opaque tokens (RFC 7662). Active answers are reused briefly (never past `exp`),
 * refusals for 30 s, both by token hash; concurrent requests with one token share one call, and more
 * than `maxInFlight` calls at once answer 503 `ERR_OVERLOADED` rather than queue.
 *
 * @example
 * const introspector = createIntrospector(options.introspection, options, discover, () => log);
 * await introspector.introspect("2YotnFZFEjr1zCsicMWpAA"); // { identity } | { error } | undefined
 */
export function createIntrospector(settings: IntrospectionSettings, options: ResolvedOidcOptions, discover: Discover, log: () => Logger | undefined): Introspector {
  const { issuer, clockSkew, timeoutMs, insecure } = options;
  const cache = new Map<string, { identity: Identity; until: number }>();
  const refusals = new Map<string, { refusal: NonNullable<AuthOutcome>; until: number }>();
  const pending = new Map<string, Promise<AuthOutcome>>();
  let inFlight = 0;
  let warnedNoEndpoint = false;

  /** Remembers a refusal by token hash; the oldest entry goes first when full. */
  function rememberRefusal(key: string, refusal: NonNullable<AuthOutcome>, now: number): void {
    if (refusals.size >= MAX_CACHED) refusals.delete(refusals.keys().next().value!);
    refusals.set(key, { refusal, until: now + NEGATIVE_CACHE_MS });
  }

  async function introspect(token: string): Promise<AuthOutcome> {
    const { metadata } = await discover();
    if (!metadata.introspection_endpoint) {
      if (!warnedNoEndpoint) log()?.warn("oidc: introspection is configured but the IdP advertises no introspection endpoint", { issuer });
      warnedNoEndpoint = true;
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
    if (inFlight >= settings.maxInFlight) {
      // 503, not 401: the token may well be good, and a 401 would send the client to re-authenticate.
      throw new GatewayError("ERR_OVERLOADED", "too many token introspections in progress; try again later");
    }
    inFlight++;
    const call = introspectNow(metadata, token, key, now);
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
      const client: oauth.Client = { client_id: settings.clientId };
      const response = await oauth.introspectionRequest(as, client, settings.auth, token, { signal: AbortSignal.timeout(timeoutMs), [oauth.allowInsecureRequests]: insecure });
      result = await oauth.processIntrospectionResponse(as, client, response);
    } catch (err) {
      log()?.warn("oidc: introspection failed", { issuer, error: err instanceof Error ? err.name : "error" });
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
      const until = Math.min(now + settings.cacheMs, typeof result.exp === "number" ? result.exp * 1000 : Infinity);
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
    if (aud === undefined && settings.requireAudience) return refuse("token audience is not this gateway");
    if (aud !== undefined && !aud.some((a) => options.audience.includes(a))) return refuse("token audience is not this gateway");
    return identityFrom(result as unknown as Record<string, unknown>, options);
  }

  return {
    introspect,
    clear() {
      cache.clear();
      refusals.clear();
    },
  };
}
