// The project's own hostile suite: a table of bad inputs (tests/fixtures/hostile-cases.ts), each with the status and
// gateway error code it must get, run in-process through gateway.fetch; then the scenarios a table cannot
// hold (sessions bound to credentials, the per-user session cap, 100,000-character names, self-rotation);
// then the gateway must still be healthy, must have logged nothing at error level, and no secret may
// appear in any log line or audit event. A failure prints every row that regressed.
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { createConnection } from "node:net";
import { createGateway, serve, type AuditEvent, type AuditSink, type Logger, type Served } from "../../core/mod.ts";
import { newSecret } from "../../core/tokens/secret.ts";
import { apiKey, bearer, envSecrets, memoryStore, oauthServer, vault } from "../../plugins/mod.ts";
import { BASE, buildRows, type Category, describeRow, type Expect, INIT, type Keys, LIST, rawRows, type Row } from "../fixtures/hostile-cases.ts";
import { http, runtime, startNotesHttp } from "../fixtures/helpers.ts";

const test = suite("hostile");
const ADMIN = "hostile-static-admin-token-0123456789abcdefghij";
const MASTER_KEY = btoa(String.fromCharCode(...crypto.getRandomValues(new Uint8Array(32))));
const MCP_ACCEPT = "application/json, text/event-stream";

const logs: Array<{ level: string; message: string; fields?: Record<string, unknown> }> = [];
const events: AuditEvent[] = [];
/** Every secret the suite saw: the static admin token, the master key, every token and key created or rotated. */
const secrets: string[] = [ADMIN, MASTER_KEY];
const logger: Logger = {
  debug: (message, fields) => void logs.push({ level: "debug", message, fields }),
  info: (message, fields) => void logs.push({ level: "info", message, fields }),
  warn: (message, fields) => void logs.push({ level: "warn", message, fields }),
  error: (message, fields) => void logs.push({ level: "error", message, fields }),
};
const capture: AuditSink = { name: "audit:capture", write: (event) => void events.push(event) };

type Gw = ReturnType<typeof createGateway>;
let gw: Gw;
let roomy: Gw;
let served: Served | undefined;
let notes: Awaited<ReturnType<typeof startNotesHttp>>;
const k = {} as Keys;
const rows = buildRows().filter((r) => !r.runtimes || r.runtimes.includes(runtime));
/** HOSTILE_VERBOSE=1 prints every row with the answer it got. */
const verbose = Boolean((globalThis as { process?: { env: Record<string, string | undefined> } }).process?.env.HOSTILE_VERBOSE);

function config(maxBodyBytes: number) {
  return {
    logger,
    audit: [capture],
    admin: { token: ADMIN, bootstrap: false },
    tokens: { store: memoryStore(), maxExpiresIn: "90d" },
    server: { maxBodyBytes, maxSessionsPerUser: 3, allowedOrigins: ["https://console.example.com"] },
    // Hundreds of hostile credentials from one address on purpose: the lockout (tests/core/lockout.test.ts)
    // would answer most of them 429 before the check each row is about.
    limits: false as const,
    // The OAuth server only adds its routes and its access-token check here: its IdP is never contacted.
    auth: [
      oauthServer({ upstream: { issuer: "http://127.0.0.1:9/", clientId: "hostile", clientSecret: "hostile-idp-client-secret-0123456789" } }),
      bearer(),
      apiKey({ header: "X-API-Key" }),
    ],
    secrets: [vault({ masterKey: MASTER_KEY }), envSecrets()],
    servers: { notes: http({ url: notes.url }) },
  };
}

// ---------- reading answers ----------

const sleep = (ms: number) => new Promise<"timeout">((r) => setTimeout(() => r("timeout"), ms));

/** `promise`, or "timeout" after `ms`; the timer never outlives the race (so the process can exit). */
async function within<T>(promise: Promise<T>, ms: number): Promise<T | "timeout"> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    return await Promise.race([promise, new Promise<"timeout">((r) => (timer = setTimeout(() => r("timeout"), ms)))]);
  } finally {
    clearTimeout(timer);
  }
}

