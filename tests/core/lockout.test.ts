// The failed-authentication defence (core/limits/lockout.ts): failures counted per client address and per
// presented credential, slowed, then refused with 429 and Retry-After, audited once, and an alert delivered
// to a real webhook receiver (an HTTP server in the test) with a valid HMAC signature.
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { createGateway, type AuditEvent, type AuditSink, type GatewayConfig } from "../../core/mod.ts";
import { bearer, memoryStore, webhookAudit } from "../../plugins/mod.ts";
import { quietLogger, startGateway, waitFor } from "../fixtures/helpers.ts";
import { hmacHex, webhookReceiver } from "../fixtures/webhook-receiver.ts";

const test = suite("lockout");
const ADMIN = "admin-token-for-lockout-tests-0123456789abcdef";
const HOOK_SECRET = "webhook-secret-for-lockout-tests";
const BASE = "http://gateway.test";

/** A bearer-shaped string no gateway issued: each call a different one (so no credential repeats). */
function badToken(): string {
  return `pt_${crypto.randomUUID().replace(/-/g, "")}bad`;
}

function inProcess(config: Partial<GatewayConfig>, events: AuditEvent[] = []) {
  const collect: AuditSink = { name: "audit:test", write: (e) => void events.push(e) };
  const gateway = createGateway({ logger: quietLogger, admin: { token: ADMIN, bootstrap: false }, auth: [bearer()], servers: {}, tokens: { store: memoryStore() }, audit: [collect], ...config });
  const whoami = (secret: string | undefined, remoteAddress: string | undefined) =>
    gateway.fetch(new Request(`${BASE}/v1/auth/whoami`, { headers: secret === undefined ? {} : { authorization: `Bearer ${secret}` } }), remoteAddress === undefined ? {} : { remoteAddress });
  const token = async (body: Record<string, unknown> = { user: "alice" }): Promise<{ id: string; token: string }> => {
    const res = await gateway.fetch(new Request(`${BASE}/v1/auth/tokens`, { method: "POST", headers: { authorization: `Bearer ${ADMIN}`, "content-type": "application/json" }, body: JSON.stringify(body) }), { remoteAddress: "192.0.2.250" });
    assert.is(res.status, 201);
    return await res.json();
  };
  return { gateway, whoami, token, events };
}

