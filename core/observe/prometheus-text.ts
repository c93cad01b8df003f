// The Prometheus text exposition format (version 0.0.4): metric families whose series are found without
// allocating (label values walk a tree of maps), rendered only when scraped.

/** The content type of the text exposition format. */
export const PROMETHEUS_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8";

/** One counter or gauge series: add to `value` (a counter only ever grows). */
export interface ValueSeries {
  /** The rendered label set, `{a="x",b="y"}` or empty. */
  readonly labels: string;
  value: number;
}

/** One histogram series: `observe` it. */
export interface HistogramSeries {
  readonly labels: string;
  /** The family's upper bounds, ascending (`+Inf` not included). */
  readonly bounds: readonly number[];
  /** Observations per bucket (not cumulative); the last slot is `+Inf`. */
  readonly counts: Float64Array;
  sum: number;
  count: number;
}

/** A metric family: one name, one type, a fixed list of label names. */
export interface Family<S> {
  readonly name: string;
  readonly type: "counter" | "gauge" | "histogram";
  /**
   * The series of these label values (as many as the family has label names), created on first use.
   * Past `maxSeries` distinct series, every new label set shares one series whose values are all `other`.
   */
  at(a?: string, b?: string, c?: string, d?: string): S;
  /** Forgets every series (gauges set afresh at each scrape). */
  clear(): void;
  /** The family in the text format, ending with a newline; empty when it has no series. */
  render(): string;
}

/** Options of a family. */
export interface FamilyOptions {
  name: string;
  help: string;
  labels?: readonly string[];
  /** Most distinct series; default 2000. */
  maxSeries?: number;
}

const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

/** The default buckets of latency histograms, in seconds. */
export const LATENCY_BUCKETS: readonly number[] = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];

