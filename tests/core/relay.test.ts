// What a server starts reaches the caller it belongs to, and nobody else: progress through a shared stdio
// connection (server-everything, a v1-SDK server from npm) to two callers at once, in both protocol eras,
// driven by the MCP SDK client.
import { suite } from "uvu";
import * as assert from "uvu/assert";
import type { Client } from "@modelcontextprotocol/client";
import { ALICE_KEY, BOB_KEY, connectClient, everythingUpstream, startGateway, testAuth } from "../fixtures/helpers.ts";

const test = suite("relay");
let gateway: Awaited<ReturnType<typeof startGateway>>;
const clients: Client[] = [];

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
  gateway = await startGateway({ auth: [await testAuth()], servers: { everything: everythingUpstream() } });
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

test.run();
