// The authentication page's configs and curl commands, literally: the page's JSON configs
// (`{"auth":{"type":"api-key","header":"X-API-Key"}}`, bearer, oauth) loaded the way the CLI loads them,
// the admin token printed at first start working on the admin API whatever authenticates /mcp, tokens
// revoked and rotated by their secret, curl's bodies (`-d` without a JSON Content-Type, no body at all),
// `user` as the email, errors that say where a misplaced credential goes, and a library that prints no
// secret. In-process through gateway.fetch, plus the real CLI over real HTTP for the first start.
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import process from "node:process";
import { createGateway, type AuditEvent, type AuthStrategy, type Gateway, type GatewayConfig } from "../../core/mod.ts";
import { loadConfigFile } from "../../core/cli/load-config.ts";
import { apiKey, bearer, memoryStore } from "../../plugins/mod.ts";
import { inProcess } from "../../examples/custom-upstream.ts";
import { bearerAuth, echoServer, harness } from "../fixtures/in-process.ts";
import { quietLogger } from "../fixtures/helpers.ts";
import { startCli, stopAllCli } from "../fixtures/cli-process.ts";

const test = suite("page auth");
const BASE = "http://gateway.test";
const INIT = { jsonrpc: "2.0", id: 1, method: "initialize", params: { protocolVersion: "2025-11-25", capabilities: {}, clientInfo: { name: "page", version: "1" } } };
const FORM = "application/x-www-form-urlencoded";

let dir: string;
const gateways: Gateway[] = [];

/** A gateway from one of the page's JSON configs, as `portcullis start` would load it, in memory, with its first admin token. */
async function fromPage(json: Record<string, unknown>, extra: Partial<GatewayConfig> = {}): Promise<{ gw: Gateway; admin: { secret: string; id: string }; events: AuditEvent[] }> {
  const file = join(dir, `page-${gateways.length}.json`);
  await writeFile(file, JSON.stringify({ mcpServers: {}, ...json }));
  const config = await loadConfigFile(file);
  const events: AuditEvent[] = [];
  let admin: { secret: string; id: string } | undefined;
  const gw = createGateway({
    ...config,
    logger: quietLogger,
    tokens: { store: memoryStore() },
    audit: [{ name: "audit:test", write: (e) => void events.push(e) }],
    admin: { onBootstrap: (secret, id) => void (admin = { secret, id }) },
    ...extra,
  });
  gateways.push(gw);
  await gw.ready();
  assert.ok(admin, "a first start with no admin hands out an admin token");
  return { gw, admin: admin!, events };
}

/** One request through gateway.fetch; `body` as a string is sent as it is, with only the headers given. */
async function send(gw: Gateway, method: string, path: string, headers: Record<string, string> = {}, body?: string): Promise<{ status: number; body: any; text: string }> {
  const res = await gw.fetch(new Request(BASE + path, { method, headers, body }), { remoteAddress: "127.0.0.1" });
  const text = await res.text();
  let parsed: unknown;
  try {
    parsed = text ? JSON.parse(text.split("\n").filter((l) => l.startsWith("data:")).map((l) => l.slice(5)).pop() ?? text) : undefined;
  } catch {
    parsed = undefined;
  }
  return { status: res.status, body: parsed, text };
}

const initialize = (gw: Gateway, auth: Record<string, string>) =>
  send(gw, "POST", "/mcp", { ...auth, "content-type": "application/json", accept: "application/json, text/event-stream" }, JSON.stringify(INIT));

test.before(async () => {
  dir = await mkdtemp(join(tmpdir(), "portcullis-page-auth-"));
});

test.after(async () => {
  stopAllCli();
  await Promise.all(gateways.map((g) => g.close()));
  await rm(dir, { recursive: true, force: true });
});