/** The body as text; an event stream is read until its first JSON-RPC answer (or `ms`), then cancelled. */
async function readAll(res: Response, ms = 10_000): Promise<string> {
  if (!res.body) return "";
  const sse = (res.headers.get("content-type") ?? "").includes("text/event-stream");
  const reader = res.body.getReader();
  const decoder = new TextDecoder();
  let text = "";
  const deadline = Date.now() + ms;
  try {
    for (;;) {
      const left = deadline - Date.now();
      if (left <= 0) break;
      const r = await within(reader.read(), left);
      if (r === "timeout" || r.done) break;
      text += decoder.decode(r.value, { stream: true });
      if (sse && rpcOf(text) !== undefined) break;
    }
  } finally {
    reader.cancel().catch(() => undefined);
  }
  return text;
}

/** The first JSON-RPC answer (a result or an error) in an event stream. */
function rpcOf(sse: string): Record<string, any> | undefined {
  for (const line of sse.split("\n")) {
    if (!line.startsWith("data:")) continue;
    try {
      const msg = JSON.parse(line.slice(5));
      if (msg && typeof msg === "object" && ("result" in msg || "error" in msg)) return msg;
    } catch {
      // a partial line, or a priming event
    }
  }
  return undefined;
}

interface Answer {
  status: number;
  headers: Headers;
  body: any;
  /** The gateway code: `error.data.code` of a JSON-RPC error, `error.code` of an API error. */
  code?: string;
  /** The JSON-RPC error code number. */
  rpc?: number;
  text: string;
}

async function answer(res: Response): Promise<Answer> {
  const text = await readAll(res);
  let body: any;
  if ((res.headers.get("content-type") ?? "").includes("text/event-stream")) body = rpcOf(text);
  else {
    try {
      body = text ? JSON.parse(text) : undefined;
    } catch {
      body = undefined;
    }
  }
  const e = body?.error;
  const code = typeof e?.data?.code === "string" ? e.data.code : typeof e?.code === "string" ? e.code : undefined;
  return { status: res.status, headers: res.headers, body, code, rpc: typeof e?.code === "number" ? e.code : undefined, text };
}

async function send(g: Gw, method: string, path: string, headers: Headers | Record<string, string>, body?: BodyInit): Promise<Answer> {
  const init: RequestInit & { duplex?: string } = { method, headers, body };
  if (body instanceof ReadableStream) init.duplex = "half";
  const res = await g.fetch(new Request(BASE + path, init), { remoteAddress: "127.0.0.1" });
  const a = await answer(res);
  if (typeof a.body?.token === "string") secrets.push(a.body.token);
  return a;
}

function isMcpPath(path: string): boolean {
  const p = new URL(BASE + path).pathname;
  return p === "/mcp" || p.startsWith("/mcp/");
}

/** What is wrong with an answer, or undefined when it is one of the expected ones. */
function mismatch(a: Answer, expect: Expect | Expect[], mcp: boolean): string | undefined {
  if (a.status >= 500) return "a 5xx answer";
  const problems: string[] = [];
  for (const e of Array.isArray(expect) ? expect : [expect]) {
    const p: string[] = [];
    if (a.status !== e.status) p.push(`status ${a.status}`);
    if (e.code === undefined && a.body?.error !== undefined) p.push(`an error ${JSON.stringify(a.body.error).slice(0, 200)}`);
    if (typeof e.code === "string") {
      if (a.code !== e.code) p.push(`code ${a.code ?? "(none)"}`);
      // On /mcp every gateway error is a JSON-RPC error; elsewhere it is { error: { code, message } }.
      if (mcp && (a.body?.jsonrpc !== "2.0" || typeof a.body?.error?.code !== "number")) p.push("not a JSON-RPC error");
      if (!mcp && typeof a.body?.error?.message !== "string") p.push("not an API error");
    }
    if (e.rpc !== undefined && a.rpc !== e.rpc) p.push(`JSON-RPC code ${a.rpc ?? "(none)"}`);
    if (e.allow !== undefined && a.headers.get("allow") !== e.allow) p.push(`Allow ${a.headers.get("allow")}`);
    // Every 401 tells the client how to authenticate.
    if (e.status === 401 && e.code !== null && !a.headers.get("www-authenticate")) p.push("no WWW-Authenticate challenge");
    if (p.length === 0) return undefined;
    problems.push(p.join(", "));
  }
  return `got ${a.status} ${a.code ?? ""} (${[...new Set(problems)].join(" | ")})`;
}

