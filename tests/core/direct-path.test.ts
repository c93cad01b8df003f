// The gateway answers a plain tool call in a session as a router: one JSON message, without the SDK's
// server machinery. These tests hold that path to the full one: the same results, errors, audit events,
// identity forwarding and session binding, and every request it cannot serve exactly (progress asked
// for, a batch, odd headers) still goes the full way.
import { suite } from "uvu";
import * as assert from "uvu/assert";
import type { AuditEvent } from "../../core/mod.ts";
import { bearer } from "../../plugins/mod.ts";
import { McpServer } from "@modelcontextprotocol/server";
import { inProcess } from "../../examples/custom-upstream.ts";
import { BASE, bearerAuth, echoServer, harness, type Harness, type Seen } from "../fixtures/in-process.ts";

const test = suite("direct-path");
let h: Harness;
const events: AuditEvent[] = [];
let alice: Record<string, string>;
let limited: Record<string, string>;
/** What the `slow` server's `wait` tool saw: whether its call was cancelled. */
const waits: Array<"started" | "cancelled" | "finished"> = [];

/** A server whose `wait` tool runs until cancelled (or 10 s). */
function slow(): McpServer {
  const server = new McpServer({ name: "slow", version: "1" });
  server.registerTool("wait", { description: "Waits until cancelled." }, async (ctx) => {
    waits.push("started");
    const outcome = await new Promise<"cancelled" | "finished">((resolve) => {
      const timer = setTimeout(() => resolve("finished"), 10_000);
      ctx.mcpReq.signal.addEventListener("abort", () => {
        clearTimeout(timer);
        resolve("cancelled");
      });
    });
    waits.push(outcome);
    return { content: [{ type: "text", text: outcome }] };
  });
  return server;
}

test.before(async () => {
  h = await harness({
    auth: bearer(),
    audit: [{ name: "audit:test", write: (e) => void events.push(e) }],
    servers: { echo: inProcess({ label: "echo", build: () => echoServer("echo") }), slow: inProcess({ label: "slow", build: slow }) },
  });
  alice = bearerAuth((await h.token({ user: "alice", email: "alice@example.com" })).token);
  limited = bearerAuth((await h.token({ user: "lim", permissions: { tools: ["echo__shout"] } })).token);
});

test.after(async () => {
  await h.gateway.close();
});

const call = (name: string, args: Record<string, unknown>, meta?: Record<string, unknown>) =>
  ({ id: 7, method: "tools/call", params: { name, arguments: args, ...(meta ? { _meta: meta } : {}) } });

test("a plain tool call is answered as one JSON message; with a progress token, as a stream; same result", async () => {
  const session = await h.open(alice);
  const direct = await h.rpc(alice, call("echo__shout", { message: "hi" }), { session });
  assert.is(direct.status, 200);
  assert.is(direct.headers.get("content-type"), "application/json");
  assert.is(direct.headers.get("mcp-session-id"), session);
  assert.equal(direct.body, { jsonrpc: "2.0", id: 7, result: { content: [{ type: "text", text: "echo: HI" }] } });

  const streamed = await h.rpc(alice, call("echo__shout", { message: "hi" }, { progressToken: "p1" }), { session });
  assert.is(streamed.status, 200);
  assert.match(streamed.headers.get("content-type") ?? "", /^text\/event-stream/);
  assert.equal(streamed.body.result, direct.body.result);
});

