import { configError, isGatewayError } from "../errors.ts";
import type { Counters } from "../tokens/counters.ts";
import { parseDuration } from "../tokens/duration.ts";
import type { AlertEvent, AlertRule, AuditEvent, Logger, ResolvedAlertRule, TokenStore } from "../types.ts";
import type { AuditBus } from "./bus.ts";

/**
 * `alerts` after defaults: a name (`when`), `count` 0 (every event) unless given, `within` 5 minutes,
 * `by` address, severity warning.
 *
 * @example
 * resolveAlertRules([{ when: "auth.failed", count: 10, within: "5m" }]);
 */
export function resolveAlertRules(input: readonly AlertRule[] | undefined): ResolvedAlertRule[] {
  return (input ?? []).map((r, i) => {
    let withinMs = 300_000;
    if (r.within !== undefined) {
      try {
        withinMs = parseDuration(r.within, `alerts[${i}].within`) * 1000;
      } catch (err) {
        throw isGatewayError(err) ? configError(`alerts[${i}].within`, "expected a duration such as 30s, 5m or 1h", JSON.stringify(r.within)) : err;
      }
    }
    if (r.count === undefined && (r.within !== undefined || r.by !== undefined)) {
      throw configError(`alerts[${i}].count`, "expected a count with within or by (how many events within the window fire the rule)");
    }
    return { name: r.name ?? r.when, when: r.when, count: r.count ?? 0, withinMs, by: r.by ?? "address", severity: r.severity ?? "warning" };
  });
}

/** The alert rules at work on an audit bus. */
export interface Alerts {
  /** Resolves once every event seen so far has been judged (and any alert it fired emitted). */
  settled(): Promise<void>;
  close(): Promise<void>;
}

/** What the alert rules need from the gateway. */
export interface AlertDeps {
  bus: AuditBus;
  /** Window counts, shared by every process on the store (`createCounters`). */
  counters: Counters;
  /** Tokens, whose user a failure against a known token names. */
  store: Pick<TokenStore, "get">;
  log: Logger;
  /**
   * Tells when a gateway token authenticates from an address it was never seen at (`known`: how many
   * addresses it had; 0 is its first use): the usage tracker's `onNewAddress` (core/tokens/usage.ts).
   */
  newAddresses?: (listener: (seen: NewAddressSeen) => void) => () => void;
}

/** A token seen at an address it was not known at. */
export interface NewAddressSeen {
  tokenId: string;
  user?: string;
  address: string;
  /** ISO time of the request. */
  at: string;
  /** Addresses known before this one; 0 for the token's first use. */
  known: number;
}

type Source = Exclude<AuditEvent, AlertEvent>;

function matches(when: ResolvedAlertRule["when"], e: Source): boolean {
  switch (when) {
    case "auth.failed":
      // A request without any credential is not an attempt (clients probe before they log in).
      return e.type === "auth" && e.outcome === "failure" && e.code !== "ERR_AUTH_REQUIRED";
    case "token.used_from_new_address":
      return false; // judged on its own, with the store
    case "admin.action":
      return e.type === "token" || (e.type === "credential" && e.action !== "use");
    case "lockout":
      return e.type === "lockout";
    case "rate_limit":
      return e.type === "rate_limit";
    case "oauth.replay":
      return e.type === "oauth" && (e.action === "refresh_reuse" || e.action === "code_replay");
    case "tool_call.denied":
      return e.type === "tool_call" && e.outcome === "denied";
  }
}

function describe(e: Source): string {
  switch (e.type) {
    case "auth":
      return `${e.outcome === "failure" ? `failed authentication (${e.code ?? "unknown"})` : "authentication"}${e.remoteAddress ? ` from ${e.remoteAddress}` : ""} on ${e.path}`;
    case "lockout":
      return `${e.by === "address" ? `address ${e.remoteAddress}` : `credential ${e.credential}`} locked out after ${e.failures} failed attempts, until ${e.until}`;
    case "rate_limit":
      return `${e.scope} rate limit ${e.limit} reached by ${e.subject}${e.server ? ` on ${e.server}` : ""}`;
    case "token":
      return `token ${e.action} of ${e.tokenId} (user ${e.user}) by ${e.actor}`;
    case "credential":
      return `credential ${e.name} ${e.action}${e.actor ? ` by ${e.actor}` : ""}`;
    case "oauth":
      return `OAuth ${e.action}${e.clientId ? ` by client ${e.clientId}` : ""}${e.subject ? ` for ${e.subject}` : ""}`;
    case "tool_call":
      return `tool call ${e.server}/${e.tool} denied to ${e.subject}`;
    default:
      return `${e.type} event`;
  }
}