async function runRow(row: Row): Promise<string | undefined> {
  const path = typeof row.path === "function" ? row.path(k) : row.path;
  let a: Answer;
  try {
    a = await send(gw, row.method, path, row.headers?.(k) ?? new Headers(), row.body?.(k));
  } catch (err) {
    return `threw ${err instanceof Error ? `${err.name}: ${err.message}` : String(err)}`;
  }
  const wrong = mismatch(a, row.expect, isMcpPath(path)) ?? row.check?.(a.body, k);
  if (verbose) console.log(`${describeRow(row, k)}\n      -> ${a.status} ${a.code ?? ""}${a.rpc === undefined ? "" : ` (${a.rpc})`}${wrong ? "  WRONG" : ""}`);
  return wrong;
}

// ---------- tokens ----------

async function create(body: Record<string, unknown>, g: Gw = gw): Promise<{ id: string; token: string; expiresAt: string }> {
  const a = await send(g, "POST", "/v1/auth/tokens", { "content-type": "application/json", authorization: `Bearer ${ADMIN}` }, JSON.stringify(body));
  if (a.status !== 201) throw new Error(`creating ${JSON.stringify(body)}: ${a.status} ${a.text}`);
  return a.body;
}

async function revoke(id: string): Promise<void> {
  const a = await send(gw, "DELETE", `/v1/auth/tokens/${id}`, { authorization: `Bearer ${ADMIN}` });
  if (a.status !== 200) throw new Error(`revoking ${id}: ${a.status} ${a.text}`);
}

async function rotate(id: string, graceSeconds: number, auth = ADMIN): Promise<Answer> {
  return await send(gw, "POST", `/v1/auth/tokens/${id}/rotate`, { "content-type": "application/json", authorization: `Bearer ${auth}` }, JSON.stringify({ graceSeconds }));
}

const ALICE = { user: "alice", name: "Alice A", email: "alice@example.com", team: "platform", org: "acme", roles: ["dev"], scopes: ["mcp:read", "mcp:write"] };

test.before(async () => {
  notes = await startNotesHttp();
  gw = createGateway(config(4096));
  roomy = createGateway(config(4 * 1024 * 1024));
  await Promise.all([gw.ready(), roomy.ready()]);

  // The ones that must be dead by the time the table runs first.
  const expired = await create({ ...ALICE, expiresIn: "1s" });
  const expiredKey = await create({ ...ALICE, type: "api-key", expiresIn: "1s" });
  k.expired = expired.token;
  k.expiredKey = expiredKey.token;
  const graced = await create({ ...ALICE });
  k.rotatedGrace = graced.token;
  assert.is((await rotate(graced.id, 1)).status, 201);
  const deadAt = Math.max(Date.parse(expired.expiresAt), Date.parse(expiredKey.expiresAt), Date.now() + 1000) + 100;

  k.admin = ADMIN;
  const user = await create(ALICE);
  k.user = user.token;
  k.userId = user.id;
  k.userKey = (await create({ ...ALICE, type: "api-key" })).token;
  k.noScope = (await create({ user: "scopeless", scopes: [] })).token;
  k.adminTok = (await create({ user: "deputy", scopes: ["admin", "mcp:read", "mcp:write"] })).token;
  k.notesAdmin = (await create({ user: "delegate", scopes: ["admin", "mcp:read"], permissions: { servers: ["notes"] }, expiresIn: "1h" })).token;
  const revoked = await create({ ...ALICE });
  const revokedKey = await create({ ...ALICE, type: "api-key" });
  await revoke(revoked.id);
  await revoke(revokedKey.id);
  k.revoked = revoked.token;
  k.revokedKey = revokedKey.token;
  const rotated = await create({ ...ALICE });
  assert.is((await rotate(rotated.id, 0)).status, 201);
  k.rotated = rotated.token;
  k.unknown = newSecret("pt_");
  k.unknownKey = newSecret("pk_");
  k.otherId = (await create({ user: "bob" })).id;
  k.victimId = (await create({ user: "victim" })).id;
  k.spareId = (await create({ user: "spare" })).id;
  k.richId = (await create({ user: "rich" })).id;
  k.writerNotesId = (await create({ user: "writer", scopes: ["mcp:read", "mcp:write"], permissions: { servers: ["notes"] }, expiresIn: "30m" })).id;
  k.narrowId = (await create({ user: "narrow", scopes: ["mcp:read"], permissions: { servers: ["notes"] }, expiresIn: "30m" })).id;
  const jwks = await send(gw, "GET", "/.well-known/jwks.json", {});
  k.kid = jwks.body.keys[0].kid;

  served = await serve(gw, { port: 0, handleSignals: false });
  const left = deadAt - Date.now();
  if (left > 0) await sleep(left);
});

