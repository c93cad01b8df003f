// HTTPS served by the gateway itself: certificates made by tests/fixtures/certs.ts (the code behind
// `portcullis certs`), the real serve() and the real CLI, reached with the MCP SDK client, curl and
// openssl. Client certificates reach the auth strategies as info.tls on Node; Bun and Deno refuse to
// start when asked for them. Certificate reload (SIGHUP, file change) on Node; Bun and Deno say they cannot.
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { execFile } from "node:child_process";
import { mkdtemp, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import process from "node:process";
import { Client, StreamableHTTPClientTransport } from "@modelcontextprotocol/client";
import { createGateway, serve, type AuthStrategy, type GatewayConfig, type RequestInfo, type Served } from "../../core/mod.ts";
import { resolveConfig } from "../../core/config/resolve.ts";
import { isGatewayError } from "../../core/errors.ts";
import { certsCommand } from "../../core/cli/certs.ts";
import { loadConfigFile } from "../../core/cli/load-config.ts";
import { createCa, createClientCert, createServerCert } from "../../core/cli/dev-certs.ts";
import { makeCerts, servedCertificate, trustingFetch, type TestCerts } from "../fixtures/certs.ts";
import { cliCommand, startCli, stopAllCli } from "../fixtures/cli-process.ts";
import { quietLogger, runtime, waitFor } from "../fixtures/helpers.ts";

const test = suite("tls");

let certs: TestCerts;
const toClose: Served[] = [];
const dirs: string[] = [];

test.before(async () => {
  certs = await makeCerts();
  dirs.push(certs.dir);
});

test.after(async () => {
  await Promise.all(toClose.map((s) => s.close().catch(() => undefined)));
  stopAllCli();
  await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })));
});

/** An auth strategy that lets `x-test-user` in, or a request with a client certificate, recording info. */
function recorder(seen: { info: RequestInfo; url: string }[]): AuthStrategy {
  return {
    name: "test:recorder",
    authenticate(request, ctx) {
      seen.push({ info: ctx.info, url: request.url });
      const user = request.headers.get("x-test-user") ?? (ctx.info.tls?.peerCertificate ? "cert-holder" : null);
      if (user === null) return undefined;
      return { identity: { subject: user, roles: [], scopes: ["mcp:read", "mcp:write"], strategy: "test:recorder" } };
    },
  };
}

async function serveTls(tls: NonNullable<GatewayConfig["server"]>["tls"], extra: Partial<GatewayConfig> = {}, options: { tlsWatchMs?: number } = {}): Promise<{ served: Served; seen: { info: RequestInfo; url: string }[] }> {
  const seen: { info: RequestInfo; url: string }[] = [];
  const gateway = createGateway({ logger: quietLogger, admin: { bootstrap: false }, auth: [recorder(seen)], servers: {}, server: { tls }, ...extra });
  const served = await serve(gateway, { port: 0, host: "127.0.0.1", handleSignals: false, ...options });
  toClose.push(served);
  return { served, seen };
}

function run(command: string, args: string[], input = ""): Promise<{ code: number; out: string }> {
  return new Promise((resolve) => {
    const child = execFile(command, args, { timeout: 15_000 }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === "number" ? err.code : 1) : 0, out: `${stdout}${stderr}` });
    });
    child.stdin?.end(input);
  });
}

function der(pem: string): Uint8Array {
  const b64 = pem.replace(/-----[^-]+-----/g, "").replace(/\s+/g, "");
  return Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
}

function sameBytes(a: Uint8Array | undefined, b: Uint8Array): boolean {
  return a !== undefined && a.length === b.length && a.every((x, i) => x === b[i]);
}

async function rejectsWith(promise: Promise<unknown>, pattern: RegExp): Promise<string> {
  try {
    await promise;
  } catch (err) {
    assert.ok(isGatewayError(err), `expected a GatewayError, got ${String(err)}`);
    assert.is((err as { code: string }).code, "ERR_CONFIG");
    assert.match((err as Error).message, pattern);
    return (err as Error).message;
  }
  throw new Error("expected a rejection");
}

const INIT = JSON.stringify({
  jsonrpc: "2.0",
  id: 1,
  method: "initialize",
  params: { protocolVersion: "2025-11-25", capabilities: {}, clientInfo: { name: "curl", version: "1" } },
});

