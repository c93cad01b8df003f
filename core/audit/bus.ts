import type { Logger } from "../types.ts";
import type { Audit, AuditInput, AuditSink } from "../types.ts";

/**
 * Sends every event to every sink without waiting for any of them; a sink that throws or rejects is
 * logged (once a minute at most) and the request goes on.
 *
 * @example
 * const audit = createAudit([consoleAudit()], log);
 * audit.emit({ type: "auth", outcome: "success", path: "/mcp" });
 */
export function createAudit(sinks: readonly AuditSink[], log: Logger): Audit {
  const lastWarned = new Map<string, number>();
  const failed = (sink: AuditSink, err: unknown) => {
    const now = Date.now();
    if ((lastWarned.get(sink.name) ?? 0) + 60_000 > now) return;
    lastWarned.set(sink.name, now);
    log.warn("audit sink failed", { sink: sink.name, error: err instanceof Error ? err.message : String(err) });
  };
  return {
    emit(input) {
      if (sinks.length === 0) return;
      const event = { time: new Date().toISOString(), ...input } as Parameters<AuditSink["write"]>[0];
      for (const sink of sinks) {
        try {
          const r = sink.write(event);
          if (r && typeof (r as Promise<void>).catch === "function") (r as Promise<void>).catch((err) => failed(sink, err));
        } catch (err) {
          failed(sink, err);
        }
      }
    },
    async flush() {
      await Promise.all(sinks.map((s) => s.flush?.().catch((err) => failed(s, err))));
    },
    async close() {
      await Promise.all(sinks.map((s) => (s.close ?? s.flush)?.call(s).catch((err) => failed(s, err))));
    },
  };
}
