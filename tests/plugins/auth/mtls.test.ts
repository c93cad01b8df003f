// mtls(): client certificates made here with @peculiar/x509 (CAs, intermediates, leaves good and bad, a
// CRL), presented through gateway.fetch's connection info (`info.tls.peerCertificate`) or a proxy header,
// in-process, with an echo upstream that shows the forwarded identity.
import "reflect-metadata";
import * as x509 from "@peculiar/x509";
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { AuditEvent, AuditSink, GatewayConfig, RequestInfo } from "../../../core/mod.ts";
import { fromJsonConfig } from "../../../core/config/json-config.ts";
import { bearer, memoryStore, mtls, oauthServer } from "../../../plugins/mod.ts";
import { createGrants } from "../../../plugins/auth/oauth-server/grants.ts";
import type { MtlsOptions } from "../../../plugins/mod.ts";
import { inProcess } from "../../../examples/custom-upstream.ts";
import { ADMIN, bearerAuth, echoServer, harness, type Harness, type Seen } from "../../fixtures/in-process.ts";
import { authWithEnvironment, jsonAuthTypes, jsonPlugins } from "../../../core/cli/load-config.ts";

const test = suite("mtls");
const ALG = { name: "ECDSA", namedCurve: "P-256", hash: "SHA-256" };
const DAY = 86_400_000;
const CLIENT_AUTH = "1.3.6.1.5.5.7.3.2";
const SERVER_AUTH = "1.3.6.1.5.5.7.3.1";

interface Issuer {
  cert: x509.X509Certificate;
  keys: CryptoKeyPair;
}

let serial = 1;
const nextSerial = () => (serial++).toString(16).padStart(4, "0");
const keys = () => crypto.subtle.generateKey(ALG, true, ["sign", "verify"]) as Promise<CryptoKeyPair>;

async function makeCa(name: string, parent?: Issuer): Promise<Issuer> {
  const k = await keys();
  const extensions = [
    new x509.BasicConstraintsExtension(true, undefined, true),
    new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
    await x509.SubjectKeyIdentifierExtension.create(k.publicKey),
  ];
  const period = { serialNumber: nextSerial(), notBefore: new Date(Date.now() - DAY), notAfter: new Date(Date.now() + 365 * DAY), signingAlgorithm: ALG };
  const cert = parent
    ? await x509.X509CertificateGenerator.create({
      ...period, subject: name, issuer: parent.cert.subject, publicKey: k.publicKey, signingKey: parent.keys.privateKey,
      extensions: [...extensions, await x509.AuthorityKeyIdentifierExtension.create(parent.keys.publicKey)],
    })
    : await x509.X509CertificateGenerator.createSelfSigned({ ...period, name, keys: k, extensions });
  return { cert, keys: k };
}

interface LeafOptions {
  name: string;
  san?: x509.JsonGeneralName[];
  eku?: string[] | null;
  keyUsage?: number;
  notBefore?: Date;
  notAfter?: Date;
}

async function makeLeaf(ca: Issuer, o: LeafOptions): Promise<x509.X509Certificate> {
  const k = await keys();
  const extensions: x509.Extension[] = [
    new x509.BasicConstraintsExtension(false),
    new x509.KeyUsagesExtension(o.keyUsage ?? x509.KeyUsageFlags.digitalSignature, true),
    await x509.AuthorityKeyIdentifierExtension.create(ca.keys.publicKey),
  ];
  if (o.eku !== null) extensions.push(new x509.ExtendedKeyUsageExtension(o.eku ?? [CLIENT_AUTH]));
  if (o.san) extensions.push(new x509.SubjectAlternativeNameExtension(o.san));
  return await x509.X509CertificateGenerator.create({
    serialNumber: nextSerial(),
    subject: o.name,
    issuer: ca.cert.subject,
    notBefore: o.notBefore ?? new Date(Date.now() - DAY),
    notAfter: o.notAfter ?? new Date(Date.now() + 30 * DAY),
    signingAlgorithm: ALG,
    publicKey: k.publicKey,
    signingKey: ca.keys.privateKey,
    extensions,
  });
}

async function makeCrl(ca: Issuer, revoked: x509.X509Certificate[]): Promise<x509.X509Crl> {
  return await x509.X509CrlGenerator.create({
    issuer: ca.cert.subject,
    thisUpdate: new Date(Date.now() - 1000),
    nextUpdate: new Date(Date.now() + DAY),
    entries: revoked.map((c) => ({ serialNumber: c.serialNumber, revocationDate: new Date(Date.now() - 1000) })),
    signingAlgorithm: ALG,
    signingKey: ca.keys.privateKey,
  });
}

const der = (c: x509.X509Certificate) => new Uint8Array(c.rawData);
const pem = (c: x509.X509Certificate) => c.toString("pem");
async function fingerprint(c: x509.X509Certificate): Promise<string> {
  return Array.from(new Uint8Array(await crypto.subtle.digest("SHA-256", c.rawData)), (b) => b.toString(16).padStart(2, "0")).join("");
}

// One world of certificates for every test.
const W = {} as {
  ca: Issuer; other: Issuer; root: Issuer; inter: Issuer;
  good: x509.X509Certificate; spiffe: x509.X509Certificate; cnOnly: x509.X509Certificate; expired: x509.X509Certificate; early: x509.X509Certificate;
  serverOnly: x509.X509Certificate; noDigital: x509.X509Certificate; revoked: x509.X509Certificate; foreign: x509.X509Certificate; viaInter: x509.X509Certificate;
  dir: string; caFile: string; crlFile: string;
};

