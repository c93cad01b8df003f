// The product page, replayed literally against the real CLI: each of its JSON configs (bearer, api-key,
// oauth) starts with `portcullis start`, the admin token it prints works on /v1/auth, the page's curl
// commands (create with scopes, create with permissions, revoke, rotate) succeed as written with only the
// host and token filled in, an upstream receives the identity headers the page shows for a token made
// with the page's body, and the audit file appears in the data directory.
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createMcpHandler } from "@modelcontextprotocol/server";
import { serve } from "../../core/mod.ts";
import { echoServer, type Seen } from "../fixtures/in-process.ts";
import { quietLogger } from "../fixtures/helpers.ts";
import { type CliGateway, startCli, stopAllCli } from "../fixtures/cli-process.ts";

const test = suite("page replay");
let dir: string;
let upstream: { url: string; close(): Promise<void> };

/** What curl sends for `-d '<json>'` without `-H Content-Type`. */
const CURL_FORM = "application/x-www-form-urlencoded";

const ADMIN_LINE = /It is shown only this once; only its hash is stored:\n\n {4}(pt_\w+)\n/;

async function curl(method: string, url: string, admin: string, body?: string): Promise<{ status: number; body: any }> {
  const res = await fetch(url, { method, headers: { authorization: `Bearer ${admin}`, ...(body === undefined ? {} : { "content-type": CURL_FORM }) }, body });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : undefined };
}

/** One stateless (2026-07-28) tools/call with a credential's headers: the first text content, or the error. */
async function call(url: string, headers: Record<string, string>, name: string): Promise<{ status: number; text?: string; error?: unknown }> {
  const res = await fetch(`${url}/mcp`, {
    method: "POST",
    headers: { ...headers, "content-type": "application/json", accept: "application/json, text/event-stream", "mcp-protocol-version": "2026-07-28", "mcp-method": "tools/call", "mcp-name": name },
    body: JSON.stringify({
      jsonrpc: "2.0",
      id: 1,
      method: "tools/call",
      params: { name, arguments: {}, _meta: { "io.modelcontextprotocol/protocolVersion": "2026-07-28", "io.modelcontextprotocol/clientCapabilities": {} } },
    }),
  });
  const text = await res.text();
  const data = text.split("\n").filter((l) => l.startsWith("data:")).map((l) => l.slice(5)).pop() ?? text;
  const msg = data.trim() ? JSON.parse(data) : {};
  return { status: res.status, text: msg.result?.content?.[0]?.text, error: msg.error };
}

/** The page's JSON config of one auth type, fronting the recording upstream. */
function pageConfig(auth: Record<string, unknown>): Record<string, unknown> {
  return {
    server: { port: 8787 },
    auth,
    mcpServers: { rec: { url: upstream.url } },
    identityForwarding: { enabled: true, headers: ["email", "name", "team", "roles"] },
    logLevel: "warn",
  };
}

const CONFIGS: Array<[string, Record<string, unknown>, ((secret: string) => Record<string, string>) | undefined]> = [
  ["bearer", { type: "bearer", enabled: true }, (s) => ({ authorization: `Bearer ${s}` })],
  ["api-key", { type: "api-key", header: "X-API-Key" }, (s) => ({ "x-api-key": s })],
  // The gateway as OAuth server in front of an IdP: /mcp takes only its OAuth tokens, so no curl-made credential reaches it.
  ["oauth", { type: "oauth", provider: "okta", issuer: "https://example.okta.com", clientId: "portcullis", clientSecret: "page-client-secret-0123456789", scopes: ["openid", "email", "profile"], tokenExpiration: "7d" }, undefined],
];

