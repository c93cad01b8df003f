// Durability of the file token store with real parts only: the token service and the HTTP API under
// concurrent load, a real gateway process killed with SIGKILL mid-load and restarted on the same store,
// revocation across restarts, and the store lock against a live owner. Stores live under os.tmpdir();
// the gateway config for the child processes lives in tests/.tmp-durability-*/ so its bare `portcullis`
// imports resolve the way a user's would.
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { type ChildProcess, spawn } from "node:child_process";
import { appendFile, mkdtemp, readdir, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import process from "node:process";
import { createAudit } from "../../core/audit/bus.ts";
import { createGateway, isGatewayError } from "../../core/mod.ts";
import { createTokenService } from "../../core/tokens/service.ts";
import type { TokenRecord, TokenStore } from "../../core/tokens/types.ts";
import { bearer, fileStore, redisStore } from "../../plugins/mod.ts";
import { asTokenStore } from "../../core/tokens/derive-store.ts";
import { quietLogger, runtime, waitFor } from "../fixtures/helpers.ts";
import { redisMissing, startRedis } from "../fixtures/redis-server.ts";

const test = suite("durability");

const ROOT = new URL("../..", import.meta.url).pathname.replace(/\/$/, "");
const BASE = "http://127.0.0.1:8787";
const ADMIN = Array.from(crypto.getRandomValues(new Uint8Array(20)), (b) => b.toString(16).padStart(2, "0")).join("");

let tmp: string;
let cfgDir: string;
const children = new Set<ChildProcess>();

function tokenService(store: TokenStore) {
  return createTokenService({ store, audit: createAudit([], quietLogger), log: quietLogger });
}

function gateway(dir: string) {
  return createGateway({
    logger: quietLogger,
    auth: [bearer()],
    admin: { token: ADMIN, bootstrap: false },
    tokens: { store: fileStore({ dir }) },
    servers: {},
  });
}

const adminHeaders = { authorization: `Bearer ${ADMIN}`, "content-type": "application/json" };

/** Rejects (and runs `onTimeout`) if `promise` does not settle within `ms`. */
function within<T>(promise: Promise<T>, ms: number, what: string, onTimeout?: () => void): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      onTimeout?.();
      reject(new Error(`${what} did not finish within ${ms} ms`));
    }, ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

async function exists(path: string): Promise<boolean> {
  return await stat(path).then(() => true, () => false);
}

/** Every line of a log file, asserting each is complete and valid JSON. */
function parseLog(text: string): Array<{ op: string; r?: TokenRecord }> {
  assert.ok(text === "" || text.endsWith("\n"), "the log ends with a complete line");
  return text.split("\n").filter((l) => l !== "").map((line, i) => {
    try {
      return JSON.parse(line);
    } catch {
      return assert.unreachable(`line ${i + 1} of the log is not JSON: ${line.slice(0, 120)}`);
    }
  });
}

// --- a real gateway process -------------------------------------------------------------------------

interface GatewayProcess {
  child: ChildProcess;
  pid: number;
  stderr: () => string;
  exited: Promise<{ code: number | null; signal: string | null }>;
  done: () => boolean;
}

function gatewayCommand(): [string, string[]] {
  if (runtime === "deno") return [(globalThis as unknown as { Deno: { execPath(): string } }).Deno.execPath(), ["run", "-A", "core/cli/main.ts"]];
  if (runtime === "bun") return [process.execPath, ["run", "core/cli/main.ts"]];
  return [process.execPath, [join(ROOT, "dist/cli.js")]];
}

/** Writes a gateway config over a file store in `storeDir` and returns its path. */
async function writeConfig(name: string, storeDir: string): Promise<string> {
  const file = join(cfgDir, `${name}.config.ts`);
  await writeFile(file, [
    'import { defineGateway } from "portcullis";',
    'import { bearer, fileStore } from "portcullis/plugins";',
    "",
    "export default defineGateway({",
    "  auth: [bearer()],",
    `  admin: { token: ${JSON.stringify(ADMIN)}, bootstrap: false },`,
    `  tokens: { store: fileStore({ dir: ${JSON.stringify(storeDir)} }) },`,
    "  servers: {},",
    "});",
    "",
  ].join("\n"));
  return file;
}

