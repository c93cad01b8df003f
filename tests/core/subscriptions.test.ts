// Resource subscriptions through the aggregate, in both protocol eras: a 2025-11-25 session subscribes
// with resources/subscribe, a 2026-07-28 caller listens with subscriptions/listen. Updates of two
// upstreams reach the caller that asked for them, only for resources it may read, and the upstream
// subscription ends with the last listener. Driven by the v2 SDK client.
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { Client, StreamableHTTPClientTransport } from "@modelcontextprotocol/client";
import { McpServer } from "@modelcontextprotocol/server";
import { inProcess } from "../../examples/custom-upstream.ts";
import { bearer, memoryStore } from "../../plugins/mod.ts";
import { startGateway, waitFor } from "../fixtures/helpers.ts";

const test = suite("subscriptions");
const ADMIN = "admin-token-for-subscription-tests-0123456789";
let gw: Awaited<ReturnType<typeof startGateway>>;
const clients: Client[] = [];

/** A server with one resource, `<name>://note`, that takes subscriptions; `touch` changes it and says how many subscriptions it holds. */
function board(name: string): McpServer {
  const server = new McpServer({ name, version: "1" }, { capabilities: { resources: { subscribe: true, listChanged: true } } });
  const subscribed = new Set<string>();
  const uri = `${name}://note`;
  server.registerResource("note", uri, { mimeType: "text/plain" }, (u) => ({ contents: [{ uri: u.href, text: `${name} note` }] }));
  server.server.setRequestHandler("resources/subscribe", (req) => {
    subscribed.add(req.params.uri);
    return {};
  });
  server.server.setRequestHandler("resources/unsubscribe", (req) => {
    subscribed.delete(req.params.uri);
    return {};
  });
  server.registerTool("touch", { description: "Changes the note." }, async () => {
    if (subscribed.has(uri)) await server.server.sendResourceUpdated({ uri });
    return { content: [{ type: "text", text: String(subscribed.size) }] };
  });
  return server;
}

async function token(body: Record<string, unknown>): Promise<string> {
  const res = await fetch(`${gw.url}/v1/auth/tokens`, { method: "POST", headers: { authorization: `Bearer ${ADMIN}`, "content-type": "application/json" }, body: JSON.stringify(body) });
  assert.is(res.status, 201);
  return ((await res.json()) as { token: string }).token;
}

async function client(secret: string, era: "2025-11-25" | "2026-07-28"): Promise<{ client: Client; updates: string[] }> {
  const c = new Client({ name: "t", version: "1" }, { versionNegotiation: { mode: era === "2025-11-25" ? "legacy" : { pin: era } } });
  const updates: string[] = [];
  c.setNotificationHandler("notifications/resources/updated", (n) => void updates.push(n.params.uri));
  await c.connect(new StreamableHTTPClientTransport(new URL(`${gw.url}/mcp`), { requestInit: { headers: { authorization: `Bearer ${secret}` } } }));
  clients.push(c);
  return { client: c, updates };
}

const textOf = (r: unknown): string => ((r as { content?: Array<{ text?: string }> }).content ?? []).map((c) => c.text ?? "").join("");

test.before(async () => {
  gw = await startGateway({
    auth: bearer(),
    admin: { token: ADMIN, bootstrap: false },
    tokens: { store: memoryStore() },
    servers: { a: inProcess({ label: "a", build: () => board("a") }), b: inProcess({ label: "b", build: () => board("b") }) },
  });
});

test.after(async () => {
  await Promise.all(clients.map((c) => c.close().catch(() => undefined)));
  await gw.close();
});

test("the gateway advertises what its upstreams can do: subscriptions here, but neither logging nor completions", async () => {
  const alice = await client(await token({ user: "alice" }), "2025-11-25");
  const caps = alice.client.getServerCapabilities() as Record<string, any>;
  assert.is(caps.resources?.subscribe, true);
  assert.is(caps.logging, undefined);
  assert.is(caps.completions, undefined);
});

test("2025-11-25: a session's subscriptions to two servers bring it both servers' updates, and nobody else's", async () => {
  const alice = await client(await token({ user: "alice" }), "2025-11-25");
  const bob = await client(await token({ user: "bob" }), "2025-11-25");
  await alice.client.subscribeResource({ uri: "a://note" });
  await alice.client.subscribeResource({ uri: "b://note" });
  await alice.client.callTool({ name: "a__touch", arguments: {} });
  await alice.client.callTool({ name: "b__touch", arguments: {} });
  await waitFor(() => alice.updates.length === 2, 5_000);
  assert.equal(alice.updates.sort(), ["a://note", "b://note"]);
  await bob.client.callTool({ name: "a__touch", arguments: {} });
  await new Promise((r) => setTimeout(r, 100));
  assert.equal(bob.updates, []);
});

test("2026-07-28: a listener hears the resources it named and may read; the upstream subscription ends with the last listener", async () => {
  const alice = await client(await token({ user: "alice" }), "2026-07-28");
  const bob = await client(await token({ user: "bob", permissions: { servers: ["b"] } }), "2026-07-28");
  const la = await alice.client.listen({ resourceSubscriptions: ["a://note", "b://note"] });
  assert.equal([...(la.honoredFilter.resourceSubscriptions ?? [])].sort(), ["a://note", "b://note"]);
  // Bob may not read server a: the URI is dropped from his filter, so he never hears of it.
  const lb = await bob.client.listen({ resourceSubscriptions: ["a://note", "b://note", "nowhere://x"] });
  assert.equal(lb.honoredFilter.resourceSubscriptions, ["b://note"]);

  await alice.client.callTool({ name: "a__touch", arguments: {} });
  await alice.client.callTool({ name: "b__touch", arguments: {} });
  await waitFor(() => alice.updates.length === 2 && bob.updates.length === 1, 5_000);
  assert.equal(alice.updates.sort(), ["a://note", "b://note"]);
  assert.equal(bob.updates, ["b://note"]);

  // b://note has two listeners: one leaving keeps the upstream subscription, the last one ends it.
  await la.close();
  await waitFor(async () => textOf(await bob.client.callTool({ name: "b__touch", arguments: {} })) === "1" &&
    textOf(await bob.client.callTool({ name: "b__touch", arguments: {} })) === "1", 5_000);
  await lb.close();
  await waitFor(async () => textOf(await bob.client.callTool({ name: "b__touch", arguments: {} })) === "0", 5_000);
});

test.run();
