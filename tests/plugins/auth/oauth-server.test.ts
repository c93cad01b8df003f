// The gateway as OAuth authorization server: real MCP clients (the SDK's OAuth support, its
// client-credentials provider, and mcp-remote) sign a user in through a real OpenID provider
// (oidc-provider, in-process on loopback) and use /mcp; plus every refusal the issue lists.
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { createServer } from "node:http";
import { type AddressInfo, createServer as createTcpServer } from "node:net";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  Client,
  ClientCredentialsProvider,
  type OAuthClientInformationMixed,
  type OAuthClientMetadata,
  type OAuthClientProvider,
  type OAuthDiscoveryState,
  type OAuthTokens,
  StreamableHTTPClientTransport,
  UnauthorizedError,
} from "@modelcontextprotocol/client";
import { StdioClientTransport } from "@modelcontextprotocol/client/stdio";
import { bearer, memoryStore, oauthServer } from "../../../plugins/mod.ts";
import type { AuditEvent } from "../../../core/audit/events.ts";
import type { TokenStore } from "../../../core/tokens/types.ts";
import { createGrants } from "../../../plugins/auth/oauth-server/grants.ts";
import { NOTES, startGateway, stdio } from "../../fixtures/helpers.ts";
import { type Idp, startIdp } from "../../fixtures/idp.ts";

const test = suite("oauth server");
const IDP_CLIENT = { client_id: "portcullis-gateway", client_secret: "gateway-secret-0123456789abcdef0123", redirect_uris: [] as string[], grant_types: ["authorization_code", "refresh_token"], response_types: ["code"] };
const AGENT = { clientId: "build-agent", clientSecret: "agent-secret-0123456789abcdef" };
const STATIC_ADMIN = "static-admin-token-0123456789abcdef0123456789";
const MCP_REMOTE = new URL("../../../node_modules/mcp-remote/dist/proxy.js", import.meta.url).pathname;

let idp: Idp;
let gw: Awaited<ReturnType<typeof startGateway>>;
let base: string;
let trustedClient: string;
const TRUSTED_REDIRECT = "http://127.0.0.1:9/trusted";
const events: AuditEvent[] = [];
const cleanup: Array<() => Promise<unknown> | unknown> = [];

// ---------- a minimal browser: cookies, redirects, and the forms of the IdP and the gateway ----------

interface BrowseResult {
  /** The redirect that left for the client (its redirect_uri), when the flow got there. */
  final?: URL;
  /** The page the flow stopped on otherwise. */
  status?: number;
  html?: string;
  location?: string | null;
}

function browser(account = "alice", decision: "approve" | "deny" | "stop" = "approve") {
  const jar = new Map<string, Map<string, string>>();
  const cookieFor = (u: URL) => [...(jar.get(u.host) ?? new Map()).entries()].map(([k, v]) => `${k}=${v}`).join("; ");
  const keep = (u: URL, res: Response) => {
    const list = (res.headers as Headers & { getSetCookie?(): string[] }).getSetCookie?.() ?? [];
    const m = jar.get(u.host) ?? new Map<string, string>();
    jar.set(u.host, m);
    for (const c of list) {
      const [pair] = c.split(";");
      const eq = pair!.indexOf("=");
      const name = pair!.slice(0, eq).trim();
      const value = pair!.slice(eq + 1).trim();
      if (value === "" || /max-age=0/i.test(c) || /expires=Thu, 01 Jan 1970/i.test(c)) m.delete(name);
      else m.set(name, value);
    }
  };
  return {
    async go(start: string | URL, isClient: (u: URL) => boolean): Promise<BrowseResult> {
      let url = new URL(start);
      let init: { method: string; body?: URLSearchParams } = { method: "GET" };
      for (let step = 0; step < 25; step++) {
        const headers: Record<string, string> = { cookie: cookieFor(url) };
        if (init.body) headers["content-type"] = "application/x-www-form-urlencoded";
        const res = await fetch(url, { method: init.method, body: init.body, headers, redirect: "manual" });
        keep(url, res);
        if (res.status >= 300 && res.status < 400) {
          await res.body?.cancel();
          const next = new URL(res.headers.get("location")!, url);
          if (isClient(next)) return { final: next };
          url = next;
          init = { method: "GET" };
          continue;
        }
        const html = await res.text();
        const action = /<form[^>]*action="([^"]*)"/.exec(html)?.[1]?.replace(/&amp;/g, "&");
        const hidden = new URLSearchParams();
        for (const m of html.matchAll(/<input type="hidden" name="([^"]+)" value="([^"]*)"/g)) hidden.set(m[1]!, m[2]!.replace(/&#(\d+);/g, (_, n) => String.fromCharCode(Number(n))));
        if (res.status === 200 && action && hidden.get("prompt") === "login") {
          hidden.set("login", account);
          hidden.set("password", "anything");
        } else if (res.status === 200 && action && hidden.get("prompt") === "consent") {
          // oidc-provider's own consent: accept.
        } else if (res.status === 200 && action && hidden.has("csrf") && decision !== "stop") {
          hidden.set("decision", decision);
        } else {
          return { status: res.status, html, location: res.headers.get("location") };
        }
        url = new URL(action.replace(/&#(\d+);/g, (_, n) => String.fromCharCode(Number(n))), url);
        init = { method: "POST", body: hidden };
      }
      throw new Error("too many steps");
    },
  };
}

// ---------- PKCE and raw protocol helpers ----------

function b64url(bytes: Uint8Array): string {
  let s = "";
  for (const b of bytes) s += String.fromCharCode(b);
  return btoa(s).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}
function verifier(): string {
  return b64url(crypto.getRandomValues(new Uint8Array(32)));
}
async function challenge(v: string): Promise<string> {
  return b64url(new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(v))));
}

async function register(body: Record<string, unknown>, bearer?: string): Promise<Response> {
  return await fetch(`${base}/oauth/register`, {
    method: "POST",
    headers: { "content-type": "application/json", ...(bearer ? { authorization: `Bearer ${bearer}` } : {}) },
    body: JSON.stringify(body),
  });
}

async function publicClient(redirect = "http://127.0.0.1:9/callback", name = "Raw test client"): Promise<string> {
  const res = await register({ client_name: name, redirect_uris: [redirect], token_endpoint_auth_method: "none" });
  assert.is(res.status, 201);
  return ((await res.json()) as { client_id: string }).client_id;
}