function escapeLabel(value: string): string {
  return value.replace(/\\/g, "\\\\").replace(/\n/g, "\\n").replace(/"/g, '\\"');
}

function escapeHelp(text: string): string {
  return text.replace(/\\/g, "\\\\").replace(/\n/g, "\\n");
}

/**
 * A number as the text format writes it: `+Inf`, `-Inf`, `NaN`, or a float Go's ParseFloat reads.
 *
 * @example
 * formatValue(Infinity); // "+Inf"
 */
export function formatValue(n: number): string {
  if (Number.isNaN(n)) return "NaN";
  if (n === Infinity) return "+Inf";
  if (n === -Infinity) return "-Inf";
  return String(n);
}

function renderLabels(names: readonly string[], values: readonly string[], extra?: string): string {
  const parts = names.map((n, i) => `${n}="${escapeLabel(values[i] ?? "")}"`);
  if (extra !== undefined) parts.push(extra);
  return parts.length === 0 ? "" : `{${parts.join(",")}}`;
}

type Tree<S> = Map<string, Tree<S> | S>;

function family<S extends { labels: string }>(o: FamilyOptions, type: Family<S>["type"], make: (labels: string, values: readonly string[]) => S, lines: (s: S, name: string) => string): Family<S> {
  if (!NAME.test(o.name)) throw new Error(`metric name ${JSON.stringify(o.name)} is not valid`);
  const names = o.labels ?? [];
  for (const l of names) if (!LABEL.test(l) || l.startsWith("__") || (type === "histogram" && l === "le")) throw new Error(`label name ${JSON.stringify(l)} is not valid`);
  const max = o.maxSeries ?? 2000;
  let root: Tree<S> = new Map();
  let all: S[] = [];
  let single: S | undefined;
  let overflow: S | undefined;
  const header = `# HELP ${o.name} ${escapeHelp(o.help)}\n# TYPE ${o.name} ${type}\n`;
  return {
    name: o.name,
    type,
    at(a, b, c, d) {
      if (names.length === 0) {
        if (!single) all.push(single = make("", []));
        return single;
      }
      // Walks one map per label: a hit allocates nothing.
      let node: Tree<S> = root;
      for (let i = 0; i < names.length - 1; i++) {
        const key = (i === 0 ? a : i === 1 ? b : c) ?? "";
        let next = node.get(key) as Tree<S> | undefined;
        if (!next) node.set(key, next = new Map());
        node = next;
      }
      const last = (names.length === 1 ? a : names.length === 2 ? b : names.length === 3 ? c : d) ?? "";
      let series = node.get(last) as S | undefined;
      if (series) return series;
      if (all.length >= max) {
        if (!overflow) all.push(overflow = make(renderLabels(names, names.map(() => "other")), names.map(() => "other")));
        return overflow;
      }
      const values = [a, b, c, d].slice(0, names.length).map((v) => v ?? "");
      series = make(renderLabels(names, values), values);
      node.set(last, series);
      all.push(series);
      return series;
    },
    clear() {
      root = new Map();
      all = [];
      single = undefined;
      overflow = undefined;
    },
    render() {
      if (all.length === 0) return "";
      let out = header;
      for (const s of all) out += lines(s, o.name);
      return out;
    },
  };
}

/**
 * A counter family.
 *
 * @example
 * const calls = counter({ name: "app_calls_total", help: "Calls.", labels: ["outcome"] });
 * calls.at("ok").value++;
 */
export function counter(o: FamilyOptions): Family<ValueSeries> {
  return family<ValueSeries>(o, "counter", (labels) => ({ labels, value: 0 }), (s, name) => `${name}${s.labels} ${formatValue(s.value)}\n`);
}

/**
 * A gauge family.
 *
 * @example
 * const open = gauge({ name: "app_sessions", help: "Open sessions." });
 * open.at().value = 3;
 */
export function gauge(o: FamilyOptions): Family<ValueSeries> {
  return family<ValueSeries>(o, "gauge", (labels) => ({ labels, value: 0 }), (s, name) => `${name}${s.labels} ${formatValue(s.value)}\n`);
}

/**
 * A histogram family with fixed upper bounds (ascending; `+Inf` is added).
 *
 * @example
 * const latency = histogram({ name: "app_seconds", help: "Latency.", labels: ["route"] }, LATENCY_BUCKETS);
 * observe(latency.at("/mcp"), 0.012);
 */
export function histogram(o: FamilyOptions, buckets: readonly number[] = LATENCY_BUCKETS): Family<HistogramSeries> {
  for (let i = 0; i < buckets.length; i++) {
    if (!Number.isFinite(buckets[i]) || (i > 0 && buckets[i]! <= buckets[i - 1]!)) throw new Error(`histogram ${o.name}: buckets must be finite and ascending`);
  }
  const names = o.labels ?? [];
  const bounds = [...buckets.map(formatValue), "+Inf"];
  const leLabels = new Map<string, string[]>();
  return family<HistogramSeries>(
    o,
    "histogram",
    (labels, values) => {
      leLabels.set(labels, bounds.map((b) => renderLabels(names, values, `le="${b}"`)));
      return { labels, bounds: buckets, counts: new Float64Array(bounds.length), sum: 0, count: 0 };
    },
    (s, name) => {
      const le = leLabels.get(s.labels)!;
      let out = "";
      let cumulative = 0;
      for (let i = 0; i < le.length; i++) {
        cumulative += s.counts[i]!;
        out += `${name}_bucket${le[i]} ${formatValue(cumulative)}\n`;
      }
      return `${out}${name}_sum${s.labels} ${formatValue(s.sum)}\n${name}_count${s.labels} ${formatValue(s.count)}\n`;
    },
  );
}

/**
 * Records one observation in a histogram series: the first bucket whose bound is at least `value`.
 *
 * @example
 * observe(latency.at("/mcp"), 0.012);
 */
export function observe(series: HistogramSeries, value: number): void {
  const bounds = series.bounds;
  let i = 0;
  while (i < bounds.length && value > bounds[i]!) i++;
  series.counts[i] = series.counts[i]! + 1;
  series.sum += value;
  series.count++;
}
