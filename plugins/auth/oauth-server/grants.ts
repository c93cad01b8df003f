import { hashSecret, newId, newSecret, type Permissions, type TokenStore } from "../../../core/mod.ts";

/** The user (or machine client) a grant is for. */
export interface GrantSubject {
  subject: string;
  email?: string;
  name?: string;
  team?: string;
  org?: string;
  roles: string[];
  permissions?: Permissions;
}

/**
 * One session: what a user allowed one client, from sign-in until it is ended or expires. Its refresh
 * tokens form one family; ending it revokes them and every access token that names it (`sid`).
 */
export interface SessionRecord extends GrantSubject {
  id: string;
  clientId: string;
  clientName: string;
  grantType: "authorization_code" | "client_credentials";
  scopes: string[];
  createdAt: string;
  expiresAt: string;
  lastRefreshedAt?: string;
  refreshCount: number;
  endedAt?: string;
  endReason?: "ended" | "revoked" | "refresh_reuse" | "code_replay";
  endedBy?: string;
  /**
   * RFC 8705: the SHA-256 thumbprint (base64url) of the client certificate the session's first token was
   * issued to. Every access token of the session carries it as `cnf.x5t#S256`, and the session's refresh
   * tokens are only redeemed with the same certificate.
   */
  x5t?: string;
}

/** An authorization code waiting to be redeemed. Stored under the code's hash. */
export interface CodeRecord {
  /** The id the session gets when the code is redeemed, known up front so a replay marker can name it. */
  sid: string;
  clientId: string;
  redirectUri: string;
  codeChallenge: string;
  resource: string;
  scopes: string[];
  user: GrantSubject;
  expiresAt: number;
}

/** What a user approved on the consent page: later sign-ins asking for the same may skip the page. */
export interface Approval {
  subject: string;
  clientId: string;
  redirectUri: string;
  scopes: string[];
}

interface RefreshRecord {
  sid: string;
  clientId: string;
  expiresAt: number;
}

interface UsedMarker {
  sid: string;
  expiresAt: number;
}

/** Written by endSession only, never by a refresh: the store's word that a session is over. */
interface EndedMark {
  endedAt: string;
  endReason: NonNullable<SessionRecord["endReason"]>;
  endedBy: string;
  expiresAt: number;
}

interface ApprovalSet {
  subject: string;
  clientId: string;
  entries: Array<{ redirectUri: string; scopes: string[]; expiresAt: number }>;
  expiresAt: number;
}

/**
 * Store kind of a sign-in waiting for the IdP's answer (written by `/oauth/authorize`, swept here by `expiresAt`).
 *
 * @example
 * await store.putItem(LOGIN_KIND, await hashSecret(state), { ...pending, expiresAt: Date.now() + 600_000 });
 */
export const LOGIN_KIND = "oauth:login";
/**
 * Store kind of a consent page waiting for its answer (written by `/oauth/callback`, swept here by `expiresAt`).
 *
 * @example
 * await store.takeItem(CONSENT_KIND, await hashSecret(consentId));
 */
export const CONSENT_KIND = "oauth:consent";

const SESSION = "oauth:session";
const SESSION_ENDED = "oauth:session-ended";
const CODE = "oauth:code";
const CODE_USED = "oauth:code-used";
const REFRESH = "oauth:refresh";
const REFRESH_USED = "oauth:refresh-used";
const APPROVAL = "oauth:approval";
// Every kind whose items carry `expiresAt` (ms) and are removed once it has passed.
const EXPIRING = [CODE, CODE_USED, REFRESH, REFRESH_USED, SESSION_ENDED, APPROVAL, LOGIN_KIND, CONSENT_KIND];
// How long a redeemed secret is remembered, so a replay is recognised (and punished) rather than just refused.
const CODE_MEMORY_MS = 10 * 60_000;
// A session's state, as seen by the access-token check, may be this old on a gateway that did not end it
// itself. A store shared by several gateway processes (one with pub/sub) gets the shorter bound: a grant
// ended on one instance is refused by every other within a second.
const ACTIVE_CACHE_MS = 15_000;
const SHARED_ACTIVE_CACHE_MS = 1_000;
const SWEEP_EVERY_MS = 10 * 60_000;
const DAY_MS = 86_400_000;
// Redirect URI / scope combinations remembered per user and client; the oldest goes first.
const APPROVALS_PER_CLIENT = 10;