test.before(async () => {
  W.ca = await makeCa("CN=Test Client CA, O=Acme");
  W.other = await makeCa("CN=Other CA, O=Elsewhere");
  W.root = await makeCa("CN=Test Root CA, O=Acme");
  W.inter = await makeCa("CN=Test Intermediate CA, O=Acme", W.root);
  W.good = await makeLeaf(W.ca, { name: "CN=Alice Smith, O=Acme, OU=Platform", san: [{ type: "email", value: "alice@acme.test" }] });
  W.spiffe = await makeLeaf(W.ca, { name: "CN=billing, O=Acme, OU=Payments", san: [{ type: "url", value: "spiffe://acme.test/ns/prod/sa/billing" }] });
  W.cnOnly = await makeLeaf(W.ca, { name: "CN=carol, O=Acme" });
  W.expired = await makeLeaf(W.ca, { name: "CN=old, O=Acme", notBefore: new Date(Date.now() - 60 * DAY), notAfter: new Date(Date.now() - DAY) });
  W.early = await makeLeaf(W.ca, { name: "CN=early, O=Acme", notBefore: new Date(Date.now() + DAY), notAfter: new Date(Date.now() + 60 * DAY) });
  W.serverOnly = await makeLeaf(W.ca, { name: "CN=server.acme.test", eku: [SERVER_AUTH] });
  W.noDigital = await makeLeaf(W.ca, { name: "CN=enc-only", keyUsage: x509.KeyUsageFlags.keyEncipherment });
  W.revoked = await makeLeaf(W.ca, { name: "CN=mallory, O=Acme", san: [{ type: "email", value: "mallory@acme.test" }] });
  W.foreign = await makeLeaf(W.other, { name: "CN=Alice Smith, O=Acme", san: [{ type: "email", value: "alice@acme.test" }] });
  W.viaInter = await makeLeaf(W.inter, { name: "CN=dave, O=Acme", san: [{ type: "email", value: "dave@acme.test" }] });
  W.dir = mkdtempSync(join(tmpdir(), "portcullis-mtls-"));
  W.caFile = join(W.dir, "ca.crt");
  writeFileSync(W.caFile, pem(W.ca.cert));
  W.crlFile = join(W.dir, "ca.crl");
  writeFileSync(W.crlFile, (await makeCrl(W.ca, [W.revoked])).toString("pem"));
});

test.after(() => {
  rmSync(W.dir, { recursive: true, force: true });
});

/** A gateway with `auth`, an echo upstream fed identity headers, and the audit events it emitted. */
async function gatewayWith(auth: GatewayConfig["auth"]): Promise<{ h: Harness; events: AuditEvent[] }> {
  const events: AuditEvent[] = [];
  const sink: AuditSink = { name: "memory", write: (e) => void events.push(e) };
  const h = await harness({ auth, audit: [sink], servers: { echo: inProcess({ label: "echo", identityVia: "headers", build: () => echoServer("echo") }) } });
  return { h, events };
}

let id = 1;
/** A stateless (2026-07-28) `echo__whoami` call to /mcp with the given connection info and headers. */
async function whoami(h: Harness, info: RequestInfo, headers: Record<string, string> = {}): Promise<{ status: number; body: any; seen?: Seen }> {
  const era = "2026-07-28";
  const res = await h.gateway.fetch(new Request("http://gateway.test/mcp", {
    method: "POST",
    headers: { ...headers, "content-type": "application/json", accept: "application/json, text/event-stream", "mcp-protocol-version": era, "mcp-method": "tools/call", "mcp-name": "echo__whoami" },
    body: JSON.stringify({
      jsonrpc: "2.0",
      id: id++,
      method: "tools/call",
      params: { name: "echo__whoami", arguments: {}, _meta: { "io.modelcontextprotocol/protocolVersion": era, "io.modelcontextprotocol/clientCapabilities": {} } },
    }),
  }), info);
  const text = await res.text();
  const data = text.split("\n").filter((l) => l.startsWith("data:")).map((l) => l.slice(5)).pop() ?? text;
  const body = data.trim() ? JSON.parse(data) : undefined;
  const seen = res.status === 200 && body?.result?.content ? JSON.parse(body.result.content[0].text) as Seen : undefined;
  return { status: res.status, body, seen };
}

const direct = (c: x509.X509Certificate, authorized = true): RequestInfo => ({ remoteAddress: "192.0.2.10", tls: { authorized, peerCertificate: der(c) } });
const authEvents = (events: AuditEvent[]) => events.filter((e): e is Extract<AuditEvent, { type: "auth" }> => e.type === "auth");

async function refused(auth: GatewayConfig["auth"], info: RequestInfo, reason: RegExp, code = "ERR_INVALID_CREDENTIAL", headers: Record<string, string> = {}): Promise<void> {
  const { h, events } = await gatewayWith(auth);
  try {
    const r = await whoami(h, info, headers);
    assert.is(r.status, 401, JSON.stringify(r.body));
    assert.is(r.body.error.data?.code ?? r.body.error.code, code);
    const failure = authEvents(events).find((e) => e.outcome === "failure");
    assert.ok(failure, "the refusal is audited");
    assert.is(failure!.code, code);
    assert.ok(reason.test(failure!.reason ?? ""), `reason ${failure!.reason} matches ${reason}`);
    assert.is(failure!.strategy, "auth:mtls");
    assert.is(failure!.remoteAddress, info.remoteAddress);
    assert.not.ok(authEvents(events).some((e) => e.outcome === "success"));
  } finally {
    await h.gateway.close();
  }
}