test("api-key config: the first-start admin token (pt_) works on the admin API, and still never on /mcp", async () => {
  const { gw, admin } = await fromPage({ auth: { type: "api-key", header: "X-API-Key" } });
  assert.match(admin.secret, /^pt_/);
  const who = await send(gw, "GET", "/v1/auth/whoami", bearerAuth(admin.secret));
  assert.is(who.status, 200, who.text);
  assert.is(who.body.tokenId, admin.id);
  assert.ok(who.body.scopes.includes("admin"));
  assert.is((await send(gw, "GET", "/v1/auth/tokens", bearerAuth(admin.secret))).status, 200);
  const mcp = await initialize(gw, bearerAuth(admin.secret));
  assert.is(mcp.status, 401, "the admin API taking it does not make it an /mcp credential");
  // A gateway token without the admin scope is taken nowhere by this config.
  const plain = await send(gw, "POST", "/v1/auth/tokens", { ...bearerAuth(admin.secret), "content-type": "application/json" }, JSON.stringify({ user: "bob", type: "token" }));
  assert.is(plain.status, 201, plain.text);
  const refused = await send(gw, "GET", "/v1/auth/whoami", bearerAuth(plain.body.token));
  assert.is(refused.status, 401);
  assert.is(refused.body.error.code, "ERR_INVALID_CREDENTIAL");
});

test("api-key config: a create without type makes an API key that /mcp takes", async () => {
  const { gw, admin } = await fromPage({ auth: { type: "api-key", header: "X-API-Key" } });
  const created = await send(gw, "POST", "/v1/auth/tokens", { ...bearerAuth(admin.secret), "content-type": "application/json" }, JSON.stringify({ user: "alice@example.com", scopes: ["mcp:read"] }));
  assert.is(created.status, 201, created.text);
  assert.is(created.body.type, "api-key");
  assert.match(created.body.token, /^pk_/);
  assert.is((await initialize(gw, { "X-API-Key": created.body.token })).status, 200);
  // Where bearer() is configured a create without type still makes a bearer token.
  const both = await fromPage({ auth: { type: "bearer", enabled: true } }, { auth: [bearer(), apiKey()] });
  const tok = await send(both.gw, "POST", "/v1/auth/tokens", { ...bearerAuth(both.admin.secret), "content-type": "application/json" }, JSON.stringify({ user: "carol" }));
  assert.is(tok.status, 201, tok.text);
  assert.match(tok.body.token, /^pt_/);
});

test("oauth config: the first-start admin token works on the admin API; /mcp refuses it", async () => {
  const { gw, admin } = await fromPage({
    auth: { type: "oauth", issuer: "http://127.0.0.1:9/", clientId: "page", clientSecret: "page-client-secret-0123456789abcdef" },
  });
  assert.is((await send(gw, "GET", "/v1/auth/whoami", bearerAuth(admin.secret))).status, 200);
  const created = await send(gw, "POST", "/v1/auth/tokens", { ...bearerAuth(admin.secret), "content-type": "application/json" }, JSON.stringify({ user: "svc", scopes: ["admin"] }));
  assert.is(created.status, 201, created.text);
  assert.is((await send(gw, "GET", "/v1/auth/tokens", bearerAuth(created.body.token))).status, 200, "an admin token it made works there too");
  assert.is((await initialize(gw, bearerAuth(admin.secret))).status, 401);
});

