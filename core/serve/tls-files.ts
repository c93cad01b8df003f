// The PEM files of `server.tls`: read and checked (at start, on SIGHUP, on change), and watched by
// polling their stat, which sees in-place writes and atomic renames alike on every runtime.
import { readFile, stat } from "node:fs/promises";
import { configError } from "../errors.ts";
import type { ResolvedTls } from "../types.ts";
import { unrefTimer } from "../unref-timer.ts";
import type { TlsMaterial } from "./adapter.ts";

const FILES = [
  { field: "cert", label: "CERTIFICATE", what: "a PEM certificate (-----BEGIN CERTIFICATE-----)" },
  { field: "key", label: "PRIVATE KEY", what: "a PEM private key (-----BEGIN PRIVATE KEY-----, or RSA/EC PRIVATE KEY)" },
  { field: "ca", label: "CERTIFICATE", what: "PEM CA certificates (-----BEGIN CERTIFICATE-----)" },
] as const;

/**
 * Reads the files `server.tls` names; an unreadable file or one without the PEM block it should hold is
 * a config error naming the setting and the path.
 *
 * @example
 * const material = await readTls(config.server.tls);
 */
export async function readTls(tls: ResolvedTls): Promise<TlsMaterial> {
  const text: Partial<Record<"cert" | "key" | "ca", string>> = {};
  for (const { field, label, what } of FILES) {
    const path = tls[field];
    if (path === undefined) continue;
    let content: string;
    try {
      content = await readFile(path, "utf8");
    } catch (err) {
      throw configError(`server.tls.${field}`, `cannot read ${path}: ${(err as { code?: string }).code ?? (err as Error).message}`);
    }
    // An encrypted key needs a passphrase the gateway does not take.
    if (field === "key" && /-----BEGIN ENCRYPTED PRIVATE KEY-----/.test(content)) {
      throw configError(`server.tls.${field}`, `expected an unencrypted private key in ${path}`);
    }
    if (!new RegExp(`-----BEGIN (?:[A-Z]+ )?${label}-----[\\s\\S]+?-----END (?:[A-Z]+ )?${label}-----`).test(content)) {
      throw configError(`server.tls.${field}`, `expected ${what} in ${path}`);
    }
    text[field] = content;
  }
  return {
    cert: text.cert!,
    key: text.key!,
    ...(text.ca === undefined ? {} : { ca: text.ca }),
    minVersion: tls.minVersion,
    requestCert: tls.requestCert,
    rejectUnauthorized: tls.rejectUnauthorized,
  };
}

/**
 * Calls `onChange` when one of the files changes (size, mtime or inode), checking every `everyMs`;
 * once they have stayed unchanged for one more check; returns the function that stops watching. A file
 * missing for a moment (being replaced) is skipped.
 *
 * @example
 * const stop = watchTls(config.server.tls, 5000, () => served.reloadTls());
 */
export function watchTls(tls: ResolvedTls, everyMs: number, onChange: () => void): () => void {
  const paths = [tls.cert, tls.key, ...(tls.ca === undefined ? [] : [tls.ca])];
  const stamp = async (): Promise<string | undefined> => {
    try {
      const stats = await Promise.all(paths.map((p) => stat(p)));
      return stats.map((s) => `${s.ino}:${s.size}:${s.mtimeMs}`).join("|");
    } catch {
      return undefined;
    }
  };
  // A change is acted on once the files have stayed the same for one more check, so a certificate and
  // key written one after the other are reloaded together rather than first mismatched.
  let applied: string | undefined;
  let seen: string | undefined;
  let busy = false;
  void stamp().then((s) => (applied = seen = s));
  const timer = setInterval(() => {
    if (busy) return;
    busy = true;
    void stamp().then((now) => {
      if (now === undefined) return;
      if (now === seen && now !== applied && applied !== undefined) {
        applied = now;
        onChange();
      }
      seen = now;
    }).finally(() => (busy = false));
  }, everyMs);
  unrefTimer(timer);
  return () => clearInterval(timer);
}
