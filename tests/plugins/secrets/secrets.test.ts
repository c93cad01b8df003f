// Secrets for upstream credentials: the encrypted vault (nothing readable at rest, wrong key refused at
// start, key rotation), secret() references resolved into a real stdio server's environment and a real
// HTTP server's headers, restart on change, redaction, the /v1/credentials and /v1/me/credentials APIs
// and the `portcullis secrets` CLI run as a child process.
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import process from "node:process";
import type { Client } from "@modelcontextprotocol/client";
import { type AuditEvent, createGateway, type PluginContext, serve, type TokenStore } from "../../../core/mod.ts";
import { bearer, envSecrets, fileStore, memoryStore, secret, vault } from "../../../plugins/mod.ts";
import { createKeyring, decodeMasterKey, importMasterKey } from "../../../core/secrets/crypto.ts";
import { createRedactor } from "../../../core/secrets/redact.ts";
import { parseSecretTemplate, renderSecretTemplate } from "../../../core/secrets/refs.ts";
import { interpolate } from "../../../core/config/interpolate.ts";
import { createUserCredentials } from "../../../core/secrets/user-credentials.ts";
import { echoSecretsHttpHandler } from "../../../examples/servers/echo-secrets.ts";
import { ALICE_KEY, BOB_KEY, connectClient, http, quietLogger, runtime, startGateway, stdio, testAuth, waitFor } from "../../fixtures/helpers.ts";

const test = suite("secrets");
const ROOT = new URL("../../..", import.meta.url).pathname.replace(/\/$/, "");
const ECHO = new URL("../../../examples/servers/echo-secrets.ts", import.meta.url).pathname;
const newKey = (): string => btoa(String.fromCharCode(...crypto.getRandomValues(new Uint8Array(32))));
const hex = (s: string): string => [...new TextEncoder().encode(s)].map((b) => b.toString(16).padStart(2, "0")).join("");
const ADMIN = "secrets-test-admin-token-0123456789abcdef";
let dir: string;
const children = new Set<ChildProcess>();

async function sha256(text: string): Promise<string> {
  const d = new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text)));
  return [...d].map((b) => b.toString(16).padStart(2, "0")).join("");
}

function text(result: unknown): string {
  return ((result as { content?: Array<{ text?: string }> }).content ?? []).map((c) => c.text ?? "").join("");
}

function recorder(): { name: string; events: AuditEvent[]; write(e: AuditEvent): void } {
  const events: AuditEvent[] = [];
  return { name: "audit:test", events, write: (e) => void events.push(e) };
}

/** The smallest plugin context a vault needs outside a gateway. */
function contextFor(store: TokenStore): PluginContext {
  return { store, audit: { emit() {}, flush: async () => {}, close: async () => {} }, log: quietLogger } as unknown as PluginContext;
}

/** Every byte under `root`, as latin1 text, so any encoding of a value can be searched for. */
async function allBytes(root: string): Promise<string> {
  let out = "";
  for (const f of await readdir(root, { recursive: true })) {
    try {
      out += (await readFile(join(root, f))).toString("latin1");
    } catch {
      // a directory
    }
  }
  return out;
}

test.before(async () => {
  dir = await mkdtemp(join(ROOT, "tests", ".tmp-secrets-"));
});

test.after(async () => {
  for (const c of children) c.kill("SIGKILL");
  await rm(dir, { recursive: true, force: true });
});

// --- the crypto itself ---------------------------------------------------------------------------

test("master keys: base64, base64url and hex of 32 bytes; anything else is refused without echoing it", async () => {
  const raw = crypto.getRandomValues(new Uint8Array(32));
  const b64 = btoa(String.fromCharCode(...raw));
  const hx = [...raw].map((b) => b.toString(16).padStart(2, "0")).join("");
  const a = await importMasterKey(b64);
  const b = await importMasterKey(hx);
  const c = await importMasterKey(b64.replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, ""));
  assert.is(a.id, b.id);
  assert.is(a.id, c.id);
  assert.match(a.id, /^[A-Za-z0-9_-]{11}$/);
  for (const bad of ["short", btoa("x".repeat(31)), "z".repeat(64)]) {
    try {
      decodeMasterKey(bad);
      assert.unreachable(`accepted ${bad}`);
    } catch (err) {
      assert.is((err as { code?: string }).code, "ERR_CONFIG");
      assert.match((err as Error).message, /PORTCULLIS_MASTER_KEY/);
      assert.match((err as Error).message, /openssl rand -base64 32/);
      assert.not.ok((err as Error).message.includes(bad), "the key is never echoed");
    }
  }
});

