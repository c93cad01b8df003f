import { GatewayError } from "../errors.ts";
import { json } from "../http/responses.ts";
import type { AuditEvent, AuthContext, Identity, Logger, PublicToken, Route, TokenService, TokenStore } from "../types.ts";
import { unrefTimer } from "../unref-timer.ts";
import { newId } from "./secret.ts";

/**
 * The compact usage of one token as stored: calls per day, server and tool as `[ok, errors, denied]`,
 * when and from where it was last used, and the addresses it was used from with when each was first and
 * last seen. Entries add up (see {@link mergeUsage}), so each process writes its own and never reads first.
 */
export interface UsageRecord {
  v: 1;
  /** `YYYY-MM-DD` (UTC) -> server -> tool -> `[ok, errors, denied]`. */
  calls: Record<string, Record<string, Record<string, [number, number, number]>>>;
  lastUsedAt?: string;
  lastUsedFrom?: string;
  /** Address -> `[firstSeenAt, lastSeenAt]` (ISO). */
  addresses: Record<string, [string, string]>;
}

/** How much usage is kept per token. */
export interface UsageLimits {
  /** Days of calls kept; default 90. */
  keepDays: number;
  /** Addresses kept per token (the most recently seen); default 20. */
  maxAddresses: number;
}

/** The defaults of {@link UsageLimits}. */
export const USAGE_LIMITS: UsageLimits = { keepDays: 90, maxAddresses: 20 };

/** Usage as the API shows it. */
export interface UsageReport {
  tokenId?: string;
  user: string;
  lastUsedAt?: string;
  lastUsedFrom?: string;
  totals: { calls: number; errors: number; denied: number };
  /** Days with calls, oldest first. */
  days: Array<{ day: string; calls: number; errors: number; denied: number }>;
  /** Per server and tool over the kept days, most called first. */
  tools: Array<{ server: string; tool: string; calls: number; errors: number; denied: number; lastDay: string }>;
  /** Per day, server and tool, oldest first. */
  byDay: Array<{ day: string; server: string; tool: string; calls: number; errors: number; denied: number }>;
  /** The addresses it was used from, most recently seen first. */
  addresses: Array<{ address: string; firstSeenAt: string; lastSeenAt: string }>;
  keepDays: number;
  maxAddresses: number;
  /** For a user's report: each of their tokens. */
  tokens?: Array<{ id: string; name?: string; kind?: string; state: string; lastUsedAt?: string; lastUsedFrom?: string; calls: number }>;
}

/**
 * An empty usage record, to merge entries into.
 *
 * @example
 * const sum = entries.reduce(mergeUsage, emptyUsage());
 */
export function emptyUsage(): UsageRecord {
  return { v: 1, calls: {}, addresses: {} };
}

function isUsage(value: unknown): value is UsageRecord {
  const u = value as UsageRecord | null;
  return typeof u === "object" && u !== null && u.v === 1 && typeof u.calls === "object" && typeof u.addresses === "object";
}

/**
 * Adds `b` into `a` (and returns `a`): counts are summed, the later last use wins, and each address keeps
 * its earliest first sighting and latest last one. Order does not matter, so entries written by several
 * processes add up to the same result however they are read.
 *
 * @example
 * mergeUsage(emptyUsage(), entry);
 */
export function mergeUsage(a: UsageRecord, b: UsageRecord): UsageRecord {
  for (const [day, servers] of Object.entries(b.calls)) {
    const d = (a.calls[day] ??= {});
    for (const [server, tools] of Object.entries(servers)) {
      const s = (d[server] ??= {});
      for (const [tool, n] of Object.entries(tools)) {
        const t = (s[tool] ??= [0, 0, 0]);
        t[0] += n[0] ?? 0;
        t[1] += n[1] ?? 0;
        t[2] += n[2] ?? 0;
      }
    }
  }
  // ISO timestamps of one format order as strings.
  if (b.lastUsedAt !== undefined && (a.lastUsedAt === undefined || b.lastUsedAt > a.lastUsedAt)) {
    a.lastUsedAt = b.lastUsedAt;
    if (b.lastUsedFrom === undefined) delete a.lastUsedFrom;
    else a.lastUsedFrom = b.lastUsedFrom;
  }
  for (const [address, [first, last]] of Object.entries(b.addresses)) {
    const seen = a.addresses[address];
    a.addresses[address] = seen ? [first < seen[0] ? first : seen[0], last > seen[1] ? last : seen[1]] : [first, last];
  }
  return a;
}

