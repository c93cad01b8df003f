import { principalOf } from "../auth/principal.ts";
import { constantTimeEqual, hashSecretSync, newId, newSecret } from "../tokens/secret.ts";

/**
 * The CSRF token of a session, derived from its cookie secret (which script cannot read): the page gets it
 * in every render without the gateway keeping it, and a page of another site cannot compute it.
 *
 * @example
 * const csrf = csrfFor(cookieSecret);
 */
export function csrfFor(secret: string): string {
  return hashSecretSync(`portcullis-console-csrf\u0000${secret}`);
}
import type { Audit, Identity, TokenStore } from "../types.ts";

/** The store items kind of console sessions (keyed by the hash of the cookie's secret). */
export const CONSOLE_SESSION_KIND = "console-session";

/** How a console session was signed in: a pasted gateway/admin credential, or the IdP through the gateway's OAuth server. */
export type SignInMethod = "token" | "oauth";

/** A console session as stored: hashes only, never the cookie value nor the CSRF token. */
export interface ConsoleSessionRecord {
  /** Public id (`cs_...`): named in the sessions API and audit events; not a credential. */
  id: string;
  /** SHA-256 of the cookie secret (also the item key). */
  hash: string;
  /** SHA-256 of the CSRF token the page sends back in a header. */
  csrfHash: string;
  /** The identity that signed in, as it was then: the session never carries more. */
  identity: Identity;
  /** `principalOf(identity)`: who owns the session. */
  principal: string;
  /** The credential behind the session (a `tok_` id or an OAuth session `ses_` id): ending it ends this session. */
  credential?: string;
  method: SignInMethod;
  createdAt: number;
  lastSeenAt: number;
  /** The absolute end: the absolute timeout, or earlier when the credential behind it ends earlier. */
  expiresAt: number;
  endedAt?: number;
  endReason?: string;
  userAgent?: string;
}

/** A session as the API lists it. */
export interface ConsoleSessionView {
  id: string;
  user: string;
  issuer?: string;
  strategy: string;
  method: SignInMethod;
  admin: boolean;
  createdAt: string;
  lastSeenAt: string;
  expiresAt: string;
  idleExpiresAt: string;
  state: "active" | "ended" | "expired";
  endedAt?: string;
  endReason?: string;
  userAgent?: string;
}

/** Console sessions over the store's items. */
export interface ConsoleSessions {
  /** Starts a session for `identity`; returns the cookie secret and the CSRF token, handed out once. */
  create(identity: Identity, o: { method: SignInMethod; credential?: string; endsAt?: number; userAgent?: string }): Promise<{ record: ConsoleSessionRecord; secret: string; csrf: string }>;
  /** The live session a cookie secret names (touching its idle clock), or undefined when none, ended or timed out. */
  lookup(secret: string): Promise<ConsoleSessionRecord | undefined>;
  /** Whether `csrf` is the session's CSRF token (constant time over the hashes). */
  csrfMatches(record: ConsoleSessionRecord, csrf: string | null): boolean;
  /** Every session, newest first, live or not (ended ones are kept until their absolute end). */
  list(): Promise<ConsoleSessionRecord[]>;
  /** Ends one session by its public id; returns it, or undefined when there is none. */
  end(id: string, reason: string, actor: string): Promise<ConsoleSessionRecord | undefined>;
  /** Ends every session signed in with `credential`, at `endsAt` (now for a revoke, the grace end for a rotation). */
  endForCredential(credential: string, endsAt: number): Promise<void>;
  view(record: ConsoleSessionRecord): ConsoleSessionView;
}

/** Options of {@link createConsoleSessions}. */
export interface ConsoleSessionOptions {
  store: Pick<TokenStore, "getItem" | "putItem" | "takeItem" | "listItems">;
  audit: Audit;
  /** A session unused this long ends, ms. */
  idleMs: number;
  /** A session ends this long after sign-in whatever happens, ms. */
  absoluteMs: number;
}

// Writing the idle clock on every request would turn each page call into a store write.
const TOUCH_EVERY_MS = 30_000;

/**
 * Console sessions: an opaque random cookie secret (only its SHA-256 is stored, as the item key), a CSRF
 * token (only its hash), the signed-in identity, an idle and an absolute timeout. Sessions that ended or
 * timed out are removed once their absolute end has passed.
 *
 * @example
 * const sessions = createConsoleSessions({ store, audit, idleMs: 30 * 60e3, absoluteMs: 12 * 3600e3 });
 * const { secret, csrf } = await sessions.create(identity, { method: "token", credential: identity.tokenId });
 */