function authorizeUrl(params: Record<string, string | undefined>): URL {
  const url = new URL(`${base}/oauth/authorize`);
  for (const [k, v] of Object.entries(params)) if (v !== undefined) url.searchParams.set(k, v);
  return url;
}

/** Runs the browser part of the code flow and returns the code (and the whole redirect). */
async function codeFor(clientId: string, redirect: string, v: string, extra: Record<string, string | undefined> = {}): Promise<{ code: string; final: URL }> {
  const url = authorizeUrl({ response_type: "code", client_id: clientId, redirect_uri: redirect, code_challenge: await challenge(v), code_challenge_method: "S256", state: "st-123", resource: `${base}/mcp`, ...extra });
  const r = await browser().go(url, (u) => u.href.startsWith(redirect));
  assert.ok(r.final, `flow ended on a page: ${r.status} ${r.html?.slice(0, 300)}`);
  return { code: r.final!.searchParams.get("code")!, final: r.final! };
}

async function tokenCall(params: Record<string, string>, headers: Record<string, string> = {}): Promise<{ status: number; body: Record<string, string> }> {
  const res = await fetch(`${base}/oauth/token`, { method: "POST", headers: { "content-type": "application/x-www-form-urlencoded", ...headers }, body: new URLSearchParams(params) });
  return { status: res.status, body: (await res.json()) as Record<string, string> };
}

async function mcpStatus(accessToken: string): Promise<number> {
  const res = await fetch(`${base}/mcp`, {
    method: "POST",
    headers: { authorization: `Bearer ${accessToken}`, "content-type": "application/json", accept: "application/json, text/event-stream" },
    body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "initialize", params: { protocolVersion: "2025-11-25", capabilities: {}, clientInfo: { name: "raw", version: "1" } } }),
  });
  await res.body?.cancel();
  return res.status;
}

async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, "127.0.0.1", r));
  const port = (s.address() as AddressInfo).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

// ---------- an OAuthClientProvider for the SDK, kept in memory ----------

class MemoryProvider implements OAuthClientProvider {
  info?: OAuthClientInformationMixed;
  saved?: OAuthTokens;
  verifierValue = "";
  discovery?: OAuthDiscoveryState;
  code?: string;
  iss?: string;
  redirect: string;
  constructor(redirect: string) {
    this.redirect = redirect;
  }
  get redirectUrl(): string {
    return this.redirect;
  }
  get clientMetadata(): OAuthClientMetadata {
    return { client_name: "SDK test client", redirect_uris: [this.redirect], grant_types: ["authorization_code", "refresh_token"], response_types: ["code"], token_endpoint_auth_method: "none" };
  }
  clientInformation() {
    return this.info;
  }
  saveClientInformation(info: OAuthClientInformationMixed) {
    this.info = info;
  }
  tokens() {
    return this.saved;
  }
  saveTokens(t: OAuthTokens) {
    this.saved = t;
  }
  async redirectToAuthorization(url: URL) {
    const r = await browser().go(url, (u) => u.href.startsWith(this.redirect));
    if (!r.final) throw new Error(`authorization stopped on a page: ${r.status} ${r.html?.slice(0, 300)}`);
    this.code = r.final.searchParams.get("code") ?? undefined;
    this.iss = r.final.searchParams.get("iss") ?? undefined;
  }
  saveCodeVerifier(v: string) {
    this.verifierValue = v;
  }
  codeVerifier() {
    return this.verifierValue;
  }
  saveDiscoveryState(s: OAuthDiscoveryState) {
    this.discovery = s;
  }
  discoveryState() {
    return this.discovery;
  }
}

async function sdkConnect(provider: OAuthClientProvider): Promise<Client> {
  const client = new Client({ name: "oauth-test", version: "1.0.0" });
  await client.connect(new StreamableHTTPClientTransport(new URL(`${base}/mcp`), { authProvider: provider }));
  cleanup.push(() => client.close());
  return client;
}

function text(result: unknown): string {
  return ((result as { content?: Array<{ text?: string }> }).content ?? []).map((c) => c.text ?? "").join("");
}

// ---------- the suite ----------

test.before(async () => {
  // A metadata-document client the operator trusts (skipConsentFor): its URL must be known before the gateway starts.
  const trusted = createServer((_req, res) => {
    res.writeHead(200, { "content-type": "application/json" });
    res.end(JSON.stringify({ client_id: trustedClient, client_name: "Trusted Client", redirect_uris: [TRUSTED_REDIRECT], token_endpoint_auth_method: "none" }));
  });
  await new Promise<void>((r) => trusted.listen(0, "127.0.0.1", r));
  cleanup.push(() => new Promise<void>((r) => trusted.close(() => r())));
  trustedClient = `http://127.0.0.1:${(trusted.address() as AddressInfo).port}/trusted.json`;
  const clients = [IDP_CLIENT];
  idp = await startIdp({
    clients,
    accounts: {
      alice: { email: "alice@example.com", email_verified: true, name: "Alice Example", groups: ["engineering"] },
      bob: { email: "bob@example.com", email_verified: true, name: "Bob Example", groups: ["sales"] },
      // Typed alice's address into an IdP profile; the IdP never verified it.
      mallory: { email: "alice@example.com", email_verified: false, name: "Mallory", groups: ["engineering"] },
    },
    features: { devInteractions: { enabled: true } },
    // Profile claims in the ID token itself: the gateway asks for no IdP resource, so its userinfo call is a bonus.
    configuration: { conformIdTokenClaims: false, scopes: ["openid", "email", "profile", "groups", "offline_access"] },
  });
  gw = await startGateway({
    auth: [oauthServer({
      upstream: { issuer: idp.issuer, clientId: IDP_CLIENT.client_id, clientSecret: IDP_CLIENT.client_secret, scopes: ["openid", "email", "profile", "groups"] },
      accessTokenTtl: "5m",
      clients: [{ ...AGENT, name: "Build agent", identity: { subject: "build-agent", roles: ["engineering"] }, scopes: ["mcp:read"] }],
      allowInsecureClientMetadata: true,
      skipConsentFor: [trustedClient],
      // Every test registers from 127.0.0.1; the default limit is tested on a gateway of its own.
      registration: { perMinute: 1000 },
    }), bearer()],
    servers: { notes: stdio({ script: NOTES, stderr: "ignore" }), other: stdio({ script: NOTES, stderr: "ignore" }) },
    roles: { engineering: { servers: ["notes"] }, sales: { servers: ["other"] } },
    tokens: { store: memoryStore() },
    admin: { token: STATIC_ADMIN, bootstrap: false },
    audit: [{ name: "test", write: (e) => void events.push(e) }],
  });
  base = gw.url;
  // The gateway's callback URL is only known now: register it at the IdP and rebuild the provider with it.
  IDP_CLIENT.redirect_uris.push(`${base}/oauth/callback`);
  await idp.setKeys(idp.keys);
});

