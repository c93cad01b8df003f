import * as v from "valibot";
import { GatewayError } from "../errors.ts";
import { parseRate } from "../limits/rate.ts";
import type { Audit, CreateTokenInput, Identity, Logger, PublicToken, TokenFilter, TokenPolicy, TokenRecord, TokenService, TokenStore, TokenType, VerifyResult } from "../types.ts";
import { lifetimeFor } from "./rotation-policy.ts";
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
  /** Lifetime limits per token kind (`tokens.maxLifetime`); without it a kind limits nothing. */
  policy?: TokenPolicy;
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

/** The store channel on which gateway processes sharing a store announce revoked and rotated credentials. */
export const INVALIDATE_CHANNEL = "token-invalidate";

/** The scopes a token may carry. */
export const KNOWN_SCOPES = ["mcp:read", "mcp:write", "admin", "metrics"] as const;

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
 * The store's lookup key of a `certificate` record: it stands where a token keeps the hash of its secret.
 * The `certificate:` prefix can never equal a SHA-256 (base64url), so no secret ever finds such a record.
 *
 * @example
 * certificateKey({ fingerprint: "9f86d0..." }); // "certificate:sha256:9f86d0..."
 */
export function certificateKey(binding: { fingerprint?: string; subject?: string }): string {
  return binding.fingerprint !== undefined ? `certificate:sha256:${binding.fingerprint}` : `certificate:subject:${binding.subject}`;
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

  // On a store shared by several processes (one with pub/sub), every revoke and rotation is announced so
  // that the others drop their cached decision and end the credential's sessions at once; if a message is
  // lost, their cache entries still end within `verifyCacheMs`. Messages carry ids and hashes, never secrets.
  const origin = newId("gw_");
  const announce = (record: TokenRecord, endsAt: number): void => {
    if (!store.publish) return;
    const message = JSON.stringify({ from: origin, id: record.id, hash: record.hash, endsAt });
    store.publish(INVALIDATE_CHANNEL, message).catch((err: unknown) => {
      opts.log.warn("could not announce a credential change to the other gateway processes", { tokenId: record.id, error: err instanceof Error ? err.message : String(err) });
    });
  };
  const heard = (message: string): void => {
    let m: { from?: unknown; id?: unknown; hash?: unknown; endsAt?: unknown };
    try {
      m = JSON.parse(message);
    } catch {
      return;
    }
    if (m.from === origin || typeof m.id !== "string" || typeof m.hash !== "string" || typeof m.endsAt !== "number") return;
    forget(m.hash);
    invalidated(m.id, m.endsAt);
  };
  const listening = store.subscribe?.(INVALIDATE_CHANNEL, heard).catch((err: unknown) => {
    opts.log.warn("could not listen for credential changes of other gateway processes; their revocations take up to verifyCacheMs here", { error: err instanceof Error ? err.message : String(err) });
    return undefined;
  });

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
    // A kind caps the lifetime: a longer `expiresIn` is refused, a missing one gets at most the kind's maximum.
    const lifetime = lifetimeFor(opts.policy, input.kind, input.expiresInSeconds, defaultLifetime);
    // Checked here too for embedders calling the service directly (the API and CLI check the body first).
    if (input.rateLimit !== undefined) parseRate(input.rateLimit, "rateLimit");
    if (lifetime > maxLifetime) {
      throw new GatewayError("ERR_BAD_REQUEST", `expiresIn: at most ${Math.floor(maxLifetime / 86400)}d is allowed by this gateway`);
    }
    let secret = "";
    let hash: string;
    if (type === "certificate") {
      const binding = input.certificate;
      if (!binding || (binding.fingerprint === undefined) === (binding.subject === undefined)) {
        throw new GatewayError("ERR_BAD_REQUEST", "certificate: expected { fingerprint } or { subject }");
      }
      hash = certificateKey(binding);
      // One live record per certificate or subject: two would leave which rights apply to chance.
      const existing = await store.findByHash(hash);
      if (existing && stateOf(existing, Date.now()) === "active") {
        throw new GatewayError("ERR_CONFLICT", `certificate: ${existing.id} is already the active record for this ${binding.fingerprint ? "certificate" : "subject"}`);
      }
    } else {
      secret = newSecret(prefixOf(type));
      hash = await hashSecret(secret);
    }
    const now = Date.now();
    const record: TokenRecord = {
      id: newId("tok_"),
      hash,
      type,
      kind: input.kind,
      user: input.user,
      name: input.name,
      email: emailOf(input),
      team: input.team,
      roles: input.roles ?? [],
      org: input.org,
      scopes: input.scopes ?? ["mcp:read", "mcp:write"],
      permissions: input.permissions,
      description: input.description,
      rateLimit: input.rateLimit,
      parentId: input.parentId,
      createdAt: new Date(now).toISOString(),
      createdBy: actor,
      expiresAt: new Date(now + lifetime * 1000).toISOString(),
      useCount: 0,
      ...(type === "certificate" ? { certificate: { ...input.certificate } } : {}),
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
    announce(previous, now);
  }

  /**
   * Revokes the tokens a credential made for itself (self-service), and theirs, whichever secret of the
   * credential made them: this one or one it was rotated from.
   */
  async function revokeChildren(r: TokenRecord, actor: string): Promise<void> {
    const lineage = new Set<string>([r.id]);
    for (let p = r.rotatedFrom ? await store.get(r.rotatedFrom) : undefined; p && !lineage.has(p.id); p = p.rotatedFrom ? await store.get(p.rotatedFrom) : undefined) lineage.add(p.id);
    const now = Date.now();
    const children = (await store.list()).filter((c) => c.parentId !== undefined && lineage.has(c.parentId) && stateOf(c, now) === "active" && !c.rotatedTo);
    for (const child of children) {
      try {
        await service.revoke(child.id, `${actor}, with ${r.id}`);
      } catch (err) {
        // Revoked meanwhile by someone else: that is the outcome wanted.
        if (!(err instanceof GatewayError && err.code === "ERR_CONFLICT")) throw err;
      }
    }
  }

  const service: TokenService = {
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
      if (type === "certificate" || !wellFormed(secret, prefixOf(type))) return { ok: false, code: "ERR_INVALID_CREDENTIAL", reason: "malformed or corrupted credential" };
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
      announce(r, Date.parse(updated.revokedAt));
      // Revoking a rotated token revokes the secret it replaced too, even inside its grace period: the
      // credential is withdrawn, not one of its two secrets.
      await endGrace(r, Date.parse(updated.revokedAt));
      audit.emit({ type: "token", action: "revoke", actor, tokenId: id, user: r.user, tokenType: r.type });
      await revokeChildren(r, actor);
      return view(updated);
    },

    async rotate(id, graceSeconds, actor) {
      const old = await mustGet(id);
      if (old.type === "certificate") throw new GatewayError("ERR_CONFLICT", `${id} is a certificate record, which has no secret to rotate: create a record for the new certificate and revoke this one`);
      const state = stateOf(old, Date.now());
      if (state !== "active" || old.rotatedTo) throw new GatewayError("ERR_CONFLICT", `token ${id} is ${old.rotatedTo ? "already rotated" : state} and cannot be rotated`);
      // The successor ends exactly when the original would have: rotating can never extend a lifetime.
      const inherited = old.expiresAt ? { expiresAt: old.expiresAt } : {};
      const { record, secret } = await issue({ ...old, expiresInSeconds: old.kind === undefined ? Math.min(defaultLifetime, maxLifetime) : undefined }, actor, { rotatedFrom: old.id, ...inherited });
      const now = Date.now();
      // A predecessor still inside its grace period ends now, so rotating in a loop never leaves more
      // than two secrets alive.
      await endGrace(old, now);
      const endsAt = Math.min(now + graceSeconds * 1000, old.expiresAt ? Date.parse(old.expiresAt) : Infinity);
      forget(old.hash);
      await store.put({ ...old, rotatedTo: record.id, revokedAt: new Date(endsAt).toISOString() });
      forget(old.hash);
      invalidated(old.id, endsAt);
      announce(old, endsAt);
      audit.emit({ type: "token", action: "rotate", actor, tokenId: id, newTokenId: record.id, user: old.user, tokenType: old.type });
      return { record: view(record), secret };
    },

    async findCertificate(fingerprint, subject) {
      for (const key of [certificateKey({ fingerprint }), ...(subject ? [certificateKey({ subject })] : [])]) {
        const hit = verified.get(key);
        const now = Date.now();
        if (hit !== undefined && hit.until > now && hit.record.type === "certificate") {
          used(hit.record.id, now);
          return { ok: true, record: hit.record };
        }
        const seen = epoch;
        const record = await store.findByHash(key);
        if (!record || record.type !== "certificate" || record.hash !== key) continue;
        const state = stateOf(record, now);
        if (state === "revoked") return { ok: false, code: "ERR_TOKEN_REVOKED", reason: "the certificate's record was revoked", tokenId: record.id };
        if (state === "expired") return { ok: false, code: "ERR_TOKEN_EXPIRED", reason: "the certificate's record expired", tokenId: record.id };
        used(record.id, now);
        if (cacheMs > 0 && seen === epoch) {
          if (verified.size >= cacheSize) verified.delete(verified.keys().next().value!);
          verified.set(key, { record, until: Math.min(now + cacheMs, record.expiresAt ? Date.parse(record.expiresAt) : Infinity) });
        }
        return { ok: true, record };
      }
      return undefined;
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
      await (await listening)?.().catch(() => undefined);
      await flush();
    },
  };
  return service;
}
