// JSON configs: the schema file (core/config/gateway.config.schema.json) against its source, an independent
// JSON Schema validator (Ajv, draft 2020-12) and the loader agreeing on valid and invalid configs, every
// example JSON config in the repository, every built-in plugin written as data, and all missing
// environment variables named in one error.
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import process from "node:process";
import Ajv2020 from "ajv/dist/2020.js";
import { type GatewayConfig, isGatewayError } from "../../core/mod.ts";
import { fromJsonConfig } from "../../core/config/json-config.ts";
import { GATEWAY_JSON_SCHEMA, JSON_AUTH_TYPES } from "../../core/config/json-schema.ts";
import { validateJson } from "../../core/config/json-validate.ts";
import { resolveConfig } from "../../core/config/resolve.ts";
import { findMissingEnv } from "../../core/config/interpolate.ts";
import { jsonAuthTypes, jsonPlugins, loadConfigFile } from "../../core/cli/load-config.ts";
import { quietLogger } from "../fixtures/helpers.ts";

const test = suite("json-config");
const ROOT = new URL("../..", import.meta.url).pathname.replace(/\/$/, "");
const SCHEMA_FILE = join(ROOT, "core/config/gateway.config.schema.json");
const MASTER_KEY = btoa("k".repeat(32));

type Validate = ((doc: unknown) => boolean) & { errors?: Array<{ instancePath: string; message?: string }> | null };
let ajvValidate: Validate;
let tmp: string;

/** The loader's verdict: the config, or the ERR_CONFIG message. */
function load(doc: unknown): { config?: GatewayConfig; error?: string } {
  try {
    return { config: fromJsonConfig(structuredClone(doc), jsonPlugins, jsonAuthTypes) };
  } catch (err) {
    assert.ok(isGatewayError(err) && err.code === "ERR_CONFIG", `expected ERR_CONFIG, got ${String(err)}`);
    return { error: err.message };
  }
}

/** Runs `fn` with these variables set (undefined: unset), restoring the environment afterwards. */
async function withEnv<T>(vars: Record<string, string | undefined>, fn: () => T | Promise<T>): Promise<T> {
  const saved = Object.fromEntries(Object.keys(vars).map((k) => [k, process.env[k]]));
  for (const [k, v] of Object.entries(vars)) if (v === undefined) delete process.env[k]; else process.env[k] = v;
  try {
    return await fn();
  } finally {
    for (const [k, v] of Object.entries(saved)) if (v === undefined) delete process.env[k]; else process.env[k] = v;
  }
}

const ENV = {
  JC_ISSUER: "https://id.example.com",
  JC_SECRET: "client-secret-value",
  JC_ADMIN: "an-admin-token-of-at-least-32-characters",
  JC_KEY: MASTER_KEY,
  JC_SEP: "--",
};

