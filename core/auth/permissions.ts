import type { AccessPolicy, AuthorizeContext, AuthorizeHook, Identity, Permissions, ToolInfo } from "../types.ts";

/** Options of the permission policy. */
export interface PermissionOptions {
  /** Role name -> what holders of the role may reach. Undefined means roles grant nothing extra and restrict nothing. */
  roles?: Record<string, Permissions>;
  authorize?: AuthorizeHook;
  separator: string;
}

type Matcher = (value: string) => boolean;

// Patterns are few (they come from the config and from tokens) but stateless requests bring a fresh
// identity each time, so matchers are kept by pattern rather than rebuilt per request.
const matchers = new Map<string, Matcher>();
const MAX_MATCHERS = 10_000;

const never: Matcher = () => false;
const always: Matcher = () => true;

/**
 * `*` matches any run of characters. Matching never backtracks: the literal pieces between stars are
 * each searched for once, left to right, with indexOf (a RegExp of `.*`s took seconds on `****z`
 * against a long name), and the leftmost place of each piece is always as good as any later one.
 */
function glob(pattern: string): Matcher {
  let m = matchers.get(pattern);
  if (m) return m;
  const parts = pattern.split("*");
  if (parts.length === 1) m = (v) => v === pattern;
  else {
    const first = parts[0]!;
    const last = parts[parts.length - 1]!;
    const middle = parts.slice(1, -1).filter((p) => p !== "");
    const least = first.length + last.length + middle.reduce((n, p) => n + p.length, 0);
    if (least === 0) m = always;
    else {
      m = (v) => {
        if (v.length < least || !v.startsWith(first) || !v.endsWith(last)) return false;
        const end = v.length - last.length;
        let at = first.length;
        for (const piece of middle) {
          const found = v.indexOf(piece, at);
          if (found < 0 || found + piece.length > end) return false;
          at = found + piece.length;
        }
        return true;
      };
    }
  }
  if (matchers.size >= MAX_MATCHERS) matchers.delete(matchers.keys().next().value!);
  matchers.set(pattern, m);
  return m;
}

/**
 * Whether `value` matches the glob `pattern` (`*` for any run of characters), in linear time.
 *
 * @example
 * matchGlob("notes*", "notes-eu"); // true
 */
export function matchGlob(pattern: string, value: string): boolean {
  return glob(pattern)(value);
}

/**
 * Why a tool entry of a grant would grant nothing, or undefined when it is well formed: `read`, `write`,
 * `*`, or `<server glob><separator><tool glob>`. Used to refuse such entries where grants are written.
 *
 * @example
 * toolEntryProblem("github", "__"); // "expected read, write, * or <server>__<tool> (globs allowed)"
 */
export function toolEntryProblem(entry: string, separator: string): string | undefined {
  if (entry === "read" || entry === "write" || /^\*+$/.test(entry) || entry.indexOf(separator) > 0) return undefined;
  return `expected read, write, * or <server>${separator}<tool> (globs allowed)`;
}

interface ToolMatcher {
  server: Matcher;
  tool: Matcher;
}

/**
 * A tool entry is matched as two globs, the server part before the first separator and the tool part
 * after it, each against its own name: one glob over the joined name let `notes__*` reach the tools of a
 * server `notes_`. An entry without the separator names no server, so it grants nothing; only an
 * entry of stars alone (`*`) means every tool, as it always has.
 */
function toolMatcher(pattern: string, separator: string): ToolMatcher {
  const at = pattern.indexOf(separator);
  if (at < 0) return /^\*+$/.test(pattern) ? { server: always, tool: always } : { server: never, tool: never };
  return { server: glob(pattern.slice(0, at)), tool: glob(pattern.slice(at + separator.length)) };
}

interface Compiled {
  servers?: Matcher[];
  tools?: ToolMatcher[];
  read: boolean;
  write: boolean;
}

function compile(p: Permissions | undefined, separator: string): Compiled | undefined {
  if (!p) return undefined;
  const tools = p.tools?.filter((t) => t !== "read" && t !== "write").map((t) => toolMatcher(t, separator));
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

function toolOk(c: Compiled | undefined, server: string, tool: string, readOnly: boolean): boolean {
  if (!serverOk(c, server)) return false;
  if (!c || !c.tools) return true;
  if (c.write || (c.read && readOnly)) return true;
  return c.tools.some((m) => m.server(server) && m.tool(tool));
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
 * `servers` entries are names or globs (`*` matches any run of characters) matched against the server
 * name. `tools` entries are `<server glob><sep><tool glob>`, split at the first separator, with the
 * server part matched against the server name and the tool part against the tool's upstream name, each
 * on its own: `notes__*` reaches every tool of `notes` and nothing of a server `notes_`. An entry
 * without the separator grants no tool, except `*` alone, which grants every tool; the words `read`
 * (every read-only tool) and `write` (every tool) keep their meaning.
 *
 * @example
 * const policy = permissionPolicy({ separator: "__", roles: { support: { servers: ["tickets", "github"], tools: ["read", "github__get_*"] } } });
 */
export function permissionPolicy(opts: PermissionOptions): AccessPolicy {
  const roles = opts.roles ? Object.fromEntries(Object.entries(opts.roles).map(([k, v]) => [k, compile(v, opts.separator)!])) : undefined;
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
      if (p && !own) ownOf.set(p, own = compile(p, opts.separator)!);
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
      const scoped = identity.scopes.includes("mcp:write") || (identity.scopes.includes("mcp:read") && readOnly);
      const allowed = scoped && toolOk(own, server, tool.name, readOnly) && (!granted || granted.some((g) => toolOk(g, server, tool.name, readOnly)));
      return decide({ identity, server, tool: tool.name, action: call ? "call" : "list" }, allowed);
    },
    read(identity, server) {
      const { own, granted } = layers(identity);
      const allowed = canRead(identity) && serverOk(own, server) && (!granted || granted.some((g) => serverOk(g, server)));
      return decide({ identity, server, action: "read" }, allowed);
    },
  };
}
