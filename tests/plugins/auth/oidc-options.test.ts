// oidc() option validation, in-process and without an IdP: every bad option is an ERR_CONFIG error at
// config time naming its path, secrets are never echoed, and every preset's good options resolve.
import { suite } from "uvu";
import * as assert from "uvu/assert";
import process from "node:process";
import { oidc } from "../../../plugins/mod.ts";
import type { OidcOptions } from "../../../plugins/auth/oidc.ts";
import { resolveOptions } from "../../../plugins/auth/oidc/options.ts";

const test = suite("oidc-options");
const TENANT = "72f988bf-86f1-41af-91ab-2d7cd011db47";
const BASE = { issuer: "https://idp.example.com", audience: "api://portcullis" };
const SECRET = "s3cr3t-value";
const INTROSPECTION = { clientId: "gateway", clientSecret: SECRET };

/** The ERR_CONFIG message `oidc(options)` throws; fails when it does not throw one. */
function configError(options: unknown): string {
  try {
    oidc(options as OidcOptions);
  } catch (err) {
    assert.is((err as { code?: string }).code, "ERR_CONFIG", String(err));
    return (err as Error).message;
  }
  assert.unreachable(`expected a config error for ${JSON.stringify(options)}`);
  return "";
}

test("each bad option is a config error naming its path", () => {
  const cases: Array<[unknown, string]> = [
    [undefined, "oidc"],
    ["okta", "oidc"],
    [{ audience: "a" }, "oidc.issuer"],
    [{ ...BASE, issuer: "http://idp.example.com" }, "oidc.issuer"],
    [{ ...BASE, issuer: "https://idp.example.com/?x=1" }, "oidc.issuer"],
    [{ ...BASE, issuer: 42 }, "oidc.issuer"],
    [{ issuer: BASE.issuer }, "oidc.audience"],
    [{ ...BASE, audience: "" }, "oidc.audience"],
    [{ ...BASE, audience: [] }, "oidc.audience"],
    [{ ...BASE, provider: "keycloak" }, "oidc.provider"],
    [{ ...BASE, tenant: TENANT }, "oidc.tenant"],
    [{ provider: "azure-ad", tenant: "contoso", audience: "a" }, "oidc.tenant"],
    [{ provider: "azure-ad", tenant: TENANT, issuer: "https://login.microsoftonline.com/common/v2.0", audience: "a" }, "oidc.issuer"],
    [{ provider: "okta", issuer: "https://dev-1.okta.com", audience: "a" }, "oidc.issuer"],
    [{ provider: "auth0", issuer: "https://x.auth0.com", audience: "a" }, "oidc.issuer"],
    [{ provider: "google", issuer: "https://evil.example.com", audience: "a" }, "oidc.issuer"],
    [{ ...BASE, clockSkewSeconds: 301 }, "oidc.clockSkewSeconds"],
    [{ ...BASE, clockSkewSeconds: "30" }, "oidc.clockSkewSeconds"],
    [{ ...BASE, algorithms: "RS256" }, "oidc.algorithms"],
    [{ ...BASE, algorithms: [] }, "oidc.algorithms"],
    [{ ...BASE, algorithms: ["ES256", "HS256"] }, "oidc.algorithms[1]"],
    [{ ...BASE, claims: "sub" }, "oidc.claims"],
    [{ ...BASE, claims: { subject: [] } }, "oidc.claims.subject"],
    [{ ...BASE, claims: { groups: "groups" } }, "oidc.claims.groups"],
    [{ ...BASE, scopes: "mcp:read" }, "oidc.scopes"],
    [{ ...BASE, scopes: { "mcp:write": "" } }, "oidc.scopes.mcp:write"],
    [{ ...BASE, defaultScopes: "mcp:read" }, "oidc.defaultScopes"],
    [{ ...BASE, requiredScopes: [""] }, "oidc.requiredScopes"],
    [{ ...BASE, roleMap: { admins: [1] } }, "oidc.roleMap.admins"],
    [{ ...BASE, allowedDomains: "example.com" }, "oidc.allowedDomains"],
    [{ ...BASE, trustUnverifiedEmail: 1 }, "oidc.trustUnverifiedEmail"],
    [{ ...BASE, introspection: true }, "oidc.introspection"],
    [{ ...BASE, introspection: { clientSecret: SECRET } }, "oidc.introspection.clientId"],
    [{ ...BASE, introspection: { clientId: "gateway" } }, "oidc.introspection.clientSecret"],
    [{ ...BASE, introspection: { ...INTROSPECTION, authMethod: "private_key_jwt" } }, "oidc.introspection.authMethod"],
    [{ ...BASE, introspection: { ...INTROSPECTION, cacheSeconds: 61 } }, "oidc.introspection.cacheSeconds"],
    [{ ...BASE, introspection: { ...INTROSPECTION, requireAudience: "yes" } }, "oidc.introspection.requireAudience"],
    [{ ...BASE, introspection: { ...INTROSPECTION, maxInFlight: 2.5 } }, "oidc.introspection.maxInFlight"],
    [{ ...BASE, jwks: 600 }, "oidc.jwks"],
    [{ ...BASE, jwks: { cacheMaxAgeSeconds: 86401 } }, "oidc.jwks.cacheMaxAgeSeconds"],
    [{ ...BASE, jwks: { cooldownSeconds: -1 } }, "oidc.jwks.cooldownSeconds"],
    [{ ...BASE, jwks: { timeoutMs: 99 } }, "oidc.jwks.timeoutMs"],
    [{ ...BASE, otherIssuers: "ignore" }, "oidc.otherIssuers"],
  ];
  for (const [options, path] of cases) {
    const message = configError(options);
    assert.ok(message.startsWith(`${path}: `), `${JSON.stringify(options)} -> ${message}`);
    assert.match(message, /: (expected|unknown field|is only used)/);
  }
});