test("the direct path forwards the gateway's identity, never the client's, and audits the call", async () => {
  const session = await h.open(alice);
  const before = events.length;
  const forged = { "io.portcullis/identity": { sub: "root" }, "io.portcullis/assertion": "forged" };
  const r = await h.rpc(alice, call("echo__whoami", {}, forged), { session });
  assert.is(r.headers.get("content-type"), "application/json");
  const seen = JSON.parse(r.body.result.content[0].text) as Seen;
  assert.not.ok(JSON.stringify(seen.meta).includes("forged"), JSON.stringify(seen.meta));
  assert.not.ok(JSON.stringify(seen.meta).includes('"root"'), JSON.stringify(seen.meta));
  assert.ok(JSON.stringify(seen.meta).includes("alice@example.com"), JSON.stringify(seen.meta));
  const audited = events.slice(before).filter((e) => e.type === "tool_call");
  assert.is(audited.length, 1);
  assert.is(audited[0]!.subject, "alice");
  assert.is((audited[0] as { server?: string }).server, "echo");
  assert.is((audited[0] as { tool?: string }).tool, "whoami");
  assert.is((audited[0] as { outcome?: string }).outcome, "ok");
});

test("a denied or unknown tool gets the same JSON-RPC error on both paths, audited as denied", async () => {
  const session = await h.open(limited);
  for (const meta of [undefined, { progressToken: 5 }]) {
    for (const name of ["echo__whoami", "echo__nope", "nope__shout"]) {
      const before = events.length;
      const r = await h.rpc(limited, call(name, {}, meta), { session });
      assert.is(r.status, 200);
      assert.is(r.body.error?.code, -32602, JSON.stringify(r.body));
      assert.is(r.body.error?.message, `Unknown tool: ${name}`);
      assert.is((events.slice(before).find((e) => e.type === "tool_call") as { outcome?: string } | undefined)?.outcome, "denied");
    }
  }
  assert.is((await h.rpc(limited, call("echo__shout", { message: "ok" }), { session })).body.result.content[0].text, "echo: OK");
});

test("another credential cannot use a session on the direct path either", async () => {
  const session = await h.open(alice);
  const r = await h.rpc(limited, call("echo__shout", { message: "x" }), { session });
  assert.is(r.status, 404);
});

test("what the direct path cannot serve exactly takes the full path: headers, batches, versions, bad params", async () => {
  const session = await h.open(alice);
  const post = async (body: unknown, headers: Record<string, string> = {}) => {
    const res = await h.gateway.fetch(new Request(`${BASE}/mcp`, {
      method: "POST",
      headers: { ...alice, "content-type": "application/json", accept: "application/json, text/event-stream", "mcp-session-id": session, ...headers },
      body: JSON.stringify(body),
    }));
    return { status: res.status, type: res.headers.get("content-type"), text: await res.text() };
  };
  const message = { jsonrpc: "2.0", ...call("echo__shout", { message: "x" }) };
  assert.is((await post(message, { accept: "application/json" })).status, 406);
  assert.is((await post(message, { "mcp-protocol-version": "1999-01-01" })).status, 400);
  const batch = await post([message, { ...message, id: 8 }]);
  assert.is(batch.status, 200);
  assert.match(batch.type ?? "", /^text\/event-stream/);
  // Arguments that are not an object: the full path's validation answers, not the upstream.
  const bad = await post({ ...message, params: { name: "echo__shout", arguments: "x" } });
  assert.not.ok(bad.text.includes("ECHO"), bad.text);
  assert.match(bad.text, /"error"/);
});

test("a call on the direct path is cancelled upstream by the caller's notifications/cancelled", async () => {
  const session = await h.open(alice);
  const answer = h.rpc(alice, { id: 41, method: "tools/call", params: { name: "slow__wait", arguments: {} } }, { session });
  const until = Date.now() + 5_000;
  while (!waits.includes("started") && Date.now() < until) await new Promise((r) => setTimeout(r, 10));
  assert.ok(waits.includes("started"));
  const note = await h.rpc(alice, { method: "notifications/cancelled", params: { requestId: 41, reason: "user" } }, { session });
  assert.is(note.status, 202);
  const r = await answer;
  assert.ok(r.body.error, JSON.stringify(r.body));
  while (!waits.includes("cancelled") && Date.now() < until) await new Promise((r) => setTimeout(r, 10));
  assert.equal(waits, ["started", "cancelled"]);
});

test.run();