test.after(async () => {
  for (const c of cleanup.reverse()) await Promise.resolve(c()).catch(() => undefined);
  await gw?.gateway.close();
  await gw?.close();
  await idp?.close();
});

test("publishes protected resource and authorization server metadata", async () => {
  for (const path of ["/.well-known/oauth-protected-resource", "/.well-known/oauth-protected-resource/mcp"]) {
    const prm = (await (await fetch(base + path)).json()) as Record<string, unknown>;
    assert.is(prm.resource, `${base}/mcp`);
    assert.equal(prm.authorization_servers, [base]);
  }
  const as = (await (await fetch(`${base}/.well-known/oauth-authorization-server`)).json()) as Record<string, unknown>;
  assert.is(as.issuer, base);
  assert.equal(as.code_challenge_methods_supported, ["S256"]);
  assert.is(as.client_id_metadata_document_supported, true);
  assert.is(as.authorization_response_iss_parameter_supported, true);
  assert.is(as.registration_endpoint, `${base}/oauth/register`);
  assert.is(as.revocation_endpoint, `${base}/oauth/revoke`);
  const res = await fetch(`${base}/mcp`, { method: "POST", headers: { "content-type": "application/json" }, body: "{}" });
  assert.is(res.status, 401);
  assert.match(res.headers.get("www-authenticate") ?? "", `resource_metadata="${base}/.well-known/oauth-protected-resource/mcp"`);
});

test("the MCP SDK client signs in through the IdP (code + PKCE, consent), lists and calls tools, then refreshes", async () => {
  const provider = new MemoryProvider("http://127.0.0.1:39123/callback");
  const client = new Client({ name: "oauth-test", version: "1.0.0" });
  const transport = new StreamableHTTPClientTransport(new URL(`${base}/mcp`), { authProvider: provider });
  try {
    await client.connect(transport);
    assert.unreachable("the first connect needs a sign-in");
  } catch (err) {
    assert.instance(err, UnauthorizedError);
  }
  assert.ok(provider.code, "the code came back to the redirect URI");
  assert.is(provider.iss, base, "RFC 9207 iss in the authorization response");
  await transport.finishAuth(provider.code!, provider.iss);
  assert.ok(provider.saved?.access_token && provider.saved.refresh_token);

  const c = await sdkConnect(provider);
  const names = (await c.listTools()).tools.map((t) => t.name);
  assert.ok(names.includes("notes__echo"), "alice's IdP group engineering reaches notes");
  assert.not.ok(names.some((n) => n.startsWith("other__")), "and not the server her groups do not allow");
  assert.is(text(await c.callTool({ name: "notes__echo", arguments: { message: "via oauth" } })), "via oauth");

  // The access token is a gateway JWT: iss = gateway, aud = its /mcp, the IdP user's claims, a session id.
  const claims = JSON.parse(atob(provider.saved!.access_token.split(".")[1]!.replace(/-/g, "+").replace(/_/g, "/"))) as Record<string, unknown>;
  assert.is(claims.iss, base);
  assert.is(claims.aud, `${base}/mcp`);
  assert.is(claims.email, "alice@example.com");
  assert.equal(claims.roles, ["engineering"]);
  assert.is(claims.scope, "mcp:read mcp:write");
  assert.match(String(claims.sid), /^ses_/);

  // Break the access token: the SDK gets a 401, refreshes with its refresh token, and carries on.
  const before = provider.saved!;
  provider.saved = { ...before, access_token: before.access_token.slice(0, -4) + "AAAA" };
  const c2 = await sdkConnect(provider);
  assert.is(text(await c2.callTool({ name: "notes__echo", arguments: { message: "refreshed" } })), "refreshed");
  assert.is.not(provider.saved!.refresh_token, before.refresh_token, "the refresh token was rotated");
  assert.ok(events.some((e) => e.type === "oauth" && e.action === "refresh"), "refresh audited");
  assert.ok(events.some((e) => e.type === "oauth" && e.action === "grant" && e.subject === "alice"), "the subject is the IdP's sub");
});

test("the SDK's client-credentials provider: a headless agent with a configured identity", async () => {
  const provider = new ClientCredentialsProvider({ ...AGENT, expectedIssuer: base });
  const c = await sdkConnect(provider);
  const names = (await c.listTools()).tools.map((t) => t.name);
  assert.ok(names.includes("notes__echo"));
  assert.is(text(await c.callTool({ name: "notes__echo", arguments: { message: "agent" } })), "agent");
  const bad = await tokenCall({ grant_type: "client_credentials" }, { authorization: `Basic ${btoa(`${AGENT.clientId}:wrong-secret-0123456789`)}` });
  assert.is(bad.status, 401);
  assert.is(bad.body.error, "invalid_client");
  const broader = await tokenCall({ grant_type: "client_credentials", scope: "mcp:write" }, { authorization: `Basic ${btoa(`${AGENT.clientId}:${AGENT.clientSecret}`)}` });
  assert.is(broader.body.error, "invalid_scope");
});

