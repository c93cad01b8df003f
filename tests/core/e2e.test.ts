// End to end: the gateway served over real HTTP, real MCP SDK clients (both protocol eras), and real
// upstreams: server-everything (v1 SDK, stdio), the SDK-built notes server over Streamable HTTP and
// over stdio (crashable), and an HTTP upstream that does not exist.
import { suite } from "uvu";
import * as assert from "uvu/assert";
import type { Client } from "@modelcontextprotocol/client";
import { ALICE_KEY, BOB_KEY, connectClient, everythingUpstream, http, NOTES, startGateway, startNotesHttp, stdio, testAuth, waitFor } from "../fixtures/helpers.ts";

const test = suite("end to end");
let gateway: Awaited<ReturnType<typeof startGateway>>;
let notesHttp: Awaited<ReturnType<typeof startNotesHttp>>;
const clients: Client[] = [];

async function client(era: "2025-11-25" | "2026-07-28", path = "/mcp", key = ALICE_KEY): Promise<Client> {
  const { client } = await connectClient(gateway.url + path, key, era);
  clients.push(client);
  return client;
}

function text(result: unknown): string {
  const content = (result as { content?: Array<{ type: string; text?: string }> }).content ?? [];
  return content.map((c) => c.text ?? "").join("");
}

test.before(async () => {
  notesHttp = await startNotesHttp();
  gateway = await startGateway({
    auth: [await testAuth()],
    servers: {
      everything: everythingUpstream(),
      notes: http({ url: notesHttp.url }),
      crashy: stdio({ script: NOTES, stderr: "ignore", restart: { initialDelayMs: 50, maxDelayMs: 200 } }),
      dead: http({ url: "http://127.0.0.1:9/mcp", connectTimeoutMs: 2000, restart: { initialDelayMs: 60_000 } }),
    },
  });
});

test.after(async () => {
  await Promise.all(clients.map((c) => c.close().catch(() => undefined)));
  await gateway.close();
  await notesHttp.close();
});

for (const era of ["2025-11-25", "2026-07-28"] as const) {
  test(`${era}: lists the tools of both upstreams, namespaced, and calls each`, async () => {
    const c = await client(era);
    const { tools } = await c.listTools();
    const names = tools.map((t) => t.name);
    assert.ok(names.includes("everything__echo"), "server-everything's echo is listed");
    assert.ok(names.includes("notes__add_note"), "the notes server's add_note is listed");
    assert.ok(names.includes("crashy__echo"));
    assert.not.ok(names.some((n) => n.startsWith("dead__")), "a dead upstream lists nothing");
    assert.ok(names.every((n) => /^(everything|notes|crashy)__/.test(n)));

    const echoed = await c.callTool({ name: "everything__echo", arguments: { message: `hi ${era}` } });
    assert.is(text(echoed), `Echo: hi ${era}`);
    const saved = await c.callTool({ name: "notes__add_note", arguments: { title: `t-${era}`, text: "body" } });
    assert.is(text(saved), `saved t-${era}`);
    const list = await c.callTool({ name: "notes__list_notes", arguments: {} });
    assert.match(text(list), `t-${era}`);
  });

  test(`${era}: prompts, resources and resource templates of every upstream`, async () => {
    const c = await client(era);
    const { prompts } = await c.listPrompts();
    assert.ok(prompts.some((p) => p.name === "notes__summarize"), "notes prompt listed");
    assert.ok(prompts.some((p) => p.name.startsWith("everything__")), "everything prompts listed");
    const prompt = await c.getPrompt({ name: "notes__summarize", arguments: { title: "welcome" } });
    assert.match(JSON.stringify(prompt.messages), "Portcullis forwards this note");

    const { resources } = await c.listResources();
    const all = resources.find((r) => r.uri === "notes://all");
    assert.ok(all, "notes://all listed");
    assert.is(all!.name, "notes__all-notes");
    const read = await c.readResource({ uri: "notes://all" });
    assert.match(JSON.stringify(read.contents), "welcome");

    const { resourceTemplates } = await c.listResourceTemplates();
    assert.ok(resourceTemplates.some((t) => t.uriTemplate === "notes://note/{title}"), "template listed");
    const viaTemplate = await c.readResource({ uri: "notes://note/welcome" });
    assert.match(JSON.stringify(viaTemplate.contents), "Portcullis forwards");

    const everythingResource = resources.find((r) => r.name.startsWith("everything__"));
    assert.ok(everythingResource, "server-everything's resources are listed");
    const r2 = await c.readResource({ uri: everythingResource!.uri });
    assert.ok(r2.contents.length > 0, "everything resource read");
  });

  test(`${era}: unknown tools and bad arguments are JSON-RPC errors`, async () => {
    const c = await client(era);
    for (const name of ["nope__echo", "everything__nope", "echo", "everything__"]) {
      try {
        const r = await c.callTool({ name, arguments: {} });
        assert.unreachable(`expected an error for ${name}, got ${JSON.stringify(r)}`);
      } catch (err) {
        assert.instance(err, Error);
        assert.match((err as Error).message, /Unknown tool/);
      }
    }
    try {
      await c.readResource({ uri: "nowhere://x" });
      assert.unreachable("unknown resource must fail");
    } catch (err) {
      assert.match((err as Error).message, /Unknown resource/);
    }
  });

  test(`${era}: /mcp/<server> serves one upstream unprefixed`, async () => {
    const c = await client(era, "/mcp/notes");
    const { tools } = await c.listTools();
    const names = tools.map((t) => t.name).sort();
    assert.ok(names.includes("add_note") && names.includes("echo"));
    assert.not.ok(names.some((n) => n.includes("__")));
    assert.is(text(await c.callTool({ name: "echo", arguments: { message: "direct" } })), "direct");
  });

  test(`${era}: a dead upstream gives an error naming it; the others keep working`, async () => {
    const c = await client(era, "/mcp/dead");
    try {
      await c.callTool({ name: "anything", arguments: {} });
      assert.unreachable("a dead upstream must fail");
    } catch (err) {
      assert.match((err as Error).message, /Upstream server 'dead' is unavailable/);
    }
    const other = await client(era);
    assert.is(text(await other.callTool({ name: "everything__echo", arguments: { message: "still here" } })), "Echo: still here");
  });
}

