import type { Logger } from "./types.ts";

const LEVELS = { debug: 10, info: 20, warn: 30, error: 40, silent: 100 } as const;

/**
 * The built-in logger: one line per message on stderr, so stdout stays free for CLI output.
 *
 * @example
 * const log = createLogger("info");
 * log.info("listening", { url: "http://127.0.0.1:8787" });
 */
export function createLogger(level: keyof typeof LEVELS = "info"): Logger {
  const min = LEVELS[level];
  const write = (lvl: Exclude<keyof typeof LEVELS, "silent">, message: string, fields?: Record<string, unknown>): void => {
    if (LEVELS[lvl] < min) return;
    const extra = fields && Object.keys(fields).length > 0 ? " " + JSON.stringify(fields) : "";
    console.error(`[portcullis] ${lvl.padEnd(5)} ${message}${extra}`);
  };
  return {
    debug: (m, f) => write("debug", m, f),
    info: (m, f) => write("info", m, f),
    warn: (m, f) => write("warn", m, f),
    error: (m, f) => write("error", m, f),
  };
}
