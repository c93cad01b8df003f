import type { Logger } from "../types.ts";
import type { Audit, AuditEvent, AuditInput, AuditSink } from "../types.ts";

/** The gateway's audit fan-out, plus in-process listeners (metrics, alerts, usage) that see every event. */
export interface AuditBus extends Audit {
  /**
   * Calls `listener` synchronously with every event, sinks or not; it must be quick and must not throw
   * (what it throws is logged and dropped). Returns the unsubscribe function.
   */
  listen(listener: (event: AuditEvent) => void): () => void;
  /** Per sink: writes that threw or rejected, and the events it dropped when it counts them (`dropped()`). For /metrics. */
  sinkStats(): Array<{ name: string; failures: number; dropped?: number }>;
}

/**
 * Sends every event to every sink without waiting for any of them; a sink that throws or rejects is
 * logged (once a minute at most) and the request goes on.
 *
 * @example
 * const audit = createAudit([consoleAudit()], log);
 * audit.emit({ type: "auth", outcome: "success", path: "/mcp" });
 */
export function createAudit(sinks: readonly AuditSink[], log: Logger): AuditBus {
  const listeners = new Set<(event: AuditEvent) => void>();
  const lastWarned = new Map<string, number>();
  const failures = new Map<string, number>();
  const failed = (sink: AuditSink, err: unknown) => {
    failures.set(sink.name, (failures.get(sink.name) ?? 0) + 1);
    const now = Date.now();
    if ((lastWarned.get(sink.name) ?? 0) + 60_000 > now) return;
    lastWarned.set(sink.name, now);
    log.warn("audit sink failed", { sink: sink.name, error: err instanceof Error ? err.message : String(err) });
  };
  return {
    emit(input) {
      if (sinks.length === 0 && listeners.size === 0) return;
      const event = { time: new Date().toISOString(), ...input } as AuditEvent;
      for (const listener of listeners) {
        try {
          listener(event);
        } catch (err) {
          failed({ name: "listener", write: () => {} }, err);
        }
      }
      for (const sink of sinks) {
        try {
          const r = sink.write(event);
          if (r && typeof (r as Promise<void>).catch === "function") (r as Promise<void>).catch((err) => failed(sink, err));
        } catch (err) {
          failed(sink, err);
        }
      }
    },
    listen(listener) {
      listeners.add(listener);
      return () => void listeners.delete(listener);
    },
    sinkStats() {
      return sinks.map((s) => {
        let dropped: number | undefined;
        try {
          dropped = s.dropped?.();
        } catch {
          dropped = undefined;
        }
        return { name: s.name, failures: failures.get(s.name) ?? 0, ...(typeof dropped === "number" ? { dropped } : {}) };
      });
    },
    async flush() {
      await Promise.all(sinks.map((s) => s.flush?.().catch((err) => failed(s, err))));
    },
    async close() {
      await Promise.all(sinks.map((s) => (s.close ?? s.flush)?.call(s).catch((err) => failed(s, err))));
    },
  };
}