test("an upstream that exits mid-call: the caller gets an error naming it, the gateway keeps serving, the server is restarted", async () => {
  const c = await client("2025-11-25");
  const started = Date.now();
  try {
    await c.callTool({ name: "crashy__crash", arguments: {} });
    assert.unreachable("the crash must surface as an error");
  } catch (err) {
    assert.match((err as Error).message, /crashy/);
  }
  assert.ok(Date.now() - started < 10_000, "the error comes promptly, not after a timeout");
  assert.is(text(await c.callTool({ name: "everything__echo", arguments: { message: "alive" } })), "Echo: alive");
  await waitFor(async () => {
    try {
      return text(await c.callTool({ name: "crashy__echo", arguments: { message: "back" } })) === "back";
    } catch {
      return false;
    }
  }, 15_000);
});

test("2025-11-25: a tools/list_changed from an upstream reaches the client's session", async () => {
  const c = await client("2025-11-25");
  let changed = 0;
  c.setNotificationHandler("notifications/tools/list_changed", () => {
    changed++;
  });
  // Let the client open its GET stream for server-initiated messages.
  await new Promise((r) => setTimeout(r, 300));
  const before = (await c.listTools()).tools.map((t) => t.name);
  const toggled = text(await c.callTool({ name: "crashy__toggle_shout", arguments: {} }));
  const enabled = toggled === "shout enabled";
  await waitFor(() => changed > 0, 10_000);
  const after = (await c.listTools()).tools.map((t) => t.name);
  assert.is(after.includes("crashy__shout"), enabled);
  assert.is.not(before.includes("crashy__shout"), after.includes("crashy__shout"));
  if (enabled) assert.is(text(await c.callTool({ name: "crashy__shout", arguments: { message: "hey" } })), "HEY");
});

test("concurrent calls from two users and both eras all get their own answers", async () => {
  const a = await client("2025-11-25", "/mcp", ALICE_KEY);
  const b = await client("2026-07-28", "/mcp", BOB_KEY);
  const calls = [];
  for (let i = 0; i < 40; i++) {
    const c = i % 2 ? a : b;
    const tool = i % 3 ? "everything__echo" : "notes__echo";
    calls.push(c.callTool({ name: tool, arguments: { message: `m${i}` } }).then((r) => ({ i, tool, out: text(r) })));
  }
  for (const { i, tool, out } of await Promise.all(calls)) {
    assert.is(out, tool === "everything__echo" ? `Echo: m${i}` : `m${i}`);
  }
});

test.run();