test("a client ID metadata document (https URL client id; loopback http allowed in tests)", async () => {
  const redirect = "http://127.0.0.1:39124/callback";
  const server = createServer((req, res) => {
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}${req.url}`;
    res.writeHead(200, { "content-type": "application/json" });
    res.end(JSON.stringify({ client_id: url, client_name: "Metadata Client", redirect_uris: [redirect], token_endpoint_auth_method: "none" }));
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  cleanup.push(() => new Promise<void>((r) => server.close(() => r())));
  const clientId = `http://127.0.0.1:${(server.address() as AddressInfo).port}/client.json`;
  const v = verifier();
  const { code } = await codeFor(clientId, redirect, v);
  const t = await tokenCall({ grant_type: "authorization_code", code, redirect_uri: redirect, code_verifier: v, client_id: clientId });
  assert.is(t.status, 200, JSON.stringify(t.body));
  assert.is(await mcpStatus(t.body.access_token!), 200);
});

test("mcp-remote (a real desktop MCP client) signs in through the flow and lists tools", async () => {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), "mcp-remote-"));
  cleanup.push(() => rmSync(dir, { recursive: true, force: true }));
  const transport = new StdioClientTransport({
    command: "node",
    args: [MCP_REMOTE, `${base}/mcp`, String(port), "--host", "127.0.0.1", "--transport", "http-only"],
    // No browser here: BROWSER=true makes the opener succeed silently; the URL is read from its log instead.
    env: { ...(globalThis as { process?: { env: Record<string, string> } }).process!.env, MCP_REMOTE_CONFIG_DIR: dir, BROWSER: "true", DISPLAY: "" },
    stderr: "pipe",
  });
  let log = "";
  let driven: Promise<void> | undefined;
  const drive = async (url: string) => {
    const r = await browser().go(url, (u) => u.port === String(port));
    assert.ok(r.final, `stopped on a page: ${r.status} ${r.html?.slice(0, 200)}`);
    // Hand the code to mcp-remote's own callback server, as the browser would.
    const res = await fetch(r.final!);
    await res.body?.cancel();
  };
  transport.stderr?.on("data", (d: Uint8Array) => {
    log += new TextDecoder().decode(d);
    const m = /Please authorize this client by visiting:\s*(\S+)/.exec(log);
    if (m && !driven) driven = drive(m[1]!);
  });
  const client = new Client({ name: "desktop", version: "1.0.0" });
  cleanup.push(() => client.close());
  await Promise.race([
    client.connect(transport),
    new Promise((_, reject) => setTimeout(() => reject(new Error(`mcp-remote did not connect; its log:\n${log.slice(-2000)}`)), 45_000)),
  ]);
  assert.ok(driven, "mcp-remote asked for a sign-in");
  await driven;
  const names = (await client.listTools()).tools.map((t) => t.name);
  assert.ok(names.includes("notes__echo"), `tools through mcp-remote: ${names.join(", ")}`);
  assert.is(text(await client.callTool({ name: "notes__echo", arguments: { message: "desktop" } })), "desktop");
});

test("a replayed authorization code fails and ends the session it produced", async () => {
  const redirect = "http://127.0.0.1:9/replay";
  const clientId = await publicClient(redirect);
  const v = verifier();
  const { code, final } = await codeFor(clientId, redirect, v);
  assert.is(final.searchParams.get("state"), "st-123", "state passed through");
  assert.is(final.searchParams.get("iss"), base);
  const first = await tokenCall({ grant_type: "authorization_code", code, redirect_uri: redirect, code_verifier: v, client_id: clientId });
  assert.is(first.status, 200);
  assert.is(await mcpStatus(first.body.access_token!), 200);
  const again = await tokenCall({ grant_type: "authorization_code", code, redirect_uri: redirect, code_verifier: v, client_id: clientId });
  assert.is(again.status, 400);
  assert.is(again.body.error, "invalid_grant");
  assert.is(await mcpStatus(first.body.access_token!), 401, "tokens issued from the replayed code are revoked");
  const refresh = await tokenCall({ grant_type: "refresh_token", refresh_token: first.body.refresh_token!, client_id: clientId });
  assert.is(refresh.body.error, "invalid_grant");
  assert.ok(events.some((e) => e.type === "oauth" && e.action === "code_replay"));
});

test("a reused refresh token revokes the whole family, good tokens included", async () => {
  const redirect = "http://127.0.0.1:9/reuse";
  const clientId = await publicClient(redirect);
  const v = verifier();
  const { code } = await codeFor(clientId, redirect, v);
  const t1 = await tokenCall({ grant_type: "authorization_code", code, redirect_uri: redirect, code_verifier: v, client_id: clientId });
  const t2 = await tokenCall({ grant_type: "refresh_token", refresh_token: t1.body.refresh_token!, client_id: clientId });
  assert.is(t2.status, 200);
  assert.is.not(t2.body.refresh_token, t1.body.refresh_token);
  assert.is(await mcpStatus(t2.body.access_token!), 200);
  const reuse = await tokenCall({ grant_type: "refresh_token", refresh_token: t1.body.refresh_token!, client_id: clientId });
  assert.is(reuse.body.error, "invalid_grant");
  const good = await tokenCall({ grant_type: "refresh_token", refresh_token: t2.body.refresh_token!, client_id: clientId });
  assert.is(good.body.error, "invalid_grant", "the newest refresh token dies with its family");
  assert.is(await mcpStatus(t2.body.access_token!), 401, "and so do its access tokens, at once");
  assert.ok(events.some((e) => e.type === "oauth" && e.action === "refresh_reuse"));
});

test("redirect_uri must match exactly; PKCE S256 is required; resource must be the gateway's", async () => {
  const redirect = "http://127.0.0.1:9/strict";
  const clientId = await publicClient(redirect);
  const v = verifier();
  const { code } = await codeFor(clientId, redirect, v);
  const mismatch = await tokenCall({ grant_type: "authorization_code", code, redirect_uri: `${redirect}/other`, code_verifier: v, client_id: clientId });
  assert.is(mismatch.body.error, "invalid_grant");

  const { code: code2 } = await codeFor(clientId, redirect, v);
  const wrongVerifier = await tokenCall({ grant_type: "authorization_code", code: code2, redirect_uri: redirect, code_verifier: verifier(), client_id: clientId });
  assert.is(wrongVerifier.body.error, "invalid_grant");

  // Refused before sign-in: an error page, never a redirect to a URI anyone could have registered.
  const refused = async (params: Record<string, string | undefined>) => {
    const res = await fetch(authorizeUrl({ response_type: "code", client_id: clientId, redirect_uri: redirect, state: "s1", ...params }), { redirect: "manual" });
    assert.is(res.status, 400);
    assert.is(res.headers.get("location"), null, "no redirect to the client");
    assert.match(res.headers.get("content-type") ?? "", "text/html");
    return /<code>([a-z_]+)<\/code>/.exec(await res.text())?.[1];
  };
  const ch = await challenge(v);
  assert.is(await refused({}), "invalid_request", "missing PKCE");
  assert.is(await refused({ code_challenge: v, code_challenge_method: "plain" }), "invalid_request", "plain PKCE");
  assert.is(await refused({ code_challenge: ch }), "invalid_request", "no method means plain");
  assert.is(await refused({ code_challenge: ch, code_challenge_method: "S256", resource: "https://evil.example/mcp" }), "invalid_target");
  assert.is(await refused({ code_challenge: ch, code_challenge_method: "S256", resource: `${base}/other` }), "invalid_target");
});