test("sealed records: random IV each time, key id on the record, bound to kind and name", async () => {
  const ring = createKeyring([await importMasterKey(newKey())]);
  const one = await ring.seal("secret", "GITHUB", "ghp_value_1234567890");
  const two = await ring.seal("secret", "GITHUB", "ghp_value_1234567890");
  assert.is.not(one.iv, two.iv);
  assert.is.not(one.ct, two.ct);
  assert.is(one.kid, ring.current().id);
  assert.is(await ring.open("secret", "GITHUB", one), "ghp_value_1234567890");
  for (const [kind, name] of [["secret", "OTHER"], ["user-credential", "GITHUB"]]) {
    try {
      await ring.open(kind!, name!, one);
      assert.unreachable("a record swapped to another name decrypted");
    } catch (err) {
      assert.match((err as Error).message, /decryption failed/);
    }
  }
  const tampered = { ...one, ct: one.ct.slice(0, -2) + (one.ct.endsWith("AA") ? "BA" : "AA") };
  try {
    await ring.open("secret", "GITHUB", tampered);
    assert.unreachable("a tampered record decrypted");
  } catch (err) {
    assert.match((err as Error).message, /decryption failed/);
  }
});

// --- the vault at rest ---------------------------------------------------------------------------

test("the vault file holds no plaintext secret (value, base64 or hex), and a user's credential neither", async () => {
  const data = join(dir, "at-rest");
  const master = newKey();
  const value = "ghp_PlainTextMustNotAppear_0123456789";
  const personal = "pat_AliceOwnCredential_9876543210";
  const store = fileStore({ dir: data });
  const v = vault({ masterKey: master });
  const gw = createGateway({ logger: quietLogger, admin: { bootstrap: false }, tokens: { store }, secrets: [v], servers: {} });
  await gw.ready();
  await v.set("GITHUB", value, "test");
  const users = createUserCredentials({ store, audit: { emit() {}, flush: async () => {}, close: async () => {} }, vault: v });
  await users.setup();
  await users.set("alice", "github", personal, "alice");
  assert.is(await v.get("GITHUB"), value);
  assert.is(await users.get("alice", "github"), personal);
  const listed = JSON.stringify(await v.list());
  assert.not.ok(listed.includes(value), "list never carries a value");
  await gw.close();

  const bytes = await allBytes(data);
  assert.ok(bytes.includes("GITHUB"), "the name is stored (as metadata)");
  for (const s of [value, personal]) {
    for (const form of [s, btoa(s), btoa(s).replace(/=+$/, ""), hex(s), s.slice(4, 24)]) {
      assert.not.ok(bytes.includes(form), `found ${form === s ? "the value" : "an encoding of it"} in the store's files`);
    }
  }

  // A reopened store decrypts with the same key.
  const again = vault({ masterKey: master });
  const gw2 = createGateway({ logger: quietLogger, admin: { bootstrap: false }, tokens: { store: fileStore({ dir: data }) }, secrets: [again], servers: {} });
  await gw2.ready();
  assert.is(await again.get("GITHUB"), value);
  await gw2.close();
});

test("a wrong master key fails clearly at start: ready() rejects naming the key, requests get the error", async () => {
  const data = join(dir, "at-rest");
  const v = vault({ masterKey: newKey() });
  const gw = createGateway({ logger: quietLogger, admin: { bootstrap: false }, tokens: { store: fileStore({ dir: data }) }, secrets: [v], servers: {} });
  try {
    await gw.ready();
    assert.unreachable("started with the wrong key");
  } catch (err) {
    assert.is((err as { code?: string }).code, "ERR_CONFIG");
    assert.match((err as Error).message, /vault\.masterKey is not the master key/);
    assert.match((err as Error).message, /PORTCULLIS_MASTER_KEY/);
  }
  const res = await gw.fetch(new Request("http://127.0.0.1/healthz"));
  assert.is(res.status, 500);
  assert.is((await res.json()).error.code, "ERR_CONFIG");
  await gw.close();

  // Without any key the factory refuses at config time, naming the variable.
  const saved = process.env.PORTCULLIS_MASTER_KEY;
  delete process.env.PORTCULLIS_MASTER_KEY;
  try {
    assert.throws(() => vault(), /PORTCULLIS_MASTER_KEY/);
    assert.throws(() => vault({ masterKey: "not-a-key" }), /vault\.masterKey/);
  } finally {
    if (saved !== undefined) process.env.PORTCULLIS_MASTER_KEY = saved;
  }
});

