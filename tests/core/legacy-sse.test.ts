// The legacy HTTP+SSE transport (protocol 2024-11-05): `GET /sse` and `/sse/<server>` open a session whose
// stream names `/messages?sessionId=...`, behind the same authentication as /mcp. Served over real HTTP
// with the MCP SDK's own SSEClientTransport, and with raw fetch where a test needs the wire itself. The
// routes are wired here the way core/gateway.ts wires /mcp (config, tokens, bearer(), registry, policy,
// route table, handleRequest), so the suite does not depend on the gateway's route table.
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { Client, SSEClientTransport } from "@modelcontextprotocol/client";
import { createAudit } from "../../core/audit/bus.ts";
import { authenticator } from "../../core/auth/authenticate.ts";
import { permissionPolicy } from "../../core/auth/permissions.ts";
import { resolveConfig } from "../../core/config/resolve.ts";
import { createRouter } from "../../core/http/router.ts";
import { handleRequest } from "../../core/http/steps.ts";
import { type LegacySse, legacySseRoutes } from "../../core/mcp/legacy-sse.ts";
import { createRegistry } from "../../core/mcp/registry.ts";
import { serve, type Served } from "../../core/mod.ts";
import { createSecretResolver } from "../../core/secrets/resolver.ts";
import { createSigningKeys } from "../../core/tokens/signing-keys.ts";
import { createTokenService } from "../../core/tokens/service.ts";
import type { PluginContext, TokenService } from "../../core/types.ts";
import { bearer, http, memoryStore } from "../../plugins/mod.ts";
import { quietLogger, startNotesHttp, waitFor } from "../fixtures/helpers.ts";

const test = suite("legacy HTTP+SSE transport (2024-11-05)");

interface Served2024 {
  url: string;
  legacy: LegacySse;
  tokens: TokenService;
  close(): Promise<void>;
}

/** A gateway serving only the legacy routes, over real HTTP, with bearer() over gateway tokens. */
async function startLegacyGateway(notesUrl: string, server: { sessionIdleSeconds?: number; maxSessions?: number } = {}): Promise<Served2024> {
  const config = resolveConfig({
    logger: quietLogger,
    auth: [bearer()],
    tokens: { store: memoryStore() },
    admin: { bootstrap: false },
    server: { maxSessionsPerUser: 3, ...server },
    servers: { notes: http({ url: notesUrl }) },
  });
  const log = config.logger;
  const audit = createAudit(config.audit, log);
  const tokens = createTokenService({ ...config.tokens, audit, log });
  const secrets = createSecretResolver(config.secrets, audit);
  const policy = permissionPolicy({ roles: config.roles, authorize: config.authorize, separator: config.server.separator });
  const registry = createRegistry(config.servers, log, { secrets, identity: config.identity, audit });
  // A short ping, so that a test can see one.
  const legacy = legacySseRoutes({ registry, policy, audit, log, ...config.server, pingMs: 200 });
  const offInvalidate = tokens.onInvalidate((id, endsAt) => legacy.expireCredential(id, endsAt));
  const context: PluginContext = {
    tokens,
    audit,
    log,
    bodyTimeoutMs: config.server.bodyTimeoutMs,
    store: config.tokens.store,
    keys: createSigningKeys({ retainSeconds: 60 }),
    serversFor: (identity) => registry.names().filter((name) => policy.server(identity, name)),
    endSessions: (credentialId) => legacy.expireCredential(credentialId, Date.now()),
  };
  for (const strategy of config.auth) await strategy.setup?.(context);
  await registry.ready();
  const router = createRouter(legacy.routes.map((r) => ({ ...r, owner: "core" })));
  const authenticate = authenticator({ mcp: config.auth, other: config.auth, audit });
  const servable = {
    fetch: (request: Request) => handleRequest(request, {}, { router, authenticate, allowedOrigins: config.server.allowedOrigins, log, ready: async () => {} }),
    close: async () => {
      offInvalidate();
      await legacy.close();
      await registry.close();
      await tokens.close();
      await config.tokens.store.close();
      await audit.close();
    },
    config: { server: { host: "127.0.0.1", port: 0 }, logger: quietLogger },
  };
  const served: Served = await serve(servable, { port: 0, handleSignals: false });
  return { url: served.url, legacy, tokens, close: () => served.close() };
}

/** One SSE frame: a named event with its data, or a comment. */
interface Frame {
  event: string;
  data: string;
}

