// MCP 2026-07-28 callers are stateless: a server cannot send them requests, it answers `input_required`
// and the caller retries with its answers. server-everything (a v1-SDK server from npm) still pushes
// sampling and elicitation requests the 2025 way; the gateway bridges the two eras. Driven by the v2 SDK
// client (which answers input_required with its handlers) and by raw HTTP where the wire matters.
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { Client, StreamableHTTPClientTransport } from "@modelcontextprotocol/client";
import { McpServer } from "@modelcontextprotocol/server";
import type { AuditEvent } from "../../core/mod.ts";
import { inProcess } from "../../examples/custom-upstream.ts";
import { ALICE_KEY, BOB_KEY, everythingUpstream, startGateway, testAuth } from "../fixtures/helpers.ts";

const test = suite("input-rounds");
let gateway: Awaited<ReturnType<typeof startGateway>>;
const clients: Client[] = [];
const events: AuditEvent[] = [];
const ERA = "2026-07-28";

/** A stateless (2026-07-28) client that declares sampling and elicitation, answering as `who`. */
async function statelessClient(key: string, who: string, path = "/mcp"): Promise<{ client: Client; logs: Array<Record<string, unknown>> }> {
  const client = new Client({ name: who, version: "1" }, { capabilities: { sampling: {}, elicitation: {} }, versionNegotiation: { mode: { pin: ERA } } });
  client.setRequestHandler("sampling/createMessage", () => ({ model: `${who}-model`, role: "assistant", content: { type: "text", text: `sampled for ${who}` } }));
  client.setRequestHandler("elicitation/create", () => ({ action: "accept", content: { color: who === "alice" ? "red" : "blue", number: 7, pets: "cats" } }));
  const logs: Array<Record<string, unknown>> = [];
  client.setNotificationHandler("notifications/message", (n) => void logs.push(n.params as Record<string, unknown>));
  await client.connect(new StreamableHTTPClientTransport(new URL(gateway.url + path), { requestInit: { headers: { "x-team-key": key } } }));
  clients.push(client);
  return { client, logs };
}

const textOf = (r: unknown): string => ((r as { content?: Array<{ text?: string }> }).content ?? []).map((c) => c.text ?? "").join("");

/** One raw 2026-07-28 request with its `_meta` envelope; the JSON-RPC answer. */
async function raw(key: string, id: number, method: string, params: Record<string, unknown>, meta: Record<string, unknown> = {}): Promise<any> {
  const res = await fetch(`${gateway.url}/mcp`, {
    method: "POST",
    headers: { "x-team-key": key, "content-type": "application/json", accept: "application/json, text/event-stream", "mcp-protocol-version": ERA, "mcp-method": method, ...(method === "tools/call" ? { "mcp-name": String(params.name) } : {}) },
    body: JSON.stringify({
      jsonrpc: "2.0",
      id,
      method,
      params: { ...params, _meta: { "io.modelcontextprotocol/protocolVersion": ERA, "io.modelcontextprotocol/clientCapabilities": {}, ...meta } },
    }),
  });
  const text = await res.text();
  const data = text.split("\n").filter((l) => l.startsWith("data:")).map((l) => l.slice(5)).pop() ?? text;
  return JSON.parse(data);
}

/** A server that logs while it works, for the per-request log level. */
function chatty(): McpServer {
  const server = new McpServer({ name: "chatty", version: "1" }, { capabilities: { logging: {} } });
  server.registerTool("work", { description: "Logs at two levels, then answers." }, async (ctx) => {
    await ctx.mcpReq.log("debug", "debug detail", "worker");
    await ctx.mcpReq.log("warning", "careful", "worker");
    return { content: [{ type: "text", text: "done" }] };
  });
  return server;
}

test.before(async () => {
  gateway = await startGateway({
    auth: [await testAuth()],
    servers: { everything: everythingUpstream(), chatty: inProcess({ label: "chatty", build: chatty }) },
    audit: [{ name: "audit:test", write: (e) => void events.push(e) }],
  });
});

test.after(async () => {
  await Promise.all(clients.map((c) => c.close().catch(() => undefined)));
  await gateway.close();
});

