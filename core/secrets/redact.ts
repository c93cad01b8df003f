/** Values shorter than this are not redacted: replacing every "1234" in a result would mangle it and hide nothing. */
export const MIN_REDACT_LENGTH = 6;

/**
 * Replaces known secret values with `[REDACTED:NAME]` in what upstreams send back (results, errors,
 * log lines) before it reaches a client or the audit trail.
 */
export interface Redactor {
  /** Registers a secret value under the name shown in its place. Short values are ignored. */
  add(value: string, name: string): void;
  /** Forgets a value (a deleted per-user credential, say). */
  remove(value: string): void;
  /** How many values are registered. */
  size(): number;
  /** `text` with every known value replaced; the same string when there is nothing to redact. */
  redactText(text: string): string;
  /**
   * Redacts every string inside `value` (JSON-like: objects, arrays, strings; object keys too). Returns
   * the same object when nothing matched, else a copy with only the changed branches rebuilt.
   */
  redact<T>(value: T): T;
}

function escape(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

/**
 * A redactor holding a set of known secret values. One combined regular expression (longest value
 * first, so a value containing another is replaced whole) is rebuilt lazily after a change; strings are
 * scanned once each, which keeps a result with nothing to redact close to free.
 *
 * @example
 * const redactor = createRedactor();
 * redactor.add("ghp_abcdef123456", "GITHUB_TOKEN");
 * redactor.redactText("token ghp_abcdef123456"); // "token [REDACTED:GITHUB_TOKEN]"
 * const safe = redactor.redact(result);
 */
export function createRedactor(): Redactor {
  const names = new Map<string, string>();
  let pattern: RegExp | undefined;
  let dirty = false;

  const compile = (): RegExp | undefined => {
    if (dirty) {
      dirty = false;
      const values = [...names.keys()].sort((a, b) => b.length - a.length);
      pattern = values.length === 0 ? undefined : new RegExp(values.map(escape).join("|"), "g");
    }
    return pattern;
  };

  const text = (s: string): string => {
    const re = compile();
    if (!re) return s;
    re.lastIndex = 0;
    if (!re.test(s)) return s;
    re.lastIndex = 0;
    return s.replace(re, (m) => `[REDACTED:${names.get(m) ?? "secret"}]`);
  };

  const walk = (value: unknown, depth: number): unknown => {
    if (typeof value === "string") return text(value);
    if (value === null || typeof value !== "object" || depth > 64) return value;
    if (Array.isArray(value)) {
      let out: unknown[] | undefined;
      for (let i = 0; i < value.length; i++) {
        const r = walk(value[i], depth + 1);
        if (r !== value[i]) (out ??= value.slice())[i] = r;
      }
      return out ?? value;
    }
    const proto = Object.getPrototypeOf(value);
    if (proto !== Object.prototype && proto !== null) {
      // An Error (upstream failures) keeps its class; its message and data are what may carry a value.
      if (value instanceof Error) {
        const message = text(value.message);
        const data = walk((value as { data?: unknown }).data, depth + 1);
        if (message === value.message && data === (value as { data?: unknown }).data) return value;
        const copy = Object.create(proto) as Error & { data?: unknown };
        Object.assign(copy, value, { message, ...(data === undefined ? {} : { data }) });
        if (value.stack) copy.stack = text(value.stack);
        return copy;
      }
      return value;
    }
    let out: Record<string, unknown> | undefined;
    for (const [k, v] of Object.entries(value)) {
      const r = walk(v, depth + 1);
      const key = text(k);
      if (r !== v || key !== k) {
        if (!out) out = { ...(value as Record<string, unknown>) };
        if (key !== k) delete out[k];
        out[key] = r;
      }
    }
    return out ?? value;
  };

  return {
    add(value, name) {
      if (typeof value !== "string" || value.length < MIN_REDACT_LENGTH || names.get(value) === name) return;
      names.set(value, name);
      dirty = true;
    },
    remove(value) {
      if (names.delete(value)) dirty = true;
    },
    size: () => names.size,
    redactText: (s) => (names.size === 0 || typeof s !== "string" ? s : text(s)),
    redact: <T>(value: T): T => (names.size === 0 ? value : walk(value, 0) as T),
  };
}

/**
 * A redactor that applies `base` and then `own`: a user's own credential is redacted on that user's
 * connection only, so a value one user chooses can never alter what other users receive.
 *
 * @example
 * const mine = createRedactor();
 * mine.add(credential, "user:github");
 * const forUser = layeredRedactor(secrets.redactor, mine);
 */
export function layeredRedactor(base: Redactor, own: Redactor): Redactor {
  return {
    add: (value, name) => own.add(value, name),
    remove: (value) => own.remove(value),
    size: () => base.size() + own.size(),
    redactText: (s) => own.redactText(base.redactText(s)),
    redact: <T>(value: T): T => own.redact(base.redact(value)),
  };
}