test("revoke and rotate by the token's secret in the path; the secret is in no audit event and no error", async () => {
  const { gw, admin, events } = await fromPage({ auth: { type: "bearer", enabled: true } });
  const auth = bearerAuth(admin.secret);
  const make = async (body: Record<string, unknown>) => {
    const r = await send(gw, "POST", "/v1/auth/tokens", { ...auth, "content-type": "application/json" }, JSON.stringify(body));
    assert.is(r.status, 201, r.text);
    return r.body as { id: string; token: string };
  };
  const secrets: string[] = [admin.secret];

  const t = await make({ user: "leaked" });
  secrets.push(t.token);
  assert.is((await initialize(gw, bearerAuth(t.token))).status, 200);
  const revoked = await send(gw, "DELETE", `/v1/auth/tokens/${t.token}`, auth);
  assert.is(revoked.status, 200, revoked.text);
  assert.is(revoked.body.id, t.id);
  assert.is(revoked.body.state, "revoked");
  const after = await initialize(gw, bearerAuth(t.token));
  assert.is(after.status, 401);
  assert.is(after.body.error.data.code, "ERR_TOKEN_REVOKED");
  const again = await send(gw, "DELETE", `/v1/auth/tokens/${t.token}`, auth);
  assert.is(again.status, 409);

  // curl -X POST .../rotate: no body, no Content-Type.
  const r = await make({ user: "rotated" });
  secrets.push(r.token);
  const rotated = await send(gw, "POST", `/v1/auth/tokens/${r.token}/rotate`, auth);
  assert.is(rotated.status, 201, rotated.text);
  assert.is(rotated.body.rotatedFrom, r.id);
  secrets.push(rotated.body.token);
  assert.is((await initialize(gw, bearerAuth(r.token))).status, 401);
  assert.is((await initialize(gw, bearerAuth(rotated.body.token))).status, 200);
  // An empty JSON body is "no options" too, and a token may rotate itself by its own secret.
  const self = await send(gw, "POST", `/v1/auth/tokens/${rotated.body.token}/rotate`, { ...bearerAuth(rotated.body.token), "content-type": "application/json" }, "");
  assert.is(self.status, 201, self.text);
  secrets.push(self.body.token);

  // An API key by its pk_ secret.
  const key = await make({ user: "keyed", type: "api-key" });
  secrets.push(key.token);
  const gone = await send(gw, "DELETE", `/v1/auth/tokens/${key.token}`, auth);
  assert.is(gone.status, 200, gone.text);
  assert.is(gone.body.id, key.id);

  // Unknown or corrupted secrets are a 404 that does not repeat them; a 405 does not either.
  const never = await make({ user: "never" });
  await send(gw, "DELETE", `/v1/auth/tokens/${never.id}`, auth);
  const corrupted = never.token.slice(0, -1) + (never.token.endsWith("a") ? "b" : "a");
  secrets.push(never.token, corrupted);
  for (const path of [`/v1/auth/tokens/${corrupted}`, `/v1/auth/tokens/${corrupted}/rotate`]) {
    const res = await send(gw, path.endsWith("rotate") ? "POST" : "DELETE", path, auth);
    assert.is(res.status, 404, path);
    assert.is(res.body.error.code, "ERR_NOT_FOUND");
  }
  const wrongMethod = await send(gw, "PUT", `/v1/auth/tokens/${never.token}`, auth);
  assert.is(wrongMethod.status, 405);
  const unauthenticated = await send(gw, "DELETE", `/v1/auth/tokens/${never.token}`);
  assert.is(unauthenticated.status, 401);
  const all = JSON.stringify(events);
  for (const s of secrets) assert.not.ok(all.includes(s), "no secret in any audit event");
  for (const res of [wrongMethod, unauthenticated]) for (const s of secrets) assert.not.ok(res.text.includes(s), "no secret in an error");
  assert.ok(events.some((e) => e.type === "token" && e.action === "revoke" && e.tokenId === t.id), "the revoke is audited under the token id");
  assert.ok(events.some((e) => e.type === "auth" && e.path === "/v1/auth/tokens/pt_[redacted]"), "auth events show the path without the secret");
});

test("GET by a token's secret shows its record without the secret; an unknown secret is a 404 without it", async () => {
  const { gw, admin } = await fromPage({ auth: { type: "bearer", enabled: true } });
  const own = await send(gw, "GET", `/v1/auth/tokens/${admin.secret}`, bearerAuth(admin.secret));
  assert.is(own.status, 200, own.text);
  assert.is(own.body.id, admin.id);
  assert.not.ok(own.text.includes(admin.secret));
  // Well-formed, checksum and all, but never issued by this gateway.
  const other = await fromPage({ auth: { type: "bearer", enabled: true } });
  const foreign = await send(other.gw, "POST", "/v1/auth/tokens", { ...bearerAuth(other.admin.secret), "content-type": "application/json" }, JSON.stringify({ user: "elsewhere" }));
  assert.is(foreign.status, 201);
  for (const method of ["GET", "DELETE"]) {
    const res = await send(gw, method, `/v1/auth/tokens/${foreign.body.token}`, bearerAuth(admin.secret));
    assert.is(res.status, 404, method);
    assert.is(res.body.error.code, "ERR_NOT_FOUND");
    assert.not.ok(res.text.includes(foreign.body.token));
  }
});