test("a stateless caller that can sample sees the sampling tool, and the server's request reaches it as input_required", async () => {
  const { client } = await statelessClient(ALICE_KEY, "alice");
  assert.ok((await client.listTools()).tools.some((t) => t.name === "everything__trigger-sampling-request"));
  const before = events.length;
  const r = await client.callTool({ name: "everything__trigger-sampling-request", arguments: { prompt: "hi" } });
  assert.not.ok(r.isError, textOf(r));
  assert.match(textOf(r), /sampled for alice/);
  const e = await client.callTool({ name: "everything__trigger-elicitation-request", arguments: {} });
  assert.match(textOf(e), /red/);
  const audited = events.slice(before).filter((x) => x.type === "server_request");
  assert.ok(audited.some((x) => x.kind === "sampling" && x.subject === "alice" && x.outcome === "ok"), JSON.stringify(audited));
  assert.ok(audited.some((x) => x.kind === "elicitation" && x.subject === "alice" && x.outcome === "ok"), JSON.stringify(audited));
});

test("two stateless callers at once each answer only their own server requests", async () => {
  const alice = await statelessClient(ALICE_KEY, "alice");
  const bob = await statelessClient(BOB_KEY, "bob", "/mcp/everything");
  const [a, b] = await Promise.all([
    alice.client.callTool({ name: "everything__trigger-elicitation-request", arguments: {} }),
    bob.client.callTool({ name: "trigger-elicitation-request", arguments: {} }),
  ]);
  assert.match(textOf(a), /red/);
  assert.not.match(textOf(a), /blue/);
  assert.match(textOf(b), /blue/);
  assert.not.match(textOf(b), /red/);
});

test("requestState is single-use and bound to the credential and the call it was issued for", async () => {
  const caps = { "io.modelcontextprotocol/clientCapabilities": { elicitation: {} } };
  const first = await raw(ALICE_KEY, 1, "tools/call", { name: "everything__trigger-elicitation-request", arguments: {} }, caps);
  assert.is(first.result?.resultType, "input_required", JSON.stringify(first));
  const [key, ask] = Object.entries(first.result.inputRequests as Record<string, { method: string }>)[0]!;
  assert.is(ask.method, "elicitation/create");
  const state = first.result.requestState as string;
  assert.ok(state.length >= 32);
  const answer = { [key]: { action: "accept", content: { color: "green", number: 3, pets: "dogs" } } };

  // Another credential, or the same state on another tool, is refused and leaves the round waiting.
  const stolen = await raw(BOB_KEY, 2, "tools/call", { name: "everything__trigger-elicitation-request", arguments: {}, inputResponses: answer, requestState: state }, caps);
  assert.is(stolen.error?.code, -32602, JSON.stringify(stolen));
  const elsewhere = await raw(ALICE_KEY, 3, "tools/call", { name: "everything__echo", arguments: { message: "x" }, inputResponses: answer, requestState: state }, caps);
  assert.is(elsewhere.error?.code, -32602, JSON.stringify(elsewhere));

  const done = await raw(ALICE_KEY, 4, "tools/call", { name: "everything__trigger-elicitation-request", arguments: {}, inputResponses: answer, requestState: state }, caps);
  assert.match(textOf(done.result), /green/, JSON.stringify(done));
  const replay = await raw(ALICE_KEY, 5, "tools/call", { name: "everything__trigger-elicitation-request", arguments: {}, inputResponses: answer, requestState: state }, caps);
  assert.is(replay.error?.code, -32602, JSON.stringify(replay));
  const forged = await raw(ALICE_KEY, 6, "tools/call", { name: "everything__trigger-elicitation-request", arguments: {}, inputResponses: answer, requestState: "A".repeat(32) }, caps);
  assert.is(forged.error?.code, -32602, JSON.stringify(forged));
});

test("a caller that declares no capability is never asked: the server's request is refused upstream", async () => {
  const r = await raw(ALICE_KEY, 1, "tools/call", { name: "everything__trigger-elicitation-request", arguments: {} });
  assert.is.not(r.result?.resultType, "input_required", JSON.stringify(r));
});

test("logs of a stateless request reach it at the level it set, on its own response, and only with a level", async () => {
  const { client, logs } = await statelessClient(ALICE_KEY, "alice");
  const quiet = await client.callTool({ name: "chatty__work", arguments: {} });
  assert.is(textOf(quiet), "done");
  assert.equal(logs, []);
  const r = await client.callTool({ name: "chatty__work", arguments: {}, _meta: { "io.modelcontextprotocol/logLevel": "info" } });
  assert.is(textOf(r), "done");
  assert.equal(logs.map((l) => [l.level, l.logger, l.data]), [["warning", "chatty/worker", "careful"]]);
});

test.run();
