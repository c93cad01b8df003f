import { appendFile, mkdir } from "node:fs/promises";
import { dirname } from "node:path";
import { configError, type AuditEvent, type AuditSink } from "../../core/mod.ts";

/** Options of the JSONL audit sink. */
export interface JsonlAuditOptions {
  /** File to append to; its directory is created. */
  path: string;
  /** Most events held in memory while the disk is slow; older ones are dropped (and counted) past it. Default 10000. */
  maxBuffered?: number;
  /** How long events may wait before a write, ms; default 200. */
  flushMs?: number;
}

/**
 * Appends audit events to a file, one JSON object per line. Events are batched (one write per batch),
 * so requests never wait for the disk; if the disk falls behind, the buffer is bounded and the number
 * of dropped events is itself written to the file.
 *
 * @example
 * defineGateway({ audit: [jsonlAudit({ path: "./.portcullis/audit.jsonl" })], ... })
 */
export function jsonlAudit(options: JsonlAuditOptions): AuditSink {
  if (typeof options?.path !== "string" || options.path === "") throw configError("jsonlAudit.path", "expected a file path");
  const { path } = options;
  const max = options.maxBuffered ?? 10_000;
  const flushMs = options.flushMs ?? 200;
  // Events waiting for the disk are buffer[head ...]; dropping the oldest moves `head` instead of
  // shifting the array, which cost O(buffer) per event exactly when the disk was already behind.
  let buffer: string[] = [];
  let head = 0;
  let dropped = 0;
  // Every event dropped since start, for `/metrics` (`dropped` is what the next write reports in the file).
  let droppedTotal = 0;
  let timer: ReturnType<typeof setTimeout> | undefined;
  let writing: Promise<void> | undefined;
  let dirReady: Promise<unknown> | undefined;

  async function writeOut(): Promise<void> {
    while (buffer.length > head || dropped > 0) {
      const lines = head === 0 ? buffer : buffer.slice(head);
      buffer = [];
      head = 0;
      if (dropped > 0) {
        lines.push(JSON.stringify({ time: new Date().toISOString(), type: "audit_dropped", count: dropped }));
        dropped = 0;
      }
      dirReady ??= mkdir(dirname(path), { recursive: true, mode: 0o700 });
      await dirReady;
      await appendFile(path, lines.join("\n") + "\n", { mode: 0o600 });
    }
  }

  function flush(): Promise<void> {
    if (timer) {
      clearTimeout(timer);
      timer = undefined;
    }
    writing ??= writeOut().finally(() => {
      writing = undefined;
    });
    return writing;
  }

  return {
    name: "audit:jsonl",
    write(event: AuditEvent) {
      if (buffer.length - head >= max) {
        buffer[head++] = "";
        dropped++;
        droppedTotal++;
        if (head >= 1024 && head * 2 >= buffer.length) {
          buffer = buffer.slice(head);
          head = 0;
        }
      }
      buffer.push(JSON.stringify(event));
      if (!timer && !writing) {
        timer = setTimeout(() => void flush().catch(() => undefined), flushMs);
      }
    },
    async flush() {
      await flush();
      if (buffer.length > head) await flush();
    },
    async close() {
      await this.flush!();
    },
    dropped: () => droppedTotal,
  };
}
