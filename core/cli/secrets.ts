import process from "node:process";
import { createAudit } from "../audit/bus.ts";
import { resolveConfig } from "../config/resolve.ts";
import { GatewayError } from "../errors.ts";
import { createLogger } from "../log.ts";
import { findVault } from "../secrets/api.ts";
import type { SecretInfo } from "../secrets/types.ts";
import { createSigningKeys } from "../tokens/signing-keys.ts";
import { createTokenService } from "../tokens/service.ts";
import type { GatewayConfig, PluginContext } from "../types.ts";
import { vault as makeVault } from "../../plugins/secrets/vault.ts";
import { adminClient } from "./admin-client.ts";

/** Parsed options of `portcullis secrets ...`. */
export interface SecretsCliOptions {
  url?: string;
  adminToken?: string;
  json?: boolean;
  /** The value for `set`; read from stdin when absent. */
  value?: string;
  /** The new master key for `rotate-key`; read from stdin when absent. */
  newKey?: string;
}

/**
 * Reads all of stdin as text, without the one trailing newline `echo` or a here-string adds.
 *
 * @example
 * const value = await readStdin();
 */
export async function readStdin(): Promise<string> {
  if (process.stdin.isTTY) process.stderr.write("reading the value from stdin (end with Ctrl-D)...\n");
  const chunks: Uint8Array[] = [];
  for await (const chunk of process.stdin) chunks.push(typeof chunk === "string" ? new TextEncoder().encode(chunk) : chunk as Uint8Array);
  const all = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
  let at = 0;
  for (const c of chunks) all.set(c, at), at += c.length;
  const text = new TextDecoder().decode(all);
  return text.replace(/\r?\n$/, "");
}

function table(list: SecretInfo[]): string {
  if (list.length === 0) return "no secrets";
  const rows = list.map((s) => [s.name, s.updatedAt, s.updatedBy ?? "-", s.keyId]);
  const head = ["NAME", "UPDATED", "BY", "KEY ID"];
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  return [head, ...rows].map((r) => r.map((c, i) => c.padEnd(widths[i]!)).join("  ").trimEnd()).join("\n");
}

function needName(action: string, name: string | undefined): string {
  if (!name) throw new GatewayError("ERR_BAD_REQUEST", `secrets ${action} needs a secret name`);
  return name;
}

const rotated = (r: { keyId: string; reencrypted: number }, asJson: boolean): string =>
  asJson
    ? JSON.stringify(r, null, 2)
    : `re-encrypted ${r.reencrypted} record(s) under master key id ${r.keyId}\nstart the gateway with PORTCULLIS_MASTER_KEY set to the new key from now on`;

async function remote(action: string, arg: string | undefined, o: SecretsCliOptions, stdin: () => Promise<string>): Promise<string> {
  const call = adminClient(o.url!, o.adminToken);
  if (action === "list") {
    const { credentials } = await call("GET", "/v1/credentials") as { credentials: SecretInfo[] };
    return o.json ? JSON.stringify(credentials, null, 2) : table(credentials);
  }
  if (action === "rotate-key") return rotated(await call("POST", "/v1/credentials/rotate-key", { newKey: o.newKey ?? await stdin() }) as never, !!o.json);
  const name = needName(action, arg);
  const path = `/v1/credentials/${encodeURIComponent(name)}`;
  if (action === "set") {
    const info = await call("PUT", path, { value: o.value ?? await stdin() });
    return o.json ? JSON.stringify(info, null, 2) : `set ${name} (master key id ${String(info.keyId)})`;
  }
  if (action === "delete") {
    await call("DELETE", path);
    return o.json ? JSON.stringify({ name, deleted: true }) : `deleted ${name}`;
  }
  throw new GatewayError("ERR_BAD_REQUEST", `unknown secrets command ${JSON.stringify(action)}; expected set, list, delete or rotate-key`);
}

async function local(action: string, arg: string | undefined, o: SecretsCliOptions, config: GatewayConfig, stdin: () => Promise<string>): Promise<string> {
  if (!["set", "list", "delete", "rotate-key"].includes(action)) {
    throw new GatewayError("ERR_BAD_REQUEST", `unknown secrets command ${JSON.stringify(action)}; expected set, list, delete or rotate-key`);
  }
  const resolved = resolveConfig(config);
  const log = createLogger("warn");
  // Without vault() in the config the CLI still works on the store under $PORTCULLIS_MASTER_KEY
  // (rotate-key must cover users' own credentials even then).
  const configured = findVault(resolved.secrets);
  if (!configured && action === "set") log.warn("the config has no vault() among its secrets: the gateway will not read this secret until one is added");
  const v = configured ?? makeVault();
  const audit = createAudit(resolved.audit, log);
  const store = resolved.tokens.store;
  await store.open?.();
  const tokens = createTokenService({ store, audit, log, defaultLifetimeSeconds: resolved.tokens.defaultLifetimeSeconds, maxLifetimeSeconds: resolved.tokens.maxLifetimeSeconds });
  const ctx: PluginContext = { tokens, audit, log, store, keys: createSigningKeys({ retainSeconds: 86400 }), publicUrl: resolved.server.publicUrl, bodyTimeoutMs: resolved.server.bodyTimeoutMs, serversFor: () => [], endSessions: () => undefined };
  try {
    await v.setup?.(ctx);
    if (action === "list") {
      const list = await v.list();
      return o.json ? JSON.stringify(list, null, 2) : table(list);
    }
    if (action === "rotate-key") return rotated(await v.rotateKey(o.newKey ?? await stdin(), "cli"), !!o.json);
    const name = needName(action, arg);
    if (action === "set") {
      const info = await v.set(name, o.value ?? await stdin(), "cli");
      return o.json ? JSON.stringify(info, null, 2) : `set ${name} (master key id ${info.keyId})`;
    }
    if (!(await v.delete(name, "cli"))) throw new GatewayError("ERR_NOT_FOUND", `no secret named ${name}`);
    return o.json ? JSON.stringify({ name, deleted: true }) : `deleted ${name}`;
  } finally {
    await v.close?.();
    await tokens.close();
    await store.close();
    await audit.close();
  }
}

/**
 * `portcullis secrets set|list|delete|rotate-key`: directly on the configured store (under the master
 * key), or against a running gateway with `--url` and an admin token. Values are never printed.
 *
 * @example
 * await secretsCommand("set", "GITHUB", { value: "ghp_..." }, async () => config, readStdin);
 */
export async function secretsCommand(action: string, arg: string | undefined, o: SecretsCliOptions, config: () => Promise<GatewayConfig>, stdin: () => Promise<string> = readStdin): Promise<string> {
  return o.url ? await remote(action, arg, o, stdin) : await local(action, arg, o, await config(), stdin);
}
