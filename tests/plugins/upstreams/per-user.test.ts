// Per-user upstream credentials: each user stores their own credential for a server
// (PUT /v1/me/credentials/<server>), and the gateway reaches the server with it, over that user's own
// connection, for that user's calls only. Real gateway, real MCP clients, a real SDK-built HTTP upstream
// that records the Authorization header each call arrives with, and a stdio server per user.
import { suite } from "uvu";
import * as assert from "uvu/assert";
import type { Client } from "@modelcontextprotocol/client";
import { serve } from "../../../core/mod.ts";
import { memoryStore, vault } from "../../../plugins/mod.ts";
import { verifyIdentityHandler } from "../../../examples/servers/verify-identity.ts";
import { ALICE_KEY, BOB_KEY, connectClient, http, quietLogger, startGateway, stdio, testAuth, waitFor } from "../../fixtures/helpers.ts";

const test = suite("per-user credentials");
const MASTER = btoa(String.fromCharCode(...crypto.getRandomValues(new Uint8Array(32))));
const ALICE_GH = "ghp_alice0000000000000000000000000000001";
const BOB_GH = "ghp_bob000000000000000000000000000000002";
const ECHO_SECRETS = new URL("../../../examples/servers/echo-secrets.ts", import.meta.url).pathname;

let gateway: Awaited<ReturnType<typeof startGateway>>;
let who: { url: string; close(): Promise<void>; handler: ReturnType<typeof verifyIdentityHandler> };
const clients: Client[] = [];
const logged: Array<Record<string, unknown>> = [];

function text(result: unknown): string {
  return ((result as { content?: Array<{ text?: string }> }).content ?? []).map((c) => c.text ?? "").join("");
}

async function put(server: string, key: string, value: string): Promise<Response> {
  return await fetch(`${gateway.url}/v1/me/credentials/${server}`, {
    method: "PUT",
    headers: { "x-team-key": key, "content-type": "application/json" },
    body: JSON.stringify({ value }),
  });
}

async function client(key: string, era: "2025-11-25" | "2026-07-28" = "2025-11-25"): Promise<Client> {
  const { client } = await connectClient(gateway.url + "/mcp", key, era);
  clients.push(client);
  return client;
}

test.before(async () => {
  const handler = verifyIdentityHandler({ jwksUrl: "http://127.0.0.1:9/unused", audience: "who" });
  const served = await serve({
    fetch: (req: Request) => handler.fetch(req),
    close: () => handler.close(),
    config: { server: { host: "127.0.0.1", port: 0 }, logger: quietLogger },
  }, { port: 0, handleSignals: false });
  who = { url: `${served.url}/mcp`, close: () => served.close(), handler };
  gateway = await startGateway({
    logger: { ...quietLogger, info: (message: string, fields?: Record<string, unknown>) => void logged.push({ message, ...fields }) },
    auth: [await testAuth()],
    tokens: { store: memoryStore() },
    secrets: [vault({ masterKey: MASTER })],
    servers: {
      who: http({ url: who.url, userCredential: { header: "Authorization", format: "Bearer {credential}", required: true } }),
      gh: stdio({ script: ECHO_SECRETS, userCredential: { env: "GITHUB_TOKEN", required: true, idleSeconds: 60 } }),
    },
  });
});

test.after(async () => {
  await Promise.all(clients.map((c) => c.close().catch(() => undefined)));
  await gateway.close();
  await who.close();
});

test("a user without a stored credential is told what to set", async () => {
  const c = await client(BOB_KEY);
  const names = (await c.listTools()).tools.map((t) => t.name);
  assert.not.ok(names.some((n) => n.startsWith("who__")), "nothing to list without a credential");
  const err = await c.callTool({ name: "who__whoami", arguments: {} }).then(() => undefined, (e: Error) => e);
  assert.ok(err, "the call fails");
  assert.match(err!.message, "PUT /v1/me/credentials/who");
});