/** The outcome of redeeming a code or refresh token. */
export type Redeemed<T> = { ok: T; replayOf?: undefined } | { ok?: undefined; replayOf?: SessionRecord };

/** Grants, sessions, codes and refresh tokens over the store; secrets only as hashes. */
export interface Grants {
  /** Creates a session (with `id` when a code reserved one); undefined when that id was ended meanwhile (a replay). */
  createSession(input: Omit<SessionRecord, "id" | "createdAt" | "refreshCount"> & { id?: string }): Promise<SessionRecord | undefined>;
  getSession(id: string): Promise<SessionRecord | undefined>;
  listSessions(): Promise<SessionRecord[]>;
  /** Ends a session: its refresh family and access tokens stop working at once. */
  endSession(id: string, reason: NonNullable<SessionRecord["endReason"]>, actor: string): Promise<SessionRecord | undefined>;
  /** Hot path of every `/mcp` call: memory first, the store at most every 15 s per session (1 s on a shared store). */
  isActive(sid: string): Promise<boolean>;
  issueCode(record: Omit<CodeRecord, "sid">): Promise<string>;
  /** Takes the code (one-time); a replay of a redeemed code, or losing a concurrent redemption, reports its session. */
  redeemCode(code: string): Promise<Redeemed<CodeRecord>>;
  issueRefresh(session: SessionRecord): Promise<string>;
  redeemRefresh(token: string): Promise<Redeemed<{ session: SessionRecord; clientId: string }>>;
  /** Looks a refresh token up without using it (RFC 7009 revocation ends its session). */
  findRefresh(token: string): Promise<{ sid: string; clientId: string } | undefined>;
  /** Records a refresh; undefined (issue nothing) when the session was ended or expired meanwhile. */
  touch(sid: string): Promise<SessionRecord | undefined>;
  /** Remembers a consent for `ttlSeconds`. */
  rememberApproval(approval: Approval, ttlSeconds: number): Promise<void>;
  hasApproval(approval: Approval): Promise<boolean>;
  /** Forgets every approval a user gave a client (their session of it was ended or revoked). */
  forgetApprovals(subject: string, clientId: string): Promise<void>;
  /** Removes expired items (at most every 10 minutes; runs in the background). */
  sweep(): void;
}

/**
 * Creates the grant store.
 *
 * @example
 * const grants = createGrants(store);
 * const s = await grants.createSession({ subject: "alice", roles: [], clientId, clientName, grantType: "authorization_code", scopes, expiresAt });
 */
