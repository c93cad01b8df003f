import { principalOf } from "../auth/principal.ts";
import { GatewayError } from "../errors.ts";
import { json } from "../http/responses.ts";
import type { Counters } from "../tokens/counters.ts";
import type { Audit, Identity } from "../types.ts";
import { parseRate, type Rate } from "./rate.ts";

/** The rate limits in force, after defaults (see `LimitSettings`). */
export interface RateLimitSettings {
  /** Tool calls of each token or API key (its own `rateLimit` wins), per window. */
  token?: Rate;
  /** Tool calls of each user (principal), all credentials together. */
  user?: Rate;
  /** Tool calls each named server receives from every caller together. */
  servers: Record<string, Rate>;
  /** The same for every server not named in `servers`. */
  server?: Rate;
}

/** Charges tool calls against the budgets that apply to them. */
export interface RateLimiter {
  /**
   * Charges one tool call of `identity` to `server` (undefined when the name names none): the token's
   * budget, then the user's, then the server's. Resolves to the 429 (`ERR_RATE_LIMITED`, `Retry-After`)
   * of the first budget it would exceed (the call is then given back to the budgets before it), else undefined.
   */
  charge(identity: Identity, server: string | undefined): Promise<GatewayError | undefined>;
}

// Tokens' own rates, looked up once per token: a token's `rateLimit` never changes.
const CACHE_SIZE = 10_000;

/**
 * Fixed-window rate limits on the store's atomic counters: each call increments the counter of the
 * current window (windows start at multiples of their length, the same in every process), and a call
 * that brings it past the limit is refused; so however many callers race, exactly `limit` calls per
 * window get through, across every process sharing the store. The first refusal of a window is audited
 * (type `rate_limit`).
 *
 * @example
 * const limiter = createRateLimiter(settings, counters, audit, async (id) => (await store.get(id))?.rateLimit);
 * const refused = await limiter.charge(identity, "github");
 */
export function createRateLimiter(
  settings: RateLimitSettings,
  counters: Counters,
  audit: Audit,
  tokenRate: (tokenId: string) => Promise<Rate | undefined>,
): RateLimiter {
  const own = new Map<string, Rate | null>();
  const rateOfToken = async (id: string): Promise<Rate | undefined> => {
    let r = own.get(id);
    if (r === undefined) {
      r = (await tokenRate(id)) ?? null;
      if (own.size >= CACHE_SIZE) own.delete(own.keys().next().value!);
      own.set(id, r);
    }
    return r ?? settings.token;
  };

  async function spend(scope: "token" | "user" | "server", key: string, rate: Rate, identity: Identity, server: string | undefined): Promise<{ refused?: GatewayError; refund: () => Promise<unknown> }> {
    const now = Date.now();
    const start = now - (now % rate.windowMs);
    const end = start + rate.windowMs;
    const counter = `${key}\u0000${start}`;
    // The counter outlives its window by a second, so a refund made just after the increment finds it.
    const n = await counters.increment(`rate:${scope}`, counter, 1, end - now + 1000);
    const refund = () => counters.increment(`rate:${scope}`, counter, -1, end - Date.now() + 1000);
    if (n <= rate.limit) return { refund };
    if (n === rate.limit + 1) {
      audit.emit({
        type: "rate_limit",
        scope,
        limit: rate.text,
        subject: identity.subject,
        ...(identity.tokenId === undefined ? {} : { tokenId: identity.tokenId }),
        ...(server === undefined ? {} : { server }),
        until: new Date(end).toISOString(),
      });
    }
    const seconds = Math.max(1, Math.ceil((end - now) / 1000));
    const whose = scope === "token" ? "this credential" : scope === "user" ? "this user" : `server '${server}'`;
    return { refund, refused: new GatewayError("ERR_RATE_LIMITED", `rate limit of ${whose} reached (${rate.text}); retry after ${seconds} s`, { headers: { "retry-after": String(seconds) } }) };
  }

  return {
    async charge(identity, server) {
      const budgets: Array<[scope: "token" | "user" | "server", key: string, rate: Rate]> = [];
      const tokenKey = identity.tokenId ?? identity.credentialId;
      const tokenBudget = tokenKey === undefined ? undefined : identity.tokenId !== undefined ? await rateOfToken(identity.tokenId) : settings.token;
      if (tokenBudget) budgets.push(["token", tokenKey!, tokenBudget]);
      if (settings.user) budgets.push(["user", principalOf(identity), settings.user]);
      const serverBudget = server === undefined ? undefined : settings.servers[server] ?? settings.server;
      if (serverBudget) budgets.push(["server", server!, serverBudget]);
      const spent: Array<() => Promise<unknown>> = [];
      for (const [scope, key, rate] of budgets) {
        const r = await spend(scope, key, rate, identity, server);
        if (r.refused) {
          // A call refused by one budget is given back to those it had already been counted against.
          await Promise.all(spent.map((refund) => refund().catch(() => undefined)));
          return r.refused;
        }
        spent.push(r.refund);
      }
      return undefined;
    },
  };
}

