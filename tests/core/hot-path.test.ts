// The lean hot path stays correct: the synchronous SHA-256 agrees with WebCrypto, the verification
// cache never answers for a revoked, rotated or expired credential, and the JSONL sink drops the oldest
// events (counted) when the disk falls behind.
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createAudit } from "../../core/audit/bus.ts";
import type { AuditEvent } from "../../core/audit/events.ts";
import { permissionPolicy } from "../../core/auth/permissions.ts";
import { hashSecret, hashSecretSync, newSecret, wellFormed } from "../../core/tokens/secret.ts";
import { createTokenService, identityOf } from "../../core/tokens/service.ts";
import type { TokenService } from "../../core/types.ts";
import { createSigningKeys } from "../../core/tokens/signing-keys.ts";
import { sha256 } from "../../core/tokens/sha256.ts";
import type { TokenRecord, TokenStore } from "../../core/tokens/types.ts";
import { jsonlAudit } from "../../plugins/audit/jsonl.ts";
import { memoryStore } from "../../plugins/stores/memory.ts";
import { quietLogger } from "../fixtures/helpers.ts";

const test = suite("hot-path");

async function webCryptoHash(text: string): Promise<string> {
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text)));
  let bin = "";
  for (const b of digest) bin += String.fromCharCode(b);
  return btoa(bin).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

/** A store that counts lookups, so a test can tell a cache hit from a store read. */
function countingStore(): TokenStore & { lookups: number } {
  const inner = memoryStore();
  const store = {
    ...inner,
    lookups: 0,
    findByHash(hash: string): Promise<TokenRecord | undefined> {
      store.lookups++;
      return inner.findByHash(hash);
    },
  };
  return store;
}

function service(store: TokenStore, verifyCacheMs = 60_000): TokenService {
  return createTokenService({ store, audit: createAudit([], quietLogger), log: quietLogger, verifyCacheMs, usageFlushMs: 3_600_000 });
}

test("SHA-256 matches WebCrypto for tokens, block boundaries, long and non-ASCII input", async () => {
  const inputs = ["", "abc", newSecret("pt_"), newSecret("pk_"), "é€😀", "x".repeat(100_003)];
  for (let n = 50; n <= 130; n++) inputs.push("a".repeat(n), "ü".repeat(n));
  for (const text of inputs) assert.is(hashSecretSync(text), await webCryptoHash(text), `length ${text.length}`);
  assert.is(await hashSecret("abc"), await webCryptoHash("abc"));
  // The FIPS 180-4 example: SHA-256("abc") = ba7816bf ...
  assert.equal([...sha256("abc").slice(0, 4)], [0xba, 0x78, 0x16, 0xbf]);
});

test("wellFormed accepts real secrets and rejects corrupted ones", () => {
  for (let i = 0; i < 200; i++) {
    const s = newSecret(i % 2 ? "pt_" : "pk_");
    assert.ok(wellFormed(s, i % 2 ? "pt_" : "pk_"));
    const at = 3 + (i % 49);
    const flipped = s.slice(0, at) + (s[at] === "A" ? "B" : "A") + s.slice(at + 1);
    assert.not.ok(wellFormed(flipped, i % 2 ? "pt_" : "pk_"), flipped);
    assert.not.ok(wellFormed(s.slice(0, -1), i % 2 ? "pt_" : "pk_"));
  }
  assert.not.ok(wellFormed("pt_" + "!".repeat(43) + "000000", "pt_"));
});

test("a cached token is answered from memory, and revoking it takes effect on the very next verify", async () => {
  const store = countingStore();
  const tokens = service(store);
  const { record, secret } = await tokens.create({ user: "alice" }, "test");
  assert.ok((await tokens.verify(secret, "token")).ok);
  const before = store.lookups;
  for (let i = 0; i < 5; i++) assert.ok((await tokens.verify(secret, "token")).ok);
  assert.is(store.lookups, before, "served from the cache");
  await tokens.revoke(record.id, "test");
  const r = await tokens.verify(secret, "token");
  assert.is(r.ok, false);
  assert.is(!r.ok && r.code, "ERR_TOKEN_REVOKED");
  await tokens.close();
});