export function createGrants(store: TokenStore): Grants {
  // Ended session ids (-> when), answered without a store read. Only a shortcut: the store's end marks
  // decide, so another gateway sharing the store (or a restart) sees the same answer.
  const ended = new Map<string, number>();
  const checked = new Map<string, { active: boolean; at: number }>();
  const cacheMs = typeof store.subscribe === "function" ? SHARED_ACTIVE_CACHE_MS : ACTIVE_CACHE_MS;
  let lastSweep = Date.now();

  function sweep(): void {
    if (Date.now() - lastSweep < SWEEP_EVERY_MS) return;
    lastSweep = Date.now();
    void (async () => {
      const now = Date.now();
      for (const kind of EXPIRING) {
        for (const { key, value } of await store.listItems(kind)) {
          if (!((value as { expiresAt?: number }).expiresAt! >= now)) await store.takeItem(kind, key);
        }
      }
      // Ended or expired sessions stay listed for a day, for the record, then go.
      for (const { key, value } of await store.listItems(SESSION)) {
        const s = value as SessionRecord;
        const over = Date.parse(s.endedAt ?? s.expiresAt);
        if (over + DAY_MS < now) await store.takeItem(SESSION, key);
      }
      for (const [sid, c] of checked) if (now - c.at > cacheMs) checked.delete(sid);
      for (const [sid, at] of ended) if (now - at > DAY_MS) ended.delete(sid);
    })().catch(() => undefined);
  }

  // What this gateway learns from the store about an end elsewhere, it stops answering from its cache.
  const noteEnded = (sid: string) => {
    ended.set(sid, Date.now());
    checked.set(sid, { active: false, at: Date.now() });
  };
  const activeNow = (s: SessionRecord | undefined): s is SessionRecord => !!s && !s.endedAt && Date.parse(s.expiresAt) > Date.now();
  const getSession = async (id: string) => (await store.getItem(SESSION, id)) as SessionRecord | undefined;
  const endedMark = async (id: string) => (await store.getItem(SESSION_ENDED, id)) as EndedMark | undefined;
  // A marker can outlive its session (swept sooner): a bare id still lets the replay be refused and audited.
  const sessionOrId = async (id: string) => (await getSession(id)) ?? ({ id } as SessionRecord);
  const approvalKey = (subject: string, clientId: string) => hashSecret(`approval\n${subject}\n${clientId}`);
  const sameScopes = (a: string[], b: string[]) => a.length === b.length && [...a].sort().join(" ") === [...b].sort().join(" ");

  /**
   * Writes a session record, then looks for an end mark written meanwhile: an end that raced this write
   * wins and is written back, so a concurrent end can never be undone by a refresh (or a late create).
   */
  async function writeUnlessEnded(next: SessionRecord): Promise<SessionRecord | undefined> {
    await store.putItem(SESSION, next.id, next);
    const mark = await endedMark(next.id);
    if (!mark) return next;
    noteEnded(next.id);
    await store.putItem(SESSION, next.id, { ...next, endedAt: mark.endedAt, endReason: mark.endReason, endedBy: mark.endedBy });
    return undefined;
  }

  return {
    async createSession(input) {
      sweep();
      const session: SessionRecord = { ...input, id: input.id ?? newId("ses_"), createdAt: new Date().toISOString(), refreshCount: 0 };
      if (ended.has(session.id)) return undefined;
      const written = await writeUnlessEnded(session);
      if (written) checked.set(session.id, { active: true, at: Date.now() });
      return written;
    },

    getSession,

    async listSessions() {
      return (await store.listItems(SESSION)).map((i) => i.value as SessionRecord);
    },

    async endSession(id, reason, actor) {
      noteEnded(id);
      const endedAt = new Date().toISOString();
      // The mark goes first: a refresh or create that writes the record after this sees it and backs off.
      if (!(await endedMark(id))) await store.putItem(SESSION_ENDED, id, { endedAt, endReason: reason, endedBy: actor, expiresAt: Date.now() + DAY_MS } satisfies EndedMark);
      const s = await getSession(id);
      if (!s) return undefined;
      if (s.endedAt) return s;
      const done: SessionRecord = { ...s, endedAt, endReason: reason, endedBy: actor };
      await store.putItem(SESSION, id, done);
      return done;
    },

    async isActive(sid) {
      if (ended.has(sid)) return false;
      const c = checked.get(sid);
      if (c && Date.now() - c.at < cacheMs) return c.active;
      const active = activeNow(await getSession(sid)) && !(await endedMark(sid));
      if (!active) ended.set(sid, Date.now());
      checked.set(sid, { active, at: Date.now() });
      return active;
    },

    async issueCode(record) {
      sweep();
      const code = newSecret("pac_");
      await store.putItem(CODE, await hashSecret(code), { ...record, sid: newId("ses_") } satisfies CodeRecord);
      return code;
    },

    async redeemCode(code) {
      const key = await hashSecret(code);
      const peek = (await store.getItem(CODE, key)) as CodeRecord | undefined;
      if (peek && peek.expiresAt > Date.now()) {
        // The used marker goes before the take: whoever then finds the code gone while a marker names its
        // session is a second redemption (a replay, or the loser of a race), and that session is ended.
        await store.putItem(CODE_USED, key, { sid: peek.sid, expiresAt: Date.now() + CODE_MEMORY_MS } satisfies UsedMarker);
        const record = (await store.takeItem(CODE, key)) as CodeRecord | undefined;
        if (record) return { ok: record };
      } else if (peek) {
        await store.takeItem(CODE, key);
        return {};
      }
      const used = (await store.getItem(CODE_USED, key)) as UsedMarker | undefined;
      if (!used) return {};
      return { replayOf: await sessionOrId(used.sid) };
    },

    async issueRefresh(session) {
      const token = newSecret("prt_");
      const record: RefreshRecord = { sid: session.id, clientId: session.clientId, expiresAt: Date.parse(session.expiresAt) };
      await store.putItem(REFRESH, await hashSecret(token), record);
      return token;
    },

    async redeemRefresh(token) {
      sweep();
      const key = await hashSecret(token);
      const peek = (await store.getItem(REFRESH, key)) as RefreshRecord | undefined;
      if (peek) {
        // Remembered for the session's lifetime, and written before the take (see redeemCode): presenting
        // the token again, even concurrently, means it leaked.
        await store.putItem(REFRESH_USED, key, { sid: peek.sid, expiresAt: peek.expiresAt } satisfies UsedMarker);
        const record = (await store.takeItem(REFRESH, key)) as RefreshRecord | undefined;
        if (record) {
          const session = await getSession(record.sid);
          if (!activeNow(session) || record.expiresAt < Date.now() || ended.has(record.sid)) return {};
          if (await endedMark(record.sid)) {
            noteEnded(record.sid);
            return {};
          }
          return { ok: { session, clientId: record.clientId } };
        }
      }
      const used = (await store.getItem(REFRESH_USED, key)) as UsedMarker | undefined;
      if (!used) return {};
      return { replayOf: await sessionOrId(used.sid) };
    },

    async findRefresh(token) {
      const record = (await store.getItem(REFRESH, await hashSecret(token))) as RefreshRecord | undefined;
      return record && { sid: record.sid, clientId: record.clientId };
    },

    async touch(sid) {
      // Re-read rather than write back what the refresh started from: that copy predates any end since.
      const current = await getSession(sid);
      if (!activeNow(current) || ended.has(sid)) return undefined;
      if (await endedMark(sid)) {
        noteEnded(sid);
        return undefined;
      }
      return await writeUnlessEnded({ ...current, lastRefreshedAt: new Date().toISOString(), refreshCount: current.refreshCount + 1 });
    },

    async rememberApproval(approval, ttlSeconds) {
      sweep();
      const key = await approvalKey(approval.subject, approval.clientId);
      const now = Date.now();
      const set = ((await store.getItem(APPROVAL, key)) as ApprovalSet | undefined) ?? { subject: approval.subject, clientId: approval.clientId, entries: [], expiresAt: 0 };
      const entries = set.entries.filter((e) => e.expiresAt > now && !(e.redirectUri === approval.redirectUri && sameScopes(e.scopes, approval.scopes)));
      entries.push({ redirectUri: approval.redirectUri, scopes: [...approval.scopes].sort(), expiresAt: now + ttlSeconds * 1000 });
      const kept = entries.slice(-APPROVALS_PER_CLIENT);
      await store.putItem(APPROVAL, key, { ...set, entries: kept, expiresAt: Math.max(...kept.map((e) => e.expiresAt)) } satisfies ApprovalSet);
    },

    async hasApproval(approval) {
      const set = (await store.getItem(APPROVAL, await approvalKey(approval.subject, approval.clientId))) as ApprovalSet | undefined;
      if (!set || set.subject !== approval.subject || set.clientId !== approval.clientId) return false;
      const now = Date.now();
      return set.entries.some((e) => e.expiresAt > now && e.redirectUri === approval.redirectUri && sameScopes(e.scopes, approval.scopes));
    },

    async forgetApprovals(subject, clientId) {
      await store.takeItem(APPROVAL, await approvalKey(subject, clientId));
    },

    sweep,
  };
}