test("two users each reach the upstream with their own credential, never the other's, under concurrent calls", async () => {
  assert.is((await put("who", ALICE_KEY, ALICE_GH)).status, 200);
  assert.is((await put("who", BOB_KEY, BOB_GH)).status, 200);
  const alice = [await client(ALICE_KEY), await client(ALICE_KEY, "2026-07-28")];
  const bob = [await client(BOB_KEY), await client(BOB_KEY, "2026-07-28")];
  const before = who.handler.seen.length;
  const calls = [];
  for (let i = 0; i < 20; i++) {
    for (const c of [...alice, ...bob]) calls.push(c.callTool({ name: "who__whoami", arguments: {} }));
  }
  const results = await Promise.all(calls);
  assert.is(results.length, 80);
  // What the client sees of its own credential is redacted: users never see server credentials.
  for (const r of results) assert.not.match(text(r), /ghp_/);
  const seen = who.handler.seen.slice(before);
  assert.is(seen.length, 80);
  for (const s of seen) {
    const email = s.headers["x-user-email"];
    const auth = s.headers.authorization;
    if (email === "alice@example.com") assert.is(auth, `Bearer ${ALICE_GH}`);
    else if (email === "bob@example.com") assert.is(auth, `Bearer ${BOB_GH}`);
    else assert.unreachable(`unexpected caller ${email}`);
  }
  assert.is(seen.filter((s) => s.headers.authorization === `Bearer ${ALICE_GH}`).length, 40);
});

test("a stdio server runs once per user, with that user's credential in its environment", async () => {
  assert.is((await put("gh", ALICE_KEY, ALICE_GH)).status, 200);
  assert.is((await put("gh", BOB_KEY, BOB_GH)).status, 200);
  const a = await client(ALICE_KEY);
  const b = await client(BOB_KEY);
  const [ra, rb] = await Promise.all([
    a.callTool({ name: "gh__env", arguments: { name: "GITHUB_TOKEN" } }),
    b.callTool({ name: "gh__env", arguments: { name: "GITHUB_TOKEN" } }),
  ]);
  // The values are redacted on the way back; their fingerprints show whose credential each process has.
  const sha = async (v: string) => [...new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(v)))].map((x) => x.toString(16).padStart(2, "0")).join("");
  assert.is(JSON.parse(text(ra)).sha256, await sha(ALICE_GH));
  assert.is(JSON.parse(text(rb)).sha256, await sha(BOB_GH));
  assert.not.match(text(ra) + text(rb), /ghp_/);
  const pa = JSON.parse(text(ra));
  const pb = JSON.parse(text(rb));
  assert.ok(pa.pid !== pb.pid, "one process per user");
  // The servers' own stderr lines reach the gateway's log with each user's credential redacted.
  await waitFor(() => logged.filter((l) => l.message === "upstream says" && l.server === "gh").length >= 2);
  const lines = logged.filter((l) => l.message === "upstream says" && l.server === "gh").map((l) => String(l.line));
  assert.ok(lines.every((l) => !l.includes("ghp_")), lines.join("\n"));
  assert.ok(lines.some((l) => l.includes("GITHUB_TOKEN=[REDACTED:user:gh]")));
  // Changing a credential replaces that user's connection: a new process with the new value.
  assert.is((await put("gh", ALICE_KEY, "ghp_alice_new_00000000000000000000000003")).status, 200);
  await waitFor(async () => {
    const p = JSON.parse(text(await a.callTool({ name: "gh__env", arguments: { name: "GITHUB_TOKEN" } })));
    return p.pid !== pa.pid;
  });
});

test("GET /v1/me/credentials lists the caller's servers, never values; bad input is refused", async () => {
  const res = await fetch(`${gateway.url}/v1/me/credentials`, { headers: { "x-team-key": ALICE_KEY } });
  assert.is(res.status, 200);
  const body = await res.text();
  assert.not.match(body, /ghp_/);
  assert.match(body, /"who"/);
  assert.is((await put("nope", ALICE_KEY, "x".repeat(20))).status, 404);
  const bad = await fetch(`${gateway.url}/v1/me/credentials/who`, { method: "PUT", headers: { "x-team-key": ALICE_KEY, "content-type": "application/json" }, body: "{}" });
  assert.is(bad.status, 400);
  const anon = await fetch(`${gateway.url}/v1/me/credentials/who`, { method: "PUT", headers: { "content-type": "application/json" }, body: JSON.stringify({ value: "x" }) });
  assert.is(anon.status, 401);
});

test("a value one user stores as their credential is redacted on their own connection only", async () => {
  // Bob picks a value that appears in what alice receives; alice's answers must not change.
  assert.is((await put("who", BOB_KEY, "alice@example.com")).status, 200);
  assert.is((await put("who", ALICE_KEY, ALICE_GH)).status, 200);
  const a = await client(ALICE_KEY);
  const b = await client(BOB_KEY);
  await b.callTool({ name: "who__whoami", arguments: {} });
  const mine = JSON.parse(text(await a.callTool({ name: "who__whoami", arguments: {} })));
  assert.is(mine.headers["x-user-email"], "alice@example.com");
  assert.is(mine.headers.authorization, "Bearer [REDACTED:user:who]");
  const tools = (await a.listTools()).tools.map((t) => t.name);
  assert.ok(tools.includes("who__whoami"));
});

test.run();
