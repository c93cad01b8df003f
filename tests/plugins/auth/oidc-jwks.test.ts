// oidc() against an IdP whose JWKS publishes two different keys under one `kid`. oidc-provider refuses
// such a key set at start ("must not contain duplicate kid values"), so this suite serves discovery and
// the JWKS itself from a loopback node:http server and signs the tokens with jose.
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { exportJWK, generateKeyPair, importJWK, SignJWT, type JWK, type JWTPayload } from "jose";
import { createGateway } from "../../../core/mod.ts";
import { oidc } from "../../../plugins/mod.ts";
import { memoryStore } from "../../../plugins/stores/memory.ts";
import { quietLogger } from "../../fixtures/helpers.ts";

const test = suite("oidc-jwks");
const AUD = "https://gateway.example/mcp";
const KID = "shared-kid";

type Keys = { private: JWK; public: JWK };

let server: Server;
let issuer: string;
let gateway: ReturnType<typeof createGateway>;
let first: Keys;
let second: Keys;
let stranger: Keys;
let keyless: Keys;
let published: JWK[] = [];

async function rsaKey(kid: string | undefined): Promise<Keys> {
  const pair = await generateKeyPair("RS256", { extractable: true });
  const common = { alg: "RS256", use: "sig", ...(kid === undefined ? {} : { kid }) };
  return { private: { ...(await exportJWK(pair.privateKey)), ...common }, public: { ...(await exportJWK(pair.publicKey)), ...common } };
}

async function sign(key: Keys, claims: JWTPayload = {}, withKid = true): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  const header = { alg: "RS256", typ: "at+jwt", ...(withKid && key.private.kid ? { kid: key.private.kid } : {}) };
  return await new SignJWT({ iss: issuer, aud: AUD, sub: "jwks-user", scope: "mcp:read", iat: now, exp: now + 300, ...claims })
    .setProtectedHeader(header)
    .sign(await importJWK(key.private, "RS256"));
}

async function whoami(token: string): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await gateway.fetch(new Request("http://127.0.0.1/v1/auth/whoami", { headers: { authorization: `Bearer ${token}` } }));
  return { status: res.status, body: await res.json() as Record<string, unknown> };
}

async function refusedWith(token: string, status: number, code: string): Promise<void> {
  const { status: got, body } = await whoami(token);
  assert.is(got, status, JSON.stringify(body));
  assert.is((body.error as { code?: string } | undefined)?.code, code);
}

test.before(async () => {
  first = await rsaKey(KID);
  second = await rsaKey(KID);
  stranger = await rsaKey(KID);
  keyless = await rsaKey(undefined);
  // A key without a kid never matches a token that names one, so it only joins the kid-less case.
  published = [first.public, second.public, keyless.public];
  server = createServer((req, res) => {
    const path = (req.url ?? "/").split("?")[0];
    const body = path === "/.well-known/openid-configuration"
      ? { issuer, jwks_uri: `${issuer}/jwks`, id_token_signing_alg_values_supported: ["RS256"] }
      : path === "/jwks" ? { keys: published } : undefined;
    if (!body) return void res.writeHead(404).end();
    res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify(body));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  gateway = createGateway({
    logger: quietLogger,
    admin: { bootstrap: false },
    tokens: { store: memoryStore() },
    auth: [oidc({ issuer, audience: AUD })],
    servers: {},
  });
  await gateway.ready();
});

test.after(async () => {
  await gateway?.close();
  server?.closeAllConnections?.();
  await new Promise<void>((resolve) => server ? server.close(() => resolve()) : resolve());
});

test("two keys share a kid: tokens signed by either one verify", async () => {
  for (const key of [first, second]) {
    const { status, body } = await whoami(await sign(key));
    assert.is(status, 200, JSON.stringify(body));
    assert.ok(String(body.subject).includes("jwks-user"), JSON.stringify(body));
  }
});

test("a third key with the same kid, never published, is refused as a bad signature", async () => {
  await refusedWith(await sign(stranger), 401, "ERR_INVALID_CREDENTIAL");
});

test("claim checks still apply after the second key verifies the signature", async () => {
  const past = Math.floor(Date.now() / 1000) - 3600;
  await refusedWith(await sign(second, { iat: past - 300, exp: past }), 401, "ERR_TOKEN_EXPIRED");
  await refusedWith(await sign(second, { aud: "https://someone-else.example/api" }), 401, "ERR_INVALID_CREDENTIAL");
});

test("without a kid in the token every RS256 key matches, and the right one is found", async () => {
  for (const key of [keyless, second]) {
    const { status, body } = await whoami(await sign(key, {}, false));
    assert.is(status, 200, JSON.stringify(body));
  }
  await refusedWith(await sign(stranger, {}, false), 401, "ERR_INVALID_CREDENTIAL");
});

test.run();