test("curl -d without a JSON Content-Type: header credentials may send JSON as any type; a cookie keeps the strict check", async () => {
  // A session cookie strategy (none is built in): a browser attaches it to a cross-site form post by itself.
  const cookie: AuthStrategy = {
    name: "auth:cookie",
    authenticate: (request) =>
      request.headers.get("cookie") === "session=admin"
        ? { identity: { subject: "cookie-admin", issuer: "test", roles: [], scopes: ["admin", "mcp:read", "mcp:write"], strategy: "auth:cookie" } }
        : undefined,
  };
  const { gw, admin } = await fromPage({ auth: { type: "api-key", header: "X-API-Key" } }, { auth: [cookie, apiKey({ header: "X-API-Key" })] });
  const body = JSON.stringify({ user: "alice@example.com", scopes: ["mcp:read"] });
  const viaBearer = await send(gw, "POST", "/v1/auth/tokens", { ...bearerAuth(admin.secret), "content-type": FORM }, body);
  assert.is(viaBearer.status, 201, viaBearer.text);
  const adminKey = await send(gw, "POST", "/v1/auth/tokens", { ...bearerAuth(admin.secret), "content-type": "text/plain" }, JSON.stringify({ user: "ops", type: "api-key", scopes: ["admin", "mcp:read"] }));
  assert.is(adminKey.status, 201, adminKey.text);
  const viaKey = await send(gw, "POST", "/v1/auth/tokens", { "X-API-Key": adminKey.body.token, "content-type": FORM }, body);
  assert.is(viaKey.status, 201, viaKey.text);
  const notJson = await send(gw, "POST", "/v1/auth/tokens", { ...bearerAuth(admin.secret), "content-type": FORM }, "user=alice&scopes=admin");
  assert.is(notJson.status, 400);
  assert.is(notJson.body.error.code, "ERR_BAD_REQUEST");

  const viaCookie = await send(gw, "POST", "/v1/auth/tokens", { cookie: "session=admin", "content-type": FORM }, body);
  assert.is(viaCookie.status, 415);
  assert.is(viaCookie.body.error.code, "ERR_UNSUPPORTED_MEDIA_TYPE");
  const untyped = await send(gw, "POST", "/v1/auth/tokens", { cookie: "session=admin" }, body);
  assert.is(untyped.status, 415, "no Content-Type at all is not JSON either");
  const json = await send(gw, "POST", "/v1/auth/tokens", { cookie: "session=admin", "content-type": "application/json" }, body);
  assert.is(json.status, 201, json.text);
});

test("a user that is an email address is the email: on the record, in lists, and forwarded as X-User-Email", async () => {
  const h = await harness({ auth: bearer(), servers: { web: inProcess({ label: "web", identityVia: "headers", build: () => echoServer("web") }) } });
  gateways.push(h.gateway);
  const alice = await h.token({ user: "alice@example.com" });
  assert.is(alice.email, "alice@example.com");
  const listed = await h.api("GET", "/v1/auth/tokens?user=alice%40example.com");
  assert.is(listed.body.tokens[0].email, "alice@example.com");
  const seen = await h.whoami(bearerAuth(alice.token), "web", { era: "2026-07-28" });
  assert.is(seen.headers["x-user-email"], "alice@example.com");
  // An explicit email wins, and a user name that is no address is no email.
  const both = await h.token({ user: "alice@example.com", email: "a.smith@example.com" });
  assert.is((await h.whoami(bearerAuth(both.token), "web", { era: "2026-07-28" })).headers["x-user-email"], "a.smith@example.com");
  const bob = await h.token({ user: "bob" });
  assert.is(bob.email, undefined);
  assert.not.ok("x-user-email" in (await h.whoami(bearerAuth(bob.token), "web", { era: "2026-07-28" })).headers);
});

