// Rate limits on tool calls (core/limits/rate-limit.ts): per token (config default and a token's own
// `rateLimit` from its create body), per user and per server, answered 429 with Retry-After and a JSON-RPC
// error carrying ERR_RATE_LIMITED; exact under concurrency (32 real MCP clients racing for one budget).
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { Client, StreamableHTTPClientTransport } from "@modelcontextprotocol/client";
import type { AuditEvent, GatewayConfig } from "../../core/mod.ts";
import { inProcess } from "../../examples/custom-upstream.ts";
import { bearer, redisStore } from "../../plugins/mod.ts";
import { redisMissing, startRedis } from "../fixtures/redis-server.ts";
import { quietLogger, startGateway } from "../fixtures/helpers.ts";
import { bearerAuth, echoServer, harness, type Harness } from "../fixtures/in-process.ts";

const test = suite("rate limits");
const echo = (name: string) => inProcess({ label: name, build: () => echoServer(name) });

/** Windows start at multiples of their length: a test that must stay inside one waits out a boundary a few seconds away. */
async function awayFromBoundary(windowMs: number, needMs = 15_000): Promise<void> {
  const left = windowMs - (Date.now() % windowMs);
  if (left < needMs) await new Promise((r) => setTimeout(r, left + 50));
}

async function setup(config: Partial<GatewayConfig>): Promise<Harness & { events: AuditEvent[] }> {
  const events: AuditEvent[] = [];
  const h = await harness({ auth: [bearer()], servers: { alpha: echo("alpha"), beta: echo("beta") }, audit: [{ name: "audit:test", write: (e) => void events.push(e) }], ...config });
  return Object.assign(h, { events });
}

let nextId = 1;
async function shout(h: Harness, secret: string, tool = "alpha__shout", era: "2025-11-25" | "2026-07-28" = "2026-07-28", session?: string) {
  return await h.rpc(bearerAuth(secret), { id: nextId++, method: "tools/call", params: { name: tool, arguments: { message: "hi" } } }, { era, ...(session ? { session } : {}) });
}

test("a token's own rateLimit from the create body: exactly its budget, then 429 with Retry-After and a JSON-RPC error", async () => {
  await awayFromBoundary(3_600_000);
  const h = await setup({});
  const limited = await h.token({ user: "alice", rateLimit: "5/h" });
  assert.is(limited.rateLimit, "5/h", "the record shows its rate limit");
  const free = await h.token({ user: "alice" });
  const answers = await Promise.all(Array.from({ length: 12 }, () => shout(h, limited.token)));
  const ok = answers.filter((a) => a.status === 200 && a.body.result);
  const refused = answers.filter((a) => a.status === 429);
  assert.is(ok.length, 5, "exactly the budget got through");
  assert.is(refused.length, 7);
  for (const r of refused) {
    assert.is(r.body.jsonrpc, "2.0");
    assert.is(typeof r.body.id, "number", "the error answers the request's own id");
    assert.is(r.body.error.data.code, "ERR_RATE_LIMITED");
    const retryAfter = Number(r.headers.get("retry-after"));
    assert.ok(retryAfter >= 1 && retryAfter <= 3600, `Retry-After within the hour window (${retryAfter})`);
    assert.is(r.body.error.data.retryAfter, retryAfter);
  }
  // Another token of the same user has no limit of its own and none is configured.
  for (let i = 0; i < 8; i++) assert.is((await shout(h, free.token)).status, 200);
  // Lists and other methods are not tool calls: never counted.
  assert.is((await h.rpc(bearerAuth(limited.token), { id: nextId++, method: "tools/list" }, { era: "2026-07-28" })).status, 200);
  const events = h.events.filter((e) => e.type === "rate_limit") as Array<Extract<AuditEvent, { type: "rate_limit" }>>;
  assert.is(events.length, 1, "the first refusal of the window is audited, once");
  assert.is(events[0]!.scope, "token");
  assert.is(events[0]!.tokenId, limited.id);
  assert.is(events[0]!.limit, "5/h");
  // A bad rate in the create body is refused naming the field.
  const bad = await h.api("POST", "/v1/auth/tokens", { user: "x", rateLimit: "lots" });
  assert.is(bad.status, 400);
  assert.match(bad.body.error.message, /^rateLimit: expected a rate such as 100\/m/);
  // Rotation keeps the limit.
  const rotated = await h.api("POST", `/v1/auth/tokens/${limited.id}/rotate`, {});
  assert.is(rotated.body.rateLimit, "5/h");
  await h.gateway.close();
});