test("a good certificate becomes the identity (SAN email by default), reaches /mcp, and its fingerprint is audited", async () => {
  const { h, events } = await gatewayWith(mtls({ ca: W.caFile, identity: { team: "ou", org: "o" } }));
  try {
    const r = await whoami(h, direct(W.good));
    assert.is(r.status, 200, JSON.stringify(r.body));
    assert.is(r.seen!.headers["x-user-email"], "alice@acme.test");
    assert.is(r.seen!.headers["x-user-name"], "Alice Smith");
    assert.is(r.seen!.headers["x-user-team"], "Platform");
    assert.is(r.seen!.headers["x-organization-id"], "Acme");
    const fp = await fingerprint(W.good);
    const ok = authEvents(events).find((e) => e.outcome === "success");
    assert.ok(ok);
    assert.is(ok!.subject, "alice@acme.test");
    assert.is(ok!.strategy, "auth:mtls");
    assert.is(ok!.tokenId, `cert:${fp}`);
    const call = events.find((e) => e.type === "tool_call");
    assert.is(call && call.type === "tool_call" ? call.tokenId : undefined, `cert:${fp}`);
    // /v1/auth/whoami shows the same identity: issuer the CA, credential the fingerprint.
    const res = await h.gateway.fetch(new Request("http://gateway.test/v1/auth/whoami"), direct(W.good));
    const me = await res.json();
    assert.is(res.status, 200, JSON.stringify(me));
    assert.ok(JSON.stringify(me).includes(fp), JSON.stringify(me));
  } finally {
    await h.gateway.close();
  }
});

test("identity mapping: CN, SPIFFE URI, O as team, CN fallback, a function, allowedSubjects", async () => {
  const cases: Array<[MtlsOptions["identity"], x509.X509Certificate, string, Record<string, string>]> = [
    [{ user: "cn" }, W.good, "Alice Smith", {}],
    [{ user: "uri", team: "o" }, W.spiffe, "spiffe://acme.test/ns/prod/sa/billing", { "x-user-team": "Acme" }],
    [undefined, W.cnOnly, "carol", { "x-user-name": "carol" }],
    [(c) => ({ subject: `svc:${c.commonName}`, roles: ["robot"], team: c.organizationalUnits[0] }), W.spiffe, "svc:billing", { "x-user-roles": "robot", "x-user-team": "Payments" }],
  ];
  for (const [identity, cert, subject, headers] of cases) {
    const { h, events } = await gatewayWith(mtls({ ca: pem(W.ca.cert), identity }));
    try {
      const r = await whoami(h, direct(cert));
      assert.is(r.status, 200, JSON.stringify(r.body));
      assert.is(authEvents(events).find((e) => e.outcome === "success")?.subject, subject);
      for (const [k, v] of Object.entries(headers)) assert.is(r.seen!.headers[k], v, k);
    } finally {
      await h.gateway.close();
    }
  }
  const allowed = mtls({ ca: W.caFile, identity: { user: "uri" }, allowedSubjects: ["spiffe://acme.test/ns/prod/*"] });
  const { h } = await gatewayWith(allowed);
  try {
    assert.is((await whoami(h, direct(W.spiffe))).status, 200);
  } finally {
    await h.gateway.close();
  }
  await refused(mtls({ ca: W.caFile, allowedSubjects: ["bob@acme.test", "*@other.test"] }), direct(W.good), /subject not allowed/);
  await refused(mtls({ ca: W.caFile, identity: { user: "uri" } }), direct(W.good), /no SAN URI/);
});

test("refused with 401 and audited: no certificate, another CA's, expired, not yet valid, wrong EKU, no digitalSignature, TLS-unverified", async () => {
  const auth = () => mtls({ ca: W.caFile });
  await refused(auth(), { remoteAddress: "192.0.2.10" }, /client certificate required/, "ERR_AUTH_REQUIRED");
  await refused(auth(), direct(W.foreign), /not signed by a trusted CA/);
  await refused(auth(), direct(W.expired), /client certificate expired/);
  await refused(auth(), direct(W.early), /not yet valid/);
  await refused(auth(), direct(W.serverOnly), /not for client authentication/);
  await refused(auth(), direct(W.noDigital), /not for client authentication/);
  await refused(auth(), direct(W.good, false), /not verified by the TLS layer/);
  await refused(auth(), { remoteAddress: "192.0.2.10", tls: { authorized: true, peerCertificate: new Uint8Array([48, 3, 1, 2, 3]) } }, /cannot be parsed/);
  // The audited failure names the certificate by its fingerprint.
  const { h, events } = await gatewayWith(auth());
  try {
    await whoami(h, direct(W.expired));
    assert.is(authEvents(events)[0]!.tokenId, `cert:${await fingerprint(W.expired)}`);
  } finally {
    await h.gateway.close();
  }
});