test.after(async () => {
  await served?.close();
  await gw?.close();
  await roomy?.close();
  await notes?.close();
});

// ---------- the table ----------

const CATEGORIES: Category[] = ["1 credentials", "2 identity spoofing", "3 origin", "4 json-rpc and bodies", "5 paths", "6 token api", "9 http edge"];

for (const cat of CATEGORIES) {
  const mine = rows.filter((r) => r.cat === cat);
  test(`table ${cat}: ${mine.length} rows`, async () => {
    const failed: string[] = [];
    for (const row of mine) {
      const wrong = await runRow(row);
      if (wrong) failed.push(`${describeRow(row, k)}\n      -> ${wrong}`);
    }
    assert.ok(failed.length === 0, `${failed.length} of ${mine.length} rows regressed:\n  ${failed.join("\n  ")}`);
  });
}

// Bytes a Request cannot carry (a NUL, UTF-8 in a header), over a real socket to the served gateway.
function sendRaw(port: number, bytes: Uint8Array, ms = 5000): Promise<Answer | undefined> {
  return new Promise((resolve) => {
    const chunks: Uint8Array[] = [];
    let settled = false;
    const sock = createConnection({ host: "127.0.0.1", port });
    const finish = () => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      sock.destroy();
      const all = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
      let o = 0;
      for (const c of chunks) {
        all.set(c, o);
        o += c.length;
      }
      const text = new TextDecoder("latin1").decode(all);
      const m = /^HTTP\/1\.[01] (\d{3})/.exec(text);
      if (!m) return resolve(undefined);
      const split = text.indexOf("\r\n\r\n");
      const head = text.slice(0, split);
      let body = text.slice(split + 4);
      if (/\r\ntransfer-encoding:\s*chunked/i.test(head)) {
        let out = "";
        for (let at = 0; at < body.length;) {
          const eol = body.indexOf("\r\n", at);
          const size = parseInt(body.slice(at, eol), 16);
          if (!(size > 0)) break;
          out += body.slice(eol + 2, eol + 2 + size);
          at = eol + 2 + size + 2;
        }
        body = out;
      }
      const headers = new Headers();
      for (const line of head.split("\r\n").slice(1)) {
        const i = line.indexOf(":");
        if (i > 0) {
          try {
            headers.append(line.slice(0, i).trim(), line.slice(i + 1).trim());
          } catch {
            // not a header a Headers object can hold
          }
        }
      }
      void answer(new Response(body === "" ? null : body, { status: Number(m[1]), headers })).then(resolve, () => resolve(undefined));
    };
    const timer = setTimeout(finish, ms);
    sock.on("connect", () => sock.write(bytes));
    sock.on("data", (d: Uint8Array) => void chunks.push(d));
    sock.on("end", finish);
    sock.on("close", finish);
    sock.on("error", finish);
  });
}

const raws = rawRows();
test(`raw requests over a socket: ${raws.length} rows`, async () => {
  const failed: string[] = [];
  for (const row of raws) {
    const bytes = row.request(k);
    const line = new TextDecoder().decode(bytes.slice(0, bytes.indexOf(13)));
    const a = await sendRaw(served!.port, bytes);
    const wrong = a ? mismatch(a, row.expect, false) : "no HTTP answer";
    if (verbose) console.log(`[${row.cat}] ${line} | ${row.what}\n      -> ${a ? `${a.status} ${a.code ?? ""}` : "no answer"}${wrong ? "  WRONG" : ""}`);
    if (wrong) failed.push(`[${row.cat}] ${line} | ${row.what} | want ${row.expect.map((e) => `${e.status} ${e.code ?? ""}`).join(" or ")}\n      -> ${wrong}`);
  }
  const health = await fetch(`${served!.url}/healthz`);
  assert.is(health.status, 200, "the served gateway still answers");
  await health.body?.cancel();
  assert.ok(failed.length === 0, `${failed.length} of ${raws.length} raw rows regressed:\n  ${failed.join("\n  ")}`);
});

