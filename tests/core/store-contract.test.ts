// One contract, every kind of store: the default memoryStore() (a key-value store run through
// deriveStore), the embedded fileStore() (a full token store) and the custom key-value store of
// examples/custom-store.ts (written from the public surface only). Tokens go through a real gateway and
// its HTTP API; items, atomic takes and usage counters are checked on the store the gateway uses.
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createGateway, hashSecret, type KeyValueStore, type TokenStore } from "../../core/mod.ts";
import { asTokenStore, storeKind } from "../../core/tokens/derive-store.ts";
import { jsonFileStore } from "../../examples/custom-store.ts";
import { bearer, fileStore, memoryStore, redisStore } from "../../plugins/mod.ts";
import { quietLogger } from "../fixtures/helpers.ts";
import { type RedisServer, redisMissing, startRedis } from "../fixtures/redis-server.ts";

const ADMIN = "admin-token-for-store-contract-tests-0123456789";

interface Subject {
  name: string;
  kind: "token-store" | "key-value";
  /** Whether what was written is there again for a new instance on the same place. */
  persistent: boolean;
  make(dir: string): TokenStore | KeyValueStore;
}

const SUBJECTS: Subject[] = [
  { name: "memoryStore()", kind: "token-store", persistent: false, make: () => memoryStore() },
  { name: "fileStore()", kind: "token-store", persistent: true, make: (dir) => fileStore({ dir }) },
  { name: "jsonFileStore() from examples/custom-store.ts", kind: "key-value", persistent: true, make: (dir) => jsonFileStore({ path: join(dir, "store.json") }) },
];
// The Redis store against a real redis-server (started once for its suite); each directory name is a prefix.
let redis: RedisServer | undefined;
const REDIS_SUBJECT = "redisStore() on a real redis-server";
if (!redisMissing) SUBJECTS.push({ name: REDIS_SUBJECT, kind: "key-value", persistent: true, make: (dir) => redisStore({ url: redis!.url, prefix: `${dir}:` }) });
else console.warn(`store-contract: redisStore() skipped: ${redisMissing}`);
// A store shared by several processes shares the signing keys, sealed under a master key.
const MASTER_KEY = btoa(String.fromCharCode(...crypto.getRandomValues(new Uint8Array(32))));

function gatewayOver(store: TokenStore | KeyValueStore): ReturnType<typeof createGateway> {
  return createGateway({ logger: quietLogger, auth: [bearer()], admin: { token: ADMIN, bootstrap: false }, tokens: { store }, keys: { masterKey: MASTER_KEY }, servers: {} });
}

async function call(gw: ReturnType<typeof createGateway>, method: string, path: string, token: string, body?: unknown): Promise<{ status: number; body: any }> {
  const res = await gw.fetch(new Request(`http://127.0.0.1:8787${path}`, {
    method,
    headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { "content-type": "application/json" }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  }));
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : {} };
}

