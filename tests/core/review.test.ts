// Access reviews: `GET /v1/auth/review` and `portcullis review` list exactly the seeded problem
// credentials (each kind of problem, next to healthy, revoked and expired tokens that must not appear),
// as JSON, CSV and a table; parameters are validated by name; the IdP check is honest about what it knows.
import { suite } from "uvu";
import * as assert from "uvu/assert";
import type { AuthStrategy, GatewayConfig, TokenStore } from "../../core/mod.ts";
import { reviewCommand } from "../../core/cli/review.ts";
import { accessReview, REVIEW_DEFAULTS } from "../../core/tokens/review.ts";
import { resolveTokenPolicy } from "../../core/tokens/rotation-policy.ts";
import { parseDuration } from "../../core/tokens/duration.ts";
import { bearer, memoryStore, vault } from "../../plugins/mod.ts";
import { bearerAuth, harness, type Harness } from "../fixtures/in-process.ts";

const test = suite("access review");
const DAY = 86_400_000;
const MASTER = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";
const store = memoryStore();
// A user directory that can tell: alice exists, mallory left, anyone else it does not know about.
const directory: AuthStrategy = {
  name: "auth:directory",
  authenticate: () => undefined,
  knowsUser: (subject) => (subject === "alice" ? true : subject === "mallory" ? false : undefined),
};
const config = (): GatewayConfig => ({
  auth: [bearer(), directory],
  tokens: { store, rotateEvery: { ci: "6h" } },
  secrets: [vault({ masterKey: MASTER })],
  servers: {},
});
let h: Harness;
/** The seeded tokens by role, and the problems each must be listed with (none for the healthy ones). */
const expected = new Map<string, string[]>();
const ids: Record<string, string> = {};
let masterKeyId = "";

/** Creates a token through the API, then moves its dates in the store (the store is the source of truth). */
async function seed(label: string, problems: string[], body: Record<string, unknown>, dates: { created?: number; expires?: number; used?: number } = {}): Promise<string> {
  const t = await h.token({ user: "alice", expiresIn: "20d", ...body });
  const now = Date.now();
  const record = (await (store as TokenStore).get(t.id))!;
  await store.put({
    ...record,
    ...(dates.created === undefined ? {} : { createdAt: new Date(now + dates.created).toISOString() }),
    ...(dates.expires === undefined ? {} : { expiresAt: new Date(now + dates.expires).toISOString() }),
  });
  if (dates.used !== undefined) await store.addUsage([{ id: t.id, count: 1, lastUsedAt: new Date(now + dates.used).toISOString() }]);
  ids[label] = t.id;
  expected.set(t.id, problems);
  return t.id;
}

test.before(async () => {
  h = await harness(config());
  await seed("healthy", [], { kind: "development" });
  await seed("healthy-old", [], {}, { created: -40 * DAY, expires: 60 * DAY, used: -1 * DAY });
  await seed("never-used", ["unused"], {}, { created: -40 * DAY, expires: 60 * DAY });
  await seed("unused", ["unused"], {}, { created: -50 * DAY, expires: 60 * DAY, used: -45 * DAY });
  await seed("expiring", ["expiring"], { expiresIn: "3d" });
  await seed("over-long", ["lifetime-over-maximum"], { kind: "production", expiresIn: "7d" }, { created: -1 * DAY, expires: 29 * DAY });
  await seed("wildcard", ["wildcard-permissions"], { permissions: { servers: ["*"] } });
  await seed("admin", ["admin-scope"], { scopes: ["admin", "mcp:read"] });
  await seed("unknown-user", ["unknown-user"], { user: "mallory" });
  await seed("not-rotated", ["not-rotated"], {}, { created: -100 * DAY, expires: 300 * DAY, used: -1 * DAY });
  await seed("rotation-due", ["expiring", "rotation-due"], { kind: "ci", expiresIn: "24h" }, { created: -10 * 3_600_000, expires: 10 * 3_600_000 });
  // Revoked and expired tokens grant nothing: never listed, whatever else is wrong with them.
  const revoked = await seed("revoked", [], { scopes: ["admin"], user: "mallory" });
  assert.is((await h.api("DELETE", `/v1/auth/tokens/${revoked}`)).status, 200);
  await seed("expired", [], { permissions: { servers: ["*"] } }, { created: -200 * DAY, expires: -1 * DAY });
  // Vault secrets: one not changed for 120 days, one fresh.
  for (const name of ["OLD_SECRET", "FRESH_SECRET"]) assert.is((await h.api("PUT", `/v1/credentials/${name}`, { value: "s3cret-value" })).status, 200);
  const old = (await store.getItem("secret", "OLD_SECRET")) as Record<string, unknown>;
  await store.putItem("secret", "OLD_SECRET", { ...old, updatedAt: new Date(Date.now() - 120 * DAY).toISOString() });
  // The master key: in use for 200 days.
  const check = (await store.getItem("vault", "key-check")) as Record<string, unknown>;
  assert.type(check.since, "string", "the key check records since when its key is in use");
  await store.putItem("vault", "key-check", { ...check, since: new Date(Date.now() - 200 * DAY).toISOString() });
  masterKeyId = String(check.kid);
});
test.after(() => h.gateway.close());