/**
 * Drops what is beyond the limits: days older than `keepDays` before `now`, and all but the
 * `maxAddresses` most recently seen addresses.
 *
 * @example
 * trimUsage(record, Date.now());
 */
export function trimUsage(u: UsageRecord, now: number, limits: UsageLimits = USAGE_LIMITS): UsageRecord {
  const oldest = new Date(now - (limits.keepDays - 1) * 86_400_000).toISOString().slice(0, 10);
  for (const day of Object.keys(u.calls)) if (day < oldest) delete u.calls[day];
  const addresses = Object.entries(u.addresses);
  if (addresses.length > limits.maxAddresses) {
    addresses.sort((x, y) => (y[1][1] > x[1][1] ? 1 : y[1][1] < x[1][1] ? -1 : 0));
    u.addresses = Object.fromEntries(addresses.slice(0, limits.maxAddresses));
  }
  return u;
}

/**
 * When a token was first seen at `address`, or undefined when this usage has never seen it there: what
 * an alert on "a token used from a new address" asks.
 *
 * @example
 * if (firstSeenAt(await tracker.record(tokenId), address) === undefined) alert();
 */
export function firstSeenAt(u: UsageRecord, address: string): string | undefined {
  return Object.hasOwn(u.addresses, address) ? u.addresses[address]![0] : undefined;
}

/**
 * Turns a usage record into the report the API serves.
 *
 * @example
 * const report = usageReport(record, { tokenId: "tok_...", user: "alice" });
 */
export function usageReport(u: UsageRecord, who: { tokenId?: string; user: string }, limits: UsageLimits = USAGE_LIMITS): UsageReport {
  const totals = { calls: 0, errors: 0, denied: 0 };
  const days: UsageReport["days"] = [];
  const byDay: UsageReport["byDay"] = [];
  const tools = new Map<string, UsageReport["tools"][number]>();
  for (const day of Object.keys(u.calls).sort()) {
    const row = { day, calls: 0, errors: 0, denied: 0 };
    for (const [server, ts] of Object.entries(u.calls[day]!).sort(([a], [b]) => a.localeCompare(b))) {
      for (const [tool, [ok, errors, denied]] of Object.entries(ts).sort(([a], [b]) => a.localeCompare(b))) {
        const calls = ok + errors + denied;
        byDay.push({ day, server, tool, calls, errors, denied });
        row.calls += calls;
        row.errors += errors;
        row.denied += denied;
        const key = JSON.stringify([server, tool]);
        const t = tools.get(key) ?? { server, tool, calls: 0, errors: 0, denied: 0, lastDay: day };
        t.calls += calls;
        t.errors += errors;
        t.denied += denied;
        t.lastDay = day;
        tools.set(key, t);
      }
    }
    days.push(row);
    totals.calls += row.calls;
    totals.errors += row.errors;
    totals.denied += row.denied;
  }
  const addresses = Object.entries(u.addresses)
    .map(([address, [firstSeenAt, lastSeenAt]]) => ({ address, firstSeenAt, lastSeenAt }))
    .sort((a, b) => b.lastSeenAt.localeCompare(a.lastSeenAt));
  return {
    ...(who.tokenId === undefined ? {} : { tokenId: who.tokenId }),
    user: who.user,
    ...(u.lastUsedAt === undefined ? {} : { lastUsedAt: u.lastUsedAt }),
    ...(u.lastUsedFrom === undefined ? {} : { lastUsedFrom: u.lastUsedFrom }),
    totals,
    days,
    tools: [...tools.values()].sort((a, b) => b.calls - a.calls || a.server.localeCompare(b.server) || a.tool.localeCompare(b.tool)),
    byDay,
    addresses,
    keepDays: limits.keepDays,
    maxAddresses: limits.maxAddresses,
  };
}