test("a CRL made by the CA revokes; it is re-read when the file changes; a CRL by another CA is a config error", async () => {
  const crlFile = join(W.dir, "changing.crl");
  writeFileSync(crlFile, (await makeCrl(W.ca, [])).toString("pem"));
  const { h } = await gatewayWith(mtls({ ca: W.caFile, crl: [W.crlFile, crlFile] }));
  try {
    assert.is((await whoami(h, direct(W.good))).status, 200);
    assert.is((await whoami(h, direct(W.revoked))).status, 401);
  } finally {
    await h.gateway.close();
  }
  await refused(mtls({ ca: W.caFile, crl: W.crlFile }), direct(W.revoked), /client certificate revoked/);

  // Revoking alice in a changed CRL file takes effect without a restart (checked at most every 5 s).
  const changing = join(W.dir, "reload.crl");
  writeFileSync(changing, new Uint8Array((await makeCrl(W.ca, [])).rawData));
  const g = await gatewayWith(mtls({ ca: W.caFile, crl: changing }));
  try {
    assert.is((await whoami(g.h, direct(W.good))).status, 200);
    writeFileSync(changing, (await makeCrl(W.ca, [W.good])).toString("pem"));
    const until = Date.now() + 8000;
    let status = 200;
    while (status === 200 && Date.now() < until) {
      await new Promise((r) => setTimeout(r, 250));
      status = (await whoami(g.h, direct(W.good))).status;
    }
    assert.is(status, 401);
  } finally {
    await g.h.gateway.close();
  }

  const otherCrl = join(W.dir, "other.crl");
  writeFileSync(otherCrl, (await makeCrl(W.other, [])).toString("pem"));
  const bad = createFails(() => gatewayWith(mtls({ ca: W.caFile, crl: otherCrl })));
  assert.match(await bad, /mtls\.crl: .*not signed by a configured CA/);
});

async function createFails(start: () => Promise<{ h: Harness }>): Promise<string> {
  try {
    const { h } = await start();
    await h.gateway.close();
  } catch (err) {
    assert.is((err as { code?: string }).code, "ERR_CONFIG", String(err));
    return (err as Error).message;
  }
  assert.unreachable("expected the gateway to refuse to start");
  return "";
}

test("an intermediate chain: the leaf chains through a configured intermediate to the root; a revoked intermediate refuses", async () => {
  const caText = pem(W.root.cert) + "\n" + pem(W.inter.cert);
  const { h, events } = await gatewayWith(mtls({ ca: caText }));
  try {
    assert.is((await whoami(h, direct(W.viaInter))).status, 200);
    assert.is(authEvents(events)[0]!.subject, "dave@acme.test");
  } finally {
    await h.gateway.close();
  }
  // Only the root trusted: the intermediate comes with the leaf in the proxy header (XFCC Chain).
  const header = `By=spiffe://gw;Hash=abc;Cert="${encodeURIComponent(pem(W.viaInter))}";Chain="${encodeURIComponent(pem(W.viaInter) + pem(W.inter.cert))}"`;
  const viaProxy = await gatewayWith(mtls({ ca: pem(W.root.cert), proxy: { trustedProxies: ["10.0.0.0/8"] } }));
  try {
    const r = await whoami(viaProxy.h, { remoteAddress: "10.1.2.3" }, { "x-forwarded-client-cert": header });
    assert.is(r.status, 200, JSON.stringify(r.body));
  } finally {
    await viaProxy.h.gateway.close();
  }
  // Without the intermediate the root alone does not vouch for the leaf.
  await refused(mtls({ ca: pem(W.root.cert) }), direct(W.viaInter), /not signed by a trusted CA/);
  const crlFile = join(W.dir, "root.crl");
  writeFileSync(crlFile, (await makeCrl(W.root, [W.inter.cert])).toString("pem"));
  await refused(mtls({ ca: caText, crl: crlFile }), direct(W.viaInter), /chain revoked/);
});

test("proxy mode: XFCC and URL-encoded PEM from a trusted proxy; ignored from anyone else; re-verified against the CA; never forwarded", async () => {
  const xfcc = (c: x509.X509Certificate) => `By=spiffe://acme.test/gateway;Hash=0f;Cert="${encodeURIComponent(pem(c))}";Subject="${c.subject}";URI=,By=spiffe://other;Cert="x"`;
  const envoy = () => mtls({ ca: W.caFile, proxy: { trustedProxies: ["10.0.0.0/8", "fd00::/8"] } });
  {
    const { h, events } = await gatewayWith(envoy());
    try {
      for (const remoteAddress of ["10.9.8.7", "::ffff:10.9.8.7", "fd00::1"]) {
        const r = await whoami(h, { remoteAddress }, { "x-forwarded-client-cert": xfcc(W.good) });
        assert.is(r.status, 200, `${remoteAddress}: ${JSON.stringify(r.body)}`);
        assert.is(r.seen!.headers["x-user-email"], "alice@acme.test");
        assert.not.ok(Object.keys(r.seen!.headers).some((k) => k === "x-forwarded-client-cert"), "the header never reaches an upstream");
      }
      assert.is(authEvents(events).filter((e) => e.outcome === "success").length, 3);
    } finally {
      await h.gateway.close();
    }
  }
  const nginx = () => mtls({ ca: W.caFile, proxy: { header: "X-SSL-Client-Cert", format: "pem-urlencoded", trustedProxies: ["127.0.0.1", "::1"] } });
  {
    const { h } = await gatewayWith(nginx());
    try {
      const r = await whoami(h, { remoteAddress: "127.0.0.1" }, { "x-ssl-client-cert": encodeURIComponent(pem(W.spiffe)) });
      assert.is(r.status, 200, JSON.stringify(r.body));
      assert.is(r.seen!.headers["x-user-name"], "billing");
    } finally {
      await h.gateway.close();
    }
  }
  // From an untrusted address a valid header is not used: refused, audited.
  await refused(envoy(), { remoteAddress: "192.0.2.66" }, /only believed from a trusted proxy/, "ERR_AUTH_REQUIRED", { "x-forwarded-client-cert": xfcc(W.good) });
  await refused(nginx(), { remoteAddress: "10.0.0.1" }, /only believed from a trusted proxy/, "ERR_AUTH_REQUIRED", { "x-ssl-client-cert": encodeURIComponent(pem(W.good)) });
  await refused(envoy(), {}, /only believed from a trusted proxy/, "ERR_AUTH_REQUIRED", { "x-forwarded-client-cert": xfcc(W.good) });
  // From a trusted proxy, a certificate the CA did not sign, or an expired one, is refused like a direct one.
  await refused(envoy(), { remoteAddress: "10.0.0.2" }, /not signed by a trusted CA/, "ERR_INVALID_CREDENTIAL", { "x-forwarded-client-cert": xfcc(W.foreign) });
  await refused(nginx(), { remoteAddress: "::1" }, /not signed by a trusted CA/, "ERR_INVALID_CREDENTIAL", { "x-ssl-client-cert": encodeURIComponent(pem(W.foreign)) });
  await refused(envoy(), { remoteAddress: "10.0.0.2" }, /expired/, "ERR_INVALID_CREDENTIAL", { "x-forwarded-client-cert": xfcc(W.expired) });
  await refused(envoy(), { remoteAddress: "10.0.0.2" }, /no Cert/, "ERR_INVALID_CREDENTIAL", { "x-forwarded-client-cert": "By=spiffe://x;Hash=00" });

  // No strategy (nor a handler) ever sees the header: it is taken off the request before anything reads it.
  const seenBy: Array<string | null> = [];
  const { h } = await gatewayWith([{ name: "auth:looking", authenticate: (req) => void seenBy.push(req.headers.get("x-forwarded-client-cert")) }, envoy()]);
  try {
    assert.is((await whoami(h, { remoteAddress: "10.0.0.3" }, { "x-forwarded-client-cert": xfcc(W.good) })).status, 200);
    assert.equal(seenBy, [null]);
  } finally {
    await h.gateway.close();
  }
});

