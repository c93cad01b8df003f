import * as v from "valibot";
import { GatewayError } from "../errors.ts";
import type { Audit, CreateTokenInput, Identity, Logger, PublicToken, TokenFilter, TokenRecord, TokenService, TokenStore, TokenType, VerifyResult } from "../types.ts";
import { unrefTimer } from "../unref-timer.ts";
import { API_KEY_PREFIX, constantTimeEqual, hashSecret, hashSecretSync, newId, newSecret, TOKEN_PREFIX, wellFormed } from "./secret.ts";

/** Options of the token service. */
export interface TokenServiceOptions {
  store: TokenStore;
  audit: Audit;
  log: Logger;
  /** Lifetime when none is asked for, seconds; default 30 days. */
  defaultLifetimeSeconds?: number;
  /** Longest lifetime allowed, seconds; default 365 days. */
  maxLifetimeSeconds?: number;
  /** How often usage counters are written, ms; default 5000. */
  usageFlushMs?: number;
  /**
   * How long a verified credential may be answered from memory, ms; default 1000, 0 turns the cache off.
   * Revoke and rotate through this service drop the entry at once, and an entry never outlives the
   * credential's expiry or revocation time. Only when several gateway processes share one store does
   * another process's revocation take up to this long to be seen here.
   */
  verifyCacheMs?: number;
  /** Most credentials kept in the verification cache; default 10000. */
  verifyCacheSize?: number;
}

/** The scopes a token may carry. */
export const KNOWN_SCOPES = ["mcp:read", "mcp:write", "admin"] as const;

const EMAIL = v.pipe(v.string(), v.maxLength(320), v.email());

/**
 * The email address of a token's user: its `email`, else its `user` when that is an email address
 * (`"user": "alice@example.com"` forwards `X-User-Email` without saying it twice).
 *
 * @example
 * emailOf({ user: "alice@example.com" }); // "alice@example.com"
 */
export function emailOf(record: Pick<TokenRecord, "user" | "email">): string | undefined {
  // The `@` test first: this runs for every request of a token whose user is a plain name.
  return record.email ?? (record.user.includes("@") && v.is(EMAIL, record.user) ? record.user : undefined);
}

function prefixOf(type: TokenType): string {
  return type === "api-key" ? API_KEY_PREFIX : TOKEN_PREFIX;
}

/**
 * The state of a record at `now`.
 *
 * @example
 * stateOf(record, Date.now()); // "active" | "expired" | "revoked"
 */
export function stateOf(record: TokenRecord, now: number): PublicToken["state"] {
  if (record.revokedAt && Date.parse(record.revokedAt) <= now) return "revoked";
  if (record.expiresAt && Date.parse(record.expiresAt) <= now) return "expired";
  return "active";
}

/**
 * Turns a record into the identity it authenticates.
 *
 * @example
 * const identity = identityOf(record, "auth:bearer");
 */
export function identityOf(record: TokenRecord, strategy: string): Identity {
  const ends = Math.min(
    record.expiresAt ? Date.parse(record.expiresAt) : Infinity,
    record.revokedAt ? Date.parse(record.revokedAt) : Infinity,
  );
  return {
    subject: record.user,
    issuer: "gateway",
    ...(Number.isFinite(ends) ? { expiresAt: ends } : {}),
    name: record.name,
    // Records made before `user` stood in for a missing email still forward it.
    email: emailOf(record),
    team: record.team,
    roles: record.roles,
    org: record.org,
    scopes: record.scopes,
    permissions: record.permissions,
    tokenId: record.id,
    strategy,
  };
}

/**
 * Creates the token service over a store.
 *
 * @example
 * const tokens = createTokenService({ store: memoryStore(), audit, log });
 * const { secret } = await tokens.create({ user: "alice" }, "admin");
 */
