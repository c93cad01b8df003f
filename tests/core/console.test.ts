// The console (/console) in a real Chromium driven by playwright-core, against a real gateway over HTTP
// on this runtime, a real OpenID provider (oidc-provider), a real stdio MCP server and a real MCP SDK
// client: a user signs in through the IdP, creates a token and copies it, the client calls a tool with
// it, an admin (signed in with the pasted admin token) revokes it in the page and the client's next call
// gets 401. Around it: the cookie is HttpOnly and SameSite=Strict, a cross-site form post is refused,
// the CSP holds with no violation, a non-admin sees no admin view and the API refuses them too, sessions
// are listed and ended, sign-out ends the session. Plus fast checks through gateway.fetch.
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { mkdir } from "node:fs/promises";
import { Client } from "@modelcontextprotocol/client";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/client";
import { createGateway, type AuditEvent } from "../../core/mod.ts";
import { bearer, memoryStore, oauthServer } from "../../plugins/mod.ts";
import { NOTES, quietLogger, runtime, startGateway, stdio } from "../fixtures/helpers.ts";
import { type Idp, startIdp } from "../fixtures/idp.ts";
import { launchBrowser, type TestBrowser } from "../fixtures/browser.ts";
import type { Page } from "playwright-core";

const test = suite("console");
const ADMIN = "console-admin-token-0123456789abcdef0123456789";
const IDP_CLIENT = { client_id: "portcullis-console-test", client_secret: "console-secret-0123456789abcdef0123", redirect_uris: [] as string[], grant_types: ["authorization_code", "refresh_token"], response_types: ["code"] };
const env = (globalThis as { process?: { env: Record<string, string | undefined> } }).process?.env ?? {};
const SHOTS = new URL("../../core/console/screenshots/", import.meta.url).pathname;

let idp: Idp;
let gw: Awaited<ReturnType<typeof startGateway>>;
let base: string;
let browser: TestBrowser;
let attacker: Server;
let attackerUrl: string;
const events: AuditEvent[] = [];

test.before(async () => {
  idp = await startIdp({
    clients: [IDP_CLIENT],
    accounts: { alice: { email: "alice@example.com", email_verified: true, name: "Alice Example", groups: ["engineering"] } },
    features: { devInteractions: { enabled: true } },
    configuration: { conformIdTokenClaims: false, scopes: ["openid", "email", "profile", "groups", "offline_access"] },
  });
  gw = await startGateway({
    auth: [oauthServer({
      upstream: { issuer: idp.issuer, clientId: IDP_CLIENT.client_id, clientSecret: IDP_CLIENT.client_secret, scopes: ["openid", "email", "profile", "groups"] },
      registration: { perMinute: 1000 },
    }), bearer()],
    servers: { notes: stdio({ script: NOTES, stderr: "ignore" }) },
    roles: { engineering: { servers: ["notes"] } },
    tokens: { store: memoryStore() },
    admin: { token: ADMIN, bootstrap: false },
    audit: [{ name: "test", write: (e) => void events.push(e) }],
  });
  base = gw.url;
  IDP_CLIENT.redirect_uris.push(`${base}/oauth/callback`);
  await idp.setKeys(idp.keys);
  // Another site (localhost is not 127.0.0.1 to a browser) with a form that posts to the gateway's API.
  attacker = createServer((_req, res) => {
    res.writeHead(200, { "content-type": "text/html" });
    res.end(`<!doctype html><form id="f" method="post" enctype="text/plain" action="${base}/v1/auth/tokens"><input name='{"user":"alice","description":"csrf","x":"' value='"}'></form><button id="go" form="f">go</button>`);
  });
  await new Promise<void>((r) => attacker.listen(0, "127.0.0.1", r));
  attackerUrl = `http://localhost:${(attacker.address() as AddressInfo).port}/`;
  browser = await launchBrowser();
  await browser.context.grantPermissions(["clipboard-read", "clipboard-write"], { origin: base });
  await mkdir(SHOTS, { recursive: true });
});

test.after(async () => {
  await browser?.close();
  await new Promise<void>((r) => (attacker ? attacker.close(() => r()) : r()));
  await gw?.gateway.close();
  await gw?.close();
  await idp?.close();
});

async function shot(page: Page, name: string): Promise<void> {
  // The README's screenshots are taken on request (CONSOLE_SCREENSHOTS=1, on Node), so a test run never
  // changes files under version control; otherwise the page is still rendered, into memory.
  const write = runtime === "node" && env.CONSOLE_SCREENSHOTS === "1";
  const png = await page.screenshot(write ? { path: `${SHOTS}${name}.png`, fullPage: false } : { fullPage: false });
  assert.ok(png.byteLength > 1000, `${name}: a rendered page`);
}