test("requireClientCert false: no certificate (or an untrusted proxy header) falls through to bearer()", async () => {
  const { h, events } = await gatewayWith([mtls({ ca: W.caFile, requireClientCert: false, proxy: { trustedProxies: ["10.0.0.0/8"] } }), bearer()]);
  try {
    const t = await h.token({ user: "erin@acme.test", scopes: ["mcp:read", "mcp:write"] });
    const r = await whoami(h, { remoteAddress: "192.0.2.1" }, bearerAuth(t.token));
    assert.is(r.status, 200, JSON.stringify(r.body));
    assert.is(r.seen!.headers["x-user-email"], "erin@acme.test");
    const forged = `Cert="${encodeURIComponent(pem(W.good))}"`;
    const r2 = await whoami(h, { remoteAddress: "192.0.2.1" }, { ...bearerAuth(t.token), "x-forwarded-client-cert": forged });
    assert.is(r2.status, 200);
    assert.is(r2.seen!.headers["x-user-email"], "erin@acme.test");
    assert.ok(events.some((e) => e.type === "plugin" && e.action === "untrusted_proxy_header"), "the ignored header is audited");
    // Nothing at all: 401 from the pipeline.
    assert.is((await whoami(h, { remoteAddress: "192.0.2.1" })).status, 401);
    // A certificate is still judged: a bad one is refused, not passed on.
    assert.is((await whoami(h, direct(W.expired))).status, 401);
    assert.is((await whoami(h, direct(W.good))).status, 200);
  } finally {
    await h.gateway.close();
  }
});

test("options are checked at config time with errors naming their path", () => {
  const cases: Array<[unknown, RegExp]> = [
    [undefined, /^mtls: /],
    [{}, /^mtls\.ca: /],
    [{ ca: join(W.dir, "missing.crt") }, /^mtls\.ca: cannot read .*ENOENT/],
    [{ ca: "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----" }, /^mtls\.ca: expected PEM CA certificates/],
    [{ ca: [W.caFile, join(W.dir, "nope.crt")] }, /^mtls\.ca\[1\]: cannot read/],
    [{ ca: W.caFile, requireClientCert: "yes" }, /^mtls\.requireClientCert: /],
    [{ ca: W.caFile, identity: { user: "dn" } }, /^mtls\.identity\.user: /],
    [{ ca: W.caFile, identity: { team: "cn" } }, /^mtls\.identity\.team: /],
    [{ ca: W.caFile, crl: join(W.dir, "none.crl") }, /^mtls\.crl: cannot read/],
    [{ ca: W.caFile, crl: W.caFile }, /^mtls\.crl: expected a PEM or DER CRL/],
    [{ ca: W.caFile, proxy: { trustedProxies: [] } }, /^mtls\.proxy\.trustedProxies: /],
    [{ ca: W.caFile, proxy: { trustedProxies: ["10.0.0.0/33"] } }, /^mtls\.proxy\.trustedProxies\[0\]: /],
    [{ ca: W.caFile, proxy: { trustedProxies: ["10.0.0.0/8", "fd00::/129"] } }, /^mtls\.proxy\.trustedProxies\[1\]: /],
    [{ ca: W.caFile, proxy: { trustedProxies: ["10.0.0.0/8", "10.0.0.256"] } }, /^mtls\.proxy\.trustedProxies\[1\]: /],
    [{ ca: W.caFile, proxy: { trustedProxies: ["10.0.0.0/8"], format: "der" } }, /^mtls\.proxy\.format: /],
    [{ ca: W.caFile, proxy: { trustedProxies: ["10.0.0.0/8"], header: "Authorization" } }, /^mtls\.proxy\.header: /],
  ];
  for (const [options, expected] of cases) {
    try {
      mtls(options as MtlsOptions);
      assert.unreachable(`expected a config error for ${JSON.stringify(options)}`);
    } catch (err) {
      assert.is((err as { code?: string }).code, "ERR_CONFIG", String(err));
      assert.match((err as Error).message, expected);
    }
  }
});