function pairsOf(findings: Array<{ id: string; problem: string }>): string[] {
  return findings.map((f) => `${f.id} ${f.problem}`).sort();
}

function expectedPairs(tokensOnly = false): string[] {
  const pairs = [...expected].flatMap(([id, problems]) => problems.map((p) => `${id} ${p}`));
  if (!tokensOnly) pairs.push("OLD_SECRET not-rotated", `${masterKeyId} not-rotated`);
  return pairs.sort();
}

test("the JSON review lists exactly the seeded problems, and nothing of the healthy, revoked or expired tokens", async () => {
  const r = await h.api("GET", "/v1/auth/review?unusedDays=30&expiringDays=7");
  assert.is(r.status, 200, JSON.stringify(r.body));
  assert.equal(pairsOf(r.body.findings), expectedPairs());
  assert.equal(r.body.parameters, { unusedDays: 30, expiringDays: 7, notRotatedDays: 90 });
  assert.equal(r.body.userDirectory, { status: "checked", by: ["auth:directory"] });
  assert.equal(r.body.maxLifetimeSeconds, { development: 30 * 86400, production: 7 * 86400, ci: 86400 });
  assert.is(r.body.counts.expiring, 2);
  const overLong = r.body.findings.find((f: { id: string }) => f.id === ids["over-long"]);
  assert.equal({ user: overLong.user, kind: overLong.kind }, { user: "alice", kind: "production" });
  assert.match(overLong.detail, "lifetime 30d is over the 7d recommended for production tokens (tokens.maxLifetime.production)");
  const secret = r.body.findings.find((f: { id: string }) => f.id === "OLD_SECRET");
  assert.equal({ credential: secret.credential, detail: secret.detail }, { credential: "secret", detail: "vault secret not changed for 120 days" });
  // Parameters change what is found: with 60 unused days only the token unused for 45 days drops out... and never-used ones too young.
  const wider = await h.api("GET", "/v1/auth/review?unusedDays=60&expiringDays=1&notRotatedDays=365");
  const got = pairsOf(wider.body.findings);
  assert.not.ok(got.some((p) => p.endsWith(" unused")));
  assert.not.ok(got.includes(`${ids.expiring} expiring`));
  assert.ok(got.includes(`${ids["rotation-due"]} expiring`));
  assert.not.ok(got.some((p) => p.endsWith(" not-rotated")));
});

