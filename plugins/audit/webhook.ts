import { configError, interpolate, type AuditEvent, type AuditSink, type Logger } from "../../core/mod.ts";

/** Options of the webhook audit sink. */
export interface WebhookAuditOptions {
  /** Where events are POSTed (`http:` or `https:`); `${VAR}` is read from the environment. */
  url: string;
  /** Extra request headers (an `Authorization` the receiver wants, say); `${VAR}` is read from the environment. */
  headers?: Record<string, string>;
  /**
   * Which events are sent: event types or `type.outcome` / `type.action` (`["alert", "lockout",
   * "auth.failure", "token.revoke"]`), or a function. Default: every event.
   */
  filter?: string[] | ((event: AuditEvent) => boolean);
  /**
   * Key of the HMAC-SHA256 signature of each body, sent as `Portcullis-Signature: sha256=<hex>` (at least
   * 16 characters; `${VAR}` is read from the environment). Without it bodies are not signed.
   */
  secret?: string;
  /** `json` (default): the audit event as the body. `slack`: a Slack incoming-webhook message `{ text }`. */
  format?: "json" | "slack";
  /** Attempts after the first for a delivery that fails (network error, timeout, 408, 429, 5xx); default 5. */
  retries?: number;
  /** Wait before the first retry, ms, doubled for each next one (at most `maxBackoffMs`); default 1000. */
  backoffMs?: number;
  /** Longest wait between retries, ms; default 60000. A receiver's `Retry-After` is honoured up to it. */
  maxBackoffMs?: number;
  /** Most events waiting for delivery; past it the oldest is dropped (counted and logged). Default 1000. */
  maxQueue?: number;
  /** Time allowed for one delivery attempt, ms; default 10000. */
  timeoutMs?: number;
  /** How long `flush()` (and so `close()`) waits for the queue to drain, ms; default 5000. */
  flushTimeoutMs?: number;
  /** Where delivery problems are logged (at most once a minute each kind); default the console. */
  logger?: Logger;
}

/** What a webhook sink has done so far. */
export interface WebhookStats {
  /** Events delivered (a 2xx answer). */
  sent: number;
  /** Events given up on: retries exhausted, or refused with a 4xx that retrying cannot change. */
  failed: number;
  /** Events dropped from a full queue, or left undelivered when the sink closed. */
  dropped: number;
  /** Retries made. */
  retries: number;
  /** Events waiting now. */
  queued: number;
}

/** The webhook audit sink: an audit sink plus its delivery counts. */
export interface WebhookAuditSink extends AuditSink {
  flush(): Promise<void>;
  close(): Promise<void>;
  dropped(): number;
  stats(): WebhookStats;
}

const RESERVED = new Set(["content-type", "content-length", "host", "portcullis-signature", "portcullis-delivery", "portcullis-event"]);

const consoleLogger: Logger = {
  debug: () => {},
  info: () => {},
  warn: (message, fields) => console.warn(`portcullis: ${message}`, fields ?? ""),
  error: (message, fields) => console.error(`portcullis: ${message}`, fields ?? ""),
};

function intOption(value: number | undefined, fallback: number, min: number, max: number, path: string): number {
  if (value === undefined) return fallback;
  if (typeof value !== "number" || !Number.isInteger(value) || value < min || value > max) throw configError(path, `expected an integer from ${min} to ${max}`, String(value));
  return value;
}

function matcher(filter: WebhookAuditOptions["filter"]): (event: AuditEvent) => boolean {
  if (filter === undefined) return () => true;
  if (typeof filter === "function") return filter;
  if (!Array.isArray(filter) || filter.some((f) => typeof f !== "string" || f === "")) {
    throw configError("webhookAudit.filter", 'expected an array of event types such as ["alert", "auth.failure"], or a function');
  }
  const wanted = new Set(filter);
  return (event) => {
    if (wanted.has(event.type)) return true;
    const e = event as { outcome?: unknown; action?: unknown };
    return (typeof e.outcome === "string" && wanted.has(`${event.type}.${e.outcome}`)) || (typeof e.action === "string" && wanted.has(`${event.type}.${e.action}`));
  };
}

/** A one-line summary of an event for people (the Slack format). */
function slackText(event: AuditEvent): string {
  if (event.type === "alert") return `:rotating_light: *${event.severity}* alert \`${event.rule}\`: ${event.message} (${event.time})`;
  const e = event as { outcome?: string; action?: string; subject?: string; remoteAddress?: string };
  const what = [event.type, e.action, e.outcome].filter(Boolean).join(" ");
  return `Portcullis audit: ${what}${e.subject ? ` by ${e.subject}` : ""}${e.remoteAddress ? ` from ${e.remoteAddress}` : ""} (${event.time})`;
}