/** A token seen at an address its usage did not know. */
export interface NewAddress {
  tokenId: string;
  user?: string;
  address: string;
  /** ISO time of the request. */
  at: string;
  /** How many addresses the token was known at before this one (0: its first use anywhere). */
  known: number;
}

/** Per-token usage, fed by the audit bus and kept in the store. */
export interface UsageTracker {
  /** The token's usage: what the store holds plus what this process has not written yet. */
  record(tokenId: string): Promise<UsageRecord>;
  /**
   * Calls `listener` when a gateway token authenticates from an address its usage did not know (in this
   * process, or in the store when it was loaded). Returns the unsubscribe function.
   */
  onNewAddress(listener: (event: NewAddress) => void): () => void;
  /** Writes what is pending. */
  flush(): Promise<void>;
  close(): Promise<void>;
}

/** What {@link createUsageTracker} is built from. */
export interface UsageTrackerOptions {
  store: TokenStore;
  /** The audit bus: usage is what it says happened (`auth` and `tool_call` events of gateway tokens). */
  bus?: { listen(listener: (event: AuditEvent) => void): () => void };
  log: Logger;
  /** How often pending usage is written, ms; default 5000. */
  flushMs?: number;
  limits?: Partial<UsageLimits>;
}

const kindOf = (tokenId: string): string => `token-activity:${tokenId}`;
// Entries of one token are summed into one once there are more than this many.
const FOLD_AFTER = 8;
// Tokens whose known addresses are kept in memory for new-address checks.
const KNOWN_TOKENS = 10_000;

/**
 * Counts usage per token from the audit bus: every authentication of a gateway token (last used at and
 * from, addresses with first and last sighting) and every tool call (per day, server and tool: ok,
 * error, denied). Counts are batched in memory and written every `flushMs` as new entries under the
 * store's item kind `token-activity:<id>` (never read-modify-write, so processes sharing a store never
 * lose each other's counts); once a token has more than a few entries they are taken (a take goes to
 * one process only) and put back as one sum trimmed to the limits (90 days, 20 addresses).
 *
 * @example
 * const usage = createUsageTracker({ store, bus: audit, log });
 * const report = usageReport(await usage.record("tok_..."), { tokenId: "tok_...", user: "alice" });
 */
