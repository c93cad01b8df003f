// The OIDC resource-server strategy against a real OpenID provider (oidc-provider, in-process on
// loopback): real access tokens from its token endpoint, its real JWKS and key rotation, RFC 7662
// introspection, the MCP authorization behaviour on /mcp (PRM, 401 challenge, 403 step-up), and every
// refusal with its status and code. Forged tokens are signed here with jose.
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { Client, StreamableHTTPClientTransport } from "@modelcontextprotocol/client";
import { base64url, importJWK, SignJWT, type JWK, type JWTPayload } from "jose";
import type { AuditEvent } from "../../../core/audit/events.ts";
import { serve } from "../../../core/mod.ts";
import { jsonAuthTypes } from "../../../core/cli/load-config.ts";
import type { AuthStrategy, PluginContext } from "../../../core/types.ts";
import { notesHttpHandler } from "../../../examples/servers/notes.ts";
import { bearer, oidc } from "../../../plugins/mod.ts";
import type { OidcOptions } from "../../../plugins/auth/oidc.ts";
import { DEFAULT_CLIENT, generateSigningKey, startIdp, type Idp } from "../../fixtures/idp.ts";
import { http, NOTES, quietLogger, startGateway, stdio } from "../../fixtures/helpers.ts";

const test = suite("oidc");
const AUD = "https://gateway.example/mcp";
const OPAQUE = "https://opaque.example/mcp";
const OTHER = "https://other.example/mcp";
const OPAQUE_OTHER = "https://opaque-other.example/mcp";

let idp: Idp;
let gw: Awaited<ReturnType<typeof startGateway>>;
let upstream: { url: string; authorizations: string[]; close(): Promise<void> };
const events: AuditEvent[] = [];
const issued: string[] = [];
const clients: Client[] = [];

/** The notes server over Streamable HTTP, recording the Authorization header of every request it gets. */
async function recordingNotes(): Promise<typeof upstream> {
  const handler = notesHttpHandler();
  const authorizations: string[] = [];
  const served = await serve({
    fetch: (req: Request) => {
      authorizations.push(req.headers.get("authorization") ?? "");
      return handler.fetch(req);
    },
    close: () => handler.close(),
    config: { server: { host: "127.0.0.1", port: 0 }, logger: quietLogger },
  }, { port: 0, handleSignals: false });
  return { url: `${served.url}/mcp`, authorizations, close: () => served.close() };
}

async function realToken(options: { resource?: string; scope?: string } = {}): Promise<string> {
  const { access_token } = await idp.clientCredentials({ resource: options.resource ?? AUD, scope: options.scope ?? "mcp:read mcp:write" });
  issued.push(access_token);
  return access_token;
}

/** A token signed with `key` (default: the IdP's current private key) with the usual valid claims, overridable. */
async function forge(claims: JWTPayload & Record<string, unknown> = {}, header: Record<string, unknown> = {}, key: JWK = idp.keys[0]!): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  const payload = { iss: idp.issuer, aud: AUD, sub: "forged-user", scope: "mcp:read mcp:write", iat: now, exp: now + 300, ...claims };
  for (const [k, v] of Object.entries(payload)) if (v === undefined) delete (payload as Record<string, unknown>)[k];
  const token = await new SignJWT(payload).setProtectedHeader({ alg: key.alg!, kid: key.kid, typ: "at+jwt", ...header }).sign(await importJWK(key, key.alg));
  issued.push(token);
  return token;
}

function post(token: string | undefined, path = "/mcp"): Promise<Response> {
  const headers: Record<string, string> = { "content-type": "application/json", accept: "application/json, text/event-stream" };
  if (token !== undefined) headers.authorization = `Bearer ${token}`;
  return fetch(gw.url + path, {
    method: "POST",
    headers,
    body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "initialize", params: { protocolVersion: "2025-11-25", capabilities: {}, clientInfo: { name: "t", version: "1" } } }),
  });
}

async function refused(token: string, status: number, code: string): Promise<Response> {
  const res = await post(token);
  const body = await res.json() as { error?: { code?: number; message?: string; data?: { code?: string } } };
  assert.is(res.status, status, `status for ${code}: ${JSON.stringify(body)}`);
  // On /mcp errors are JSON-RPC shaped; the gateway's code travels in error.data.code.
  assert.is(body.error?.data?.code, code);
  return res;
}

async function whoami(token: string, base = gw.url): Promise<Record<string, unknown>> {
  const res = await fetch(`${base}/v1/auth/whoami`, { headers: { authorization: `Bearer ${token}` } });
  const body = await res.json() as Record<string, unknown>;
  assert.is(res.status, 200, JSON.stringify(body));
  return body;
}

async function mcpClient(token: string, era: "2025-11-25" | "2026-07-28" = "2025-11-25"): Promise<Client> {
  const client = new Client({ name: "oidc-test", version: "1.0.0" }, { versionNegotiation: { mode: era === "2025-11-25" ? "legacy" : { pin: "2026-07-28" } } });
  await client.connect(new StreamableHTTPClientTransport(new URL(`${gw.url}/mcp`), { requestInit: { headers: { authorization: `Bearer ${token}` } } }));
  clients.push(client);
  return client;
}

function text(result: unknown): string {
  return ((result as { content?: Array<{ text?: string }> }).content ?? []).map((c) => c.text ?? "").join("");
}

const jwksFetches = () => idp.requests.filter((r) => r === "GET /jwks").length;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