test("the texts operators and the JSON config rely on", () => {
  assert.is(configError({ ...BASE, issuer: "http://idp.example.com" }), 'oidc.issuer: expected an https URL (http only on loopback), received "http://idp.example.com"');
  assert.is(configError({ provider: "azure-ad", audience: "a" }), "oidc.issuer: expected an https URL (or set oidc.tenant), received nothing");
  assert.match(configError({ provider: "okta", issuer: "https://dev-1.okta.com", audience: "a" }), /^oidc\.issuer: expected an Okta custom authorization server/);
  assert.is(configError({ ...BASE, provider: "okta", tenant: TENANT }), 'oidc.tenant: is only used with provider "azure-ad"');
  assert.is(configError({ ...BASE, clockSkewSeconds: 3600 }), "oidc.clockSkewSeconds: expected a number of seconds between 0 and 300, received 3600");
  assert.match(configError({ ...BASE, claims: { group: "g" } }), /^oidc\.claims\.group: unknown field; expected one of subject, email/);
});

test("secrets are never echoed, not even where they do not belong", () => {
  for (const options of [
    { ...BASE, introspection: { clientId: "c", clientSecret: 12345 } },
    { ...BASE, introspection: { clientId: SECRET, clientSecret: "" } },
    { ...BASE, introspection: { clientId: { SECRET }, clientSecret: SECRET } },
    { ...BASE, introspection: SECRET },
    { ...BASE, introspection: { ...INTROSPECTION, cacheSeconds: 300 } },
  ]) {
    const message = configError(options);
    assert.not.match(message, SECRET);
    assert.not.match(message, "12345");
  }
});