test("an unregistered redirect_uri or unknown client gets an error page, never a redirect", async () => {
  const clientId = await publicClient("http://127.0.0.1:9/legit");
  const ch = await challenge(verifier());
  for (const params of [
    { client_id: clientId, redirect_uri: "https://evil.example/steal" },
    { client_id: clientId, redirect_uri: "http://127.0.0.1:9/legit/../evil" },
    { client_id: clientId, redirect_uri: "http://127.0.0.1:9/legit?x=1" },
    { client_id: "cli_doesnotexist000", redirect_uri: "https://evil.example/steal" },
  ]) {
    const res = await fetch(authorizeUrl({ response_type: "code", code_challenge: ch, code_challenge_method: "S256", ...params }), { redirect: "manual" });
    assert.is(res.status, 400, JSON.stringify(params));
    assert.is(res.headers.get("location"), null);
    assert.match(res.headers.get("content-type") ?? "", "text/html");
    assert.not.match(await res.text(), "evil.example/steal\"");
  }
});

test("dynamic registration validates redirect URIs and never lets anyone mint machine clients", async () => {
  for (const uri of ["http://evil.example/cb", "https://app.example/cb#frag", "javascript:alert(1)", "not a uri"]) {
    const res = await register({ redirect_uris: [uri] });
    assert.is(res.status, 400, uri);
    assert.is(((await res.json()) as { error: string }).error, "invalid_redirect_uri");
  }
  for (const uri of ["https://app.example/cb", "http://localhost:3000/cb", "http://[::1]:8/cb", "cursor://anysphere.cursor-retrieval/oauth/callback"]) {
    assert.is((await register({ redirect_uris: [uri] })).status, 201, uri);
  }
  const machine = await register({ grant_types: ["client_credentials"], client_name: "bot" });
  assert.is(machine.status, 400, "client_credentials needs an admin credential");
  const { secret } = await gw.gateway.tokens.create({ user: "root", scopes: ["admin"] }, "test");
  const made = await register({ grant_types: ["client_credentials"], client_name: "bot", scope: "mcp:read" }, secret);
  assert.is(made.status, 201);
  const info = (await made.json()) as { client_id: string; client_secret: string };
  const t = await tokenCall({ grant_type: "client_credentials", client_id: info.client_id, client_secret: info.client_secret });
  assert.is(t.status, 200, JSON.stringify(t.body));
  assert.is(t.body.scope, "mcp:read");
});

test("the consent page escapes client-chosen text; denying sends access_denied back", async () => {
  const redirect = "http://127.0.0.1:9/consent";
  const clientId = await publicClient(redirect, `<script>alert("x")</script>`);
  const url = authorizeUrl({ response_type: "code", client_id: clientId, redirect_uri: redirect, code_challenge: await challenge(verifier()), code_challenge_method: "S256", state: "d1" });
  const page = await browser("alice", "stop").go(url, (u) => u.href.startsWith(redirect));
  assert.is(page.status, 200);
  assert.not.match(page.html!, "<script>", "no client markup on the page");
  assert.match(page.html!, "&#60;script&#62;");
  assert.match(page.html!, "alice@example.com");
  assert.match(page.html!, "<code>notes</code>");
  assert.not.match(page.html!, "<code>other</code>", "only the servers alice's IdP group reaches are named");
  const r = await browser("alice", "deny").go(url, (u) => u.href.startsWith(redirect));
  assert.is(r.final?.searchParams.get("error"), "access_denied");
  assert.is(r.final?.searchParams.get("state"), "d1");
  assert.ok(events.some((e) => e.type === "oauth" && e.action === "deny" && e.reason === "the user declined consent"));
});

