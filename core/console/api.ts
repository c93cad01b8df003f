import { principalOf } from "../auth/principal.ts";
import { GatewayError } from "../errors.ts";
import { decodePathSegment } from "../http/path.ts";
import { json } from "../http/responses.ts";
import type { AuditEvent, AuthContext, Identity, Route } from "../types.ts";
import type { ConsoleSessions } from "./sessions.ts";

function actorOf(identity: Identity): string {
  return identity.tokenId ? `${identity.subject} (${identity.tokenId})` : identity.subject;
}

/**
 * `/v1/auth/console-sessions`: console sessions beside the OAuth sessions. Anyone signed in lists and
 * ends their own (same issuer-qualified subject); admins see and end everyone's. Someone else's session
 * is reported as missing.
 *
 * @example
 * const routes = consoleSessionRoutes(sessions);
 */
export function consoleSessionRoutes(sessions: ConsoleSessions): Route[] {
  const mine = (identity: Identity, principal: string): boolean => identity.scopes.includes("admin") || principal === principalOf(identity);
  const list = async (_request: Request, ctx: AuthContext): Promise<Response> => {
    const identity = ctx.identity!;
    const state = ctx.url.searchParams.get("state") ?? "active";
    if (!["active", "ended", "expired", "all"].includes(state)) throw new GatewayError("ERR_BAD_REQUEST", "state: expected active, ended, expired or all");
    const user = ctx.url.searchParams.get("user");
    if (user !== null && !identity.scopes.includes("admin") && user !== identity.subject) throw new GatewayError("ERR_FORBIDDEN", "listing another user's sessions needs the admin scope");
    const current = identity.credentialId?.startsWith("console:") ? identity.credentialId.slice(8) : undefined;
    const out = (await sessions.list())
      .filter((r) => mine(identity, r.principal) && (user === null || r.identity.subject === user))
      .map((r) => ({ ...sessions.view(r), ...(r.id === current ? { current: true } : {}) }))
      .filter((v) => state === "all" || v.state === state);
    return json({ sessions: out });
  };
  const one = async (request: Request, ctx: AuthContext): Promise<Response> => {
    const identity = ctx.identity!;
    const id = decodePathSegment(ctx.url.pathname.slice("/v1/auth/console-sessions/".length));
    if (!/^cs_[A-Za-z0-9]{16}$/.test(id)) throw new GatewayError("ERR_NOT_FOUND", "not found");
    const r = (await sessions.list()).find((s) => s.id === id);
    if (!r || !mine(identity, r.principal)) throw new GatewayError("ERR_NOT_FOUND", `no console session with id ${id}`);
    if (request.method === "GET") return json(sessions.view(r));
    return json(sessions.view((await sessions.end(id, "ended", actorOf(identity)))!));
  };
  return [
    { method: "GET", path: "/v1/auth/console-sessions", auth: "user", origin: true, handler: list },
    { method: "GET", path: "/v1/auth/console-sessions/*", auth: "user", origin: true, handler: one },
    { method: "DELETE", path: "/v1/auth/console-sessions/*", auth: "user", origin: true, handler: one },
  ];
}

/** The newest audit events kept in memory for `GET /v1/audit`. */
export interface AuditTail {
  routes: Route[];
  /** Stops listening to the audit bus. */
  close(): void;
}

const FILTERS = ["type", "outcome", "subject", "action", "server"] as const;

/**
 * `GET /v1/audit` (admin): the newest audit events this process saw (a ring of `size`, default 2,000),
 * newest last, filtered by `type`, `outcome`, `subject`, `action`, `server`, and `after` (a sequence
 * number: what a live tail asks for next). The events are the ones sinks receive, secret-free by
 * contract; the durable trail stays in the configured sinks (JSONL, webhook ...).
 *
 * @example
 * const tail = auditTail(audit);
 * routes.push(...tail.routes);
 */
export function auditTail(bus: { listen(listener: (event: AuditEvent) => void): () => void }, size = 2000): AuditTail {
  const ring: Array<{ seq: number; event: AuditEvent }> = [];
  let seq = 0;
  const off = bus.listen((event) => {
    ring.push({ seq: ++seq, event });
    if (ring.length > size) ring.splice(0, ring.length - size);
  });
  const handler = (_request: Request, ctx: AuthContext): Promise<Response> | Response => {
    const q = ctx.url.searchParams;
    const after = Number(q.get("after") ?? "0");
    if (!Number.isInteger(after) || after < 0) throw new GatewayError("ERR_BAD_REQUEST", "after: expected a sequence number (0 or more)");
    const limit = Number(q.get("limit") ?? "200");
    if (!Number.isInteger(limit) || limit < 1 || limit > 1000) throw new GatewayError("ERR_BAD_REQUEST", "limit: expected 1 to 1000");
    const wanted = FILTERS.flatMap((k) => (q.get(k) ? [[k, q.get(k)!] as const] : []));
    const events = ring
      .filter((e) => e.seq > after && wanted.every(([k, v]) => String((e.event as unknown as Record<string, unknown>)[k] ?? "") === v))
      .slice(-limit)
      .map((e) => ({ seq: e.seq, ...e.event }));
    return json({ events, last: seq });
  };
  return { routes: [{ method: "GET", path: "/v1/audit", auth: "admin", origin: true, handler }], close: off };
}
