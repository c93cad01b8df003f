// One fast suite per built-in plugin kind, hono-style: a gateway driven through gateway.fetch (no
// sockets) in front of in-process upstreams (examples/custom-upstream.ts) that echo what they received.
// Auth (bearer, apiKey), identity (identityHeaders, jwtAssertion), stores (memory, file), secrets (env)
// and audit (jsonl). The end-to-end suites cover the same plugins over real sockets and processes.
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createLocalJWKSet, jwtVerify, type JSONWebKeySet } from "jose";
import type { TokenStore } from "../../core/mod.ts";
import { apiKey, bearer, envSecrets, fileStore, identityHeaders, jsonlAudit, jwtAssertion, memoryStore } from "../../plugins/mod.ts";
import { memoryAudit } from "../../examples/custom-audit-sink.ts";
import { inProcess } from "../../examples/custom-upstream.ts";
import { bearerAuth, echoServer, harness, lookingStrategy, type Harness } from "../fixtures/in-process.ts";

const echo = (name: string, via: "headers" | "meta" = "meta") => inProcess({ label: name, identityVia: via, build: () => echoServer(name) });

function setEnv(name: string, value: string): void {
  const deno = (globalThis as { Deno?: { env: { set(n: string, v: string): void } } }).Deno;
  if (deno) deno.env.set(name, value);
  else (globalThis as { process?: { env: Record<string, string> } }).process!.env[name] = value;
}

async function sha256Hex(text: string): Promise<string> {
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text)));
  return Array.from(digest, (b) => b.toString(16).padStart(2, "0")).join("");
}

// --- bearer() ---------------------------------------------------------------------------------------
{
  const test = suite("in-process: bearer()");
  const store = memoryStore();
  let h: Harness;

  test.before(async () => {
    h = await harness({ auth: bearer({ realm: "in-process" }), tokens: { store }, servers: { echo: echo("echo") } });
  });
  test.after(() => h.gateway.close());

  test("a valid token opens a session and calls through, in both eras", async () => {
    const t = await h.token({ user: "val" });
    const session = await h.open(bearerAuth(t.token));
    assert.is(await h.call(bearerAuth(t.token), "echo__shout", { message: "ok" }, { session }), "echo: OK");
    assert.is(await h.call(bearerAuth(t.token), "echo__shout", { message: "ok" }, { era: "2026-07-28" }), "echo: OK");
  });

  test("a revoked token is refused at once with ERR_TOKEN_REVOKED, its session too", async () => {
    const t = await h.token({ user: "rev" });
    const session = await h.open(bearerAuth(t.token));
    assert.is((await h.api("DELETE", `/v1/auth/tokens/${t.id}`)).status, 200);
    for (const options of [{ session }, { era: "2026-07-28" as const }]) {
      const r = await h.rpc(bearerAuth(t.token), { id: 5, method: "tools/list" }, options);
      assert.is(r.status, 401);
      assert.is(r.body.error.data.code, "ERR_TOKEN_REVOKED");
    }
  });

  test("an expired token is refused with ERR_TOKEN_EXPIRED", async () => {
    const t = await h.token({ user: "exp" });
    // The store is the source of truth: a record whose expiry has passed, without sleeping past a real one.
    const record = (await (store as TokenStore).get(t.id))!;
    await store.put({ ...record, expiresAt: new Date(Date.now() - 1000).toISOString() });
    const r = await h.rpc(bearerAuth(t.token), { id: 1, method: "tools/list" }, { era: "2026-07-28" });
    assert.is(r.status, 401);
    assert.is(r.body.error.data.code, "ERR_TOKEN_EXPIRED");
  });

  test("a credential without the pt_ prefix is not bearer's: no strategy takes it (ERR_AUTH_REQUIRED, with the challenge)", async () => {
    const key = await h.token({ user: "key", type: "api-key" });
    assert.ok(key.token.startsWith("pk_"));
    for (const secret of [key.token, "ghp_0123456789abcdef", "not-a-token"]) {
      const r = await h.rpc(bearerAuth(secret), { id: 1, method: "tools/list" }, { era: "2026-07-28" });
      assert.is(r.status, 401);
      assert.is(r.body.error.data.code, "ERR_AUTH_REQUIRED");
      assert.match(r.headers.get("www-authenticate") ?? "", 'Bearer realm="in-process"');
    }
    const t = await h.token({ user: "flip" });
    const flipped = t.token.slice(0, -1) + (t.token.endsWith("a") ? "b" : "a");
    const r = await h.rpc(bearerAuth(flipped), { id: 1, method: "tools/list" }, { era: "2026-07-28" });
    assert.is(r.status, 401);
    assert.is(r.body.error.data.code, "ERR_INVALID_CREDENTIAL");
  });

  test.run();
}