test.before(async () => {
  idp = await startIdp({
    resources: {
      [AUD]: { scope: "mcp:read mcp:write" },
      [OPAQUE]: { scope: "mcp:read mcp:write", accessTokenFormat: "opaque" },
      [OTHER]: { scope: "mcp:read mcp:write" },
      [OPAQUE_OTHER]: { scope: "mcp:read mcp:write", accessTokenFormat: "opaque" },
    },
  });
  upstream = await recordingNotes();
  gw = await startGateway({
    auth: [
      bearer(),
      oidc({
        issuer: idp.issuer,
        audience: [AUD, OPAQUE],
        // Short enough to see a rotation within the suite; the cooldown still rate-limits refetches.
        jwks: { cacheMaxAgeSeconds: 2, cooldownSeconds: 1 },
        introspection: { clientId: DEFAULT_CLIENT.client_id, clientSecret: DEFAULT_CLIENT.client_secret, cacheSeconds: 30 },
      }),
    ],
    servers: { notes: http({ url: upstream.url }), local: stdio({ script: NOTES, stderr: "ignore" }) },
    // Dozens of forged and refused tokens from one address on purpose: the lockout (tests/core/lockout.test.ts)
    // would answer them 429 before the check each test is about.
    limits: { failedAuth: false },
    audit: [{ name: "audit:test", write: (e) => void events.push(e) }],
  });
});

test.after(async () => {
  await Promise.all(clients.map((c) => c.close().catch(() => undefined)));
  await gw?.close();
  await upstream?.close();
  await idp?.close();
});

test("protected resource metadata (RFC 9728) at both well-known paths", async () => {
  for (const path of ["/.well-known/oauth-protected-resource", "/.well-known/oauth-protected-resource/mcp"]) {
    const res = await fetch(gw.url + path);
    assert.is(res.status, 200);
    const prm = await res.json() as Record<string, unknown>;
    assert.is(prm.resource, `${gw.url}/mcp`);
    assert.equal(prm.authorization_servers, [idp.issuer]);
    assert.equal(prm.bearer_methods_supported, ["header"]);
    assert.ok((prm.scopes_supported as string[]).includes("mcp:read") && (prm.scopes_supported as string[]).includes("mcp:write"));
  }
});

test("401 without a token carries the resource_metadata challenge", async () => {
  const res = await post(undefined);
  assert.is(res.status, 401);
  assert.is((await res.json() as { error: { data: { code: string } } }).error.data.code, "ERR_AUTH_REQUIRED");
  const challenge = res.headers.get("www-authenticate") ?? "";
  assert.match(challenge, `Bearer resource_metadata="${gw.url}/.well-known/oauth-protected-resource/mcp"`);
  assert.match(challenge, 'Bearer realm="portcullis"', "the chained bearer() strategy's challenge is offered too");
  const bad = await refused(await forge({ aud: "nope" }), 401, "ERR_INVALID_CREDENTIAL");
  assert.match(bad.headers.get("www-authenticate") ?? "", "resource_metadata=");
});

for (const era of ["2025-11-25", "2026-07-28"] as const) {
  test(`${era}: a real IdP access token: the MCP SDK client lists and calls tools; the token never reaches an upstream`, async () => {
    const token = await realToken();
    const c = await mcpClient(token, era);
    const names = (await c.listTools()).tools.map((t) => t.name);
    assert.ok(names.includes("notes__add_note") && names.includes("local__echo"), names.join(","));
    assert.is(text(await c.callTool({ name: "notes__add_note", arguments: { title: `oidc-${era}`, text: "x" } })), `saved oidc-${era}`);
    assert.is(text(await c.callTool({ name: "local__echo", arguments: { message: "via stdio" } })), "via stdio");
    assert.ok(upstream.authorizations.length > 0, "the HTTP upstream was called");
    assert.ok(upstream.authorizations.every((a) => a === ""), "no Authorization header reached the upstream");
  });
}

test("the identity of a real token: subject, scopes; gateway pt_ tokens still go to bearer()", async () => {
  const me = await whoami(await realToken({ scope: "mcp:read" }));
  assert.is(me.subject, DEFAULT_CLIENT.client_id);
  assert.is(me.strategy, "auth:oidc");
  assert.equal(me.scopes, ["mcp:read"]);
  const { secret } = await gw.gateway.tokens.create({ user: "carol", scopes: ["mcp:read"], expiresInSeconds: 600 }, "test");
  const carol = await whoami(secret);
  assert.is(carol.subject, "carol");
  assert.is(carol.strategy, "auth:bearer");
});

test("403 insufficient_scope (step-up) for a valid token without mcp:read or mcp:write", async () => {
  const res = await refused(await forge({ scope: "openid profile" }), 403, "ERR_INSUFFICIENT_SCOPE");
  const challenge = res.headers.get("www-authenticate") ?? "";
  assert.match(challenge, 'error="insufficient_scope"');
  assert.match(challenge, 'scope="mcp:read mcp:write"');
  assert.match(challenge, `resource_metadata="${gw.url}/.well-known/oauth-protected-resource/mcp"`);
});