// ---------- 6: self-rotation never extends a lifetime ----------

test("6 token api: a 10s token rotating itself gets a successor that ends no later than it would have", async () => {
  const short = await create({ user: "short-lived", expiresIn: "10s" });
  const first = await rotate(short.id, 0, short.token);
  assert.is(first.status, 201, `self-rotation: ${first.text}`);
  const problems: string[] = [];
  if (Date.parse(first.body.expiresAt) > Date.parse(short.expiresAt)) problems.push(`successor expiresAt ${first.body.expiresAt} is later than the original's ${short.expiresAt}`);
  const second = await rotate(first.body.id, 0, first.body.token);
  assert.is(second.status, 201, `second self-rotation: ${second.text}`);
  if (Date.parse(second.body.expiresAt) > Date.parse(short.expiresAt)) problems.push(`second successor expiresAt ${second.body.expiresAt} is later than the original's ${short.expiresAt}`);
  // A grace period cannot keep the old secret alive past the old token's own expiry either.
  const graced = await rotate(second.body.id, 3600, second.body.token);
  assert.is(graced.status, 201, `rotation with a grace period: ${graced.text}`);
  const old = await send(gw, "GET", `/v1/auth/tokens/${second.body.id}`, { authorization: `Bearer ${ADMIN}` });
  if (Date.parse(old.body.revokedAt) > Date.parse(short.expiresAt)) problems.push(`the rotated-out secret lives until ${old.body.revokedAt}, past ${short.expiresAt}`);
  if (Date.parse(graced.body.expiresAt) > Date.parse(short.expiresAt)) problems.push(`third successor expiresAt ${graced.body.expiresAt} is later than the original's ${short.expiresAt}`);
  assert.ok(problems.length === 0, problems.join("\n"));
});

// ---------- 7: sessions (2025-11-25) over the real notes upstream ----------

function mcpHeaders(token: string, sid?: string, extra: Record<string, string> = {}): Record<string, string> {
  const h: Record<string, string> = { "content-type": "application/json", accept: MCP_ACCEPT, authorization: `Bearer ${token}`, ...extra };
  if (sid !== undefined) {
    h["mcp-session-id"] = sid;
    h["mcp-protocol-version"] = "2025-11-25";
  }
  return h;
}

async function openSession(g: Gw, token: string, path = "/mcp"): Promise<string> {
  const init = await send(g, "POST", path, mcpHeaders(token), JSON.stringify(INIT));
  const sid = init.headers.get("mcp-session-id");
  assert.is(init.status, 200, `initialize on ${path}: ${init.status} ${init.text.slice(0, 300)}`);
  assert.ok(sid, "initialize answered a session id");
  const ack = await send(g, "POST", path, mcpHeaders(token, sid!), JSON.stringify({ jsonrpc: "2.0", method: "notifications/initialized" }));
  assert.is(ack.status, 202, `notifications/initialized: ${ack.status} ${ack.text.slice(0, 300)}`);
  return sid!;
}

async function listTools(token: string, sid: string, path = "/mcp"): Promise<Answer> {
  return await send(gw, "POST", path, mcpHeaders(token, sid), JSON.stringify(LIST));
}

/** Records a step that did not get what it must. */
function step(problems: string[], what: string, a: Answer, status: number, code?: string): void {
  const ok = a.status === status && (code === undefined ? a.body?.error === undefined && a.body?.result !== undefined : a.code === code);
  if (verbose) console.log(`  step: ${what}\n      -> ${a.status} ${a.code ?? ""}${ok ? "" : "  WRONG"}`);
  if (!ok) problems.push(`${what}: want ${status} ${code ?? "(no error)"}, got ${a.status} ${a.code ?? ""}`);
}