test("sessions: users list and end their own, admins all; an ended session's access token fails at once", async () => {
  const redirect = "http://127.0.0.1:9/sessions";
  const clientId = await publicClient(redirect);
  const v = verifier();
  const { code } = await codeFor(clientId, redirect, v);
  const t = await tokenCall({ grant_type: "authorization_code", code, redirect_uri: redirect, code_verifier: v, client_id: clientId });
  const at = t.body.access_token!;
  assert.is(await mcpStatus(at), 200);
  const mine = (await (await fetch(`${base}/v1/auth/sessions`, { headers: { authorization: `Bearer ${at}` } })).json()) as { sessions: Array<Record<string, unknown>> };
  assert.ok(mine.sessions.length >= 1);
  assert.ok(mine.sessions.every((s) => s.user === "alice" && s.email === "alice@example.com"));
  const sid = JSON.parse(atob(at.split(".")[1]!.replace(/-/g, "+").replace(/_/g, "/"))).sid as string;
  assert.ok(mine.sessions.some((s) => s.id === sid));
  assert.not.match(JSON.stringify(mine), /prt_|pac_|eyJ/, "no secret in the list");

  const { secret: admin } = await gw.gateway.tokens.create({ user: "root", scopes: ["admin"] }, "test");
  const all = (await (await fetch(`${base}/v1/auth/sessions?user=build-agent`, { headers: { authorization: `Bearer ${admin}` } })).json()) as { sessions: Array<Record<string, unknown>> };
  assert.ok(all.sessions.length >= 1 && all.sessions.every((s) => s.user === "build-agent"));
  const viaStatic = (await (await fetch(`${base}/v1/auth/sessions?state=all`, { headers: { authorization: `Bearer ${STATIC_ADMIN}` } })).json()) as { sessions: Array<Record<string, unknown>> };
  assert.ok(viaStatic.sessions.some((s) => s.id === sid), "the static admin token sees every session");
  const { secret: plain } = await gw.gateway.tokens.create({ user: "mallory", scopes: ["mcp:read"] }, "test");
  const denied = await fetch(`${base}/v1/auth/sessions/${sid}`, { method: "DELETE", headers: { authorization: `Bearer ${plain}` } });
  assert.is(denied.status, 404, "someone else's session does not exist for you");
  // A gateway token made out to a user of the same name is not the identity provider's user.
  const { secret: namesake } = await gw.gateway.tokens.create({ user: "alice", scopes: ["mcp:read"] }, "test");
  const theirs = (await (await fetch(`${base}/v1/auth/sessions?state=all`, { headers: { authorization: `Bearer ${namesake}` } })).json()) as { sessions: Array<Record<string, unknown>> };
  assert.is(theirs.sessions.length, 0, "gateway#alice sees none of the IdP user alice's sessions");
  assert.is((await fetch(`${base}/v1/auth/sessions/${sid}`, { method: "DELETE", headers: { authorization: `Bearer ${namesake}` } })).status, 404);
  assert.is(await mcpStatus(at), 200);
  const open = async () => ((await (await fetch(`${base}/healthz`)).json()) as { sessions: number }).sessions;
  const before = await open();

  const ended = await fetch(`${base}/v1/auth/sessions/${sid}`, { method: "DELETE", headers: { authorization: `Bearer ${at}` } });
  assert.is(ended.status, 200);
  assert.ok(await open() < before, "the MCP sessions opened with the grant ended with it");
  assert.is(((await ended.json()) as { state: string }).state, "ended");
  assert.is(await mcpStatus(at), 401, "refused at once");
  const refresh = await tokenCall({ grant_type: "refresh_token", refresh_token: t.body.refresh_token!, client_id: clientId });
  assert.is(refresh.body.error, "invalid_grant");
  assert.ok(events.some((e) => e.type === "oauth" && e.action === "session_end" && e.sessionId === sid));
});

test("tokens of another issuer are not this strategy's; revocation (RFC 7009) ends the session", async () => {
  const res = await fetch(`${base}/mcp`, { method: "POST", headers: { authorization: "Bearer eyJhbGciOiJub25lIn0.eyJpc3MiOiJ4In0.", "content-type": "application/json" }, body: "{}" });
  assert.is(res.status, 401);
  await res.body?.cancel();
  const redirect = "http://127.0.0.1:9/revoke";
  const clientId = await publicClient(redirect);
  const v = verifier();
  const { code } = await codeFor(clientId, redirect, v);
  const t = await tokenCall({ grant_type: "authorization_code", code, redirect_uri: redirect, code_verifier: v, client_id: clientId });
  const rv = await fetch(`${base}/oauth/revoke`, { method: "POST", headers: { "content-type": "application/x-www-form-urlencoded" }, body: new URLSearchParams({ token: t.body.refresh_token!, client_id: clientId }) });
  assert.is(rv.status, 200);
  assert.is(await mcpStatus(t.body.access_token!), 401);
  const audit = JSON.stringify(events);
  assert.not.match(audit, t.body.refresh_token!);
  assert.not.match(audit, code);
  assert.not.match(audit, /eyJ[A-Za-z0-9_-]{20,}\./, "no JWT in the audit trail");
});

test("options: the seed's JSON shape is accepted; bad options fail at config time naming the path", () => {
  const seed = { type: "oauth", provider: "okta", clientId: "0oa1", clientSecret: "s3cret", issuer: "https://acme.okta.com/oauth2/default", scopes: ["openid", "email", "groups"], tokenExpiration: "7d" };
  const strategy = oauthServer({ upstream: { issuer: seed.issuer, clientId: seed.clientId, clientSecret: seed.clientSecret, scopes: seed.scopes, provider: seed.provider }, tokenExpiration: seed.tokenExpiration });
  assert.is(strategy.name, "auth:oauth");
  const bad = (o: unknown, path: string) => {
    try {
      oauthServer(o as Parameters<typeof oauthServer>[0]);
      assert.unreachable(`expected a config error at ${path}`);
    } catch (err) {
      assert.is((err as { code?: string }).code, "ERR_CONFIG");
      assert.match((err as Error).message, path);
    }
  };
  const upstream = { issuer: "https://id.example.com", clientId: "gw", clientSecret: "s" };
  bad({}, "auth.oauth.upstream");
  bad({ upstream: { ...upstream, issuer: "http://id.example.com" } }, "auth.oauth.upstream.issuer");
  bad({ upstream: { ...upstream, provider: "myspace" } }, "auth.oauth.upstream.provider");
  bad({ upstream, tokenExpiration: "forever" }, "auth.oauth.tokenExpiration");
  bad({ upstream, accessTokenTtl: 5 }, "auth.oauth.accessTokenTtl");
  bad({ upstream, clients: [{ clientId: "a", clientSecret: "short", identity: { subject: "x" } }] }, "auth.oauth.clients[0].clientSecret");
  bad({ upstream, consent: false }, "auth.oauth.consent");
  bad({ upstream, skipConsentFor: "cli_x" }, "auth.oauth.skipConsentFor");
  bad({ upstream, registration: { perMinute: 0 } }, "auth.oauth.registration.perMinute");
  try {
    oauthServer({ upstream, consent: false } as unknown as Parameters<typeof oauthServer>[0]);
  } catch (err) {
    assert.match((err as Error).message, "skipConsentFor", "the error says what to use instead");
  }
  assert.is(oauthServer({ upstream, consent: true }).name, "auth:oauth", "consent: true is still accepted");
});

test("the sessions API needs a credential", async () => {
  const res = await fetch(`${base}/v1/auth/sessions`);
  assert.is(res.status, 401);
  assert.is(((await res.json()) as { error: { code: string } }).error.code, "ERR_AUTH_REQUIRED");
});

function claimsOf(jwt: string): Record<string, unknown> {
  return JSON.parse(atob(jwt.split(".")[1]!.replace(/-/g, "+").replace(/_/g, "/"))) as Record<string, unknown>;
}