export function createUsageTracker(opts: UsageTrackerOptions): UsageTracker {
  const { store, log } = opts;
  const limits: UsageLimits = { ...USAGE_LIMITS, ...opts.limits };
  let pending = new Map<string, UsageRecord>();
  const known = new Map<string, Set<string> | Promise<Set<string>>>();
  const listeners = new Set<(event: NewAddress) => void>();

  const pendingOf = (tokenId: string): UsageRecord => {
    let u = pending.get(tokenId);
    if (!u) pending.set(tokenId, u = emptyUsage());
    return u;
  };

  async function stored(tokenId: string): Promise<UsageRecord> {
    const sum = emptyUsage();
    for (const { value } of await store.listItems(kindOf(tokenId))) if (isUsage(value)) mergeUsage(sum, value);
    return sum;
  }

  function knownOf(tokenId: string): Set<string> | Promise<Set<string>> {
    const hit = known.get(tokenId);
    if (hit) return hit;
    if (known.size >= KNOWN_TOKENS) known.delete(known.keys().next().value!);
    const loading = stored(tokenId).then(
      (u) => new Set(Object.keys(u.addresses)),
      () => new Set<string>(),
    ).then((set) => {
      if (known.get(tokenId) === loading) known.set(tokenId, set);
      return set;
    });
    known.set(tokenId, loading);
    return loading;
  }

  function sawAddress(tokenId: string, user: string | undefined, address: string, at: string): void {
    if (listeners.size === 0) return;
    const check = (set: Set<string>): void => {
      if (set.has(address)) return;
      const event: NewAddress = { tokenId, ...(user === undefined ? {} : { user }), address, at, known: set.size };
      set.add(address);
      // Bounded like the stored addresses (a few times over): the oldest sightings go first.
      if (set.size > limits.maxAddresses * 5) set.delete(set.values().next().value!);
      for (const l of listeners) {
        try {
          l(event);
        } catch (err) {
          log.warn("new-address listener failed", { error: err instanceof Error ? err.message : String(err) });
        }
      }
    };
    const k = knownOf(tokenId);
    if (k instanceof Set) check(k);
    else void k.then(check);
  }

  const off = opts.bus?.listen((event) => {
    if (event.type === "auth") {
      if (event.outcome !== "success" || event.tokenId === undefined) return;
      const u = pendingOf(event.tokenId);
      if (u.lastUsedAt === undefined || event.time >= u.lastUsedAt) {
        u.lastUsedAt = event.time;
        if (event.remoteAddress === undefined) delete u.lastUsedFrom;
        else u.lastUsedFrom = event.remoteAddress;
      }
      if (event.remoteAddress !== undefined) {
        const seen = u.addresses[event.remoteAddress];
        u.addresses[event.remoteAddress] = seen ? [seen[0], event.time] : [event.time, event.time];
        // A token used from very many addresses between two flushes keeps memory bounded too.
        if (!seen && Object.keys(u.addresses).length > limits.maxAddresses * 2) trimUsage(u, Date.now(), limits);
        sawAddress(event.tokenId, event.subject, event.remoteAddress, event.time);
      }
    } else if (event.type === "tool_call") {
      if (event.tokenId === undefined) return;
      const day = event.time.slice(0, 10);
      const d = (pendingOf(event.tokenId).calls[day] ??= {});
      const t = ((d[event.server] ??= {})[event.tool] ??= [0, 0, 0]);
      t[event.outcome === "denied" ? 2 : event.outcome === "ok" ? 0 : 1]++;
    }
  });

  async function fold(tokenId: string): Promise<void> {
    const kind = kindOf(tokenId);
    const entries = await store.listItems(kind);
    if (entries.length <= FOLD_AFTER) return;
    // Taken, not read: an entry another process folds at the same moment goes to one of us only.
    const taken = await Promise.all(entries.map((e) => store.takeItem(kind, e.key)));
    const sum = emptyUsage();
    let any = false;
    for (const value of taken) {
      if (!isUsage(value)) continue;
      mergeUsage(sum, value);
      any = true;
    }
    if (any) await store.putItem(kind, newId("use_"), trimUsage(sum, Date.now(), limits));
  }

  let flushing: Promise<void> = Promise.resolve();
  const flush = (): Promise<void> => {
    flushing = flushing.then(async () => {
      if (pending.size === 0) return;
      const batch = pending;
      pending = new Map();
      const now = Date.now();
      await Promise.all([...batch].map(async ([tokenId, u]) => {
        try {
          await store.putItem(kindOf(tokenId), newId("use_"), trimUsage(u, now, limits));
          await fold(tokenId);
        } catch (err) {
          log.warn("could not write token usage", { tokenId, error: err instanceof Error ? err.message : String(err) });
        }
      }));
    });
    return flushing;
  };
  const timer = setInterval(() => void flush(), opts.flushMs ?? 5000);
  unrefTimer(timer);

  return {
    async record(tokenId) {
      const u = await stored(tokenId);
      const p = pending.get(tokenId);
      if (p) mergeUsage(u, structuredClone(p));
      return trimUsage(u, Date.now(), limits);
    },
    onNewAddress(listener) {
      listeners.add(listener);
      return () => void listeners.delete(listener);
    },
    flush,
    async close() {
      clearInterval(timer);
      off?.();
      await flush();
    },
  };
}

/** What the usage API needs from the gateway. */
export interface UsageApiOptions {
  tracker: UsageTracker;
  tokens: Pick<TokenService, "get" | "list">;
  limits?: Partial<UsageLimits>;
}

function isAdmin(identity: Identity): boolean {
  return identity.scopes.includes("admin");
}

// A gateway token's user is only ever the same person as the caller when the caller is a gateway token
// of that user: an identity provider's `alice` is not the admin-named token user `alice`.
function isUser(identity: Identity, user: string): boolean {
  return identity.issuer === "gateway" && identity.tokenId !== undefined && identity.subject === user;
}