test("a verify racing a revoke does not put the old record back into the cache", async () => {
  const inner = memoryStore();
  let gate: (() => void) | undefined;
  let hold = false;
  const store: TokenStore = {
    ...inner,
    async findByHash(hash) {
      const r = await inner.findByHash(hash);
      if (hold) await new Promise<void>((resolve) => (gate = resolve));
      return r;
    },
  };
  const tokens = service(store);
  const { record, secret } = await tokens.create({ user: "bob" }, "test");
  hold = true;
  const racing = tokens.verify(secret, "token");
  await new Promise((r) => setTimeout(r, 5));
  hold = false;
  await tokens.revoke(record.id, "test");
  gate!();
  assert.ok((await racing).ok, "the request that was already in flight passes");
  const after = await tokens.verify(secret, "token");
  assert.is(!after.ok && after.code, "ERR_TOKEN_REVOKED");
  await tokens.close();
});

test("rotation without grace kills the old secret at once; with grace, at the end of the grace", async () => {
  const tokens = service(memoryStore());
  const a = await tokens.create({ user: "carol" }, "test");
  assert.ok((await tokens.verify(a.secret, "token")).ok);
  const b = await tokens.rotate(a.record.id, 0, "test");
  assert.is((await tokens.verify(a.secret, "token")).ok, false);
  assert.ok((await tokens.verify(b.secret, "token")).ok);
  const c = await tokens.rotate(b.record.id, 1, "test");
  assert.ok((await tokens.verify(b.secret, "token")).ok, "still inside the grace period");
  assert.ok((await tokens.verify(c.secret, "token")).ok);
  await new Promise((r) => setTimeout(r, 1100));
  const late = await tokens.verify(b.secret, "token");
  assert.is(!late.ok && late.code, "ERR_TOKEN_REVOKED", "the cache entry did not outlive the grace period");
  await tokens.close();
});

test("a cache entry never outlives the credential's expiry", async () => {
  const store = memoryStore();
  const tokens = service(store);
  const { record, secret } = await tokens.create({ user: "dave", expiresInSeconds: 1 }, "test");
  assert.ok((await tokens.verify(secret, "token")).ok);
  assert.ok((await tokens.verify(secret, "token")).ok);
  const expiresAt = Date.parse((await tokens.get(record.id))!.expiresAt!);
  await new Promise((r) => setTimeout(r, Math.max(0, expiresAt - Date.now()) + 20));
  const r = await tokens.verify(secret, "token");
  assert.is(!r.ok && r.code, "ERR_TOKEN_EXPIRED");
  await tokens.close();
});

test("with the cache off every verify reads the store; a key is never accepted as a token", async () => {
  const store = countingStore();
  const tokens = service(store, 0);
  const { secret } = await tokens.create({ user: "erin", type: "api-key" }, "test");
  await tokens.verify(secret, "api-key");
  await tokens.verify(secret, "api-key");
  assert.is(store.lookups, 2);
  assert.is((await tokens.verify(secret, "token")).ok, false);
  const cached = service(countingStore());
  const k = await cached.create({ user: "erin", type: "api-key" }, "test");
  assert.ok((await cached.verify(k.secret, "api-key")).ok);
  assert.is((await cached.verify(k.secret.replace(/^pk_/, "pt_"), "token")).ok, false);
  await tokens.close();
  await cached.close();
});

test("usage counted in memory is shown and flushed with ISO dates", async () => {
  const store = memoryStore();
  const tokens = service(store);
  const { record, secret } = await tokens.create({ user: "fay" }, "test");
  for (let i = 0; i < 3; i++) await tokens.verify(secret, "token");
  const shown = await tokens.get(record.id);
  assert.is(shown!.useCount, 3);
  assert.ok(!Number.isNaN(Date.parse(shown!.lastUsedAt!)));
  await tokens.flush();
  const stored = await store.get(record.id);
  assert.is(stored!.useCount, 3);
  assert.ok(!Number.isNaN(Date.parse(stored!.lastUsedAt!)));
  await tokens.close();
});