test("a credential in the wrong place: 401 saying what it is and where it goes, audited, never echoed", async () => {
  const { gw, admin, events } = await fromPage({ auth: { type: "api-key", header: "X-API-Key" } });
  const key = await send(gw, "POST", "/v1/auth/tokens", { ...bearerAuth(admin.secret), "content-type": "application/json" }, JSON.stringify({ user: "svc" }));
  assert.is(key.status, 201);
  const asBearer = await initialize(gw, bearerAuth(key.body.token));
  assert.is(asBearer.status, 401);
  assert.is(asBearer.body.error.data.code, "ERR_AUTH_REQUIRED");
  assert.match(asBearer.body.error.message, "this is an API key; send it in the X-API-Key header");
  const inKeyHeader = await initialize(gw, { "X-API-Key": admin.secret });
  assert.is(inKeyHeader.status, 401);
  assert.is(inKeyHeader.body.error.data.code, "ERR_INVALID_CREDENTIAL");
  assert.match(inKeyHeader.body.error.message, "this is a bearer token; send it as Authorization: Bearer");
  // The same on the admin API.
  const api = await send(gw, "GET", "/v1/auth/whoami", bearerAuth(key.body.token));
  assert.is(api.status, 401);
  assert.match(api.body.error.message, "this is an API key; send it in the X-API-Key header");
  for (const res of [asBearer, inKeyHeader, api]) for (const s of [key.body.token, admin.secret]) assert.not.ok(res.text.includes(s));
  const failures = events.filter((e) => e.type === "auth" && e.outcome === "failure");
  assert.ok(failures.some((e) => e.type === "auth" && e.reason?.includes("this is an API key") && e.code === "ERR_AUTH_REQUIRED"));
  assert.ok(failures.some((e) => e.type === "auth" && e.reason?.includes("this is a bearer token") && e.strategy === "auth:api-key"));
  assert.not.ok(JSON.stringify(events).includes(key.body.token));

  // The configured header name is the one named; a garbage secret is still just malformed.
  const team = await fromPage({ auth: { type: "api-key", header: "X-Team-Key" } });
  const teamKey = await send(team.gw, "POST", "/v1/auth/tokens", { ...bearerAuth(team.admin.secret), "content-type": "application/json" }, JSON.stringify({ user: "svc" }));
  assert.match((await initialize(team.gw, bearerAuth(teamKey.body.token))).body.error.message, "send it in the X-Team-Key header");
  const garbage = await initialize(team.gw, { "X-Team-Key": "pt_garbage" });
  assert.is(garbage.body.error.data.code, "ERR_INVALID_CREDENTIAL");
  assert.not.match(garbage.body.error.message, "bearer token");

  // bearer() alone: a pt_ token sent as X-API-Key is told where it goes.
  const bearerOnly = await fromPage({ auth: { type: "bearer", enabled: true } });
  const misplaced = await initialize(bearerOnly.gw, { "X-API-Key": bearerOnly.admin.secret });
  assert.is(misplaced.status, 401);
  assert.match(misplaced.body.error.message, "this is a bearer token; send it as Authorization: Bearer");
});

test("createGateway prints no secret: the first admin token goes to admin.onBootstrap, or is not made", async () => {
  const printed: string[] = [];
  const original = console.error;
  const originalWrite = process.stderr.write;
  console.error = (...args: unknown[]) => void printed.push(args.map(String).join(" "));
  process.stderr.write = ((chunk: unknown) => (printed.push(String(chunk)), true)) as typeof process.stderr.write;
  let received: { secret: string; id: string } | undefined;
  try {
    const store = memoryStore();
    const silent = createGateway({ logger: quietLogger, tokens: { store }, auth: bearer(), servers: {} });
    await silent.ready();
    assert.not.ok(await silent.tokens.hasActiveAdmin(), "without a receiver no admin token is made");
    await silent.close();

    const gw = createGateway({ logger: quietLogger, tokens: { store: memoryStore() }, auth: bearer(), servers: {}, admin: { onBootstrap: (secret, id) => void (received = { secret, id }) } });
    gateways.push(gw);
    await gw.ready();
    assert.ok(received);
    assert.match(received!.secret, /^pt_/);
    const who = await gw.fetch(new Request(`${BASE}/v1/auth/whoami`, { headers: bearerAuth(received!.secret) }));
    assert.is(who.status, 200);
    assert.is((await who.json()).tokenId, received!.id);

    // A receiver that fails: the start fails and the unreceived token is revoked.
    const failing = memoryStore();
    const broken = createGateway({ logger: quietLogger, tokens: { store: failing }, auth: bearer(), servers: {}, admin: { onBootstrap: () => { throw new Error("keychain locked"); } } });
    let failed = false;
    await broken.ready().catch(() => (failed = true));
    assert.ok(failed, "the start fails");
    assert.not.ok(await broken.tokens.hasActiveAdmin());
    await broken.close();
  } finally {
    console.error = original;
    process.stderr.write = originalWrite;
  }
  assert.not.ok(printed.join("\n").includes(received!.secret), "nothing printed the secret");
  assert.not.ok(printed.some((p) => p.includes("pt_")), `nothing printed a token: ${printed.join("\n")}`);
  // The option is validated like every other.
  assert.throws(() => createGateway({ logger: quietLogger, servers: {}, admin: { onBootstrap: "print" as never } }), /admin\.onBootstrap/);
});

