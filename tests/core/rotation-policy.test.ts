// Token policies per kind: `tokens.maxLifetime` refuses over-long lifetimes at create (API and CLI, a 400
// naming the field and the maximum), and `tokens.rotateEvery` marks tokens due for rotation with the
// `Portcullis-Token-Rotate-By` response header and one audit event when they become due.
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { type AuditEvent, createGateway, type GatewayConfig, type TokenStore } from "../../core/mod.ts";
import { tokensCommand } from "../../core/cli/tokens.ts";
import { bearer, memoryStore } from "../../plugins/mod.ts";
import { inProcess } from "../../examples/custom-upstream.ts";
import { bearerAuth, echoServer, harness, type Harness } from "../fixtures/in-process.ts";
import { quietLogger, waitFor } from "../fixtures/helpers.ts";

const test = suite("rotation policy");
const HEADER = "portcullis-token-rotate-by";
const events: AuditEvent[] = [];
const store = memoryStore();
let h: Harness;

const config = (): GatewayConfig => ({
  auth: bearer(),
  tokens: { store, maxLifetime: { production: "3d" }, rotateEvery: { production: "2d", ci: "6h" } },
  audit: [{ name: "audit:test", write: (e) => void events.push(e) }],
  servers: { echo: inProcess({ label: "echo", build: () => echoServer("echo") }) },
});

test.before(async () => {
  h = await harness(config());
});
test.after(() => h.gateway.close());

const lifetimeHours = (t: { [k: string]: unknown }): number => (Date.parse(String(t.expiresAt)) - Date.parse(String(t.createdAt))) / 3_600_000;

test("an over-long lifetime for the token's kind is refused with a 400 naming expiresIn, the kind and its maximum", async () => {
  for (const [body, message] of [
    [{ user: "a", kind: "production", expiresIn: "7d" }, "expiresIn: at most 3d is allowed for production tokens (tokens.maxLifetime.production), received 7d"],
    // The defaults follow the guidance: CI/CD at most 24 hours, development at most 30 days.
    [{ user: "a", kind: "ci", expiresIn: "48h" }, "expiresIn: at most 24h is allowed for ci tokens (tokens.maxLifetime.ci), received 48h"],
    [{ user: "a", kind: "development", expiresIn: "31d" }, "expiresIn: at most 30d is allowed for development tokens (tokens.maxLifetime.development), received 31d"],
  ] as const) {
    const r = await h.api("POST", "/v1/auth/tokens", body);
    assert.is(r.status, 400, JSON.stringify(r.body));
    assert.is(r.body.error.code, "ERR_BAD_REQUEST");
    assert.is(r.body.error.message, message);
  }
  const bad = await h.api("POST", "/v1/auth/tokens", { user: "a", kind: "staging" });
  assert.is(bad.status, 400);
  assert.match(bad.body.error.message, /^kind: expected "development", "production" or "ci"/);
  // Within the limit, or without expiresIn (the default capped to the kind's maximum), it is created.
  assert.is(lifetimeHours(await h.token({ user: "a", kind: "production", expiresIn: "3d" })), 72);
  const ci = await h.token({ user: "a", kind: "ci" });
  assert.is(ci.kind, "ci");
  assert.is(lifetimeHours(ci), 24);
  assert.is(lifetimeHours(await h.token({ user: "a", kind: "development" })), 30 * 24);
  // A token without a kind has only the gateway-wide maximum.
  assert.is(lifetimeHours(await h.token({ user: "a", expiresIn: "60d" })), 60 * 24);
  // Rotation keeps the kind and never extends the lifetime.
  const rotated = await h.api("POST", `/v1/auth/tokens/${ci.id}/rotate`, {});
  assert.is(rotated.status, 201, JSON.stringify(rotated.body));
  assert.is(rotated.body.kind, "ci");
  assert.is(rotated.body.expiresAt, ci.expiresAt);
});