test("per-user and per-server budgets, in both eras and on the session's direct path", async () => {
  await awayFromBoundary(3_600_000);
  const h = await setup({ limits: { user: "6/h", server: { beta: "3/h" } } });
  const a1 = await h.token({ user: "carol" });
  const a2 = await h.token({ user: "carol" });
  const other = await h.token({ user: "dave" });
  const session = await h.open(bearerAuth(a1.token));
  // carol's two tokens share her budget of 6, whatever era or path the calls take.
  const statuses: number[] = [];
  for (let i = 0; i < 4; i++) statuses.push((await shout(h, a1.token, "alpha__shout", "2025-11-25", session)).status);
  for (let i = 0; i < 4; i++) statuses.push((await shout(h, a2.token)).status);
  assert.equal(statuses, [200, 200, 200, 200, 200, 200, 429, 429]);
  // beta takes 3 calls an hour from everyone together.
  const beta = await Promise.all(Array.from({ length: 6 }, () => shout(h, other.token, "beta__shout")));
  assert.is(beta.filter((a) => a.status === 200).length, 3);
  const refused = beta.find((a) => a.status === 429)!;
  assert.match(refused.body.error.message, /server 'beta'/);
  // dave's refused beta calls were given back to his user budget: 3 of 6 used, so alpha still answers.
  assert.is((await shout(h, other.token)).status, 200);
  const scopes = h.events.filter((e) => e.type === "rate_limit").map((e) => (e as { scope: string }).scope).sort();
  assert.equal(scopes, ["server", "user"]);
  await h.gateway.close();
});

test("the rate limit holds under 32 concurrent real MCP clients: exactly the budget gets through", async () => {
  await awayFromBoundary(3_600_000);
  const events: AuditEvent[] = [];
  const gw = await startGateway({
    auth: [bearer()],
    servers: { alpha: echo("alpha") },
    audit: [{ name: "audit:test", write: (e) => void events.push(e) }],
    limits: { server: "40/h" },
    logger: quietLogger,
  });
  const clients: Client[] = [];
  try {
    await Promise.all(Array.from({ length: 32 }, async (_, i) => {
      const { secret } = await gw.gateway.tokens.create({ user: `user${i}` }, "test");
      const client = new Client({ name: `client-${i}`, version: "1.0.0" }, { versionNegotiation: { mode: "legacy" } });
      await client.connect(new StreamableHTTPClientTransport(new URL(`${gw.url}/mcp`), { requestInit: { headers: { authorization: `Bearer ${secret}` } } }));
      clients.push(client);
    }));
    // Every client fires three calls at once: 96 calls race for 40.
    const outcomes = await Promise.all(clients.flatMap((client) =>
      [0, 1, 2].map(() => client.callTool({ name: "alpha__shout", arguments: { message: "race" } }).then(
        (r) => (r.isError ? "tool-error" : "ok"),
        (err: Error) => (/429|ERR_RATE_LIMITED/.test(String(err?.message)) ? "limited" : `other: ${err?.message}`),
      ))
    ));
    const count = (what: string) => outcomes.filter((o) => o === what).length;
    assert.is(count("ok"), 40, `exactly the budget got through: ${JSON.stringify(outcomes.filter((o) => o.startsWith("other")).slice(0, 3))}`);
    assert.is(count("limited"), 56);
    // What reached the upstream, by the audit trail: 40 calls, no more.
    assert.is(events.filter((e) => e.type === "tool_call" && e.outcome === "ok").length, 40);
    assert.is(events.filter((e) => e.type === "rate_limit").length, 1);
  } finally {
    await Promise.all(clients.map((c) => c.close().catch(() => undefined)));
    await gw.close();
  }
});

