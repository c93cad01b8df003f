// Identity forwarding through a real gateway, real MCP clients and real upstreams: an SDK-built HTTP
// server that records the headers it receives and verifies the gateway's assertion with jose
// (examples/servers/verify-identity.ts), and the notes server over stdio, which reads `_meta`.
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { Client, StreamableHTTPClientTransport } from "@modelcontextprotocol/client";
import { createLocalJWKSet, jwtVerify } from "jose";
import { serve } from "../../../core/mod.ts";
import { bearer, identityHeaders, jwtAssertion, memoryStore } from "../../../plugins/mod.ts";
import { verifyIdentityHandler } from "../../../examples/servers/verify-identity.ts";
import { ALICE_KEY, connectClient, http, NOTES, quietLogger, startGateway, stdio, testAuth } from "../../fixtures/helpers.ts";

const test = suite("identity forwarding");

let gateway: Awaited<ReturnType<typeof startGateway>>;
let who: { url: string; close(): Promise<void>; handler: ReturnType<typeof verifyIdentityHandler> };
const clients: Client[] = [];

/** The verifying server, served on loopback; its JWKS URL is set once the gateway's port is known. */
async function startWho(): Promise<typeof who> {
  let handler = verifyIdentityHandler({ jwksUrl: "http://127.0.0.1:9/unset", audience: "who" });
  const served = await serve({
    fetch: (req: Request) => who.handler.fetch(req),
    close: () => handler.close(),
    config: { server: { host: "127.0.0.1", port: 0 }, logger: quietLogger },
  }, { port: 0, handleSignals: false });
  return { url: `${served.url}/mcp`, close: () => served.close(), handler };
}

function text(result: unknown): string {
  return ((result as { content?: Array<{ text?: string }> }).content ?? []).map((c) => c.text ?? "").join("");
}

async function tokenClient(secret: string, extraHeaders: Record<string, string> = {}): Promise<Client> {
  const client = new Client({ name: "identity-test", version: "1.0.0" });
  await client.connect(new StreamableHTTPClientTransport(new URL(gateway.url + "/mcp"), {
    requestInit: { headers: { authorization: `Bearer ${secret}`, ...extraHeaders } },
  }));
  clients.push(client);
  return client;
}

async function whoami(client: Client): Promise<{ headers: Record<string, string>; assertion?: Record<string, unknown>; assertionError?: string }> {
  return JSON.parse(text(await client.callTool({ name: "who__whoami", arguments: {} })));
}

test.before(async () => {
  who = await startWho();
  gateway = await startGateway({
    auth: [bearer(), await testAuth()],
    tokens: { store: memoryStore() },
    identity: [identityHeaders(), jwtAssertion()],
    servers: {
      who: http({ url: who.url }),
      notes: stdio({ script: NOTES, stderr: "ignore" }),
    },
  });
  // Now that the gateway's port is known, the upstream verifies against its real JWKS.
  who.handler = verifyIdentityHandler({ jwksUrl: `${gateway.url}/.well-known/jwks.json`, audience: "who" });
});

test.after(async () => {
  await Promise.all(clients.map((c) => c.close().catch(() => undefined)));
  await gateway.close();
  await who.close();
});

test("an HTTP upstream receives the identity headers and a gateway-signed assertion it can verify with jose", async () => {
  const { client } = await connectClient(gateway.url + "/mcp", ALICE_KEY);
  clients.push(client);
  const seen = await whoami(client);
  assert.is(seen.headers["x-user-email"], "alice@example.com");
  assert.is(seen.headers["x-user-team"], "platform");
  assert.is(seen.headers["x-user-roles"], "admin");
  assert.is(seen.assertionError, undefined, "the example server verified the assertion against /.well-known/jwks.json");
  assert.is(seen.assertion?.sub, "alice");
  assert.is(seen.assertion?.aud, "who");
  assert.is(seen.assertion?.email, "alice@example.com");
  assert.equal(seen.assertion?.roles, ["admin"]);
  assert.ok(typeof seen.assertion?.jti === "string" && typeof seen.assertion?.exp === "number" && typeof seen.assertion?.iat === "number");
  assert.ok((seen.assertion!.exp as number) - (seen.assertion!.iat as number) <= 60, "short-lived");
  // The test checks the signature itself too, straight from the JWKS document.
  const jwks = await (await fetch(`${gateway.url}/.well-known/jwks.json`)).json() as { keys: [] };
  const raw = who.handler.seen.at(-1)!.headers["x-portcullis-assertion"]!;
  const { payload } = await jwtVerify(raw, createLocalJWKSet(jwks), { audience: "who", issuer: "portcullis" });
  assert.is(payload.sub, "alice");
  const wrongAudience = await jwtVerify(raw, createLocalJWKSet(jwks), { audience: "notes" }).then(() => "accepted", (err) => err.code);
  assert.is(wrongAudience, "ERR_JWT_CLAIM_VALIDATION_FAILED", "an assertion for one server is refused by another");
});