test("serve() over HTTPS: the URL says https, fetch trusting the CA, curl --cacert and the MCP SDK client reach /healthz and /mcp", async () => {
  const { served, seen } = await serveTls({ cert: certs.files.cert, key: certs.files.key });
  assert.match(served.url, /^https:\/\/127\.0\.0\.1:\d+$/);
  const f = await trustingFetch(certs.ca.cert);
  const health = await f(`${served.url}/healthz`);
  assert.is(health.status, 200);
  // A client that does not trust the private CA is refused by its own TLS check.
  assert.is(await fetch(`${served.url}/healthz`).then(() => "ok", () => "refused"), "refused");

  const curlHealth = await run("curl", ["-s", "-o", "/dev/null", "-w", "%{http_code}", "--cacert", certs.files.ca, `${served.url}/healthz`]);
  assert.is(curlHealth.out.trim(), "200");
  const curlMcp = await run("curl", [
    "-s", "--cacert", certs.files.ca, "-H", "content-type: application/json", "-H", "accept: application/json, text/event-stream",
    "-H", "x-test-user: carol", "--data", INIT, `${served.url}/mcp`,
  ]);
  assert.match(curlMcp.out, /"serverInfo"/);
  // The gateway sees the request as https (what an OAuth metadata document built from it would say).
  assert.ok(seen.some((s) => s.url.startsWith("https://127.0.0.1:")), "request URL is https");

  const client = new Client({ name: "tls-test", version: "1.0.0" });
  const transport = new StreamableHTTPClientTransport(new URL(`${served.url}/mcp`), { fetch: f, requestInit: { headers: { "x-test-user": "dave" } } });
  await client.connect(transport);
  const tools = await client.listTools();
  assert.ok(Array.isArray(tools.tools));
  await client.close();
});

test("TLS 1.1 is refused; TLS 1.2 is served (and refused with minVersion TLSv1.3 on Node)", async () => {
  const { served } = await serveTls({ cert: certs.files.cert, key: certs.files.key });
  const target = `127.0.0.1:${served.port}`;
  const old = await run("openssl", ["s_client", "-connect", target, "-tls1_1", "-cipher", "DEFAULT@SECLEVEL=0"]);
  assert.is.not(old.code, 0);
  // The server's alert, not the client refusing to try.
  assert.match(old.out, /alert/i);
  const ok = await run("openssl", ["s_client", "-connect", target, "-tls1_2", "-CAfile", certs.files.ca]);
  assert.is(ok.code, 0, ok.out);
  assert.match(ok.out, /Verify return code: 0/);
  if (runtime === "node") {
    const strict = await serveTls({ cert: certs.files.cert, key: certs.files.key, minVersion: "TLSv1.3" });
    const t12 = await run("openssl", ["s_client", "-connect", `127.0.0.1:${strict.served.port}`, "-tls1_2"]);
    assert.is.not(t12.code, 0);
    assert.match(t12.out, /alert/i);
  } else {
    await rejectsWith(serveTls({ cert: certs.files.cert, key: certs.files.key, minVersion: "TLSv1.3" }), /^server\.tls: .*minVersion/);
  }
});

test("a TLS setting that cannot be served fails the start, naming the setting and the path: never plain HTTP", async () => {
  const missing = join(certs.dir, "nope.key");
  const message = await rejectsWith(serveTls({ cert: certs.files.cert, key: missing }), /^server\.tls\.key: cannot read /);
  assert.ok(message.includes(missing));
  await rejectsWith(serveTls({ cert: certs.files.key, key: certs.files.key }), /^server\.tls\.cert: expected a PEM certificate/);
  // A key that is not the certificate's.
  await rejectsWith(serveTls({ cert: certs.files.cert, key: certs.files.clientKey }), /^server\.tls: cannot serve HTTPS/);
  assert.throws(() => resolveConfig({ servers: {}, server: { tls: { cert: "a.crt" } as never } }), /server\.tls\.key/);
  assert.throws(() => resolveConfig({ servers: {}, server: { tls: { cert: "a.crt", key: "a.key", requestCert: true } } }), /server\.tls\.ca/);
  assert.throws(() => resolveConfig({ servers: {}, server: { tls: { cert: "a.crt", key: "a.key", minVersion: "TLSv1.1" as never } } }), /server\.tls\.minVersion/);
});