test("JSON config: { type: mtls, enabled, ca, requireClientCert } and the options as data; errors name the JSON path", async () => {
  const json = (auth: unknown) => ({ auth, mcpServers: {} });
  const config = fromJsonConfig(json({ type: "mtls", enabled: true, ca: W.caFile, requireClientCert: true, identity: { user: "cn", team: "ou" }, proxy: { format: "pem-urlencoded", header: "X-SSL-Client-Cert", trustedProxies: ["127.0.0.1/32"] } }), jsonPlugins, jsonAuthTypes);
  const strategy = Array.isArray(config.auth) ? config.auth[0]! : config.auth!;
  assert.is(strategy.name, "auth:mtls");
  const { h, events } = await gatewayWith(strategy);
  try {
    assert.is((await whoami(h, { remoteAddress: "127.0.0.1" }, { "x-ssl-client-cert": encodeURIComponent(pem(W.good)) })).status, 200);
    assert.is(authEvents(events)[0]!.subject, "Alice Smith");
  } finally {
    await h.gateway.close();
  }
  const message = (auth: unknown): string => {
    try {
      fromJsonConfig(json(auth), jsonPlugins, jsonAuthTypes);
    } catch (err) {
      return (err as Error).message;
    }
    return "";
  };
  assert.match(message({ type: "mtls" }), /auth\.ca: required/);
  assert.match(message({ type: "mtls", ca: W.caFile, identity: { user: "dn" } }), /auth\.identity\.user/);
  assert.match(message([{ type: "bearer" }, { type: "mtls", ca: join(W.dir, "missing.crt") }]), /auth\[1\]\.ca: cannot read/);
  assert.match(message({ type: "mtls", ca: W.caFile, proxy: { trustedProxies: ["nope"] } }), /auth\.proxy\.trustedProxies\[0\]/);
  assert.is(message({ type: "mtls", enabled: false }), "");
  // PORTCULLIS_AUTH_TYPE=mtls keeps the config's mtls strategy (the CA comes from the config) and needs one.
  assert.is(authWithEnvironment({ auth: strategy, servers: {} }, { PORTCULLIS_AUTH_TYPE: "mtls" }), strategy);
  try {
    authWithEnvironment({ auth: bearer(), servers: {} }, { PORTCULLIS_AUTH_TYPE: "mtls" });
    assert.unreachable("mtls without a configured CA");
  } catch (err) {
    assert.match((err as Error).message, /^PORTCULLIS_AUTH_TYPE=mtls: the config must give the CA/);
  }
});

/** A 2025-11-25 session opened with the connection info `info`; answers the session id. */
async function openSession(h: Harness, info: RequestInfo): Promise<string> {
  const headers = { "content-type": "application/json", accept: "application/json, text/event-stream", "mcp-protocol-version": "2025-11-25" };
  const init = await h.gateway.fetch(new Request("http://gateway.test/mcp", {
    method: "POST",
    headers,
    body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "initialize", params: { protocolVersion: "2025-11-25", capabilities: {}, clientInfo: { name: "t", version: "1" } } }),
  }), info);
  await init.text();
  const session = init.headers.get("mcp-session-id");
  assert.ok(session, `session opened (${init.status})`);
  const ready = await h.gateway.fetch(new Request("http://gateway.test/mcp", { method: "POST", headers: { ...headers, "mcp-session-id": session! }, body: JSON.stringify({ jsonrpc: "2.0", method: "notifications/initialized" }) }), info);
  assert.is(ready.status, 202);
  return session!;
}

async function sessionCall(h: Harness, session: string, info: RequestInfo): Promise<number> {
  const res = await h.gateway.fetch(new Request("http://gateway.test/mcp", {
    method: "POST",
    headers: { "content-type": "application/json", accept: "application/json, text/event-stream", "mcp-protocol-version": "2025-11-25", "mcp-session-id": session },
    body: JSON.stringify({ jsonrpc: "2.0", id: 7, method: "tools/call", params: { name: "echo__whoami", arguments: {} } }),
  }), info);
  await res.text();
  return res.status;
}