/**
 * The tool calls in a JSON-RPC body (one message or a batch): each request's id and tool name.
 *
 * @example
 * toolCallsOf({ jsonrpc: "2.0", id: 1, method: "tools/call", params: { name: "github__search" } }); // [{ id: 1, name: "github__search" }]
 */
export function toolCallsOf(body: unknown): Array<{ id: unknown; name: string }> {
  const out: Array<{ id: unknown; name: string }> = [];
  for (const m of Array.isArray(body) ? body : [body]) {
    if (typeof m !== "object" || m === null) continue;
    const { method, params, id } = m as { method?: unknown; params?: { name?: unknown }; id?: unknown };
    if (method === "tools/call" && typeof params?.name === "string") out.push({ id: id ?? null, name: params.name });
  }
  return out;
}

/**
 * A token record's own rate limit (`rateLimit` in its create body), parsed; undefined when it has none
 * (or an unreadable one, which the create body's validation never lets in).
 *
 * @example
 * tokenRateOf(await store.get("tok_...")); // { limit: 100, windowMs: 60000, text: "100/m" }
 */
export function tokenRateOf(record: { rateLimit?: string } | undefined): Rate | undefined {
  if (record?.rateLimit === undefined) return undefined;
  try {
    return parseRate(record.rateLimit, "rateLimit");
  } catch {
    return undefined;
  }
}

/**
 * Charges the tool calls of a `/mcp` body to the caller's budgets. Within budget: undefined, and the body
 * goes on. Over budget: the answer, 429 with `Retry-After` and, for each request of the body, a JSON-RPC
 * error whose `data` carries the gateway's code (`ERR_RATE_LIMITED`) and `retryAfter` in seconds. A batch
 * over budget is refused whole (its calls within budget were still counted).
 *
 * @example
 * const refused = await chargeToolCalls(limiter, body, identity, (name) => splitName(name, "__", servers)?.server);
 * if (refused) return refused;
 */
export async function chargeToolCalls(limiter: RateLimiter, body: unknown, identity: Identity, serverOf: (name: string) => string | undefined): Promise<Response | undefined> {
  for (const call of toolCallsOf(body)) {
    const refused = await limiter.charge(identity, serverOf(call.name));
    if (!refused) continue;
    const retryAfter = Number(refused.headers?.["retry-after"] ?? 1);
    const error = { code: -32000, message: refused.message, data: { code: refused.code, retryAfter } };
    const ids = (Array.isArray(body) ? body : [body]).flatMap((m) => {
      const id = (m as { id?: unknown } | null)?.id;
      return typeof id === "string" || typeof id === "number" ? [id] : [];
    });
    const answer = Array.isArray(body) ? ids.map((id) => ({ jsonrpc: "2.0", id, error })) : { jsonrpc: "2.0", id: ids[0] ?? null, error };
    return json(answer, 429, { "retry-after": String(retryAfter) });
  }
  return undefined;
}