function startGatewayProcess(config: string): GatewayProcess {
  const [command, base] = gatewayCommand();
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) if (v !== undefined && !k.startsWith("PORTCULLIS_")) env[k] = v;
  const child = spawn(command, [...base, "start", "--config", config, "--port", "0"], {
    cwd: ROOT,
    env: { ...env, NO_COLOR: "1", PORTCULLIS_DATA_DIR: join(tmp, "unused-data") },
    stdio: ["ignore", "ignore", "pipe"],
  });
  children.add(child);
  let stderr = "";
  let ended = false;
  child.stderr!.setEncoding("utf8");
  child.stderr!.on("data", (d: string) => (stderr += d));
  const exited = new Promise<{ code: number | null; signal: string | null }>((resolve) => {
    child.on("close", (code, signal) => {
      ended = true;
      children.delete(child);
      resolve({ code, signal });
    });
  });
  return { child, pid: child.pid!, stderr: () => stderr, exited, done: () => ended };
}

/** Waits for the listening line and a 200 from /healthz; returns the base URL. */
async function ready(p: GatewayProcess, ms = 30_000): Promise<string> {
  let url = "";
  try {
    await waitFor(async () => {
      if (p.done()) throw new Error("the gateway exited early");
      const m = /listening on (http:\/\/\S+?)\/mcp/.exec(p.stderr());
      if (!m) return false;
      url = m[1]!;
      try {
        const res = await fetch(`${url}/healthz`, { signal: AbortSignal.timeout(2_000) });
        await res.body?.cancel();
        return res.status === 200;
      } catch {
        return false;
      }
    }, ms);
  } catch (err) {
    throw new Error(`${(err as Error).message}\nstderr: ${p.stderr()}`);
  }
  return url;
}

async function stop(p: GatewayProcess, signal: "SIGTERM" | "SIGKILL", ms = 10_000): Promise<{ code: number | null; signal: string | null }> {
  // process.kill rather than child.kill: Deno's node:child_process reports a child it was asked to
  // kill as ended by that signal, even when the child handled it and exited 0.
  if (!p.done()) process.kill(p.pid, signal);
  return await within(p.exited, ms, `gateway ${p.pid} after ${signal}`, () => p.child.kill("SIGKILL"));
}

async function api(url: string, method: string, path: string, opts: { token?: string; body?: unknown } = {}): Promise<{ status: number; body: any }> {
  const res = await fetch(url + path, {
    method,
    headers: { authorization: `Bearer ${opts.token ?? ADMIN}`, ...(opts.body === undefined ? {} : { "content-type": "application/json" }) },
    body: opts.body === undefined ? undefined : JSON.stringify(opts.body),
    signal: AbortSignal.timeout(10_000),
  });
  return { status: res.status, body: await res.json() };
}

test.before(async () => {
  tmp = await mkdtemp(join(tmpdir(), "portcullis-durability-"));
  cfgDir = await mkdtemp(join(ROOT, "tests", ".tmp-durability-"));
});

test.after(async () => {
  for (const child of children) child.kill("SIGKILL");
  await rm(cfgDir, { recursive: true, force: true });
  await rm(tmp, { recursive: true, force: true });
});

// --- 1. the token service ------------------------------------------------------------------------------