// Valid configs: Ajv accepts each, the loader builds each, and the result is a valid gateway config.
const VALID: Array<[string, unknown]> = [
  ["the smallest config", { mcpServers: {} }],
  ["the Portkey-compatible shape", {
    $schema: "../core/config/gateway.config.schema.json",
    server: { port: 9000, host: "0.0.0.0" },
    auth: { type: "api-key", header: "X-Team-Key" },
    mcpServers: {
      a: { command: "node", args: ["x.js"], env: { K: "v" }, cwd: "/tmp" },
      b: { url: "https://mcp.example.com/mcp", headers: { Authorization: "Bearer ${secret:B_TOKEN}" } },
    },
    identityForwarding: { enabled: true, headers: ["email", "roles"] },
  }],
  ["auth turned off without a type", { auth: { enabled: false }, mcpServers: {} }],
  ["several strategies, one of them off", {
    auth: [
      { type: "bearer", realm: "acme" },
      { type: "api-key" },
      { type: "oauth", enabled: false, issuer: 5 },
      {
        type: "oidc",
        issuer: "${JC_ISSUER}",
        audience: ["api://gateway", "gateway"],
        provider: "custom",
        claims: { roles: ["groups", "roles"], email: "email" },
        clockSkewSeconds: 60,
        algorithms: ["RS256", "ES256"],
        scopes: { "mcp:read": "read", "mcp:write": ["write", "admin"] },
        defaultScopes: ["mcp:read"],
        requiredScopes: ["openid"],
        roleMap: { "group-1": "engineering" },
        allowedDomains: ["example.com"],
        trustUnverifiedEmail: false,
        introspection: { clientId: "gw", clientSecret: "${JC_SECRET}", authMethod: "client_secret_post", cacheSeconds: 10, requireAudience: true, maxInFlight: 4 },
        jwks: { cacheMaxAgeSeconds: 300, cooldownSeconds: 10, timeoutMs: 2000 },
        otherIssuers: "skip",
      },
    ],
    mcpServers: {},
  }],
  ["the Portkey oauth block (the gateway signs users in)", {
    auth: { type: "oauth", provider: "okta", issuer: "${JC_ISSUER}", clientId: "gw", clientSecret: "${JC_SECRET}", scopes: ["openid", "groups"], tokenExpiration: "7d" },
    mcpServers: {},
  }],
  ["oauth-server with every option", {
    auth: {
      type: "oauth-server",
      upstream: { issuer: "${JC_ISSUER}", clientId: "gw", clientSecret: "${JC_SECRET}", scopes: ["openid"], provider: "auth0" },
      accessTokenTtl: "30m",
      refreshTokenTtl: "14d",
      codeTtl: "60s",
      loginTtl: "5m",
      clients: [{ clientId: "ci-agent", clientSecret: "a-secret-of-16-chars-or-more", name: "CI", identity: { subject: "ci", roles: ["ci"], permissions: { servers: ["notes"] } }, scopes: ["mcp:read"] }],
      skipConsentFor: ["https://client.example.com/metadata.json"],
      registration: { perMinute: 5, maxClients: 100 },
      claims: { roles: ["groups"], team: "department", org: "org_id" },
      adminRoles: ["gateway-admins"],
      servers: ["notes"],
    },
    mcpServers: {},
  }],
  ["every other top-level setting", {
    server: {
      host: "127.0.0.1", port: 0, maxBodyBytes: 1024, allowedOrigins: ["https://app.example.com"], separator: "${JC_SEP}",
      sessionIdleSeconds: 60, maxSessions: 10, maxSessionsPerUser: 2, bodyTimeoutMs: 1000, headersTimeoutMs: 1000, publicUrl: "https://mcp.example.com",
    },
    mcpServers: { "a__b": { command: "node" } },
    tokens: { store: { type: "memory" }, defaultExpiresIn: "7d", maxExpiresIn: "90d", verifyCacheMs: 0 },
    roles: { dev: { servers: ["*"], tools: ["read", "a__b--*"] } },
    audit: { enabled: true, sinks: [{ type: "console" }] },
    secrets: [{ type: "env", prefix: "MCP_" }, { type: "vault", masterKey: "${JC_KEY}", previousKeys: [] }],
    admin: { token: "${JC_ADMIN}", bootstrap: false },
    identityForwarding: { headers: ["subject", "email"], headerNames: { subject: "X-Sub" }, jwtAssertion: { header: "X-Assert", expiresInSeconds: 120, issuer: "gw", audience: "urn:mcp:{server}" } },
    logLevel: "warn",
  }],
  ["every upstream option", {
    mcpServers: {
      s: {
        type: "stdio", script: "examples/servers/notes.ts", env: { A: "${secret:A}" }, cwd: ".", inheritEnv: true, stderr: "ignore",
        userCredential: { env: "GITHUB_TOKEN", required: false, idleSeconds: 60 }, timeoutMs: 1000, connectTimeoutMs: 1000,
        restart: { initialDelayMs: 10, maxDelayMs: 100 }, allowSampling: false, allowElicitation: false, maxCallerConnections: 4, maxCallerConnectionsPerUser: 2,
        identityForwarding: { enabled: false },
      },
      h: {
        type: "http", url: "http://127.0.0.1:1/mcp", headers: { "X-Key": "k" },
        userCredential: { header: "X-Token", format: "token {credential}", required: true }, identityForwarding: { jwtAssertion: true },
      },
    },
  }],
  ["audit off", { mcpServers: {}, audit: false }],
  ["audit off, the long way", { mcpServers: {}, audit: { enabled: false } }],
  ["operations: proxies, limits, alerts, metrics, tracing, console, keys, token policies", {
    mcpServers: { github: { url: "http://127.0.0.1:9/mcp" } },
    server: { trustedProxies: ["10.0.0.0/8", "::1"] },
    limits: { failedAuth: { lockAfter: 50, lockFor: "10m" }, token: "100/m", server: { github: "60/m", "*": "1000/m" } },
    alerts: [{ when: "auth.failed", count: 10, within: "5m", by: "address" }, { when: "admin.action", severity: "info" }],
    metrics: { allowFrom: ["127.0.0.1"] },
    tracing: { otlp: { url: "http://127.0.0.1:4318/v1/traces", headers: { authorization: "Bearer ${JC_SECRET}" } }, serviceName: "gw" },
    console: { idleTimeout: "15m" },
    keys: { rotateEvery: "30d", retain: "2d" },
    tokens: { maxLifetime: { ci: "8h" }, rotateEvery: { production: "2d" } },
  }],
  ["audit to a file and a file store", { mcpServers: {}, audit: [{ type: "jsonl", path: "/tmp/x.jsonl", maxBuffered: 10, flushMs: 50 }], tokens: { store: { type: "file", dir: "/tmp/portcullis-json-config-store" } } }],
];