// --- apiKey() ---------------------------------------------------------------------------------------
{
  const test = suite("in-process: apiKey()");
  let h: Harness;

  test.before(async () => {
    h = await harness({ auth: apiKey({ header: "X-Team-Key" }), servers: { echo: echo("echo") } });
  });
  test.after(() => h.gateway.close());

  test("an API key in the configured header is accepted; the default header and Authorization are not read", async () => {
    const key = await h.token({ user: "svc", type: "api-key" });
    assert.is(await h.call({ "x-team-key": key.token }, "echo__shout", { message: "key" }, { era: "2026-07-28" }), "echo: KEY");
    const session = await h.open({ "x-team-key": key.token });
    assert.is(await h.call({ "x-team-key": key.token }, "echo__shout", { message: "key" }, { session }), "echo: KEY");
    for (const auth of [{ "x-api-key": key.token }, bearerAuth(key.token)]) {
      const r = await h.rpc(auth, { id: 1, method: "tools/list" }, { era: "2026-07-28" });
      assert.is(r.status, 401);
      assert.is(r.body.error.data.code, "ERR_AUTH_REQUIRED");
      assert.match(r.headers.get("www-authenticate") ?? "", 'ApiKey header="X-Team-Key"');
    }
  });

  test("a bearer token in the key header is refused (ERR_INVALID_CREDENTIAL); a revoked key gets ERR_TOKEN_REVOKED", async () => {
    const t = await h.token({ user: "tok", type: "token" });
    const wrongType = await h.rpc({ "x-team-key": t.token }, { id: 1, method: "tools/list" }, { era: "2026-07-28" });
    assert.is(wrongType.status, 401);
    assert.is(wrongType.body.error.data.code, "ERR_INVALID_CREDENTIAL");
    const key = await h.token({ user: "gone", type: "api-key" });
    assert.is((await h.api("DELETE", `/v1/auth/tokens/${key.id}`)).status, 200);
    const revoked = await h.rpc({ "x-team-key": key.token }, { id: 1, method: "tools/list" }, { era: "2026-07-28" });
    assert.is(revoked.body.error.data.code, "ERR_TOKEN_REVOKED");
  });

  test.run();
}