test("1,000 concurrent creates through the token service are all durable; the log holds no secret", async () => {
  const dir = join(tmp, "service");
  const store = fileStore({ dir });
  await store.open!();
  const tokens = tokenService(store);
  const created = await within(
    Promise.all(Array.from({ length: 1000 }, (_, i) => tokens.create({ user: `user-${i}`, team: `team-${i % 7}` }, "test"))),
    30_000,
    "1,000 creates",
  );
  assert.is(new Set(created.map((c) => c.record.id)).size, 1000, "1,000 distinct ids");
  await tokens.close();
  await store.close();
  assert.not.ok(await exists(join(dir, "store.lock")), "close releases the lock");

  const reopened = fileStore({ dir });
  await reopened.open!();
  const again = tokenService(reopened);
  try {
    const records = await reopened.list();
    assert.is(records.length, 1000);
    const byId = new Map(records.map((r) => [r.id, r]));
    for (const [i, c] of created.entries()) {
      const r = byId.get(c.record.id);
      assert.ok(r, `token ${i} (${c.record.id}) survived the reopen`);
      assert.is(r!.user, `user-${i}`);
      assert.is(r!.team, `team-${i % 7}`);
    }
    const verified = await Promise.all(created.map((c) => again.verify(c.secret, "token")));
    for (const [i, v] of verified.entries()) {
      assert.ok(v.ok, `secret ${i} verifies after the reopen: ${JSON.stringify(v)}`);
      if (v.ok) assert.is(v.record.id, created[i]!.record.id);
    }

    const text = await readFile(join(dir, "tokens.log"), "utf8");
    const entries = parseLog(text);
    assert.is(entries.length, 1000, "one log line per create");
    for (const c of created) {
      // The random body alone would give a secret away, prefix or not.
      assert.not.ok(text.includes(c.secret.slice(3)), `the log holds the secret of ${c.record.id}`);
    }
    for (const e of entries) assert.ok(typeof e.r?.hash === "string" && e.r.hash.length === 43, "each entry carries a SHA-256 hash");
  } finally {
    await again.close();
    await reopened.close();
  }
});

// The same on the Redis store (a real redis-server with `appendonly yes`, `appendfsync always`), with the
// server killed (SIGKILL, as in a crash) and started again on its append-only file before the check.
if (!redisMissing) {
  test("redisStore(): 1,000 concurrent creates are all durable across a SIGKILL of redis-server; Redis holds no secret", async () => {
    const redis = await startRedis();
    try {
      const store = asTokenStore(redisStore({ url: redis.url, prefix: "durability:" }));
      await store.open!();
      const tokens = tokenService(store);
      const created = await within(
        Promise.all(Array.from({ length: 1000 }, (_, i) => tokens.create({ user: `user-${i}`, team: `team-${i % 7}` }, "test"))),
        30_000,
        "1,000 creates",
      );
      await tokens.close();
      await store.close();
      await redis.stop(true);
      await redis.start();
      const aofDir = join(redis.dir, "appendonlydir");
      const aof = (await Promise.all((await readdir(aofDir)).map((name) => readFile(join(aofDir, name), "utf8")))).join("");
      assert.ok(aof.length > 0, "redis-server wrote its append-only file");
      for (const c of created) assert.not.ok(aof.includes(c.secret.slice(3)), `the append-only file holds the secret of ${c.record.id}`);

      const reopened = asTokenStore(redisStore({ url: redis.url, prefix: "durability:" }));
      const again = tokenService(reopened);
      try {
        const byId = new Map((await reopened.list()).map((r) => [r.id, r]));
        assert.is(byId.size, 1000);
        for (const [i, c] of created.entries()) assert.is(byId.get(c.record.id)?.user, `user-${i}`, `token ${i} survived the crash`);
        const verified = await Promise.all(created.map((c) => again.verify(c.secret, "token")));
        assert.ok(verified.every((v) => v.ok), "every secret verifies after the restart");
      } finally {
        await again.close();
        await reopened.close();
      }
    } finally {
      await redis.close();
    }
  });
} else {
  console.warn(`durability: the redisStore() case is skipped: ${redisMissing}`);
}

// --- 2. the HTTP API -----------------------------------------------------------------------------------