test("the subject is the IdP's sub; an unverified email is never used, not even as the subject", async () => {
  const redirect = "http://127.0.0.1:9/unverified";
  const clientId = await publicClient(redirect);
  const v = verifier();
  const url = authorizeUrl({ response_type: "code", client_id: clientId, redirect_uri: redirect, code_challenge: await challenge(v), code_challenge_method: "S256", state: "u1" });
  const page = await browser("mallory", "stop").go(url, (u) => u.href.startsWith(redirect));
  assert.is(page.status, 200);
  assert.not.match(page.html!, "alice@example.com", "the consent page does not call mallory alice");
  const r = await browser("mallory").go(url, (u) => u.href.startsWith(redirect));
  const t = await tokenCall({ grant_type: "authorization_code", code: r.final!.searchParams.get("code")!, redirect_uri: redirect, code_verifier: v, client_id: clientId });
  assert.is(t.status, 200, JSON.stringify(t.body));
  const claims = claimsOf(t.body.access_token!);
  assert.is(claims.sub, "mallory", "not alice's subject");
  assert.is(claims.email, undefined, "no email forwarded (X-User-Email comes from it)");
  const mine = (await (await fetch(`${base}/v1/auth/sessions`, { headers: { authorization: `Bearer ${t.body.access_token}` } })).json()) as { sessions: Array<Record<string, unknown>> };
  assert.ok(mine.sessions.length >= 1 && mine.sessions.every((s) => s.user === "mallory" && s.email === undefined), "mallory sees only her own sessions");
});

test("consent is remembered per user, client, redirect URI and scopes, and forgotten when the session is ended", async () => {
  const redirect = "http://127.0.0.1:9/remember";
  const clientId = await publicClient(redirect);
  const v = verifier();
  const params = { response_type: "code", client_id: clientId, redirect_uri: redirect, code_challenge: await challenge(v), code_challenge_method: "S256", state: "r1" };
  const stops = async (account: string, extra: Record<string, string> = {}) => await browser(account, "stop").go(authorizeUrl({ ...params, ...extra }), (u) => u.href.startsWith(redirect));
  assert.is((await stops("alice")).status, 200, "first time: the consent page");
  const { code } = await codeFor(clientId, redirect, v);
  const t = await tokenCall({ grant_type: "authorization_code", code, redirect_uri: redirect, code_verifier: v, client_id: clientId });
  assert.is(t.status, 200);
  const again = await stops("alice");
  assert.ok(again.final?.searchParams.get("code"), "the same request again: no page");
  assert.ok(events.some((e) => e.type === "oauth" && e.action === "grant" && e.clientId === clientId && e.reason === "approved before"));
  assert.is((await stops("alice", { scope: "mcp:read admin" })).status, 200, "other scopes: asked again");
  assert.is((await stops("bob")).status, 200, "another user: asked");
  const sid = claimsOf(t.body.access_token!).sid as string;
  const ended = await fetch(`${base}/v1/auth/sessions/${sid}`, { method: "DELETE", headers: { authorization: `Bearer ${t.body.access_token}` } });
  assert.is(ended.status, 200);
  assert.is((await stops("alice")).status, 200, "after ending the session: asked again");
});

test("a trusted client (skipConsentFor) gets no consent page, and errors before sign-in go back to it", async () => {
  const v = verifier();
  const url = authorizeUrl({ response_type: "code", client_id: trustedClient, redirect_uri: TRUSTED_REDIRECT, code_challenge: await challenge(v), code_challenge_method: "S256", state: "t1" });
  const r = await browser("alice", "stop").go(url, (u) => u.href.startsWith(TRUSTED_REDIRECT));
  assert.ok(r.final?.searchParams.get("code"), `no consent page: ${r.status}`);
  const t = await tokenCall({ grant_type: "authorization_code", code: r.final!.searchParams.get("code")!, redirect_uri: TRUSTED_REDIRECT, code_verifier: v, client_id: trustedClient });
  assert.is(t.status, 200, JSON.stringify(t.body));
  const res = await fetch(authorizeUrl({ response_type: "code", client_id: trustedClient, redirect_uri: TRUSTED_REDIRECT, state: "t2" }), { redirect: "manual" });
  assert.is(res.status, 302);
  const to = new URL(res.headers.get("location")!);
  assert.is(to.origin + to.pathname, TRUSTED_REDIRECT);
  assert.is(to.searchParams.get("error"), "invalid_request");
  assert.is(to.searchParams.get("state"), "t2");
});

test("two concurrent redemptions of one code: at most one gets tokens, and the session ends", async () => {
  const redirect = "http://127.0.0.1:9/race";
  const clientId = await publicClient(redirect);
  const v = verifier();
  const { code } = await codeFor(clientId, redirect, v);
  const call = () => tokenCall({ grant_type: "authorization_code", code, redirect_uri: redirect, code_verifier: v, client_id: clientId });
  const results = await Promise.all([call(), call()]);
  const ok = results.filter((r) => r.status === 200);
  assert.ok(ok.length <= 1, "at most one redemption succeeds");
  assert.ok(results.some((r) => r.body.error === "invalid_grant"));
  for (const r of ok) {
    assert.is(await mcpStatus(r.body.access_token!), 401, "the winner's tokens die with the session");
    assert.is((await tokenCall({ grant_type: "refresh_token", refresh_token: r.body.refresh_token!, client_id: clientId })).body.error, "invalid_grant");
  }
  const all = (await (await fetch(`${base}/v1/auth/sessions?state=all`, { headers: { authorization: `Bearer ${STATIC_ADMIN}` } })).json()) as { sessions: Array<Record<string, unknown>> };
  // The session the code reserved is ended, or (when the end came first) was never created at all.
  const mine = all.sessions.filter((s) => s.clientId === clientId);
  assert.ok(mine.length <= 1 && mine.every((s) => s.state === "ended" && s.endReason === "code_replay"), JSON.stringify(mine));
  if (ok.length === 1) assert.is(mine.length, 1, "tokens were issued for a session that is now ended");
  assert.ok(events.some((e) => e.type === "oauth" && e.action === "code_replay" && e.clientId === clientId));
});