test("key rotation keeps every secret readable during it and after a restart with the new key only", async () => {
  const data = join(dir, "rotation");
  const oldKey = newKey();
  const nextKey = newKey();
  const values = Object.fromEntries(Array.from({ length: 20 }, (_, i) => [`S${i}`, `value-${i}-${crypto.randomUUID()}`]));
  const audit = recorder();
  const v = vault({ masterKey: oldKey });
  const gw = createGateway({ logger: quietLogger, admin: { bootstrap: false }, tokens: { store: fileStore({ dir: data }) }, audit: [audit], secrets: [v], servers: {} });
  await gw.ready();
  for (const [k, val] of Object.entries(values)) await v.set(k, val, "test");
  const before = new Set((await v.list()).map((s) => s.keyId));
  assert.is(before.size, 1);

  // Reads and writes run throughout the rotation.
  let reading = true;
  let reads = 0;
  const reader = (async () => {
    while (reading) {
      for (const [k, val] of Object.entries(values)) {
        assert.is(await v.get(k), val, `read of ${k} during rotation`);
        reads++;
      }
    }
  })();
  const writer = v.set("DURING", "set-while-rotating-123", "test");
  const result = await v.rotateKey(nextKey, "test");
  await writer;
  reading = false;
  await reader;
  assert.ok(reads > 0);
  assert.ok(result.reencrypted >= 20, `re-encrypted ${result.reencrypted}`);
  assert.equal([...new Set((await v.list()).map((s) => s.keyId))], [result.keyId]);
  assert.ok(!before.has(result.keyId));
  const rotate = audit.events.find((e) => e.type === "credential" && e.action === "rotate-key");
  assert.ok(rotate, "rotation is audited");
  assert.not.ok(JSON.stringify(audit.events).includes(nextKey), "the key is never audited");
  await gw.close();

  // Restart with the new key only: everything reads.
  const after = vault({ masterKey: nextKey });
  const gw2 = createGateway({ logger: quietLogger, admin: { bootstrap: false }, tokens: { store: fileStore({ dir: data }) }, secrets: [after], servers: {} });
  await gw2.ready();
  for (const [k, val] of Object.entries(values)) assert.is(await after.get(k), val);
  assert.is(await after.get("DURING"), "set-while-rotating-123");
  await gw2.close();

  // The old key alone no longer opens the store.
  const stale = createGateway({ logger: quietLogger, admin: { bootstrap: false }, tokens: { store: fileStore({ dir: data }) }, secrets: [vault({ masterKey: oldKey })], servers: {} });
  await stale.ready().then(() => assert.unreachable("the old key opened the rotated store"), (err) => assert.match(err.message, /not the master key/));
  await stale.close();
});

test("a restart with a new key plus the old one in previousKeys re-encrypts at start", async () => {
  const store = memoryStore();
  await store.open?.();
  const oldKey = newKey();
  const nextKey = newKey();
  const first = vault({ masterKey: oldKey });
  await first.setup!(contextFor(store));
  await first.set("A", "alpha-value-1");
  const second = vault({ masterKey: nextKey, previousKeys: [oldKey] });
  await second.setup!(contextFor(store));
  assert.is(await second.get("A"), "alpha-value-1");
  const third = vault({ masterKey: nextKey });
  await third.setup!(contextFor(store));
  assert.is(await third.get("A"), "alpha-value-1");
  assert.is((await third.list())[0]!.keyId, (await importMasterKey(nextKey)).id);
});

// --- secret references ---------------------------------------------------------------------------

test("secret references: secret(), ${secret:NAME}, template literals, $${ escapes, ${VAR} still interpolated", async () => {
  assert.is(interpolate("Bearer ${secret:GITHUB}", "x"), "Bearer ${secret:GITHUB}", "interpolate leaves ${secret:...} alone");
  process.env.PORTCULLIS_TEST_SECRETS_VAR = "from-env";
  try {
    const values: Record<string, string> = { GITHUB: "ghp_1", API: "k2" };
    const render = (v: unknown) => renderSecretTemplate(parseSecretTemplate(v, "p"), async (n) => values[n]!);
    assert.is(await render(secret("GITHUB")), "ghp_1");
    assert.is(await render("Bearer ${secret:GITHUB}"), "Bearer ghp_1");
    assert.is(await render(`token ${secret("API")}`), "token k2");
    assert.is(await render("${PORTCULLIS_TEST_SECRETS_VAR}:${secret:API}:$${secret:API}"), "from-env:k2:${secret:API}");
    assert.equal(parseSecretTemplate("a ${secret:GITHUB} b ${secret:API} ${secret:GITHUB}", "p").names, ["GITHUB", "API"]);
    assert.throws(() => parseSecretTemplate("${secret:bad name}", "http.headers.X"), /http\.headers\.X/);
    assert.throws(() => secret("no spaces"), /secret\(\)/);
    assert.throws(() => stdio({ command: "x", env: { A: 1 as unknown as string } }), /stdio\.env\.A/);
  } finally {
    delete process.env.PORTCULLIS_TEST_SECRETS_VAR;
  }
  const u = stdio({ command: "x", env: { A: secret("ONE"), B: "x ${secret:TWO}", C: "plain" } });
  assert.equal(u.secretNames?.(), ["ONE", "TWO"]);
  const h = http({ url: "http://127.0.0.1:1/mcp", headers: { Authorization: "Bearer ${secret:API}" }, userCredential: { required: false, idleSeconds: 30 }, identity: false });
  assert.equal(h.secretNames?.(), ["API"]);
  assert.equal(h.perUser, { required: false, idleSeconds: 30 });
  assert.is(h.identity, false);
  assert.throws(() => http({ url: "http://127.0.0.1:1/mcp", userCredential: { format: "no placeholder" } }), /http\.userCredential\.format/);
  assert.throws(() => stdio({ command: "x", userCredential: { env: "bad name" } }), /stdio\.userCredential\.env/);
  assert.throws(() => stdio({ command: "x", userCredential: { env: "T", idleSeconds: -1 } }), /idleSeconds/);
});

