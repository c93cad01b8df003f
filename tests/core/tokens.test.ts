// Gateway tokens and API keys end to end: the /v1/auth API, a real MCP client using the tokens, the
// permission model (scopes, permissions, roles, authorize hook), every refusal path, and the audit trail.
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { Client, StreamableHTTPClientTransport } from "@modelcontextprotocol/client";
import type { AuditEvent, AuditSink } from "../../core/mod.ts";
import { apiKey, bearer, memoryStore } from "../../plugins/mod.ts";
import { everythingUpstream, http, startGateway, startNotesHttp } from "../fixtures/helpers.ts";

const test = suite("tokens");
const ADMIN = "admin-token-for-tests-0123456789abcdefghij";
const events: AuditEvent[] = [];
const secrets: string[] = [];
let gw: Awaited<ReturnType<typeof startGateway>>;
let notes: Awaited<ReturnType<typeof startNotesHttp>>;
const clients: Client[] = [];

const collect: AuditSink = { name: "audit:test", write: (e) => void events.push(e) };
const broken: AuditSink = {
  name: "audit:broken",
  write: () => {
    throw new Error("disk on fire");
  },
};
const slow: AuditSink = { name: "audit:slow", write: () => new Promise((r) => setTimeout(r, 5000)) };

async function api(method: string, path: string, body?: unknown, auth = `Bearer ${ADMIN}`): Promise<{ status: number; body: Record<string, any> }> {
  const res = await fetch(gw.url + path, {
    method,
    headers: { ...(auth ? { authorization: auth } : {}), ...(body === undefined ? {} : { "content-type": "application/json" }) },
    body: body === undefined ? undefined : typeof body === "string" ? body : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : {} };
}

// Roles are configured in this gateway, so tokens get the "member" role (every server) unless a test says otherwise.
async function create(body: Record<string, unknown>): Promise<{ id: string; token: string }> {
  const r = await api("POST", "/v1/auth/tokens", { roles: ["member"], ...body });
  assert.is(r.status, 201, JSON.stringify(r.body));
  secrets.push(r.body.token);
  return { id: r.body.id, token: r.body.token };
}

async function mcpClient(headers: Record<string, string>, era: "legacy" | { pin: string } = "legacy"): Promise<Client> {
  const client = new Client({ name: "t", version: "1" }, { versionNegotiation: { mode: era } });
  await client.connect(new StreamableHTTPClientTransport(new URL(gw.url + "/mcp"), { requestInit: { headers } }));
  clients.push(client);
  return client;
}

async function toolNames(c: Client): Promise<string[]> {
  return (await c.listTools()).tools.map((t) => t.name).sort();
}

async function callFails(c: Client, name: string, args: Record<string, unknown> = {}): Promise<string> {
  try {
    await c.callTool({ name, arguments: args });
  } catch (err) {
    return (err as Error).message;
  }
  throw new Error(`${name} should have been refused`);
}

async function mcpStatus(auth: Record<string, string>): Promise<{ status: number; code?: string; challenge: string | null }> {
  const res = await fetch(gw.url + "/mcp", {
    method: "POST",
    headers: { "content-type": "application/json", accept: "application/json, text/event-stream", ...auth },
    body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "initialize", params: { protocolVersion: "2025-11-25", capabilities: {}, clientInfo: { name: "t", version: "1" } } }),
  });
  const text = await res.text();
  let code: string | undefined;
  try {
    code = JSON.parse(text).error?.data?.code;
  } catch {
    code = undefined;
  }
  return { status: res.status, code, challenge: res.headers.get("www-authenticate") };
}

test.before(async () => {
  notes = await startNotesHttp();
  gw = await startGateway({
    auth: [bearer(), apiKey({ header: "X-API-Key" })],
    admin: { token: ADMIN, bootstrap: false },
    tokens: { store: memoryStore(), maxExpiresIn: "90d" },
    roles: { member: { servers: ["*"] }, support: { servers: ["notes"], tools: ["read"] }, ops: { servers: ["*"] } },
    authorize: ({ tool, identity }) => (tool === "get-env" ? identity.roles.includes("ops") : undefined),
    audit: [collect, broken, slow],
    servers: { everything: everythingUpstream(), notes: http({ url: notes.url }) },
  });
});