test("7 sessions: a session belongs to the credential that opened it", async () => {
  const t1 = await create({ user: "sess-a" });
  const t2 = await create({ user: "sess-a" });
  const key = await create({ user: "sess-a", type: "api-key" });
  const bob = await create({ user: "sess-bob" });
  const sid = await openSession(gw, t1.token);
  const problems: string[] = [];
  step(problems, "T1 uses its own session", await listTools(t1.token, sid), 200);
  step(problems, "T2 (same user, another token) uses T1's session", await listTools(t2.token, sid), 404, "ERR_SESSION_NOT_FOUND");
  step(problems, "an API key of the same user uses T1's session", await send(gw, "POST", "/mcp", { ...mcpHeaders(t1.token, sid), authorization: "", "x-api-key": key.token }, JSON.stringify(LIST)), 404, "ERR_SESSION_NOT_FOUND");
  step(problems, "another user uses T1's session", await listTools(bob.token, sid), 404, "ERR_SESSION_NOT_FOUND");
  step(problems, "T1's /mcp session used on /mcp/notes", await listTools(t1.token, sid, "/mcp/notes"), 404, "ERR_SESSION_NOT_FOUND");
  step(problems, "T2 ends T1's session", await send(gw, "DELETE", "/mcp", { authorization: `Bearer ${t2.token}`, "mcp-session-id": sid, "mcp-protocol-version": "2025-11-25" }), 404, "ERR_SESSION_NOT_FOUND");
  step(problems, "T1's session still works after all that", await listTools(t1.token, sid), 200);
  const notesSid = await openSession(gw, t1.token, "/mcp/notes");
  step(problems, "T1's /mcp/notes session used on /mcp", await listTools(t1.token, notesSid), 404, "ERR_SESSION_NOT_FOUND");
  step(problems, "T2 uses T1's /mcp/notes session", await listTools(t2.token, notesSid, "/mcp/notes"), 404, "ERR_SESSION_NOT_FOUND");
  assert.ok(problems.length === 0, problems.join("\n"));
});

test("7 sessions: revoking or rotating a token ends the sessions it opened", async () => {
  const problems: string[] = [];
  const t1 = await create({ user: "sess-b" });
  const sid = await openSession(gw, t1.token);
  step(problems, "T1 uses its session", await listTools(t1.token, sid), 200);
  await revoke(t1.id);
  step(problems, "T1 after its revocation", await listTools(t1.token, sid), 401, "ERR_TOKEN_REVOKED");
  const t3 = await create({ user: "sess-b" });
  step(problems, "a fresh token of the same user with the revoked token's session id", await listTools(t3.token, sid), 404, "ERR_SESSION_NOT_FOUND");

  const r = await create({ user: "sess-b2" });
  const rsid = await openSession(gw, r.token);
  const successor = await rotate(r.id, 0);
  assert.is(successor.status, 201);
  step(problems, "a token rotated with no grace, on its session", await listTools(r.token, rsid), 401, "ERR_TOKEN_REVOKED");
  step(problems, "its successor on the old token's session", await listTools(successor.body.token, rsid), 404, "ERR_SESSION_NOT_FOUND");
  assert.ok(problems.length === 0, problems.join("\n"));
});

test("7 sessions: at server.maxSessionsPerUser (3) a 4th initialize closes the same user's oldest session only", async () => {
  const problems: string[] = [];
  const c = await create({ user: "sess-cap" });
  const d = await create({ user: "sess-other" });
  const others = [await openSession(gw, d.token), await openSession(gw, d.token)];
  const mine = [await openSession(gw, c.token), await openSession(gw, c.token), await openSession(gw, c.token)];
  let fourth: string | undefined;
  try {
    fourth = await openSession(gw, c.token);
  } catch (err) {
    problems.push(`the 4th initialize failed: ${(err as Error).message}`);
  }
  step(problems, "the oldest session after the 4th initialize", await listTools(c.token, mine[0]!), 404, "ERR_SESSION_NOT_FOUND");
  step(problems, "the 2nd session", await listTools(c.token, mine[1]!), 200);
  step(problems, "the 3rd session", await listTools(c.token, mine[2]!), 200);
  if (fourth) step(problems, "the 4th session", await listTools(c.token, fourth), 200);
  for (const [i, sid] of others.entries()) step(problems, `another user's session ${i + 1}`, await listTools(d.token, sid), 200);
  assert.ok(problems.length === 0, problems.join("\n"));
});

// ---------- 8: names of unbounded length ----------

