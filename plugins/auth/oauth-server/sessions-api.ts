import { decodePathSegment, GatewayError, json, principalOf, type Identity } from "../../../core/mod.ts";
import type { SessionRecord } from "./grants.ts";
import type { OauthRuntime } from "./runtime.ts";

/** A session as the API shows it (there is nothing secret in a session record). */
function view(s: SessionRecord): Record<string, unknown> {
  const now = Date.now();
  const state = s.endedAt ? "ended" : Date.parse(s.expiresAt) <= now ? "expired" : "active";
  return {
    id: s.id,
    user: s.subject,
    email: s.email,
    name: s.name,
    roles: s.roles,
    clientId: s.clientId,
    clientName: s.clientName,
    grantType: s.grantType,
    scopes: s.scopes,
    createdAt: s.createdAt,
    expiresAt: s.expiresAt,
    lastRefreshedAt: s.lastRefreshedAt,
    refreshCount: s.refreshCount,
    state,
    endedAt: s.endedAt,
    endReason: s.endReason,
    endedBy: s.endedBy,
  };
}

function actorOf(identity: Identity): string {
  return identity.tokenId ? `${identity.subject} (${identity.tokenId})` : identity.subject;
}

/** `/v1/auth/sessions`: list sessions, look at one, end one; `who` authenticates the caller. */
export interface SessionsApi {
  list(request: Request, url: URL, who: () => Promise<Identity>): Promise<Response>;
  one(request: Request, url: URL, who: () => Promise<Identity>): Promise<Response>;
}

/**
 * Builds the sessions API. Admins (the `admin` scope) see and end every session; anyone else only their own.
 *
 * @example
 * const api = sessionsApi(runtime);
 * await api.list(request, url, () => ctx.authenticate!());
 */
export function sessionsApi(rt: OauthRuntime): SessionsApi {
  // Sessions belong to the OAuth server's principal: a gateway token for a user of the same name is not them.
  const mine = (identity: Identity, s: SessionRecord, url: URL) =>
    identity.scopes.includes("admin") || principalOf(identity) === principalOf({ subject: s.subject, issuer: `oauth:${rt.issuerOf(url)}`, strategy: "" });

  return {
    async list(_request, url, who) {
      const identity = await who();
      const admin = identity.scopes.includes("admin");
      const user = url.searchParams.get("user");
      const state = url.searchParams.get("state") ?? "active";
      if (!["active", "ended", "expired", "all"].includes(state)) throw new GatewayError("ERR_BAD_REQUEST", "state: expected active, ended, expired or all");
      if (user !== null && !admin && user !== identity.subject) throw new GatewayError("ERR_FORBIDDEN", "listing another user's sessions needs the admin scope");
      const sessions = (await rt.grants.listSessions())
        .filter((s) => mine(identity, s, url) && (user === null || s.subject === user))
        .map(view)
        .filter((s) => state === "all" || s.state === state)
        .sort((a, b) => String(b.createdAt).localeCompare(String(a.createdAt)));
      return json({ sessions });
    },

    async one(request, url, who) {
      const id = decodePathSegment(url.pathname.slice("/v1/auth/sessions/".length));
      const identity = await who();
      if (!/^ses_[A-Za-z0-9]{16}$/.test(id)) throw new GatewayError("ERR_NOT_FOUND", "not found");
      const s = await rt.grants.getSession(id);
      // Someone else's session is reported as missing: its existence is not the caller's business.
      if (!s || !mine(identity, s, url)) throw new GatewayError("ERR_NOT_FOUND", `no session with id ${id}`);
      if (request.method === "GET") return json(view(s));
      const ended = (await rt.grants.endSession(id, "ended", actorOf(identity)))!;
      // Ending a session withdraws the consent behind it: the client has to ask again.
      await rt.grants.forgetApprovals(s.subject, s.clientId);
      rt.audit({ action: "session_end", outcome: "ok", sessionId: id, subject: s.subject, clientId: s.clientId, actor: actorOf(identity) });
      return json(view(ended));
    },
  };
}
