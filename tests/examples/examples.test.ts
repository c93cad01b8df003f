// The custom-plugin examples at work: two in-process upstreams (examples/custom-upstream.ts), the caller
// mapper (examples/custom-identity-mapper.ts) and the ring-buffer audit sink (examples/custom-audit-sink.ts)
// in one gateway behind bearer(), driven with raw JSON-RPC through gateway.fetch in both protocol eras.
import { suite } from "uvu";
import * as assert from "uvu/assert";
import type { McpServer } from "@modelcontextprotocol/server";
import { isGatewayError, type AuditEvent } from "../../core/mod.ts";
import { bearer } from "../../plugins/mod.ts";
import { memoryAudit } from "../../examples/custom-audit-sink.ts";
import { callerIdentity, encodeCaller, readCallerHeader, type Caller } from "../../examples/custom-identity-mapper.ts";
import { inProcess } from "../../examples/custom-upstream.ts";
import { bearerAuth, echoServer, harness, lookingStrategy, type Harness } from "../fixtures/in-process.ts";

const test = suite("examples");
const audit = memoryAudit({ capacity: 200 });
const looking = lookingStrategy(["x-caller"]);
const built: Record<string, McpServer[]> = { alpha: [], beta: [] };
let h: Harness;
let carol: { id: string; token: string };
const expected: Caller = { iss: "gateway", sub: "carol", email: "carol@example.com", roles: ["dev", "on-call"] };
const forgedCaller = encodeCaller({ iss: "gateway", sub: "ceo", roles: ["admin"] });

function build(name: string): () => McpServer {
  return () => {
    const server = echoServer(name);
    built[name]!.push(server);
    return server;
  };
}

function code(err: unknown): string | undefined {
  return isGatewayError(err) ? err.code : undefined;
}

test.before(async () => {
  h = await harness({
    auth: [looking, bearer()],
    identity: [callerIdentity()],
    audit: [audit],
    servers: {
      alpha: inProcess({ label: "alpha", build: build("alpha") }),
      beta: inProcess({ label: "beta", build: build("beta"), identityVia: "headers" }),
    },
  });
  carol = await h.token({ user: "carol", email: "carol@example.com", roles: ["dev", "on-call"] });
});

test.after(async () => {
  await h.gateway.close();
});

test("2025-11-25 session: the tools of both in-process upstreams are listed, namespaced", async () => {
  const auth = bearerAuth(carol.token);
  const session = await h.open(auth);
  const r = await h.rpc(auth, { id: 2, method: "tools/list" }, { session });
  assert.is(r.status, 200);
  const names = (r.body.result.tools as Array<{ name: string }>).map((t) => t.name).sort();
  assert.equal(names, ["alpha__shout", "alpha__whoami", "beta__shout", "beta__whoami"]);
});

test("2025-11-25 session: a call reaches the upstream its prefix names", async () => {
  const auth = bearerAuth(carol.token);
  const session = await h.open(auth);
  assert.is(await h.call(auth, "alpha__shout", { message: "hi" }, { session }), "alpha: HI");
  assert.is(await h.call(auth, "beta__shout", { message: "hi" }, { session }), "beta: HI");
  const unknown = await h.rpc(auth, { id: 9, method: "tools/call", params: { name: "gamma__shout", arguments: { message: "hi" } } }, { session });
  assert.is(unknown.body.error.code, -32602, "a server that is not configured is an unknown tool (invalid params)");
});

test("meta upstream: the mapper's _meta entry arrives; a client's copy of the key, in any case, is removed", async () => {
  const auth = bearerAuth(carol.token);
  const session = await h.open(auth);
  const forged = { "example.com/caller": { iss: "gateway", sub: "ceo", roles: ["admin"] }, "EXAMPLE.com/Caller": "forged" };
  const seen = await h.whoami(auth, "alpha", { session, meta: forged });
  assert.is(seen.server, "alpha");
  assert.equal(seen.meta["example.com/caller"], expected);
  assert.not.ok("EXAMPLE.com/Caller" in seen.meta);
  assert.equal(seen.headers, {}, "a meta upstream gets no identity headers");
});

test("headers upstream: X-Caller arrives decoded to the caller; a forged X-Caller is stripped before any strategy runs; a forged meta key is removed", async () => {
  const auth = bearerAuth(carol.token);
  const session = await h.open(auth);
  looking.seen.length = 0;
  const seen = await h.whoami(auth, "beta", { session, headers: { "X-Caller": forgedCaller }, meta: { "example.com/caller": "forged" } });
  assert.is(seen.server, "beta");
  assert.equal(readCallerHeader(seen.headers["x-caller"]), expected);
  assert.not.ok("example.com/caller" in seen.meta, "the mapper sends headers here, and the client's key is gone");
  assert.ok(looking.seen.length > 0);
  for (const s of looking.seen) assert.is(s["x-caller"], null, "no strategy ever saw the forged header");
});