test("http: a secret with CR/LF cannot add a header; the user's credential goes into the configured header", async () => {
  const h = http({ url: "http://127.0.0.1:1/mcp", headers: { "X-Api": "${secret:API}", authorization: "Bearer shared" }, userCredential: { header: "Authorization", format: "token {credential}" } });
  const evil = { secret: async () => "ok\r\nX-Injected: 1" };
  await Promise.resolve().then(() => h.createTransport(evil)).then(() => assert.unreachable("accepted CR/LF"), (err: Error) => {
    assert.match(err.message, /CR, LF/);
    assert.not.ok(err.message.includes("X-Injected"), "the value is not in the error");
  });
  const t = await h.createTransport({ secret: async () => "api-value", user: { identity: { subject: "alice", roles: [], scopes: [], strategy: "t" }, credential: "alice-cred" } });
  const headers = (t as unknown as { _requestInit?: { headers?: Record<string, string> } })._requestInit?.headers;
  if (headers) {
    assert.equal(headers, { "X-Api": "api-value", Authorization: "token alice-cred" });
  }
  await t.close();
});

// --- a real gateway with real upstreams ----------------------------------------------------------

interface Live {
  gw: Awaited<ReturnType<typeof startGateway>>;
  v: ReturnType<typeof vault>;
  audit: ReturnType<typeof recorder>;
  echo: { url: string; close(): Promise<void> };
  client: Client;
}
let live: Live | undefined;
const GH_VALUE = "ghp_FirstValueOfTheGithubSecret_000001";
const GH_NEXT = "ghp_SecondValueOfTheGithubSecret_00002";
const API_VALUE = "api_HeaderSecretForTheHttpServer_0003";

async function startLive(): Promise<Live> {
  if (live) return live;
  const handler = echoSecretsHttpHandler();
  const served = await serve({ fetch: (r: Request) => handler.fetch(r), close: () => handler.close(), config: { server: { host: "127.0.0.1", port: 0 }, logger: quietLogger } }, { port: 0, handleSignals: false });
  const echo = { url: `${served.url}/mcp`, close: () => served.close() };
  const store = memoryStore();
  await store.open?.();
  const master = newKey();
  // The secrets exist before the gateway starts, so the upstreams' first connection already has them.
  const seed = vault({ masterKey: master });
  await seed.setup!(contextFor(store));
  await seed.set("GITHUB", GH_VALUE);
  await seed.set("API", API_VALUE);
  const v = vault({ masterKey: master });
  const audit = recorder();
  const gw = await startGateway({
    auth: [await testAuth(), bearer()],
    admin: { token: ADMIN, bootstrap: false },
    tokens: { store },
    audit: [audit],
    secrets: [v, envSecrets()],
    servers: {
      env: stdio({ script: ECHO, stderr: "ignore", env: { GITHUB_TOKEN: secret("GITHUB"), AUTH_LINE: "Bearer ${secret:GITHUB}" }, restart: { initialDelayMs: 50 } }),
      web: http({ url: echo.url, headers: { Authorization: "Bearer ${secret:API}" } }),
      mine: http({ url: echo.url, userCredential: { header: "X-Personal-Token", format: "{credential}", required: false } }),
    },
  });
  const { client } = await connectClient(`${gw.url}/mcp`, ALICE_KEY);
  live = { gw, v, audit, echo, client };
  return live;
}

async function call(client: Client, name: string, args: Record<string, unknown> = {}): Promise<{ text: string; isError: boolean }> {
  const r = await client.callTool({ name, arguments: args });
  return { text: text(r), isError: r.isError === true };
}

test("secret() reaches a stdio server's environment and ${secret:NAME} an HTTP server's header", async () => {
  const { client } = await startLive();
  const env = JSON.parse((await call(client, "env__env", { name: "GITHUB_TOKEN" })).text);
  assert.is(env.sha256, await sha256(GH_VALUE), "the stdio server got the vault's value");
  const line = JSON.parse((await call(client, "env__env", { name: "AUTH_LINE" })).text);
  assert.is(line.sha256, await sha256(`Bearer ${GH_VALUE}`));
  const web = JSON.parse((await call(client, "web__headers")).text);
  assert.is(web.sha256.authorization, await sha256(`Bearer ${API_VALUE}`), "the HTTP server got the header");
  assert.not.ok("x-team-key" in web.headers, "the client's own credential is not forwarded");
});

