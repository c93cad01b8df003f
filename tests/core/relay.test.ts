// What a server starts reaches the caller it belongs to, and nobody else: progress through a shared stdio
// connection (server-everything, a v1-SDK server from npm) to two callers at once, in both protocol eras,
// driven by the MCP SDK client.
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { Client, StreamableHTTPClientTransport } from "@modelcontextprotocol/client";
import type { AuditEvent } from "../../core/mod.ts";
import { McpServer } from "@modelcontextprotocol/server";
import { envSecrets } from "../../plugins/mod.ts";
import { inProcess } from "../../examples/custom-upstream.ts";
import { ALICE_KEY, BOB_KEY, connectClient, EVERYTHING, everythingUpstream, startGateway, stdio, testAuth, waitFor } from "../fixtures/helpers.ts";

const test = suite("relay");
let gateway: Awaited<ReturnType<typeof startGateway>>;
const clients: Client[] = [];
const events: AuditEvent[] = [];

/** A 2025-11-25 client that can be asked for sampling and elicitation, answering as `who`. */
async function capableClient(key: string, who: string): Promise<{ client: Client; logs: unknown[] }> {
  const client = new Client({ name: who, version: "1" }, { capabilities: { sampling: {}, elicitation: {} }, versionNegotiation: { mode: "legacy" } });
  client.setRequestHandler("sampling/createMessage", () => ({ model: `${who}-model`, role: "assistant", content: { type: "text", text: `sampled for ${who}` } }));
  client.setRequestHandler("elicitation/create", () => ({ action: "accept", content: { color: who === "alice" ? "red" : "blue", number: 7, pets: "cats" } }));
  const logs: unknown[] = [];
  client.setNotificationHandler("notifications/message", (n) => void logs.push(n.params));
  await client.connect(new StreamableHTTPClientTransport(new URL(`${gateway.url}/mcp`), { requestInit: { headers: { "x-team-key": key } } }));
  clients.push(client);
  return { client, logs };
}

const textOf = (r: unknown): string => ((r as { content?: Array<{ text?: string }> }).content ?? []).map((c) => c.text ?? "").join("");

async function client(key: string, era: "2025-11-25" | "2026-07-28", path = "/mcp"): Promise<Client> {
  const { client } = await connectClient(gateway.url + path, key, era);
  clients.push(client);
  return client;
}

type Progress = { progress: number; total?: number };

async function longCall(c: Client, name: string, steps: number): Promise<Progress[]> {
  const seen: Progress[] = [];
  await c.callTool(
    { name, arguments: { duration: 0.3 * steps, steps } },
    { onprogress: (p: Progress) => void seen.push({ progress: p.progress, total: p.total }) } as never,
  );
  return seen;
}

test.before(async () => {
  gateway = await startGateway({ auth: [await testAuth()], servers: { everything: everythingUpstream() }, audit: [{ name: "audit:test", write: (e) => void events.push(e) }] });
});

test.after(async () => {
  await Promise.all(clients.map((c) => c.close().catch(() => undefined)));
  await gateway.close();
});

for (const era of ["2025-11-25", "2026-07-28"] as const) {
  test(`${era}: two callers on one shared stdio connection each get their own progress, in order`, async () => {
    const alice = await client(ALICE_KEY, era);
    const bob = await client(BOB_KEY, era, "/mcp/everything");
    const [a, b] = await Promise.all([
      longCall(alice, "everything__trigger-long-running-operation", 3),
      longCall(bob, "trigger-long-running-operation", 4),
    ]);
    assert.equal(a, [1, 2, 3].map((progress) => ({ progress, total: 3 })));
    assert.equal(b, [1, 2, 3, 4].map((progress) => ({ progress, total: 4 })));
  });
}