test("200 concurrent POST /v1/auth/tokens: all 201, all listed, all there after a restart", async () => {
  const dir = join(tmp, "http");
  let gw = gateway(dir);
  await gw.ready();
  const responses = await within(Promise.all(Array.from({ length: 200 }, async (_, i) => {
    const res = await gw.fetch(new Request(`${BASE}/v1/auth/tokens`, { method: "POST", headers: adminHeaders, body: JSON.stringify({ user: `http-${i}` }) }));
    return { status: res.status, body: await res.json() as { id: string; token: string; user: string } };
  })), 30_000, "200 API creates");
  for (const r of responses) assert.is(r.status, 201, JSON.stringify(r.body));
  const ids = new Set(responses.map((r) => r.body.id));
  assert.is(ids.size, 200);

  const listed = async () => {
    const res = await gw.fetch(new Request(`${BASE}/v1/auth/tokens`, { headers: adminHeaders }));
    assert.is(res.status, 200);
    const text = await res.text();
    for (const r of responses) assert.not.ok(text.includes(r.body.token), "the list never carries a secret");
    return (JSON.parse(text) as { tokens: Array<{ id: string; user: string }> }).tokens;
  };
  let tokens = await listed();
  assert.is(tokens.length, 200);
  assert.equal(new Set(tokens.map((t) => t.id)), ids);

  await gw.close();
  gw = gateway(dir);
  try {
    await gw.ready();
    tokens = await listed();
    assert.is(tokens.length, 200, "all 200 after the restart");
    const users = new Map(tokens.map((t) => [t.id, t.user]));
    for (const r of responses) assert.is(users.get(r.body.id), r.body.user);
    for (const r of responses.slice(0, 20)) {
      const res = await gw.fetch(new Request(`${BASE}/v1/auth/whoami`, { headers: { authorization: `Bearer ${r.body.token}` } }));
      assert.is(res.status, 200);
      assert.is((await res.json()).subject, r.body.user);
    }
  } finally {
    await gw.close();
  }
});

// --- 3. crash safety -----------------------------------------------------------------------------------