test("a secret echoed by an upstream is redacted in the client's result, in errors and in the audit trail", async () => {
  const { client, audit } = await startLive();
  const env = await call(client, "env__env", { name: "GITHUB_TOKEN" });
  assert.not.ok(env.text.includes(GH_VALUE), `the value reached the client: ${env.text}`);
  assert.match(env.text, "[REDACTED:GITHUB]");
  const web = await call(client, "web__headers");
  assert.not.ok(web.text.includes(API_VALUE));
  assert.match(web.text, "Bearer [REDACTED:API]");
  const failed = await client.callTool({ name: "env__fail", arguments: { message: "token is $GITHUB_TOKEN" } }).then(
    (r) => text(r),
    (err) => String((err as Error).message),
  );
  assert.not.ok(failed.includes(GH_VALUE), `the value reached the client in an error: ${failed}`);
  await waitFor(() => audit.events.some((e) => e.type === "tool_call" && e.tool === "fail"), 5_000);
  const trail = JSON.stringify(audit.events);
  for (const v of [GH_VALUE, API_VALUE]) assert.not.ok(trail.includes(v), "a secret value in the audit trail");
  const uses = audit.events.filter((e) => e.type === "credential" && e.action === "use" && e.outcome === "ok");
  assert.ok(uses.some((e) => e.type === "credential" && e.name === "GITHUB" && e.server === "env"), "each use is audited with its name and server");
});

test("changing a secret's value restarts the stdio server with the new environment", async () => {
  const { client, gw } = await startLive();
  const before = JSON.parse((await call(client, "env__env", { name: "GITHUB_TOKEN" })).text);
  const res = await fetch(`${gw.url}/v1/credentials/GITHUB`, { method: "PUT", headers: { authorization: `Bearer ${ADMIN}`, "content-type": "application/json" }, body: JSON.stringify({ value: GH_NEXT }) });
  assert.is(res.status, 200, await res.clone().text());
  const want = await sha256(GH_NEXT);
  let now: { sha256?: string; pid?: number; value?: string } = {};
  await waitFor(async () => {
    try {
      now = JSON.parse((await call(client, "env__env", { name: "GITHUB_TOKEN" })).text);
    } catch {
      return false;
    }
    return now.sha256 === want;
  }, 15_000).catch(() => assert.unreachable(`the stdio server still has the old value: ${JSON.stringify(now)}`));
  assert.is.not(now.pid, before.pid, "a new process");
  assert.is(now.value, "[REDACTED:GITHUB]", "the new value is redacted too");
});