function cspViolations(messages: Array<{ url: string; text: string }>): string[] {
  return messages.filter((m) => m.url.includes("/console") && /Content Security Policy|Refused to/i.test(m.text)).map((m) => m.text);
}

async function mcpClient(token: string): Promise<Client> {
  const client = new Client({ name: "console-test", version: "1.0.0" }, { versionNegotiation: { mode: "legacy" } });
  await client.connect(new StreamableHTTPClientTransport(new URL(`${base}/mcp`), { requestInit: { headers: { authorization: `Bearer ${token}` } } }));
  return client;
}

async function cookieHeader(): Promise<string> {
  const cookies = await browser.context.cookies(base);
  return cookies.map((c) => `${c.name}=${c.value}`).join("; ");
}

test("a user signs in at the IdP, makes a token, copies it, and an MCP client uses it until an admin revokes it in the page", async () => {
  const { page, messages } = await browser.page();
  const first = await page.goto(`${base}/console`);
  const headers = first!.headers();
  assert.match(headers["content-security-policy"]!, /script-src 'self'/);
  assert.match(headers["content-security-policy"]!, /frame-ancestors 'none'/);
  assert.not.match(headers["content-security-policy"]!, /unsafe-inline/);
  assert.is(headers["x-frame-options"], "DENY");
  await shot(page, "sign-in");

  // The IdP sign-in: the gateway's OAuth server (code + PKCE) in front of the IdP's own login and consent.
  await page.click("#idp-sign-in");
  await page.waitForSelector('input[name="login"]');
  await page.fill('input[name="login"]', "alice");
  await page.fill('input[name="password"]', "anything");
  await page.click('button[type="submit"]');
  for (let i = 0; i < 4 && !page.url().startsWith(`${base}/console`); i++) {
    // oidc-provider's consent ("Continue"), then the gateway's own consent ("Allow").
    const allow = page.locator('button[value="approve"], button[type="submit"]').first();
    await allow.waitFor({ timeout: 5000 }).catch(() => undefined);
    if (page.url().startsWith(`${base}/console`)) break;
    await Promise.all([page.waitForNavigation({ timeout: 10_000 }).catch(() => undefined), allow.click()]);
  }
  await page.waitForSelector("#create-token");
  assert.match(await page.textContent("#who") ?? "", /Alice Example/);
  // A non-admin sees no admin view.
  assert.is(await page.locator('#nav button[data-view="all-tokens"]').count(), 0);
  assert.is(await page.locator('#nav button[data-view="audit"]').count(), 0);

  // The session cookie: HttpOnly (invisible to script), SameSite=Strict, an opaque value.
  assert.is(await page.evaluate(() => document.cookie), "");
  const session = (await browser.context.cookies(base)).find((c) => c.name === "portcullis-console")!;
  assert.ok(session.httpOnly);
  assert.is(session.sameSite, "Strict");
  assert.not.ok(session.value.includes("alice"));

  await page.fill("#t-desc", "laptop");
  await page.selectOption("#t-servers", ["notes"]);
  await page.click('#create-token button[type="submit"]');
  await page.waitForSelector("#secret-value, #status.error");
  assert.is(await page.locator("#status.error").count(), 0, await page.textContent("#status") ?? "");
  await page.click("#copy-secret");
  const secret = await page.evaluate(() => navigator.clipboard.readText());
  assert.match(secret, /^pt_/);
  assert.match(await page.textContent("#secret-snippet") ?? "", /"mcpServers"/);
  await shot(page, "my-tokens");
  // Every form control has a label a screen reader announces.
  const unlabelled = await page.evaluate(() => [...document.querySelectorAll("input, select, textarea")].filter((el) => {
    const c = el as HTMLInputElement;
    return c.type !== "hidden" && c.labels?.length === 0 && !c.getAttribute("aria-label");
  }).map((el) => el.id || el.outerHTML.slice(0, 60)));
  assert.equal(unlabelled, []);
  // The page works from the keyboard: Tab reaches the navigation and Enter opens a view.
  await page.focus('#nav button[data-view="credentials"]');
  await page.keyboard.press("Enter");
  await page.waitForSelector("#set-credential");
  assert.is(await page.evaluate(() => document.activeElement?.tagName), "H1");
  await page.click('#nav button[data-view="tokens"]');
  await page.waitForSelector("tr[data-token]");

  const client = await mcpClient(secret);
  const answer = await client.callTool({ name: "notes__echo", arguments: { message: "hello" } });
  assert.not.ok(answer.isError);
  assert.match(JSON.stringify(answer.content), /hello/);
  const id = (await page.locator("tr[data-token]").first().getAttribute("data-token"))!;
  assert.match(id, /^tok_/);

  // The API refuses what the page does not show: admin views and other users' tokens.
  const cookie = await cookieHeader();
  for (const path of ["/v1/audit", "/v1/credentials", "/v1/auth/tokens?user=someone-else", "/v1/auth/review"]) {
    const res = await fetch(base + path, { headers: { cookie } });
    assert.is(res.status, 403, path);
    await res.body?.cancel();
  }
  const all = await fetch(`${base}/v1/auth/tokens`, { headers: { cookie } });
  assert.is(all.status, 403);
  await all.body?.cancel();
  const mine = await (await fetch(`${base}/v1/auth/tokens?mine=1`, { headers: { cookie } })).json() as { tokens: Array<{ id: string }> };
  assert.equal(mine.tokens.map((t) => t.id), [id]);

  // A cross-site form post (text/plain JSON, the classic trick) carries no session and changes nothing.
  const other = await browser.page();
  await other.page.goto(attackerUrl);
  const [posted] = await Promise.all([other.page.waitForResponse((r) => r.url().startsWith(`${base}/v1/auth/tokens`)), other.page.click("#go")]);
  assert.ok(posted.status() === 401 || posted.status() === 403 || posted.status() === 415, `status ${posted.status()}`);
  await other.page.close();
  const after = await (await fetch(`${base}/v1/auth/tokens?user=alice`, { headers: { authorization: `Bearer ${ADMIN}` } })).json() as { tokens: Array<{ description?: string }> };
  assert.not.ok(after.tokens.some((t) => t.description === "csrf"));
  // With the session cookie but without the CSRF token, the API refuses to change anything.
  const noCsrf = await fetch(`${base}/v1/auth/tokens`, { method: "POST", headers: { cookie, "content-type": "application/json" }, body: JSON.stringify({ user: "alice" }) });
  assert.is(noCsrf.status, 403);

  // My sessions: the IdP sign-in is one OAuth session (the console's client) and one console session.
  await page.click('#nav button[data-view="sessions"]');
  await page.waitForSelector('table[data-sessions="console"]');
  assert.match(await page.textContent('table[data-sessions="oauth"]') ?? "", /Portcullis console/);
  await shot(page, "my-sessions");
  assert.equal(cspViolations(messages), []);

  // The admin signs in with the pasted admin token and revokes alice's token in the page.
  // A browser of its own: the admin's session is not alice's.
  const admin = await launchBrowser();
  try {
    const a = await admin.page();
    await a.page.goto(`${base}/console`);
    await a.page.fill("#token", ADMIN);
    await a.page.click('#token-sign-in button[type="submit"]');
    await a.page.waitForSelector('#nav button[data-view="all-tokens"]');
    await a.page.click('#nav button[data-view="all-tokens"]');
    await a.page.fill("#f-user", "alice");
    await a.page.click('#token-filters button[type="submit"]');
    await a.page.waitForSelector(`tr[data-token="${id}"]`);
    await shot(a.page, "all-tokens");
    await a.page.click(`button[aria-label="Revoke ${id}"]`);
    await a.page.waitForSelector(`tr[data-token="${id}"]`, { state: "detached" });
    await a.page.click('#nav button[data-view="audit"]');
    await a.page.waitForSelector("#audit-table");
    assert.match(await a.page.textContent("#audit-table") ?? "", /revoke/);
    await shot(a.page, "audit");
    await a.page.click('#nav button[data-view="usage"]');
    await a.page.fill("#u-user", "alice");
    await a.page.click('#usage-form button[type="submit"]');
    await a.page.waitForSelector(".chart svg");
    await shot(a.page, "usage");
    await a.page.click('#nav button[data-view="review"]');
    await a.page.waitForSelector("text=Access review");
    await shot(a.page, "review");
    await a.page.click('#nav button[data-view="all-sessions"]');
    await a.page.waitForSelector('table[data-sessions="console"]');
    assert.match(await a.page.textContent('table[data-sessions="console"]') ?? "", /alice/);
    assert.equal(cspViolations(a.messages), []);
  } finally {
    await admin.close();
  }
  let refused: unknown;
  try {
    await client.callTool({ name: "notes__echo", arguments: { message: "again" } });
  } catch (err) {
    refused = err;
  }
  assert.ok(refused, "the revoked token's next call fails");
  const raw = await fetch(`${base}/mcp`, { method: "POST", headers: { authorization: `Bearer ${secret}`, "content-type": "application/json", accept: "application/json, text/event-stream" }, body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "tools/list" }) });
  assert.is(raw.status, 401);
  await client.close().catch(() => undefined);

  // Sign-out ends the session: the old cookie no longer opens the API.
  await page.click("#sign-out");
  await page.waitForSelector("#token-sign-in");
  const gone = await fetch(`${base}/v1/auth/whoami`, { headers: { cookie } });
  assert.is(gone.status, 401);
  assert.ok(events.some((e) => e.type === "console" && e.action === "sign_out"));
  await page.close();
});

