// Alert rules (core/audit/alerts.ts) on the audit bus: counting rules fire once per window per key (address,
// user, token), per-event rules (lockout, admin actions) fire on each, token.used_from_new_address fires
// when a token shows up at an address it was never used from; every firing is an `alert` audit event.
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { createGateway, type AuditEvent, type GatewayConfig } from "../../core/mod.ts";
import { bearer, memoryStore } from "../../plugins/mod.ts";
import { quietLogger, waitFor } from "../fixtures/helpers.ts";

const test = suite("alerts");
const ADMIN = "admin-token-for-alert-tests-0123456789abcdef";
const BASE = "http://gateway.test";
type Alert = Extract<AuditEvent, { type: "alert" }>;

function badToken(): string {
  return `pt_${crypto.randomUUID().replace(/-/g, "")}bad`;
}

function setup(config: Partial<GatewayConfig>) {
  const events: AuditEvent[] = [];
  const gateway = createGateway({
    logger: quietLogger,
    admin: { token: ADMIN, bootstrap: false },
    auth: [bearer()],
    servers: {},
    tokens: { store: memoryStore() },
    audit: [{ name: "audit:test", write: (e) => void events.push(e) }],
    ...config,
  });
  const whoami = (secret: string | undefined, remoteAddress: string) =>
    gateway.fetch(new Request(`${BASE}/v1/auth/whoami`, { headers: secret === undefined ? {} : { authorization: `Bearer ${secret}` } }), { remoteAddress });
  const admin = (method: string, path: string, body?: unknown) =>
    gateway.fetch(new Request(BASE + path, { method, headers: { authorization: `Bearer ${ADMIN}`, "content-type": "application/json" }, body: body === undefined ? undefined : JSON.stringify(body) }), { remoteAddress: "192.0.2.1" });
  const alerts = (rule?: string) => events.filter((e): e is Alert => e.type === "alert" && (rule === undefined || e.rule === rule));
  // Alerts are judged off the request's path: a quiet moment lets the last ones arrive before counting.
  const settle = () => new Promise((r) => setTimeout(r, 150));
  return { gateway, events, whoami, admin, alerts, settle };
}

test("counting rules fire once per window for each address, token and user", async () => {
  const g = setup({
    limits: false,
    alerts: [
      { when: "auth.failed", name: "spray", count: 3, within: "1m", by: "address" },
      { when: "auth.failed", name: "stale-token", count: 4, within: "1m", by: "token", severity: "critical" },
      { when: "auth.failed", name: "user-failing", count: 2, within: "1m", by: "user" },
    ],
  });
  for (let i = 0; i < 7; i++) assert.is((await g.whoami(badToken(), "203.0.113.1")).status, 401);
  for (let i = 0; i < 2; i++) assert.is((await g.whoami(badToken(), "203.0.113.2")).status, 401);
  // No credential at all is no attempt.
  for (let i = 0; i < 5; i++) assert.is((await g.whoami(undefined, "203.0.113.3")).status, 401);
  const { record: { id }, secret } = await g.gateway.tokens.create({ user: "grace" }, "test");
  await g.gateway.tokens.revoke(id, "test");
  for (let i = 0; i < 6; i++) assert.is((await g.whoami(secret, `198.51.100.${i}`)).status, 401);
  await waitFor(() => g.alerts().length >= 3, 5000);
  await g.settle();

  const spray = g.alerts("spray");
  assert.is(spray.length, 1, "7 failures from one address: one alert, at the third");
  assert.is(spray[0]!.key, "203.0.113.1");
  assert.is(spray[0]!.count, 3);
  assert.is(spray[0]!.withinSeconds, 60);
  assert.is(spray[0]!.by, "address");
  assert.is(spray[0]!.severity, "warning");
  assert.is(spray[0]!.event?.type, "auth");
  assert.is(spray[0]!.remoteAddress, "203.0.113.1");

  const stale = g.alerts("stale-token");
  assert.is(stale.length, 1);
  assert.is(stale[0]!.key, id);
  assert.is(stale[0]!.tokenId, id);
  assert.is(stale[0]!.severity, "critical");

  const user = g.alerts("user-failing");
  assert.is(user.length, 1, "the revoked token's failures name its user through the record");
  assert.is(user[0]!.key, "grace");
  assert.not.ok(JSON.stringify(g.events).includes(secret), "no secret in any event");
  await g.gateway.close();
});

test("lockout and admin actions alert on each event", async () => {
  const g = setup({
    limits: { failedAuth: { lockAfter: 2, delayMs: 0 } },
    alerts: [{ when: "lockout", severity: "critical" }, { when: "admin.action", name: "admin" }],
  });
  for (let i = 0; i < 3; i++) await g.whoami(badToken(), "203.0.113.7");
  const created = await (await g.admin("POST", "/v1/auth/tokens", { user: "henry" })).json();
  assert.is((await g.admin("DELETE", `/v1/auth/tokens/${created.id}`)).status, 200);
  await waitFor(() => g.alerts().length >= 3, 5000);
  await g.settle();
  const lock = g.alerts("lockout");
  assert.is(lock.length, 1);
  assert.is(lock[0]!.severity, "critical");
  assert.is(lock[0]!.event?.type, "lockout");
  assert.is(lock[0]!.remoteAddress, "203.0.113.7");
  assert.match(lock[0]!.message, /address 203\.0\.113\.7 locked out/);
  const admin = g.alerts("admin");
  assert.equal(admin.map((a) => (a.event as { action?: string }).action), ["create", "revoke"]);
  assert.ok(admin.every((a) => !a.message.includes(created.token)));
  await g.gateway.close();
});

test("token.used_from_new_address: not on first use, once for each later new address", async () => {
  const g = setup({ limits: false, alerts: [{ when: "token.used_from_new_address", name: "new-address" }] });
  const { record: { id }, secret } = await g.gateway.tokens.create({ user: "ivy" }, "test");
  for (const address of ["203.0.113.10", "203.0.113.10", "203.0.113.11", "203.0.113.11", "203.0.113.10", "203.0.113.12"]) {
    assert.is((await g.whoami(secret, address)).status, 200);
    await g.settle();
  }
  const seen = g.alerts("new-address");
  assert.equal(seen.map((a) => a.remoteAddress), ["203.0.113.11", "203.0.113.12"]);
  assert.ok(seen.every((a) => a.tokenId === id && a.subject === "ivy" && a.key === id));
  await g.gateway.close();
});

test("bad alert rules are config errors naming the path", () => {
  const cases: Array<[unknown, RegExp]> = [
    [[{ when: "everything" }], /alerts\[0\]\.when: expected one of auth\.failed, /],
    [[{ when: "lockout" }, { when: "auth.failed", within: "5m" }], /alerts\[1\]\.count: expected a count with within or by/],
    [[{ when: "auth.failed", count: 0 }], /alerts\[0\]\.count: expected a positive whole number/],
    [[{ when: "auth.failed", count: 3, by: "planet" }], /alerts\[0\]\.by: expected "address", "user" or "token"/],
    [[{ when: "auth.failed", count: 3, within: "a while" }], /alerts\[0\]\.within: expected a duration/],
    [{ when: "lockout" }, /alerts: expected an array of alert rules/],
  ];
  for (const [alerts, message] of cases) {
    try {
      createGateway({ logger: quietLogger, servers: {}, alerts: alerts as never });
      assert.unreachable(`accepted ${JSON.stringify(alerts)}`);
    } catch (err) {
      assert.is((err as { code?: string }).code, "ERR_CONFIG", String(err));
      assert.match((err as Error).message, message);
    }
  }
});

test.run();