test.after(async () => {
  await Promise.all(clients.map((c) => c.close().catch(() => undefined)));
  await gw.close();
  await notes.close();
});

test("create returns the secret once; list and get never show it or its hash", async () => {
  const r = await api("POST", "/v1/auth/tokens", { roles: ["member"], user: "alice", email: "alice@example.com", team: "platform", scopes: ["mcp:read", "mcp:write"], expiresIn: "7d" });
  assert.is(r.status, 201);
  assert.match(r.body.token, /^pt_[0-9A-Za-z]{49}$/);
  assert.match(r.body.id, /^tok_/);
  assert.is(r.body.user, "alice");
  assert.ok(Math.abs(Date.parse(r.body.expiresAt) - Date.now() - 7 * 86400_000) < 60_000);
  secrets.push(r.body.token);
  const list = await api("GET", "/v1/auth/tokens");
  const one = await api("GET", `/v1/auth/tokens/${r.body.id}`);
  for (const body of [list.body, one.body]) {
    const text = JSON.stringify(body);
    assert.not.ok(text.includes(r.body.token), "no secret in list/get");
    assert.not.ok(/"hash"/.test(text), "no hash in list/get");
  }
  assert.ok(list.body.tokens.some((t: { id: string }) => t.id === r.body.id));
  assert.is(one.body.state, "active");
});

test("a bearer token and an API key both reach /mcp through a real MCP client; whoami tells who", async () => {
  const tok = await create({ user: "bob", team: "data" });
  const key = await create({ user: "carol", type: "api-key" });
  assert.match(key.token, /^pk_/);
  const viaBearer = await mcpClient({ authorization: `Bearer ${tok.token}` });
  assert.ok((await toolNames(viaBearer)).includes("everything__echo"));
  const viaKey = await mcpClient({ "x-api-key": key.token }, { pin: "2026-07-28" });
  const r = await viaKey.callTool({ name: "notes__echo", arguments: { message: "key" } });
  assert.is((r.content as Array<{ text: string }>)[0]!.text, "key");
  const who = await api("GET", "/v1/auth/whoami", undefined, `Bearer ${tok.token}`);
  assert.is(who.status, 200);
  assert.is(who.body.subject, "bob");
  assert.is(who.body.tokenId, tok.id);
  // An API key is not a bearer token and vice versa.
  assert.is((await mcpStatus({ "x-api-key": tok.token })).status, 401);
  assert.is((await mcpStatus({ authorization: `Bearer ${key.token}` })).status, 401);
});

test("mcp:read lists and calls only read-only tools; writes are absent and refused", async () => {
  const { token } = await create({ user: "reader", scopes: ["mcp:read"] });
  const c = await mcpClient({ authorization: `Bearer ${token}` });
  const names = await toolNames(c);
  assert.ok(names.includes("notes__echo") && names.includes("notes__list_notes"));
  assert.not.ok(names.includes("notes__add_note"));
  assert.match(await callFails(c, "notes__add_note", { title: "x", text: "y" }), /Unknown tool/);
  assert.ok((await c.listResources()).resources.length > 0, "mcp:read may list resources");
});

test("permissions.servers and permissions.tools limit what a token reaches", async () => {
  const onlyNotes = await create({ user: "n", permissions: { servers: ["notes"] } });
  const c1 = await mcpClient({ authorization: `Bearer ${onlyNotes.token}` });
  const n1 = await toolNames(c1);
  assert.ok(n1.length > 0 && n1.every((n) => n.startsWith("notes__")));
  assert.match(await callFails(c1, "everything__echo", { message: "x" }), /Unknown tool/);
  assert.not.ok((await c1.listPrompts()).prompts.some((p) => p.name.startsWith("everything__")));

  const globbed = await create({ user: "g", permissions: { tools: ["everything__get-*", "notes__echo"] } });
  const c2 = await mcpClient({ authorization: `Bearer ${globbed.token}` });
  const n2 = await toolNames(c2);
  assert.ok(n2.includes("notes__echo"));
  assert.ok(n2.includes("everything__get-sum"));
  assert.not.ok(n2.includes("everything__echo"));
  assert.not.ok(n2.includes("notes__add_note"));
});

