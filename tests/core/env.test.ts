// The gateway's own environment variables: the Portkey names PORTKEY_AUTH_TYPE / PORTKEY_AUTH_ENABLED as
// aliases of PORTCULLIS_AUTH_TYPE / PORTCULLIS_AUTH_ENABLED, and a warning naming (never showing) every
// PORTCULLIS_* or PORTKEY_* variable the gateway does not know.
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { isGatewayError, type GatewayConfig } from "../../core/mod.ts";
import { authFromEnv, closestKnownEnv, KNOWN_ENV, unknownEnv, warnAboutEnv } from "../../core/config/env.ts";
import { interpolate } from "../../core/config/interpolate.ts";
import { authWithEnvironment } from "../../core/cli/load-config.ts";
import { bearer, oidc } from "../../plugins/mod.ts";

const test = suite("env");

function names(auth: GatewayConfig["auth"]): string[] {
  return (auth === undefined ? [] : Array.isArray(auth) ? auth : [auth]).map((s) => s.name);
}

function configError(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    assert.ok(isGatewayError(err) && err.code === "ERR_CONFIG", String(err));
    return err.message;
  }
  assert.unreachable("expected a config error");
  return "";
}

function capture(): { log: { debug(m: string): void; info(m: string): void; warn(m: string, f?: Record<string, unknown>): void; error(m: string): void }; lines: string[] } {
  const lines: string[] = [];
  const add = (m: string, f?: Record<string, unknown>) => void lines.push(`${m} ${f ? JSON.stringify(f) : ""}`);
  return { log: { debug: add, info: add, warn: add, error: add }, lines };
}

test("PORTKEY_AUTH_TYPE and PORTKEY_AUTH_ENABLED are read as PORTCULLIS_AUTH_TYPE and PORTCULLIS_AUTH_ENABLED", () => {
  assert.equal(authFromEnv({ PORTKEY_AUTH_TYPE: "api-key" }).type, { value: "api-key", from: "PORTKEY_AUTH_TYPE" });
  assert.equal(authFromEnv({ PORTKEY_AUTH_ENABLED: "false" }).enabled, { value: false, from: "PORTKEY_AUTH_ENABLED" });
  assert.equal(authFromEnv({ PORTKEY_AUTH_ENABLED: "TRUE" }).enabled, { value: true, from: "PORTKEY_AUTH_ENABLED" });
  assert.equal(authFromEnv({ PORTCULLIS_AUTH_TYPE: "bearer", PORTKEY_AUTH_TYPE: "api-key" }).type, { value: "bearer", from: "PORTCULLIS_AUTH_TYPE" }, "the gateway's own name wins");
  assert.equal(authFromEnv({ PORTCULLIS_AUTH_TYPE: "", PORTKEY_AUTH_TYPE: "api-key" }).type?.from, "PORTKEY_AUTH_TYPE", "an empty variable counts as unset");
  assert.equal(authFromEnv({}), { type: undefined, enabled: undefined });
  const message = configError(() => authFromEnv({ PORTKEY_AUTH_ENABLED: "sometimes" }));
  assert.match(message, /^PORTKEY_AUTH_ENABLED: expected true or false, received "sometimes"/, "the error names the variable that was set");
});