test("step-up: a read-only IdP token calling a write tool its permissions reach gets 403 insufficient_scope; read-only tools work", async () => {
  const token = await realToken({ scope: "mcp:read" });
  const c = await mcpClient(token, "2026-07-28");
  assert.is(text(await c.callTool({ name: "local__echo", arguments: { message: "read" } })), "read", "read-only tools are callable");
  const res = await fetch(`${gw.url}/mcp`, {
    method: "POST",
    headers: { authorization: `Bearer ${token}`, "content-type": "application/json", accept: "application/json, text/event-stream", "mcp-protocol-version": "2026-07-28" },
    body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "tools/call", params: { name: "notes__add_note", arguments: { title: "x", text: "y" } } }),
  });
  assert.is(res.status, 403);
  assert.is((await res.json()).error.data.code, "ERR_INSUFFICIENT_SCOPE");
  const challenge = res.headers.get("www-authenticate") ?? "";
  assert.match(challenge, 'error="insufficient_scope"');
  assert.match(challenge, 'scope="mcp:read mcp:write"');
  // Gateway tokens cannot step up (their scopes are fixed): the same call stays an unknown tool for them.
  const { secret } = await gw.gateway.tokens.create({ user: "reader", scopes: ["mcp:read"], expiresInSeconds: 600 }, "test");
  const plain = await mcpClient(secret, "2026-07-28");
  const err = await plain.callTool({ name: "notes__add_note", arguments: { title: "x", text: "y" } }).then(() => undefined, (e: Error) => e);
  assert.match(err?.message ?? "", "Unknown tool");
});

test("refused: alg none", async () => {
  const now = Math.floor(Date.now() / 1000);
  const enc = (o: unknown) => base64url.encode(JSON.stringify(o));
  const token = `${enc({ alg: "none", typ: "JWT" })}.${enc({ iss: idp.issuer, aud: AUD, sub: "x", scope: "mcp:read", exp: now + 300 })}.`;
  issued.push(token);
  await refused(token, 401, "ERR_INVALID_CREDENTIAL");
});

test("refused: HS256 signed with the IdP's public key material", async () => {
  const { d: _d, p: _p, q: _q, dp: _dp, dq: _dq, qi: _qi, ...pub } = idp.keys[0]!;
  const jwksText = await (await fetch(`${idp.issuer}/jwks`)).text();
  for (const secret of [JSON.stringify(pub), jwksText, pub.n!]) {
    const now = Math.floor(Date.now() / 1000);
    const token = await new SignJWT({ iss: idp.issuer, aud: AUD, sub: "mallory", scope: "mcp:read mcp:write", exp: now + 300 })
      .setProtectedHeader({ alg: "HS256", kid: pub.kid })
      .sign(new TextEncoder().encode(secret));
    issued.push(token);
    await refused(token, 401, "ERR_INVALID_CREDENTIAL");
  }
});

test("refused: wrong iss, wrong aud (also a real token for another resource), tampered signature", async () => {
  await refused(await forge({ iss: "http://127.0.0.1:1/evil" }), 401, "ERR_INVALID_CREDENTIAL");
  await refused(await forge({ iss: undefined }), 401, "ERR_INVALID_CREDENTIAL");
  await refused(await forge({ aud: "https://someone-else.example/api" }), 401, "ERR_INVALID_CREDENTIAL");
  await refused(await realToken({ resource: OTHER }), 401, "ERR_INVALID_CREDENTIAL");
  const good = await realToken();
  const [h, p, s] = good.split(".");
  const flipped = `${h}.${p}.${s!.slice(0, -4)}${s!.slice(-4) === "AAAA" ? "BBBB" : "AAAA"}`;
  await refused(flipped, 401, "ERR_INVALID_CREDENTIAL");
  const evil = JSON.parse(new TextDecoder().decode(base64url.decode(p!)));
  evil.sub = "admin";
  await refused(`${h}.${base64url.encode(JSON.stringify(evil))}.${s}`, 401, "ERR_INVALID_CREDENTIAL");
});

test("refused: expired; future nbf; accepted within the clock skew", async () => {
  const now = Math.floor(Date.now() / 1000);
  await refused(await forge({ iat: now - 600, exp: now - 120 }), 401, "ERR_TOKEN_EXPIRED");
  await refused(await forge({ nbf: now + 300 }), 401, "ERR_INVALID_CREDENTIAL");
  await refused(await forge({ exp: undefined }), 401, "ERR_INVALID_CREDENTIAL");
  const res = await post(await forge({ exp: now - 10, nbf: now + 10 }));
  assert.is(res.status, 200, "10 s either side is within the default 30 s skew");
  await res.body?.cancel();
});

test("refused: unknown kid (a key the IdP never published), and refetches for unknown kids are rate-limited", async () => {
  await sleep(1100);
  const before = jwksFetches();
  const stranger = await generateSigningKey();
  for (let i = 0; i < 5; i++) await refused(await forge({}, {}, { ...stranger, kid: `unknown-${i}` }), 401, "ERR_INVALID_CREDENTIAL");
  assert.ok(jwksFetches() - before <= 1, `at most one JWKS refetch in the cooldown, saw ${jwksFetches() - before}`);
  // A known kid with someone else's key: the signature check refuses it.
  await refused(await forge({}, {}, { ...stranger, kid: idp.keys[0]!.kid }), 401, "ERR_INVALID_CREDENTIAL");
});

