import { GatewayError } from "../errors.ts";
import { createUsageTracker, type UsageReport, usageReport, userUsage } from "../tokens/usage.ts";
import type { GatewayConfig } from "../types.ts";
import { adminClient } from "./admin-client.ts";
import { openLocalStore } from "./local-store.ts";

/** Parsed options of `portcullis usage` and `portcullis tokens usage`. */
export interface UsageCliOptions {
  url?: string;
  adminToken?: string;
  json?: boolean;
  user?: string;
}

const BARS = "▁▂▃▄▅▆▇█";

/**
 * A one-line chart of calls per day over the `days` days ending `today` (UTC): `·` for a day without
 * calls, a bar from ▁ to █ scaled to the busiest day otherwise.
 *
 * @example
 * sparkline([{ day: "2026-12-03", calls: 4 }], 7, Date.parse("2026-12-03")); // "······█"
 */
export function sparkline(days: ReadonlyArray<{ day: string; calls: number }>, span: number, today: number): string {
  const by = new Map(days.map((d) => [d.day, d.calls]));
  const counts: number[] = [];
  for (let i = span - 1; i >= 0; i--) counts.push(by.get(new Date(today - i * 86_400_000).toISOString().slice(0, 10)) ?? 0);
  const max = Math.max(0, ...counts);
  return counts.map((n) => (n === 0 ? "·" : BARS[Math.min(BARS.length - 1, Math.ceil((n / max) * BARS.length) - 1)]!)).join("");
}

function table(head: string[], rows: string[][]): string {
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  return [head, ...rows].map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]!))).join("  ")).join("\n");
}

/**
 * A usage report as text: who and when last, a 30-day sparkline with totals, then calls per server and
 * tool, the addresses seen, and for a user each of their tokens.
 *
 * @example
 * console.log(renderUsage(report, Date.now()));
 */
export function renderUsage(r: UsageReport & { kind?: string; state?: string }, now: number): string {
  const span = 30;
  const lines: string[] = [];
  if (r.tokenId) lines.push(`token ${r.tokenId}  user ${r.user}${r.kind ? `  kind ${r.kind}` : ""}${r.state ? `  ${r.state}` : ""}`);
  else lines.push(`user ${r.user}  ${r.tokens?.length ?? 0} token(s)`);
  lines.push(r.lastUsedAt ? `last used ${r.lastUsedAt}${r.lastUsedFrom ? ` from ${r.lastUsedFrom}` : ""}` : "never used");
  const first = new Date(now - (span - 1) * 86_400_000).toISOString().slice(0, 10);
  const last = new Date(now).toISOString().slice(0, 10);
  lines.push(
    `calls per day ${first} .. ${last}: ${sparkline(r.days, span, now)}`,
    `total ${r.totals.calls} call(s) in ${r.keepDays} days: ${r.totals.errors} error(s), ${r.totals.denied} denied`,
    "",
  );
  lines.push(r.tools.length === 0 ? "no tool calls" : table(["SERVER", "TOOL", "CALLS", "ERRORS", "DENIED", "LAST DAY"], r.tools.map((t) => [t.server, t.tool, String(t.calls), String(t.errors), String(t.denied), t.lastDay])));
  lines.push("");
  lines.push(r.addresses.length === 0 ? "no addresses seen" : table(["ADDRESS", "FIRST SEEN", "LAST SEEN"], r.addresses.map((a) => [a.address, a.firstSeenAt, a.lastSeenAt])));
  if (r.tokens) {
    lines.push("");
    lines.push(r.tokens.length === 0 ? "no tokens" : table(["TOKEN", "NAME", "KIND", "STATE", "CALLS", "LAST USED", "FROM"], r.tokens.map((t) => [t.id, t.name ?? "-", t.kind ?? "-", t.state, String(t.calls), t.lastUsedAt ?? "never", t.lastUsedFrom ?? "-"])));
  }
  return lines.join("\n");
}

async function remote(target: { tokenId?: string; user?: string }, o: UsageCliOptions): Promise<UsageReport> {
  const call = adminClient(o.url!, o.adminToken);
  const path = target.tokenId !== undefined
    ? `/v1/auth/tokens/${encodeURIComponent(target.tokenId)}/usage`
    : `/v1/auth/usage${target.user === undefined ? "" : `?user=${encodeURIComponent(target.user)}`}`;
  return await call("GET", path) as unknown as UsageReport;
}

async function local(target: { tokenId?: string; user?: string }, config: GatewayConfig): Promise<UsageReport> {
  if (target.tokenId === undefined && target.user === undefined) throw new GatewayError("ERR_BAD_REQUEST", "--user is required");
  const { store, tokens, log, close } = await openLocalStore(config);
  // Read only: nothing is counted here, so nothing is written.
  const tracker = createUsageTracker({ store, log, flushMs: 3_600_000 });
  try {
    if (target.tokenId !== undefined) {
      const t = await tokens.get(target.tokenId);
      if (!t) throw new GatewayError("ERR_NOT_FOUND", `no token with id ${target.tokenId}`);
      return { ...usageReport(await tracker.record(t.id), { tokenId: t.id, user: t.user }), ...(t.kind ? { kind: t.kind } : {}), state: t.state } as UsageReport;
    }
    return await userUsage(target.user!, { tracker, tokens });
  } finally {
    await tracker.close();
    await close();
  }
}

/**
 * `portcullis tokens usage ID` and `portcullis usage --user U`: a table with a sparkline, or `--json`;
 * against a running gateway with `--url` (and an admin token, or the user's own token), or the
 * configured store.
 *
 * @example
 * await usageCommand({ tokenId: "tok_..." }, { url: "http://127.0.0.1:8787", adminToken }, async () => config);
 */
export async function usageCommand(target: { tokenId?: string; user?: string }, o: UsageCliOptions, config: () => Promise<GatewayConfig>): Promise<string> {
  const report = o.url ? await remote(target, o) : await local(target, await config());
  return o.json ? JSON.stringify(report, null, 2) : renderUsage(report, Date.now());
}