// --- the CLI, as the page runs it: first start prints the admin token once --------------------------

test("portcullis start with the page's api-key config: the printed admin token creates an API key with curl -d, which reaches /mcp", async () => {
  const config = join(dir, "api-key.json");
  await writeFile(config, JSON.stringify({ auth: { type: "api-key", header: "X-API-Key" }, mcpServers: {}, logLevel: "warn" }));
  const data = join(dir, "cli-data");
  const first = await startCli(config, data);
  let admin: string;
  try {
    const m = /\n\[portcullis\] No admin was configured, so an admin token was created \(id (tok_\w+)\)\.\n\[portcullis\] It is shown only this once; only its hash is stored:\n\n {4}(pt_\w+)\n/.exec(first.stderr());
    assert.ok(m, `the first start prints the admin token once, as before:\n${first.stderr()}`);
    admin = m![2]!;
    // curl -X POST $URL/v1/auth/tokens -H "Authorization: Bearer $ADMIN" -d '{"user":"alice@example.com","scopes":["mcp:read"]}'
    const created = await fetch(`${first.url}/v1/auth/tokens`, {
      method: "POST",
      headers: { authorization: `Bearer ${admin}`, "content-type": FORM },
      body: JSON.stringify({ user: "alice@example.com", scopes: ["mcp:read"] }),
    });
    const body = await created.json() as { token: string; id: string; email?: string };
    assert.is(created.status, 201, JSON.stringify(body));
    assert.match(body.token, /^pk_/);
    assert.is(body.email, "alice@example.com");
    const mcp = await fetch(`${first.url}/mcp`, {
      method: "POST",
      headers: { "x-api-key": body.token, "content-type": "application/json", accept: "application/json, text/event-stream" },
      body: JSON.stringify(INIT),
    });
    assert.is(mcp.status, 200);
    await mcp.body?.cancel();
    // curl -X DELETE $URL/v1/auth/tokens/pk_... -H "Authorization: Bearer $ADMIN"
    const revoked = await fetch(`${first.url}/v1/auth/tokens/${body.token}`, { method: "DELETE", headers: { authorization: `Bearer ${admin}` } });
    assert.is(revoked.status, 200);
    assert.is(((await revoked.json()) as { id: string }).id, body.id);
    // curl -X POST $URL/v1/auth/tokens/pt_.../rotate -H "Authorization: Bearer $ADMIN"
    const rotated = await fetch(`${first.url}/v1/auth/tokens/${admin}/rotate`, { method: "POST", headers: { authorization: `Bearer ${admin}` } });
    assert.is(rotated.status, 201, await rotated.clone().text());
    admin = ((await rotated.json()) as { token: string }).token;
    assert.is((await fetch(`${first.url}/v1/auth/whoami`, { headers: { authorization: `Bearer ${admin}` } })).status, 200);
  } finally {
    await first.stop();
  }
  assert.is(first.stderr().split("shown only this once").length, 2, "printed exactly once");
  assert.not.ok(first.stderr().includes(admin), "the rotated secret is never printed");
  // The next start has an admin: nothing is printed.
  const second = await startCli(config, data);
  await second.stop();
  assert.not.match(second.stderr(), /pt_/);
});

test.run();
