// The HTTP edge of /mcp, in-process through gateway.fetch: refusals and bad input.
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { createGateway } from "../../core/mod.ts";
import { ALICE_KEY, BOB_KEY, everythingUpstream, quietLogger, testAuth } from "../fixtures/helpers.ts";

const test = suite("http edge");
const BASE = "http://127.0.0.1:8787";
let gw: ReturnType<typeof createGateway>;

const INIT = {
  jsonrpc: "2.0",
  id: 1,
  method: "initialize",
  params: { protocolVersion: "2025-11-25", capabilities: {}, clientInfo: { name: "t", version: "1" } },
};

function post(body: unknown, headers: Record<string, string> = {}, path = "/mcp"): Promise<Response> {
  return gw.fetch(new Request(BASE + path, {
    method: "POST",
    headers: { "content-type": "application/json", accept: "application/json, text/event-stream", "x-team-key": ALICE_KEY, ...headers },
    body: typeof body === "string" ? body : JSON.stringify(body),
  }), { remoteAddress: "127.0.0.1" });
}

async function rpcBody(res: Response): Promise<{ id?: unknown; result?: Record<string, unknown>; error?: { code: number; message: string; data?: { code?: string } } }> {
  const text = await res.text();
  if ((res.headers.get("content-type") ?? "").includes("text/event-stream")) {
    // A 2025-11-25 stream may open with a priming event (an id and empty data) for resumability.
    const line = text.split("\n").find((l) => l.startsWith("data: ") && l.length > 6);
    return JSON.parse(line!.slice(6));
  }
  return JSON.parse(text);
}

async function openSession(key = ALICE_KEY): Promise<string> {
  const res = await post(INIT, { "x-team-key": key });
  assert.is(res.status, 200);
  await res.text();
  const id = res.headers.get("mcp-session-id");
  assert.ok(id);
  const ack = await post({ jsonrpc: "2.0", method: "notifications/initialized" }, { "mcp-session-id": id!, "mcp-protocol-version": "2025-11-25", "x-team-key": key });
  assert.is(ack.status, 202);
  return id!;
}

test.before(async () => {
  gw = createGateway({ logger: quietLogger, admin: { bootstrap: false }, auth: [await testAuth()], servers: { everything: everythingUpstream() } });
  await gw.ready();
});
test.after(async () => {
  await gw.close();
});

test("healthz reports upstream state without authentication", async () => {
  const res = await gw.fetch(new Request(`${BASE}/healthz`));
  assert.is(res.status, 200);
  const body = await res.json();
  assert.is(body.status, "ok");
  assert.is(body.upstreams.everything, "ready");
});

test("a gateway with no auth strategy refuses every /mcp request", async () => {
  const open = createGateway({ logger: quietLogger, admin: { bootstrap: false }, servers: {} });
  const res = await open.fetch(new Request(`${BASE}/mcp`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(INIT) }));
  assert.is(res.status, 401);
  assert.ok(res.headers.get("www-authenticate"));
  const body = await res.json();
  assert.is(body.error.data.code, "ERR_AUTH_REQUIRED");
  await open.close();
});

test("no credential: 401 with the strategy's challenge; a wrong key: 401 ERR_INVALID_CREDENTIAL", async () => {
  const none = await gw.fetch(new Request(`${BASE}/mcp`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(INIT) }));
  assert.is(none.status, 401);
  assert.match(none.headers.get("www-authenticate") ?? "", /ApiKey header="x-team-key"/);
  const wrong = await post(INIT, { "x-team-key": "not-a-key" });
  assert.is(wrong.status, 401);
  assert.is((await rpcBody(wrong)).error?.data?.code, "ERR_INVALID_CREDENTIAL");
});

test("identity headers from the client do not authenticate anyone", async () => {
  const res = await gw.fetch(new Request(`${BASE}/mcp`, {
    method: "POST",
    headers: { "content-type": "application/json", "x-user-email": "alice@example.com", "x-user-name": "alice" },
    body: JSON.stringify(INIT),
  }));
  assert.is(res.status, 401);
});

test("a foreign Origin gets 403; loopback and same-machine origins pass", async () => {
  const evil = await post(INIT, { origin: "https://evil.example" });
  assert.is(evil.status, 403);
  assert.is((await rpcBody(evil)).error?.data?.code, "ERR_FORBIDDEN_ORIGIN");
  const local = await post(INIT, { origin: "http://localhost:6274" });
  assert.is(local.status, 200);
  await local.text();
});

test("methods other than GET, POST, DELETE get 405 with Allow", async () => {
  for (const method of ["PUT", "PATCH"]) {
    const res = await gw.fetch(new Request(`${BASE}/mcp`, { method, headers: { "x-team-key": ALICE_KEY } }));
    assert.is(res.status, 405);
    assert.is(res.headers.get("allow"), "GET, POST, DELETE");
  }
  const health = await gw.fetch(new Request(`${BASE}/healthz`, { method: "POST" }));
  assert.is(health.status, 405);
});

