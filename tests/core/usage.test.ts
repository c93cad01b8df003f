// Usage patterns per token and per user: counted from the audit bus as real calls go through
// `gateway.fetch`, kept compactly in the store without read-modify-write (two trackers on one store lose
// nothing), bounded (addresses, days), readable by admins and the token's own user only, and printed by
// the real CLI against a running gateway (table with sparkline, --json).
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { spawn } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import process from "node:process";
import { Client, StreamableHTTPClientTransport } from "@modelcontextprotocol/client";
import type { AuditEvent } from "../../core/mod.ts";
import { createAudit } from "../../core/audit/bus.ts";
import { createUsageTracker, emptyUsage, firstSeenAt, mergeUsage, type NewAddress, trimUsage, type UsageRecord } from "../../core/tokens/usage.ts";
import { bearer, memoryStore } from "../../plugins/mod.ts";
import { inProcess } from "../../examples/custom-upstream.ts";
import { BASE, bearerAuth, echoServer, harness, type Harness } from "../fixtures/in-process.ts";
import { cliCommand, startCli, stopAllCli } from "../fixtures/cli-process.ts";
import { quietLogger, waitFor } from "../fixtures/helpers.ts";

const test = suite("usage");
const events: AuditEvent[] = [];
let h: Harness;
let dir: string;
const today = new Date().toISOString().slice(0, 10);

/** One stateless (2026-07-28) tools/call through gateway.fetch, as if from `address`. */
async function callTool(secret: string, name: string, address: string, args: Record<string, unknown> = {}): Promise<{ status: number; body: any }> {
  const res = await h.gateway.fetch(new Request(`${BASE}/mcp`, {
    method: "POST",
    headers: {
      ...bearerAuth(secret),
      "content-type": "application/json",
      accept: "application/json, text/event-stream",
      "mcp-protocol-version": "2026-07-28",
      "mcp-method": "tools/call",
      "mcp-name": name,
    },
    body: JSON.stringify({
      jsonrpc: "2.0",
      id: 1,
      method: "tools/call",
      params: { name, arguments: args, _meta: { "io.modelcontextprotocol/protocolVersion": "2026-07-28", "io.modelcontextprotocol/clientCapabilities": {} } },
    }),
  }), { remoteAddress: address });
  const text = await res.text();
  const data = text.split("\n").filter((l) => l.startsWith("data:")).map((l) => l.slice(5)).pop() ?? text;
  return { status: res.status, body: JSON.parse(data) };
}

test.before(async () => {
  dir = await mkdtemp(join(tmpdir(), "portcullis-usage-"));
  h = await harness({
    auth: bearer(),
    audit: [{ name: "audit:test", write: (e) => void events.push(e) }],
    servers: { echo: inProcess({ label: "echo", build: () => echoServer("echo") }), other: inProcess({ label: "other", build: () => echoServer("other") }) },
  });
});

test.after(async () => {
  stopAllCli();
  await h.gateway.close();
  await rm(dir, { recursive: true, force: true });
});