test("JWKS rotation mid-run: the new key is accepted at once, the old one refused once the IdP removes it", async () => {
  const oldToken = await realToken();
  assert.is((await whoami(oldToken)).strategy, "auth:oidc");
  const oldKey = idp.keys[0]!;
  const newKey = await generateSigningKey("ES256");
  await idp.setKeys([newKey, oldKey]);
  await sleep(1100); // past the refetch cooldown of this gateway
  const newToken = await realToken();
  assert.is(JSON.parse(new TextDecoder().decode(base64url.decode(newToken.split(".")[0]!))).kid, newKey.kid, "the IdP signs with the new key");
  assert.is((await whoami(newToken)).subject, DEFAULT_CLIENT.client_id, "unknown kid -> one refresh -> accepted");
  assert.is((await whoami(oldToken)).subject, DEFAULT_CLIENT.client_id, "the old key is still published");

  await idp.setKeys([newKey]);
  await sleep(2200); // past the cache max age: the next verification refetches
  await refused(oldToken, 401, "ERR_INVALID_CREDENTIAL");
  assert.is((await whoami(newToken)).subject, DEFAULT_CLIENT.client_id);
  const c = await mcpClient(newToken);
  assert.ok((await c.listTools()).tools.length > 0);
});

test("opaque tokens: RFC 7662 introspection at the IdP, positive answers cached briefly", async () => {
  const token = await realToken({ resource: OPAQUE, scope: "mcp:read" });
  assert.is(token.split(".").length, 1, "the IdP issued an opaque token");
  const count = () => idp.requests.filter((r) => r === "POST /token/introspection").length;
  const before = count();
  const c = await mcpClient(token);
  assert.ok((await c.listTools()).tools.some((t) => t.name === "notes__list_notes"));
  const me = await whoami(token);
  assert.equal(me.scopes, ["mcp:read"]);
  assert.is(count() - before, 1, "one introspection, then the cache");
  // An opaque token the IdP does not know is inactive.
  await refused("not-a-token-the-idp-knows", 401, "ERR_INVALID_CREDENTIAL");
  // An opaque token for another audience is refused on `aud`.
  await refused(await realToken({ resource: OPAQUE_OTHER }), 401, "ERR_INVALID_CREDENTIAL");
});

test("without introspection, opaque and pt_ tokens are not oidc()'s: undefined, so other strategies decide", async () => {
  const s = oidc({ issuer: idp.issuer, audience: AUD });
  const ctx = { url: new URL("http://127.0.0.1/mcp"), info: {} };
  const req = (t: string) => new Request("http://127.0.0.1/mcp", { headers: { authorization: `Bearer ${t}` } });
  assert.is(await s.authenticate(req("opaque-token-value"), ctx), undefined);
  assert.is(await s.authenticate(req("pt_abc"), ctx), undefined);
  assert.is(await s.authenticate(new Request("http://127.0.0.1/mcp"), ctx), undefined);
  assert.is(await s.authenticate(new Request("http://127.0.0.1/mcp", { headers: { authorization: "Basic eDp5" } }), ctx), undefined);
  const skip = oidc({ issuer: idp.issuer, audience: AUD, otherIssuers: "skip" });
  assert.is(await skip.authenticate(req(await forge({ iss: "https://another-idp.example" })), ctx), undefined);
  // JWTs the gateway itself issued (iss = its own origin) are left to oauthServer().
  assert.is(await s.authenticate(req(await forge({ iss: "http://127.0.0.1" })), ctx), undefined);
});

test("PRM and challenge follow server.publicUrl and the scope mapping; an unreachable IdP is 502, not a bad credential", async () => {
  const s = oidc({ issuer: "http://127.0.0.1:9", audience: AUD, scopes: { "mcp:read": "Mcp.Read", "mcp:write": "Mcp.Write", admin: "Gateway.Admin" } });
  await s.setup?.({ publicUrl: "https://mcp.example.com/", log: quietLogger } as unknown as PluginContext);
  const ctx = { url: new URL("http://10.0.0.1:8787/mcp"), info: {} };
  const route = s.routes!.find((r) => r.path === "/.well-known/oauth-protected-resource/mcp")!;
  const prm = await (await route.handler(new Request("http://10.0.0.1:8787/.well-known/oauth-protected-resource/mcp"), ctx)).json() as Record<string, unknown>;
  assert.is(prm.resource, "https://mcp.example.com/mcp");
  assert.equal(prm.authorization_servers, ["http://127.0.0.1:9"]);
  assert.equal(prm.scopes_supported, ["Mcp.Read", "Mcp.Write"], "admin is not advertised");
  assert.is(typeof s.challenge, "function");
  assert.is((s.challenge as (c: typeof ctx) => string)(ctx), 'Bearer resource_metadata="https://mcp.example.com/.well-known/oauth-protected-resource/mcp", scope="Mcp.Read Mcp.Write"');
  try {
    await s.authenticate(new Request("http://x/mcp", { headers: { authorization: `Bearer ${await forge({ iss: "http://127.0.0.1:9" })}` } }), ctx);
    assert.unreachable("an unreachable IdP must not look like a verdict on the token");
  } catch (err) {
    assert.is((err as { code?: string }).code, "ERR_UPSTREAM_UNAVAILABLE");
    assert.is((err as { status?: number }).status, 502);
  }
});

test("audit events and error messages never carry token contents", async () => {
  await sleep(50);
  const text = JSON.stringify(events);
  assert.ok(events.some((e) => e.type === "auth" && (e as { outcome?: string }).outcome === "failure"));
  for (const t of issued) {
    for (const part of t.split(".").filter((p) => p.length > 16)) assert.not.ok(text.includes(part), "a token part appears in the audit trail");
  }
});

/** Verifies a forged token with a strategy directly (the preset tests). */
async function identityFrom(s: AuthStrategy, claims: Record<string, unknown>): Promise<Record<string, unknown>> {
  const token = await forge(claims);
  const outcome = await s.authenticate(new Request("http://127.0.0.1/mcp", { headers: { authorization: `Bearer ${token}` } }), { url: new URL("http://127.0.0.1/mcp"), info: {} });
  assert.ok(outcome, "the strategy recognised the token");
  return outcome as Record<string, unknown>;
}