test.before(async () => {
  dir = await mkdtemp(join(tmpdir(), "portcullis-page-"));
  // An MCP server over Streamable HTTP whose whoami tool answers with the headers it received.
  const handler = createMcpHandler(() => echoServer("rec"));
  const served = await serve({ fetch: (req: Request) => handler.fetch(req), close: () => handler.close(), config: { server: { host: "127.0.0.1", port: 0 }, logger: quietLogger } } as never, { port: 0, handleSignals: false });
  upstream = { url: `${served.url}/mcp`, close: () => served.close() };
});

test.after(async () => {
  stopAllCli();
  await upstream.close();
  await rm(dir, { recursive: true, force: true });
});

for (const [type, auth, present] of CONFIGS) {
  test(`${type} JSON config: the printed admin token and every curl on the page work as written`, async () => {
    const config = join(dir, `${type}.json`);
    await writeFile(config, JSON.stringify(pageConfig(auth)));
    const data = join(dir, `${type}-data`);
    let gw: CliGateway | undefined;
    try {
      gw = await startCli(config, data);
      const printed = ADMIN_LINE.exec(gw.stderr());
      assert.ok(printed, `the first start prints an admin token:\n${gw.stderr()}`);
      const admin = printed![1]!;
      const base = `${gw.url}/v1/auth/tokens`;

      // Create with scopes (the page's body: the user is an email address, no `type`).
      const scoped = await curl("POST", base, admin, JSON.stringify({ user: "alice@example.com", name: "Alice", team: "platform", roles: ["support"], scopes: ["mcp:read", "mcp:write"], expiresIn: "30d" }));
      assert.is(scoped.status, 201, JSON.stringify(scoped.body));
      assert.is(scoped.body.email, "alice@example.com");
      // Create with permissions.
      const limited = await curl("POST", base, admin, JSON.stringify({ user: "bob@example.com", permissions: { servers: ["rec"], tools: ["rec__shout"] } }));
      assert.is(limited.status, 201, JSON.stringify(limited.body));

      if (present) {
        // The upstream sees the page's identity headers for the token made with the page's body.
        const who = await call(gw.url, present(scoped.body.token), "rec__whoami");
        assert.is(who.status, 200, JSON.stringify(who));
        const seen = JSON.parse(who.text!) as Seen;
        assert.is(seen.headers["x-user-email"], "alice@example.com");
        assert.is(seen.headers["x-user-name"], "Alice");
        assert.is(seen.headers["x-user-team"], "platform");
        assert.is(seen.headers["x-user-roles"], "support");
        // The limited token reaches only what its permissions name.
        assert.ok((await call(gw.url, present(limited.body.token), "rec__whoami")).error, "whoami is outside bob's permissions");
      }

      // Revoke and rotate with the secret in the path, as the page writes them; rotate with no body.
      const rotated = await curl("POST", `${base}/${scoped.body.token}/rotate`, admin);
      assert.is(rotated.status, 201, JSON.stringify(rotated.body));
      assert.is(rotated.body.rotatedFrom, scoped.body.id);
      const revoked = await curl("DELETE", `${base}/${limited.body.token}`, admin);
      assert.is(revoked.status, 200, JSON.stringify(revoked.body));
      assert.is(revoked.body.state, "revoked");
      if (present) {
        assert.is((await call(gw.url, present(limited.body.token), "rec__shout")).status, 401);
        assert.is((await call(gw.url, present(rotated.body.token), "rec__whoami")).status, 200);
      }
    } finally {
      await gw?.stop();
    }
    // The audit trail is on by default: token operations in the data directory's audit.jsonl, no secret in it.
    const audit = await readFile(join(data, "audit.jsonl"), "utf8");
    const actions = audit.trim().split("\n").map((l) => JSON.parse(l) as { type: string; action?: string }).filter((e) => e.type === "token").map((e) => e.action);
    for (const action of ["create", "rotate", "revoke"]) assert.ok(actions.includes(action), `audit has a token ${action}: ${actions.join(",")}`);
    assert.not.match(audit, /pt_\w{20,}|pk_\w{20,}/, "no secret in the audit file");
  });
}

test.run();
