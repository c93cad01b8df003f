/**
 * A custom audit sink written only against Portcullis's exported types: the last N events in memory (a
 * ring buffer) and a running count per event type. For tests ("did that call get audited?") and for a
 * dashboard that polls the numbers. Writing an event is a few assignments: it never blocks a request,
 * and memory stays bounded however busy the gateway gets.
 *
 * @example
 * import { memoryAudit } from "./examples/custom-audit-sink.ts";
 * const audit = memoryAudit({ capacity: 500 });
 * const gateway = createGateway(defineGateway({ audit: [audit], ... }));
 * // later
 * audit.counts(); // { auth: 12, tool_call: 7 }
 * audit.events((e) => e.type === "tool_call" && !e.allowed);
 */
import type { AuditEvent, AuditSink } from "portcullis";

/** Options of {@link memoryAudit}. */
export interface MemoryAuditOptions {
  /** How many of the newest events are kept; default 1000. */
  capacity?: number;
}

/** The sink plus what it remembers. */
export interface MemoryAudit extends AuditSink {
  /** The kept events, oldest first; only those matching `filter` when one is given. */
  events(filter?: (event: AuditEvent) => boolean): AuditEvent[];
  /** Events seen per type since the start (or the last `clear()`), including those no longer kept. */
  counts(): Partial<Record<AuditEvent["type"], number>>;
  /** Events dropped from the buffer to make room. */
  evicted(): number;
  /**
   * The first kept or future event matching `match`; rejects after `timeoutMs` (default 2000). For
   * tests: some events are emitted just after the response they belong to has been sent.
   */
  waitFor(match: (event: AuditEvent) => boolean, timeoutMs?: number): Promise<AuditEvent>;
  /** Forgets every event and count. */
  clear(): void;
}

/**
 * The ring-buffer sink. Throws a `RangeError` at config time for a capacity that is not a positive integer.
 *
 * @example
 * const audit = memoryAudit({ capacity: 100 });
 * await audit.waitFor((e) => e.type === "auth" && e.outcome === "failure");
 */
export function memoryAudit(options: MemoryAuditOptions = {}): MemoryAudit {
  const capacity = options.capacity ?? 1000;
  if (!Number.isInteger(capacity) || capacity < 1) throw new RangeError(`memoryAudit.capacity: expected a positive integer, received ${JSON.stringify(capacity)}`);
  let ring: Array<AuditEvent | undefined> = new Array(capacity);
  // `next` is where the next event goes; once `size` reaches capacity it also points at the oldest.
  let next = 0;
  let size = 0;
  let dropped = 0;
  let counts: Partial<Record<AuditEvent["type"], number>> = {};
  const waiters = new Set<{ match: (event: AuditEvent) => boolean; resolve: (event: AuditEvent) => void }>();

  function kept(): AuditEvent[] {
    const start = size < capacity ? 0 : next;
    const out: AuditEvent[] = [];
    for (let i = 0; i < size; i++) out.push(ring[(start + i) % capacity]!);
    return out;
  }

  return {
    name: "audit:memory",
    write(event: AuditEvent): void {
      if (size === capacity) dropped++;
      else size++;
      ring[next] = event;
      next = (next + 1) % capacity;
      counts[event.type] = (counts[event.type] ?? 0) + 1;
      for (const w of waiters) {
        // A throwing predicate belongs to the test that wrote it, not to the gateway's request.
        let hit = false;
        try {
          hit = w.match(event);
        } catch {
          continue;
        }
        if (hit) {
          waiters.delete(w);
          w.resolve(event);
        }
      }
    },
    events(filter?: (event: AuditEvent) => boolean): AuditEvent[] {
      const all = kept();
      return filter ? all.filter(filter) : all;
    },
    counts: () => ({ ...counts }),
    evicted: () => dropped,
    waitFor(match: (event: AuditEvent) => boolean, timeoutMs = 2000): Promise<AuditEvent> {
      const found = kept().find(match);
      if (found) return Promise.resolve(found);
      return new Promise((resolve, reject) => {
        const waiter = {
          match,
          resolve: (event: AuditEvent) => {
            clearTimeout(timer);
            resolve(event);
          },
        };
        const timer = setTimeout(() => {
          waiters.delete(waiter);
          reject(new Error(`memoryAudit.waitFor: no matching event within ${timeoutMs} ms`));
        }, timeoutMs);
        waiters.add(waiter);
      });
    },
    clear(): void {
      ring = new Array(capacity);
      next = 0;
      size = 0;
      dropped = 0;
      counts = {};
    },
  };
}
