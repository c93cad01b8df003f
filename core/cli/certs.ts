// `portcullis certs ca|server|client`: development certificates on disk (core/cli/dev-certs.ts makes them).
import { chmod, mkdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { configError } from "../errors.ts";
import { createCa, createClientCert, createServerCert, type PemPair } from "./dev-certs.ts";

/** Options of `portcullis certs`, as parsed from the command line. */
export interface CertsOptions {
  out?: string;
  ca?: string;
  host?: string;
  user?: string;
  team?: string;
  days?: string;
}

const WARNING = "for development only: a private CA made on this machine; use your own PKI in production";

/**
 * Writes `<name>.crt` (mode 0644) and `<name>.key` (mode 0600) into `dir`, creating it.
 *
 * @example
 * await writePair("./certs", "server", await createServerCert(ca, { hosts: ["localhost"] }));
 */
export async function writePair(dir: string, name: string, pair: PemPair): Promise<{ cert: string; key: string }> {
  await mkdir(dir, { recursive: true });
  const cert = join(dir, `${name}.crt`);
  const key = join(dir, `${name}.key`);
  // The key is created 0600 and set again in case the file already existed with wider rights.
  await writeFile(key, pair.key, { mode: 0o600 });
  await chmod(key, 0o600);
  await writeFile(cert, pair.cert, { mode: 0o644 });
  return { cert, key };
}

async function readCa(dir: string): Promise<PemPair> {
  try {
    return { cert: await readFile(join(dir, "ca.crt"), "utf8"), key: await readFile(join(dir, "ca.key"), "utf8") };
  } catch (err) {
    throw configError("--ca", `expected a directory holding ca.crt and ca.key (made by portcullis certs ca): ${(err as Error).message}`);
  }
}

function days(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1 || n > 3650) throw configError("--days", "expected a whole number of days from 1 to 3650", JSON.stringify(value));
  return n;
}

/**
 * Runs `portcullis certs <what>` and returns what to print.
 *
 * @example
 * await certsCommand("client", { ca: "./certs", user: "alice@example.com", out: "./certs" });
 */
export async function certsCommand(what: string, options: CertsOptions): Promise<string> {
  const out = options.out;
  if (!["ca", "server", "client"].includes(what)) throw configError("certs", "expected ca, server or client", JSON.stringify(what));
  if (!out) throw configError("--out", "expected a directory to write to");
  let written: { cert: string; key: string };
  if (what === "ca") {
    written = await writePair(out, "ca", await createCa({ days: days(options.days) }));
  } else if (what === "server") {
    if (!options.ca) throw configError("--ca", "expected the directory of the CA (portcullis certs ca --out DIR)");
    const hosts = (options.host ?? "localhost,127.0.0.1").split(",").map((h) => h.trim()).filter(Boolean);
    written = await writePair(out, "server", await createServerCert(await readCa(options.ca), { hosts, days: days(options.days) }));
  } else {
    if (!options.ca) throw configError("--ca", "expected the directory of the CA (portcullis certs ca --out DIR)");
    if (!options.user) throw configError("--user", "expected the user the certificate names, e.g. alice@example.com");
    const pair = await createClientCert(await readCa(options.ca), { user: options.user, team: options.team, days: days(options.days) });
    written = await writePair(out, "client", pair);
  }
  return `${WARNING}\ncertificate: ${written.cert}\nprivate key: ${written.key} (mode 0600)`;
}
