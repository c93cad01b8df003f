import { decodeProtectedHeader, exportJWK, generateKeyPair, type JWK, type JWTPayload, jwtVerify, SignJWT } from "jose";
import { GatewayError } from "../errors.ts";
import { hashSecretSync, newId } from "./secret.ts";
import type { SignOptions, SigningKeys, VerifyOptions } from "../types.ts";

interface Key {
  kid: string;
  privateKey: CryptoKey;
  publicKey: CryptoKey;
  publicJwk: JWK;
  /** When a retired key stops being published, ms since epoch; undefined while current. */
  retireAt?: number;
}

/** Options of the key set. */
export interface SigningKeyOptions {
  /** How long a replaced key stays published, seconds: at least the longest lifetime of a signed token. Default 86400. */
  retainSeconds?: number;
}

const ALG = "ES256";
// A P-256 signature check costs 100-500 µs; a token presented again (every call of a session) is
// answered from memory for at most this long, never past its expiry or its key's retirement.
const VERIFIED_TTL_MS = 60_000;
const VERIFIED_MAX = 10_000;

async function makeKey(): Promise<Key> {
  const { privateKey, publicKey } = await generateKeyPair(ALG, { extractable: true });
  const kid = newId("key_");
  const jwk = await exportJWK(publicKey);
  return { kid, privateKey, publicKey, publicJwk: { ...jwk, kid, alg: ALG, use: "sig" } };
}

/**
 * Creates the gateway's key set. Keys live in memory only: a restart makes a new key, so tokens the
 * gateway signed before it (short-lived by design) stop verifying and clients refresh or sign in again;
 * no private key is ever written to disk.
 *
 * @example
 * const keys = createSigningKeys();
 * const jwt = await keys.sign({ email: "a@example.com" }, { issuer, audience: "notes", subject: "alice", expiresInSeconds: 60 });
 */
export function createSigningKeys(options: SigningKeyOptions = {}): SigningKeys {
  const retainMs = (options.retainSeconds ?? 86400) * 1000;
  let keys: Promise<Key[]> | undefined;
  // Keyed by the token's SHA-256 and the checks asked for, never by the token itself.
  const verified = new Map<string, { payload: JWTPayload; until: number; kid: string }>();
  const all = (): Promise<Key[]> => (keys ??= makeKey().then((k) => [k]));
  const live = async (): Promise<Key[]> => {
    const now = Date.now();
    const list = await all();
    const kept = list.filter((k) => k.retireAt === undefined || k.retireAt > now);
    if (kept.length !== list.length) keys = Promise.resolve(kept);
    return kept;
  };

  return {
    async sign(claims, o) {
      const [current] = await all();
      const jwt = new SignJWT({ ...claims })
        .setProtectedHeader({ alg: ALG, kid: current!.kid, ...(o.typ ? { typ: o.typ } : {}) })
        .setIssuer(o.issuer)
        .setAudience(o.audience)
        .setIssuedAt()
        .setExpirationTime(Math.floor(Date.now() / 1000) + o.expiresInSeconds)
        .setJti(claims.jti ?? crypto.randomUUID());
      if (o.subject !== undefined) jwt.setSubject(o.subject);
      return await jwt.sign(current!.privateKey);
    },

    async verify(token, o) {
      const cacheKey = `${o.typ ?? ""}|${String(o.issuer)}|${String(o.audience)}|${hashSecretSync(token)}`;
      const hit = verified.get(cacheKey);
      if (hit) {
        if (hit.until > Date.now() && (await live()).some((k) => k.kid === hit.kid)) return hit.payload;
        verified.delete(cacheKey);
      }
      let kid: string | undefined;
      try {
        const header = decodeProtectedHeader(token);
        if (header.alg !== ALG) throw new Error("algorithm not allowed");
        kid = header.kid;
      } catch {
        throw new GatewayError("ERR_INVALID_CREDENTIAL", "malformed or unsupported token");
      }
      const key = (await live()).find((k) => k.kid === kid);
      if (!key) throw new GatewayError("ERR_INVALID_CREDENTIAL", "token signed by an unknown or retired key");
      try {
        const { payload } = await jwtVerify(token, key.publicKey, {
          algorithms: [ALG],
          issuer: o.issuer,
          audience: o.audience,
          typ: o.typ,
          clockTolerance: o.clockToleranceSeconds ?? 30,
          requiredClaims: ["exp", "iat"],
        });
        const until = Math.min(Date.now() + VERIFIED_TTL_MS, (payload.exp as number) * 1000);
        // Map order is insertion order: the oldest entry goes first when full.
        if (verified.size >= VERIFIED_MAX) verified.delete(verified.keys().next().value!);
        verified.set(cacheKey, { payload, until, kid: key.kid });
        return payload;
      } catch (err) {
        const code = (err as { code?: string }).code;
        if (code === "ERR_JWT_EXPIRED") throw new GatewayError("ERR_TOKEN_EXPIRED", "token expired");
        throw new GatewayError("ERR_INVALID_CREDENTIAL", code === "ERR_JWT_CLAIM_VALIDATION_FAILED" ? `token claim check failed: ${(err as Error).message}` : "invalid token signature");
      }
    },

    async jwks() {
      return { keys: (await live()).map((k) => k.publicJwk) };
    },

    async rotate() {
      const list = await all();
      const fresh = await makeKey();
      const now = Date.now();
      for (const k of list) k.retireAt ??= now + retainMs;
      keys = Promise.resolve([fresh, ...list]);
    },
  };
}
