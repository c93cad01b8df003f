// The same relay, driven by the v1 MCP SDK client (`@modelcontextprotocol/sdk`, the line most clients in
// the field still use): progress, sampling, elicitation and logs from server-everything over one stdio
// process, through /mcp and /mcp/<server>, each reaching only the client that caused it.
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { CreateMessageRequestSchema, ElicitRequestSchema, LoggingMessageNotificationSchema } from "@modelcontextprotocol/sdk/types.js";
import { ALICE_KEY, BOB_KEY, everythingUpstream, startGateway, testAuth, waitFor } from "../fixtures/helpers.ts";

const test = suite("relay-v1");
let gateway: Awaited<ReturnType<typeof startGateway>>;
const clients: Client[] = [];

/** A v1 client that can be asked for sampling and elicitation, answering as `who`. */
async function v1Client(key: string, who: string, path = "/mcp"): Promise<{ client: Client; logs: unknown[] }> {
  const client = new Client({ name: who, version: "1" }, { capabilities: { sampling: {}, elicitation: {} } });
  client.setRequestHandler(CreateMessageRequestSchema, () => ({ model: `${who}-model`, role: "assistant", content: { type: "text", text: `sampled for ${who}` } }));
  client.setRequestHandler(ElicitRequestSchema, () => ({ action: "accept", content: { color: who === "alice" ? "red" : "blue", number: 7, pets: "cats" } }));
  const logs: unknown[] = [];
  client.setNotificationHandler(LoggingMessageNotificationSchema, (n) => void logs.push(n.params));
  await client.connect(new StreamableHTTPClientTransport(new URL(gateway.url + path), { requestInit: { headers: { "x-team-key": key } } }));
  clients.push(client);
  return { client, logs };
}

const textOf = (r: unknown): string => ((r as { content?: Array<{ text?: string }> }).content ?? []).map((c) => c.text ?? "").join("");

test.before(async () => {
  gateway = await startGateway({ auth: [await testAuth()], servers: { everything: everythingUpstream() } });
});

test.after(async () => {
  await Promise.all(clients.map((c) => c.close().catch(() => undefined)));
  await gateway.close();
});

test("progress: two v1 clients at once each get their own, in order", async () => {
  const alice = await v1Client(ALICE_KEY, "alice");
  const bob = await v1Client(BOB_KEY, "bob", "/mcp/everything");
  const run = async (c: Client, name: string, steps: number) => {
    const seen: number[] = [];
    await c.callTool({ name, arguments: { duration: 0.3 * steps, steps } }, undefined, { onprogress: (p) => void seen.push(p.progress) });
    return seen;
  };
  const [a, b] = await Promise.all([run(alice.client, "everything__trigger-long-running-operation", 3), run(bob.client, "trigger-long-running-operation", 4)]);
  assert.equal(a, [1, 2, 3]);
  assert.equal(b, [1, 2, 3, 4]);
});

test("sampling and elicitation: each v1 client answers only its own server requests", async () => {
  const alice = await v1Client(ALICE_KEY, "alice");
  const bob = await v1Client(BOB_KEY, "bob");
  const [a, b] = await Promise.all([
    alice.client.callTool({ name: "everything__trigger-sampling-request", arguments: { prompt: "hi" } }),
    bob.client.callTool({ name: "everything__trigger-sampling-request", arguments: { prompt: "hi" } }),
  ]);
  assert.match(textOf(a), "sampled for alice");
  assert.not.match(textOf(a), "bob");
  assert.match(textOf(b), "sampled for bob");
  const e = await bob.client.callTool({ name: "everything__trigger-elicitation-request", arguments: {} });
  assert.match(textOf(e), "blue");
  assert.not.match(textOf(e), "red");
});

test("logs: a v1 client that sets a level gets the server's messages; another does not", async () => {
  const alice = await v1Client(ALICE_KEY, "alice");
  const bob = await v1Client(BOB_KEY, "bob");
  await alice.client.setLoggingLevel("debug");
  await alice.client.callTool({ name: "everything__toggle-simulated-logging", arguments: {} });
  await waitFor(() => alice.logs.length > 0, 5000);
  assert.match(JSON.stringify(alice.logs[0]), /"logger":"everything/);
  assert.equal(bob.logs, []);
});

test.run();