test("preset okta: uid subject, verified email, groups -> roles, scp -> scopes", async () => {
  const s = oidc({ provider: "okta", issuer: idp.issuer, audience: AUD });
  const { identity } = await identityFrom(s, {
    sub: "alice.login@example.com", uid: "00u1", email: "alice@example.com", email_verified: true, scope: undefined, scp: ["mcp:read", "openid"], groups: ["Everyone", "platform"], name: "Alice",
  }) as { identity: Record<string, unknown> };
  assert.is(identity.subject, "00u1");
  assert.is(identity.email, "alice@example.com");
  // The Okta login (`sub`) looks like an address but is no verified mailbox.
  const login = await identityFrom(s, { sub: "alice@example.com", uid: "00u1" }) as { identity: Record<string, unknown> };
  assert.is(login.identity.email, undefined);
  assert.is(identity.name, "Alice");
  assert.equal(identity.roles, ["Everyone", "platform"]);
  assert.equal(identity.scopes, ["mcp:read"]);
});

test("preset auth0: namespaced claims, permissions and scope", async () => {
  const s = oidc({ provider: "auth0", issuer: idp.issuer, audience: AUD });
  const { identity } = await identityFrom(s, {
    sub: "auth0|123",
    scope: "openid mcp:read",
    permissions: ["mcp:write"],
    org_id: "org_42",
    "https://portcullis.example/roles": ["admin", "member"],
    "https://portcullis.example/email": "bob@example.com",
    "https://portcullis.example/email_verified": true,
    "https://portcullis.example/team": "data",
  }) as { identity: Record<string, unknown> };
  assert.is(identity.subject, "auth0|123");
  assert.is(identity.email, "bob@example.com");
  assert.is(identity.team, "data");
  assert.is(identity.org, "org_42");
  assert.equal(identity.roles, ["admin", "member"]);
  assert.equal((identity.scopes as string[]).sort(), ["mcp:read", "mcp:write"]);
});

test("preset azure-ad: oid subject, tid -> org (tenant enforced), roles + mapped groups, scp mapping", async () => {
  const tid = "72f988bf-86f1-41af-91ab-2d7cd011db47";
  const s = oidc({ provider: "azure-ad", tenant: tid, issuer: idp.issuer, audience: AUD, scopes: { "mcp:read": "Mcp.Read", "mcp:write": ["Mcp.Write"] }, roleMap: { "0f1e2d3c-group": "platform" } });
  const { identity } = await identityFrom(s, {
    sub: "pairwise-sub", oid: "obj-1", tid, scope: undefined, scp: "Mcp.Read User.Read", roles: ["Notes.Admin"], groups: ["0f1e2d3c-group", "other-group"],
    preferred_username: "carol@contoso.com", name: "Carol",
  }) as { identity: Record<string, unknown> };
  assert.is(identity.subject, "obj-1");
  assert.is(identity.org, tid);
  assert.is(identity.email, undefined, "preferred_username is not a verified email");
  assert.equal(identity.roles, ["Notes.Admin", "platform", "other-group"]);
  assert.equal(identity.scopes, ["mcp:read"]);
  const other = await identityFrom(s, { oid: "obj-2", tid: "00000000-0000-0000-0000-000000000000", scp: "Mcp.Read" }) as { error: { code: string } };
  assert.is(other.error.code, "ERR_INVALID_CREDENTIAL");
  const edov = await identityFrom(s, { oid: "obj-3", tid, email: "carol@contoso.com", xms_edov: true, preferred_username: "c@contoso.com" }) as { identity: Record<string, unknown> };
  assert.is(edov.identity.email, "carol@contoso.com", "xms_edov vouches for `email`");
  const trusting = oidc({ provider: "azure-ad", tenant: tid, issuer: idp.issuer, audience: AUD, trustUnverifiedEmail: true });
  const trusted = await identityFrom(trusting, { oid: "obj-1", tid, preferred_username: "carol@contoso.com" }) as { identity: Record<string, unknown> };
  assert.is(trusted.identity.email, "carol@contoso.com", "trustUnverifiedEmail restores the fallbacks");
});

test("preset google: hd domain restriction, verified email only, default scopes", async () => {
  const s = oidc({ provider: "google", issuer: idp.issuer, audience: AUD, allowedDomains: ["example.com"] });
  const { identity } = await identityFrom(s, { sub: "1057", email: "dan@example.com", email_verified: true, hd: "example.com", scope: undefined }) as { identity: Record<string, unknown> };
  assert.is(identity.email, "dan@example.com");
  assert.is(identity.org, "example.com");
  assert.equal(identity.scopes, ["mcp:read", "mcp:write"]);
  for (const claims of [{ hd: "evil.com" }, { hd: undefined }]) {
    const out = await identityFrom(s, { sub: "1", email: "x@evil.com", email_verified: true, ...claims }) as { error: { code: string } };
    assert.is(out.error.code, "ERR_FORBIDDEN");
  }
  const unverified = await identityFrom(s, { sub: "2", email: "eve@example.com", email_verified: false, hd: "example.com" }) as { identity: Record<string, unknown> };
  assert.is(unverified.identity.email, undefined);
});

