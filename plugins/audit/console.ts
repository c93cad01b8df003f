import type { AuditEvent, AuditSink } from "../../core/mod.ts";

/**
 * Writes every audit event as one JSON line on stderr.
 *
 * @example
 * defineGateway({ audit: [consoleAudit()], ... })
 */
export function consoleAudit(): AuditSink {
  return {
    name: "audit:console",
    write(event: AuditEvent) {
      console.error(JSON.stringify({ audit: event }));
    },
  };
}