export function createConsoleSessions(o: ConsoleSessionOptions): ConsoleSessions {
  const { store } = o;
  const live = (r: ConsoleSessionRecord, now: number): boolean => r.endedAt === undefined && now < r.expiresAt && now < r.lastSeenAt + o.idleMs;
  const all = async (): Promise<ConsoleSessionRecord[]> => (await store.listItems(CONSOLE_SESSION_KIND)).map((i) => i.value as ConsoleSessionRecord);

  async function sweep(now: number): Promise<void> {
    for (const r of await all()) if (now >= r.expiresAt) await store.takeItem(CONSOLE_SESSION_KIND, r.hash);
  }

  async function endRecord(r: ConsoleSessionRecord, reason: string, actor: string): Promise<ConsoleSessionRecord> {
    const ended: ConsoleSessionRecord = { ...r, endedAt: Date.now(), endReason: reason };
    await store.putItem(CONSOLE_SESSION_KIND, r.hash, ended);
    o.audit.emit({ type: "console", action: "session_end", sessionId: r.id, subject: r.identity.subject, actor, reason });
    return ended;
  }

  return {
    async create(identity, c) {
      const now = Date.now();
      await sweep(now).catch(() => undefined);
      const secret = newSecret("pcs_");
      const csrf = csrfFor(secret);
      const hash = hashSecretSync(secret);
      const record: ConsoleSessionRecord = {
        id: newId("cs_"),
        hash,
        csrfHash: hashSecretSync(csrf),
        identity,
        principal: principalOf(identity),
        ...(c.credential !== undefined ? { credential: c.credential } : {}),
        method: c.method,
        createdAt: now,
        lastSeenAt: now,
        expiresAt: Math.min(now + o.absoluteMs, c.endsAt ?? Infinity, identity.expiresAt ?? Infinity),
        ...(c.userAgent ? { userAgent: c.userAgent.slice(0, 200) } : {}),
      };
      await store.putItem(CONSOLE_SESSION_KIND, hash, record);
      o.audit.emit({ type: "console", action: "sign_in", sessionId: record.id, subject: identity.subject, strategy: identity.strategy, method: c.method });
      return { record, secret, csrf };
    },

    async lookup(secret) {
      if (secret.length > 200) return undefined;
      const hash = hashSecretSync(secret);
      const r = (await store.getItem(CONSOLE_SESSION_KIND, hash)) as ConsoleSessionRecord | undefined;
      // The key is the hash; comparing again in constant time keeps a store's own lookup out of the question.
      if (!r || !constantTimeEqual(r.hash, hash)) return undefined;
      const now = Date.now();
      if (!live(r, now)) return undefined;
      if (now - r.lastSeenAt > TOUCH_EVERY_MS) {
        const touched = { ...r, lastSeenAt: now };
        await store.putItem(CONSOLE_SESSION_KIND, hash, touched);
        return touched;
      }
      return r;
    },

    csrfMatches(record, csrf) {
      if (csrf === null || csrf.length > 200) return false;
      return constantTimeEqual(hashSecretSync(csrf), record.csrfHash);
    },

    async list() {
      return (await all()).sort((a, b) => b.createdAt - a.createdAt);
    },

    async end(id, reason, actor) {
      const r = (await all()).find((s) => s.id === id);
      if (!r) return undefined;
      if (r.endedAt !== undefined) return r;
      return await endRecord(r, reason, actor);
    },

    async endForCredential(credential, endsAt) {
      const now = Date.now();
      for (const r of await all()) {
        if (r.credential !== credential || r.endedAt !== undefined) continue;
        if (endsAt <= now) await endRecord(r, "credential ended", "gateway");
        else if (endsAt < r.expiresAt) await store.putItem(CONSOLE_SESSION_KIND, r.hash, { ...r, expiresAt: endsAt });
      }
    },

    view(r) {
      const now = Date.now();
      const idleEnd = r.lastSeenAt + o.idleMs;
      return {
        id: r.id,
        user: r.identity.subject,
        ...(r.identity.issuer !== undefined ? { issuer: r.identity.issuer } : {}),
        strategy: r.identity.strategy,
        method: r.method,
        admin: r.identity.scopes.includes("admin"),
        createdAt: new Date(r.createdAt).toISOString(),
        lastSeenAt: new Date(r.lastSeenAt).toISOString(),
        expiresAt: new Date(r.expiresAt).toISOString(),
        idleExpiresAt: new Date(Math.min(idleEnd, r.expiresAt)).toISOString(),
        state: r.endedAt !== undefined ? "ended" : live(r, now) ? "active" : "expired",
        ...(r.endedAt !== undefined ? { endedAt: new Date(r.endedAt).toISOString() } : {}),
        ...(r.endReason !== undefined ? { endReason: r.endReason } : {}),
        ...(r.userAgent !== undefined ? { userAgent: r.userAgent } : {}),
      };
    },
  };
}
