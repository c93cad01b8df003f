import type { Identity, Permissions } from "../types.ts";
import type { AccessPolicy, ToolInfo } from "./policy.ts";

/** What the `authorize` hook is asked about. */
export interface AuthorizeContext {
  identity: Identity;
  server: string;
  /** The tool's upstream name, for tool decisions. */
  tool?: string;
  action: "list" | "call" | "read" | "server";
  /** The decision of the built-in rules. */
  allowed: boolean;
}

/** A config-as-code hook with the last word: return true/false to decide, undefined to keep `allowed`. */
export type AuthorizeHook = (ctx: AuthorizeContext) => boolean | undefined;

/** Options of the permission policy. */
export interface PermissionOptions {
  /** Role name -> what holders of the role may reach. Undefined means roles grant nothing extra and restrict nothing. */
  roles?: Record<string, Permissions>;
  authorize?: AuthorizeHook;
  separator: string;
}

type Matcher = (value: string) => boolean;

// Patterns are few (they come from the config and from tokens) but stateless requests bring a fresh
// identity each time: compiling a RegExp per request cost ~5 µs, so matchers are kept by pattern.
const matchers = new Map<string, Matcher>();
const MAX_MATCHERS = 10_000;

function glob(pattern: string): Matcher {
  let m = matchers.get(pattern);
  if (m) return m;
  if (!pattern.includes("*")) m = (v) => v === pattern;
  else {
    const re = new RegExp("^" + pattern.split("*").map((p) => p.replace(/[.+?^${}()|[\]\\]/g, "\\$&")).join(".*") + "$");
    m = (v) => re.test(v);
  }
  if (matchers.size >= MAX_MATCHERS) matchers.delete(matchers.keys().next().value!);
  matchers.set(pattern, m);
  return m;
}

interface Compiled {
  servers?: Matcher[];
  tools?: Matcher[];
  read: boolean;
  write: boolean;
}

function compile(p: Permissions | undefined): Compiled | undefined {
  if (!p) return undefined;
  const tools = p.tools?.filter((t) => t !== "read" && t !== "write").map(glob);
  const words = new Set(p.tools ?? []);
  return {
    servers: p.servers?.map(glob),
    tools: p.tools ? tools : undefined,
    read: words.has("read"),
    write: words.has("write"),
  };
}

function serverOk(c: Compiled | undefined, server: string): boolean {
  return !c || !c.servers || c.servers.some((m) => m(server));
}

function toolOk(c: Compiled | undefined, server: string, full: string, readOnly: boolean): boolean {
  if (!serverOk(c, server)) return false;
  if (!c || !c.tools) return true;
  if (c.write || (c.read && readOnly)) return true;
  return c.tools.some((m) => m(full));
}

/**
 * The gateway's permission model, deny by default:
 * - scopes: `mcp:read` lists, reads prompts and resources, and calls read-only tools (`readOnlyHint`);
 *   `mcp:write` calls any tool it may reach. Without either, nothing is reachable.
 * - `roles` from the config grant servers and tools to identities holding the role; when roles are
 *   configured, an identity reaches only what its roles grant.
 * - a credential's own `permissions` can only narrow that further.
 * - `authorize(ctx)` has the last word.
 *
 * @example
 * const policy = permissionPolicy({ separator: "__", roles: { support: { servers: ["tickets"], tools: ["read"] } } });
 */
export function permissionPolicy(opts: PermissionOptions): AccessPolicy {
  const roles = opts.roles ? Object.fromEntries(Object.entries(opts.roles).map(([k, v]) => [k, compile(v)!])) : undefined;
  const cache = new WeakMap<Identity, { own?: Compiled; granted?: Compiled[] }>();
  // A token's identity is rebuilt on every stateless request, but its `permissions` and `roles` are the
  // same objects as the stored record's: compile them once per object, not once per identity.
  const ownOf = new WeakMap<Permissions, Compiled>();
  const grantedOf = new WeakMap<readonly string[], Compiled[]>();
  const layers = (identity: Identity) => {
    let c = cache.get(identity);
    if (!c) {
      const p = identity.permissions;
      let own = p && ownOf.get(p);
      if (p && !own) ownOf.set(p, own = compile(p)!);
      let granted: Compiled[] | undefined;
      if (roles) {
        granted = grantedOf.get(identity.roles);
        if (!granted) {
          granted = identity.roles.map((r) => roles[r]).filter((x): x is Compiled => x !== undefined);
          grantedOf.set(identity.roles, granted);
        }
      }
      c = { own, granted };
      cache.set(identity, c);
    }
    return c;
  };
  const decide = (ctx: Omit<AuthorizeContext, "allowed">, allowed: boolean): boolean => {
    if (!opts.authorize) return allowed;
    const verdict = opts.authorize({ ...ctx, allowed });
    return verdict === undefined ? allowed : verdict;
  };
  const canRead = (i: Identity) => i.scopes.includes("mcp:read") || i.scopes.includes("mcp:write");

  return {
    server(identity, server) {
      const { own, granted } = layers(identity);
      const allowed = canRead(identity) && serverOk(own, server) && (!granted || granted.some((g) => serverOk(g, server)));
      return decide({ identity, server, action: "server" }, allowed);
    },
    tool(identity, server, tool: ToolInfo, call) {
      const { own, granted } = layers(identity);
      const readOnly = tool.annotations?.readOnlyHint === true;
      const full = `${server}${opts.separator}${tool.name}`;
      const scoped = identity.scopes.includes("mcp:write") || (identity.scopes.includes("mcp:read") && readOnly);
      const allowed = scoped && toolOk(own, server, full, readOnly) && (!granted || granted.some((g) => toolOk(g, server, full, readOnly)));
      return decide({ identity, server, tool: tool.name, action: call ? "call" : "list" }, allowed);
    },
    read(identity, server) {
      const { own, granted } = layers(identity);
      const allowed = canRead(identity) && serverOk(own, server) && (!granted || granted.some((g) => serverOk(g, server)));
      return decide({ identity, server, action: "read" }, allowed);
    },
  };
}