test("/v1/credentials: admin only, names and metadata never values, validation, audit events", async () => {
  const { gw, audit } = await startLive();
  const url = `${gw.url}/v1/credentials`;
  const admin = { authorization: `Bearer ${ADMIN}`, "content-type": "application/json" };
  const value = "sk_ApiManagedSecret_abcdef0123456789";

  assert.is((await fetch(url)).status, 401);
  const bob = await fetch(url, { headers: { "x-team-key": BOB_KEY } });
  assert.is(bob.status, 403);
  assert.is((await bob.json()).error.code, "ERR_FORBIDDEN");
  const bobPut = await fetch(`${url}/X`, { method: "PUT", headers: { "x-team-key": BOB_KEY, "content-type": "application/json" }, body: JSON.stringify({ value }) });
  assert.is(bobPut.status, 403);
  const evil = await fetch(url, { headers: { ...admin, origin: "https://evil.example" } });
  assert.is(evil.status, 403);
  assert.is((await evil.json()).error.code, "ERR_FORBIDDEN_ORIGIN");

  const put = await fetch(`${url}/STRIPE_KEY`, { method: "PUT", headers: admin, body: JSON.stringify({ value }) });
  assert.is(put.status, 200);
  const info = await put.json();
  assert.is(info.name, "STRIPE_KEY");
  assert.is(info.updatedBy, "admin-token");
  assert.ok(info.keyId && info.createdAt && info.updatedAt);
  assert.not.ok(JSON.stringify(info).includes(value));

  const listRes = await fetch(url, { headers: admin });
  const listText = await listRes.text();
  assert.is(listRes.status, 200);
  assert.not.ok(listText.includes(value), "list never returns values");
  assert.not.ok(listText.includes(GH_VALUE) || listText.includes(API_VALUE));
  const names = JSON.parse(listText).credentials.map((c: { name: string }) => c.name);
  assert.ok(names.includes("STRIPE_KEY") && names.includes("API"));

  for (const [body, field] of [[{}, "value"], [{ value: "" }, "value"], [{ value: 5 }, "value"], [{ value, extra: 1 }, "extra"]] as const) {
    const bad = await fetch(`${url}/STRIPE_KEY`, { method: "PUT", headers: admin, body: JSON.stringify(body) });
    assert.is(bad.status, 400, JSON.stringify(body));
    const e = (await bad.json()).error;
    assert.is(e.code, "ERR_BAD_REQUEST");
    assert.match(e.message, field);
    assert.not.ok(e.message.includes(value));
  }
  const broken = await fetch(`${url}/STRIPE_KEY`, { method: "PUT", headers: admin, body: `{"value": "${value}` });
  assert.is(broken.status, 400);
  assert.not.ok((await broken.text()).includes(value), "a parse error does not quote the body");
  const badName = await fetch(`${url}/bad%20name`, { method: "PUT", headers: admin, body: JSON.stringify({ value }) });
  assert.is(badName.status, 400);
  const big = await fetch(`${url}/BIG`, { method: "PUT", headers: admin, body: JSON.stringify({ value: "x".repeat(70_000) }) });
  assert.is(big.status, 413);
  const wrongMethod = await fetch(`${url}/STRIPE_KEY`, { method: "GET", headers: admin });
  assert.is(wrongMethod.status, 405);

  const del = await fetch(`${url}/STRIPE_KEY`, { method: "DELETE", headers: admin });
  assert.is(del.status, 200);
  assert.equal(await del.json(), { name: "STRIPE_KEY", deleted: true });
  const again = await fetch(`${url}/STRIPE_KEY`, { method: "DELETE", headers: admin });
  assert.is(again.status, 404);

  const changes = audit.events.filter((e) => e.type === "credential" && e.name === "STRIPE_KEY");
  assert.ok(changes.some((e) => e.type === "credential" && e.action === "set" && e.actor === "admin-token" && e.outcome === "ok"));
  assert.ok(changes.some((e) => e.type === "credential" && e.action === "delete" && e.outcome === "ok"));
  assert.not.ok(JSON.stringify(audit.events).includes(value), "values never reach the audit trail");
});

test("/v1/me/credentials: a user stores their own credential for a per-user server, lists and deletes it", async () => {
  const { gw, audit, client } = await startLive();
  const url = `${gw.url}/v1/me/credentials`;
  const alice = { "x-team-key": ALICE_KEY, "content-type": "application/json" };
  const mine = "pat_AliceOwnTokenForMine_0123456789";
  assert.is((await fetch(`${url}/mine`, { method: "PUT", headers: { "content-type": "application/json" }, body: JSON.stringify({ value: mine }) })).status, 401);
  const notPerUser = await fetch(`${url}/web`, { method: "PUT", headers: alice, body: JSON.stringify({ value: mine }) });
  assert.is(notPerUser.status, 404);
  assert.is((await fetch(`${url}/nope`, { method: "PUT", headers: alice, body: JSON.stringify({ value: mine }) })).status, 404);
  const crlf = await fetch(`${url}/mine`, { method: "PUT", headers: alice, body: JSON.stringify({ value: "a\r\nX-Evil: 1" }) });
  assert.is(crlf.status, 400);

  const put = await fetch(`${url}/mine`, { method: "PUT", headers: alice, body: JSON.stringify({ value: mine }) });
  assert.is(put.status, 200, await put.clone().text());
  const info = await put.json();
  assert.is(info.server, "mine");
  assert.is(info.subject, "alice");
  assert.not.ok(JSON.stringify(info).includes(mine));

  const list = await fetch(url, { headers: alice });
  const listText = await list.text();
  assert.not.ok(listText.includes(mine));
  assert.equal(JSON.parse(listText).credentials.map((c: { server: string }) => c.server), ["mine"]);
  const bobList = await (await fetch(url, { headers: { "x-team-key": BOB_KEY } })).json();
  assert.equal(bobList.credentials, [], "bob does not see alice's");

  // With the lead's per-user connections wired, alice's calls to `mine` carry her credential.
  const seen = await call(client, "mine__headers").catch(() => undefined);
  if (seen && !seen.isError) {
    const body = JSON.parse(seen.text);
    if (body.sha256["x-personal-token"]) assert.is(body.sha256["x-personal-token"], await sha256(mine));
    assert.not.ok(seen.text.includes(mine), "the user's own credential is redacted too");
  }

  const del = await fetch(`${url}/mine`, { method: "DELETE", headers: alice });
  assert.is(del.status, 200);
  assert.is((await fetch(`${url}/mine`, { method: "DELETE", headers: alice })).status, 404);
  const events = audit.events.filter((e) => e.type === "credential" && e.name === "user:mine");
  assert.ok(events.some((e) => e.type === "credential" && e.action === "set" && e.subject === "auth:team-keys#alice" && e.server === "mine"));
  assert.ok(events.some((e) => e.type === "credential" && e.action === "delete" && e.subject === "auth:team-keys#alice"));
  assert.not.ok(JSON.stringify(audit.events).includes(mine));
});