test("calls through gateway.fetch are counted by server, tool and day, with last use and first-seen addresses", async () => {
  const t = await h.token({ user: "carol", permissions: { tools: ["echo__shout", "other__*"] } });
  assert.is((await callTool(t.token, "echo__shout", "198.51.100.1", { message: "a" })).body.result.content[0].text, "echo: A");
  await callTool(t.token, "echo__shout", "198.51.100.1", { message: "b" });
  await callTool(t.token, "other__whoami", "198.51.100.2");
  // Not among the token's permissions: refused, and counted as denied.
  const refused = await callTool(t.token, "echo__whoami", "198.51.100.2");
  assert.ok(refused.body.error, JSON.stringify(refused.body));

  const r = await h.api("GET", `/v1/auth/tokens/${t.id}/usage`);
  assert.is(r.status, 200, JSON.stringify(r.body));
  assert.is(r.body.tokenId, t.id);
  assert.is(r.body.user, "carol");
  assert.equal(r.body.totals, { calls: 4, errors: 0, denied: 1 });
  assert.equal(r.body.byDay, [
    { day: today, server: "echo", tool: "shout", calls: 2, errors: 0, denied: 0 },
    { day: today, server: "echo", tool: "whoami", calls: 1, errors: 0, denied: 1 },
    { day: today, server: "other", tool: "whoami", calls: 1, errors: 0, denied: 0 },
  ]);
  assert.equal(r.body.days, [{ day: today, calls: 4, errors: 0, denied: 1 }]);
  assert.equal(r.body.tools[0], { server: "echo", tool: "shout", calls: 2, errors: 0, denied: 0, lastDay: today });
  assert.is(r.body.lastUsedFrom, "198.51.100.2");
  const authTimes = events.filter((e) => e.type === "auth" && e.tokenId === t.id).map((e) => e.time);
  assert.is(r.body.lastUsedAt, authTimes.at(-1));
  assert.equal(r.body.addresses.map((a: { address: string }) => a.address).sort(), ["198.51.100.1", "198.51.100.2"]);
  const first = r.body.addresses.find((a: { address: string }) => a.address === "198.51.100.1");
  assert.is(first.firstSeenAt, authTimes[0]);

  // Written to the store on flush, and the same report is read back from there.
  await h.gateway.close();
  const again = await harness({ auth: bearer(), tokens: { store: h.gateway.config.tokens.store }, servers: {} });
  try {
    const stored = await again.api("GET", `/v1/auth/tokens/${t.id}/usage`);
    assert.equal(stored.body.byDay, r.body.byDay);
    assert.equal(stored.body.addresses, r.body.addresses);
  } finally {
    await again.gateway.close();
  }
  h = await harness({
    auth: bearer(),
    tokens: { store: h.gateway.config.tokens.store },
    audit: [{ name: "audit:test", write: (e) => void events.push(e) }],
    servers: { echo: inProcess({ label: "echo", build: () => echoServer("echo") }), other: inProcess({ label: "other", build: () => echoServer("other") }) },
  });
});

test("a user reads their own usage, never another user's (403); admins read anyone's", async () => {
  const a1 = await h.token({ user: "alice", name: "laptop" });
  const a2 = await h.token({ user: "alice", name: "ci", kind: "ci" });
  const b = await h.token({ user: "bob" });
  await callTool(a1.token, "echo__shout", "192.0.2.10", { message: "x" });
  await callTool(a2.token, "other__shout", "192.0.2.11", { message: "y" });
  await callTool(a2.token, "other__shout", "192.0.2.11", { message: "z" });
  await callTool(b.token, "echo__whoami", "192.0.2.12");

  // Her own tokens, either of them.
  assert.is((await h.api("GET", `/v1/auth/tokens/${a2.id}/usage`, undefined, bearerAuth(a1.token))).status, 200);
  const mine = await h.api("GET", "/v1/auth/usage", undefined, bearerAuth(a1.token));
  assert.is(mine.status, 200, JSON.stringify(mine.body));
  assert.is(mine.body.user, "alice");
  assert.equal(mine.body.totals, { calls: 3, errors: 0, denied: 0 });
  assert.equal(mine.body.tokens.map((t: { id: string; calls: number }) => [t.id, t.calls]), [[a1.id, 1], [a2.id, 2]]);
  assert.equal(mine.body.addresses.map((a: { address: string }) => a.address).sort(), ["192.0.2.10", "192.0.2.11"]);

  // Bob may not read Alice's, by token or by user.
  for (const path of [`/v1/auth/tokens/${a1.id}/usage`, "/v1/auth/usage?user=alice"]) {
    const r = await h.api("GET", path, undefined, bearerAuth(b.token));
    assert.is(r.status, 403, path);
    assert.is(r.body.error.code, "ERR_FORBIDDEN");
  }
  // Admins may read anyone's.
  const admin = await h.api("GET", "/v1/auth/usage?user=alice");
  assert.is(admin.status, 200);
  assert.equal(admin.body.totals, mine.body.totals);
  // Bad parameters are named.
  const bad = await h.api("GET", "/v1/auth/usage?user=alice&days=3");
  assert.is(bad.status, 400);
  assert.match(bad.body.error.message, /^days: /);
  assert.is((await h.api("GET", "/v1/auth/usage")).status, 400);
  assert.is((await h.api("GET", "/v1/auth/tokens/tok_0000000000000000/usage")).status, 404);
  assert.is((await h.api("POST", `/v1/auth/tokens/${a1.id}/usage`)).status, 405);
});