test("oversized bodies get 413, whether Content-Length says so or not", async () => {
  const small = createGateway({ logger: quietLogger, admin: { bootstrap: false }, auth: [await testAuth()], servers: {}, server: { maxBodyBytes: 1024 } });
  const big = JSON.stringify({ ...INIT, params: { ...INIT.params, pad: "x".repeat(4096) } });
  const declared = await small.fetch(new Request(`${BASE}/mcp`, { method: "POST", headers: { "content-type": "application/json", "x-team-key": ALICE_KEY }, body: big }));
  assert.is(declared.status, 413);
  const stream = new ReadableStream<Uint8Array>({
    start(c) {
      for (let i = 0; i < 8; i++) c.enqueue(new TextEncoder().encode("x".repeat(512)));
      c.close();
    },
  });
  const chunked = await small.fetch(new Request(`${BASE}/mcp`, { method: "POST", headers: { "content-type": "application/json", "x-team-key": ALICE_KEY }, body: stream, duplex: "half" } as RequestInit));
  assert.is(chunked.status, 413);
  assert.is((await rpcBody(chunked)).error?.data?.code, "ERR_BODY_TOO_LARGE");
  await small.close();
});

test("malformed JSON gets a JSON-RPC parse error (400, -32700)", async () => {
  const res = await post("{\"jsonrpc\": \"2.0\", \"id\": 1,");
  assert.is(res.status, 400);
  const body = await rpcBody(res);
  assert.is(body.error?.code, -32700);
  assert.is(body.id, null);
});

test("a non-JSON content type gets 415", async () => {
  const res = await post("hello", { "content-type": "text/plain" });
  assert.is(res.status, 415);
});

test("JSON-RPC of the wrong shape gets a JSON-RPC error, never a crash", async () => {
  const sid = await openSession();
  for (const bad of [{ hello: "world" }, [], 42, "text", { jsonrpc: "2.0", id: 2, method: 5 }, { jsonrpc: "1.0", id: 3, method: "tools/list" }]) {
    const res = await post(bad, { "mcp-session-id": sid, "mcp-protocol-version": "2025-11-25" });
    assert.ok(res.status >= 400 && res.status < 500, `status ${res.status} for ${JSON.stringify(bad)}`);
    const body = await rpcBody(res);
    assert.ok(body.error && typeof body.error.code === "number", `JSON-RPC error for ${JSON.stringify(bad)}`);
  }
  // The gateway still serves the session afterwards.
  const ok = await post({ jsonrpc: "2.0", id: 9, method: "tools/list" }, { "mcp-session-id": sid, "mcp-protocol-version": "2025-11-25" });
  assert.is(ok.status, 200);
  assert.ok(((await rpcBody(ok)).result?.tools as unknown[]).length > 0);
});

test("requests without a session, with an unknown one, or with another user's get 400/404", async () => {
  const noSession = await post({ jsonrpc: "2.0", id: 1, method: "tools/list" }, { "mcp-protocol-version": "2025-11-25" });
  assert.is(noSession.status, 400);
  const unknown = await post({ jsonrpc: "2.0", id: 1, method: "tools/list" }, { "mcp-session-id": "no-such-session", "mcp-protocol-version": "2025-11-25" });
  assert.is(unknown.status, 404);
  const sid = await openSession(ALICE_KEY);
  const stolen = await post({ jsonrpc: "2.0", id: 1, method: "tools/list" }, { "mcp-session-id": sid, "mcp-protocol-version": "2025-11-25", "x-team-key": BOB_KEY });
  assert.is(stolen.status, 404);
});

test("DELETE ends a session; using it afterwards is 404", async () => {
  const sid = await openSession();
  const del = await gw.fetch(new Request(`${BASE}/mcp`, { method: "DELETE", headers: { "mcp-session-id": sid, "x-team-key": ALICE_KEY, "mcp-protocol-version": "2025-11-25" } }));
  assert.is(del.status, 200);
  const after = await post({ jsonrpc: "2.0", id: 1, method: "tools/list" }, { "mcp-session-id": sid, "mcp-protocol-version": "2025-11-25" });
  assert.is(after.status, 404);
});

test("unknown paths and unknown servers are 404", async () => {
  assert.is((await gw.fetch(new Request(`${BASE}/nope`))).status, 404);
  const res = await post(INIT, {}, "/mcp/nosuchserver");
  assert.is(res.status, 404);
  const nested = await post(INIT, {}, "/mcp/everything/extra");
  assert.is(nested.status, 404);
});

test.run();