export function createTokenService(opts: TokenServiceOptions): TokenService {
  const { store, audit } = opts;
  const defaultLifetime = opts.defaultLifetimeSeconds ?? 30 * 86400;
  const maxLifetime = opts.maxLifetimeSeconds ?? 365 * 86400;
  // Usage is counted in memory with a plain timestamp; dates are formatted only when written or shown.
  const pending = new Map<string, { count: number; lastUsedMs: number }>();
  const cacheMs = opts.verifyCacheMs ?? 1000;
  const cacheSize = opts.verifyCacheSize ?? 10_000;
  // Keyed by the secret's hash, never by the secret: nothing here is worth more than what the store holds.
  const verified = new Map<string, { record: TokenRecord; until: number }>();
  // Bumped by every revoke and rotate, so a lookup that raced one of them is never cached.
  let epoch = 0;
  const forget = (hash: string): void => {
    epoch++;
    verified.delete(hash);
  };
  const listeners = new Set<(tokenId: string, endsAt: number) => void>();
  const invalidated = (tokenId: string, endsAt: number): void => {
    for (const l of listeners) {
      try {
        l(tokenId, endsAt);
      } catch (err) {
        opts.log.warn("credential invalidation listener failed", { error: err instanceof Error ? err.message : String(err) });
      }
    }
  };

  const view = (r: TokenRecord, now = Date.now()): PublicToken => {
    const { hash: _hash, ...rest } = r;
    const p = pending.get(r.id);
    const lastUsedAt = p ? new Date(p.lastUsedMs).toISOString() : r.lastUsedAt;
    return { ...rest, useCount: r.useCount + (p?.count ?? 0), lastUsedAt, state: stateOf(r, now) };
  };
  const used = (id: string, now: number): void => {
    const p = pending.get(id);
    if (p) {
      p.count++;
      p.lastUsedMs = now;
    } else pending.set(id, { count: 1, lastUsedMs: now });
  };

  async function issue(input: CreateTokenInput, actor: string, extra: Partial<TokenRecord> = {}): Promise<{ record: TokenRecord; secret: string }> {
    const type = input.type ?? "token";
    const lifetime = input.expiresInSeconds ?? defaultLifetime;
    if (lifetime > maxLifetime) {
      throw new GatewayError("ERR_BAD_REQUEST", `expiresIn: at most ${Math.floor(maxLifetime / 86400)}d is allowed by this gateway`);
    }
    const secret = newSecret(prefixOf(type));
    const now = Date.now();
    const record: TokenRecord = {
      id: newId("tok_"),
      hash: await hashSecret(secret),
      type,
      user: input.user,
      name: input.name,
      email: emailOf(input),
      team: input.team,
      roles: input.roles ?? [],
      org: input.org,
      scopes: input.scopes ?? ["mcp:read", "mcp:write"],
      permissions: input.permissions,
      description: input.description,
      createdAt: new Date(now).toISOString(),
      createdBy: actor,
      expiresAt: new Date(now + lifetime * 1000).toISOString(),
      useCount: 0,
      ...extra,
    };
    for (const k of Object.keys(record) as Array<keyof TokenRecord>) if (record[k] === undefined) delete record[k];
    await store.put(record);
    return { record, secret };
  }

  async function mustGet(id: string): Promise<TokenRecord> {
    const r = await store.get(id);
    if (!r) throw new GatewayError("ERR_NOT_FOUND", `no token with id ${id}`);
    return r;
  }

  const flush = async (): Promise<void> => {
    if (pending.size === 0) return;
    const updates = [...pending].map(([id, u]) => ({ id, count: u.count, lastUsedAt: new Date(u.lastUsedMs).toISOString() }));
    pending.clear();
    try {
      await store.addUsage(updates);
    } catch (err) {
      opts.log.warn("could not write token usage", { error: err instanceof Error ? err.message : String(err) });
    }
  };
  const timer = setInterval(() => void flush(), opts.usageFlushMs ?? 5000);
  unrefTimer(timer);

  /** Ends now the grace period of the secret `r` replaced, if it is still inside it. */
  async function endGrace(r: TokenRecord, now: number): Promise<void> {
    const previous = r.rotatedFrom ? await store.get(r.rotatedFrom) : undefined;
    if (!previous || previous.rotatedTo !== r.id || stateOf(previous, now) !== "active") return;
    forget(previous.hash);
    await store.put({ ...previous, revokedAt: new Date(now).toISOString() });
    forget(previous.hash);
    invalidated(previous.id, now);
  }

  return {
    async create(input, actor) {
      const { record, secret } = await issue(input, actor);
      audit.emit({ type: "token", action: "create", actor, tokenId: record.id, user: record.user, tokenType: record.type });
      return { record: view(record), secret };
    },

    async verify(secret, type) {
      // A cached hash was computed from a secret that passed every check, so a hit needs no format check;
      // the checksum is what keeps garbage away from the store.
      const hash = typeof secret === "string" && secret.length <= 128 ? hashSecretSync(secret) : "";
      const hit = verified.get(hash);
      if (hit !== undefined) {
        const now = Date.now();
        if (hit.until > now && hit.record.type === type) {
          used(hit.record.id, now);
          return { ok: true, record: hit.record };
        }
        verified.delete(hash);
      }
      if (!wellFormed(secret, prefixOf(type))) return { ok: false, code: "ERR_INVALID_CREDENTIAL", reason: "malformed or corrupted credential" };
      const seen = epoch;
      const record = await store.findByHash(hash);
      if (!record || !constantTimeEqual(record.hash, hash) || record.type !== type) {
        return { ok: false, code: "ERR_INVALID_CREDENTIAL", reason: "unknown credential" };
      }
      const now = Date.now();
      const state = stateOf(record, now);
      if (state === "revoked") {
        return { ok: false, code: "ERR_TOKEN_REVOKED", reason: record.rotatedTo ? "credential was rotated" : "credential was revoked", tokenId: record.id };
      }
      if (state === "expired") return { ok: false, code: "ERR_TOKEN_EXPIRED", reason: "credential expired", tokenId: record.id };
      used(record.id, now);
      if (cacheMs > 0 && seen === epoch) {
        const until = Math.min(
          now + cacheMs,
          record.expiresAt ? Date.parse(record.expiresAt) : Infinity,
          record.revokedAt ? Date.parse(record.revokedAt) : Infinity,
        );
        // Map order is insertion order: the oldest entry goes first when the cache is full.
        if (verified.size >= cacheSize) verified.delete(verified.keys().next().value!);
        verified.set(hash, { record, until });
      }
      return { ok: true, record };
    },

    async get(id) {
      const r = await store.get(id);
      return r && view(r);
    },

    async list(filter = {}) {
      const now = Date.now();
      return (await store.list())
        .map((r) => view(r, now))
        .filter((t) =>
          (filter.user === undefined || t.user === filter.user) &&
          (filter.team === undefined || t.team === filter.team) &&
          (filter.type === undefined || t.type === filter.type) &&
          (filter.state === undefined || t.state === filter.state)
        )
        .sort((a, b) => a.createdAt.localeCompare(b.createdAt));
    },

    async revoke(id, actor) {
      const r = await mustGet(id);
      if (stateOf(r, Date.now()) === "revoked") throw new GatewayError("ERR_CONFLICT", `token ${id} is already revoked`);
      const updated = { ...r, revokedAt: new Date().toISOString() };
      // Forgotten before the write (no request after this point may be answered from memory) and after
      // it (a lookup that started before the write must not put the old record back).
      forget(r.hash);
      await store.put(updated);
      forget(r.hash);
      invalidated(id, Date.parse(updated.revokedAt));
      // Revoking a rotated token revokes the secret it replaced too, even inside its grace period: the
      // credential is withdrawn, not one of its two secrets.
      await endGrace(r, Date.parse(updated.revokedAt));
      audit.emit({ type: "token", action: "revoke", actor, tokenId: id, user: r.user, tokenType: r.type });
      return view(updated);
    },

    async rotate(id, graceSeconds, actor) {
      const old = await mustGet(id);
      const state = stateOf(old, Date.now());
      if (state !== "active" || old.rotatedTo) throw new GatewayError("ERR_CONFLICT", `token ${id} is ${old.rotatedTo ? "already rotated" : state} and cannot be rotated`);
      // The successor ends exactly when the original would have: rotating can never extend a lifetime.
      const inherited = old.expiresAt ? { expiresAt: old.expiresAt } : {};
      const { record, secret } = await issue({ ...old, expiresInSeconds: Math.min(defaultLifetime, maxLifetime) }, actor, { rotatedFrom: old.id, ...inherited });
      const now = Date.now();
      // A predecessor still inside its grace period ends now, so rotating in a loop never leaves more
      // than two secrets alive.
      await endGrace(old, now);
      const endsAt = Math.min(now + graceSeconds * 1000, old.expiresAt ? Date.parse(old.expiresAt) : Infinity);
      forget(old.hash);
      await store.put({ ...old, rotatedTo: record.id, revokedAt: new Date(endsAt).toISOString() });
      forget(old.hash);
      invalidated(old.id, endsAt);
      audit.emit({ type: "token", action: "rotate", actor, tokenId: id, newTokenId: record.id, user: old.user, tokenType: old.type });
      return { record: view(record), secret };
    },

    async hasActiveAdmin() {
      const now = Date.now();
      return (await store.list()).some((r) => r.scopes.includes("admin") && stateOf(r, now) === "active");
    },

    onInvalidate(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },

    flush,

    async close() {
      clearInterval(timer);
      verified.clear();
      await flush();
    },
  };
}