test("preset custom: every identity field from a configured claim path", async () => {
  const s = oidc({
    issuer: idp.issuer,
    audience: [AUD, "another"],
    claims: { subject: "preferred_username", email: "mail", emailVerified: "mail_checked", name: "display", team: "department", org: "tenant.id", roles: "realm_access.roles", scopes: "perms" },
    requiredScopes: ["gateway"],
  });
  const { identity } = await identityFrom(s, {
    preferred_username: "erin", mail: "erin@example.com", mail_checked: true, display: "Erin", department: "sre", tenant: { id: "t-9" },
    realm_access: { roles: ["ops"] }, perms: ["mcp:write", "admin", "gateway"], scope: "gateway",
  }) as { identity: Record<string, unknown> };
  assert.equal(
    { subject: identity.subject, email: identity.email, name: identity.name, team: identity.team, org: identity.org, roles: identity.roles, scopes: identity.scopes },
    { subject: "erin", email: "erin@example.com", name: "Erin", team: "sre", org: "t-9", roles: ["ops"], scopes: ["mcp:write", "admin"] },
  );
  const missing = await identityFrom(s, { preferred_username: "f", scope: "other" }) as { error: { code: string } };
  assert.is(missing.error.code, "ERR_FORBIDDEN", "requiredScopes");
});

test("allowedDomains counts only a verified email (every preset but google, which uses hd)", async () => {
  const tid = "72f988bf-86f1-41af-91ab-2d7cd011db47";
  const cases: Array<[Pick<OidcOptions, "provider" | "tenant">, Record<string, unknown>, Record<string, unknown>]> = [
    [{ provider: "okta" }, { uid: "00u9", email: "mallory@corp.com" }, { email_verified: true }],
    [{ provider: "auth0" }, { "https://ns.example/email": "mallory@corp.com" }, { "https://ns.example/email_verified": true }],
    [{ provider: "custom" }, { email: "mallory@corp.com" }, { email_verified: true }],
    [{ provider: "azure-ad", tenant: tid }, { oid: "o9", tid, email: "mallory@corp.com", preferred_username: "mallory@corp.com", upn: "mallory@corp.com" }, { xms_edov: true }],
  ];
  for (const [preset, claims, proof] of cases) {
    const what = preset.provider;
    for (const trustUnverifiedEmail of [false, true]) {
      const s = oidc({ ...preset, issuer: idp.issuer, audience: AUD, allowedDomains: ["corp.com"], trustUnverifiedEmail });
      const self = await identityFrom(s, { sub: "m", ...claims }) as { error?: { code: string } };
      assert.is(self.error?.code, "ERR_FORBIDDEN", `${what}: a self-asserted address passes no domain gate (trust ${trustUnverifiedEmail})`);
      const stringly = await identityFrom(s, { sub: "m", ...claims, ...Object.fromEntries(Object.keys(proof).map((k) => [k, "true"])) }) as { error?: { code: string } };
      assert.is(stringly.error?.code, "ERR_FORBIDDEN", `${what}: only boolean true verifies`);
      const ok = await identityFrom(s, { sub: "m", ...claims, ...proof }) as { identity?: Record<string, unknown> };
      assert.is(ok.identity?.email, "mallory@corp.com", `${what}: a verified address in the domain passes`);
    }
  }
  // Azure's flag speaks for `email` only: a verified-looking preferred_username without `email` does not pass.
  const azure = oidc({ provider: "azure-ad", tenant: tid, issuer: idp.issuer, audience: AUD, allowedDomains: ["corp.com"] });
  const upnOnly = await identityFrom(azure, { oid: "o9", tid, preferred_username: "mallory@corp.com", xms_edov: true }) as { error?: { code: string } };
  assert.is(upnOnly.error?.code, "ERR_FORBIDDEN");
  const elsewhere = await identityFrom(oidc({ issuer: idp.issuer, audience: AUD, allowedDomains: ["corp.com"] }), { email: "m@corp.com.evil.example", email_verified: true }) as { error?: { code: string } };
  assert.is(elsewhere.error?.code, "ERR_FORBIDDEN");
});

test("an unverified email is not forwarded (X-User-Email) and never becomes the subject", async () => {
  const me = await whoami(await forge({ sub: "u-17", email: "ceo@gateway.example" }));
  assert.is(me.subject, "u-17");
  assert.is(me.email, undefined, "unverified: not part of the identity the upstreams see");
  assert.is((await whoami(await forge({ sub: "u-17", email: "u17@gateway.example", email_verified: true }))).email, "u17@gateway.example");

  const byEmail = oidc({ issuer: idp.issuer, audience: AUD, claims: { subject: "email" } });
  const refusedSubject = await identityFrom(byEmail, { sub: undefined, email: "ceo@corp.com" }) as { error?: { code: string } };
  assert.is(refusedSubject.error?.code, "ERR_INVALID_CREDENTIAL", "no subject from an unverified address");
  const verified = await identityFrom(byEmail, { sub: undefined, email: "ceo@corp.com", email_verified: true }) as { identity: Record<string, unknown> };
  assert.is(verified.identity.subject, "ceo@corp.com");
  // A mapping that points the email elsewhere does not make the `email` claim a safe subject.
  const fallback = oidc({ issuer: idp.issuer, audience: AUD, claims: { subject: ["email", "sub"], email: "mail" }, trustUnverifiedEmail: true });
  const { identity } = await identityFrom(fallback, { sub: "u-18", email: "ceo@corp.com", mail: "u18@corp.com" }) as { identity: Record<string, unknown> };
  assert.is(identity.subject, "u-18", "trustUnverifiedEmail never applies to the subject");
  assert.is(identity.email, "u18@corp.com", "trustUnverifiedEmail reports the unverified address");
});