test("8 names: 100,000-character names get a JSON-RPC error, quickly, and the audit trail keeps them short", async () => {
  const t = await create({ user: "long-names" }, roomy);
  const sid = await openSession(roomy, t.token);
  const notesSid = await openSession(roomy, t.token, "/mcp/notes");
  const long = "x".repeat(100_000);
  const problems: string[] = [];
  const cases: Array<[string, string, string, unknown]> = [
    ["tools/call, no separator", "/mcp", sid, { name: long, arguments: {} }],
    ["tools/call, notes__ + 100,000 characters", "/mcp", sid, { name: `notes__${long}`, arguments: {} }],
    ["tools/call on /mcp/notes", "/mcp/notes", notesSid, { name: long, arguments: {} }],
    ["prompts/get", "/mcp", sid, { name: `notes__${long}` }],
    ["resources/read", "/mcp", sid, { uri: `notes://${long}` }],
  ];
  for (const [what, path, session, params] of cases) {
    const method = what.split(/[ ,]/)[0]!;
    const started = Date.now();
    const res = await within(send(roomy, "POST", path, mcpHeaders(t.token, session), JSON.stringify({ jsonrpc: "2.0", id: 7, method, params })), 10_000);
    if (res === "timeout") {
      problems.push(`${what}: no answer within 10 s`);
      continue;
    }
    if (res.status >= 500 || res.status !== 200 || typeof res.body?.error?.code !== "number") {
      problems.push(`${what}: want 200 with a JSON-RPC error, got ${res.status} ${res.text.slice(0, 200)}`);
    }
    if (Date.now() - started > 5000) problems.push(`${what}: took ${Date.now() - started} ms`);
    // The name is not echoed back in full: an answer is not an amplifier.
    if (res.text.length > 10_000) problems.push(`${what}: a ${res.text.length}-character answer`);
  }
  await sleep(50);
  const mine = events.filter((e) => e.type === "tool_call" && e.subject === "long-names");
  if (mine.length < 3) problems.push(`expected a tool_call audit event per refused call, found ${mine.length}`);
  for (const e of mine) {
    if (e.type === "tool_call" && e.tool.length > 512) problems.push(`audited tool name of ${e.tool.length} characters (${e.outcome})`);
  }
  assert.ok(problems.length === 0, problems.join("\n"));
});

// ---------- after everything ----------

test("afterwards: healthy, nothing logged at error level, no secret in any log line or audit event", async () => {
  for (const g of [gw, roomy]) {
    const h = await send(g, "GET", "/healthz", {});
    assert.is(h.status, 200);
    assert.is(h.body.status, "ok", JSON.stringify(h.body));
  }
  await sleep(50);
  const errors = logs.filter((l) => l.level === "error");
  assert.ok(errors.length === 0, `logged at error level:\n  ${errors.map((l) => `${l.message} ${JSON.stringify(l.fields ?? {}).slice(0, 400)}`).join("\n  ")}`);
  const logText = logs.map((l) => `${l.message} ${JSON.stringify(l.fields ?? {})}`).join("\n");
  const auditText = events.map((e) => JSON.stringify(e)).join("\n");
  const leaks: string[] = [];
  for (const s of new Set(secrets)) {
    // The whole secret, and 16 characters of its random part (a truncated or corrupted copy is a leak too).
    const parts = s.startsWith("pt_") || s.startsWith("pk_") ? [s, s.slice(3, 19)] : [s];
    for (const p of parts) {
      if (logText.includes(p)) leaks.push(`a log line contains ${s.slice(0, 6)}...`);
      if (auditText.includes(p)) leaks.push(`an audit event contains ${s.slice(0, 6)}...`);
    }
  }
  assert.ok(secrets.length > 20, `the suite saw ${secrets.length} secrets`);
  assert.ok(leaks.length === 0, [...new Set(leaks)].join("\n"));
  // Nothing a client claimed about itself made it into the audit trail as fact.
  for (const claimed of ["6.6.6.6", "mallory@evil.example", "evil-org"]) {
    assert.not.ok(auditText.includes(claimed), `an audit event repeats the client's claim ${claimed}`);
  }
  const longTools = events.filter((e) => e.type === "tool_call" && e.tool.length > 512);
  assert.ok(longTools.length === 0, `${longTools.length} audited tool names over 512 characters`);
});

test.run();