// Invalid configs: Ajv refuses each, and the loader's one error names the path given.
const INVALID: Array<[unknown, RegExp]> = [
  [{}, /^\s*mcpServers: required/m],
  [[], /^\s*config: expected an object/m],
  [{ mcpServers: [] }, /^\s*mcpServers: expected an object of servers by name/m],
  [{ mcpServers: {}, server: { port: "80" } }, /^\s*server\.port: expected an integer between 0 and 65535, received "80"/m],
  [{ mcpServers: {}, server: { prot: 80 } }, /^\s*server\.prot: unknown key; expected one of host, port/m],
  [{ mcpServers: {}, server: { separator: "a b" } }, /^\s*server\.separator: expected 1 to 8 characters/m],
  [{ mcpServers: {}, server: { publicUrl: "https://mcp.example.com/x" } }, /^\s*server\.publicUrl: expected the gateway's public URL/m],
  [{ mcpServer: {} }, /^\s*mcpServer: unknown key/m],
  [{ mcpServers: { a: {} } }, /^\s*mcpServers\.a\.command: required, but missing \(expected a command\)/m],
  [{ mcpServers: { a: "node x.js" } }, /^\s*mcpServers\.a: expected \{ command/m],
  [{ mcpServers: { a: { command: "x", args: "y" } } }, /^\s*mcpServers\.a\.args: expected an array of strings/m],
  [{ mcpServers: { a: { command: "x", argz: [] } } }, /^\s*mcpServers\.a\.argz: unknown key/m],
  [{ mcpServers: { "has space": { command: "x" } } }, /^\s*mcpServers\.has space: expected a server name/m],
  [{ mcpServers: { a: { url: "ftp://x" } } }, /^\s*mcpServers\.a\.url: expected an http\(s\) URL/m],
  [{ mcpServers: { a: { command: "x", url: "http://x" } } }, /^\s*mcpServers\.a\.url: unknown key/m],
  [{ mcpServers: { a: { command: "x", stderr: "loud" } } }, /^\s*mcpServers\.a\.stderr: expected one of log, inherit, ignore/m],
  [{ mcpServers: { a: { command: "x", userCredential: {} } } }, /^\s*mcpServers\.a\.userCredential\.env: required/m],
  [{ mcpServers: { a: { command: "x", maxCallerConnections: 0 } } }, /^\s*mcpServers\.a\.maxCallerConnections: expected a positive integer/m],
  [{ mcpServers: { a: { command: "x", type: "http" } } }, /^\s*mcpServers\.a\.type: expected "stdio"/m],
  [{ mcpServers: { a: { url: "http://x", headers: { "bad header": "x" } } } }, /^\s*mcpServers\.a\.headers\.bad header: expected a valid header name/m],
  [{ mcpServers: { a: { url: "http://x", userCredential: { format: "Bearer" } } } }, /^\s*mcpServers\.a\.userCredential\.format: expected a string containing \{credential\}/m],
  [{ mcpServers: { a: { script: "s.ts", identityForwarding: { enable: false } } } }, /^\s*mcpServers\.a\.identityForwarding\.enable: unknown key/m],
  [{ mcpServers: {}, auth: "bearer" }, /^\s*auth: expected an auth strategy/m],
  [{ mcpServers: {}, auth: { type: "magic" } }, /^\s*auth\.type: expected one of bearer, api-key, oauth, oauth-server, oidc, mtls, received "magic"/m],
  [{ mcpServers: {}, auth: { enabled: "yes" } }, /^\s*auth\.enabled: expected true or false/m],
  [{ mcpServers: {}, auth: [{ type: "bearer" }, { type: "api-key", header: 5 }] }, /^\s*auth\[1\]\.header: expected a header name/m],
  [{ mcpServers: {}, auth: { type: "bearer", realm: 5 } }, /^\s*auth\.realm: expected a non-empty string/m],
  [{ mcpServers: {}, auth: { type: "oidc" } }, /^\s*auth\.audience: required/m],
  [{ mcpServers: {}, auth: { type: "oidc", audience: "x", otherIssuers: "maybe" } }, /^\s*auth\.otherIssuers: expected one of refuse, skip/m],
  [{ mcpServers: {}, auth: { type: "oauth-server", upstream: { issuer: "https://x" } } }, /^\s*auth\.upstream\.clientId: required/m],
  [{ mcpServers: {}, auth: { type: "oauth", client_id: "x" } }, /^\s*auth\.client_id: unknown key/m],
  [{ mcpServers: {}, tokens: { store: { type: "redis" } } }, /^\s*tokens\.store\.type: expected one of file, memory, received "redis"/m],
  [{ mcpServers: {}, tokens: { store: { type: "file" } } }, /^\s*tokens\.store\.dir: required/m],
  [{ mcpServers: {}, tokens: { defaultExpiresIn: "forever" } }, /^\s*tokens\.defaultExpiresIn: expected a duration/m],
  [{ mcpServers: {}, tokens: { verifyCacheMs: 60001 } }, /^\s*tokens\.verifyCacheMs: expected milliseconds from 0 to 60000/m],
  [{ mcpServers: {}, roles: { dev: { servers: "x" } } }, /^\s*roles\.dev\.servers: expected an array of strings/m],
  [{ mcpServers: {}, roles: { dev: { server: ["x"] } } }, /^\s*roles\.dev\.server: unknown key; expected one of servers, tools/m],
  [{ mcpServers: {}, audit: [{ type: "jsonl" }] }, /^\s*audit\[0\]\.path: required/m],
  [{ mcpServers: {}, audit: [{ type: "syslog" }] }, /^\s*audit\[0\]\.type: expected one of jsonl, console/m],
  [{ mcpServers: {}, audit: "yes" }, /^\s*audit: expected false, an array of audit sinks/m],
  [{ mcpServers: {}, audit: { enabled: false, sink: [] } }, /^\s*audit\.sink: unknown key/m],
  [{ mcpServers: {}, secrets: [{ type: "vault", masterKey: 5 }] }, /^\s*secrets\[0\]\.masterKey: expected a non-empty string, received 5/m],
  [{ mcpServers: {}, secrets: { type: "env" } }, /^\s*secrets: expected an array of secret sources/m],
  [{ mcpServers: {}, admin: { bootstrap: "no" } }, /^\s*admin\.bootstrap: expected true or false/m],
  [{ mcpServers: {}, identityForwarding: { headers: ["emial"] } }, /^\s*identityForwarding\.headers\[0\]: expected one of subject, email/m],
  [{ mcpServers: {}, identityForwarding: { headerNames: { emial: "X" } } }, /^\s*identityForwarding\.headerNames\.emial: expected one of subject, email/m],
  [{ mcpServers: {}, identityForwarding: { jwtAssertion: { expiresInSeconds: 5 } } }, /^\s*identityForwarding\.jwtAssertion\.expiresInSeconds: expected a whole number of seconds from 10 to 3600/m],
  [{ mcpServers: {}, logLevel: "loud" }, /^\s*logLevel: expected one of debug, info, warn, error, silent/m],
  [{ mcpServers: {}, limits: { token: "lots" } }, /^\s*limits\.token: expected a rate such as 100\/m/m],
  [{ mcpServers: {}, limits: { failedAuth: { lockAfer: 5 } } }, /^\s*limits\.failedAuth\.lockAfer: unknown key/m],
  [{ mcpServers: {}, alerts: [{ when: "auth.fail" }] }, /^\s*alerts\[0\]\.when: expected auth\.failed/m],
  [{ mcpServers: {}, metrics: { allowFrom: "10.0.0.0/8" } }, /^\s*metrics\.allowFrom: expected an array of addresses/m],
  [{ mcpServers: {}, server: { trustedProxies: "10.0.0.0/8" } }, /^\s*server\.trustedProxies: expected an array of addresses/m],
  [{ mcpServers: {}, tokens: { maxLifetime: { staging: "1d" } } }, /^\s*tokens\.maxLifetime\.staging: unknown key/m],
];

test.before(async () => {
  const Ajv = (Ajv2020 as unknown as { default?: typeof Ajv2020 }).default ?? Ajv2020;
  // Strict: a keyword Ajv does not know (a typo in the schema) fails compilation, except our errorMessage.
  const ajv = new (Ajv as unknown as new (o: object) => { addKeyword(k: string): void; compile(s: unknown): Validate })({ allErrors: true, strict: true, strictTypes: false });
  ajv.addKeyword("errorMessage");
  ajvValidate = ajv.compile(JSON.parse(await readFile(SCHEMA_FILE, "utf8")));
  tmp = await mkdtemp(join(tmpdir(), "portcullis-json-config-"));
});

test.after(async () => {
  await rm(tmp, { recursive: true, force: true });
});

test("core/config/gateway.config.schema.json is the schema the loader uses (regenerate: core/cli/write-schema.ts)", async () => {
  const file = JSON.parse(await readFile(SCHEMA_FILE, "utf8"));
  assert.equal(file, JSON.parse(JSON.stringify(GATEWAY_JSON_SCHEMA)), "the schema file is out of date: node --import ./core/serve/node-ts-register.mjs core/cli/write-schema.ts");
  assert.is(file.$schema, "https://json-schema.org/draft/2020-12/schema");
  assert.equal(JSON_AUTH_TYPES, Object.keys(jsonAuthTypes), "every auth type the loader builds is described by the schema, and no other");
});

test("valid configs: the schema (Ajv) and the loader both accept them, and they resolve", async () => {
  await withEnv(ENV, () => {
    for (const [what, doc] of VALID) {
      assert.ok(ajvValidate(doc), `${what}: Ajv refused it: ${JSON.stringify(ajvValidate.errors)}`);
      assert.equal(validateJson(Object.fromEntries(Object.entries(doc as object).filter(([k]) => k !== "auth")), GATEWAY_JSON_SCHEMA), [], what);
      const { config, error } = load(doc);
      assert.ok(config, `${what}: the loader refused it: ${error}`);
      const resolved = resolveConfig({ ...config!, logger: quietLogger });
      assert.ok(resolved, what);
    }
  });
});

test("the operations settings of a JSON config take effect as in a TypeScript config", async () => {
  await withEnv(ENV, () => {
    const doc = VALID.find(([what]) => what.startsWith("operations"))![1];
    const resolved = resolveConfig({ ...load(doc).config!, logger: quietLogger });
    assert.equal(resolved.server.trustedProxies, ["10.0.0.0/8", "::1"]);
    assert.is(resolved.limits?.failedAuth?.lockAfter, 50);
    assert.is(resolved.limits?.failedAuth?.lockMs, 600_000);
    assert.is(resolved.alerts?.length, 2);
    assert.equal(resolved.metrics, { enabled: true, allowFrom: ["127.0.0.1"] });
    assert.equal(resolved.tracing?.otlp, { url: "http://127.0.0.1:4318/v1/traces", headers: { authorization: "Bearer client-secret-value" } });
    assert.is(resolved.keys?.rotateEverySeconds, 30 * 86400);
    assert.is(resolved.tokens.policy.maxLifetimeSeconds.ci, 8 * 3600);
  });
  // A proxy entry that is no address is refused naming it.
  assert.throws(() => resolveConfig({ ...load({ mcpServers: {}, server: { trustedProxies: ["ten.0.0.0/8"] } }).config!, logger: quietLogger }), /server\.trustedProxies\[0\]: expected an IP address or CIDR range/);
});

test("invalid configs: the schema (Ajv) and the loader both refuse them; the error names the JSON path and what was expected", () => {
  for (const [doc, expected] of INVALID) {
    assert.not.ok(ajvValidate(doc), `Ajv accepted ${JSON.stringify(doc)}`);
    const { error } = load(doc);
    assert.ok(error, `the loader accepted ${JSON.stringify(doc)}`);
    assert.match(error!, expected, `${JSON.stringify(doc)}:\n${error}`);
  }
});

test("every example JSON config in the repository is valid for the schema and loads", async () => {
  // Gateway configs are named *.config.json; other JSON in examples/ (the Grafana dashboard) is not one.
  const examples = (await readdir(join(ROOT, "examples"), { recursive: true })).filter((f) => f.endsWith(".config.json"));
  assert.ok(examples.length >= 2, `examples found: ${examples.join(", ")}`);
  for (const file of examples) {
    const doc = JSON.parse(await readFile(join(ROOT, "examples", file), "utf8"));
    assert.ok(ajvValidate(doc), `examples/${file}: ${JSON.stringify(ajvValidate.errors)}`);
    assert.is(doc.$schema, "../core/config/gateway.config.schema.json", `examples/${file} names the schema`);
    // Whatever ${VAR} an example uses is given a value a real deployment could have.
    const vars: Record<string, string> = { PORTCULLIS_MASTER_KEY: MASTER_KEY };
    for (const { name } of findMissingEnv(doc)) vars[name] ??= /ISSUER|URL/.test(name) ? "https://id.example.com/oauth2/default" : `example-${name.toLowerCase()}`;
    await withEnv(vars, async () => {
      const config = await loadConfigFile(join(ROOT, "examples", file));
      const resolved = resolveConfig({ ...config, logger: quietLogger });
      assert.ok(Object.keys(resolved.servers).length > 0, `examples/${file} has servers`);
      await resolved.tokens.store.close();
    });
  }
});

test("each built-in plugin written as data becomes that plugin, with its options", async () => {
  await withEnv(ENV, () => {
    const full = load(VALID.find(([w]) => w === "every other top-level setting")![1]).config!;
    assert.equal(full.server?.separator, "--", "the separator is interpolated");
    assert.is(full.tokens?.store?.name, "store:memory");
    assert.equal([full.tokens?.defaultExpiresIn, full.tokens?.maxExpiresIn, full.tokens?.verifyCacheMs], ["7d", "90d", 0]);
    assert.equal((full.audit as Array<{ name: string }>).map((a) => a.name), ["audit:console"]);
    assert.equal(full.secrets?.map((s) => s.name), ["secrets:env", "secrets:vault"]);
    assert.equal(full.identity?.map((m) => m.name), ["identity:headers", "identity:jwt-assertion"]);
    assert.ok(full.identity![0]!.headerNames!().includes("X-Sub"), "headerNames rename the headers");
    assert.ok(full.identity![1]!.headerNames!().includes("X-Assert"));
    assert.equal(full.admin, { token: "${JC_ADMIN}", bootstrap: false }, "admin.token is left for resolveConfig to interpolate, once");
    const resolved = resolveConfig({ ...full, logger: quietLogger });
    assert.is(resolved.admin.token, ENV.JC_ADMIN);
    assert.is(resolved.tokens.defaultLifetimeSeconds, 7 * 86400);
    assert.equal(resolved.roles, { dev: { servers: ["*"], tools: ["read", "a__b--*"] } });

    const ups = load(VALID.find(([w]) => w === "every upstream option")![1]).config!;
    const s = ups.servers.s!;
    assert.equal([s.timeoutMs, s.connectTimeoutMs, s.restart, s.allowSampling, s.allowElicitation, s.maxCallerConnections, s.maxCallerConnectionsPerUser], [1000, 1000, { initialDelayMs: 10, maxDelayMs: 100 }, false, false, 4, 2]);
    assert.equal(s.perUser, { required: false, idleSeconds: 60 });
    assert.is(s.identity, false, "identityForwarding.enabled false on a server forwards nothing to it");
    assert.equal(s.secretNames?.(), ["A"]);
    const h = ups.servers.h!;
    assert.equal(h.perUser, { required: true });
    assert.equal((h.identity as Array<{ name: string }>).map((m) => m.name), ["identity:headers", "identity:jwt-assertion"]);

    const strategies = load(VALID.find(([w]) => w === "several strategies, one of them off")![1]).config!.auth as Array<{ name: string }>;
    assert.equal(strategies.map((a) => a.name), ["auth:bearer", "auth:api-key", "auth:oidc"], "the disabled entry is left out");
    assert.is((load(VALID.find(([w]) => w === "oauth-server with every option")![1]).config!.auth as { name: string }).name, "auth:oauth", "one strategy stays one");

    assert.is(load({ mcpServers: {}, audit: false }).config!.audit, false);
    assert.is(load({ mcpServers: {}, audit: { enabled: false } }).config!.audit, false);
    assert.is(load({ mcpServers: {}, audit: true }).config!.audit, undefined, "true leaves the default");
    assert.is(load({ mcpServers: {} }).config!.audit, undefined);
    assert.is(load({ mcpServers: {}, auth: { enabled: false } }).config!.auth, undefined);
  });
});

test("what only a plugin can tell is still an error naming the JSON path", async () => {
  await withEnv({ ...ENV, JC_BAD_KEY: "not-a-key" }, () => {
    assert.match(load({ mcpServers: {}, auth: { type: "oidc", audience: "x", issuer: "http://idp.example.com" } }).error!, /^\s*auth\.issuer: expected an https URL/m);
    assert.match(load({ mcpServers: {}, auth: [{ type: "bearer" }, { type: "oauth-server", upstream: { issuer: "http://idp.example.com", clientId: "a", clientSecret: "b" } }] }).error!, /^\s*auth\[1\]\.upstream\.issuer: expected an https URL/m);
    assert.match(load({ mcpServers: {}, secrets: [{ type: "vault", masterKey: "${JC_BAD_KEY}" }] }).error!, /^\s*secrets\[0\]\.masterKey: expected 32 random bytes/m);
    assert.match(load({ mcpServers: { "a__b": { command: "x" } } }).error!, /^\s*mcpServers\.a__b: server name "a__b" contains the separator "__"/m);
    assert.match(load({ mcpServers: { a: { command: "x", args: ["--port=$${PORT}"], cwd: "" } } }).error!, /^\s*mcpServers\.a\.cwd: expected a directory/m);
    const both = load({ mcpServers: { a: { url: "http://[bad/mcp" }, b: { url: "https://[x" } } }).error!;
    assert.match(both, /^\s*mcpServers\.a\.url: expected an http\(s\) URL/m);
    assert.match(both, /^\s*mcpServers\.b\.url: expected an http\(s\) URL/m, "problems of several servers are reported together");
    const secret = load({ mcpServers: {}, auth: { type: "oauth-server", upstream: { issuer: "https://x.example.com", clientId: "a", clientSecret: "b" }, clients: [{ clientId: "c", clientSecret: "too-short", identity: { subject: "s" } }] } }).error!;
    assert.match(secret, /auth\.clients\[0\]\.clientSecret/);
    assert.not.match(secret, /too-short/, "a secret is never echoed");
  });
});

test("every missing environment variable is named in one error, each with its JSON path", async () => {
  await withEnv({ JC_MISSING_A: undefined, JC_MISSING_B: undefined, JC_MISSING_C: undefined, JC_SET: "set" }, () => {
    const { error } = load({
      server: { host: "${JC_MISSING_C}" },
      auth: { type: "oauth", issuer: "${JC_MISSING_A}", clientId: "${JC_SET}", clientSecret: "${JC_MISSING_B}" },
      mcpServers: {
        gh: { command: "gh-mcp", env: { TOKEN: "${JC_MISSING_A}", LITERAL: "$${JC_MISSING_B}" }, cwd: "/srv/${JC_MISSING_B}" },
        web: { url: "https://mcp.example.com/mcp", headers: { Authorization: "Bearer ${JC_MISSING_C}" } },
      },
    });
    assert.ok(error);
    for (const line of [
      "server.host: environment variable JC_MISSING_C is not set",
      "auth.issuer: environment variable JC_MISSING_A is not set",
      "auth.clientSecret: environment variable JC_MISSING_B is not set",
      "mcpServers.gh.env.TOKEN: environment variable JC_MISSING_A is not set",
      "mcpServers.gh.cwd: environment variable JC_MISSING_B is not set",
      "mcpServers.web.headers.Authorization: environment variable JC_MISSING_C is not set",
    ]) assert.ok(error!.includes(line), `missing line ${line} in:\n${error}`);
    assert.not.match(error!, /LITERAL/, "$${ is a literal, not a variable");
    assert.not.match(error!, /JC_SET/);
  });
});

test("schema problems and missing variables are reported together", async () => {
  await withEnv({ JC_MISSING_A: undefined }, () => {
    const { error } = load({ server: { port: "80" }, mcpServers: { a: { command: "${JC_MISSING_A}" } } });
    assert.match(error!, /server\.port: expected an integer/);
    assert.match(error!, /mcpServers\.a\.command: environment variable JC_MISSING_A is not set/);
  });
});

test.run();