/** A raw SSE stream read frame by frame. */
interface RawStream {
  status: number;
  /** The POST URL the `endpoint` event named. */
  endpoint: string;
  /** The next frame, or `undefined` once the server ended the stream. */
  next(): Promise<Frame | undefined>;
  /** The next `message` event, parsed. */
  message(): Promise<any>;
  cancel(): Promise<void>;
}

async function openRaw(url: string, token: string): Promise<RawStream> {
  const res = await fetch(url, { headers: { authorization: `Bearer ${token}`, accept: "text/event-stream" } });
  assert.is(res.status, 200, await (res.status === 200 ? Promise.resolve("") : res.text()));
  assert.match(res.headers.get("content-type") ?? "", /^text\/event-stream/);
  const reader = res.body!.getReader();
  const decoder = new TextDecoder();
  let buffer = "";
  const next = async (): Promise<Frame | undefined> => {
    for (;;) {
      const cut = buffer.indexOf("\n\n");
      if (cut !== -1) {
        const raw = buffer.slice(0, cut);
        buffer = buffer.slice(cut + 2);
        if (raw.startsWith(":")) return { event: "comment", data: raw.slice(1).trim() };
        const event = /^event: (.*)$/m.exec(raw)?.[1] ?? "message";
        const data = raw.split("\n").filter((l) => l.startsWith("data: ")).map((l) => l.slice(6)).join("\n");
        return { event, data };
      }
      const { done, value } = await reader.read();
      if (done) return undefined;
      buffer += decoder.decode(value, { stream: true });
    }
  };
  const first = await next();
  assert.is(first?.event, "endpoint", "the first event names the endpoint");
  return {
    status: res.status,
    endpoint: first!.data,
    next,
    async message() {
      for (;;) {
        const frame = await next();
        if (!frame) throw new Error("the stream ended before a message arrived");
        if (frame.event === "message") return JSON.parse(frame.data);
      }
    },
    cancel: () => reader.cancel().catch(() => undefined),
  };
}