test("the CSV review has the same rows, quoted for spreadsheets", async () => {
  const res = await h.gateway.fetch(new Request("http://gateway.test/v1/auth/review?format=csv", { headers: bearerAuth("admin-token-for-in-process-tests-0123456789") }));
  assert.is(res.status, 200);
  assert.match(res.headers.get("content-type") ?? "", /^text\/csv/);
  const text = await res.text();
  const lines = text.split("\r\n");
  assert.is(lines.pop(), "", "CRLF after every row");
  assert.is(lines[0], "problem,credential,id,user,name,kind,detail,createdAt,lastUsedAt,expiresAt");
  // No cell here holds a quote or a line break, but details hold commas: those cells are quoted.
  const rows = lines.slice(1).map((line) => line.match(/("([^"]|"")*"|[^,]*)(,|$)/g)!.map((c) => c.replace(/,$/, "").replace(/^"(.*)"$/, "$1")));
  assert.equal(rows.map((r) => `${r[2]} ${r[0]}`).sort(), expectedPairs());
  const wildcard = rows.find((r) => r[2] === ids.wildcard)!;
  assert.equal(wildcard.slice(0, 7), ["wildcard-permissions", "token", ids.wildcard, "alice", "", "", "permissions with wildcards: *"]);
});

test("bad parameters are refused naming the parameter; non-admins are refused", async () => {
  for (const [query, name] of [["unusedDays=abc", "unusedDays"], ["expiringDays=-1", "expiringDays"], ["notRotatedDays=0", "notRotatedDays"], ["unusedDays=99999", "unusedDays"], ["format=xml", "format"], ["since=3", "since"]]) {
    const r = await h.api("GET", `/v1/auth/review?${query}`);
    assert.is(r.status, 400, query);
    assert.is(r.body.error.code, "ERR_BAD_REQUEST");
    assert.match(r.body.error.message, new RegExp(`^${name}: `), r.body.error.message);
  }
  const user = await h.token({ user: "alice" });
  const r = await h.api("GET", "/v1/auth/review", undefined, bearerAuth(user.token));
  assert.is(r.status, 403);
  assert.is((await h.api("POST", "/v1/auth/review")).status, 405);
});

test("portcullis review prints the table, CSV and JSON of the configured store; flags named in errors", async () => {
  const cli = { ...config(), secrets: [], audit: false as const };
  const table = await reviewCommand({}, async () => cli);
  assert.match(table, "users checked against: auth:directory");
  for (const [id, problems] of expected) {
    for (const p of problems) assert.match(table, new RegExp(`${p}\\s+${id}\\s`), `${p} ${id}`);
    if (problems.length === 0) assert.not.match(table, id);
  }
  const json = JSON.parse(await reviewCommand({ format: "json" }, async () => cli));
  assert.equal(pairsOf(json.findings), expectedPairs(true));
  const csv = await reviewCommand({ format: "csv", unusedDays: "60" }, async () => cli);
  assert.is(csv.split("\r\n").length, expectedPairs(true).length - 2 + 1);
  let message = "";
  try {
    await reviewCommand({ unusedDays: "soon" }, async () => cli);
  } catch (err) {
    message = (err as Error).message;
  }
  assert.match(message, /^--unused-days: expected a whole number of days/);
});

test("rotating the master key takes it off the review", async () => {
  const before = await h.api("GET", "/v1/auth/review");
  const key = before.body.findings.find((f: { credential: string }) => f.credential === "master-key");
  assert.equal({ id: key.id, detail: key.detail }, { id: masterKeyId, detail: "vault master key in use for 200 days (portcullis secrets rotate-key)" });
  const rotated = await h.api("POST", "/v1/credentials/rotate-key", { newKey: "ffeeddccbbaa99887766554433221100ffeeddccbbaa99887766554433221100" });
  assert.is(rotated.status, 200, JSON.stringify(rotated.body));
  const after = await h.api("GET", "/v1/auth/review");
  assert.not.ok(after.body.findings.some((f: { credential: string }) => f.credential === "master-key"));
  assert.ok(after.body.findings.some((f: { id: string }) => f.id === "OLD_SECRET"), "re-encrypting a secret is not changing it");
});

test("without a strategy that can tell, users the IdP no longer knows are reported as not determinable", async () => {
  const review = await accessReview({
    tokens: [],
    strategies: [bearer()],
    policy: resolveTokenPolicy(undefined, (v, fallback, path) => (v === undefined ? fallback : parseDuration(v, path))),
    params: REVIEW_DEFAULTS,
  });
  assert.is(review.userDirectory.status, "not-determinable");
  assert.equal(review.findings, []);
});

test.run();
