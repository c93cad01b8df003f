import { GatewayError } from "../errors.ts";

const UNIT: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86400, w: 604800 };

/**
 * Parses a duration like `90m`, `24h`, `7d`, `30d` (also `s` and `w`) into seconds.
 *
 * @example
 * parseDuration("7d", "expiresIn"); // 604800
 */
export function parseDuration(value: string, path: string): number {
  const m = /^(\d{1,6})([smhdw])$/.exec(typeof value === "string" ? value.trim() : "");
  if (!m || Number(m[1]) === 0) {
    throw new GatewayError("ERR_BAD_REQUEST", `${path}: expected a duration such as 90m, 24h, 7d or 30d, received ${JSON.stringify(value)}`);
  }
  return Number(m[1]) * UNIT[m[2]!]!;
}
