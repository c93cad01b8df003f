import { GatewayError } from "../errors.ts";
import type { ResolvedRate } from "../types.ts";

/** A budget: at most `limit` events per window of `windowMs`; `text` as written (`100/m`). */
export type Rate = ResolvedRate;

const UNIT: Record<string, number> = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** The shape of a rate: a count, a slash, and a window (`100/m`, `1000/h`, `20/10s`). */
export const RATE_PATTERN = /^(\d{1,9})\/(\d{0,6})([smhd])$/;

/**
 * Parses a rate such as `100/m` (per minute), `1000/h`, `5/s` or `20/10s` (20 per 10 seconds); `path`
 * names the setting in the error (`ERR_BAD_REQUEST`; config callers turn it into a config error).
 *
 * @example
 * parseRate("100/m", "rateLimit"); // { limit: 100, windowMs: 60000, text: "100/m" }
 */
export function parseRate(value: string, path: string): Rate {
  const m = RATE_PATTERN.exec(typeof value === "string" ? value.trim() : "");
  const every = m ? (m[2] === "" ? 1 : Number(m[2])) : 0;
  if (!m || Number(m[1]) === 0 || every === 0) {
    throw new GatewayError("ERR_BAD_REQUEST", `${path}: expected a rate such as 100/m, 1000/h or 20/10s, received ${JSON.stringify(value)}`);
  }
  return { limit: Number(m[1]), windowMs: every * UNIT[m[3]!]!, text: value.trim() };
}