test("certificate records over /v1/auth: rights by fingerprint or subject, revoked at once, required mode, validation", async () => {
  const { h, events } = await gatewayWith(mtls({ ca: W.caFile, identity: { team: "ou" } }));
  try {
    const fp = await fingerprint(W.good);
    // Made by fingerprint (colons and upper case accepted): no secret in the answer, listed as type certificate.
    const colons = fp.toUpperCase().match(/../g)!.join(":");
    const made = await h.api("POST", "/v1/auth/tokens", { user: "alice", roles: ["sre"], email: "alice@corp.test", certificate: { fingerprint: colons }, permissions: { servers: ["echo"] }, expiresIn: "7d" });
    assert.is(made.status, 201, JSON.stringify(made.body));
    assert.is(made.body.type, "certificate");
    assert.equal(made.body.certificate, { fingerprint: fp });
    assert.not.ok("token" in made.body, "a certificate record has no secret");
    assert.not.ok(JSON.stringify(made.body).includes("hash"));
    const listed = await h.api("GET", "/v1/auth/tokens?type=certificate");
    assert.equal(listed.body.tokens.map((t: { id: string }) => t.id), [made.body.id]);

    // The certificate now carries the record's user, roles and email; the audit names record and certificate.
    const r = await whoami(h, direct(W.good));
    assert.is(r.status, 200, JSON.stringify(r.body));
    assert.is(r.seen!.headers["x-user-email"], "alice@corp.test");
    assert.is(r.seen!.headers["x-user-roles"], "sre");
    const ok = authEvents(events).filter((e) => e.outcome === "success").pop()!;
    assert.is(ok.subject, "alice");
    assert.is(ok.tokenId, made.body.id);
    assert.is(ok.credentialId, `cert:${fp}`);
    // A certificate without a record is mapped as before (records are optional by default).
    const other = await whoami(h, direct(W.spiffe));
    assert.is(other.status, 200);

    // Revoking the record refuses the certificate at once and ends the sessions it opened.
    const session = await openSession(h, direct(W.good));
    assert.is(await sessionCall(h, session, direct(W.good)), 200);
    assert.is((await (await h.gateway.fetch(new Request("http://gateway.test/healthz"))).json()).sessions, 1);
    assert.is((await h.api("DELETE", `/v1/auth/tokens/${made.body.id}`)).status, 200);
    const after = await whoami(h, direct(W.good));
    assert.is(after.status, 401);
    assert.is(after.body.error.data?.code, "ERR_TOKEN_REVOKED");
    assert.is(await sessionCall(h, session, direct(W.good)), 401);
    const health = await (await h.gateway.fetch(new Request("http://gateway.test/healthz"))).json();
    assert.is(health.sessions, 0, "the session of the revoked record is gone");

    // By subject: any certificate the CA issues to that subject.
    const bySubject = await h.api("POST", "/v1/auth/tokens", { user: "billing-service", type: "certificate", certificate: { subject: "billing" }, roles: ["robot"] });
    assert.is(bySubject.status, 201, JSON.stringify(bySubject.body));
    const billing = await whoami(h, direct(W.spiffe));
    assert.is(billing.seen!.headers["x-user-roles"], "robot");
    assert.is((await h.api("POST", `/v1/auth/tokens/${bySubject.body.id}/rotate`, {})).status, 409, "nothing to rotate");
    assert.is((await h.api("POST", "/v1/auth/tokens", { user: "x", certificate: { subject: "billing" } })).status, 409, "one active record per subject");

    // Validation names the field.
    const bad = async (body: unknown, field: RegExp) => {
      const res = await h.api("POST", "/v1/auth/tokens", body);
      assert.is(res.status, 400, JSON.stringify(res.body));
      assert.match(res.body.error.message, field);
    };
    await bad({ user: "a", certificate: { fingerprint: "abc" } }, /^certificate\.fingerprint: expected/);
    await bad({ user: "a", type: "certificate" }, /^certificate: required/);
    await bad({ user: "a", type: "token", certificate: { subject: "a" } }, /^certificate: only for type "certificate"/);
    await bad({ user: "a", certificate: { subject: "a", fingerprint: fp } }, /^certificate: expected either/);
    await bad({ user: "a", certificate: { serial: "01" } }, /^certificate\.serial: unknown key/);
  } finally {
    await h.gateway.close();
  }
  // records: "required" refuses a certificate with no record; "off" never looks.
  await refused(mtls({ ca: W.caFile, records: "required" }), direct(W.good), /has no gateway record/);
  const { h: off } = await gatewayWith(mtls({ ca: W.caFile, records: "off" }));
  try {
    await off.api("POST", "/v1/auth/tokens", { user: "nobody", certificate: { fingerprint: await fingerprint(W.good) } });
    const r = await whoami(off, direct(W.good));
    assert.is(r.status, 200);
    assert.is(r.seen!.headers["x-user-email"], "alice@acme.test");
  } finally {
    await off.gateway.close();
  }
  assert.throws(() => mtls({ ca: W.caFile, records: "sometimes" as "optional" }), /mtls\.records: expected "optional", "required" or "off"/);
});