for (const subject of SUBJECTS) {
  const test = suite(`store-contract: ${subject.name}`);
  let tmp: string;
  let n = 0;
  const freshDir = (): string => join(tmp, `s${n++}`);
  /** A store opened on its own, as the gateway would use it. */
  async function opened(dir = freshDir()): Promise<TokenStore> {
    const store = asTokenStore(subject.make(dir));
    await store.open?.();
    return store;
  }

  test.before(async () => {
    tmp = await mkdtemp(join(tmpdir(), "portcullis-store-contract-"));
    if (subject.name === REDIS_SUBJECT) redis = await startRedis();
  });
  test.after(async () => {
    await rm(tmp, { recursive: true, force: true });
    if (subject.name === REDIS_SUBJECT) await redis?.close();
  });

  test("the gateway recognises the store by its hooks and accepts it", () => {
    const raw = subject.make(freshDir());
    assert.is(storeKind(raw), subject.kind);
    const gw = gatewayOver(raw);
    // A full store is used as it is; a key-value store gets the rest derived.
    assert.is(gw.config.tokens.store === raw, subject.kind === "token-store");
    assert.type(gw.config.tokens.store.findByHash, "function");
    return gw.close();
  });

  test("tokens are created, verified, rotated and revoked through a real gateway; findByHash follows a rotation", async () => {
    const gw = gatewayOver(subject.make(freshDir()));
    try {
      const store = gw.config.tokens.store;
      const created = await call(gw, "POST", "/v1/auth/tokens", ADMIN, { user: "alice", team: "platform", scopes: ["mcp:read"] });
      assert.is(created.status, 201, JSON.stringify(created.body));
      const first = created.body as { id: string; token: string };
      const me = await call(gw, "GET", "/v1/auth/whoami", first.token);
      assert.is(me.status, 200, JSON.stringify(me.body));
      assert.is(me.body.subject, "alice");
      assert.is(me.body.tokenId, first.id);

      const stored = await store.findByHash(await hashSecret(first.token));
      assert.is(stored?.id, first.id);
      assert.is(stored?.team, "platform");
      assert.not.ok(JSON.stringify(await store.list()).includes(first.token.slice(3)), "the store holds no secret");

      const rotated = await call(gw, "POST", `/v1/auth/tokens/${first.id}/rotate`, ADMIN, {});
      assert.is(rotated.status, 201, JSON.stringify(rotated.body));
      const second = rotated.body as { id: string; token: string };
      assert.is.not(second.id, first.id);
      assert.is((await call(gw, "GET", "/v1/auth/whoami", second.token)).status, 200);
      const old = await call(gw, "GET", "/v1/auth/whoami", first.token);
      assert.is(old.status, 401);
      assert.is(old.body.error.code, "ERR_TOKEN_REVOKED");

      const successor = await store.findByHash(await hashSecret(second.token));
      assert.is(successor?.id, second.id);
      assert.is(successor?.rotatedFrom, first.id);
      const predecessor = await store.findByHash(await hashSecret(first.token));
      assert.is(predecessor?.id, first.id, "the old secret still finds its (revoked) record");
      assert.is(predecessor?.rotatedTo, second.id);
      assert.ok(predecessor?.revokedAt);

      const revoked = await call(gw, "DELETE", `/v1/auth/tokens/${second.id}`, ADMIN);
      assert.is(revoked.status, 200, JSON.stringify(revoked.body));
      const gone = await call(gw, "GET", "/v1/auth/whoami", second.token);
      assert.is(gone.status, 401);
      assert.is(gone.body.error.code, "ERR_TOKEN_REVOKED");
      assert.ok((await store.get(second.id))?.revokedAt, "the revocation is stored");

      const listed = await call(gw, "GET", "/v1/auth/tokens", ADMIN);
      assert.equal(listed.body.tokens.map((t: { id: string }) => t.id).sort(), [first.id, second.id].sort());
      assert.ok(listed.body.tokens.every((t: { state: string }) => t.state === "revoked"));
      assert.is((await store.findByHash(await hashSecret("pt_not-a-stored-secret"))), undefined);
    } finally {
      await gw.close();
    }
  });

  test("usage counts reach the store on flush; concurrent usage writers lose nothing", async () => {
    const gw = gatewayOver(subject.make(freshDir()));
    try {
      const store = gw.config.tokens.store;
      const { body } = await call(gw, "POST", "/v1/auth/tokens", ADMIN, { user: "bob" });
      for (let i = 0; i < 3; i++) assert.is((await call(gw, "GET", "/v1/auth/whoami", body.token)).status, 200);
      await gw.tokens.flush();
      const flushed = await store.get(body.id);
      assert.is(flushed?.useCount, 3);
      assert.ok(!Number.isNaN(Date.parse(flushed!.lastUsedAt!)));

      // As if 40 gateways flushed at once: every count arrives, and the latest use wins.
      const base = Date.parse(flushed!.lastUsedAt!);
      const stamps = Array.from({ length: 40 }, (_, i) => new Date(base + 1000 * (i + 1)).toISOString());
      await Promise.all(stamps.map((lastUsedAt) => store.addUsage([{ id: body.id, count: 2, lastUsedAt }])));
      await store.addUsage([{ id: "tok_0000000000000000", count: 5, lastUsedAt: stamps[0]! }]);
      const after = await store.get(body.id);
      assert.is(after?.useCount, 83);
      assert.is(after?.lastUsedAt, stamps.at(-1));
      assert.is(await store.get("tok_0000000000000000"), undefined, "usage of an unknown token creates nothing");
      assert.is((await store.findByHash(await hashSecret(body.token)))?.useCount, 83);
      assert.is((await store.list()).find((r) => r.id === body.id)?.useCount, 83);
      // A revoke after all that keeps the counts, and the API shows them.
      assert.is((await call(gw, "DELETE", `/v1/auth/tokens/${body.id}`, ADMIN)).status, 200);
      const shown = await call(gw, "GET", `/v1/auth/tokens/${body.id}`, ADMIN);
      assert.is(shown.body.useCount, 83);
      assert.is(shown.body.state, "revoked");
    } finally {
      await gw.close();
    }
  });

  test("items: get, put, take and list by kind; values go in and out as copies", async () => {
    const store = await opened();
    try {
      const value = { n: 1, tags: ["a"] };
      await store.putItem("contract:one", "a", value);
      value.tags.push("changed after put");
      await store.putItem("contract:one", "b", { n: 2 });
      await store.putItem("contract:two", "a", { n: 3 });
      const got = (await store.getItem("contract:one", "a")) as { n: number; tags: string[] };
      assert.equal(got, { n: 1, tags: ["a"] });
      got.tags.push("changed after get");
      assert.equal(await store.getItem("contract:one", "a"), { n: 1, tags: ["a"] });
      const listed = (await store.listItems("contract:one")).sort((x, y) => x.key.localeCompare(y.key));
      assert.equal(listed, [{ key: "a", value: { n: 1, tags: ["a"] } }, { key: "b", value: { n: 2 } }]);
      assert.equal(await store.listItems("contract:none"), []);
      assert.is(await store.getItem("contract:one", "missing"), undefined);

      await store.putItem("contract:one", "a", { n: 10 });
      assert.equal(await store.getItem("contract:one", "a"), { n: 10 }, "a put replaces");
      assert.equal(await store.takeItem("contract:one", "a"), { n: 10 });
      assert.is(await store.getItem("contract:one", "a"), undefined);
      assert.is(await store.takeItem("contract:one", "a"), undefined);
      assert.equal(await store.getItem("contract:two", "a"), { n: 3 }, "kinds are separate");
      assert.equal((await store.listItems("contract:one")).map((i) => i.key), ["b"]);
      assert.equal(await store.list(), [], "items are not tokens");
    } finally {
      await store.close();
    }
  });

  test("of two concurrent takes of one item exactly one gets it; concurrent puts all land", async () => {
    const store = await opened();
    try {
      await Promise.all(Array.from({ length: 50 }, (_, i) => store.putItem("contract:race", `k${i}`, { i })));
      assert.is((await store.listItems("contract:race")).length, 50);
      const pairs = await Promise.all(Array.from({ length: 50 }, (_, i) => Promise.all([store.takeItem("contract:race", `k${i}`), store.takeItem("contract:race", `k${i}`)])));
      for (const [i, [a, b]] of pairs.entries()) {
        assert.is([a, b].filter((v) => v !== undefined).length, 1, `item k${i} was taken ${a && b ? "twice" : "by nobody"}`);
        assert.equal(a ?? b, { i });
      }
      assert.equal(await store.listItems("contract:race"), []);
    } finally {
      await store.close();
    }
  });

  if (subject.persistent) {
    test("what was acknowledged is there for a new instance after close", async () => {
      const dir = freshDir();
      const gw = gatewayOver(subject.make(dir));
      const { body } = await call(gw, "POST", "/v1/auth/tokens", ADMIN, { user: "carol" });
      await call(gw, "GET", "/v1/auth/whoami", body.token);
      await gw.config.tokens.store.putItem("contract:kept", "x", { kept: true });
      await gw.close();

      const again = gatewayOver(subject.make(dir));
      try {
        const me = await call(again, "GET", "/v1/auth/whoami", body.token);
        assert.is(me.status, 200, JSON.stringify(me.body));
        assert.is(me.body.subject, "carol");
        const store = again.config.tokens.store;
        assert.is((await store.get(body.id))?.useCount, 1, "usage flushed at close is kept");
        assert.equal(await store.getItem("contract:kept", "x"), { kept: true });
      } finally {
        await again.close();
      }
    });
  }

  test.run();
}