test("a call without a progress token gets no progress, and the upstream never sees a caller's token", async () => {
  const alice = await client(ALICE_KEY, "2025-11-25");
  const notes: unknown[] = [];
  alice.setNotificationHandler("notifications/progress" as never, ((n: unknown) => void notes.push(n)) as never);
  const r = await alice.callTool({ name: "everything__trigger-long-running-operation", arguments: { duration: 0.2, steps: 2 } });
  assert.ok(!(r as { isError?: boolean }).isError);
  assert.equal(notes, []);
});

test("sampling and elicitation reach the caller whose call asked for them, and only that caller", async () => {
  const alice = await capableClient(ALICE_KEY, "alice");
  const bob = await capableClient(BOB_KEY, "bob");
  // The server offers its sampling tool only to a client that can sample: each session sees it through its own connection.
  assert.ok((await alice.client.listTools()).tools.some((t) => t.name === "everything__trigger-sampling-request"));
  const [a, b] = await Promise.all([
    alice.client.callTool({ name: "everything__trigger-sampling-request", arguments: { prompt: "hi" } }),
    bob.client.callTool({ name: "everything__trigger-sampling-request", arguments: { prompt: "hi" } }),
  ]);
  assert.match(textOf(a), "sampled for alice");
  assert.not.match(textOf(a), "bob");
  assert.match(textOf(b), "sampled for bob");
  assert.not.match(textOf(b), "alice");
  const e = await alice.client.callTool({ name: "everything__trigger-elicitation-request", arguments: {} });
  assert.match(textOf(e), "red");
  const audited = events.filter((x) => x.type === "server_request");
  assert.ok(audited.some((x) => x.type === "server_request" && x.kind === "sampling" && x.subject === "alice" && x.outcome === "ok"));
  assert.ok(audited.some((x) => x.type === "server_request" && x.kind === "sampling" && x.subject === "bob"));
  assert.ok(audited.some((x) => x.type === "server_request" && x.kind === "elicitation" && x.subject === "alice"));
  assert.not.match(JSON.stringify(audited), "sampled for", "never the content");
});