test("introspection: an answer without aud is refused by default, accepted only with requireAudience: false", async () => {
  // No resource indicator: the IdP issues an opaque client-credentials token whose introspection has no `aud`.
  const bare = await startIdp({ resources: {} });
  try {
    const { access_token } = await bare.clientCredentials({ scope: "mcp:read" });
    issued.push(access_token);
    assert.is(access_token.split(".").length, 1);
    const introspection = { clientId: DEFAULT_CLIENT.client_id, clientSecret: DEFAULT_CLIENT.client_secret };
    const ctx = { url: new URL("http://127.0.0.1/mcp"), info: {} };
    const req = () => new Request("http://127.0.0.1/mcp", { headers: { authorization: `Bearer ${access_token}` } });
    const strict = oidc({ issuer: bare.issuer, audience: AUD, introspection });
    const out = await strict.authenticate(req(), ctx) as { error?: { code: string; reason: string } };
    assert.is(out.error?.code, "ERR_INVALID_CREDENTIAL");
    assert.not.match(out.error!.reason, access_token);
    const lax = oidc({ issuer: bare.issuer, audience: AUD, introspection: { ...introspection, requireAudience: false } });
    const ok = await lax.authenticate(req(), ctx) as { identity?: Record<string, unknown> };
    assert.is(ok.identity?.subject, DEFAULT_CLIENT.client_id);
  } finally {
    await bare.close();
  }
  // requireAudience: false never lets a token for another audience through.
  const other = await realToken({ resource: OPAQUE_OTHER });
  const lax = oidc({ issuer: idp.issuer, audience: AUD, introspection: { clientId: DEFAULT_CLIENT.client_id, clientSecret: DEFAULT_CLIENT.client_secret, requireAudience: false } });
  const out = await lax.authenticate(new Request("http://127.0.0.1/mcp", { headers: { authorization: `Bearer ${other}` } }), { url: new URL("http://127.0.0.1/mcp"), info: {} }) as { error?: { code: string } };
  assert.is(out.error?.code, "ERR_INVALID_CREDENTIAL");
});

test("introspection: a refused opaque token is remembered (one IdP call), concurrent calls are capped", async () => {
  const count = () => idp.requests.filter((r) => r === "POST /token/introspection").length;
  const junk = `junk-${crypto.randomUUID()}`;
  issued.push(junk);
  const before = count();
  await refused(junk, 401, "ERR_INVALID_CREDENTIAL");
  await refused(junk, 401, "ERR_INVALID_CREDENTIAL");
  assert.is(count() - before, 1, "the second presentation is answered from the negative cache");
  // The same for a real token refused on its audience.
  const other = await realToken({ resource: OPAQUE_OTHER });
  const mid = count();
  await refused(other, 401, "ERR_INVALID_CREDENTIAL");
  await refused(other, 401, "ERR_INVALID_CREDENTIAL");
  assert.is(count() - mid, 1);

  const s = oidc({ issuer: idp.issuer, audience: AUD, introspection: { clientId: DEFAULT_CLIENT.client_id, clientSecret: DEFAULT_CLIENT.client_secret, maxInFlight: 1 } });
  const ctx = { url: new URL("http://127.0.0.1/mcp"), info: {} };
  const req = (t: string) => new Request("http://127.0.0.1/mcp", { headers: { authorization: `Bearer ${t}` } });
  await s.authenticate(req(`warm-${crypto.randomUUID()}`), ctx); // discovery done, so both calls below race only on introspection
  const settled = await Promise.allSettled([1, 2, 3].map(() => s.authenticate(req(`junk-${crypto.randomUUID()}`), ctx)));
  const overloaded = settled.filter((r) => r.status === "rejected" && (r.reason as { code?: string }).code === "ERR_OVERLOADED");
  assert.is(overloaded.length, 2, "one call in flight, the others get 503");
  assert.is((overloaded[0] as PromiseRejectedResult).reason.status, 503);
  assert.ok(settled.some((r) => r.status === "fulfilled" && (r.value as { error?: { code: string } }).error?.code === "ERR_INVALID_CREDENTIAL"));
  // One token presented concurrently shares a single call instead of being refused.
  const shared = `junk-${crypto.randomUUID()}`;
  const sharedBefore = count();
  const both = await Promise.all([s.authenticate(req(shared), ctx), s.authenticate(req(shared), ctx)]) as Array<{ error?: { code: string } }>;
  assert.equal(both.map((o) => o.error?.code), ["ERR_INVALID_CREDENTIAL", "ERR_INVALID_CREDENTIAL"]);
  assert.is(count() - sharedBefore, 1);
});