test("roles grant, a token's permissions only narrow, and authorize() has the last word", async () => {
  const support = await create({ user: "sam", roles: ["support"] });
  const c = await mcpClient({ authorization: `Bearer ${support.token}` });
  const names = await toolNames(c);
  assert.ok(names.includes("notes__echo"));
  assert.not.ok(names.includes("notes__add_note"), "support role: read-only tools");
  assert.not.ok(names.some((n) => n.startsWith("everything__")), "support role: notes only");

  // Asking for more than the role grants gives nothing more.
  const wider = await create({ user: "sam2", roles: ["support"], permissions: { servers: ["everything", "notes"] } });
  const c2 = await mcpClient({ authorization: `Bearer ${wider.token}` });
  assert.not.ok((await toolNames(c2)).some((n) => n.startsWith("everything__")));

  // No role at all: roles are configured, so nothing is granted.
  const none = await create({ user: "nobody", roles: [] });
  const c3 = await mcpClient({ authorization: `Bearer ${none.token}` });
  assert.equal(await toolNames(c3), []);

  const ops = await create({ user: "olive", roles: ["ops", "support"] });
  const c4 = await mcpClient({ authorization: `Bearer ${ops.token}` });
  assert.ok((await toolNames(c4)).includes("everything__get-env"), "authorize lets ops see get-env");
  const devOps = await create({ user: "dave", roles: ["support"], permissions: { tools: ["write"] } });
  const c5 = await mcpClient({ authorization: `Bearer ${devOps.token}` });
  assert.not.ok((await toolNames(c5)).includes("notes__add_note"), "tools: write cannot widen the support role");
});

test("rotate: the new secret works, the old one is dead at once (or after its grace period)", async () => {
  const t = await create({ user: "rot" });
  const r = await api("POST", `/v1/auth/tokens/${t.id}/rotate`, {});
  assert.is(r.status, 201);
  assert.is.not(r.body.token, t.token);
  assert.is(r.body.rotatedFrom, t.id);
  secrets.push(r.body.token);
  const old = await mcpStatus({ authorization: `Bearer ${t.token}` });
  assert.is(old.status, 401);
  assert.is(old.code, "ERR_TOKEN_REVOKED");
  assert.is((await api("GET", "/v1/auth/whoami", undefined, `Bearer ${r.body.token}`)).status, 200);
  assert.is((await api("POST", `/v1/auth/tokens/${t.id}/rotate`, {})).status, 409, "a rotated-out token cannot be rotated again");

  const g = await create({ user: "grace" });
  const r2 = await api("POST", `/v1/auth/tokens/${g.id}/rotate`, { graceSeconds: 60 });
  assert.is(r2.status, 201);
  secrets.push(r2.body.token);
  assert.is((await api("GET", "/v1/auth/whoami", undefined, `Bearer ${g.token}`)).status, 200, "old secret works during grace");
  assert.is((await api("POST", `/v1/auth/tokens/${g.id}/rotate`, { graceSeconds: 7200 })).status, 400, "grace is at most an hour");
  // A token may rotate itself.
  const self = await api("POST", `/v1/auth/tokens/${r2.body.id}/rotate`, {}, `Bearer ${r2.body.token}`);
  assert.is(self.status, 201);
  secrets.push(self.body.token);
});