// ---------- fast checks through gateway.fetch ----------

const G = "http://gateway.test";

async function signedIn(gw: ReturnType<typeof createGateway>, token: string): Promise<{ cookie: string; csrf: string }> {
  const res = await gw.fetch(new Request(`${G}/console/sign-in`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ token }) }));
  assert.is(res.status, 200);
  const cookie = res.headers.get("set-cookie")!.split(";")[0]!;
  const html = await (await gw.fetch(new Request(`${G}/console`, { headers: { cookie } }))).text();
  const csrf = /name="portcullis-csrf" content="([^"]+)"/.exec(html)![1]!;
  return { cookie, csrf };
}

test("pasted tokens: only JSON signs in, the session is the token's identity, and ends with it", async () => {
  const gw = createGateway({ servers: {}, auth: [bearer()], tokens: { store: memoryStore() }, admin: { token: ADMIN, bootstrap: false }, logger: quietLogger });
  try {
    await gw.ready();
    // A form post (what a cross-site page can send) does not sign in; neither does a wrong token.
    const form = await gw.fetch(new Request(`${G}/console/sign-in`, { method: "POST", headers: { "content-type": "application/x-www-form-urlencoded" }, body: `token=${ADMIN}` }));
    assert.is(form.status, 415);
    const wrong = await gw.fetch(new Request(`${G}/console/sign-in`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ token: "pt_nope" }) }));
    assert.is(wrong.status, 401);
    const foreign = await gw.fetch(new Request(`${G}/console/sign-in`, { method: "POST", headers: { "content-type": "application/json", origin: "https://evil.example" }, body: JSON.stringify({ token: ADMIN }) }));
    assert.is(foreign.status, 403);

    // No IdP sign-in without an OAuth server; a callback this browser did not start is refused.
    assert.is((await gw.fetch(new Request(`${G}/console/sign-in/idp`))).status, 404);
    const stray = await gw.fetch(new Request(`${G}/console/callback?code=abc&state=def`, { headers: { cookie: "portcullis-console-login=other" } }));
    assert.is(stray.status, 303);
    assert.match(stray.headers.get("location")!, /^\/console\?error=/);
    assert.not.match(stray.headers.get("set-cookie") ?? "", /portcullis-console=pcs_/);

    const root = await signedIn(gw, ADMIN);
    const created = await gw.fetch(new Request(`${G}/v1/auth/tokens`, { method: "POST", headers: { cookie: root.cookie, "x-csrf-token": root.csrf, "content-type": "application/json" }, body: JSON.stringify({ user: "bob", scopes: ["mcp:read"], expiresIn: "1d" }) }));
    assert.is(created.status, 201);
    const bob = await created.json() as { id: string; token: string };
    // A wrong CSRF token is refused like a missing one.
    const forged = await gw.fetch(new Request(`${G}/v1/auth/tokens/${bob.id}`, { method: "DELETE", headers: { cookie: root.cookie, "x-csrf-token": `${root.csrf}x` } }));
    assert.is(forged.status, 403);

    // Bob signs in with his token: his session is him (no admin scope), it can make only what he has.
    const user = await signedIn(gw, bob.token);
    const who = await (await gw.fetch(new Request(`${G}/v1/auth/whoami`, { headers: { cookie: user.cookie } }))).json() as { subject: string; scopes: string[] };
    assert.is(who.subject, "bob");
    assert.equal(who.scopes, ["mcp:read"]);
    const send = (path: string, method: string, body?: unknown) => gw.fetch(new Request(G + path, { method, headers: { cookie: user.cookie, "x-csrf-token": user.csrf, "content-type": "application/json" }, body: body === undefined ? undefined : JSON.stringify(body) }));
    assert.is((await send("/v1/auth/tokens", "POST", { user: "bob", scopes: ["mcp:write"] })).status, 403);
    assert.is((await send("/v1/auth/tokens", "POST", { user: "carol" })).status, 403);
    assert.is((await send("/v1/auth/tokens", "POST", { user: "bob", roles: ["admin"] })).status, 403);
    const own = await send("/v1/auth/tokens", "POST", { user: "bob", scopes: ["mcp:read"], description: "ci", expiresIn: "1h" });
    assert.is(own.status, 201);
    const ownId = (await own.json() as { id: string }).id;
    assert.is((await send("/v1/auth/tokens", "GET")).status, 403);
    const listed = await (await send("/v1/auth/tokens?mine=1", "GET")).json() as { tokens: Array<{ id: string }> };
    assert.equal(listed.tokens.map((t) => t.id).sort(), [bob.id, ownId].sort());
    assert.is((await send(`/v1/auth/tokens/${ownId}/rotate`, "POST", {})).status, 201);
    assert.is((await send("/v1/auth-nope", "GET")).status, 404);
    assert.is((await send("/v1/auth/console-sessions", "GET")).status, 200);

    // Revoking the token Bob signed in with ends his console session at once.
    const revoked = await gw.fetch(new Request(`${G}/v1/auth/tokens/${bob.id}`, { method: "DELETE", headers: { authorization: `Bearer ${ADMIN}` } }));
    assert.is(revoked.status, 200);
    assert.is((await send("/v1/auth/whoami", "GET")).status, 401);

    // The audit tail: admins only, filtered, and `after` gives only what is newer (the page's live tail).
    assert.is((await send("/v1/audit", "GET")).status, 401);
    const adminGet = async (path: string) => await (await gw.fetch(new Request(G + path, { headers: { authorization: `Bearer ${ADMIN}` } }))).json() as { events: Array<{ seq: number; type: string; action?: string }>; last: number };
    const seen = await adminGet("/v1/audit?type=console");
    assert.ok(seen.events.length >= 2 && seen.events.every((e) => e.type === "console"));
    const newer = await adminGet(`/v1/audit?after=${seen.last}&type=token`);
    assert.equal(newer.events, []);
    await gw.fetch(new Request(`${G}/v1/auth/tokens`, { method: "POST", headers: { authorization: `Bearer ${ADMIN}`, "content-type": "application/json" }, body: JSON.stringify({ user: "dave" }) }));
    const tail = await adminGet(`/v1/audit?after=${seen.last}&type=token`);
    assert.equal(tail.events.map((e) => e.action), ["create"]);

    // Admins list and end anyone's console sessions.
    const sessions = await (await gw.fetch(new Request(`${G}/v1/auth/console-sessions?state=all`, { headers: { authorization: `Bearer ${ADMIN}` } }))).json() as { sessions: Array<{ id: string; user: string; state: string }> };
    const rootSession = sessions.sessions.find((s) => s.user === "admin-token" && s.state === "active")!;
    const ended = await gw.fetch(new Request(`${G}/v1/auth/console-sessions/${rootSession.id}`, { method: "DELETE", headers: { authorization: `Bearer ${ADMIN}` } }));
    assert.is(ended.status, 200);
    assert.is((await gw.fetch(new Request(`${G}/v1/auth/whoami`, { headers: { cookie: root.cookie } }))).status, 401);
  } finally {
    await gw.close();
  }
});

