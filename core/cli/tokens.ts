import process from "node:process";
import { GatewayError } from "../errors.ts";
import { defaultType, parseCreateBody } from "../tokens/api.ts";
import type { TokenFilter } from "../types.ts";
import type { PublicToken } from "../tokens/types.ts";
import type { GatewayConfig } from "../types.ts";
import { adminClient } from "./admin-client.ts";
import { openLocalStore } from "./local-store.ts";

/** Parsed options of `portcullis tokens ...`. */
export interface TokenCliOptions {
  url?: string;
  adminToken?: string;
  json?: boolean;
  user?: string;
  name?: string;
  email?: string;
  team?: string;
  roles?: string;
  org?: string;
  type?: string;
  scopes?: string;
  servers?: string;
  tools?: string;
  expiresIn?: string;
  /** A certificate record's certificate: its SHA-256 fingerprint (hex), or the subject `mtls()` maps it to. */
  fingerprint?: string;
  certSubject?: string;
  grace?: string;
  state?: string;
  /** `development`, `production` or `ci`: the lifetime and rotation policy the token falls under. */
  kind?: string;
  /** The token's own rate limit on tool calls, such as `100/m`. */
  rateLimit?: string;
}

const list = (s: string | undefined): string[] | undefined => s === undefined ? undefined : s.split(",").map((x) => x.trim()).filter(Boolean);

function createBody(o: TokenCliOptions): Record<string, unknown> {
  if (!o.user) throw new GatewayError("ERR_BAD_REQUEST", "--user is required");
  const body: Record<string, unknown> = { user: o.user, name: o.name, email: o.email, team: o.team, org: o.org, type: o.type, kind: o.kind, roles: list(o.roles), scopes: list(o.scopes), expiresIn: o.expiresIn, rateLimit: o.rateLimit };
  if (o.servers !== undefined || o.tools !== undefined) body.permissions = { servers: list(o.servers), tools: list(o.tools) };
  if (o.fingerprint !== undefined || o.certSubject !== undefined) body.certificate = { fingerprint: o.fingerprint, subject: o.certSubject };
  for (const k of Object.keys(body)) if (body[k] === undefined) delete body[k];
  return body;
}

function show(t: PublicToken & { token?: string }, asJson: boolean): string {
  if (asJson) return JSON.stringify(t, null, 2);
  const lines = [
    `id:        ${t.id}`,
    `user:      ${t.user}${t.team ? ` (team ${t.team})` : ""}`,
    `type:      ${t.type}${t.kind ? `   kind: ${t.kind}` : ""}   state: ${t.state}`,
    `scopes:    ${t.scopes.join(", ")}`,
    ...(t.permissions ? [`servers:   ${t.permissions.servers?.join(", ") ?? "any"}`, `tools:     ${t.permissions.tools?.join(", ") ?? "any"}`] : []),
    `expires:   ${t.expiresAt ?? "never"}`,
    ...(t.rateLimit ? [`rate limit: ${t.rateLimit}`] : []),
    ...(t.certificate ? [`certificate: ${t.certificate.fingerprint ? `sha256 ${t.certificate.fingerprint}` : `subject ${t.certificate.subject}`}`] : []),
  ];
  if (t.token) lines.push("", `secret (shown once, store it now): ${t.token}`);
  return lines.join("\n");
}

function table(tokens: PublicToken[]): string {
  if (tokens.length === 0) return "no tokens";
  const rows = tokens.map((t) => [t.id, t.user, t.type, t.state, t.scopes.join(","), t.expiresAt ?? "-", String(t.useCount)]);
  const head = ["ID", "USER", "TYPE", "STATE", "SCOPES", "EXPIRES", "USES"];
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  return [head, ...rows].map((r) => r.map((c, i) => c.padEnd(widths[i]!)).join("  ")).join("\n");
}

async function remote(action: string, arg: string | undefined, o: TokenCliOptions): Promise<string> {
  const call = adminClient(o.url!, o.adminToken);
  if (action === "create") return show(await call("POST", "/v1/auth/tokens", createBody(o)) as never, !!o.json);
  if (action === "list") {
    const q = new URLSearchParams();
    for (const k of ["user", "team", "type", "state"] as const) if (o[k]) q.set(k, o[k]!);
    const { tokens } = await call("GET", `/v1/auth/tokens${q.size ? `?${q}` : ""}`) as { tokens: PublicToken[] };
    return o.json ? JSON.stringify(tokens, null, 2) : table(tokens);
  }
  if (!arg) throw new GatewayError("ERR_BAD_REQUEST", `tokens ${action} needs a token id`);
  if (action === "revoke") return show(await call("DELETE", `/v1/auth/tokens/${encodeURIComponent(arg)}`) as never, !!o.json);
  if (action === "rotate") {
    return show(await call("POST", `/v1/auth/tokens/${encodeURIComponent(arg)}/rotate`, { graceSeconds: o.grace === undefined ? 0 : Number(o.grace) }) as never, !!o.json);
  }
  throw new GatewayError("ERR_BAD_REQUEST", `unknown tokens command ${JSON.stringify(action)}`);
}

async function local(action: string, arg: string | undefined, o: TokenCliOptions, config: GatewayConfig): Promise<string> {
  const { resolved, tokens, close } = await openLocalStore(config, { audited: true });
  try {
    if (action === "create") {
      const input = parseCreateBody(createBody(o), resolved.server.separator);
      // Like the API: without --type, what the configured strategies accept on /mcp.
      input.type ??= defaultType(resolved.auth);
      const created = await tokens.create(input, "cli");
      return show(created.secret === "" ? created.record : { ...created.record, token: created.secret }, !!o.json);
    }
    if (action === "list") {
      const filter: TokenFilter = {};
      for (const k of ["user", "team", "type", "state"] as const) if (o[k]) (filter as Record<string, string>)[k] = o[k]!;
      const all = await tokens.list(filter);
      return o.json ? JSON.stringify(all, null, 2) : table(all);
    }
    if (!arg) throw new GatewayError("ERR_BAD_REQUEST", `tokens ${action} needs a token id`);
    if (action === "revoke") return show(await tokens.revoke(arg, "cli"), !!o.json);
    if (action === "rotate") {
      const grace = o.grace === undefined ? 0 : Number(o.grace);
      if (!Number.isInteger(grace) || grace < 0 || grace > 3600) throw new GatewayError("ERR_BAD_REQUEST", "--grace: expected 0 to 3600 seconds");
      const r = await tokens.rotate(arg, grace, "cli");
      return show({ ...r.record, token: r.secret }, !!o.json);
    }
    throw new GatewayError("ERR_BAD_REQUEST", `unknown tokens command ${JSON.stringify(action)}`);
  } finally {
    await close();
  }
}

/**
 * `portcullis tokens create|list|revoke|rotate`: against a running gateway with `--url` (and an admin
 * token), or directly against the configured store.
 *
 * @example
 * await tokensCommand("create", undefined, { user: "alice", scopes: "mcp:read" }, async () => config);
 */
export async function tokensCommand(action: string, arg: string | undefined, o: TokenCliOptions, config: () => Promise<GatewayConfig>): Promise<string> {
  return o.url ? await remote(action, arg, o) : await local(action, arg, o, await config());
}