test("11 bad tokens from one address in a minute: slowed, then 429 with Retry-After, one lockout event, one signed alert; another address is unaffected", async () => {
  const hook = await webhookReceiver();
  const events: AuditEvent[] = [];
  const webhook = webhookAudit({ url: hook.url, secret: HOOK_SECRET, filter: ["alert"], backoffMs: 50, logger: quietLogger });
  const gw = await startGateway({
    auth: [bearer()],
    servers: {},
    tokens: { store: memoryStore() },
    admin: { token: ADMIN, bootstrap: false },
    audit: [{ name: "audit:test", write: (e) => void events.push(e) }, webhook],
    // Past 5 failures a minute an address is slowed, past 10 locked for 5 minutes (the default lock time).
    limits: { failedAuth: { slowAfter: 5, lockAfter: 10 } },
    alerts: [{ when: "auth.failed", count: 10, within: "1m", by: "address" }],
  });
  try {
    const mcp = (secret: string) => fetch(`${gw.url}/mcp`, {
      method: "POST",
      headers: { authorization: `Bearer ${secret}`, "content-type": "application/json", accept: "application/json, text/event-stream" },
      body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "tools/list" }),
    });
    const created = await gw.gateway.tokens.create({ user: "alice" }, "test");
    const times: number[] = [];
    for (let i = 1; i <= 10; i++) {
      const started = performance.now();
      const res = await mcp(badToken());
      await res.text();
      times.push(performance.now() - started);
      assert.is(res.status, 401, `attempt ${i} is still answered 401`);
    }
    // Failures 6 to 10 are answered late (250 ms, the default delay); the first five are not.
    for (let i = 5; i < 10; i++) assert.ok(times[i]! >= 200, `failure ${i + 1} was slowed (${times[i]} ms)`);
    // The first five are not slowed (the fastest of them shows it even on a busy machine).
    assert.ok(Math.min(...times.slice(0, 5)) < 250, `the first failures are not slowed (${times.map(Math.round)})`);

    const eleventh = await mcp(badToken());
    assert.is(eleventh.status, 429);
    const retryAfter = Number(eleventh.headers.get("retry-after"));
    assert.ok(retryAfter >= 299 && retryAfter <= 300, `Retry-After is the 5-minute lock (${retryAfter})`);
    const body = await eleventh.json();
    assert.is(body.error.data.code, "ERR_TOO_MANY_ATTEMPTS");

    // Locked means locked: even a valid credential from that address is refused, before any strategy runs.
    const valid = await mcp(created.secret);
    assert.is(valid.status, 429);
    await valid.text();
    const api = await fetch(`${gw.url}/v1/auth/whoami`, { headers: { authorization: `Bearer ${ADMIN}` } });
    assert.is(api.status, 429, "the admin API is behind the same lock");
    assert.ok(Number(api.headers.get("retry-after")) > 0);
    assert.is((await api.json()).error.code, "ERR_TOO_MANY_ATTEMPTS");

    // Another address (what the serving adapter hands over) is not affected, for good and bad credentials alike.
    const other = await gw.gateway.fetch(new Request(`${gw.url}/v1/auth/whoami`, { headers: { authorization: `Bearer ${created.secret}` } }), { remoteAddress: "198.51.100.7" });
    assert.is(other.status, 200);
    const otherBad = await gw.gateway.fetch(new Request(`${gw.url}/v1/auth/whoami`, { headers: { authorization: `Bearer ${badToken()}` } }), { remoteAddress: "198.51.100.7" });
    assert.is(otherBad.status, 401);

    const lockouts = events.filter((e) => e.type === "lockout");
    assert.is(lockouts.length, 1, "one lockout event");
    const lock = lockouts[0] as Extract<AuditEvent, { type: "lockout" }>;
    const address = (events.find((e) => e.type === "auth" && e.outcome === "failure") as { remoteAddress?: string }).remoteAddress;
    assert.ok(address && /127\.0\.0\.1|::1/.test(address), `the adapter's address was counted (${address})`);
    assert.is(lock.by, "address");
    assert.is(lock.remoteAddress, address);
    assert.is(lock.failures, 11);
    assert.ok(Date.parse(lock.until) - Date.now() > 290_000);
    assert.not.ok(JSON.stringify(events).includes(created.secret), "no secret in the audit trail");

    // Exactly one alert reaches the receiver, signed with HMAC-SHA256 of the exact body.
    await waitFor(() => hook.posts.length >= 1, 5000);
    await new Promise((r) => setTimeout(r, 300));
    await webhook.flush();
    assert.is(hook.posts.length, 1, "one alert, not one per failure");
    const post = hook.posts[0]!;
    assert.is(post.headers.get("portcullis-signature"), `sha256=${await hmacHex(HOOK_SECRET, post.body)}`);
    assert.is(post.headers.get("portcullis-event"), "alert");
    const alert = JSON.parse(post.body);
    assert.is(alert.type, "alert");
    assert.is(alert.rule, "auth.failed");
    assert.is(alert.count, 10);
    assert.is(alert.by, "address");
    assert.is(alert.key, address);
    assert.is(webhook.stats().sent, 1);
  } finally {
    await gw.close();
    await hook.close();
  }
});

test("the same bad credential from many addresses locks the credential, not the addresses", async () => {
  const g = inProcess({ limits: { failedAuth: { delayMs: 0, lockAfter: 10 } } });
  const revoked = await g.token();
  await g.gateway.tokens.revoke(revoked.id, "test");
  for (let i = 1; i <= 10; i++) assert.is((await g.whoami(revoked.token, `203.0.113.${i}`)).status, 401);
  const eleventh = await g.whoami(revoked.token, "203.0.113.11");
  assert.is(eleventh.status, 429);
  assert.is((await eleventh.json()).error.code, "ERR_TOO_MANY_ATTEMPTS");
  // From a twelfth address, before any strategy: the credential itself is locked.
  assert.is((await g.whoami(revoked.token, "203.0.113.12")).status, 429);
  // Those addresses are not locked: another credential from them works.
  const good = await g.token();
  assert.is((await g.whoami(good.token, "203.0.113.5")).status, 200);
  const lock = g.events.find((e) => e.type === "lockout") as Extract<AuditEvent, { type: "lockout" }>;
  assert.is(lock.by, "credential");
  assert.is(lock.tokenId, revoked.id, "the failures named the revoked token");
  assert.match(lock.credential!, /^sha256:[A-Za-z0-9_-]{16}$/);
  assert.not.ok(JSON.stringify(g.events).includes(revoked.token));
  await g.gateway.close();
});