test("the CLI's --kind takes the same policy", async () => {
  const cli = { ...config(), audit: false as const };
  let error: Error | undefined;
  try {
    await tokensCommand("create", undefined, { user: "b", kind: "production", expiresIn: "5d" }, async () => cli);
  } catch (err) {
    error = err as Error;
  }
  assert.match(error?.message ?? "", /^expiresIn: at most 3d is allowed for production tokens/);
  const out = JSON.parse(await tokensCommand("create", undefined, { user: "b", kind: "production", json: true }, async () => cli));
  assert.is(out.kind, "production");
  assert.is(lifetimeHours(out), 72);
});

test("a token's responses carry Portcullis-Token-Rotate-By; becoming due is audited once, across restarts", async () => {
  const fresh = await h.token({ user: "carol", kind: "production", expiresIn: "3d" });
  const res = await h.gateway.fetch(new Request("http://gateway.test/v1/auth/whoami", { headers: bearerAuth(fresh.token) }));
  assert.is(res.status, 200);
  assert.is(res.headers.get(HEADER), new Date(Date.parse(String(fresh.createdAt)) + 2 * 86400_000).toUTCString());

  // A token created 50 hours ago is past its 2-day rotation: the store is the source of truth.
  const old = await h.token({ user: "dave", kind: "production", expiresIn: "3d" });
  const record = (await (store as TokenStore).get(old.id))!;
  const createdAt = new Date(Date.now() - 50 * 3_600_000).toISOString();
  await store.put({ ...record, createdAt });
  const due = new Date(Date.parse(createdAt) + 2 * 86400_000);
  for (let i = 0; i < 3; i++) {
    // On /mcp as on the API.
    const r = await h.rpc(bearerAuth(old.token), { id: 1, method: "tools/list" }, { era: "2026-07-28" });
    assert.is(r.status, 200);
    assert.is(r.headers.get(HEADER), due.toUTCString());
  }
  const dueEvents = () => events.filter((e) => e.type === "plugin" && e.action === "rotation_due");
  await waitFor(() => dueEvents().length === 1);
  const e = dueEvents()[0]!;
  assert.equal({ ...e, time: undefined }, {
    type: "plugin",
    plugin: "core:rotation-policy",
    action: "rotation_due",
    outcome: "ok",
    subject: "dave",
    detail: { tokenId: old.id, kind: "production", rotateBy: due.toISOString() },
    time: undefined,
  });

  // Another gateway process on the same store does not say it again.
  const other = createGateway({ ...config(), logger: quietLogger, admin: { bootstrap: false } });
  try {
    await other.ready();
    const r = await other.fetch(new Request("http://gateway.test/v1/auth/whoami", { headers: bearerAuth(old.token) }));
    assert.is(r.headers.get(HEADER), due.toUTCString());
    await new Promise((resolve) => setTimeout(resolve, 100));
    assert.is(dueEvents().length, 1);
  } finally {
    await other.close();
  }
});

test("no header for tokens whose kind has no rotateEvery, nor for tokens without a kind", async () => {
  for (const body of [{ user: "e", kind: "development" }, { user: "e" }]) {
    const t = await h.token(body);
    const r = await h.rpc(bearerAuth(t.token), { id: 1, method: "tools/list" }, { era: "2026-07-28" });
    assert.is(r.status, 200);
    assert.is(r.headers.get(HEADER), null);
  }
});

test("bad policies are config errors naming their path", () => {
  for (const [tokens, path] of [
    [{ maxLifetime: { prod: "3d" } }, "tokens.maxLifetime"],
    [{ rotateEvery: { ci: "soon" } }, "tokens.rotateEvery.ci"],
    [{ maxLifetime: { ci: "0h" } }, "tokens.maxLifetime.ci"],
  ] as const) {
    let message = "";
    try {
      createGateway({ servers: {}, logger: quietLogger, tokens: tokens as never });
    } catch (err) {
      message = (err as Error).message;
    }
    assert.match(message, path, message);
  }
});

test.run();