/**
 * The usage report of one token, for `GET /v1/auth/tokens/{id}/usage`: admins, and the token's own user
 * (any of their gateway tokens), may read it; anyone else gets 403.
 *
 * @example
 * tokenRoutes({ ..., usage: tokenUsageHandler({ tracker, tokens }) });
 */
export function tokenUsageHandler(opts: UsageApiOptions): (request: Request, identity: Identity, tokenId: string) => Promise<Response> {
  const limits = { ...USAGE_LIMITS, ...opts.limits };
  return async (_request, identity, tokenId) => {
    const token = await opts.tokens.get(tokenId);
    if (!token) throw new GatewayError(isAdmin(identity) ? "ERR_NOT_FOUND" : "ERR_FORBIDDEN", isAdmin(identity) ? `no token with id ${tokenId}` : "this token's usage is for its user and admins only");
    if (!isAdmin(identity) && !isUser(identity, token.user)) throw new GatewayError("ERR_FORBIDDEN", "this token's usage is for its user and admins only");
    const report = usageReport(await opts.tracker.record(tokenId), { tokenId, user: token.user }, limits);
    return json({ ...report, ...(token.kind === undefined ? {} : { kind: token.kind }), state: token.state });
  };
}

/**
 * One user's usage over all their gateway tokens (revoked and rotated ones included), with a row per token.
 *
 * @example
 * const report = await userUsage("alice", { tracker, tokens });
 */
export async function userUsage(user: string, opts: UsageApiOptions): Promise<UsageReport> {
  const limits = { ...USAGE_LIMITS, ...opts.limits };
  const tokens: PublicToken[] = await opts.tokens.list({ user });
  const sum = emptyUsage();
  const rows: NonNullable<UsageReport["tokens"]> = [];
  for (const t of tokens) {
    const u = await opts.tracker.record(t.id);
    const one = usageReport(structuredClone(u), { tokenId: t.id, user }, limits);
    rows.push({
      id: t.id,
      ...(t.name === undefined ? {} : { name: t.name }),
      ...(t.kind === undefined ? {} : { kind: t.kind }),
      state: t.state,
      ...(one.lastUsedAt === undefined ? {} : { lastUsedAt: one.lastUsedAt }),
      ...(one.lastUsedFrom === undefined ? {} : { lastUsedFrom: one.lastUsedFrom }),
      calls: one.totals.calls,
    });
    mergeUsage(sum, u);
  }
  // Addresses of several tokens together are bounded like one token's.
  return { ...usageReport(trimUsage(sum, Date.now(), limits), { user }, limits), tokens: rows };
}

/**
 * `GET /v1/auth/usage?user=alice`: admins may ask about anyone; a gateway token's user may ask about
 * themselves (without `user`, the caller).
 *
 * @example
 * const routes = usageRoutes({ tracker, tokens });
 */
export function usageRoutes(opts: UsageApiOptions): Route[] {
  const handler = async (request: Request, ctx: AuthContext): Promise<Response> => {
    if (request.method !== "GET") throw new GatewayError("ERR_METHOD_NOT_ALLOWED", `method ${request.method} is not allowed on /v1/auth/usage`, { headers: { allow: "GET" } });
    const identity = await ctx.authenticate!();
    for (const key of ctx.url.searchParams.keys()) {
      if (key !== "user") throw new GatewayError("ERR_BAD_REQUEST", `${key}: unknown query parameter; expected user`);
    }
    const asked = ctx.url.searchParams.get("user");
    if (asked !== null && (asked === "" || asked.length > 200)) throw new GatewayError("ERR_BAD_REQUEST", "user: expected a user name of 1 to 200 characters");
    const self = identity.issuer === "gateway" && identity.tokenId !== undefined ? identity.subject : undefined;
    const user = asked ?? self;
    if (user === undefined) throw new GatewayError("ERR_BAD_REQUEST", "user: required (the user whose usage to show)");
    if (!isAdmin(identity) && !isUser(identity, user)) throw new GatewayError("ERR_FORBIDDEN", "a user's usage is for that user and admins only");
    return json(await userUsage(user, opts));
  };
  return [{ method: "*", path: "/v1/auth/usage", origin: true, handler }];
}