test("config errors name the path and never echo secrets", () => {
  const cases: Array<[() => unknown, RegExp]> = [
    [() => oidc({ issuer: "http://idp.example.com", audience: "a" }), /^oidc\.issuer: expected an https URL/],
    [() => oidc({ issuer: "not a url", audience: "a" }), /^oidc\.issuer: expected an https URL/],
    [() => oidc({ audience: "a" }), /^oidc\.issuer:/],
    [() => oidc({ issuer: "https://idp.example.com" } as never), /^oidc\.audience:/],
    [() => oidc({ issuer: "https://idp.example.com", audience: "a", provider: "keycloak" as never }), /^oidc\.provider:/],
    [() => oidc({ issuer: "https://idp.example.com", audience: "a", algorithms: ["RS256", "HS256"] }), /^oidc\.algorithms\[1\]:/],
    [() => oidc({ issuer: "https://idp.example.com", audience: "a", algorithms: ["none"] }), /^oidc\.algorithms\[0\]:/],
    [() => oidc({ issuer: "https://idp.example.com", audience: "a", clockSkewSeconds: 3600 }), /^oidc\.clockSkewSeconds:/],
    [() => oidc({ provider: "okta", issuer: "https://dev-1.okta.com", audience: "a" }), /^oidc\.issuer: expected an Okta custom authorization server/],
    [() => oidc({ provider: "auth0", issuer: "https://x.auth0.com", audience: "a" }), /^oidc\.issuer: expected an Auth0 tenant issuer/],
    [() => oidc({ provider: "azure-ad", tenant: "contoso", audience: "a" }), /^oidc\.tenant:/],
    [() => oidc({ provider: "azure-ad", audience: "a" }), /^oidc\.issuer:.*oidc\.tenant/],
    [() => oidc({ provider: "okta", tenant: "72f988bf-86f1-41af-91ab-2d7cd011db47", issuer: "https://d.okta.com/oauth2/default", audience: "a" }), /^oidc\.tenant:/],
    [() => oidc({ issuer: "https://idp.example.com", audience: "a", claims: { roles: 5 as never } }), /^oidc\.claims\.roles:/],
    [() => oidc({ issuer: "https://idp.example.com", audience: "a", claims: { group: "g" } as never }), /^oidc\.claims\.group:/],
    [() => oidc({ issuer: "https://idp.example.com", audience: "a", scopes: { "mcp:read": [] } }), /^oidc\.scopes\.mcp:read:/],
    [() => oidc({ issuer: "https://idp.example.com", audience: "a", introspection: { clientId: "c", clientSecret: "" } }), /^oidc\.introspection\.clientSecret:/],
    [() => oidc({ issuer: "https://idp.example.com", audience: "a", introspection: { clientId: "c", clientSecret: "s3cr3t-value", cacheSeconds: 300 } }), /^oidc\.introspection\.cacheSeconds:/],
    [() => oidc({ issuer: "https://idp.example.com", audience: "a", otherIssuers: "maybe" as never }), /^oidc\.otherIssuers:/],
    [() => oidc({ issuer: "https://idp.example.com", audience: "a", trustUnverifiedEmail: "yes" as never }), /^oidc\.trustUnverifiedEmail:/],
    [() => oidc({ issuer: "https://idp.example.com", audience: "a", introspection: { clientId: "c", clientSecret: "s3cr3t-value", requireAudience: "no" as never } }), /^oidc\.introspection\.requireAudience:/],
    [() => oidc({ issuer: "https://idp.example.com", audience: "a", introspection: { clientId: "c", clientSecret: "s3cr3t-value", maxInFlight: 0 } }), /^oidc\.introspection\.maxInFlight:/],
    [() => oidc({ issuer: "https://idp.example.com", audience: "a", introspection: { clientId: "c", clientSecret: "s3cr3t-value", maxInFlight: 1.5 } }), /^oidc\.introspection\.maxInFlight:/],
  ];
  for (const [make, pattern] of cases) {
    try {
      make();
      assert.unreachable(`expected a config error matching ${pattern}`);
    } catch (err) {
      assert.is((err as { code?: string }).code, "ERR_CONFIG", String(err));
      assert.match((err as Error).message, pattern);
      assert.not.match((err as Error).message, "s3cr3t-value");
    }
  }
  assert.is(oidc({ provider: "google", audience: "client-id.apps.googleusercontent.com" }).name, "auth:oidc");
  assert.is(oidc({ provider: "azure-ad", tenant: "72f988bf-86f1-41af-91ab-2d7cd011db47", audience: "api://portcullis" }).name, "auth:oidc");
});

test("JSON config: auth.type oauth in the seed's shape builds a strategy", () => {
  const built = jsonAuthTypes.oauth!({
    type: "oauth",
    provider: "okta",
    clientId: "0oa1portcullis",
    clientSecret: "s3cr3t-value",
    issuer: "https://dev-1.okta.com/oauth2/default",
    scopes: ["openid", "email", "groups"],
    tokenExpiration: "7d",
  }, "auth");
  const list = Array.isArray(built) ? built : [built!];
  assert.ok(list.length >= 1);
  assert.ok(list.every((s) => typeof s.authenticate === "function"));
  // Without a client secret but with an audience: the resource-server strategy.
  const rs = jsonAuthTypes.oauth!({ type: "oauth", provider: "okta", issuer: "https://dev-1.okta.com/oauth2/default", audience: "api://portcullis" }, "auth");
  assert.equal((Array.isArray(rs) ? rs : [rs!]).map((s) => s.name), ["auth:oidc"]);
  try {
    jsonAuthTypes.oauth!({ type: "oauth", provider: "okta", issuer: "https://dev-1.okta.com", audience: "api://portcullis" }, "auth");
    assert.unreachable("an Okta org issuer must be refused");
  } catch (err) {
    assert.match((err as Error).message, /^auth\.issuer: expected an Okta/);
  }
  try {
    jsonAuthTypes.oauth!({ type: "oauth", provider: "okta", clientId: "c", clientSecret: "s3cr3t-value", issuer: "http://evil.example" }, "auth");
    assert.unreachable("an http issuer must be refused");
  } catch (err) {
    assert.match((err as Error).message, /^auth\.issuer/);
    assert.not.match((err as Error).message, "s3cr3t-value");
  }
});

test.run();