/**
 * Evaluates alert rules on every audit event (through `bus.listen`, off the request's path) and emits an
 * `alert` event per firing: every matching event for a rule without `count`; for a counting rule, once
 * when the `count`-th matching event of one key (address, user or token) arrives within `within`, and not
 * again until that window ends. Counts live in the store's counters, so processes sharing a store fire
 * once between them. `token.used_from_new_address` fires when the usage tracker (`newAddresses`) sees a
 * token at an address it was never used from, except on its first use.
 *
 * @example
 * const alerts = createAlerts(resolveAlertRules([{ when: "lockout" }]), { bus, counters, store, log });
 */
export function createAlerts(rules: readonly ResolvedAlertRule[], deps: AlertDeps): Alerts {
  const { bus, counters, store, log } = deps;
  const pending = new Set<Promise<void>>();
  const newAddressRules = rules.filter((r) => r.when === "token.used_from_new_address");
  const otherRules = rules.filter((r) => r.when !== "token.used_from_new_address");

  const fire = (rule: ResolvedAlertRule, e: Source | undefined, extra: Partial<AlertEvent>, message: string): void => {
    const f = (e ?? {}) as { subject?: unknown; tokenId?: unknown; remoteAddress?: unknown };
    const subject = typeof f.subject === "string" ? f.subject : undefined;
    const tokenId = typeof f.tokenId === "string" ? f.tokenId : undefined;
    const remoteAddress = typeof f.remoteAddress === "string" ? f.remoteAddress : undefined;
    bus.emit({
      type: "alert",
      rule: rule.name,
      when: rule.when,
      severity: rule.severity,
      message,
      ...(subject === undefined ? {} : { subject }),
      ...(tokenId === undefined ? {} : { tokenId }),
      ...(remoteAddress === undefined ? {} : { remoteAddress }),
      ...extra,
      ...(e === undefined ? {} : { event: e }),
    });
  };

  async function keyOf(rule: ResolvedAlertRule, e: Source): Promise<string | undefined> {
    const f = e as { remoteAddress?: string; subject?: string; user?: string; tokenId?: string; credential?: string };
    if (rule.by === "address") return f.remoteAddress;
    if (rule.by === "token") return f.tokenId ?? f.credential;
    if (f.subject !== undefined) return f.subject;
    if (f.user !== undefined) return f.user;
    // A failure with a known token (revoked, expired) names its user through the record.
    return f.tokenId === undefined ? undefined : (await store.get(f.tokenId))?.user;
  }

  async function judge(rule: ResolvedAlertRule, index: number, e: Source): Promise<void> {
    if (rule.count === 0) return fire(rule, e, {}, `${rule.name}: ${describe(e)}`);
    const key = await keyOf(rule, e);
    if (key === undefined) return;
    const n = await counters.increment(`alert:${index}:${rule.name}`, `${rule.by}\u0000${key}`, 1, rule.withinMs);
    if (n !== rule.count) return;
    const within = Math.round(rule.withinMs / 1000);
    fire(rule, e, { count: n, withinSeconds: within, by: rule.by, key }, `${rule.name}: ${n} events within ${within} s for ${rule.by} ${key}; last: ${describe(e)}`);
  }

  async function newAddress(seen: NewAddressSeen): Promise<void> {
    // Processes sharing the store may each see the address as new: the counter lets one of them say so.
    if ((await counters.increment("alert:new-address", `${seen.tokenId}\u0000${seen.address}`, 1, 86_400_000)) !== 1) return;
    for (const rule of newAddressRules) {
      fire(rule, undefined, { key: seen.tokenId, by: "token", tokenId: seen.tokenId, remoteAddress: seen.address, ...(seen.user === undefined ? {} : { subject: seen.user }) },
        `${rule.name}: token ${seen.tokenId}${seen.user === undefined ? "" : ` of ${seen.user}`} used from a new address ${seen.address} (known at ${seen.known} before)`);
    }
  }

  const track = (work: Promise<void>): void => {
    const p = work.catch((err) => log.warn("alert rule failed", { error: err instanceof Error ? err.message : String(err) }));
    pending.add(p);
    void p.finally(() => pending.delete(p));
  };

  const off = bus.listen((event) => {
    if (event.type === "alert") return;
    otherRules.forEach((rule, i) => {
      if (matches(rule.when, event)) track(judge(rule, i, event));
    });
  });

  // The token's first use is no news: only an address after others is.
  const offNew = newAddressRules.length > 0 ? deps.newAddresses?.((seen) => {
    if (seen.known > 0) track(newAddress(seen));
  }) : undefined;
  if (newAddressRules.length > 0 && !deps.newAddresses) log.warn("alerts: token.used_from_new_address needs the usage tracker; the rule cannot fire");

  return {
    async settled() {
      while (pending.size > 0) await Promise.all([...pending]);
    },
    async close() {
      off();
      offNew?.();
      while (pending.size > 0) await Promise.all([...pending]);
    },
  };
}