test("without a master key the credential APIs answer a clear 503 naming PORTCULLIS_MASTER_KEY", async () => {
  const saved = process.env.PORTCULLIS_MASTER_KEY;
  delete process.env.PORTCULLIS_MASTER_KEY;
  const gw = createGateway({
    logger: quietLogger,
    admin: { token: ADMIN, bootstrap: false },
    auth: [await testAuth()],
    tokens: { store: memoryStore() },
    servers: { mine: http({ url: "http://127.0.0.1:9/mcp", userCredential: {}, restart: { initialDelayMs: 60_000 } }) },
  });
  try {
    for (const [path, headers] of [["/v1/credentials", { authorization: `Bearer ${ADMIN}` }], ["/v1/me/credentials", { "x-team-key": ALICE_KEY }]] as const) {
      const res = await gw.fetch(new Request(`http://127.0.0.1${path}`, { headers }));
      assert.is(res.status, 503, path);
      const e = (await res.json()).error;
      assert.is(e.code, "ERR_CONFIG");
      assert.match(e.message, /PORTCULLIS_MASTER_KEY/);
    }
  } finally {
    if (saved !== undefined) process.env.PORTCULLIS_MASTER_KEY = saved;
    await gw.close();
  }
});

test("the redactor: exact values, longest first, short values left alone, JSON walked, unchanged objects kept", () => {
  const r = createRedactor();
  const untouched = { a: ["x", { b: "y" }] };
  assert.is(r.redact(untouched), untouched);
  r.add("abc", "SHORT");
  r.add("secret-value-1", "ONE");
  r.add("secret-value-1-and-more", "LONG");
  r.add("a.b*c+d(e)", "REGEX");
  assert.is(r.redactText("abc"), "abc", "too short to redact");
  assert.is(r.redactText("x secret-value-1-and-more y secret-value-1"), "x [REDACTED:LONG] y [REDACTED:ONE]");
  assert.is(r.redactText("a.b*c+d(e) axbxc"), "[REDACTED:REGEX] axbxc");
  const input = { content: [{ type: "text", text: "t secret-value-1" }], keep: { n: 1, s: "fine" }, ["secret-value-1"]: true };
  const out = r.redact(input);
  assert.is.not(out, input);
  assert.is(out.keep, input.keep, "unchanged branches are shared");
  assert.is(out.content[0]!.text, "t [REDACTED:ONE]");
  assert.ok("[REDACTED:ONE]" in out);
  assert.is(input.content[0]!.text, "t secret-value-1", "the input is not modified");
  const err = r.redact(new Error("failed with secret-value-1"));
  assert.ok(err instanceof Error);
  assert.is(err.message, "failed with [REDACTED:ONE]");

  // A large result with nothing to redact comes back as the very same object (no copy).
  const big = { content: Array.from({ length: 2000 }, (_, i) => ({ type: "text", text: `line ${i} `.repeat(20) })) };
  assert.is(r.redact(big), big);
});

// --- the CLI ----------------------------------------------------------------------------------------

function cliCommand(): [string, string[]] {
  if (runtime === "deno") return [(globalThis as unknown as { Deno: { execPath(): string } }).Deno.execPath(), ["run", "-A", "core/cli/main.ts"]];
  if (runtime === "bun") return [process.execPath, ["run", "core/cli/main.ts"]];
  return [process.execPath, [join(ROOT, "dist/cli.js")]];
}

function cli(args: string[], env: Record<string, string>, input?: string, ms = 20_000): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const [command, base] = cliCommand();
  const clean: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) if (v !== undefined && !k.startsWith("PORTCULLIS_")) clean[k] = v;
  const child = spawn(command, [...base, ...args], { cwd: ROOT, env: { ...clean, NO_COLOR: "1", ...env }, stdio: [input === undefined ? "ignore" : "pipe", "pipe", "pipe"] });
  children.add(child);
  let stdout = "";
  let stderr = "";
  child.stdout!.setEncoding("utf8");
  child.stderr!.setEncoding("utf8");
  child.stdout!.on("data", (d: string) => (stdout += d));
  child.stderr!.on("data", (d: string) => (stderr += d));
  if (input !== undefined) child.stdin!.end(input);
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`portcullis ${args.join(" ")} did not exit within ${ms} ms\n${stderr}`));
    }, ms);
    child.on("close", (code) => {
      clearTimeout(timer);
      children.delete(child);
      resolve({ code, stdout, stderr });
    });
  });
}