test("identity headers a client sends are stripped: the upstream sees only what the gateway established", async () => {
  const { secret } = await gateway.gateway.tokens.create({ user: "mallory", email: "mallory@example.com", roles: ["dev"] }, "test");
  const client = await tokenClient(secret, {
    "X-User-Email": "ceo@example.com",
    "X-User-Roles": "admin,root",
    "X-User-Name": "The CEO",
    "X-Organization-Id": "other-org",
    "X-Portcullis-Assertion": "forged.jwt.value",
  });
  const seen = await whoami(client);
  assert.is(seen.headers["x-user-email"], "mallory@example.com");
  assert.is(seen.headers["x-user-roles"], "dev");
  assert.is(seen.headers["x-user-name"], undefined, "mallory has no name: the forged one is not passed on");
  assert.is(seen.headers["x-organization-id"], undefined);
  assert.is(seen.assertion?.sub, "mallory");
  assert.is(seen.headers.authorization, undefined, "the caller's credential never reaches the upstream");
  // Whoami on the gateway itself also ignores the forged headers.
  const me = await (await fetch(`${gateway.url}/v1/auth/whoami`, { headers: { authorization: `Bearer ${secret}`, "x-user-email": "ceo@example.com" } })).json() as { email: string };
  assert.is(me.email, "mallory@example.com");
});

test("CR/LF and non-ASCII in a user's name cannot add a header; values decode back exactly", async () => {
  const name = "Eve\r\nX-Injected: yes\nJosé 100%";
  const { secret } = await gateway.gateway.tokens.create({ user: "eve", name, team: "r&d\r\nX-Team: x" }, "test");
  const seen = await whoami(await tokenClient(secret));
  assert.is(seen.headers["x-injected"], undefined);
  assert.is(seen.headers["x-team"], undefined);
  assert.not.match(seen.headers["x-user-name"]!, /[\r\n]/);
  assert.is(decodeURIComponent(seen.headers["x-user-name"]!), name);
  assert.is(decodeURIComponent(seen.headers["x-user-team"]!), "r&d\r\nX-Team: x");
  assert.is(seen.assertion?.name, name, "the assertion carries the exact value");
});

test("a stdio upstream gets the identity and the assertion in _meta", async () => {
  const { client } = await connectClient(gateway.url + "/mcp", ALICE_KEY, "2026-07-28");
  clients.push(client);
  const got = JSON.parse(text(await client.callTool({ name: "notes__whoami", arguments: {} })));
  assert.equal(got.identity, { email: "alice@example.com", name: "alice", team: "platform", roles: ["admin"] });
  const jwks = await (await fetch(`${gateway.url}/.well-known/jwks.json`)).json() as { keys: [] };
  const { payload } = await jwtVerify(got.assertion, createLocalJWKSet(jwks), { audience: "notes" });
  assert.is(payload.sub, "alice");
});

test("key rotation keeps the previous public key published, so assertions in flight still verify", async () => {
  const before = await (await fetch(`${gateway.url}/.well-known/jwks.json`)).json() as { keys: Array<{ kid: string }> };
  const { client } = await connectClient(gateway.url + "/mcp", ALICE_KEY);
  clients.push(client);
  await whoami(client);
  const old = who.handler.seen.at(-1)!.headers["x-portcullis-assertion"]!;
  await gateway.gateway.keys.rotate();
  const after = await (await fetch(`${gateway.url}/.well-known/jwks.json`)).json() as { keys: Array<{ kid: string }> };
  assert.is(after.keys.length, before.keys.length + 1);
  assert.ok(before.keys.every((k) => after.keys.some((a) => a.kid === k.kid)), "the old key is still published");
  await jwtVerify(old, createLocalJWKSet(after as never), { audience: "who" });
  // A new identity gets an assertion signed with the new key; the upstream refetches the JWKS for its
  // unknown kid once its one-second cooldown has passed.
  await new Promise((r) => setTimeout(r, 1100));
  const { secret } = await gateway.gateway.tokens.create({ user: "zoe" }, "test");
  await whoami(await tokenClient(secret));
  const fresh = who.handler.seen.at(-1)!;
  assert.is(fresh.assertionError, undefined);
  const kid = JSON.parse(atob(fresh.headers["x-portcullis-assertion"]!.split(".")[0]!.replace(/-/g, "+").replace(/_/g, "/"))).kid;
  assert.is(kid, after.keys[0]!.kid, "signed with the new current key");
});

test("identity forwarding can be turned off per server, and mappers validate their options", async () => {
  const g = await startGateway({
    auth: [await testAuth()],
    identity: [],
    servers: { who: http({ url: who.url }) },
  });
  try {
    const { client } = await connectClient(g.url + "/mcp", ALICE_KEY);
    clients.push(client);
    const seen = await whoami(client);
    assert.is(seen.headers["x-user-email"], undefined);
    assert.is(seen.headers["x-portcullis-assertion"], undefined);
  } finally {
    await g.close();
  }
  assert.throws(() => identityHeaders({ fields: ["emial" as never] }), /identityHeaders\.fields\[0\]: expected one of/);
  assert.throws(() => identityHeaders({ names: { email: "X Bad" } }), /identityHeaders\.names\.email: expected an HTTP header name/);
  assert.throws(() => jwtAssertion({ expiresInSeconds: 5 }), /jwtAssertion\.expiresInSeconds: expected a whole number of seconds from 10 to 3600/);
});

test.run();