test("RFC 8705: oauthServer({ mtls }) binds access tokens to the client certificate presented at /oauth/token", async () => {
  const cert = mtls({ ca: W.caFile, requireClientCert: false });
  const agent = { clientId: "build-agent", clientSecret: "agent-secret-0123456789abcdef" };
  const store = memoryStore();
  const oauth = oauthServer({
    upstream: { issuer: "http://127.0.0.1:9", clientId: "gw", clientSecret: "gw-secret-0123456789" },
    clients: [{ ...agent, identity: { subject: "agent-1", roles: ["robot"] } }],
    mtls: cert,
  });
  const events: AuditEvent[] = [];
  const h = await harness({ auth: [oauth, cert], tokens: { store }, audit: [{ name: "memory", write: (e) => void events.push(e) }], servers: { echo: inProcess({ label: "echo", identityVia: "headers", build: () => echoServer("echo") }) } });
  const basic = { authorization: `Basic ${btoa(`${agent.clientId}:${agent.clientSecret}`)}` };
  const token = async (info: RequestInfo, form: Record<string, string> = { grant_type: "client_credentials" }, headers: Record<string, string> = basic) => {
    const res = await h.gateway.fetch(new Request("http://gateway.test/oauth/token", { method: "POST", headers: { ...headers, "content-type": "application/x-www-form-urlencoded" }, body: new URLSearchParams(form) }), info);
    return { status: res.status, body: await res.json() as Record<string, any> };
  };
  const claimsOf = (jwt: string) => JSON.parse(atob(jwt.split(".")[1]!.replace(/-/g, "+").replace(/_/g, "/"))) as Record<string, any>;
  const thumb = btoa(String.fromCharCode(...new Uint8Array(await crypto.subtle.digest("SHA-256", W.good.rawData)))).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  try {
    const meta = await (await h.gateway.fetch(new Request("http://gateway.test/.well-known/oauth-authorization-server"))).json();
    assert.is(meta.tls_client_certificate_bound_access_tokens, true);
    const resource = await (await h.gateway.fetch(new Request("http://gateway.test/.well-known/oauth-protected-resource/mcp"))).json();
    assert.is(resource.tls_client_certificate_bound_access_tokens, true);

    const bound = await token(direct(W.good));
    assert.is(bound.status, 200, JSON.stringify(bound.body));
    assert.equal(claimsOf(bound.body.access_token).cnf, { "x5t#S256": thumb });
    const auth = bearerAuth(bound.body.access_token);
    // With its certificate: accepted, as the agent (the token decides, not the certificate's own mapping).
    const ok = await whoami(h, direct(W.good), auth);
    assert.is(ok.status, 200, JSON.stringify(ok.body));
    assert.is(ok.seen!.headers["x-user-roles"], "robot");
    // Without it, or with another certificate: refused and audited.
    const bare = await whoami(h, { remoteAddress: "192.0.2.10" }, auth);
    assert.is(bare.status, 401);
    assert.is(bare.body.error.data?.code, "ERR_INVALID_CREDENTIAL");
    assert.match(authEvents(events).filter((e) => e.outcome === "failure").pop()!.reason!, /bound to a client certificate the request does not present/);
    assert.is((await whoami(h, direct(W.spiffe), auth)).status, 401);
    assert.match(authEvents(events).filter((e) => e.outcome === "failure").pop()!.reason!, /bound to another client certificate/);
    // A certificate the CA did not sign does not count as presenting one.
    assert.is((await whoami(h, direct(W.foreign), auth)).status, 401);

    // No certificate at the token endpoint: an unbound token, good without one.
    const plain = await token({ remoteAddress: "192.0.2.10" });
    assert.is(plain.status, 200);
    assert.is(claimsOf(plain.body.access_token).cnf, undefined);
    assert.is((await whoami(h, { remoteAddress: "192.0.2.10" }, bearerAuth(plain.body.access_token))).status, 200);

    // A bound session's refresh token works only with its certificate (RFC 8705 §4), and keeps the binding.
    const reg = await h.gateway.fetch(new Request("http://gateway.test/oauth/register", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ client_name: "cli", redirect_uris: ["http://127.0.0.1:9/cb"], grant_types: ["authorization_code", "refresh_token"], token_endpoint_auth_method: "none" }) }));
    const client = await reg.json() as { client_id: string };
    assert.is(reg.status, 201, JSON.stringify(client));
    const grants = createGrants(store);
    const session = (await grants.createSession({ subject: "alice", roles: [], clientId: client.client_id, clientName: "cli", grantType: "authorization_code", scopes: ["mcp:read"], expiresAt: new Date(Date.now() + 3600_000).toISOString(), x5t: thumb }))!;
    const refresh = await grants.issueRefresh(session);
    const refused = await token({ remoteAddress: "192.0.2.10" }, { grant_type: "refresh_token", refresh_token: refresh, client_id: client.client_id }, {});
    assert.is(refused.status, 400);
    assert.is(refused.body.error, "invalid_grant");
    assert.match(refused.body.error_description, /bound to a client certificate/);
    // Another certificate is refused too; the presented refresh token is spent either way (it may be a stolen one).
    const second = (await grants.createSession({ subject: "alice", roles: [], clientId: client.client_id, clientName: "cli", grantType: "authorization_code", scopes: ["mcp:read"], expiresAt: new Date(Date.now() + 3600_000).toISOString(), x5t: thumb }))!;
    const wrong = await token(direct(W.spiffe), { grant_type: "refresh_token", refresh_token: await grants.issueRefresh(second), client_id: client.client_id }, {});
    assert.match(wrong.body.error_description, /bound to another client certificate/);
    const third = (await grants.createSession({ subject: "alice", roles: [], clientId: client.client_id, clientName: "cli", grantType: "authorization_code", scopes: ["mcp:read"], expiresAt: new Date(Date.now() + 3600_000).toISOString(), x5t: thumb }))!;
    const again = await token(direct(W.good), { grant_type: "refresh_token", refresh_token: await grants.issueRefresh(third), client_id: client.client_id }, {});
    assert.is(again.status, 200, JSON.stringify(again.body));
    assert.equal(claimsOf(again.body.access_token).cnf, { "x5t#S256": thumb });
  } finally {
    await h.gateway.close();
  }

  // requireCertificateBoundTokens: no certificate, no token.
  const strict = oauthServer({ upstream: { issuer: "http://127.0.0.1:9", clientId: "gw", clientSecret: "gw-secret-0123456789" }, clients: [{ ...agent, identity: { subject: "agent-1" } }], mtls: cert, requireCertificateBoundTokens: true });
  const h2 = await harness({ auth: [strict, cert], servers: { echo: inProcess({ label: "echo", build: () => echoServer("echo") }) } });
  try {
    const res = await h2.gateway.fetch(new Request("http://gateway.test/oauth/token", { method: "POST", headers: { ...basic, "content-type": "application/x-www-form-urlencoded" }, body: "grant_type=client_credentials" }), { remoteAddress: "192.0.2.10" });
    assert.is(res.status, 401);
    assert.is((await res.json()).error, "invalid_client");
  } finally {
    await h2.gateway.close();
  }
  assert.throws(() => oauthServer({ upstream: { issuer: "http://127.0.0.1:9", clientId: "gw", clientSecret: "gw-secret-0123456789" }, requireCertificateBoundTokens: true }), /auth\.oauth\.requireCertificateBoundTokens: needs mtls/);
  assert.throws(() => oauthServer({ upstream: { issuer: "http://127.0.0.1:9", clientId: "gw", clientSecret: "gw-secret-0123456789" }, mtls: {} as never }), /auth\.oauth\.mtls: expected the strategy/);
});

test.run();