test("SIGKILL under load loses no acknowledged token; the restart takes over the stale lock and drops a torn line", async () => {
  const storeDir = join(tmp, "crash");
  const config = await writeConfig("crash", storeDir);
  const first = startGatewayProcess(config);
  const url = await ready(first);

  const acked: Array<{ id: string; token: string; user: string }> = [];
  const unexpected: string[] = [];
  const LOOPS = 8;
  const MAX_REQUESTS = 2_000;
  let started = 0;
  let failedAfterKill = 0;
  let killed = false;
  let inFlight = 0;
  let inFlightAtKill = 0;
  let unpaced = false;
  let loadMs = 0;
  const t0 = Date.now();
  const deadline = t0 + 10_000;
  const kill = () => {
    if (killed) return;
    killed = true;
    loadMs = Date.now() - t0;
    inFlightAtKill = inFlight;
    process.kill(first.pid, "SIGKILL");
  };
  // After ~1.5 s of paced load, the loops go flat out for a moment so that the gateway is busy with a
  // request from every loop when the kill lands.
  let timer = setTimeout(() => {
    unpaced = true;
    timer = setTimeout(kill, 25);
  }, 1_500);
  const loop = async (n: number) => {
    for (let i = 0; !killed && Date.now() < deadline; i++) {
      // Kill before the request budget runs out, so that requests are still in flight when it lands.
      if (started >= MAX_REQUESTS - 4 * LOOPS) return kill();
      // At most ~1,000 requests a second, so the kill comes after ~1.5 s of load on fast runtimes too.
      if (!unpaced && started >= Date.now() - t0 + LOOPS) {
        await new Promise((r) => setTimeout(r, 2));
        i--;
        continue;
      }
      started++;
      const user = `crash-${n}-${i}`;
      inFlight++;
      try {
        const res = await fetch(`${url}/v1/auth/tokens`, { method: "POST", headers: adminHeaders, body: JSON.stringify({ user }), signal: AbortSignal.timeout(5_000) });
        const body = await res.json() as { id?: string; token?: string };
        if (res.status !== 201 || !body.id || !body.token) {
          unexpected.push(`${res.status} ${JSON.stringify(body)}`);
          return;
        }
        acked.push({ id: body.id, token: body.token, user });
      } catch (err) {
        if (killed) failedAfterKill++;
        else unexpected.push(String(err));
        return;
      } finally {
        inFlight--;
      }
    }
  };
  try {
    await within(Promise.all(Array.from({ length: LOOPS }, (_, n) => loop(n))), 20_000, "the load loops");
  } finally {
    clearTimeout(timer);
    kill();
  }
  const death = await within(first.exited, 10_000, "the killed gateway's exit");
  assert.equal(unexpected, [], "nothing failed before the kill");
  assert.is(death.signal, "SIGKILL");
  assert.ok(acked.length > 0, "some creates were acknowledged before the kill");
  assert.ok(inFlightAtKill > 0, "requests were in flight when the kill landed");

  // The killed process left its lock behind; the restart must see it is stale.
  assert.is((await readFile(join(storeDir, "store.lock"), "utf8")).trim(), String(first.pid));
  const logPath = join(storeDir, "tokens.log");
  const afterKill = await readFile(logPath, "utf8");
  const tornByKill = afterKill.length > 0 && !afterKill.endsWith("\n");
  const completeLines = afterKill.split("\n").length - 1;
  // Whatever the kill did to the tail, make sure the restart has a torn last line to deal with.
  const TORN_ID = "tok_TornTornTornTorn";
  await appendFile(logPath, `{"op":"put","r":{"id":"${TORN_ID}","hash":"half-writ`);

  const second = startGatewayProcess(config);
  try {
    const url2 = await ready(second);
    const { status, body } = await api(url2, "GET", "/v1/auth/tokens");
    assert.is(status, 200);
    const listed = new Map((body.tokens as Array<{ id: string; user: string }>).map((t) => [t.id, t.user]));
    const lost = acked.filter((a) => listed.get(a.id) !== a.user);
    assert.equal(lost.map((a) => a.id), [], `${lost.length} of ${acked.length} acknowledged tokens were lost`);
    assert.not.ok(listed.has(TORN_ID), "the torn line was dropped");
    const unacked = listed.size - acked.length;

    // Every log line the restart kept is complete; the torn tail was cut off.
    parseLog(await readFile(logPath, "utf8"));

    const step = Math.max(1, Math.floor(acked.length / 30));
    const sample = [...acked.filter((_, i) => i % step === 0), ...acked.slice(-20)];
    for (const a of sample) {
      const who = await api(url2, "GET", "/v1/auth/whoami", { token: a.token });
      assert.is(who.status, 200, `${a.id}: ${JSON.stringify(who.body)}`);
      assert.is(who.body.subject, a.user);
      assert.is(who.body.tokenId, a.id);
    }

    // The store keeps working after the repair: a new token, and a revocation.
    const fresh = await api(url2, "POST", "/v1/auth/tokens", { body: { user: "after-crash" } });
    assert.is(fresh.status, 201);
    assert.is((await api(url2, "GET", "/v1/auth/whoami", { token: fresh.body.token })).body.subject, "after-crash");
    const victim = acked[0]!;
    assert.is((await api(url2, "DELETE", `/v1/auth/tokens/${victim.id}`)).status, 200);

    const end = await stop(second, "SIGTERM");
    assert.is(end.signal, null, `exited by signal ${end.signal}\n${second.stderr()}`);
    assert.is(end.code, 0, second.stderr());
    assert.not.ok(await exists(join(storeDir, "store.lock")), "a clean shutdown releases the lock");

    const entries = parseLog(await readFile(logPath, "utf8"));
    const store = fileStore({ dir: storeDir });
    try {
      await store.open!();
      for (const a of acked) assert.is((await store.get(a.id))?.user, a.user);
      assert.ok((await store.get(victim.id))?.revokedAt, "the revocation is durable");
      assert.is((await store.get(fresh.body.id))?.user, "after-crash");
    } finally {
      await store.close();
    }
    console.log(
      `    [${runtime}] crash: ${acked.length} acknowledged in ${loadMs} ms, ${inFlightAtKill} in flight at SIGKILL ` +
        `(${failedAfterKill} failed), ${unacked} durable but unacknowledged, ${completeLines} complete lines after the kill, ` +
        `kill tore the last line: ${tornByKill}, ${entries.length} lines at the end`,
    );
  } finally {
    if (!second.done()) await stop(second, "SIGKILL").catch(() => undefined);
  }
});