test("2026-07-28 stateless: no session, tools listed, calls routed, identity forwarded, forgeries removed", async () => {
  const auth = bearerAuth(carol.token);
  const list = await h.rpc(auth, { id: 1, method: "tools/list" }, { era: "2026-07-28" });
  assert.is(list.status, 200, JSON.stringify(list.body));
  assert.is(list.session, null);
  assert.equal((list.body.result.tools as Array<{ name: string }>).map((t) => t.name).sort(), ["alpha__shout", "alpha__whoami", "beta__shout", "beta__whoami"]);
  assert.is(await h.call(auth, "beta__shout", { message: "stateless" }, { era: "2026-07-28" }), "beta: STATELESS");
  const alpha = await h.whoami(auth, "alpha", { era: "2026-07-28", meta: { "example.com/caller": "forged" } });
  assert.equal(alpha.meta["example.com/caller"], expected);
  const beta = await h.whoami(auth, "beta", { era: "2026-07-28", headers: { "x-caller": forgedCaller } });
  assert.equal(readCallerHeader(beta.headers["x-caller"]), expected);
});

test("the audit sink saw the token creation, auth successes and failures, and each tool call", async () => {
  const auth = bearerAuth(carol.token);
  await h.call(auth, "alpha__shout", { message: "audited" }, { era: "2026-07-28" });
  const refused = await h.rpc(bearerAuth(carol.token.slice(0, -2) + "xx"), { id: 1, method: "tools/list" }, { era: "2026-07-28" });
  assert.is(refused.status, 401);
  assert.is(refused.body.error.data.code, "ERR_INVALID_CREDENTIAL");

  const call = await audit.waitFor((e) => e.type === "tool_call" && e.server === "alpha" && e.tool === "shout" && e.subject === "carol");
  assert.is((call as Extract<AuditEvent, { type: "tool_call" }>).outcome, "ok");
  assert.is((call as Extract<AuditEvent, { type: "tool_call" }>).tokenId, carol.id);
  await audit.waitFor((e) => e.type === "auth" && e.outcome === "success" && e.strategy === "auth:bearer" && e.tokenId === carol.id);
  await audit.waitFor((e) => e.type === "auth" && e.outcome === "failure" && e.code === "ERR_INVALID_CREDENTIAL");
  await audit.waitFor((e) => e.type === "token" && e.action === "create" && e.tokenId === carol.id);
  const counts = audit.counts();
  assert.ok((counts.auth ?? 0) >= 2 && (counts.tool_call ?? 0) >= 1 && counts.token === 1, JSON.stringify(counts));
  assert.not.ok(JSON.stringify(audit.events()).includes(carol.token), "no event carries the secret");
});

test("closing the gateway closes every in-process server it built", async () => {
  const servers = [...built.alpha!, ...built.beta!];
  assert.ok(servers.length >= 2);
  assert.ok(servers.every((s) => s.isConnected()));
  await h.gateway.close();
  assert.ok(servers.every((s) => !s.isConnected()));
});

test("memoryAudit keeps the newest N events, oldest first, and counts every one", () => {
  const ring = memoryAudit({ capacity: 3 });
  for (let i = 0; i < 5; i++) {
    ring.write({ type: "auth", outcome: "success", path: `/mcp/${i}`, time: new Date(0).toISOString() });
  }
  ring.write({ type: "token", action: "create", actor: "cli", tokenId: "tok_1", user: "u", tokenType: "token", time: new Date(0).toISOString() });
  assert.equal(ring.events().map((e) => (e.type === "auth" ? e.path : e.type)), ["/mcp/3", "/mcp/4", "token"]);
  assert.equal(ring.counts(), { auth: 5, token: 1 });
  assert.is(ring.evicted(), 3);
  ring.clear();
  assert.equal(ring.events(), []);
  assert.throws(() => memoryAudit({ capacity: 0 }), RangeError);
});

test("config errors are ERR_CONFIG at config time", () => {
  const attempts: Array<() => unknown> = [
    () => callerIdentity({ header: "X Caller" }),
    () => callerIdentity({ metaKey: "io.portcullis/caller" }),
    () => callerIdentity({ metaKey: "no-namespace" }),
    () => inProcess({} as never),
    () => inProcess({ build: () => echoServer("x"), identityVia: "body" as never }),
    () => inProcess({ build: () => echoServer("x"), secrets: [""] }),
  ];
  for (const attempt of attempts) {
    let thrown: unknown;
    try {
      attempt();
    } catch (err) {
      thrown = err;
    }
    assert.is(code(thrown), "ERR_CONFIG", String(thrown));
  }
});

test.run();