test("two trackers on one store (two gateway processes) lose none of each other's counts, folded and bounded", async () => {
  const store = memoryStore();
  const busA = createAudit([], quietLogger);
  const busB = createAudit([], quietLogger);
  const a = createUsageTracker({ store, bus: busA, log: quietLogger, flushMs: 60_000 });
  const b = createUsageTracker({ store, bus: busB, log: quietLogger, flushMs: 60_000 });
  const id = "tok_AAAAAAAAAAAAAAAA";
  // Many flushes from both, interleaved and concurrent: entries pile up and are folded while the other writes.
  for (let round = 0; round < 12; round++) {
    for (const [bus, n] of [[busA, 3], [busB, 2]] as const) {
      for (let i = 0; i < n; i++) {
        bus.emit({ type: "tool_call", subject: "dana", tokenId: id, strategy: "auth:bearer", server: "echo", tool: "shout", allowed: true, outcome: "ok", durationMs: 1 });
        bus.emit({ type: "auth", outcome: "success", subject: "dana", tokenId: id, path: "/mcp", remoteAddress: `10.0.${round}.${i}` });
      }
    }
    await Promise.all([a.flush(), b.flush()]);
    // "Most recently seen" is told by millisecond timestamps: rounds in one millisecond would tie.
    await new Promise((r) => setTimeout(r, 3));
  }
  const c = createUsageTracker({ store, log: quietLogger });
  const u = await c.record(id);
  assert.equal(u.calls[today]!.echo!.shout, [60, 0, 0]);
  // 36 distinct addresses were seen; the 20 most recently seen are kept.
  assert.is(Object.keys(u.addresses).length, 20);
  assert.ok(Object.hasOwn(u.addresses, "10.0.11.0"));
  assert.not.ok(Object.hasOwn(u.addresses, "10.0.0.0"));
  assert.ok((await store.listItems(`token-activity:${id}`)).length <= 9, "entries are folded into one sum");
  await Promise.all([a.close(), b.close(), c.close()]);
});

test("kept days are bounded, and merging is order-free", () => {
  const now = Date.parse("2026-12-03T12:00:00Z");
  const old: UsageRecord = { v: 1, calls: { "2026-08-01": { s: { t: [5, 0, 0] } }, "2026-12-01": { s: { t: [1, 1, 0] } } }, addresses: { "10.0.0.1": ["2026-08-01T00:00:00.000Z", "2026-12-01T00:00:00.000Z"] } };
  const recent: UsageRecord = { v: 1, calls: { "2026-12-01": { s: { t: [2, 0, 1] } } }, lastUsedAt: "2026-12-02T00:00:00.000Z", lastUsedFrom: "10.0.0.2", addresses: { "10.0.0.1": ["2026-11-01T00:00:00.000Z", "2026-12-02T00:00:00.000Z"] } };
  const ab = trimUsage(mergeUsage(mergeUsage(emptyUsage(), structuredClone(old)), structuredClone(recent)), now);
  const ba = trimUsage(mergeUsage(mergeUsage(emptyUsage(), structuredClone(recent)), structuredClone(old)), now);
  assert.equal(ab, ba);
  assert.equal(Object.keys(ab.calls), ["2026-12-01"], "days older than 90 are dropped");
  assert.equal(ab.calls["2026-12-01"]!.s!.t, [3, 1, 1]);
  assert.equal(ab.addresses["10.0.0.1"], ["2026-08-01T00:00:00.000Z", "2026-12-02T00:00:00.000Z"]);
  assert.is(firstSeenAt(ab, "10.0.0.1"), "2026-08-01T00:00:00.000Z");
  assert.is(firstSeenAt(ab, "10.0.0.9"), undefined);
});

test("onNewAddress tells once per new address, also after a restart on the same store", async () => {
  const store = memoryStore();
  const id = "tok_BBBBBBBBBBBBBBBB";
  const seen: NewAddress[] = [];
  const bus = createAudit([], quietLogger);
  const one = createUsageTracker({ store, bus, log: quietLogger });
  one.onNewAddress((e) => void seen.push(e));
  const auth = (address: string) => bus.emit({ type: "auth", outcome: "success", subject: "erin", tokenId: id, path: "/mcp", remoteAddress: address });
  auth("203.0.113.1");
  auth("203.0.113.1");
  await waitFor(() => seen.length === 1);
  auth("203.0.113.2");
  await waitFor(() => seen.length === 2);
  assert.equal(seen.map((e) => [e.address, e.known, e.user]), [["203.0.113.1", 0, "erin"], ["203.0.113.2", 1, "erin"]]);
  await one.close();
  const bus2 = createAudit([], quietLogger);
  const two = createUsageTracker({ store, bus: bus2, log: quietLogger });
  const later: NewAddress[] = [];
  two.onNewAddress((e) => void later.push(e));
  bus2.emit({ type: "auth", outcome: "success", subject: "erin", tokenId: id, path: "/mcp", remoteAddress: "203.0.113.2" });
  bus2.emit({ type: "auth", outcome: "success", subject: "erin", tokenId: id, path: "/mcp", remoteAddress: "203.0.113.3" });
  await waitFor(() => later.length === 1);
  await new Promise((r) => setTimeout(r, 50));
  assert.equal(later.map((e) => [e.address, e.known]), [["203.0.113.3", 2]]);
  await two.close();
});

