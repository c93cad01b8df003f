// Regression tests for the findings of the hostile review: sessions bound to the credential that opened
// them, identity in `_meta` only from the gateway, rotation that cannot stretch a lifetime, delegation
// that cannot grant more than it has, and a per-caller session cap. Real upstreams, raw HTTP where the
// exact status matters, the SDK client where a user's view matters.
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { Client, StreamableHTTPClientTransport } from "@modelcontextprotocol/client";
import type { AuditEvent } from "../../core/mod.ts";
import { bearer, memoryStore } from "../../plugins/mod.ts";
import { http, NOTES, startGateway, startNotesHttp, stdio } from "../fixtures/helpers.ts";

const test = suite("security");
const ADMIN = "admin-token-for-security-tests-0123456789";
const ACCEPT = "application/json, text/event-stream";
let gw: Awaited<ReturnType<typeof startGateway>>;
let notes: Awaited<ReturnType<typeof startNotesHttp>>;
const events: AuditEvent[] = [];
const clients: Client[] = [];

async function api(method: string, path: string, body?: unknown, token = ADMIN): Promise<{ status: number; body: Record<string, any> }> {
  const res = await fetch(gw.url + path, {
    method,
    headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { "content-type": "application/json" }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : {} };
}

async function token(body: Record<string, unknown>, by = ADMIN): Promise<{ id: string; token: string; expiresAt: string }> {
  const r = await api("POST", "/v1/auth/tokens", body, by);
  assert.is(r.status, 201, JSON.stringify(r.body));
  return r.body as { id: string; token: string; expiresAt: string };
}

/** One JSON-RPC message over raw HTTP; the result or error of an SSE or JSON answer. */
async function rpc(secret: string, message: Record<string, unknown>, session?: string): Promise<{ status: number; session: string | null; body: any }> {
  const res = await fetch(`${gw.url}/mcp`, {
    method: "POST",
    headers: {
      authorization: `Bearer ${secret}`,
      "content-type": "application/json",
      accept: ACCEPT,
      "mcp-protocol-version": "2025-11-25",
      ...(session ? { "mcp-session-id": session } : {}),
    },
    body: JSON.stringify({ jsonrpc: "2.0", ...message }),
  });
  const text = await res.text();
  const data = text.split("\n").filter((l) => l.startsWith("data:")).map((l) => l.slice(5)).pop() ?? text;
  return { status: res.status, session: res.headers.get("mcp-session-id"), body: data.trim() ? JSON.parse(data) : undefined };
}

async function open(secret: string): Promise<string> {
  const r = await rpc(secret, { id: 1, method: "initialize", params: { protocolVersion: "2025-11-25", capabilities: {}, clientInfo: { name: "raw", version: "1" } } });
  assert.is(r.status, 200, JSON.stringify(r.body));
  assert.ok(r.session);
  assert.is((await rpc(secret, { method: "notifications/initialized" }, r.session!)).status, 202);
  return r.session!;
}

async function client(secret: string): Promise<Client> {
  const c = new Client({ name: "t", version: "1" }, { versionNegotiation: { mode: "legacy" } });
  await c.connect(new StreamableHTTPClientTransport(new URL(`${gw.url}/mcp`), { requestInit: { headers: { authorization: `Bearer ${secret}` } } }));
  clients.push(c);
  return c;
}

const sessions = async (): Promise<number> => ((await (await fetch(`${gw.url}/healthz`)).json()) as { sessions: number }).sessions;

test.before(async () => {
  notes = await startNotesHttp();
  gw = await startGateway({
    auth: bearer(),
    admin: { token: ADMIN, bootstrap: false },
    tokens: { store: memoryStore() },
    server: { maxSessionsPerUser: 3 },
    audit: [{ name: "audit:test", write: (e) => void events.push(e) }],
    servers: {
      notes: http({ url: notes.url }),
      other: stdio({ script: NOTES, stderr: "ignore" }),
      // Forwards no identity at all: whatever identity it sees came from the client.
      bare: stdio({ script: NOTES, stderr: "ignore", identity: false }),
    },
  });
});

test.after(async () => {
  await Promise.all(clients.map((c) => c.close().catch(() => undefined)));
  await gw.close();
  await notes.close();
});

test("a session is bound to the credential that opened it: another token of the same user cannot use it", async () => {
  const t1 = await token({ user: "dana" });
  const t2 = await token({ user: "dana", scopes: ["mcp:read"], permissions: { servers: ["notes"] } });
  const sid = await open(t1.token);
  const write = { id: 2, method: "tools/call", params: { name: "other__add_note", arguments: { title: "x", text: "y" } } };
  const borrowed = await rpc(t2.token, write, sid);
  assert.is(borrowed.status, 404);
  assert.is(borrowed.body.error.data.code, "ERR_SESSION_NOT_FOUND");
  // Revoking T1 ends its session: T1 is refused, and the session no longer exists for anyone.
  const before = await sessions();
  assert.is((await api("DELETE", `/v1/auth/tokens/${t1.id}`)).status, 200);
  assert.is(await sessions(), before - 1);
  assert.is((await rpc(t1.token, write, sid)).status, 401);
  const after = await rpc(t2.token, write, sid);
  assert.is(after.status, 404);
  // T2 on a session of its own gets exactly its own rights.
  const own = await open(t2.token);
  const refused = await rpc(t2.token, { ...write, id: 3 }, own);
  assert.ok(refused.body.error, "a read-only token limited to notes cannot write to other");
});

test("a session ends when the grace period of its rotated credential ends", async () => {
  const t = await token({ user: "erin" });
  const sid = await open(t.token);
  const rotated = await api("POST", `/v1/auth/tokens/${t.id}/rotate`, { graceSeconds: 1 });
  assert.is(rotated.status, 201);
  assert.is((await rpc(t.token, { id: 2, method: "tools/list" }, sid)).status, 200, "usable inside the grace period");
  await new Promise((r) => setTimeout(r, 1200));
  assert.is((await rpc(rotated.body.token, { id: 3, method: "tools/list" }, sid)).status, 404, "the successor does not inherit it");
  assert.is((await rpc(t.token, { id: 4, method: "tools/list" }, sid)).status, 401);
});

test("identity in _meta comes only from the gateway: a client's io.portcullis/* keys never reach a server", async () => {
  const t = await token({ user: "frank", email: "frank@example.com" });
  const c = await client(t.token);
  const forged = { "io.portcullis/identity": { email: "ceo@example.com", roles: ["admin"] }, "IO.Portcullis/Assertion": "forged" };
  const seen = async (name: string) => JSON.parse(((await c.callTool({ name, arguments: {}, _meta: forged } as never)).content as Array<{ text: string }>)[0]!.text);
  // No mapper for this server: nothing at all.
  assert.equal(await seen("bare__whoami"), { identity: null, assertion: null });
  // The gateway's own mapper for stdio: its identity, not the client's.
  const other = await seen("other__whoami");
  assert.is(other.identity.email, "frank@example.com");
  assert.is(other.assertion, null);
  // HTTP upstreams get headers, and no _meta identity from anyone.
  assert.equal(await seen("notes__whoami"), { identity: null, assertion: null });
});

test("rotating itself never stretches a token's life, and never leaves more than two secrets alive", async () => {
  const t = await token({ user: "gina", expiresIn: "10s" });
  const r1 = await api("POST", `/v1/auth/tokens/${t.id}/rotate`, { graceSeconds: 3600 }, t.token);
  assert.is(r1.status, 201);
  assert.ok(Date.parse(r1.body.expiresAt) <= Date.parse(t.expiresAt), `${r1.body.expiresAt} is after ${t.expiresAt}`);
  const r2 = await api("POST", `/v1/auth/tokens/${r1.body.id}/rotate`, { graceSeconds: 3600 }, r1.body.token);
  assert.is(r2.status, 201);
  assert.ok(Date.parse(r2.body.expiresAt) <= Date.parse(t.expiresAt));
  const alive = [t.token, r1.body.token, r2.body.token];
  const ok = [];
  for (const s of alive) ok.push((await api("GET", "/v1/auth/whoami", undefined, s)).status === 200);
  assert.equal(ok, [false, true, true], "the first secret's grace ended when its successor rotated");
  // The old secret's grace never outlives the original expiry either.
  assert.ok(Date.parse((await api("GET", `/v1/auth/tokens/${r1.body.id}`)).body.revokedAt) <= Date.parse(t.expiresAt));
});

test("a credential cannot create or rotate a token with more than it has; the root admin can", async () => {
  const narrow = await token({ user: "ops", scopes: ["admin", "mcp:read"], roles: ["ops"], permissions: { servers: ["notes"] }, expiresIn: "1d" });
  const refused = [
    { user: "x" },
    { user: "x", permissions: { servers: ["other"] } },
    { user: "x", permissions: { servers: ["*"] } },
    { user: "x", permissions: { servers: ["notes"] }, scopes: ["mcp:write"] },
    { user: "x", permissions: { servers: ["notes"] }, scopes: ["mcp:read"], expiresIn: "2d" },
    { user: "x", permissions: { servers: ["notes"] }, scopes: ["mcp:read"], roles: ["root"] },
  ];
  for (const body of refused) {
    const r = await api("POST", "/v1/auth/tokens", body, narrow.token);
    assert.is(r.status, 403, JSON.stringify(body));
    assert.is(r.body.error.code, "ERR_FORBIDDEN");
  }
  const fine = await api("POST", "/v1/auth/tokens", { user: "x", scopes: ["mcp:read"], roles: ["ops"], permissions: { servers: ["notes"] } }, narrow.token);
  assert.is(fine.status, 201, JSON.stringify(fine.body));
  assert.ok(Date.parse(fine.body.expiresAt) <= Date.parse(narrow.expiresAt), "without expiresIn, at most what the creator has left");
  const c = await client(fine.body.token);
  assert.equal((await c.listTools()).tools.filter((t) => !t.name.startsWith("notes__")), [], "the minted token reaches notes only");
  // Rotating a token with more rights than the caller is refused too.
  const wide = await token({ user: "y" });
  assert.is((await api("POST", `/v1/auth/tokens/${wide.id}/rotate`, {}, narrow.token)).status, 403);
  assert.is((await api("POST", `/v1/auth/tokens/${wide.id}/rotate`, {})).status, 201, "the root admin rotates anything");
  // Grants that would silently grant nothing are refused where they are written.
  const typo = await api("POST", "/v1/auth/tokens", { user: "z", permissions: { tools: ["github"] } });
  assert.is(typo.status, 400);
  assert.match(typo.body.error.message, "permissions.tools[0]");
});

test("one caller cannot use up the sessions: at their own cap their least recently used session closes", async () => {
  const hank = await token({ user: "hank" });
  const ida = await token({ user: "ida" });
  const theirs = await open(ida.token);
  const mine = [await open(hank.token), await open(hank.token), await open(hank.token)];
  // Using the first makes the second the least recently used.
  assert.is((await rpc(hank.token, { id: 5, method: "tools/list" }, mine[0])).status, 200);
  await open(hank.token);
  assert.is((await rpc(hank.token, { id: 6, method: "tools/list" }, mine[1])).status, 404, "the least recently used went");
  assert.is((await rpc(hank.token, { id: 7, method: "tools/list" }, mine[0])).status, 200);
  assert.is((await rpc(hank.token, { id: 8, method: "tools/list" }, mine[2])).status, 200);
  assert.is((await rpc(ida.token, { id: 9, method: "tools/list" }, theirs)).status, 200, "another caller's session is untouched");
});

test("malformed percent-escapes in paths are a 400, never a 500", async () => {
  const t = await token({ user: "jo" });
  for (const path of ["/mcp/%ff", "/mcp/%E0%A4%A", "/mcp/%", "/mcp/%zz"]) {
    const res = await fetch(gw.url + path, { method: "POST", headers: { authorization: `Bearer ${t.token}`, "content-type": "application/json", accept: ACCEPT }, body: "{}" });
    assert.is(res.status, 400, path);
    assert.is(((await res.json()) as { error: { data: { code: string } } }).error.data.code, "ERR_BAD_REQUEST");
  }
});

test.run();