test("plain HTTP on a non-loopback interface logs a loud warning; loopback does not", async () => {
  const warnings: string[] = [];
  const logger = { ...quietLogger, warn: (m: string) => void warnings.push(m) };
  const open = await serve(createGateway({ logger, admin: { bootstrap: false }, servers: {} }), { port: 0, host: "0.0.0.0", handleSignals: false });
  toClose.push(open);
  assert.ok(warnings.some((w) => /plain HTTP on 0\.0\.0\.0/.test(w)), warnings.join("\n"));
  warnings.length = 0;
  const local = await serve(createGateway({ logger, admin: { bootstrap: false }, servers: {} }), { port: 0, host: "127.0.0.1", handleSignals: false });
  toClose.push(local);
  assert.ok(!warnings.some((w) => /plain HTTP/.test(w)));
  assert.match(local.url, /^http:\/\//);
});

test("client certificates: Node hands the verified certificate to the strategies; Bun and Deno refuse to start", async () => {
  const tls = { cert: certs.files.cert, key: certs.files.key, ca: certs.files.ca, requestCert: true };
  if (runtime !== "node") {
    await rejectsWith(serveTls(tls), /requestCert cannot work on (Bun|Deno).*proxy/);
    return;
  }
  const { served, seen } = await serveTls(tls);
  const post = (f: typeof fetch) => f(`${served.url}/mcp`, {
    method: "POST",
    headers: { "content-type": "application/json", accept: "application/json, text/event-stream" },
    body: INIT,
  });
  const withCert = await post(await trustingFetch(certs.ca.cert, certs.client) as typeof fetch);
  assert.is(withCert.status, 200);
  await withCert.body?.cancel();
  const recorded = seen.at(-1)!.info.tls;
  assert.is(recorded?.authorized, true);
  assert.ok(sameBytes(recorded?.peerCertificate, der(certs.client.cert)), "the DER of the client certificate");

  // No certificate: the handshake still completes and the request falls through (here: 401).
  const without = await post(await trustingFetch(certs.ca.cert) as typeof fetch);
  assert.is(without.status, 401);
  assert.is(seen.at(-1)!.info.tls?.authorized, false);
  assert.is(seen.at(-1)!.info.tls?.peerCertificate, undefined);

  // A certificate from another CA reaches the strategy, marked unauthorized.
  const stranger = await createClientCert(await createCa(), { user: "mallory@example.com" });
  const foreign = await post(await trustingFetch(certs.ca.cert, stranger) as typeof fetch);
  await foreign.body?.cancel();
  assert.is(seen.at(-1)!.info.tls?.authorized, false);
  assert.ok(sameBytes(seen.at(-1)!.info.tls?.peerCertificate, der(stranger.cert)));
});

test("a changed certificate file is served to new connections without a restart (Node); Bun and Deno say they cannot", async () => {
  const dir = await mkdtemp(join(tmpdir(), "portcullis-reload-"));
  dirs.push(dir);
  const cert = join(dir, "server.crt");
  const key = join(dir, "server.key");
  await writeFile(cert, certs.server.cert);
  await writeFile(key, certs.server.key);
  const { served } = await serveTls({ cert, key }, {}, { tlsWatchMs: 100 });
  if (runtime !== "node") {
    await rejectsWith(served.reloadTls(), /cannot replace its certificate/);
    return;
  }
  assert.ok(sameBytes(await servedCertificate(served.port), der(certs.server.cert)));
  const f = await trustingFetch(certs.ca.cert);
  const next = await createServerCert(certs.ca, { hosts: ["localhost", "127.0.0.1"] });
  await writeFile(key, next.key);
  await writeFile(cert, next.cert);
  await waitFor(async () => sameBytes(await servedCertificate(served.port), der(next.cert)), 5000);
  assert.is((await f(`${served.url}/healthz`)).status, 200);

  // Unusable files leave the certificate in force.
  await writeFile(key, "not a key");
  await rejectsWith(served.reloadTls(), /^server\.tls\.key: expected a PEM private key/);
  assert.ok(sameBytes(await servedCertificate(served.port), der(next.cert)));
});

test("a JSON config with server.ssl starts over HTTPS through the real CLI; SIGHUP reloads the certificate", async () => {
  const dir = await mkdtemp(join(tmpdir(), "portcullis-ssl-"));
  dirs.push(dir);
  const cert = join(dir, "server.crt");
  const key = join(dir, "server.key");
  await writeFile(cert, certs.server.cert);
  await writeFile(key, certs.server.key);
  const config = join(dir, "gateway.json");
  await writeFile(config, JSON.stringify({ server: { ssl: { enabled: true, cert, key } }, auth: { enabled: false }, mcpServers: {} }));
  const f = await trustingFetch(certs.ca.cert);
  const gw = await startCli(config, join(dir, "data"), { httpsFetch: (u) => f(u) });
  assert.match(gw.url, /^https:/);
  assert.match(gw.stderr(), /listening on https:\/\/127\.0\.0\.1:\d+\/mcp/);
  const port = Number(new URL(gw.url).port);
  if (runtime === "node") {
    const next = await createServerCert(certs.ca, { hosts: ["127.0.0.1"] });
    await writeFile(key, next.key);
    await writeFile(cert, next.cert);
    process.kill(gw.pid, "SIGHUP");
    await waitFor(async () => sameBytes(await servedCertificate(port), der(next.cert)), 5000);
    assert.match(gw.stderr(), /TLS certificate reloaded \(SIGHUP\)/);
  } else {
    process.kill(gw.pid, "SIGHUP");
    await waitFor(() => /TLS certificate not reloaded \(SIGHUP\).*cannot replace its certificate/.test(gw.stderr()), 5000);
  }
  assert.is((await f(`${gw.url}/healthz`)).status, 200);
  await gw.stop();

  // A missing file named in server.ssl stops the CLI with the path in its message.
  await writeFile(config, JSON.stringify({ server: { ssl: { enabled: true, cert, key: join(dir, "gone.key") } }, mcpServers: {} }));
  const [command, base] = cliCommand();
  for (const verb of ["check", "start"]) {
    const failed = await run(command, [...base, verb, "--config", config, ...(verb === "start" ? ["--port", "0"] : [])]);
    assert.is(failed.code, 2, failed.out);
    assert.match(failed.out, /server\.tls\.key: cannot read .*gone\.key/);
  }
});

test("server.ssl of a JSON config becomes server.tls; a half-written one is an error, enabled: false is plain HTTP", async () => {
  const dir = await mkdtemp(join(tmpdir(), "portcullis-ssl-json-"));
  dirs.push(dir);
  const file = join(dir, "gateway.json");
  await writeFile(file, JSON.stringify({ server: { ssl: { enabled: true, cert: "s.crt", key: "s.key", ca: "ca.crt" } }, mcpServers: {} }));
  assert.equal((await loadConfigFile(file)).server?.tls, { cert: "s.crt", key: "s.key", ca: "ca.crt" });
  await writeFile(file, JSON.stringify({ server: { ssl: { enabled: false, cert: "s.crt" } }, mcpServers: {} }));
  assert.is((await loadConfigFile(file)).server?.tls, undefined);
  await writeFile(file, JSON.stringify({ server: { ssl: { cert: "s.crt" } }, mcpServers: {} }));
  await rejectsWith(loadConfigFile(file), /server\.ssl\.key: expected the PEM private key file/);
  await writeFile(file, JSON.stringify({ server: { ssl: { enabled: true, cert: "s.crt", key: "s.key", passphrase: "x" } }, mcpServers: {} }));
  await rejectsWith(loadConfigFile(file), /server\.ssl/);
});

test("portcullis certs ca|server|client write PEM files, keys 0600, that openssl verifies", async () => {
  const dir = await mkdtemp(join(tmpdir(), "portcullis-certs-"));
  dirs.push(dir);
  const [command, base] = cliCommand();
  const ca = await run(command, [...base, "certs", "ca", "--out", dir], "");
  assert.is(ca.code, 0, ca.out);
  assert.match(ca.out, /for development only/);
  await certsCommand("server", { ca: dir, host: "localhost,127.0.0.1", out: dir });
  await certsCommand("client", { ca: dir, user: "alice@example.com", team: "platform", out: dir });
  for (const name of ["ca", "server", "client"]) {
    assert.is((await stat(join(dir, `${name}.key`))).mode & 0o777, 0o600, `${name}.key mode`);
    assert.match(await readFile(join(dir, `${name}.crt`), "utf8"), /^-----BEGIN CERTIFICATE-----/);
  }
  const verified = await run("openssl", ["verify", "-CAfile", join(dir, "ca.crt"), join(dir, "server.crt"), join(dir, "client.crt")]);
  assert.is(verified.code, 0, verified.out);
  const text = await run("openssl", ["x509", "-in", join(dir, "client.crt"), "-noout", "-subject", "-ext", "extendedKeyUsage,subjectAltName"]);
  assert.match(text.out, /CN ?= ?alice@example\.com/);
  assert.match(text.out, /TLS Web Client Authentication/);
  assert.match(text.out, /email:alice@example\.com/);
  try {
    await certsCommand("client", { ca: dir, out: dir });
    assert.unreachable("a client certificate needs --user");
  } catch (err) {
    assert.match((err as Error).message, /--user/);
  }
});

test.run();