test("portcullis secrets set|list|delete|rotate-key on the store; values never printed; wrong key exits non-zero", async () => {
  const data = join(dir, "cli-data");
  const key = newKey();
  const next = newKey();
  const env = { PORTCULLIS_DATA_DIR: data, PORTCULLIS_MASTER_KEY: key };
  const config = join(dir, "vault.config.ts");
  await writeFile(config, [
    'import { defineGateway } from "portcullis";',
    'import { vault } from "portcullis/plugins";',
    'export default defineGateway({ logLevel: "warn", secrets: [vault()], servers: {} });',
    "",
  ].join("\n"));
  const v1 = "cli_FirstSecretValue_0123456789";
  const v2 = "cli_SecondSecretFromStdin_987654";
  const all = (r: { stdout: string; stderr: string }) => r.stdout + r.stderr;

  const set = await cli(["secrets", "set", "GITHUB", "--value", v1, "--config", config], env);
  assert.is(set.code, 0, set.stderr);
  assert.match(set.stdout, /set GITHUB/);
  assert.not.ok(all(set).includes(v1));
  const piped = await cli(["secrets", "set", "OTHER", "--config", config], env, `${v2}\n`);
  assert.is(piped.code, 0, piped.stderr);
  const list = await cli(["secrets", "list", "--config", config, "--json"], env);
  assert.is(list.code, 0, list.stderr);
  assert.equal(JSON.parse(list.stdout).map((s: { name: string }) => s.name), ["GITHUB", "OTHER"]);
  assert.ok(JSON.parse(list.stdout).every((s: { updatedBy: string }) => s.updatedBy === "cli"));
  assert.not.ok(all(list).includes(v1) || all(list).includes(v2));
  const bytes = await allBytes(data);
  assert.not.ok(bytes.includes(v1) || bytes.includes(v2), "the CLI wrote no plaintext");

  const wrong = await cli(["secrets", "list", "--config", config], { ...env, PORTCULLIS_MASTER_KEY: newKey() });
  assert.is(wrong.code, 2, wrong.stderr);
  assert.ok(/PORTCULLIS_MASTER_KEY is not the master key/.test(wrong.stderr), wrong.stderr);
  const start = await cli(["start", "--config", config, "--port", "0"], { ...env, PORTCULLIS_MASTER_KEY: newKey() });
  assert.is(start.code, 2, `start with a wrong key exits non-zero\n${start.stderr}`);
  assert.ok(/PORTCULLIS_MASTER_KEY is not the master key/.test(start.stderr), start.stderr);

  const rotated = await cli(["secrets", "rotate-key", "--new-key", next, "--config", config], env);
  assert.is(rotated.code, 0, rotated.stderr);
  assert.match(rotated.stdout, /re-encrypted 2 record/);
  assert.not.ok(all(rotated).includes(next), "the new key is not printed");
  const oldKey = await cli(["secrets", "list", "--config", config], env);
  assert.is(oldKey.code, 2, `after rotation the old key is refused\n${oldKey.stderr}`);
  const newEnv = { ...env, PORTCULLIS_MASTER_KEY: next };
  const listed = await cli(["secrets", "list", "--config", config], newEnv);
  assert.is(listed.code, 0, listed.stderr);
  assert.match(listed.stdout, /GITHUB/);
  const del = await cli(["secrets", "delete", "OTHER", "--config", config], newEnv);
  assert.is(del.code, 0, del.stderr);
  const missing = await cli(["secrets", "delete", "OTHER", "--config", config], newEnv);
  assert.is.not(missing.code, 0);

  // Against a running gateway with --url and an admin token.
  const { gw } = await startLive();
  const remote = await cli(["secrets", "set", "REMOTE", "--url", gw.url, "--admin-token", ADMIN], {}, "remote_value_0123456789\n");
  assert.is(remote.code, 0, remote.stderr);
  assert.is(await live!.v.get("REMOTE"), "remote_value_0123456789");
  const rlist = await cli(["secrets", "list", "--url", gw.url], { PORTCULLIS_ADMIN_TOKEN: ADMIN });
  assert.is(rlist.code, 0, rlist.stderr);
  assert.match(rlist.stdout, /REMOTE/);
  assert.not.ok(all(rlist).includes("remote_value_0123456789"));
  const rdel = await cli(["secrets", "delete", "REMOTE", "--url", gw.url, "--admin-token", ADMIN], {});
  assert.is(rdel.code, 0, rdel.stderr);
  const denied = await cli(["secrets", "list", "--url", gw.url, "--admin-token", "not-the-admin-token-0123456789abcdef"], {});
  assert.is.not(denied.code, 0);
});

test("close the live gateway", async () => {
  if (!live) return;
  await live.client.close().catch(() => undefined);
  await live.gw.gateway.close();
  await live.gw.close();
  await live.echo.close();
  live = undefined;
});

test.run();
