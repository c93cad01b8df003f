import { hashSecret, newId, newSecret } from "../../../core/tokens/secret.ts";
import type { TokenStore } from "../../../core/tokens/types.ts";
import type { Permissions } from "../../../core/types.ts";

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
}

/** An authorization code waiting to be redeemed. Stored under the code's hash. */
export interface CodeRecord {
  clientId: string;
  redirectUri: string;
  codeChallenge: string;
  resource: string;
  scopes: string[];
  user: GrantSubject;
  expiresAt: number;
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

const SESSION = "oauth:session";
const CODE = "oauth:code";
const CODE_USED = "oauth:code-used";
const REFRESH = "oauth:refresh";
const REFRESH_USED = "oauth:refresh-used";
// How long a redeemed secret is remembered, so a replay is recognised (and punished) rather than just refused.
const CODE_MEMORY_MS = 10 * 60_000;
// A session's state, as seen by the access-token check, may be this old on a gateway that did not end it itself.
const ACTIVE_CACHE_MS = 15_000;
const SWEEP_EVERY_MS = 10 * 60_000;

/** The outcome of redeeming a code or refresh token. */
export type Redeemed<T> = { ok: T; replayOf?: undefined } | { ok?: undefined; replayOf?: SessionRecord };

/** Grants, sessions, codes and refresh tokens over the store; secrets only as hashes. */
export interface Grants {
  createSession(input: Omit<SessionRecord, "id" | "createdAt" | "refreshCount">): Promise<SessionRecord>;
  getSession(id: string): Promise<SessionRecord | undefined>;
  listSessions(): Promise<SessionRecord[]>;
  /** Ends a session: its refresh family and access tokens stop working at once. */
  endSession(id: string, reason: NonNullable<SessionRecord["endReason"]>, actor: string): Promise<SessionRecord | undefined>;
  /** Hot path of every `/mcp` call: memory first, the store at most every 15 s per session. */
  isActive(sid: string): Promise<boolean>;
  issueCode(record: CodeRecord): Promise<string>;
  /** Takes the code (one-time); a replay of a redeemed code reports the session it produced. */
  redeemCode(code: string): Promise<Redeemed<CodeRecord>>;
  /** Remembers that a code produced a session, so a replay can revoke it. */
  markCodeUsed(code: string, sid: string): Promise<void>;
  issueRefresh(session: SessionRecord): Promise<string>;
  redeemRefresh(token: string): Promise<Redeemed<{ session: SessionRecord; clientId: string }>>;
  /** Looks a refresh token up without using it (RFC 7009 revocation ends its session). */
  findRefresh(token: string): Promise<{ sid: string; clientId: string } | undefined>;
  touch(session: SessionRecord): Promise<void>;
}

/**
 * Creates the grant store.
 *
 * @example
 * const grants = createGrants(store);
 * const s = await grants.createSession({ subject: "alice", roles: [], clientId, clientName, grantType: "authorization_code", scopes, expiresAt });
 */
export function createGrants(store: TokenStore): Grants {
  // Ended session ids (-> when), answered without a store read. Safe to forget after a day: by then the
  // store still says "ended" (kept a day for the record) or has no such session, which is refused too.
  const ended = new Map<string, number>();
  const checked = new Map<string, { active: boolean; at: number }>();
  let lastSweep = Date.now();

  function sweep(): void {
    if (Date.now() - lastSweep < SWEEP_EVERY_MS) return;
    lastSweep = Date.now();
    void (async () => {
      const now = Date.now();
      for (const kind of [CODE, CODE_USED, REFRESH, REFRESH_USED]) {
        for (const { key, value } of await store.listItems(kind)) {
          if ((value as { expiresAt: number }).expiresAt < now) await store.takeItem(kind, key);
        }
      }
      // Ended or expired sessions stay listed for a day, for the record, then go.
      for (const { key, value } of await store.listItems(SESSION)) {
        const s = value as SessionRecord;
        const over = Date.parse(s.endedAt ?? s.expiresAt);
        if (over + 86_400_000 < now) await store.takeItem(SESSION, key);
      }
      for (const [sid, c] of checked) if (now - c.at > ACTIVE_CACHE_MS) checked.delete(sid);
      for (const [sid, at] of ended) if (now - at > 86_400_000) ended.delete(sid);
    })().catch(() => undefined);
  }

  const activeNow = (s: SessionRecord | undefined) => !!s && !s.endedAt && Date.parse(s.expiresAt) > Date.now();
  const getSession = async (id: string) => (await store.getItem(SESSION, id)) as SessionRecord | undefined;
  // A marker can outlive its session (swept sooner): a bare id still lets the replay be refused and audited.
  const sessionOrId = async (id: string) => (await getSession(id)) ?? ({ id } as SessionRecord);

  return {
    async createSession(input) {
      sweep();
      const session: SessionRecord = { ...input, id: newId("ses_"), createdAt: new Date().toISOString(), refreshCount: 0 };
      await store.putItem(SESSION, session.id, session);
      checked.set(session.id, { active: true, at: Date.now() });
      return session;
    },

    getSession,

    async listSessions() {
      return (await store.listItems(SESSION)).map((i) => i.value as SessionRecord);
    },

    async endSession(id, reason, actor) {
      ended.set(id, Date.now());
      checked.set(id, { active: false, at: Date.now() });
      const s = (await store.getItem(SESSION, id)) as SessionRecord | undefined;
      if (!s) return undefined;
      if (s.endedAt) return s;
      const done: SessionRecord = { ...s, endedAt: new Date().toISOString(), endReason: reason, endedBy: actor };
      await store.putItem(SESSION, id, done);
      return done;
    },

    async isActive(sid) {
      if (ended.has(sid)) return false;
      const c = checked.get(sid);
      if (c && Date.now() - c.at < ACTIVE_CACHE_MS) return c.active;
      const active = activeNow((await store.getItem(SESSION, sid)) as SessionRecord | undefined);
      if (!active) ended.set(sid, Date.now());
      checked.set(sid, { active, at: Date.now() });
      return active;
    },

    async issueCode(record) {
      sweep();
      const code = newSecret("pac_");
      await store.putItem(CODE, await hashSecret(code), record);
      return code;
    },

    async redeemCode(code) {
      const key = await hashSecret(code);
      const record = (await store.takeItem(CODE, key)) as CodeRecord | undefined;
      if (record) return record.expiresAt > Date.now() ? { ok: record } : {};
      const used = (await store.getItem(CODE_USED, key)) as UsedMarker | undefined;
      if (!used) return {};
      return { replayOf: await sessionOrId(used.sid) };
    },

    async markCodeUsed(code, sid) {
      await store.putItem(CODE_USED, await hashSecret(code), { sid, expiresAt: Date.now() + CODE_MEMORY_MS } satisfies UsedMarker);
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
      const record = (await store.takeItem(REFRESH, key)) as RefreshRecord | undefined;
      if (!record) {
        const used = (await store.getItem(REFRESH_USED, key)) as UsedMarker | undefined;
        if (!used) return {};
        return { replayOf: await sessionOrId(used.sid) };
      }
      // Remember the redeemed token for the session's lifetime: presenting it again means it leaked.
      await store.putItem(REFRESH_USED, key, { sid: record.sid, expiresAt: record.expiresAt } satisfies UsedMarker);
      const session = (await store.getItem(SESSION, record.sid)) as SessionRecord | undefined;
      if (!session || !activeNow(session) || record.expiresAt < Date.now()) return {};
      return { ok: { session, clientId: record.clientId } };
    },

    async findRefresh(token) {
      const record = (await store.getItem(REFRESH, await hashSecret(token))) as RefreshRecord | undefined;
      return record && { sid: record.sid, clientId: record.clientId };
    },

    async touch(session) {
      await store.putItem(SESSION, session.id, session);
    },
  };
}