test("the aliases change the config's auth as the PORTCULLIS_ names do", () => {
  const config: GatewayConfig = { auth: [bearer()], servers: {} };
  assert.equal(names(authWithEnvironment(config, { PORTKEY_AUTH_TYPE: "api-key" })), ["auth:api-key"]);
  assert.equal(names(authWithEnvironment(config, { PORTKEY_AUTH_TYPE: "api-key", PORTCULLIS_API_KEY_HEADER: "X-Team-Key" })), ["auth:api-key"]);
  assert.equal(authWithEnvironment(config, { PORTKEY_AUTH_ENABLED: "false", PORTKEY_AUTH_TYPE: "api-key" }), [], "enabled=false wins over a type");
  assert.is(authWithEnvironment(config, {}), config.auth, "nothing set: the config's auth");
  assert.match(configError(() => authWithEnvironment(config, { PORTKEY_AUTH_TYPE: "magic" })), /^PORTKEY_AUTH_TYPE: expected one of bearer, api-key, oauth, oauth-server, oidc, mtls, received "magic"/);
  assert.match(configError(() => authWithEnvironment(config, { PORTKEY_AUTH_TYPE: "oidc" })), /^PORTKEY_AUTH_TYPE=oidc: the config must give the OAuth settings/);
  const withOidc: GatewayConfig = { auth: [oidc({ issuer: "https://id.example.com", audience: "gw" }), bearer()], servers: {} };
  assert.is(authWithEnvironment(withOidc, { PORTCULLIS_AUTH_TYPE: "oauth" }), withOidc.auth, "oauth keeps the config's OAuth strategy");
});

test("unknownEnv lists PORTCULLIS_* and PORTKEY_* variables the gateway does not read, and nothing else", () => {
  const env = {
    PORTCULLIS_PROT: "8080",
    PORTKEY_AUTH_TYP: "bearer",
    PORTCULLIS_PORT: "8080",
    PORTKEY_AUTH_TYPE: "bearer",
    PORTCULLIS_SECRET_GITHUB: "x",
    PORTCULLIS_ENV_TEST_USED: "y",
    PATH: "/usr/bin",
    PORTCULLISX: "z",
  };
  // A variable a config names with ${VAR} is the config's, not a typo.
  assert.is(interpolate("${PORTCULLIS_ENV_TEST_USED}", "x", (n) => env[n as keyof typeof env]), "y");
  assert.equal(unknownEnv(env), ["PORTCULLIS_PROT", "PORTKEY_AUTH_TYP"]);
  assert.equal(unknownEnv(env, ["PORTCULLIS_PROT"]), ["PORTKEY_AUTH_TYP"]);
  // secret("AUTH_TYP") would be read from $PORTKEY_AUTH_TYP by envSecrets({ prefix: "PORTKEY_" }).
  assert.equal(unknownEnv(env, [], ["AUTH_TYP"]), ["PORTCULLIS_PROT"]);
  for (const name of KNOWN_ENV) assert.equal(unknownEnv({ [name]: "1" }), [], name);
  assert.is(closestKnownEnv("PORTCULLIS_PROT"), "PORTCULLIS_PORT");
  assert.is(closestKnownEnv("PORTKEY_AUTH_TYP"), "PORTKEY_AUTH_TYPE");
  assert.is(closestKnownEnv("PORTCULLIS_SOMETHING_ELSE_ENTIRELY"), undefined);
});

test("warnAboutEnv warns once per unknown variable, naming it and never its value", () => {
  const { log, lines } = capture();
  warnAboutEnv({ PORTCULLIS_PROT: "s3cret-looking-value", PORTCULLIS_PORT: "1", HOME: "/root" }, log);
  assert.is(lines.length, 1, lines.join("\n"));
  assert.match(lines[0]!, /unknown environment variable PORTCULLIS_PROT is ignored; did you mean PORTCULLIS_PORT\?/);
  assert.not.match(lines.join("\n"), /s3cret-looking-value/);
  const conflict = capture();
  warnAboutEnv({ PORTCULLIS_AUTH_TYPE: "bearer", PORTKEY_AUTH_TYPE: "api-key" }, conflict.log);
  assert.equal(conflict.lines.map((l) => l.trim()), ["PORTCULLIS_AUTH_TYPE and PORTKEY_AUTH_TYPE differ; PORTCULLIS_AUTH_TYPE is used"]);
  const quiet = capture();
  warnAboutEnv({ PORTCULLIS_AUTH_TYPE: "bearer", PORTKEY_AUTH_TYPE: "bearer", PORTCULLIS_DATA_DIR: "/d" }, quiet.log);
  assert.equal(quiet.lines, []);
});

test.run();
