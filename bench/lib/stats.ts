/**
 * The median of a list of numbers (the mean of the two middle values for an even count); NaN when empty.
 *
 * @example
 * median([3, 1, 2]); // 2
 */
export function median(values: readonly number[]): number {
  return percentile(values, 50);
}

/**
 * The p-th percentile by linear interpolation between closest ranks; NaN when empty.
 *
 * @example
 * percentile([1, 2, 3, 4], 99); // 3.97
 */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = (p / 100) * (sorted.length - 1);
  const lo = Math.floor(rank);
  const hi = Math.ceil(rank);
  return sorted[lo]! + (sorted[hi]! - sorted[lo]!) * (rank - lo);
}

/**
 * A number for a table: at most `digits` significant digits, no exponent, "-" for NaN or undefined.
 *
 * @example
 * fmt(0.46321); // "0.463"
 */
export function fmt(value: number | undefined, digits = 3): string {
  if (value === undefined || !Number.isFinite(value)) return "-";
  if (Math.abs(value) >= 10 ** digits) return String(Math.round(value));
  return String(Number(value.toPrecision(digits)));
}

/**
 * Renders rows as an aligned plain-text table (first column left-aligned, the others right-aligned),
 * or as a Markdown table.
 *
 * @example
 * table(["case", "p50"], [["floor A", "0.46"]]);
 */
export function table(head: string[], rows: string[][], markdown = false): string {
  if (markdown) {
    const line = (r: string[]) => `| ${r.join(" | ")} |`;
    return [line(head), line(head.map((_, i) => (i === 0 ? "---" : "---:"))), ...rows.map(line)].join("\n");
  }
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  const cell = (c: string, i: number) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!));
  return [head, widths.map((w) => "-".repeat(w)), ...rows].map((r) => r.map(cell).join("  ")).join("\n");
}
