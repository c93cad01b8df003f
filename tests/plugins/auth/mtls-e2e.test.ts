// The page's mTLS, end to end: its JSON (`server.ssl` plus `"auth": {"type": "mtls", ...}`) started with
// the real CLI, an MCP SDK client presenting a certificate over HTTPS calls a tool, and a client without
// one, or with another CA's, is refused with 401 and an audit event. Node hands the gateway the peer
// certificate; on Deno and Bun that configuration stops at start with an error naming the alternative.
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { spawnSync } from "node:child_process";
import process from "node:process";
import { Client, StreamableHTTPClientTransport } from "@modelcontextprotocol/client";
import { createCa, createClientCert } from "../../../core/cli/dev-certs.ts";
import { makeCerts, trustingFetch, type TestCerts } from "../../fixtures/certs.ts";
import { cliCommand, startCli, stopAllCli } from "../../fixtures/cli-process.ts";
import { NOTES, runtime } from "../../fixtures/helpers.ts";

const test = suite("mtls end to end");
let certs: TestCerts;
let dir: string;
let config: string;

test.before(async () => {
  certs = await makeCerts({ user: "alice@example.com" });
  dir = await mkdtemp(join(tmpdir(), "portcullis-mtls-e2e-"));
  config = join(dir, "page-mtls.json");
  await writeFile(config, JSON.stringify({
    server: { port: 8443, ssl: { enabled: true, cert: certs.files.cert, key: certs.files.key } },
    auth: { type: "mtls", enabled: true, ca: certs.files.ca, requireClientCert: true },
    mcpServers: { notes: { script: NOTES } },
    logLevel: "warn",
  }));
});

test.after(async () => {
  stopAllCli();
  await rm(dir, { recursive: true, force: true });
  await rm(certs.dir, { recursive: true, force: true });
});

if (runtime === "node") {
  test("an MCP client with a valid certificate uses the gateway over HTTPS; none or another CA's: 401, audited", async () => {
    const withCert = await trustingFetch(certs.ca.cert, certs.client);
    const data = join(dir, "data");
    const gw = await startCli(config, data, { httpsFetch: (u) => withCert(u) });
    try {
      const client = new Client({ name: "mtls", version: "1" }, { versionNegotiation: { mode: "legacy" } });
      await client.connect(new StreamableHTTPClientTransport(new URL(`${gw.url}/mcp`), { fetch: withCert as never }));
      const r = await client.callTool({ name: "notes__echo", arguments: { message: "over mutual TLS" } });
      assert.match(JSON.stringify(r), "over mutual TLS");
      await client.close();

      const init = JSON.stringify({ jsonrpc: "2.0", id: 1, method: "initialize", params: { protocolVersion: "2025-11-25", capabilities: {}, clientInfo: { name: "x", version: "1" } } });
      const post = (f: typeof withCert) => f(`${gw.url}/mcp`, { method: "POST", headers: { "content-type": "application/json", accept: "application/json, text/event-stream" }, body: init });
      const none = await post(await trustingFetch(certs.ca.cert));
      assert.is(none.status, 401);
      await none.body?.cancel();
      const otherCa = await createCa({ name: "Someone else's CA" });
      const stranger = await createClientCert(otherCa, { user: "mallory@example.com" });
      const foreign = await post(await trustingFetch(certs.ca.cert, stranger));
      assert.is(foreign.status, 401);
      await foreign.body?.cancel();
    } finally {
      await gw.stop();
    }
    const audit = (await readFile(join(data, "audit.jsonl"), "utf8")).trim().split("\n").map((l) => JSON.parse(l) as Record<string, unknown>);
    const auth = audit.filter((e) => e.type === "auth");
    assert.ok(auth.some((e) => e.outcome === "success" && String(e.tokenId).startsWith("cert:")), JSON.stringify(auth));
    assert.ok(auth.filter((e) => e.outcome === "failure").length >= 2, JSON.stringify(auth));
    assert.ok(audit.some((e) => e.type === "tool_call" && e.subject === "alice@example.com"));
  });
} else {
  test(`${runtime}: the page's mTLS config stops at start, naming the proxy-header alternative`, () => {
    const [command, base] = cliCommand();
    const start = spawnSync(command, [...base, "start", "--config", config, "--port", "0"], { encoding: "utf8", env: { ...process.env, PORTCULLIS_DATA_DIR: join(dir, "data") }, timeout: 30_000 });
    assert.is.not(start.status, 0, start.stderr);
    assert.match(start.stderr, /proxy/i);
  });
}

test.run();