function runCli(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const [command, base] = cliCommand();
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) if (v !== undefined && !k.startsWith("PORTCULLIS_")) env[k] = v;
  const root = new URL("../..", import.meta.url).pathname;
  const child = spawn(command, [...base, ...args], { cwd: root, env: { ...env, NO_COLOR: "1", PORTCULLIS_DATA_DIR: join(dir, "cli-data") }, stdio: ["ignore", "pipe", "pipe"] });
  let stdout = "";
  let stderr = "";
  child.stdout!.setEncoding("utf8").on("data", (d: string) => (stdout += d));
  child.stderr!.setEncoding("utf8").on("data", (d: string) => (stderr += d));
  return new Promise((resolve) => child.on("close", (code) => resolve({ code, stdout, stderr })));
}

test("the CLI prints a token's and a user's usage from a running gateway: table with sparkline, and --json", async () => {
  const config = join(dir, "gateway.json");
  await writeFile(config, JSON.stringify({ auth: { type: "bearer" }, mcpServers: { notes: { script: "examples/servers/notes.ts" } }, logLevel: "warn" }));
  const gw = await startCli(config, join(dir, "data"));
  try {
    const m = /\n {4}(pt_\w+)\n/.exec(gw.stderr());
    assert.ok(m, gw.stderr());
    const admin = m![1]!;
    const created = await fetch(`${gw.url}/v1/auth/tokens`, { method: "POST", headers: { authorization: `Bearer ${admin}`, "content-type": "application/json" }, body: JSON.stringify({ user: "frank", kind: "development" }) });
    const token = await created.json() as { id: string; token: string };
    assert.is(created.status, 201, JSON.stringify(token));
    const client = new Client({ name: "usage-test", version: "1" });
    await client.connect(new StreamableHTTPClientTransport(new URL(`${gw.url}/mcp`), { requestInit: { headers: bearerAuth(token.token) } }));
    try {
      await client.callTool({ name: "notes__echo", arguments: { message: "one" } });
      await client.callTool({ name: "notes__echo", arguments: { message: "two" } });
      await client.callTool({ name: "notes__list_notes", arguments: {} });
    } finally {
      await client.close();
    }
    const table = await runCli(["tokens", "usage", token.id, "--url", gw.url, "--admin-token", admin]);
    assert.is(table.code, 0, table.stderr);
    assert.match(table.stdout, `token ${token.id}  user frank  kind development  active`);
    assert.match(table.stdout, /from 127\.0\.0\.1/);
    assert.match(table.stdout, /calls per day \S+ \.\. \S+: ·{29}█\n/);
    assert.match(table.stdout, /total 3 call\(s\) in 90 days: 0 error\(s\), 0 denied/);
    assert.match(table.stdout, new RegExp(`notes\\s+echo\\s+2\\s+0\\s+0\\s+${today}`));
    assert.match(table.stdout, new RegExp(`notes\\s+list_notes\\s+1\\s+0\\s+0\\s+${today}`));
    assert.match(table.stdout, /127\.0\.0\.1\s+\d{4}-/);

    // The user's own token may ask for the user's usage; --json is the API's answer.
    const mine = await runCli(["usage", "--url", gw.url, "--admin-token", token.token, "--json"]);
    assert.is(mine.code, 0, mine.stderr);
    const report = JSON.parse(mine.stdout);
    assert.is(report.user, "frank");
    assert.equal(report.totals, { calls: 3, errors: 0, denied: 0 });
    assert.equal(report.tokens.map((t: { id: string }) => t.id), [token.id]);
    // Another user's is refused.
    const other = await runCli(["usage", "--user", "admin", "--url", gw.url, "--admin-token", token.token]);
    assert.is(other.code, 1);
    assert.match(other.stderr, /403 ERR_FORBIDDEN/);
  } finally {
    await gw.stop();
  }
});

test.run();