test("tool calls POSTed to a legacy SSE session (/messages) are charged to the same budgets", async () => {
  await awayFromBoundary(3_600_000);
  const h = await setup({});
  const limited = await h.token({ user: "erin", rateLimit: "2/h" });
  const stream = await h.gateway.fetch(new Request("http://gateway.test/sse", { headers: bearerAuth(limited.token) }));
  assert.is(stream.status, 200);
  const reader = stream.body!.getReader();
  let seen = "";
  while (!/data: (\S+)/.test(seen)) seen += new TextDecoder().decode((await reader.read()).value);
  const endpoint = /data: (\S+)/.exec(seen)![1]!;
  const statuses: number[] = [];
  for (let i = 0; i < 3; i++) {
    const res = await h.gateway.fetch(new Request(`http://gateway.test${endpoint}`, {
      method: "POST",
      headers: { ...bearerAuth(limited.token), "content-type": "application/json" },
      body: JSON.stringify({ jsonrpc: "2.0", id: 50 + i, method: "tools/call", params: { name: "alpha__shout", arguments: { message: "hi" } } }),
    }));
    statuses.push(res.status);
    if (res.status === 429) assert.is((await res.json()).error.data.code, "ERR_RATE_LIMITED");
    else await res.body?.cancel();
  }
  assert.equal(statuses, [202, 202, 429]);
  await reader.cancel();
  await h.gateway.close();
});

test("a configured token default, and limits: false", async () => {
  await awayFromBoundary(60_000, 5_000);
  const h = await setup({ limits: { token: "2/m" } });
  const t = await h.token({ user: "erin" });
  const own = await h.token({ user: "erin", rateLimit: "4/m" });
  assert.equal(await Promise.all([1, 2, 3].map(async () => (await shout(h, t.token)).status)), [200, 200, 429]);
  assert.is((await Promise.all([1, 2, 3, 4, 5].map(async () => (await shout(h, own.token)).status))).filter((s) => s === 200).length, 4, "a token's own rate wins over limits.token");
  await h.gateway.close();
  const off = await setup({ limits: false });
  const capped = await off.token({ user: "frank", rateLimit: "1/h" });
  // With every limit off, not even a token's own rate applies.
  for (let i = 0; i < 3; i++) assert.is((await shout(off, capped.token)).status, 200);
  await off.gateway.close();
});

test("two gateways on one Redis share budgets and lockouts: counts add up across processes", async () => {
  if (redisMissing) return console.log(`  skipped: ${redisMissing}`);
  await awayFromBoundary(3_600_000);
  const redis = await startRedis();
  const master = btoa(String.fromCharCode(...crypto.getRandomValues(new Uint8Array(32))));
  const events: AuditEvent[] = [];
  const make = () => harness({
    auth: [bearer()],
    tokens: { store: redisStore({ url: redis.url, prefix: "limits:" }) },
    keys: { masterKey: master },
    servers: { alpha: echo("alpha") },
    audit: [{ name: "audit:test", write: (e) => void events.push(e) }],
    limits: { server: "30/h", failedAuth: { lockAfter: 10, delayMs: 0 } },
  });
  const [a, b] = await Promise.all([make(), make()]);
  try {
    const { token } = await a.token({ user: "gina" });
    const answers = await Promise.all(Array.from({ length: 64 }, (_, i) => shout(i % 2 === 0 ? a : b, token)));
    assert.is(answers.filter((r) => r.status === 200).length, 30, "30 an hour between the two, not 30 each");
    assert.is(answers.filter((r) => r.status === 429).length, 34);
    assert.is(events.filter((e) => e.type === "rate_limit").length, 1, "audited once between them");

    // Failures at either gateway count for the address: the 11th, wherever it lands, is refused.
    const bad = (g: Harness) => g.gateway.fetch(new Request("http://gateway.test/v1/auth/whoami", { headers: { authorization: `Bearer pt_${crypto.randomUUID().replace(/-/g, "")}` } }), { remoteAddress: "203.0.113.99" });
    for (let i = 0; i < 10; i++) assert.is((await bad(i % 2 === 0 ? a : b)).status, 401);
    assert.is((await bad(b)).status, 429);
    assert.is((await bad(a)).status, 429, "the other process locks on its next failure from that address");
    assert.is(events.filter((e) => e.type === "lockout").length, 1, "one lockout event between them");
  } finally {
    await a.gateway.close();
    await b.gateway.close();
    await redis.close();
  }
});

test.run();