test("every preset accepts good options and fills in its defaults", () => {
  for (const options of [
    { provider: "okta", issuer: "https://dev-1.okta.com/oauth2/default", audience: "api://portcullis" },
    { provider: "auth0", issuer: "https://example.us.auth0.com/", audience: "https://api.example.com" },
    { provider: "azure-ad", tenant: TENANT, audience: "api://portcullis" },
    { provider: "google", audience: "client-id.apps.googleusercontent.com" },
    { provider: "custom", issuer: "https://keycloak.example.com/realms/acme", audience: ["a", "b"] },
    { issuer: "http://127.0.0.1:9999", audience: "a", provider: "okta" },
  ] as OidcOptions[]) {
    assert.is(oidc(options).name, "auth:oidc", JSON.stringify(options));
  }
  const azure = resolveOptions({ provider: "azure-ad", tenant: TENANT.toUpperCase(), audience: "api://portcullis" });
  assert.is(azure.tenant, TENANT);
  assert.is(azure.issuer, `https://login.microsoftonline.com/${TENANT}/v2.0`);
  const google = resolveOptions({ provider: "google", audience: "x" });
  assert.is(google.issuer, "https://accounts.google.com");
  assert.equal(google.aliases, ["accounts.google.com"]);
  assert.equal(google.defaultScopes, ["mcp:read", "mcp:write"]);
  const custom = resolveOptions(BASE);
  assert.equal(custom.audience, ["api://portcullis"]);
  assert.is(custom.clockSkew, 30);
  assert.is(custom.otherIssuers, "refuse");
  assert.is(custom.introspection, undefined);
  assert.equal(custom.jwks, { cacheMaxAgeMs: 600_000, cooldownMs: 30_000 });
  assert.is(custom.timeoutMs, 5000);
  assert.equal(custom.scopeMap, { "mcp:read": ["mcp:read"], "mcp:write": ["mcp:write"], admin: ["admin"] });
  assert.not.ok(custom.insecure);
  assert.ok(resolveOptions({ issuer: "http://localhost:9999", audience: "a" }).insecure);
});

test("options resolve as written: overrides, lists and lower-cased domains", () => {
  const o = resolveOptions({
    ...BASE,
    provider: "okta",
    issuer: "https://dev-1.okta.com/oauth2/default",
    claims: { email: "mail", roles: undefined },
    scopes: { "mcp:read": "api.read", "mcp:write": ["api.write", "api.all"] },
    roleMap: { "Admins": "admin", "Nobody": [] },
    allowedDomains: ["Example.COM"],
    introspection: { ...INTROSPECTION, authMethod: "client_secret_post", cacheSeconds: 0, requireAudience: false, maxInFlight: 4 },
    jwks: { cacheMaxAgeSeconds: 60, cooldownSeconds: 5, timeoutMs: 1000 },
  });
  assert.is(o.claims.email, "mail");
  assert.is(o.claims.subject?.toString(), "uid,sub", "the preset's other fields stay");
  assert.ok("roles" in o.claims && o.claims.roles === undefined, "an explicit undefined turns the preset's field off");
  assert.is(o.verifiedEmailClaims, undefined);
  assert.equal(o.scopeMap, { "mcp:read": ["api.read"], "mcp:write": ["api.write", "api.all"] });
  assert.equal(o.roleMap, { Admins: ["admin"], Nobody: [] });
  assert.equal(o.allowedDomains, ["example.com"]);
  assert.equal({ ...o.introspection, auth: typeof o.introspection?.auth }, { clientId: "gateway", auth: "function", cacheMs: 0, requireAudience: false, maxInFlight: 4 });
  assert.equal(o.jwks, { cacheMaxAgeMs: 60_000, cooldownMs: 5000 });
  assert.is(o.timeoutMs, 1000);
});

test("${VAR} in options is read from the environment, once, at config time", () => {
  const name = "PORTCULLIS_TEST_OIDC_AUDIENCE";
  process.env[name] = "api://from-env";
  try {
    assert.equal(resolveOptions({ ...BASE, audience: `\${${name}}` }).audience, ["api://from-env"]);
  } finally {
    delete process.env[name];
  }
  assert.match(configError({ ...BASE, audience: `\${${name}}` }), /^oidc\.audience/);
});

test.run();