test("a refresh racing an end (on another gateway sharing the store) never brings the session back", async () => {
  const store = memoryStore();
  let hook: (() => Promise<unknown>) | undefined;
  // Runs `hook` right after a session read returns: the end lands between the refresh's read and its write.
  const hooked: TokenStore = {
    ...store,
    async getItem(kind: string, key: string) {
      const value = await store.getItem(kind, key);
      const h = kind === "oauth:session" ? hook : undefined;
      hook = undefined;
      if (h) await h();
      return value;
    },
  };
  const grants = createGrants(hooked);
  const other = createGrants(store);
  const s = (await grants.createSession({ subject: "alice", roles: [], clientId: "cli_race", clientName: "race", grantType: "authorization_code", scopes: ["mcp:read"], expiresAt: new Date(Date.now() + 3_600_000).toISOString() }))!;
  const redeemed = await grants.redeemRefresh(await grants.issueRefresh(s));
  assert.ok(redeemed.ok, "the refresh token was good");
  hook = () => other.endSession(s.id, "ended", "admin");
  assert.is(await grants.touch(s.id), undefined, "the refresh is refused: nothing is issued");
  assert.ok((await store.getItem("oauth:session", s.id) as { endedAt?: string }).endedAt, "the end stands in the store");
  assert.is(await createGrants(store).isActive(s.id), false, "a third gateway, with nothing in memory, agrees");
  assert.is(await grants.isActive(s.id), false);
});

test("OAuth errors keep the RFC 6749 shape (never cached; CORS on token and revocation); browser endpoints answer a page", async () => {
  const post = (path: string, body: string, headers: Record<string, string> = {}) =>
    gw.gateway.fetch(new Request(`http://gw.test${path}`, { method: "POST", headers: { "content-type": "application/x-www-form-urlencoded", ...headers }, body }));
  const agent = { authorization: `Basic ${btoa(`${AGENT.clientId}:${AGENT.clientSecret}`)}` };
  const cases: Array<[string, Promise<Response>, number, string, boolean]> = [
    ["unknown grant type", post("/oauth/token", "grant_type=password", agent), 400, "unsupported_grant_type", true],
    ["no client", post("/oauth/token", "grant_type=client_credentials"), 401, "invalid_client", true],
    ["not a form", post("/oauth/token", "{}", { "content-type": "application/json" }), 400, "invalid_request", true],
    ["an oversized form", post("/oauth/token", `grant_type=client_credentials&pad=${"x".repeat(70_000)}`, agent), 413, "invalid_request", true],
    ["revocation without a token", post("/oauth/revoke", "", agent), 400, "invalid_request", true],
    ["registration that is not JSON", post("/oauth/register", "redirect_uris=x"), 400, "invalid_request", false],
  ];
  for (const [what, answer, status, error, cors] of cases) {
    const res = await answer;
    assert.is(res.status, status, what);
    assert.is(((await res.json()) as { error: string }).error, error, what);
    assert.match(res.headers.get("content-type") ?? "", "application/json", what);
    assert.is(res.headers.get("cache-control"), "no-store", what);
    assert.is(res.headers.get("pragma"), "no-cache", what);
    assert.is(res.headers.get("access-control-allow-origin"), cors ? "*" : null, what);
  }
  const page = await post("/oauth/consent", "consent=x", { "content-type": "text/plain" });
  assert.is(page.status, 400);
  assert.is(page.headers.get("location"), null);
  assert.match(page.headers.get("content-type") ?? "", "text/html");
  assert.match(await page.text(), "invalid_request");
});

test("client metadata documents on private addresses are refused without a connection; registration is rate-limited and capped", async () => {
  let connections = 0;
  const trap = createTcpServer((socket) => {
    connections++;
    socket.destroy();
  });
  await new Promise<void>((r) => trap.listen(0, "127.0.0.1", r));
  const port = (trap.address() as AddressInfo).port;
  const strict = await startGateway({
    auth: [oauthServer({ upstream: { issuer: idp.issuer, clientId: IDP_CLIENT.client_id, clientSecret: IDP_CLIENT.client_secret }, registration: { maxClients: 23 } })],
    servers: { notes: stdio({ script: NOTES, stderr: "ignore" }) },
    tokens: { store: memoryStore() },
    admin: { token: STATIC_ADMIN, bootstrap: false },
  });
  try {
    const ch = await challenge(verifier());
    for (const clientId of [`https://127.0.0.1:${port}/client.json`, `https://[::ffff:127.0.0.1]:${port}/client.json`, `https://localhost:${port}/client.json`, "https://10.0.0.1/client.json", "https://169.254.169.254/latest/client.json"]) {
      const url = new URL("http://gw.test/oauth/authorize");
      for (const [k, val] of Object.entries({ response_type: "code", client_id: clientId, redirect_uri: "https://app.example/cb", code_challenge: ch, code_challenge_method: "S256" })) url.searchParams.set(k, val);
      const started = Date.now();
      const res = await strict.gateway.fetch(new Request(url));
      assert.is(res.status, 400, clientId);
      assert.is(res.headers.get("location"), null);
      assert.match(await res.text(), "invalid_client");
      assert.ok(Date.now() - started < 2000, `${clientId} refused before any fetch`);
    }
    assert.is(connections, 0, "the gateway never connected to a private address");

    const register = (address: string, auth?: string) => strict.gateway.fetch(new Request("http://gw.test/oauth/register", {
      method: "POST",
      headers: { "content-type": "application/json", ...(auth ? { authorization: `Bearer ${auth}` } : {}) },
      body: JSON.stringify({ redirect_uris: ["https://app.example/cb"] }),
    }), { remoteAddress: address });
    for (let i = 0; i < 20; i++) assert.is((await register("192.0.2.1")).status, 201, `registration ${i + 1}`);
    const limited = await register("192.0.2.1");
    assert.is(limited.status, 429);
    assert.is(((await limited.json()) as { error: string }).error, "too_many_requests");
    assert.is((await register("192.0.2.2")).status, 201, "another address has its own allowance");
    assert.is((await register("192.0.2.1", STATIC_ADMIN)).status, 201, "an admin is not rate-limited");
    assert.is((await register("192.0.2.3")).status, 201, "the 23rd client");
    const full = await register("192.0.2.4");
    assert.is(full.status, 503, "the total cap");
    assert.is(((await full.json()) as { error: string }).error, "temporarily_unavailable");
  } finally {
    await strict.gateway.close();
    await strict.close();
    await new Promise<void>((r) => trap.close(() => r()));
  }
});

test.run();