async function post(url: string, token: string, body: unknown, headers: Record<string, string> = {}): Promise<{ status: number; body: any }> {
  const res = await fetch(url, {
    method: "POST",
    headers: { authorization: `Bearer ${token}`, "content-type": "application/json", ...headers },
    body: JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : undefined };
}

const INITIALIZE = {
  jsonrpc: "2.0",
  id: 1,
  method: "initialize",
  params: { protocolVersion: "2024-11-05", capabilities: {}, clientInfo: { name: "raw", version: "1" } },
};

function text(result: unknown): string {
  const content = (result as { content?: Array<{ type: string; text?: string }> }).content ?? [];
  return content.map((c) => c.text ?? "").join("");
}

let notes: Awaited<ReturnType<typeof startNotesHttp>>;
let gw: Served2024;
let alice: string;
let aliceToken: { id: string; secret: string };
const clients: Client[] = [];
const raws: RawStream[] = [];

async function token(user: string, scopes = ["mcp:read", "mcp:write"]): Promise<{ id: string; secret: string }> {
  const { record, secret } = await gw.tokens.create({ user, scopes }, "test");
  return { id: record.id, secret };
}

async function sdkClient(path: string, secret: string): Promise<Client> {
  const client = new Client({ name: "legacy-sse-test", version: "1.0.0" });
  const transport = new SSEClientTransport(new URL(gw.url + path), { requestInit: { headers: { authorization: `Bearer ${secret}` } } });
  await client.connect(transport);
  clients.push(client);
  return client;
}

async function raw(path: string, secret: string): Promise<RawStream> {
  const stream = await openRaw(gw.url + path, secret);
  raws.push(stream);
  return stream;
}

test.before(async () => {
  notes = await startNotesHttp();
  gw = await startLegacyGateway(notes.url);
  aliceToken = await token("alice");
  alice = aliceToken.secret;
});

test.after(async () => {
  await Promise.all(clients.map((c) => c.close().catch(() => undefined)));
  await Promise.all(raws.map((r) => r.cancel()));
  await gw.close();
  await notes.close();
});

test("the SDK's SSEClientTransport lists and calls the tools of every server, prefixed, on /sse", async () => {
  const client = await sdkClient("/sse", alice);
  const { tools } = await client.listTools();
  const names = tools.map((t) => t.name);
  assert.ok(names.includes("notes__echo"), names.join(", "));
  assert.ok(names.every((n) => n.startsWith("notes__")));
  assert.is(text(await client.callTool({ name: "notes__echo", arguments: { message: "over SSE" } })), "over SSE");
  assert.is(text(await client.callTool({ name: "notes__add_note", arguments: { title: "legacy", text: "x" } })), "saved legacy");
  await client.close();
});

test("/sse/notes serves one server, unprefixed", async () => {
  const client = await sdkClient("/sse/notes", alice);
  const names = (await client.listTools()).tools.map((t) => t.name);
  assert.ok(names.includes("echo"), names.join(", "));
  assert.not.ok(names.some((n) => n.includes("__")), names.join(", "));
  assert.is(text(await client.callTool({ name: "echo", arguments: { message: "one server" } })), "one server");
  await client.close();
});

test("closing the client ends its session", async () => {
  await waitFor(() => gw.legacy.sessionCount() === 0, 5000);
  const client = await sdkClient("/sse", alice);
  assert.is(gw.legacy.sessionCount(), 1);
  await client.close();
  await waitFor(() => gw.legacy.sessionCount() === 0, 5000);
});

test("the stream opens with a relative endpoint, answers arrive as message events, POSTs get 202", async () => {
  const stream = await raw("/sse", alice);
  assert.match(stream.endpoint, /^\/messages\?sessionId=[0-9a-f-]{36}$/);
  const sent = await post(gw.url + stream.endpoint, alice, INITIALIZE);
  assert.is(sent.status, 202);
  const answer = await stream.message();
  assert.is(answer.id, 1);
  assert.is(answer.result.serverInfo.name, "portcullis");
  assert.is(answer.result.protocolVersion, "2024-11-05");
  assert.is((await post(gw.url + stream.endpoint, alice, { jsonrpc: "2.0", method: "notifications/initialized" })).status, 202);
  assert.is((await post(gw.url + stream.endpoint, alice, { jsonrpc: "2.0", id: 2, method: "tools/call", params: { name: "notes__echo", arguments: { message: "raw" } } })).status, 202);
  const called = await stream.message();
  assert.is(called.id, 2);
  assert.is(text(called.result), "raw");
  // The stream stays open and keeps proxies awake with comments.
  let frame = await stream.next();
  while (frame && frame.event !== "comment") frame = await stream.next();
  assert.equal(frame, { event: "comment", data: "ping" });
  await stream.cancel();
});

test("another credential of the same user posting to the session is told it does not exist", async () => {
  const second = (await token("alice")).secret;
  const stream = await raw("/sse", alice);
  const stolen = await post(gw.url + stream.endpoint, second, INITIALIZE);
  assert.is(stolen.status, 404);
  assert.is(stolen.body.error.data.code, "ERR_SESSION_NOT_FOUND");
  const other = await post(gw.url + stream.endpoint, (await token("mallory")).secret, INITIALIZE);
  assert.is(other.status, 404);
  assert.is((await post(gw.url + stream.endpoint, alice, INITIALIZE)).status, 202);
  assert.is((await stream.message()).id, 1);
  await stream.cancel();
});

test("without a credential: 401 with a challenge; a foreign Origin: 403", async () => {
  const anonymous = await fetch(gw.url + "/sse", { headers: { accept: "text/event-stream" } });
  assert.is(anonymous.status, 401);
  assert.match(anonymous.headers.get("www-authenticate") ?? "", /^Bearer /);
  assert.is((await anonymous.json()).error.data.code, "ERR_AUTH_REQUIRED");
  const bad = await fetch(gw.url + "/sse", { headers: { authorization: "Bearer pt_not-a-token" } });
  assert.is(bad.status, 401);
  await bad.body?.cancel();
  const foreign = await fetch(gw.url + "/sse", { headers: { authorization: `Bearer ${alice}`, origin: "https://evil.example" } });
  assert.is(foreign.status, 403);
  assert.is((await foreign.json()).error.data.code, "ERR_FORBIDDEN_ORIGIN");
  const foreignPost = await post(gw.url + "/messages?sessionId=x", alice, INITIALIZE, { origin: "https://evil.example" });
  assert.is(foreignPost.status, 403);
  const anonymousPost = await fetch(gw.url + "/messages?sessionId=x", { method: "POST", headers: { "content-type": "application/json" }, body: "{}" });
  assert.is(anonymousPost.status, 401);
  await anonymousPost.body?.cancel();
});

test("unknown servers, sessions and malformed posts are refused", async () => {
  const unknown = await fetch(gw.url + "/sse/nope", { headers: { authorization: `Bearer ${alice}` } });
  assert.is(unknown.status, 404);
  assert.is((await unknown.json()).error.data.code, "ERR_NOT_FOUND");
  const nested = await fetch(gw.url + "/sse/notes/more", { headers: { authorization: `Bearer ${alice}` } });
  assert.is(nested.status, 404);
  await nested.body?.cancel();
  const noSession = await post(gw.url + "/messages", alice, INITIALIZE);
  assert.is(noSession.status, 400);
  const gone = await post(gw.url + "/messages?sessionId=00000000-0000-0000-0000-000000000000", alice, INITIALIZE);
  assert.is(gone.status, 404);
  assert.is(gone.body.error.data.code, "ERR_SESSION_NOT_FOUND");
  const wrongMethod = await fetch(gw.url + "/sse", { method: "POST", headers: { authorization: `Bearer ${alice}` } });
  assert.is(wrongMethod.status, 405);
  await wrongMethod.body?.cancel();

  const stream = await raw("/sse", alice);
  const notRpc = await post(gw.url + stream.endpoint, alice, { hello: "world" });
  assert.is(notRpc.status, 400);
  assert.is(notRpc.body.error.data.code, "ERR_BAD_REQUEST");
  const empty = await post(gw.url + stream.endpoint, alice, []);
  assert.is(empty.status, 400);
  await stream.cancel();
});

test("a credential without an mcp scope cannot open a stream", async () => {
  const adminOnly = (await token("carol", ["admin"])).secret;
  const res = await fetch(gw.url + "/sse", { headers: { authorization: `Bearer ${adminOnly}` } });
  assert.is(res.status, 403);
  assert.is((await res.json()).error.data.code, "ERR_INSUFFICIENT_SCOPE");
});

test("revoking the credential ends its sessions and their streams", async () => {
  const own = await token("dave");
  const stream = await raw("/sse", own.secret);
  const sessions = gw.legacy.sessionCount();
  await gw.tokens.revoke(own.id, "test");
  let frame = await stream.next();
  while (frame) frame = await stream.next();
  assert.is(gw.legacy.sessionCount(), sessions - 1);
  const after = await post(gw.url + stream.endpoint, own.secret, INITIALIZE);
  assert.is(after.status, 401);
});

test("one user's sessions are capped: the least recently used one ends", async () => {
  const own = (await token("erin")).secret;
  const first = await raw("/sse", own);
  const second = await raw("/sse", own);
  const third = await raw("/sse", own);
  // Using the first makes the second the least recently used.
  assert.is((await post(gw.url + first.endpoint, own, INITIALIZE)).status, 202);
  await first.message();
  const fourth = await raw("/sse", own);
  let frame = await second.next();
  while (frame) frame = await second.next();
  assert.is((await post(gw.url + second.endpoint, own, INITIALIZE)).status, 404);
  for (const s of [first, third, fourth]) assert.is((await post(gw.url + s.endpoint, own, { ...INITIALIZE, id: 7 })).status, 202);
  assert.is((await fourth.message()).id, 7);
  for (const s of [first, third, fourth]) await s.cancel();
});

test("close() ends every session and its stream", async () => {
  const local = await startLegacyGateway(notes.url);
  const { secret } = await local.tokens.create({ user: "frank", scopes: ["mcp:read"] }, "test");
  const stream = await openRaw(local.url + "/sse", secret);
  assert.is(local.legacy.sessionCount(), 1);
  await local.legacy.close();
  assert.is(local.legacy.sessionCount(), 0);
  let frame = await stream.next();
  while (frame) frame = await stream.next();
  await local.close();
});

test("sessions are bounded: past the global cap 503, and an idle session ends", async () => {
  const local = await startLegacyGateway(notes.url, { sessionIdleSeconds: 1, maxSessions: 1 });
  const { secret } = await local.tokens.create({ user: "gina", scopes: ["mcp:read"] }, "test");
  const other = (await local.tokens.create({ user: "hank", scopes: ["mcp:read"] }, "test")).secret;
  const stream = await openRaw(local.url + "/sse", secret);
  const refused = await fetch(local.url + "/sse", { headers: { authorization: `Bearer ${other}` } });
  assert.is(refused.status, 503);
  assert.is((await refused.json()).error.data.code, "ERR_OVERLOADED");
  // Pings do not count as use: with no POST the session ends once idle.
  let frame = await stream.next();
  while (frame) frame = await stream.next();
  assert.is(local.legacy.sessionCount(), 0);
  const again = await openRaw(local.url + "/sse", other);
  assert.is(local.legacy.sessionCount(), 1);
  await again.cancel();
  await local.close();
});

test.run();