function hex(bytes: ArrayBuffer): string {
  return Array.from(new Uint8Array(bytes), (b) => b.toString(16).padStart(2, "0")).join("");
}

/**
 * Sends audit events to an HTTP endpoint, one POST per event, without ever holding up a request: `write`
 * only queues. A worker delivers the queue in order; a failed delivery (network error, timeout, 408, 429,
 * 5xx) is retried with exponential backoff and jitter (honouring `Retry-After`), a 4xx other than those is
 * given up at once. The queue is bounded: past `maxQueue` the oldest event is dropped, counted
 * (`dropped()`, `stats()`) and logged. With `secret`, each body is signed: `Portcullis-Signature:
 * sha256=<hex HMAC-SHA256 of the exact body bytes>`; every request also carries `Portcullis-Delivery` (a
 * fresh id per event, the same on retries) and `Portcullis-Event` (the event type).
 *
 * @example
 * defineGateway({
 *   audit: [jsonlAudit({ path: "audit.jsonl" }), webhookAudit({ url: "${ALERT_WEBHOOK_URL}", secret: "${ALERT_WEBHOOK_SECRET}", filter: ["alert"] })],
 *   alerts: [{ when: "lockout" }],
 *   servers: { ... },
 * })
 */
export function webhookAudit(options: WebhookAuditOptions): WebhookAuditSink {
  if (typeof options !== "object" || options === null) throw configError("webhookAudit", "expected options { url, headers?, filter?, secret?, format? }");
  if (typeof options.url !== "string" || options.url === "") throw configError("webhookAudit.url", "expected an http(s) URL");
  const url = interpolate(options.url, "webhookAudit.url");
  // A `${VAR}` still here is missing from the environment: the config loader collecting them reports it.
  const pending = (value: string): boolean => value.includes("${");
  let parsed: URL;
  try {
    parsed = new URL(pending(url) ? "http://pending.invalid/" : url);
  } catch {
    throw configError("webhookAudit.url", "expected an http(s) URL");
  }
  if (parsed.protocol !== "http:" && parsed.protocol !== "https:") throw configError("webhookAudit.url", "expected an http(s) URL", JSON.stringify(parsed.protocol));
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(options.headers ?? {})) {
    if (!/^[A-Za-z0-9-]+$/.test(name) || RESERVED.has(name.toLowerCase())) throw configError(`webhookAudit.headers.${name}`, "expected a header name the sink does not set itself");
    if (typeof value !== "string") throw configError(`webhookAudit.headers.${name}`, "expected a string");
    headers[name] = interpolate(value, `webhookAudit.headers.${name}`);
  }
  const secret = options.secret === undefined ? undefined : interpolate(options.secret, "webhookAudit.secret");
  if (secret !== undefined && !pending(secret) && secret.length < 16) throw configError("webhookAudit.secret", "expected at least 16 characters");
  const format = options.format ?? "json";
  if (format !== "json" && format !== "slack") throw configError("webhookAudit.format", 'expected "json" or "slack"', JSON.stringify(format));
  const wanted = matcher(options.filter);
  const retries = intOption(options.retries, 5, 0, 100, "webhookAudit.retries");
  const backoffMs = intOption(options.backoffMs, 1000, 1, 3_600_000, "webhookAudit.backoffMs");
  const maxBackoffMs = intOption(options.maxBackoffMs, 60_000, backoffMs, 3_600_000, "webhookAudit.maxBackoffMs");
  const maxQueue = intOption(options.maxQueue, 1000, 1, 1_000_000, "webhookAudit.maxQueue");
  const timeoutMs = intOption(options.timeoutMs, 10_000, 1, 600_000, "webhookAudit.timeoutMs");
  const flushTimeoutMs = intOption(options.flushTimeoutMs, 5000, 0, 600_000, "webhookAudit.flushTimeoutMs");
  const log = options.logger ?? consoleLogger;

  const key = secret === undefined
    ? undefined
    : crypto.subtle.importKey("raw", new TextEncoder().encode(secret), { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
  // Waiting events are queue[head ...]; dropping the oldest moves `head` instead of shifting the array.
  let queue: AuditEvent[] = [];
  let head = 0;
  const stats = { sent: 0, failed: 0, dropped: 0, retries: 0 };
  let working: Promise<void> | undefined;
  let closed = false;
  // Ends the wait before a retry and the attempt in flight when the sink closes.
  const stop = new AbortController();
  const lastWarned = new Map<string, number>();
  const warn = (kind: string, message: string, fields: Record<string, unknown>): void => {
    const now = Date.now();
    if ((lastWarned.get(kind) ?? 0) + 60_000 > now) return;
    lastWarned.set(kind, now);
    log.warn(message, { sink: "audit:webhook", url: parsed.origin, ...fields, ...stats });
  };

  const sleep = (ms: number): Promise<void> =>
    new Promise((resolve) => {
      if (stop.signal.aborted) return resolve();
      const timer = setTimeout(done, ms);
      function done(): void {
        clearTimeout(timer);
        stop.signal.removeEventListener("abort", done);
        resolve();
      }
      stop.signal.addEventListener("abort", done);
    });

  /** One attempt: "ok", "retry" (with the receiver's Retry-After, ms, when it sent one) or "give-up". */
  async function attempt(body: string, requestHeaders: Record<string, string>): Promise<{ outcome: "ok" | "retry" | "give-up"; after?: number; status?: number; error?: string }> {
    try {
      const res = await fetch(url, { method: "POST", headers: requestHeaders, body, signal: AbortSignal.any([stop.signal, AbortSignal.timeout(timeoutMs)]), redirect: "manual" });
      await res.body?.cancel().catch(() => undefined);
      if (res.status >= 200 && res.status < 300) return { outcome: "ok" };
      if (res.status === 408 || res.status === 429 || res.status >= 500) {
        const ra = Number(res.headers.get("retry-after"));
        return { outcome: "retry", status: res.status, ...(Number.isFinite(ra) && ra > 0 ? { after: ra * 1000 } : {}) };
      }
      return { outcome: "give-up", status: res.status };
    } catch (err) {
      return { outcome: "retry", error: err instanceof Error ? err.message : String(err) };
    }
  }

  async function deliver(event: AuditEvent): Promise<void> {
    const body = JSON.stringify(format === "slack" ? { text: slackText(event) } : event);
    const requestHeaders: Record<string, string> = {
      ...headers,
      "content-type": "application/json",
      "portcullis-delivery": crypto.randomUUID(),
      "portcullis-event": event.type,
    };
    if (key) requestHeaders["portcullis-signature"] = `sha256=${hex(await crypto.subtle.sign("HMAC", await key, new TextEncoder().encode(body)))}`;
    for (let tried = 0; ; tried++) {
      const r = await attempt(body, requestHeaders);
      if (r.outcome === "ok") {
        stats.sent++;
        return;
      }
      if (r.outcome === "give-up" || tried >= retries || closed) {
        if (closed && r.outcome === "retry" && tried < retries) stats.dropped++;
        else stats.failed++;
        warn("failed", "audit webhook delivery failed", { status: r.status, error: r.error, attempts: tried + 1 });
        return;
      }
      stats.retries++;
      // Exponential backoff with jitter (75-125 %), so many gateways do not retry in step.
      const backoff = Math.min(maxBackoffMs, backoffMs * 2 ** tried) * (0.75 + Math.random() / 2);
      await sleep(Math.min(maxBackoffMs, Math.max(backoff, r.after ?? 0)));
    }
  }

  function work(): void {
    if (working || closed) return;
    working = (async () => {
      while (queue.length > head && !closed) {
        const event = queue[head]!;
        queue[head++] = undefined as never;
        if (head > 1024 && head * 2 > queue.length) {
          queue = queue.slice(head);
          head = 0;
        }
        await deliver(event);
      }
    })().finally(() => {
      working = undefined;
      if (queue.length > head && !closed) work();
    });
  }

  const waitIdle = async (ms: number): Promise<void> => {
    const end = Date.now() + ms;
    while ((working || queue.length > head) && Date.now() < end) {
      await Promise.race([working ?? Promise.resolve(), new Promise((r) => setTimeout(r, Math.max(1, Math.min(50, end - Date.now()))))]);
    }
  };

  return {
    name: "audit:webhook",
    write(event) {
      if (closed || !wanted(event)) return;
      if (queue.length - head >= maxQueue) {
        head++;
        stats.dropped++;
        warn("dropped", "audit webhook queue full: dropping the oldest events", { maxQueue });
      }
      queue.push(event);
      work();
    },
    dropped: () => stats.dropped,
    stats: () => ({ ...stats, queued: queue.length - head }),
    async flush() {
      await waitIdle(flushTimeoutMs);
    },
    async close() {
      await waitIdle(flushTimeoutMs);
      closed = true;
      stop.abort();
      await working?.catch(() => undefined);
      const left = queue.length - head;
      if (left > 0) {
        stats.dropped += left;
        warn("closed", "audit webhook closed with events undelivered", { undelivered: left });
      }
      queue = [];
      head = 0;
    },
  };
}