test("revoking a rotated token also ends the old secret's grace period at once", async () => {
  const t = await create({ user: "rot-revoke" });
  const r = await api("POST", `/v1/auth/tokens/${t.id}/rotate`, { graceSeconds: 300 });
  assert.is(r.status, 201);
  assert.is((await api("GET", "/v1/auth/whoami", undefined, `Bearer ${t.token}`)).status, 200, "old secret works during grace");
  assert.is((await api("DELETE", `/v1/auth/tokens/${r.body.id}`)).status, 200);
  assert.is((await api("GET", "/v1/auth/whoami", undefined, `Bearer ${r.body.token}`)).status, 401);
  const old = await mcpStatus({ authorization: `Bearer ${t.token}` });
  assert.is(old.status, 401, "the replaced secret is withdrawn with the credential");
  assert.is(old.code, "ERR_TOKEN_REVOKED");
});

test("revoke is immediate, also for an open MCP session", async () => {
  const t = await create({ user: "rev" });
  const c = await mcpClient({ authorization: `Bearer ${t.token}` });
  assert.ok((await toolNames(c)).length > 0);
  const r = await api("DELETE", `/v1/auth/tokens/${t.id}`);
  assert.is(r.status, 200);
  assert.is(r.body.state, "revoked");
  try {
    await c.listTools();
    assert.unreachable("a revoked token's session must stop working");
  } catch (err) {
    assert.match(String((err as Error).message), /401|revoked|Unauthorized/i);
  }
  const s = await mcpStatus({ authorization: `Bearer ${t.token}` });
  assert.is(s.status, 401);
  assert.is(s.code, "ERR_TOKEN_REVOKED");
  assert.is((await api("DELETE", `/v1/auth/tokens/${t.id}`)).status, 409);
});

test("an expired token is refused with ERR_TOKEN_EXPIRED", async () => {
  const t = await create({ user: "short", expiresIn: "1s" });
  assert.is((await mcpStatus({ authorization: `Bearer ${t.token}` })).status, 200);
  await new Promise((r) => setTimeout(r, 1200));
  const s = await mcpStatus({ authorization: `Bearer ${t.token}` });
  assert.is(s.status, 401);
  assert.is(s.code, "ERR_TOKEN_EXPIRED");
  const listed = await api("GET", "/v1/auth/tokens?state=expired");
  assert.ok(listed.body.tokens.some((x: { id: string }) => x.id === t.id));
});

test("refusals: no token, garbage, bad checksum, foreign bearer, with a challenge", async () => {
  const good = await create({ user: "chk" });
  const flipped = good.token.slice(0, -1) + (good.token.endsWith("a") ? "b" : "a");
  const cases: Array<[Record<string, string>, string]> = [
    [{}, "ERR_AUTH_REQUIRED"],
    [{ authorization: "Bearer pt_garbage" }, "ERR_INVALID_CREDENTIAL"],
    [{ authorization: `Bearer ${flipped}` }, "ERR_INVALID_CREDENTIAL"],
    [{ authorization: "Bearer eyJhbGciOiJub25lIn0.e30." }, "ERR_AUTH_REQUIRED"],
    [{ authorization: `Basic ${btoa("a:b")}` }, "ERR_AUTH_REQUIRED"],
    [{ "x-api-key": "pk_nonsense" }, "ERR_INVALID_CREDENTIAL"],
    [{ "x-user-email": "alice@example.com" }, "ERR_AUTH_REQUIRED"],
  ];
  for (const [headers, code] of cases) {
    const s = await mcpStatus(headers);
    assert.is(s.status, 401, JSON.stringify(headers));
    assert.is(s.code, code, JSON.stringify(headers));
    assert.match(s.challenge ?? "", /Bearer realm="portcullis"/);
  }
  // A well-formed secret that was never issued.
  const forged = await create({ user: "tmp" });
  await api("DELETE", `/v1/auth/tokens/${forged.id}`);
  assert.is((await mcpStatus({ authorization: `Bearer ${forged.token}` })).code, "ERR_TOKEN_REVOKED");
});