// --- identityHeaders() ------------------------------------------------------------------------------
{
  const test = suite("in-process: identityHeaders()");
  const looking = lookingStrategy(["x-user-email", "x-user-roles", "x-user-name"]);
  let h: Harness;
  let t: { id: string; token: string };

  test.before(async () => {
    h = await harness({
      auth: [looking, bearer()],
      identity: [identityHeaders()],
      servers: { web: echo("web", "headers"), local: echo("local", "meta") },
    });
    t = await h.token({ user: "dana", email: "dana@example.com", team: "data", org: "acme", roles: ["viewer,admin", "dev"] });
  });
  test.after(() => h.gateway.close());

  test("a headers upstream receives X-User-* from the identity; a role's comma is encoded as %2C", async () => {
    const seen = await h.whoami(bearerAuth(t.token), "web", { era: "2026-07-28" });
    assert.is(seen.headers["x-user-email"], "dana@example.com");
    assert.is(seen.headers["x-user-team"], "data");
    assert.is(seen.headers["x-organization-id"], "acme");
    assert.is(seen.headers["x-user-roles"], "viewer%2Cadmin,dev");
    assert.equal(seen.headers["x-user-roles"]!.split(",").map(decodeURIComponent), ["viewer,admin", "dev"]);
    assert.not.ok("x-user-name" in seen.headers, "a field the identity lacks is not sent");
  });

  test("forged X-User-* from a client are stripped before any strategy reads them, and never reach an upstream", async () => {
    looking.seen.length = 0;
    const forged = { "X-User-Email": "ceo@example.com", "X-User-Roles": "admin", "X-User-Name": "The CEO" };
    const session = await h.open(bearerAuth(t.token));
    const seen = await h.whoami(bearerAuth(t.token), "web", { session, headers: forged });
    assert.is(seen.headers["x-user-email"], "dana@example.com");
    assert.is(seen.headers["x-user-roles"], "viewer%2Cadmin,dev");
    assert.not.ok("x-user-name" in seen.headers);
    assert.ok(looking.seen.length > 0);
    for (const s of looking.seen) assert.equal(s, { "x-user-email": null, "x-user-roles": null, "x-user-name": null });
  });

  test("a meta upstream receives the same identity under _meta, roles as an array; a forged io.portcullis/identity is replaced", async () => {
    const seen = await h.whoami(bearerAuth(t.token), "local", { era: "2026-07-28", meta: { "io.portcullis/identity": { email: "ceo@example.com" } } });
    assert.equal(seen.meta["io.portcullis/identity"], { email: "dana@example.com", team: "data", roles: ["viewer,admin", "dev"], org: "acme" });
    assert.equal(seen.headers, {});
  });

  test.run();
}

// --- jwtAssertion() ---------------------------------------------------------------------------------
{
  const test = suite("in-process: jwtAssertion()");
  let h: Harness;
  let t: { id: string; token: string };

  async function jwks(): Promise<ReturnType<typeof createLocalJWKSet>> {
    const r = await h.api("GET", "/.well-known/jwks.json", undefined, {});
    assert.is(r.status, 200);
    return createLocalJWKSet(r.body as JSONWebKeySet);
  }

  test.before(async () => {
    h = await harness({
      auth: bearer(),
      identity: [jwtAssertion({ expiresInSeconds: 120 })],
      servers: { web: echo("web", "headers"), local: echo("local", "meta") },
    });
    t = await h.token({ user: "erin", email: "erin@example.com", roles: ["dev"] });
  });
  test.after(() => h.gateway.close());

  test("a headers upstream gets X-Portcullis-Assertion, which verifies against /.well-known/jwks.json; a client's forged one is replaced", async () => {
    const seen = await h.whoami(bearerAuth(t.token), "web", { era: "2026-07-28", headers: { "X-Portcullis-Assertion": "forged.jwt.value" } });
    const jwt = seen.headers["x-portcullis-assertion"]!;
    assert.is.not(jwt, "forged.jwt.value");
    const { payload, protectedHeader } = await jwtVerify(jwt, await jwks(), { issuer: "portcullis", audience: "web" });
    assert.is(protectedHeader.alg, "ES256");
    assert.is(payload.sub, "erin");
    assert.is(payload.email, "erin@example.com");
    assert.equal(payload.roles, ["dev"]);
    assert.ok(payload.exp! - payload.iat! === 120);
  });

  test("a meta upstream gets the assertion under _meta; it is bound to its server's audience", async () => {
    const seen = await h.whoami(bearerAuth(t.token), "local", { era: "2026-07-28" });
    const jwt = seen.meta["io.portcullis/assertion"] as string;
    const { payload } = await jwtVerify(jwt, await jwks(), { issuer: "portcullis", audience: "local" });
    assert.is(payload.sub, "erin");
    const elsewhere = await jwtVerify(jwt, await jwks(), { issuer: "portcullis", audience: "web" }).then(() => undefined, (e: { code?: string }) => e.code);
    assert.is(elsewhere, "ERR_JWT_CLAIM_VALIDATION_FAILED", "an assertion for one server is no good at another");
  });

  test.run();
}

