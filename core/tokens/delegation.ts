import { ADMIN_TOKEN_STRATEGY } from "../auth/admin-token.ts";
import { matchGlob } from "../auth/permissions.ts";
import { GatewayError } from "../errors.ts";
import type { Identity, Permissions } from "../types.ts";

/** The rights a token would carry: what a create or rotate asks for. */
export interface RequestedRights {
  scopes: readonly string[];
  roles: readonly string[];
  permissions?: Permissions;
  /** When the token would expire, ms since the epoch. */
  expiresAt: number;
}

/** Whether `identity` is the root admin (the configured static admin token): the one credential without bounds. */
export function isRootAdmin(identity: Identity): boolean {
  return identity.strategy === ADMIN_TOKEN_STRATEGY;
}

function refuse(what: string): never {
  throw new GatewayError("ERR_FORBIDDEN", `a credential cannot grant more than it has: ${what}`);
}

// One entry of the creator's list covers a requested entry when it is the same pattern, or a glob that
// matches the requested literal. A requested glob is only covered by the same glob or by `*`: comparing
// two globs for inclusion is not worth the risk of getting it wrong.
function covers(own: string, wanted: string, separator: string): boolean {
  if (own === wanted || own === "*") return true;
  if (wanted.includes("*")) return false;
  const o = own.indexOf(separator);
  const w = wanted.indexOf(separator);
  if (o < 0 || w < 0) return o < 0 && w < 0 && matchGlob(own, wanted);
  return matchGlob(own.slice(0, o), wanted.slice(0, w)) && matchGlob(own.slice(o + separator.length), wanted.slice(w + separator.length));
}

function within(own: readonly string[] | undefined, wanted: readonly string[] | undefined, separator: string, words: boolean): boolean {
  if (own === undefined) return true;
  if (wanted === undefined) return false;
  if (words && own.includes("write")) return true;
  return wanted.every((w) =>
    words && (w === "read" || w === "write")
      ? own.includes(w) || (w === "read" && own.includes("write"))
      : own.some((o) => o !== "read" && o !== "write" && covers(o, w, separator))
  );
}

/**
 * Refuses (`ERR_FORBIDDEN`, 403) a token create or rotate that would hand out more than the acting
 * credential has: scopes beyond its own, a lifetime beyond its own, and, for a credential restricted to
 * some servers or tools, anything outside them or roles it does not hold itself. An admin credential
 * without `permissions` manages the whole gateway and may grant any role. Only the root admin (the
 * configured `admin.token`) and the CLI on the store are unbounded.
 *
 * @example
 * assertWithinRights(identity, { scopes: ["mcp:read"], roles: [], permissions: { servers: ["notes"] }, expiresAt: Date.now() + 86400e3 }, "__");
 */
export function assertWithinRights(actor: Identity, wanted: RequestedRights, separator: string): void {
  if (isRootAdmin(actor)) return;
  const extra = wanted.scopes.filter((s) => !actor.scopes.includes(s));
  if (extra.length > 0) refuse(`scopes ${extra.join(", ")}`);
  if (actor.expiresAt !== undefined && wanted.expiresAt > actor.expiresAt) {
    refuse(`a lifetime past ${new Date(actor.expiresAt).toISOString()}, when this credential expires`);
  }
  const own = actor.permissions;
  if (!own) return;
  if (!within(own.servers, wanted.permissions?.servers, separator, false)) refuse(`servers beyond ${own.servers!.join(", ")}`);
  if (!within(own.tools, wanted.permissions?.tools, separator, true)) refuse(`tools beyond ${own.tools!.join(", ")}`);
  const roles = wanted.roles.filter((r) => !actor.roles.includes(r));
  if (roles.length > 0) refuse(`roles ${roles.join(", ")}`);
}