test("a success never resets another address's count; requests without any credential are not attempts", async () => {
  const g = inProcess({ limits: { failedAuth: { slowAfter: 2, delayMs: 400, lockAfter: 4, within: "1m", lockFor: "30s" } } });
  const good = await g.token();
  for (let i = 0; i < 30; i++) assert.is((await g.whoami(undefined, "203.0.113.1")).status, 401, "no credential: 401, never counted");
  const times: number[] = [];
  for (let i = 1; i <= 4; i++) {
    const started = performance.now();
    assert.is((await g.whoami(badToken(), "203.0.113.1")).status, 401);
    times.push(performance.now() - started);
    // Another address succeeding between the failures changes nothing for this one.
    assert.is((await g.whoami(good.token, "203.0.113.2")).status, 200);
  }
  assert.ok(Math.min(times[0]!, times[1]!) < 400, `failures 1-2 are not slowed (${times})`);
  assert.ok(times[2]! >= 380 && times[3]! >= 380, `failures 3-4 are slowed (${times})`);
  const locked = await g.whoami(badToken(), "203.0.113.1");
  assert.is(locked.status, 429);
  const retryAfter = Number(locked.headers.get("retry-after"));
  assert.ok(retryAfter >= 29 && retryAfter <= 30, `lockFor 30s (${retryAfter})`);
  assert.is((await g.whoami(good.token, "203.0.113.2")).status, 200, "the other address still works");
  // Embedded use without an address: only credentials are counted.
  for (let i = 0; i < 12; i++) assert.is((await g.whoami(badToken(), undefined)).status, 401);
  await g.gateway.close();
});

test("defaults: 20 distinct bad credentials a minute lock an address; one stale credential retried locks only itself", async () => {
  const g = inProcess({ limits: { failedAuth: { delayMs: 1 } } });
  const good = await g.token();
  const stale = await g.token();
  await g.gateway.tokens.revoke(stale.id, "test");
  // A client retrying its revoked token in a loop: the token is refused with 429 past 20, the address is not locked.
  for (let i = 1; i <= 20; i++) assert.is((await g.whoami(stale.token, "203.0.113.20")).status, 401, `retry ${i}`);
  assert.is((await g.whoami(stale.token, "203.0.113.20")).status, 429);
  assert.is((await g.whoami(good.token, "203.0.113.20")).status, 200, "the address itself is not locked");
  // Twenty distinct bad credentials from one address are answered 401, the 21st 429.
  for (let i = 1; i <= 20; i++) assert.is((await g.whoami(badToken(), "203.0.113.21")).status, 401, `credential ${i}`);
  assert.is((await g.whoami(badToken(), "203.0.113.21")).status, 429);
  assert.is((await g.whoami(good.token, "203.0.113.21")).status, 429, "now the address is locked");
  const locks = g.events.filter((e) => e.type === "lockout") as Array<Extract<AuditEvent, { type: "lockout" }>>;
  assert.equal(locks.map((l) => l.by), ["credential", "address"]);
  await g.gateway.close();
});

test("limits: false (or failedAuth: false) turns the defence off", async () => {
  for (const limits of [false, { failedAuth: false }] as const) {
    const g = inProcess({ limits });
    for (let i = 0; i < 25; i++) assert.is((await g.whoami(badToken(), "203.0.113.9")).status, 401);
    assert.is(g.events.filter((e) => e.type === "lockout").length, 0);
    await g.gateway.close();
  }
});

test("bad limits settings are config errors naming the path", () => {
  const cases: Array<[unknown, RegExp]> = [
    [{ failedAuth: { lockAfter: 0 } }, /limits\.failedAuth\.lockAfter: expected a positive whole number/],
    [{ failedAuth: { within: "soon" } }, /limits\.failedAuth\.within: expected a duration/],
    [{ failedAuth: { delayMs: 60_000 } }, /limits\.failedAuth\.delayMs: expected milliseconds from 0 to 10000/],
    [{ failedAuth: { lockout: 3 } }, /limits\.failedAuth\.lockout: unknown key/],
    [{ token: "100 per minute" }, /limits\.token: expected a rate such as 100\/m/],
    [{ token: "0/m" }, /limits\.token: expected a rate such as 100\/m/],
    [{ server: { nowhere: "10/m" } }, /limits\.server\.nowhere: expected the name of a configured server/],
  ];
  for (const [limits, message] of cases) {
    try {
      createGateway({ logger: quietLogger, servers: {}, limits: limits as never });
      assert.unreachable(`accepted ${JSON.stringify(limits)}`);
    } catch (err) {
      assert.is((err as { code?: string }).code, "ERR_CONFIG", String(err));
      assert.match((err as Error).message, message);
    }
  }
});

test.run();
