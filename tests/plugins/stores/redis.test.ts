// The Redis store with a real redis-server (Debian's package, started here on a free port with the
// append-only file on): three gateway instances on one Redis behave as one (tokens, revocations within a
// second, signing keys, OAuth refresh families), concurrent creates all land, and Redis going away fails
// closed and loses no acknowledged write.
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { decodeProtectedHeader } from "jose";
import { createClient } from "redis";
import { createGateway, type Gateway, hashSecret, isGatewayError } from "../../../core/mod.ts";
import { createGrants } from "../../../plugins/auth/oauth-server/grants.ts";
import { bearer, redisStore } from "../../../plugins/mod.ts";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import process from "node:process";
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { asTokenStore } from "../../../core/tokens/derive-store.ts";
import { createSigningKeys } from "../../../core/tokens/signing-keys.ts";
import { makeCerts } from "../../fixtures/certs.ts";
import { cliCommand, freePort, startCli, stopAllCli } from "../../fixtures/cli-process.ts";
import { quietLogger, waitFor } from "../../fixtures/helpers.ts";
import { type RedisServer, redisMissing, startRedis, stopAllRedis } from "../../fixtures/redis-server.ts";

const test = suite("redis store");
const ADMIN = "admin-token-for-redis-store-tests-0123456789";
const MASTER = btoa(String.fromCharCode(...crypto.getRandomValues(new Uint8Array(32))));
let redis: RedisServer;
let n = 0;
const open: Gateway[] = [];

/** Three (or `count`) gateways on one Redis prefix, as three instances behind a load balancer. */
function cluster(count = 3, extra: { prefix?: string; keys?: { rotateEvery?: string; retain?: string } } = {}): Gateway[] {
  const prefix = extra.prefix ?? `t${n++}:`;
  return Array.from({ length: count }, () => {
    const gw = createGateway({
      logger: quietLogger,
      auth: [bearer()],
      admin: { token: ADMIN, bootstrap: false },
      tokens: { store: redisStore({ url: redis.url, prefix }) },
      keys: { masterKey: MASTER, ...extra.keys },
      audit: false,
      servers: {},
    });
    open.push(gw);
    return gw;
  });
}

async function call(gw: Gateway, method: string, path: string, token: string, body?: unknown): Promise<{ status: number; body: any }> {
  const res = await gw.fetch(new Request(`http://127.0.0.1:8787${path}`, {
    method,
    headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { "content-type": "application/json" }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  }));
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : {} };
}

/** Every key and value under `prefix`, as text. */
async function dump(prefix: string): Promise<string> {
  const c = createClient({ url: redis.url });
  c.on("error", () => undefined);
  await c.connect();
  try {
    let out = "";
    for (const key of await c.keys(`${prefix}*`)) {
      const type = await c.type(key);
      out += `${key}\n${type === "hash" ? JSON.stringify(await c.hGetAll(key)) : String(await c.get(key))}\n`;
    }
    return out;
  } finally {
    await c.close();
  }
}

test.before(async () => {
  if (redisMissing) return;
  redis = await startRedis();
});

const ROOT = new URL("../../..", import.meta.url).pathname.replace(/\/$/, "");

test.after(async () => {
  stopAllCli();
  await Promise.all(open.map((g) => g.close().catch(() => undefined)));
  await redis?.close();
  stopAllRedis();
});