// --- 4. revocation -------------------------------------------------------------------------------------

test("revocation is immediate, answered 401 ERR_TOKEN_REVOKED, and survives a restart", async () => {
  const dir = join(tmp, "revoke");
  let gw = gateway(dir);
  const whoami = async (token: string) => {
    const res = await gw.fetch(new Request(`${BASE}/v1/auth/whoami`, { headers: { authorization: `Bearer ${token}` } }));
    return { status: res.status, body: await res.json() };
  };
  const create = async (user: string) => {
    const res = await gw.fetch(new Request(`${BASE}/v1/auth/tokens`, { method: "POST", headers: adminHeaders, body: JSON.stringify({ user }) }));
    assert.is(res.status, 201);
    return await res.json() as { id: string; token: string };
  };
  let revoked: { id: string; token: string };
  let kept: { id: string; token: string };
  try {
    await gw.ready();
    revoked = await create("mallory");
    kept = await create("alice");
    assert.is((await whoami(revoked.token)).status, 200);

    const del = await gw.fetch(new Request(`${BASE}/v1/auth/tokens/${revoked.id}`, { method: "DELETE", headers: adminHeaders }));
    assert.is(del.status, 200);
    assert.is((await del.json()).state, "revoked");
    const after = await whoami(revoked.token);
    assert.is(after.status, 401);
    assert.is(after.body.error.code, "ERR_TOKEN_REVOKED");
    assert.not.ok(JSON.stringify(after.body).includes(revoked.token), "the error does not echo the secret");
    const mcp = await gw.fetch(new Request(`${BASE}/mcp`, {
      method: "POST",
      headers: { authorization: `Bearer ${revoked.token}`, "content-type": "application/json", accept: "application/json, text/event-stream" },
      body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "tools/list" }),
    }));
    assert.is(mcp.status, 401);
    assert.is((await mcp.json()).error.data.code, "ERR_TOKEN_REVOKED");
    assert.is((await whoami(kept.token)).status, 200, "other tokens are untouched");
    const twice = await gw.fetch(new Request(`${BASE}/v1/auth/tokens/${revoked.id}`, { method: "DELETE", headers: adminHeaders }));
    assert.is(twice.status, 409);
    assert.is((await twice.json()).error.code, "ERR_CONFLICT");
  } finally {
    await gw.close();
  }

  const store = fileStore({ dir });
  try {
    await store.open!();
    assert.ok((await store.get(revoked.id))?.revokedAt, "the reopened store still has it revoked");
    assert.not.ok((await store.get(kept.id))?.revokedAt);
  } finally {
    await store.close();
  }

  gw = gateway(dir);
  try {
    await gw.ready();
    const again = await whoami(revoked.token);
    assert.is(again.status, 401);
    assert.is(again.body.error.code, "ERR_TOKEN_REVOKED");
    assert.is((await whoami(kept.token)).status, 200);
  } finally {
    await gw.close();
  }
});

// --- 5. the store lock ---------------------------------------------------------------------------------