test("policy decisions are the same for a fresh identity object as for a cached one", async () => {
  const policy = permissionPolicy({ separator: "__", roles: { dev: { servers: ["echo*"] }, ro: { servers: ["notes"], tools: ["read"] } } });
  const tokens = service(memoryStore());
  const { secret } = await tokens.create({ user: "gus", roles: ["dev"], permissions: { servers: ["echo1"], tools: ["echo1__e*"] } }, "test");
  const v = await tokens.verify(secret, "token");
  assert.ok(v.ok);
  const record = (v as { record: TokenRecord }).record;
  for (let i = 0; i < 3; i++) {
    const id = identityOf(record, "auth:bearer");
    assert.ok(policy.tool(id, "echo1", { name: "echo" }, true));
    assert.not.ok(policy.tool(id, "echo1", { name: "other" }, true));
    assert.not.ok(policy.server(id, "echo2"));
    assert.not.ok(policy.server(id, "notes"));
  }
  const ro = identityOf({ ...record, roles: ["ro"], permissions: undefined }, "auth:bearer");
  assert.ok(policy.tool(ro, "notes", { name: "list", annotations: { readOnlyHint: true } }, true));
  assert.not.ok(policy.tool(ro, "notes", { name: "add" }, true));
  await tokens.close();
});

test("JSONL sink: a full buffer drops the oldest events and writes how many", async () => {
  const dir = await mkdtemp(join(tmpdir(), "portcullis-hot-"));
  try {
    const path = join(dir, "audit.jsonl");
    const sink = jsonlAudit({ path, maxBuffered: 100, flushMs: 60_000 });
    for (let i = 0; i < 2500; i++) sink.write({ time: "t", type: "auth", outcome: "success", path: `/${i}` } as AuditEvent);
    assert.is(sink.dropped?.(), 2400, "the running count /metrics reports");
    await sink.close!();
    assert.is(sink.dropped?.(), 2400, "it keeps counting after the file was told");
    const lines = (await readFile(path, "utf8")).trim().split("\n").map((l) => JSON.parse(l));
    assert.is(lines.length, 101);
    assert.equal(lines.slice(0, 100).map((l) => l.path), Array.from({ length: 100 }, (_, i) => `/${2400 + i}`));
    assert.equal({ type: lines[100].type, count: lines[100].count }, { type: "audit_dropped", count: 2400 });
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test("gateway JWTs verified once are answered from memory, but never after their key is retired or for other checks", async () => {
  const keys = createSigningKeys({ retainSeconds: 0 });
  const jwt = await keys.sign({ email: "a@example.com" }, { issuer: "https://gw.example", audience: "aud-1", subject: "alice", expiresInSeconds: 60, typ: "at+jwt" });
  const first = await keys.verify(jwt, { issuer: "https://gw.example", audience: "aud-1", typ: "at+jwt" });
  const again = await keys.verify(jwt, { issuer: "https://gw.example", audience: "aud-1", typ: "at+jwt" });
  assert.is(again, first, "the second check is answered from memory");
  const other = await keys.verify(jwt, { issuer: "https://gw.example", audience: "aud-2", typ: "at+jwt" }).then(() => "accepted", (e) => e.code);
  assert.is(other, "ERR_INVALID_CREDENTIAL", "a cached token is still checked against another audience");
  await keys.rotate(); // retainSeconds 0: the old key is retired at once
  const retired = await keys.verify(jwt, { issuer: "https://gw.example", audience: "aud-1", typ: "at+jwt" }).then(() => "accepted", (e) => e.code);
  assert.is(retired, "ERR_INVALID_CREDENTIAL", "a retired key's token is refused even though it was cached");
});

test.run();