// --- memoryStore() ----------------------------------------------------------------------------------
{
  const test = suite("in-process: memoryStore()");
  const store = memoryStore();
  let h: Harness;

  test.before(async () => {
    h = await harness({ auth: bearer(), tokens: { store }, servers: { echo: echo("echo") } });
  });
  test.after(() => h.gateway.close());

  test("tokens created through the API live in the store by hash only, and work at once", async () => {
    const t = await h.token({ user: "mem", name: "laptop" });
    const record = await store.get(t.id);
    assert.ok(record);
    assert.is(record!.user, "mem");
    assert.is.not(record!.hash, t.token);
    assert.not.ok(JSON.stringify(await store.list()).includes(t.token), "the secret itself is never stored");
    assert.is(await h.call(bearerAuth(t.token), "echo__shout", { message: "mem" }, { era: "2026-07-28" }), "echo: MEM");
    const listed = await h.api("GET", "/v1/auth/tokens");
    assert.ok((listed.body.tokens as Array<{ id: string }>).some((x) => x.id === t.id));
    assert.not.ok(JSON.stringify(listed.body).includes(t.token));
  });

  test("another gateway with its own memory store does not know the token", async () => {
    const t = await h.token({ user: "mem2" });
    const other = await harness({ auth: bearer(), servers: { echo: echo("echo") } });
    try {
      const r = await other.rpc(bearerAuth(t.token), { id: 1, method: "tools/list" }, { era: "2026-07-28" });
      assert.is(r.status, 401);
      assert.is(r.body.error.data.code, "ERR_INVALID_CREDENTIAL");
    } finally {
      await other.gateway.close();
    }
  });

  test.run();
}

// --- fileStore() ------------------------------------------------------------------------------------
{
  const test = suite("in-process: fileStore()");
  let dir: string;

  test.before(async () => {
    dir = await mkdtemp(join(tmpdir(), "portcullis-in-process-"));
  });
  test.after(() => rm(dir, { recursive: true, force: true }));

  test("a token created on one gateway works on a new gateway over the same directory; a revocation does too", async () => {
    const first = await harness({ auth: bearer(), tokens: { store: fileStore({ dir }) }, servers: { echo: echo("echo") } });
    const kept = await first.token({ user: "kept" });
    const revoked = await first.token({ user: "revoked" });
    assert.is((await first.api("DELETE", `/v1/auth/tokens/${revoked.id}`)).status, 200);
    await first.gateway.close();
    const raw = await readFile(join(dir, "tokens.log"), "utf8");
    assert.not.ok(raw.includes(kept.token) || raw.includes(revoked.token), "only hashes reach the disk");

    const second = await harness({ auth: bearer(), tokens: { store: fileStore({ dir }) }, servers: { echo: echo("echo") } });
    try {
      assert.is(await second.call(bearerAuth(kept.token), "echo__shout", { message: "again" }, { era: "2026-07-28" }), "echo: AGAIN");
      const r = await second.rpc(bearerAuth(revoked.token), { id: 1, method: "tools/list" }, { era: "2026-07-28" });
      assert.is(r.status, 401);
      assert.is(r.body.error.data.code, "ERR_TOKEN_REVOKED");
    } finally {
      await second.gateway.close();
    }
  });

  test.run();
}

