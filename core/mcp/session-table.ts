import { GatewayError } from "../errors.ts";
import type { Identity, Logger } from "../types.ts";
import { credentialOf, principalOf } from "../auth/principal.ts";
import { unrefTimer } from "../unref-timer.ts";

/** What the table keeps of every session, whatever its transport. */
export interface SessionEntry {
  id: string;
  /** Whose session it is (issuer-qualified subject). */
  principal: string;
  /** The credential that opened it; no other credential may use it. */
  credential: string;
  /** The credential's id as its issuer knows it (token id, OAuth grant), for revocation. */
  credentialId: string | undefined;
  /** The one server it serves (`/mcp/<server>`, `/sse/<server>`), or undefined for all. */
  only: string | undefined;
  lastSeen: number;
  /** When the credential stops being valid, ms; the session ends then. */
  expiresAt: number;
}

/** Limits of one table of sessions. */
export interface SessionLimits {
  maxSessions: number;
  maxSessionsPerUser: number;
  sessionIdleSeconds: number;
  log: Logger;
  /** Closes a session's transport; called once when the table ends a session. */
  close(session: SessionEntry): void | Promise<void>;
}

/** The open sessions of one transport, bounded, with least-recently-used eviction per caller. */
export interface SessionTable<S extends SessionEntry> {
  /**
   * The session `id` if `identity`'s credential opened it (and, when `path` is given, for that path's
   * server), else `ERR_SESSION_NOT_FOUND`; touched.
   */
  use(id: string, identity: Identity, path?: { only: string | undefined }): S;
  /** Makes room for a new session of `identity` (its own least recently used goes first), or `ERR_OVERLOADED`. */
  admit(identity: Identity): void;
  /** The fields of a new session of `identity` (add the transport's own and `add()` it). */
  entry(id: string, identity: Identity, only: string | undefined): SessionEntry;
  add(session: S): void;
  get(id: string): S | undefined;
  /** Removes a session whose transport already closed. */
  forget(session: S): void;
  /** Ends a session: removes it and closes its transport. */
  end(session: S, why: string): Promise<void>;
  values(): S[];
  size(): number;
  /** The credential stops being valid at `at` (ms): its sessions end then, or now. */
  expireCredential(credentialId: string, at: number): void;
  /** Ends every session and the sweep; resolves when their transports have closed. */
  close(): Promise<void>;
}

const notFound = (): GatewayError => new GatewayError("ERR_SESSION_NOT_FOUND", "Session not found");

/**
 * A table of sessions shared by the Streamable HTTP sessions and the legacy SSE ones: bound to the
 * credential that opened them, capped in all and per caller, closed when idle or when the credential ends.
 *
 * @example
 * const table = createSessionTable<Session>({ maxSessions: 10000, maxSessionsPerUser: 16, sessionIdleSeconds: 600, log, close: (s) => s.transport.close() });
 */
export function createSessionTable<S extends SessionEntry>(limits: SessionLimits): SessionTable<S> {
  const sessions = new Map<string, S>();
  // principal -> ids of its open sessions, least recently used first
  const byPrincipal = new Map<string, Set<string>>();

  const forget = (session: S): void => {
    if (sessions.get(session.id) !== session) return;
    sessions.delete(session.id);
    const own = byPrincipal.get(session.principal);
    own?.delete(session.id);
    if (own?.size === 0) byPrincipal.delete(session.principal);
  };
  const end = (session: S, why: string): Promise<void> => {
    if (sessions.get(session.id) !== session) return Promise.resolve();
    forget(session);
    limits.log.debug("session closed", { session: session.id.slice(0, 8), why });
    return Promise.resolve(limits.close(session)).catch(() => undefined);
  };
  const touch = (session: S): void => {
    session.lastSeen = Date.now();
    // Re-inserting keeps each principal's set in least-recently-used order.
    const own = byPrincipal.get(session.principal);
    if (own) {
      own.delete(session.id);
      own.add(session.id);
    }
  };

  const sweep = setInterval(() => {
    const now = Date.now();
    const cutoff = now - limits.sessionIdleSeconds * 1000;
    for (const s of [...sessions.values()]) {
      if (s.lastSeen < cutoff) end(s, "idle");
      else if (s.expiresAt <= now) end(s, "credential no longer valid");
    }
  }, Math.min(10_000, limits.sessionIdleSeconds * 500));
  unrefTimer(sweep);

  return {
    use(id, identity, path) {
      const session = sessions.get(id);
      // A session belongs to the credential and the path that opened it; anyone else is told it does not exist.
      if (!session || session.credential !== credentialOf(identity) || (path && session.only !== path.only)) throw notFound();
      if (session.expiresAt <= Date.now()) {
        end(session, "credential no longer valid");
        throw notFound();
      }
      // The same credential presented again (an OAuth grant's refreshed access token) says how long it lasts now.
      session.expiresAt = identity.expiresAt ?? Infinity;
      touch(session);
      return session;
    },
    admit(identity) {
      const own = byPrincipal.get(principalOf(identity));
      // One caller can never use up the gateway's sessions: at their own limit, their least recently used goes.
      while (own && own.size >= limits.maxSessionsPerUser) {
        const oldest = sessions.get(own.values().next().value!);
        if (!oldest) break;
        end(oldest, "the caller opened more sessions than allowed per user");
      }
      if (sessions.size >= limits.maxSessions) throw new GatewayError("ERR_OVERLOADED", "too many open sessions; try again later");
    },
    entry: (id, identity, only) => ({
      id,
      principal: principalOf(identity),
      credential: credentialOf(identity),
      credentialId: identity.credentialId ?? identity.tokenId,
      only,
      lastSeen: Date.now(),
      expiresAt: identity.expiresAt ?? Infinity,
    }),
    add(session) {
      sessions.set(session.id, session);
      let set = byPrincipal.get(session.principal);
      if (!set) byPrincipal.set(session.principal, set = new Set());
      set.add(session.id);
    },
    get: (id) => sessions.get(id),
    forget,
    end,
    values: () => [...sessions.values()],
    size: () => sessions.size,
    expireCredential(credentialId, at) {
      const now = Date.now();
      for (const s of [...sessions.values()]) {
        if (s.credentialId !== credentialId) continue;
        if (at <= now) end(s, "credential revoked");
        else s.expiresAt = Math.min(s.expiresAt, at);
      }
    },
    async close() {
      clearInterval(sweep);
      await Promise.all([...sessions.values()].map((s) => end(s, "gateway shutting down")));
    },
  };
}