test("a store locked by a live gateway process cannot be opened: ERR_CONFLICT naming the owner", async () => {
  const storeDir = join(tmp, "locked");
  const owner = startGatewayProcess(await writeConfig("locked", storeDir));
  try {
    const url = await ready(owner);
    const intruder = fileStore({ dir: storeDir });
    let error: unknown;
    try {
      await intruder.open!();
    } catch (err) {
      error = err;
    }
    assert.ok(isGatewayError(error), `expected a GatewayError, got ${String(error)}`);
    assert.is((error as { code: string }).code, "ERR_CONFLICT");
    assert.match((error as Error).message, String(owner.pid));
    // The refused open changed nothing, not even when the refused store is closed (as a failed start does):
    // the owner still holds the lock and serves.
    await intruder.close();
    assert.is((await readFile(join(storeDir, "store.lock"), "utf8")).trim(), String(owner.pid));
    const second = fileStore({ dir: storeDir });
    await second.open!().then(() => assert.unreachable("still locked"), (err) => assert.is((err as { code: string }).code, "ERR_CONFLICT"));
    await second.close();
    const created = await api(url, "POST", "/v1/auth/tokens", { body: { user: "still-works" } });
    assert.is(created.status, 201);

    const end = await stop(owner, "SIGTERM");
    assert.is(end.code, 0, owner.stderr());
    // Once the owner is gone the directory opens, with the owner's token in it.
    const next = fileStore({ dir: storeDir });
    try {
      await next.open!();
      assert.is((await next.get(created.body.id))?.user, "still-works");
    } finally {
      await next.close();
    }
  } finally {
    if (!owner.done()) await stop(owner, "SIGKILL").catch(() => undefined);
  }
});

// --- 6. compaction under concurrent writes --------------------------------------------------------------

test("compaction while writes keep arriving loses neither records nor usage counts", async () => {
  const dir = join(tmp, "compact");
  const store = fileStore({ dir });
  await store.open!();
  const tokens = tokenService(store);
  const base = await Promise.all(Array.from({ length: 50 }, (_, i) => tokens.create({ user: `c-${i}` }, "test")));
  const at = new Date().toISOString();
  // 1,500 usage entries against 50 records crosses the compaction threshold (2 x live + 1,000 lines)
  // while creates are still being appended.
  const [more] = await within(Promise.all([
    Promise.all(Array.from({ length: 150 }, (_, i) => tokens.create({ user: `late-${i}` }, "test"))),
    Promise.all(Array.from({ length: 1500 }, (_, i) => store.addUsage([{ id: base[i % 50]!.record.id, count: 1, lastUsedAt: at }]))),
  ]), 30_000, "creates and usage writes");
  await tokens.close();
  await store.close();
  const lines = parseLog(await readFile(join(dir, "tokens.log"), "utf8")).length;
  assert.ok(lines < 50 + 150 + 1500, `the log was compacted (${lines} lines)`);

  const reopened = fileStore({ dir });
  try {
    await reopened.open!();
    const all = await reopened.list();
    assert.is(all.length, 200);
    for (const c of [...base, ...more]) assert.is((await reopened.get(c.record.id))?.user, c.record.user);
    for (const c of base) assert.is((await reopened.get(c.record.id))?.useCount, 30, `usage of ${c.record.id}`);
  } finally {
    await reopened.close();
  }
});

test("a second store on the same directory in one process is refused, and a closed store stays closed", async () => {
  const storeDir = join(tmp, "same-process");
  const first = fileStore({ dir: storeDir });
  await first.open!();
  const second = fileStore({ dir: storeDir });
  await second.open!().then(() => assert.unreachable("second open must fail"), (err) => assert.is((err as { code: string }).code, "ERR_CONFLICT"));
  await second.close();
  assert.is((await readFile(join(storeDir, "store.lock"), "utf8")).trim(), String(process.pid), "the refused store left the lock alone");
  await first.close();
  await first.list().then(() => assert.unreachable("a closed store must not reopen"), (err) => assert.ok(isGatewayError(err)));
  const third = fileStore({ dir: storeDir });
  await third.open!();
  await third.close();
});

test.run();