test("logging: a caller that sets a level gets its servers' log messages, named by server; nobody else does", async () => {
  const alice = await capableClient(ALICE_KEY, "alice");
  const bob = await capableClient(BOB_KEY, "bob");
  assert.ok(alice.client.getServerCapabilities()?.logging, "the gateway advertises logging because an upstream logs");
  await alice.client.setLoggingLevel("debug");
  await alice.client.callTool({ name: "everything__toggle-simulated-logging", arguments: {} });
  await waitFor(() => alice.logs.length > 0, 5000);
  assert.match(JSON.stringify(alice.logs[0]), /"logger":"everything/);
  assert.equal(bob.logs, []);
});

test("per server: sampling can be refused, and connections of their own are bounded with a clear error", async () => {
  const strict = await startGateway({
    auth: [await testAuth()],
    // The same upstream, told not to sample and to serve one caller session of its own at most.
    servers: { everything: stdio({ command: "node", args: [EVERYTHING, "stdio"], stderr: "ignore", allowSampling: false, maxCallerConnections: 1 }) },
    audit: [{ name: "audit:test", write: (e) => void events.push(e) }],
  });
  try {
    const open = async (key: string, who: string) => {
      const c = new Client({ name: who, version: "1" }, { capabilities: { sampling: {} }, versionNegotiation: { mode: "legacy" } });
      c.setRequestHandler("sampling/createMessage", () => ({ model: "m", role: "assistant", content: { type: "text", text: "never" } }));
      await c.connect(new StreamableHTTPClientTransport(new URL(`${strict.url}/mcp`), { requestInit: { headers: { "x-team-key": key } } }));
      clients.push(c);
      return c;
    };
    const alice = await open(ALICE_KEY, "alice");
    const before = events.length;
    const refused = await alice.callTool({ name: "everything__trigger-sampling-request", arguments: { prompt: "hi" } }).catch((e: Error) => ({ isError: true, content: [{ type: "text", text: e.message }] }));
    assert.ok((refused as { isError?: boolean }).isError);
    assert.not.match(JSON.stringify(refused), "never");
    assert.ok(events.slice(before).some((e) => e.type === "server_request" && e.outcome === "refused" && e.kind === "sampling"));
    const bob = await open(BOB_KEY, "bob");
    const err = await bob.callTool({ name: "everything__echo", arguments: { message: "x" } }).then(() => "", (e: Error) => e.message);
    assert.match(err, "maxCallerConnections");
  } finally {
    await strict.close();
  }
});

test("one user cannot take all of a server's own connections: maxCallerConnectionsPerUser", async () => {
  const bounded = await startGateway({
    auth: [await testAuth()],
    servers: { everything: stdio({ command: "node", args: [EVERYTHING, "stdio"], stderr: "ignore", maxCallerConnectionsPerUser: 1 }) },
  });
  try {
    const open = async (key: string, who: string) => {
      const c = new Client({ name: who, version: "1" }, { capabilities: { sampling: {} }, versionNegotiation: { mode: "legacy" } });
      c.setRequestHandler("sampling/createMessage", () => ({ model: "m", role: "assistant", content: { type: "text", text: `for ${who}` } }));
      await c.connect(new StreamableHTTPClientTransport(new URL(`${bounded.url}/mcp`), { requestInit: { headers: { "x-team-key": key } } }));
      clients.push(c);
      return c;
    };
    const first = await open(ALICE_KEY, "alice");
    assert.match(textOf(await first.callTool({ name: "everything__echo", arguments: { message: "one" } })), "one");
    const second = await open(ALICE_KEY, "alice");
    const err = await second.callTool({ name: "everything__echo", arguments: { message: "two" } }).then(() => "", (e: Error) => e.message);
    assert.match(err, "maxCallerConnectionsPerUser");
    // Another user is not held back by Alice's connections.
    const bob = await open(BOB_KEY, "bob");
    assert.match(textOf(await bob.callTool({ name: "everything__echo", arguments: { message: "bob" } })), "bob");
  } finally {
    await bounded.close();
  }
});

test("a server's sampling request quoting a credential the gateway gave it reaches the caller redacted", async () => {
  const KEY = "sampling-leak-key-0123456789abcdef";
  (globalThis as { process?: { env: Record<string, string> } }).process!.env.PC_RELAY_KEY = KEY;
  const leaky = await startGateway({
    auth: [await testAuth()],
    secrets: [envSecrets({ prefix: "PC_RELAY_" })],
    servers: {
      leaky: inProcess({
        secrets: ["KEY"],
        build: async (ctx) => {
          const key = await ctx.secret("KEY");
          const server = new McpServer({ name: "leaky", version: "1" });
          server.registerTool("ask", { description: "Asks the client to sample, quoting its key." }, async (c) => {
            const r = await c.mcpReq.requestSampling({ messages: [{ role: "user", content: { type: "text", text: `my key is ${key}` } }], maxTokens: 5 });
            return { content: [{ type: "text", text: JSON.stringify(r.content) }] };
          });
          return server;
        },
      }),
    },
  });
  try {
    const seen: string[] = [];
    const c = new Client({ name: "alice", version: "1" }, { capabilities: { sampling: {} }, versionNegotiation: { mode: "legacy" } });
    c.setRequestHandler("sampling/createMessage", (req) => {
      seen.push(JSON.stringify(req.params));
      return { model: "m", role: "assistant", content: { type: "text", text: "ok" } };
    });
    await c.connect(new StreamableHTTPClientTransport(new URL(`${leaky.url}/mcp`), { requestInit: { headers: { "x-team-key": ALICE_KEY } } }));
    clients.push(c);
    await c.callTool({ name: "leaky__ask", arguments: {} });
    assert.is(seen.length, 1);
    assert.not.match(seen[0]!, KEY);
    assert.match(seen[0]!, "[REDACTED:KEY]");
  } finally {
    await leaky.close();
  }
});

test.run();