if (redisMissing) {
  test(`skipped: ${redisMissing}`, () => {
    console.warn(`redis store tests skipped: ${redisMissing}`);
  });
} else {
  test("options are checked at config time; Redis down at start is a clear error naming the URL without its password", async () => {
    assert.throws(() => redisStore({ url: "http://127.0.0.1:6379" }), /redisStore\.url: expected a redis:\/\/ or rediss:\/\/ URL/);
    assert.throws(() => redisStore({ url: "not a url" }), /redisStore\.url/);
    assert.throws(() => redisStore({ url: redis.url, prefix: 5 as unknown as string }), /redisStore\.prefix/);
    const port = await freePort();
    const store = redisStore({ url: `redis://gw:hunter2-secret@127.0.0.1:${port}/0`, connectTimeoutMs: 1500 });
    const err = await store.open!().then(() => undefined, (e: unknown) => e);
    assert.ok(isGatewayError(err), String(err));
    assert.is((err as { code: string }).code, "ERR_CONFIG");
    assert.match((err as Error).message, `cannot reach Redis at redis://127.0.0.1:${port}/0`);
    assert.not.match((err as Error).message, "hunter2");
    await store.close();

    // A Redis that would lose acknowledged writes on a restart is refused unless asked for.
    const volatile = await startRedis({ aof: false });
    try {
      const strict = redisStore({ url: volatile.url });
      const refused = await strict.open!().then(() => undefined, (e: unknown) => e as Error);
      assert.match(String(refused?.message), "appendonly yes");
      await strict.close();
      const lax = redisStore({ url: volatile.url, requireAof: false });
      await lax.open!();
      await lax.put("ns", "k", { ok: true });
      assert.equal(await lax.get("ns", "k"), { ok: true });
      await lax.close();
    } finally {
      await volatile.close();
    }
  });

  test("TLS to Redis: rediss:// with the server's CA works; a certificate it cannot verify is refused at start", async () => {
    const certs = await makeCerts();
    const secure = await startRedis({ tls: { cert: certs.files.cert, key: certs.files.key, ca: certs.files.ca } });
    try {
      assert.match(secure.url, /^rediss:/);
      const store = redisStore({ url: secure.url, tls: { ca: certs.ca.cert } });
      await store.put("tls", "k", { over: "tls" });
      assert.equal(await store.get("tls", "k"), { over: "tls" });
      await store.close();
      const untrusting = redisStore({ url: secure.url, connectTimeoutMs: 2000 });
      const err = await untrusting.open!().then(() => undefined, (e: unknown) => e as Error);
      assert.ok(isGatewayError(err), String(err));
      assert.match(err!.message, `Redis at ${secure.url}`);
      await untrusting.close();
    } finally {
      await secure.close();
      await rm(certs.dir, { recursive: true, force: true });
    }
  });

  test("instances starting together on an empty store make one first admin between them, not one each", async () => {
    const prefix = `boot${n++}:`;
    const received: string[] = [];
    const gws = Array.from({ length: 3 }, () => createGateway({
      logger: quietLogger,
      auth: [bearer()],
      admin: { onBootstrap: (secret) => void received.push(secret) },
      tokens: { store: redisStore({ url: redis.url, prefix }) },
      keys: { masterKey: MASTER },
      audit: false,
      servers: {},
    }));
    open.push(...gws);
    await Promise.all(gws.map((g) => g.ready()));
    assert.is(received.length, 1, `first admin tokens made: ${received.length}`);
    for (const g of gws) assert.is((await call(g, "GET", "/v1/auth/tokens", received[0]!)).status, 200);
  });

  test("a shared store without a master key refuses to start, saying what to set", async () => {
    const gw = createGateway({ logger: quietLogger, auth: [bearer()], admin: { token: ADMIN, bootstrap: false }, tokens: { store: redisStore({ url: redis.url, prefix: `nokey${n++}:` }) }, audit: false, servers: {} });
    open.push(gw);
    const saved = process.env.PORTCULLIS_MASTER_KEY;
    delete process.env.PORTCULLIS_MASTER_KEY;
    try {
      const err = await gw.ready().then(() => undefined, (e: unknown) => e as Error);
      assert.ok(isGatewayError(err), String(err));
      assert.match(err!.message, "PORTCULLIS_MASTER_KEY");
      const res = await call(gw, "GET", "/v1/auth/tokens", ADMIN);
      assert.is.not(res.status, 200, "a gateway that failed to start answers nothing as authorised");
    } finally {
      if (saved !== undefined) process.env.PORTCULLIS_MASTER_KEY = saved;
    }
  });

  test("three real CLI processes on examples/redis-cluster.config.ts behave as one", async () => {
    const dir = await mkdtemp(join(ROOT, "tests", ".tmp-redis-"));
    const data = await mkdtemp(join(tmpdir(), "portcullis-redis-cli-"));
    const saved = process.env.REDIS_URL;
    process.env.REDIS_URL = `${redis.url}/1`;
    try {
      const config = join(dir, "gateway.config.ts");
      // The example as it is, plus what a test cannot take from PORTCULLIS_* variables (the CLI fixture drops them).
      await writeFile(config, [
        `import example from "../../examples/redis-cluster.config.ts";`,
        `export default { ...example, admin: { token: ${JSON.stringify(ADMIN)}, bootstrap: false }, keys: { ...example.keys, masterKey: ${JSON.stringify(MASTER)} }, logLevel: "warn" };`,
      ].join("\n"));
      const gws = await Promise.all([0, 1, 2].map((i) => startCli(config, join(data, `d${i}`))));
      try {
      const api = async (i: number, method: string, path: string, token: string, body?: unknown) => {
        const res = await fetch(`${gws[i]!.url}${path}`, { method, headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { "content-type": "application/json" }) }, body: body === undefined ? undefined : JSON.stringify(body) });
        return { status: res.status, body: await res.json() as any };
      };
      const made = await api(0, "POST", "/v1/auth/tokens", ADMIN, { user: "dana" });
      assert.is(made.status, 201, JSON.stringify(made.body));
      for (const i of [1, 2]) assert.is((await api(i, "GET", "/v1/auth/whoami", made.body.token)).body.subject, "dana");
      const jwks = await Promise.all(gws.map(async (g) => await (await fetch(`${g.url}/.well-known/jwks.json`)).text()));
      assert.is(jwks[1], jwks[0]);
      assert.is(jwks[2], jwks[0]);
      const t0 = Date.now();
      assert.is((await api(1, "DELETE", `/v1/auth/tokens/${made.body.id}`, ADMIN)).status, 200);
      await waitFor(async () => (await api(0, "GET", "/v1/auth/whoami", made.body.token)).status === 401 && (await api(2, "GET", "/v1/auth/whoami", made.body.token)).status === 401, 1000);
      assert.ok(Date.now() - t0 < 1000);
      } catch (err) {
        // What the instances said is what tells a slow machine from a broken one.
        throw new Error(`${err instanceof Error ? err.message : String(err)}\n${gws.map((g, i) => `--- instance ${i}:\n${g.stderr().slice(-1500)}`).join("\n")}`);
      } finally {
        await Promise.all(gws.map((g) => g.stop()));
      }
    } finally {
      if (saved === undefined) delete process.env.REDIS_URL;
      else process.env.REDIS_URL = saved;
      await rm(dir, { recursive: true, force: true });
      await rm(data, { recursive: true, force: true });
    }
  });

  test("the CLI puts a config without a store on Redis with PORTCULLIS_REDIS_URL", async () => {
    const dir = await mkdtemp(join(tmpdir(), "portcullis-redis-env-"));
    try {
      const config = join(dir, "gateway.json");
      await writeFile(config, JSON.stringify({ mcpServers: {} }));
      const [command, base] = cliCommand();
      const env: Record<string, string> = {};
      for (const [k, v] of Object.entries(process.env)) if (v !== undefined && !k.startsWith("PORTCULLIS_")) env[k] = v;
      const { stdout } = await promisify(execFile)(command, [...base, "tokens", "create", "--config", config, "--user", "ivan", "--json"], {
        cwd: ROOT,
        env: { ...env, NO_COLOR: "1", PORTCULLIS_DATA_DIR: dir, PORTCULLIS_REDIS_URL: `${redis.url}/2`, PORTCULLIS_MASTER_KEY: MASTER },
      });
      const made = JSON.parse(stdout) as { id: string; token: string };
      const store = asTokenStore(redisStore({ url: `${redis.url}/2` }));
      try {
        assert.is((await store.findByHash(await hashSecret(made.token)))?.id, made.id, "the token is in Redis");
      } finally {
        await store.close();
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  test("key-value hooks: take is atomic across instances, increment adds up and expires, pub/sub reaches every instance", async () => {
    const a = redisStore({ url: redis.url, prefix: "kv:" });
    const b = redisStore({ url: redis.url, prefix: "kv:" });
    try {
      await Promise.all(Array.from({ length: 100 }, (_, i) => a.put("race", `k${i}`, { i })));
      const pairs = await Promise.all(Array.from({ length: 100 }, (_, i) => Promise.all([a.take("race", `k${i}`), b.take("race", `k${i}`)])));
      for (const [i, [x, y]] of pairs.entries()) assert.is([x, y].filter((v) => v !== undefined).length, 1, `k${i} taken by one instance exactly`);
      assert.equal(await a.list("race"), []);
      const counts = await Promise.all(Array.from({ length: 50 }, (_, i) => (i % 2 ? a : b).increment!("failures", "203.0.113.9", 1, 400)));
      assert.equal(counts.sort((x, y) => x - y), Array.from({ length: 50 }, (_, i) => i + 1), "every increment counted once");
      await new Promise((r) => setTimeout(r, 500));
      assert.is(await a.increment!("failures", "203.0.113.9", 1, 400), 1, "the counter expired with its window");
      const heard: string[] = [];
      const off = await b.subscribe!("news", (m) => heard.push(m));
      await a.publish!("news", "hello");
      await waitFor(() => heard.length === 1, 2000);
      await off();
      await a.publish!("news", "after");
      await new Promise((r) => setTimeout(r, 100));
      assert.equal(heard, ["hello"]);
    } finally {
      await a.close();
      await b.close();
    }
  });

  test("tokens made on one instance work on the others; a revoke on one is refused on all within 1 s and ends their sessions", async () => {
    const [a, b, c] = cluster();
    const made = await call(a!, "POST", "/v1/auth/tokens", ADMIN, { user: "alice", scopes: ["mcp:read"] });
    assert.is(made.status, 201, JSON.stringify(made.body));
    for (const gw of [a!, b!, c!]) assert.is((await call(gw, "GET", "/v1/auth/whoami", made.body.token)).status, 200);
    // Each instance now has the decision cached; the revoke must still be honoured everywhere at once.
    const ended: string[] = [];
    b!.tokens.onInvalidate((id) => ended.push(`b:${id}`));
    c!.tokens.onInvalidate((id) => ended.push(`c:${id}`));
    const t0 = Date.now();
    assert.is((await call(a!, "DELETE", `/v1/auth/tokens/${made.body.id}`, ADMIN)).status, 200);
    await waitFor(async () => (await call(b!, "GET", "/v1/auth/whoami", made.body.token)).status === 401 && (await call(c!, "GET", "/v1/auth/whoami", made.body.token)).status === 401, 1000);
    assert.ok(Date.now() - t0 < 1000, `refused everywhere after ${Date.now() - t0} ms`);
    assert.is((await call(c!, "GET", "/v1/auth/whoami", made.body.token)).body.error.code, "ERR_TOKEN_REVOKED");
    await waitFor(() => ended.length === 2, 1000);
    assert.equal(ended.sort(), [`b:${made.body.id}`, `c:${made.body.id}`], "the other instances were told (their MCP sessions of it end)");

    // Rotation on B: the new secret works on A, the old one stops on C when its grace ends.
    const other = await call(a!, "POST", "/v1/auth/tokens", ADMIN, { user: "bob" });
    assert.is((await call(c!, "GET", "/v1/auth/whoami", other.body.token)).status, 200);
    const rotated = await call(b!, "POST", `/v1/auth/tokens/${other.body.id}/rotate`, ADMIN, {});
    assert.is(rotated.status, 201, JSON.stringify(rotated.body));
    assert.is((await call(a!, "GET", "/v1/auth/whoami", rotated.body.token)).status, 200);
    await waitFor(async () => (await call(c!, "GET", "/v1/auth/whoami", other.body.token)).status === 401, 1000);
  });

  test("1,000 concurrent token creates spread over three instances are all there, on every instance; Redis holds no secret", async () => {
    const prefix = `bulk${n++}:`;
    const gws = cluster(3, { prefix });
    const answers = await Promise.all(Array.from({ length: 1000 }, (_, i) => call(gws[i % 3]!, "POST", "/v1/auth/tokens", ADMIN, { user: `u${i}` })));
    assert.ok(answers.every((r) => r.status === 201), `statuses: ${[...new Set(answers.map((r) => r.status))]}`);
    const ids = new Set(answers.map((r) => r.body.id as string));
    assert.is(ids.size, 1000);
    for (const gw of gws) {
      const listed = await call(gw, "GET", "/v1/auth/tokens", ADMIN);
      assert.is(listed.body.tokens.filter((t: { id: string }) => ids.has(t.id)).length, 1000);
    }
    for (const r of answers.slice(0, 50)) assert.is((await gws[(Number(r.body.user.slice(1)) + 1) % 3]!.config.tokens.store.findByHash(await hashSecret(r.body.token)))?.id, r.body.id);
    // Signing keys are stored too: make sure they exist, then look at everything under the prefix.
    await gws[0]!.keys.jwks();
    const everything = await dump(prefix);
    for (const r of answers) assert.not.ok(everything.includes(r.body.token.slice(3, 40)), "a token secret is in Redis");
    assert.not.ok(everything.includes(ADMIN) || everything.includes(MASTER), "the admin token or master key is in Redis");
    const keys = JSON.parse(everything.split("\n")[everything.split("\n").findIndex((l) => l.endsWith("kv:item:signing-key")) + 1]!) as Record<string, string>;
    assert.ok(Object.keys(keys).length >= 1);
    for (const text of Object.values(keys)) {
      const k = JSON.parse(text) as { publicJwk: Record<string, unknown>; privateKey: Record<string, unknown> };
      assert.is(k.publicJwk.d, undefined, "only the public half is in the clear");
      assert.is(k.privateKey.alg, "A256GCM", "the private half is sealed under the master key");
      assert.not.ok("d" in k.privateKey);
    }
  });

  test("signing keys are shared: a JWT signed on one instance verifies on the others, the JWKS is the same, a rotation reaches all", async () => {
    const [a, b, c] = cluster();
    const opts = { issuer: "https://gw.example", audience: "notes", expiresInSeconds: 60 };
    const jwt = await a!.keys.sign({ email: "alice@example.com" }, { ...opts, subject: "alice" });
    for (const gw of [b!, c!]) assert.is((await gw.keys.verify(jwt, opts)).sub, "alice");
    const jwks = await Promise.all([a!, b!, c!].map(async (gw) => await (await gw.fetch(new Request("http://gw.test/.well-known/jwks.json"))).json() as { keys: Array<{ kid: string }> }));
    assert.is(jwks[0]!.keys.length, 1);
    assert.equal(jwks[1], jwks[0]);
    assert.equal(jwks[2], jwks[0]);
    await b!.keys.rotate();
    const fresh = await b!.keys.sign({}, { ...opts, subject: "bob" });
    // C learns of the new key through pub/sub, or at the latest from the token naming it.
    assert.is((await c!.keys.verify(fresh, opts)).sub, "bob");
    await waitFor(async () => (await a!.keys.jwks()).keys.length === 2, 2000);
    assert.equal((await a!.keys.jwks()).keys.map((k) => k.kid), (await c!.keys.jwks()).keys.map((k) => k.kid));
    assert.is((await a!.keys.jwks()).keys[0]!.kid, decodeProtectedHeader(fresh).kid, "the new key is current everywhere");
    assert.is((await c!.keys.verify(jwt, opts)).sub, "alice", "the old key still verifies during its retention");
  });

  test("scheduled key rotation is done by one instance for all", async () => {
    const gws = cluster(3, { keys: { rotateEvery: "2s", retain: "1h" } });
    await Promise.all(gws.map((g) => g.ready()));
    const first = (await gws[0]!.keys.jwks()).keys.map((k) => k.kid);
    assert.is(first.length, 1);
    await waitFor(async () => (await gws[0]!.keys.jwks()).keys.length >= 2, 6000);
    const after = await Promise.all(gws.map(async (g) => (await g.keys.jwks()).keys.map((k) => k.kid)));
    // One rotation per period, whoever did it: two keys (new and retained), not four.
    assert.is(after[0]!.length, 2, JSON.stringify(after));
    assert.is(after[0]![1], first[0]);
    await waitFor(async () => (await Promise.all(gws.map(async (g) => JSON.stringify((await g.keys.jwks()).keys.map((k) => k.kid))))).every((s) => s === JSON.stringify(after[0])), 2000);
  });

  test("scheduled key rotation also runs for one process on its own (keys in memory)", async () => {
    const keys = createSigningKeys({ rotateEverySeconds: 1, retainSeconds: 3600 });
    await keys.start();
    try {
      const opts = { issuer: "https://gw.example", audience: "notes", expiresInSeconds: 60 };
      const before = await keys.sign({}, { ...opts, subject: "early" });
      await waitFor(async () => (await keys.jwks()).keys.length === 2, 4000);
      assert.is((await keys.verify(before, opts)).sub, "early", "the replaced key still verifies");
      assert.is.not(decodeProtectedHeader(await keys.sign({}, opts)).kid, decodeProtectedHeader(before).kid);
    } finally {
      await keys.close();
    }
  });

  test("a refresh token replayed on another instance is caught; concurrent redemption on two instances succeeds once", async () => {
    const [a, b] = cluster(2);
    const grantsA = createGrants(a!.config.tokens.store);
    const grantsB = createGrants(b!.config.tokens.store);
    const session = (await grantsA.createSession({ subject: "alice", roles: [], clientId: "cli_x", clientName: "x", grantType: "authorization_code", scopes: ["mcp:read"], expiresAt: new Date(Date.now() + 3_600_000).toISOString() }))!;
    const r1 = await grantsA.issueRefresh(session);
    const used = await grantsA.redeemRefresh(r1);
    assert.ok(used.ok, "the first use works");
    const replay = await grantsB.redeemRefresh(r1);
    assert.not.ok(replay.ok);
    assert.is(replay.replayOf?.id, session.id, "instance B sees the replay and names the family");
    // What the OAuth server does with a replay: end the family; the other instance refuses it then.
    const r2 = await grantsA.issueRefresh(session);
    await grantsB.endSession(session.id, "refresh_reuse" as never, "oauth");
    assert.not.ok((await grantsA.redeemRefresh(r2)).ok, "the newest refresh token of the family dies with it on A");
    assert.is(await createGrants(a!.config.tokens.store).isActive(session.id), false);

    const s2 = (await grantsA.createSession({ subject: "bob", roles: [], clientId: "cli_x", clientName: "x", grantType: "authorization_code", scopes: ["mcp:read"], expiresAt: new Date(Date.now() + 3_600_000).toISOString() }))!;
    const tokens = await Promise.all(Array.from({ length: 20 }, () => grantsA.issueRefresh(s2)));
    const raced = await Promise.all(tokens.map((t) => Promise.all([grantsA.redeemRefresh(t), grantsB.redeemRefresh(t)])));
    for (const [x, y] of raced) assert.is([x, y].filter((r) => r.ok).length, 1, "one redemption wins, the other is a replay");

    // A grant ended on one instance is refused by another that had just checked it, within a second.
    const s3 = (await grantsA.createSession({ subject: "carol", roles: [], clientId: "cli_x", clientName: "x", grantType: "authorization_code", scopes: ["mcp:read"], expiresAt: new Date(Date.now() + 3_600_000).toISOString() }))!;
    assert.is(await grantsB.isActive(s3.id), true, "B has it cached as active");
    await grantsA.endSession(s3.id, "ended", "alice");
    const ended = Date.now();
    await waitFor(async () => !(await grantsB.isActive(s3.id)), 2000);
    assert.ok(Date.now() - ended <= 1_200, `B refused it ${Date.now() - ended} ms after the end`);
  });

  test("Redis killed and restarted mid-load: refused (503) while down, never let through, no acknowledged write lost, back without restart", async () => {
    const gws = cluster();
    const revoked = await call(gws[0]!, "POST", "/v1/auth/tokens", ADMIN, { user: "mallory" });
    await call(gws[0]!, "DELETE", `/v1/auth/tokens/${revoked.body.id}`, ADMIN);
    const good = await call(gws[1]!, "POST", "/v1/auth/tokens", ADMIN, { user: "carol" });
    const acknowledged: Array<{ id: string; token: string }> = [];
    const statuses = new Map<number, number>();
    const wrongly: string[] = [];
    let running = true;
    let i = 0;
    const load = Promise.all(Array.from({ length: 6 }, async () => {
      while (running) {
        const gw = gws[i++ % 3]!;
        const r = await call(gw, "POST", "/v1/auth/tokens", ADMIN, { user: `load${i}` });
        statuses.set(r.status, (statuses.get(r.status) ?? 0) + 1);
        if (r.status === 201) acknowledged.push(r.body);
        else if (r.status !== 503) wrongly.push(`create answered ${r.status}`);
        const bad = await call(gw, "GET", "/v1/auth/whoami", revoked.body.token);
        if (bad.status === 200) wrongly.push("a revoked token was let through");
        const unknown = await call(gw, "GET", "/v1/auth/whoami", "pt_not-a-real-token-0123456789abcdefghijklmnopqr");
        if (unknown.status === 200) wrongly.push("an unknown token was let through");
        // Refusals come back without any I/O; this lets timers run meanwhile.
        await new Promise((r) => setTimeout(r, 2));
      }
    }));
    try {
    await new Promise((r) => setTimeout(r, 300));
    await redis.stop(true);
    const down = Date.now();
    await new Promise((r) => setTimeout(r, 1200));
    // Past the cache bound, a good token that needs the store is refused with a clear 503, not let through.
    const whileDown = await call(gws[2]!, "GET", "/v1/auth/whoami", good.body.token);
    assert.is(whileDown.status, 503, JSON.stringify(whileDown.body));
    assert.is(whileDown.body.error.code, "ERR_OVERLOADED");
    assert.match(whileDown.body.error.message ?? "", /unavailable|shutting down/);
    assert.ok(Date.now() - down >= 1000);
    await redis.start();
    // Back without a restart of the gateways.
    await waitFor(async () => (await call(gws[2]!, "GET", "/v1/auth/whoami", good.body.token)).status === 200, 5000);
    await new Promise((r) => setTimeout(r, 300));
    } finally {
      running = false;
      await redis.start().catch(() => undefined);
    }
    await load;
    assert.equal(wrongly, []);
    assert.ok((statuses.get(503) ?? 0) > 0, "some requests met Redis down");
    assert.ok(acknowledged.length > 20, `only ${acknowledged.length} creates were acknowledged`);
    for (const t of acknowledged) {
      const found = await gws[0]!.config.tokens.store.findByHash(await hashSecret(t.token));
      assert.is(found?.id, t.id, `acknowledged token ${t.id} is there after the restart`);
    }
    // Refused (401, or 429 once the lockout of failed attempts counts the load's refusals), never let through.
    assert.ok([401, 429].includes((await call(gws[1]!, "GET", "/v1/auth/whoami", revoked.body.token)).status));
  });
}

test.run();