test("admin endpoints: 401 without auth, 403 for non-admins, 400/404/405/409/413 for bad calls", async () => {
  const user = await create({ user: "plain" });
  assert.is((await api("GET", "/v1/auth/tokens", undefined, "")).status, 401);
  const forbidden = await api("GET", "/v1/auth/tokens", undefined, `Bearer ${user.token}`);
  assert.is(forbidden.status, 403);
  assert.is(forbidden.body.error.code, "ERR_FORBIDDEN");
  assert.is((await api("POST", "/v1/auth/tokens", { user: "x" }, `Bearer ${user.token}`)).status, 403);
  const other = await create({ user: "other" });
  assert.is((await api("DELETE", `/v1/auth/tokens/${other.id}`, undefined, `Bearer ${user.token}`)).status, 403, "users cannot revoke others' tokens");

  const bad: Array<[unknown, RegExp]> = [
    [{}, /^user/],
    [{ user: "x", scopes: ["root"] }, /^scopes\[0\]/],
    [{ user: "x", expiresIn: "forever" }, /^expiresIn/],
    [{ user: "x", expiresIn: "400d" }, /^expiresIn: at most 90d/],
    [{ user: "x", tpye: "token" }, /unknown key/],
    [{ user: "x", permissions: { servers: "notes" } }, /^permissions\.servers/],
    ["{not json", /Parse error|JSON/],
  ];
  for (const [body, message] of bad) {
    const r = await api("POST", "/v1/auth/tokens", body);
    assert.is(r.status, 400, JSON.stringify(body));
    assert.is(r.body.error.code, "ERR_BAD_REQUEST");
    assert.match(r.body.error.message, message);
  }
  assert.is((await api("POST", "/v1/auth/tokens", { user: "x".repeat(70_000) })).status, 413);
  assert.is((await api("GET", "/v1/auth/tokens/tok_AAAAAAAAAAAAAAAA")).status, 404);
  assert.is((await api("GET", "/v1/auth/tokens/../../etc")).status, 404);
  assert.is((await api("PUT", "/v1/auth/tokens")).status, 405);
  assert.is((await api("GET", "/v1/auth/tokens?state=weird")).status, 400);
});

test("the audit trail has auth attempts, token operations and tool calls, and never a secret", async () => {
  const t = await create({ user: "audited", permissions: { servers: ["notes"] } });
  const c = await mcpClient({ authorization: `Bearer ${t.token}` });
  await c.callTool({ name: "notes__echo", arguments: { message: "a" } });
  await callFails(c, "everything__echo", { message: "b" });
  await mcpStatus({ authorization: "Bearer pt_garbage" });
  await new Promise((r) => setTimeout(r, 50));
  const mine = events.filter((e) => "tokenId" in e && e.tokenId === t.id);
  assert.ok(events.some((e) => e.type === "token" && e.action === "create" && e.tokenId === t.id && e.actor === "admin-token"));
  assert.ok(mine.some((e) => e.type === "auth" && e.outcome === "success" && e.remoteAddress !== undefined));
  const ok = mine.find((e) => e.type === "tool_call" && e.tool === "echo" && e.server === "notes");
  assert.ok(ok && ok.type === "tool_call" && ok.outcome === "ok" && ok.allowed && ok.durationMs >= 0);
  assert.ok(mine.some((e) => e.type === "tool_call" && e.outcome === "denied" && !e.allowed));
  assert.ok(events.some((e) => e.type === "auth" && e.outcome === "failure" && e.code === "ERR_INVALID_CREDENTIAL"));
  assert.ok(events.some((e) => e.type === "token" && e.action === "rotate"));
  assert.ok(events.some((e) => e.type === "token" && e.action === "revoke"));
  const all = JSON.stringify(events);
  for (const s of [...secrets, ADMIN]) assert.not.ok(all.includes(s), "no secret in any audit event");
});

test("a failing and a slow audit sink never fail or delay a request", async () => {
  const started = Date.now();
  const r = await api("GET", "/v1/auth/whoami");
  assert.is(r.status, 200);
  assert.ok(Date.now() - started < 2000);
});

test.run();