// --- envSecrets() -----------------------------------------------------------------------------------
{
  const test = suite("in-process: envSecrets()");
  const VALUE = "in-process-secret-value-0123456789";
  const audit = memoryAudit();
  let h: Harness;
  let t: { id: string; token: string };

  test.before(async () => {
    setEnv("PC_IN_PROCESS_TOKEN", VALUE);
    h = await harness({
      auth: bearer(),
      secrets: [envSecrets({ prefix: "PC_IN_PROCESS_" })],
      audit: [audit],
      servers: {
        vaulted: inProcess({ label: "vaulted", secrets: ["TOKEN"], build: async (ctx) => echoServer("vaulted", await ctx.secret("TOKEN")) }),
        lacking: inProcess({ label: "lacking", secrets: ["ABSENT"], build: async (ctx) => echoServer("lacking", await ctx.secret("ABSENT")) }),
      },
    });
    t = await h.token({ user: "sec" });
  });
  test.after(() => h.gateway.close());

  test("secret(NAME) in an in-process upstream resolves from the prefixed variable; the value is redacted on the way back", async () => {
    const answer = JSON.parse(await h.call(bearerAuth(t.token), "vaulted__secret", {}, { era: "2026-07-28" })) as { value: string; sha256: string };
    assert.is(answer.sha256, await sha256Hex(VALUE), "the server was built with the environment's value");
    assert.is(answer.value, "[REDACTED:TOKEN]");
    await audit.waitFor((e) => e.type === "credential" && e.action === "use" && e.name === "TOKEN" && e.server === "vaulted" && e.outcome === "ok");
    assert.not.ok(JSON.stringify(audit.events()).includes(VALUE));
  });

  test("a secret no source has keeps its server down (audited as missing); the others are served", async () => {
    const list = await h.rpc(bearerAuth(t.token), { id: 1, method: "tools/list" }, { era: "2026-07-28" });
    const names = (list.body.result.tools as Array<{ name: string }>).map((x) => x.name);
    assert.ok(names.includes("vaulted__secret"));
    assert.not.ok(names.some((n) => n.startsWith("lacking__")));
    await audit.waitFor((e) => e.type === "credential" && e.name === "ABSENT" && e.server === "lacking" && e.outcome === "missing");
  });

  test.run();
}

// --- jsonlAudit() -----------------------------------------------------------------------------------
{
  const test = suite("in-process: jsonlAudit()");
  let dir: string;

  test.before(async () => {
    dir = await mkdtemp(join(tmpdir(), "portcullis-in-process-audit-"));
  });
  test.after(() => rm(dir, { recursive: true, force: true }));

  test("token, auth and tool-call events land in the file, one JSON object a line, without secrets", async () => {
    const path = join(dir, "nested", "audit.jsonl");
    const h = await harness({ auth: bearer(), audit: [jsonlAudit({ path, flushMs: 10 })], servers: { echo: echo("echo") } });
    const t = await h.token({ user: "aud" });
    await h.call(bearerAuth(t.token), "echo__shout", { message: "logged" }, { era: "2026-07-28" });
    await h.rpc(bearerAuth("pt_wrong"), { id: 1, method: "tools/list" }, { era: "2026-07-28" });
    // Closing flushes what is buffered.
    await h.gateway.close();
    const text = await readFile(path, "utf8");
    const events = text.trim().split("\n").map((l) => JSON.parse(l) as Record<string, unknown>);
    const has = (match: Record<string, unknown>) => events.some((e) => Object.entries(match).every(([k, v]) => e[k] === v));
    assert.ok(has({ type: "token", action: "create", tokenId: t.id }), text);
    assert.ok(has({ type: "auth", outcome: "success", strategy: "auth:bearer", tokenId: t.id }), text);
    assert.ok(has({ type: "auth", outcome: "failure" }), text);
    assert.ok(has({ type: "tool_call", server: "echo", tool: "shout", subject: "aud", outcome: "ok" }), text);
    assert.ok(events.every((e) => typeof e.time === "string"));
    assert.not.ok(text.includes(t.token));
  });

  test.run();
}