test("timeouts: an idle session ends, the cookie is Secure over TLS, and the console can be turned off", async () => {
  const gw = createGateway({ servers: {}, auth: [bearer()], tokens: { store: memoryStore() }, admin: { token: ADMIN, bootstrap: false }, logger: quietLogger, server: { publicUrl: "https://gw.example.com" }, console: { idleTimeout: "1s" } });
  try {
    await gw.ready();
    const res = await gw.fetch(new Request("https://gw.example.com/console/sign-in", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ token: ADMIN }) }));
    const set = res.headers.get("set-cookie")!;
    assert.match(set, /^__Host-portcullis-console=/);
    assert.match(set, /; Secure/);
    assert.match(set, /HttpOnly/);
    const cookie = set.split(";")[0]!;
    assert.is((await gw.fetch(new Request("https://gw.example.com/v1/auth/whoami", { headers: { cookie } }))).status, 200);
    await new Promise((r) => setTimeout(r, 1100));
    assert.is((await gw.fetch(new Request("https://gw.example.com/v1/auth/whoami", { headers: { cookie } }))).status, 401);
  } finally {
    await gw.close();
  }
  const off = createGateway({ servers: {}, tokens: { store: memoryStore() }, logger: quietLogger, admin: { bootstrap: false }, console: { enabled: false } });
  try {
    assert.is((await off.fetch(new Request(`${G}/console`))).status, 404);
  } finally {
    await off.close();
  }
  assert.throws(() => createGateway({ servers: {}, logger: quietLogger, console: { idleTimeout: "soon" } }), /console\.idleTimeout/);
});

test.run();
