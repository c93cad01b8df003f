import { configError } from "../errors.ts";
import type { ForwardedIdentity, Identity, IdentityMapper } from "../types.ts";

/** An identity field that can be forwarded. */
export type IdentityField = "subject" | "email" | "name" | "team" | "roles" | "org";

/** Options of `identityHeaders()`. */
export interface IdentityHeadersOptions {
  /** Which fields to send; default email, name, team, roles, org (Portkey-compatible `identityForwarding.headers`). */
  fields?: IdentityField[];
  /** Header name per field; defaults `X-User-Email`, `X-User-Name`, `X-User-Team`, `X-User-Roles`, `X-Organization-Id`, `X-User-Id`. */
  names?: Partial<Record<IdentityField, string>>;
  /** Extra or replacement headers computed from the identity; a value of undefined sends nothing. */
  map?: (identity: Identity, server: string) => Record<string, string | undefined>;
  /** Names of the headers `map` sends, so the same headers arriving from clients are stripped too. */
  strip?: string[];
}

/** The `_meta` key under which stdio upstreams receive the caller's identity. */
export const IDENTITY_META_KEY = "io.portcullis/identity";

const FIELDS: readonly IdentityField[] = ["subject", "email", "name", "team", "roles", "org"];
const DEFAULT_FIELDS: readonly IdentityField[] = ["email", "name", "team", "roles", "org"];
const DEFAULT_NAMES: Record<IdentityField, string> = {
  subject: "X-User-Id",
  email: "X-User-Email",
  name: "X-User-Name",
  team: "X-User-Team",
  roles: "X-User-Roles",
  org: "X-Organization-Id",
};
const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;

/**
 * Makes a value safe for an HTTP header: every byte outside printable ASCII, and `%` itself, is
 * percent-encoded (UTF-8), so CR/LF can never start a new header and `decodeURIComponent` gives the
 * exact original back.
 *
 * @example
 * headerValue("José\r\nX-Evil: 1"); // "Jos%C3%A9%0D%0AX-Evil: 1"
 */
export function headerValue(value: string): string {
  return value.replace(/[^\x20-\x24\x26-\x7E]/gu, (c) => encodeURIComponent(c).replace(/[!'()*]/g, (x) => `%${x.charCodeAt(0).toString(16).toUpperCase()}`));
}

/**
 * The header value of a field, already encoded. Roles are joined with `,`, so a `,` inside a role (an
 * IdP group name, say) is encoded as `%2C`: `viewer,admin` must stay one role, not forge a second.
 */
function fieldValue(identity: Identity, field: IdentityField): string | undefined {
  if (field === "roles") {
    return identity.roles.length > 0 ? identity.roles.map((r) => headerValue(r).replaceAll(",", "%2C")).join(",") : undefined;
  }
  const v = identity[field];
  return v === undefined ? undefined : headerValue(v);
}

/**
 * Forwards who is calling: `X-User-Email`, `X-User-Name`, `X-User-Team`, `X-User-Roles` (comma-joined)
 * and `X-Organization-Id` on every request to HTTP upstreams, and the same fields under
 * `_meta["io.portcullis/identity"]` for stdio upstreams (roles as a JSON array there). Values are
 * percent-encoded where needed, so no identity can inject a header; inside `X-User-Roles` each role's
 * `,` is encoded too, so a server reads the roles with `value.split(",").map(decodeURIComponent)`.
 * On by default.
 *
 * @example
 * identityHeaders({ fields: ["email", "roles"], names: { email: "X-Forwarded-Email" } })
 */
export function identityHeaders(options: IdentityHeadersOptions = {}): IdentityMapper {
  if (typeof options !== "object" || options === null) throw configError("identityHeaders", "expected options { fields?, names?, map? }");
  const fields: readonly IdentityField[] = options.fields ?? DEFAULT_FIELDS;
  if (!Array.isArray(fields as unknown)) throw configError("identityHeaders.fields", `expected an array of ${FIELDS.join(", ")}`);
  fields.forEach((f, i) => {
    if (!FIELDS.includes(f)) throw configError(`identityHeaders.fields[${i}]`, `expected one of ${FIELDS.join(", ")}`, JSON.stringify(f));
  });
  const names: Record<IdentityField, string> = { ...DEFAULT_NAMES };
  for (const [field, name] of Object.entries(options.names ?? {})) {
    if (!FIELDS.includes(field as IdentityField)) throw configError(`identityHeaders.names.${field}`, `unknown field; expected one of ${FIELDS.join(", ")}`);
    if (typeof name !== "string" || !TOKEN.test(name)) throw configError(`identityHeaders.names.${field}`, "expected an HTTP header name", JSON.stringify(name));
    names[field as IdentityField] = name;
  }
  if (options.map !== undefined && typeof options.map !== "function") throw configError("identityHeaders.map", "expected a function (identity, server) => headers");
  const map = options.map;
  const strip = options.strip ?? [];
  if (!Array.isArray(strip)) throw configError("identityHeaders.strip", "expected an array of header names");
  strip.forEach((h, i) => {
    if (typeof h !== "string" || !TOKEN.test(h)) throw configError(`identityHeaders.strip[${i}]`, "expected an HTTP header name", JSON.stringify(h));
  });
  // Identities are per session or per request; servers few. Computed once per (identity, server, via).
  const cache = new WeakMap<Identity, Map<string, ForwardedIdentity>>();

  const compute = (identity: Identity, server: string, via: "headers" | "meta"): ForwardedIdentity => {
    if (via === "meta") {
      const meta: Record<string, unknown> = {};
      for (const f of fields) {
        const v = f === "roles" ? identity.roles : identity[f];
        if (v !== undefined) meta[f] = v;
      }
      return { meta: { [IDENTITY_META_KEY]: meta } };
    }
    const headers: Record<string, string> = {};
    for (const f of fields) {
      const v = fieldValue(identity, f);
      if (v !== undefined) headers[names[f]] = v;
    }
    if (map) {
      for (const [k, v] of Object.entries(map(identity, server))) {
        if (!TOKEN.test(k)) throw new Error(`identityHeaders.map returned an invalid header name ${JSON.stringify(k)}`);
        if (v === undefined) delete headers[k];
        else headers[k] = headerValue(String(v));
      }
    }
    return { headers };
  };

  return {
    name: "identity:headers",
    headerNames: () => [...new Set([...Object.values(DEFAULT_NAMES), ...fields.map((f) => names[f]), ...strip])],
    map(identity, server, via) {
      let perIdentity = cache.get(identity);
      if (!perIdentity) cache.set(identity, perIdentity = new Map());
      const key = `${via}\u0000${server}`;
      let out = perIdentity.get(key);
      if (!out) perIdentity.set(key, out = compute(identity, server, via));
      return out;
    },
  };
}
