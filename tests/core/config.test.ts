// Configuration: validation errors that name the config path, `${VAR}` interpolation, the seed's JSON
// shape, and loading config files from disk.
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import process from "node:process";
import { createGateway, defineGateway, type GatewayConfig } from "../../core/mod.ts";
import { interpolate, interpolateDeep } from "../../core/config/interpolate.ts";
import { fromJsonConfig } from "../../core/config/json-config.ts";
import { resolveConfig } from "../../core/config/resolve.ts";
import { loadConfigFile } from "../../core/cli/load-config.ts";
import { http, identityHeaders, stdio } from "../../plugins/mod.ts";
import { quietLogger, testAuth } from "../fixtures/helpers.ts";

const test = suite("config");

/** The arguments the stdio transport would spawn the server with (read from the unstarted transport). */
async function spawnArgs(upstream: { createTransport(ctx: never): unknown }): Promise<string[]> {
  const transport = await upstream.createTransport({ secret: () => Promise.reject(new Error("no secrets here")) } as never);
  return (transport as { _serverParams: { args: string[] } })._serverParams.args;
}

const SET = "PORTCULLIS_TEST_SET_VAR";
const MISSING = "PORTCULLIS_TEST_MISSING_VAR";
const SECRET = "s3cret-value-from-env";
let dir: string;

/** Runs `fn`, asserts it throws a GatewayError with code ERR_CONFIG, and returns the message. */
function configError(fn: () => unknown, ...patterns: RegExp[]): string {
  let caught: unknown;
  try {
    fn();
  } catch (err) {
    caught = err;
  }
  return checkConfigError(caught, patterns);
}

async function configErrorAsync(fn: () => Promise<unknown>, ...patterns: RegExp[]): Promise<string> {
  let caught: unknown;
  try {
    await fn();
  } catch (err) {
    caught = err;
  }
  return checkConfigError(caught, patterns);
}

function checkConfigError(caught: unknown, patterns: RegExp[]): string {
  assert.ok(caught, "expected a config error, nothing was thrown");
  const err = caught as { code?: unknown; message?: unknown; name?: unknown };
  assert.is(err.code, "ERR_CONFIG", `expected ERR_CONFIG, got ${String(err.code)}: ${String(err.message)}`);
  assert.is(err.name, "GatewayError");
  const message = String(err.message);
  for (const p of patterns) assert.match(message, p);
  return message;
}

/** A valid upstream that is never started (resolveConfig does not connect). */
const idle = () => stdio({ command: "node", args: ["-e", ""] });

const SEED = {
  server: { port: 9000 },
  mcpServers: {
    a: { command: "node", args: ["x.js"], env: { K: `\${${SET}}` } },
    b: { url: "http://127.0.0.1:1/mcp", headers: { Authorization: `Bearer \${${SET}}` } },
  },
};

test.before(async () => {
  process.env[SET] = SECRET;
  delete process.env[MISSING];
  dir = await mkdtemp(join(tmpdir(), "portcullis-config-"));
});

test.after(async () => {
  delete process.env[SET];
  await rm(dir, { recursive: true, force: true });
});

// --- createGateway / resolveConfig ---------------------------------------------------------------

test("a valid config resolves with the documented defaults; defineGateway returns its input", async () => {
  const input = { servers: { notes: idle() } };
  assert.is(defineGateway(input), input);
  const resolved = resolveConfig(input);
  assert.equal(resolved.server.host, "127.0.0.1");
  assert.is(resolved.server.port, 8787);
  assert.is(resolved.server.separator, "__");
  assert.equal(resolved.auth, []);
  assert.equal(Object.keys(resolved.servers), ["notes"]);
  const strategy = await testAuth();
  assert.equal(resolveConfig({ auth: strategy, servers: {} }).auth, [strategy], "a single strategy becomes a list of one");
  const custom = resolveConfig({ servers: {}, server: { port: 0, separator: "--", host: "::1" } });
  assert.equal([custom.server.port, custom.server.separator, custom.server.host], [0, "--", "::1"]);
});

test("a typo'd top-level key names the path and the expected keys", () => {
  const msg = configError(
    () => createGateway({ logger: quietLogger, servers: {}, sevrers: {} } as unknown as GatewayConfig),
    /sevrers: unknown key/,
    /expected one of server, auth, servers\b.*\blogLevel\b/,
  );
  assert.not.match(msg, /^\s*servers:/m, "the correctly spelled key is not blamed");
});

test("a typo inside server names server.prot and the server keys", () => {
  configError(
    () => createGateway({ logger: quietLogger, servers: {}, server: { prot: 80 } } as unknown as GatewayConfig),
    /server\.prot: unknown key/,
    /expected one of host, port, maxBodyBytes/,
  );
});

test("server.port must be an integer between 0 and 65535", () => {
  for (const port of ["80a", 70000, -1, 80.5]) {
    configError(
      () => resolveConfig({ servers: {}, server: { port } } as unknown as GatewayConfig),
      /server\.port: expected an integer between 0 and 65535/,
    );
  }
  const msg = configError(() => resolveConfig({ servers: {}, server: { port: "80a" } } as unknown as GatewayConfig), /server\.port/);
  assert.match(msg, /"80a"/, "the received value is shown");
});

test("every problem is listed, each with its own path", () => {
  configError(
    () => resolveConfig({ servers: { x: 1 }, server: { port: 70000, maxBodyBytes: 0 }, logLevel: "loud" } as unknown as GatewayConfig),
    /servers\.x:/,
    /server\.port:/,
    /server\.maxBodyBytes:/,
    /logLevel: expected one of debug, info, warn, error, silent/,
  );
});

test("a servers value that is not an upstream plugin names servers.x", () => {
  const notUpstreams: unknown[] = ["npx server", { command: "node" }, { name: "auth:bearer", authenticate() {} }, null, () => idle()];
  for (const x of notUpstreams) {
    configError(() => createGateway({ logger: quietLogger, servers: { x } } as unknown as GatewayConfig), /servers\.x: expected an upstream plugin/);
  }
  configError(() => resolveConfig({ servers: { x: { name: "upstream:fake" } } } as unknown as GatewayConfig), /servers\.x:.*createTransport/);
  configError(() => resolveConfig({ servers: "notes" } as unknown as GatewayConfig), /servers: expected an object of named upstreams/);
});

test("a server name containing the separator is refused, for the default and a custom separator", () => {
  configError(() => createGateway({ logger: quietLogger, servers: { a__b: idle() } }), /servers\.a__b:/, /separator "__"/);
  configError(() => resolveConfig({ server: { separator: "--" }, servers: { "a--b": idle() } }), /servers\.a--b:/, /separator "--"/);
  // With another separator, "__" in a name is fine.
  assert.ok(resolveConfig({ server: { separator: "--" }, servers: { a__b: idle() } }).servers.a__b);
  configError(() => resolveConfig({ servers: { "has space": idle() } }), /servers\.has space:/);
});

test("an auth entry that is not a strategy names auth[i] or auth", async () => {
  const good = await testAuth();
  configError(() => createGateway({ logger: quietLogger, servers: {}, auth: [{ name: "x" }] } as unknown as GatewayConfig), /auth\[0\]: expected an auth strategy/);
  configError(() => resolveConfig({ servers: {}, auth: [good, { name: "auth:half-written" }] } as unknown as GatewayConfig), /auth\[1\]:/);
  configError(() => resolveConfig({ servers: {}, auth: "bearer" } as unknown as GatewayConfig), /auth: expected an auth strategy/);
  configError(() => resolveConfig({ servers: {}, auth: { authenticate() {} } } as unknown as GatewayConfig), /auth\[0\]:/);
});

// --- ${VAR} interpolation -------------------------------------------------------------------------

test("${VAR} is replaced from the environment", async () => {
  assert.is(interpolate(`Bearer \${${SET}}`, "x"), `Bearer ${SECRET}`);
  assert.is(interpolate(`\${${SET}}:\${${SET}}`, "x"), `${SECRET}:${SECRET}`);
  assert.is(interpolate("no variables here", "x"), "no variables here");
  assert.is(resolveConfig({ servers: {}, server: { host: `\${${SET}}` } }).server.host, SECRET);
  assert.equal(await spawnArgs(stdio({ command: "node", args: [`--name=\${${SET}}`] })), [`--name=${SECRET}`]);
  assert.is(stdio({ command: "node", args: [`--name=\${${SET}}`] }).describe(), `node --name=\${${SET}}`, "describe() shows the command as written, never the secret");
  assert.is(http({ url: `http://127.0.0.1:1/\${${SET}}` }).describe(), `http://127.0.0.1:1/${SECRET}`);
  assert.equal(interpolateDeep({ a: [{ b: `\${${SET}}` }], n: 1, t: true }, ""), { a: [{ b: SECRET }], n: 1, t: true });
});

test("a missing variable is an error naming the variable and the path", () => {
  configError(() => interpolate(`Bearer \${${MISSING}}`, "servers.github.headers.Authorization"), /servers\.github\.headers\.Authorization:/, new RegExp(MISSING));
  configError(() => interpolateDeep({ a: [{ b: `\${${MISSING}}` }] }, ""), /a\[0\]\.b:/, new RegExp(MISSING));
  configError(() => resolveConfig({ servers: {}, server: { host: `\${${MISSING}}` } }), /server\.host:/, new RegExp(MISSING));
  configError(() => stdio({ command: `\${${MISSING}}` }), /stdio\.command:/, new RegExp(MISSING));
  configError(() => stdio({ command: "node", args: ["ok", `\${${MISSING}}`] }), /stdio\.args\[1\]:/, new RegExp(MISSING));
  configError(() => http({ url: "http://127.0.0.1/mcp", headers: { Authorization: `Bearer \${${MISSING}}` } }), /http\.headers\.Authorization:/, new RegExp(MISSING));
});

test("$${ stands for a literal ${", async () => {
  assert.is(interpolate("$${HOME}", "x"), "${HOME}");
  assert.is(interpolate(`$\${${MISSING}} and \${${SET}}`, "x"), `\${${MISSING}} and ${SECRET}`);
  assert.equal(await spawnArgs(stdio({ command: "node", args: [`$\${${MISSING}}`] })), [`\${${MISSING}}`]);
  // A lone "$" or an unterminated "${" is left alone.
  assert.is(interpolate("cost: $5 ${", "x"), "cost: $5 ${");
});

test("stdio() and http() validate their options at config time", () => {
  configError(() => stdio({ command: "node", env: { T: "${MISSING_X}" } }), /stdio\.env\.T:/, /MISSING_X/);
  configError(() => http({ url: "ftp://x" }), /http\.url: expected an http\(s\) URL/);
  configError(() => http({ url: "not a url" }), /http\.url:/);
  configError(() => stdio({} as never), /stdio: expected exactly one of command or script/);
  configError(() => stdio({ command: "node", script: "x.ts" }), /stdio:/);
  configError(() => stdio({ command: "" }), /stdio\.command:/);
  configError(() => stdio({ command: "node", stderr: "pipe" as never }), /stdio\.stderr:/);
});

// --- the seed's JSON shape ------------------------------------------------------------------------

function checkSeed(config: GatewayConfig): void {
  assert.equal(config.server, { port: 9000 });
  assert.equal(Object.keys(config.servers).sort(), ["a", "b"]);
  assert.is(config.servers.a.name, "upstream:stdio");
  assert.is(config.servers.a.describe(), "node x.js");
  assert.is(config.servers.b.name, "upstream:http");
  assert.is(config.servers.b.describe(), "http://127.0.0.1:1/mcp");
  assert.is(config.auth, undefined);
  // The result is a valid gateway config.
  const resolved = resolveConfig(config);
  assert.is(resolved.server.port, 9000);
}

test("fromJsonConfig turns mcpServers into stdio and http upstreams", () => {
  const config = fromJsonConfig(structuredClone(SEED), { stdio, http, identityHeaders }, {});
  checkSeed(config);
  assert.not.match(config.servers.b.describe(), new RegExp(SECRET), "credentials never appear in describe()");
});

test("fromJsonConfig interpolates ${VAR} everywhere and names the JSON path of a missing one", () => {
  delete process.env[SET];
  try {
    const msg = configError(() => fromJsonConfig(structuredClone(SEED), { stdio, http, identityHeaders }, {}), /mcpServers\.a\.env\.K:/, new RegExp(SET));
    assert.not.match(msg, new RegExp(SECRET));
  } finally {
    process.env[SET] = SECRET;
  }
  configError(
    () => fromJsonConfig({ mcpServers: { b: { url: "http://127.0.0.1:1/mcp", headers: { Authorization: `Bearer \${${MISSING}}` } } } }, { stdio, http, identityHeaders }, {}),
    /mcpServers\.b\.headers\.Authorization:/,
    new RegExp(MISSING),
  );
});

test("bad JSON shapes give errors with paths", () => {
  const f = { stdio, http, identityHeaders };
  configError(() => fromJsonConfig({ mcpServers: { a: {} } }, f, {}), /mcpServers\.a\.command: required/);
  configError(() => fromJsonConfig({ mcpServers: { a: "node x.js" } }, f, {}), /mcpServers\.a:/);
  configError(() => fromJsonConfig({ mcpServers: { a: { command: "node", argz: [] } } }, f, {}), /mcpServers\.a\.argz: unknown key/);
  configError(() => fromJsonConfig({ mcpServers: { a: { command: 5 } } }, f, {}), /mcpServers\.a\.command: expected a command/);
  configError(() => fromJsonConfig({ mcpServers: {}, server: { port: "80" } }, f, {}), /server\.port: expected an integer between 0 and 65535/);
  configError(() => fromJsonConfig({ mcpServers: {}, server: { prot: 1 } }, f, {}), /server\.prot: unknown key/);
  configError(() => fromJsonConfig({ mcpServers: {}, mcpServer: {} }, f, {}), /mcpServer: unknown key/);
  configError(() => fromJsonConfig({}, f, {}), /mcpServers/);
  configError(() => fromJsonConfig({ mcpServers: {}, logLevel: "loud" }, f, {}), /logLevel:/);
  configError(() => fromJsonConfig({ mcpServers: {}, identityForwarding: { enabled: true, headers: ["emial"] } }, f, {}), /identityForwarding\.headers\[0\]: expected one of subject, email/);
  configError(() => fromJsonConfig({ mcpServers: {}, identityForwarding: { enable: true } }, f, {}), /identityForwarding\.enable: unknown key/);
  assert.equal(fromJsonConfig({ mcpServers: {}, identityForwarding: { enabled: false } }, f, {}).identity, []);
  assert.is(fromJsonConfig({ mcpServers: {}, identityForwarding: { headers: ["email"] } }, f, {}).identity?.[0]?.name, "identity:headers");
});

test("an unknown auth.type is an ERR_CONFIG naming auth.type; a known one is used; enabled: false skips auth", async () => {
  const f = { stdio, http, identityHeaders };
  configError(() => fromJsonConfig({ auth: { type: "magic" }, mcpServers: {} }, f, {}), /auth\.type:/, /"magic"/);
  const strategy = await testAuth();
  let seen: Record<string, unknown> | undefined;
  const known = { "team-keys": (auth: Record<string, unknown>) => ((seen = auth), strategy) };
  configError(() => fromJsonConfig({ auth: { type: "magic" }, mcpServers: {} }, f, known), /auth\.type: expected one of team-keys/);
  const config = fromJsonConfig({ auth: { type: "team-keys", extra: `\${${SET}}` }, mcpServers: {} }, f, known);
  assert.is(config.auth, strategy);
  assert.is(seen?.extra, SECRET, "the auth block is interpolated before it reaches the factory");
  assert.is(fromJsonConfig({ auth: { type: "magic", enabled: false }, mcpServers: {} }, f, {}).auth, undefined);
  configError(() => fromJsonConfig({ auth: { enabled: "yes" }, mcpServers: {} }, f, {}), /auth\.enabled:/);
});

// --- loadConfigFile -------------------------------------------------------------------------------

test("the example configs load and validate (with their environment set)", async () => {
  const env = { OKTA_ISSUER: "https://acme.okta.com/oauth2/default", OKTA_CLIENT_ID: "0oa-example", OKTA_CLIENT_SECRET: "example-secret-value", PORTCULLIS_MASTER_KEY: btoa("k".repeat(32)) };
  const saved = Object.fromEntries(Object.keys(env).map((k) => [k, process.env[k]]));
  Object.assign(process.env, env);
  try {
    const config = await loadConfigFile(new URL("../../examples/oauth-sso.config.ts", import.meta.url).pathname);
    const resolved = resolveConfig(config);
    assert.equal(resolved.auth.map((a) => a.name), ["auth:oauth", "auth:bearer"]);
    assert.equal(resolved.identity.map((m) => m.name), ["identity:headers", "identity:jwt-assertion"]);
    assert.ok(resolved.servers.github?.perUser?.required, "github needs each user's own credential");
    await resolved.tokens.store.close();
  } finally {
    for (const [k, v] of Object.entries(saved)) if (v === undefined) delete process.env[k]; else process.env[k] = v;
  }
});

test("loadConfigFile reads a .json config in the seed's shape", async () => {
  const file = join(dir, "seed.json");
  await writeFile(file, JSON.stringify(SEED, null, 2));
  checkSeed(await loadConfigFile(file));
});

test("loadConfigFile: bad .json files are ERR_CONFIG naming the problem", async () => {
  const bad = join(dir, "bad.json");
  await writeFile(bad, JSON.stringify({ mcpServers: { a: { url: 42 } } }));
  await configErrorAsync(() => loadConfigFile(bad), /mcpServers\.a\.url:/);
  const broken = join(dir, "broken.json");
  await writeFile(broken, "{ \"mcpServers\": ");
  await configErrorAsync(() => loadConfigFile(broken), /invalid JSON/);
  const noAuth = join(dir, "auth.json");
  await writeFile(noAuth, JSON.stringify({ auth: { type: "nope" }, mcpServers: {} }));
  await configErrorAsync(() => loadConfigFile(noAuth), /auth\.type:/);
  await configErrorAsync(() => loadConfigFile(join(dir, "missing.json")), /cannot read config file/);
});

test("loadConfigFile imports a .ts config's default export (an object or a function)", async () => {
  const file = join(dir, "plain.config.ts");
  await writeFile(file, "const servers: Record<string, never> = {};\nexport default { servers };\n");
  assert.equal(await loadConfigFile(file), { servers: {} });
  const fn = join(dir, "fn.config.ts");
  await writeFile(fn, "export default async (): Promise<object> => ({ servers: {}, server: { port: 1234 } });\n");
  assert.equal(await loadConfigFile(fn), { servers: {}, server: { port: 1234 } });
  const none = join(dir, "none.config.ts");
  await writeFile(none, "export const config = { servers: {} };\n");
  await configErrorAsync(() => loadConfigFile(none), /expected a default export/);
});

test("loadConfigFile on a missing file is ERR_CONFIG", async () => {
  await configErrorAsync(() => loadConfigFile(join(dir, "does-not-exist.config.ts")), /cannot read config file/, /does-not-exist\.config\.ts/);
});

test("JSON configs: interpolated once ($${ stays literal), ${VAR} works in url, origins interpolate, arrays are not server maps", async () => {
  process.env[SET] = SECRET;
  process.env.PORTCULLIS_TEST_URL = "http://127.0.0.1:1/mcp";
  try {
    const cfg = fromJsonConfig({
      mcpServers: {
        a: { command: "echo", args: ["$${HOME}", "${PORTCULLIS_TEST_SET_VAR}"] },
        b: { url: "${PORTCULLIS_TEST_URL}" },
      },
    }, { stdio, http, identityHeaders }, {});
    assert.equal(await spawnArgs(cfg.servers.a!), ["${HOME}", SECRET]);
    assert.not.match(cfg.servers.a!.describe(), SECRET);
    assert.is(cfg.servers.b!.describe(), "http://127.0.0.1:1/mcp");
    configError(() => fromJsonConfig({ mcpServers: { b: { url: "ftp://x" } } }, { stdio, http, identityHeaders }, {}), /mcpServers\.b\.url: expected an http\(s\) URL/);
    process.env.PORTCULLIS_TEST_ORIGIN = "https://console.example.com";
    const resolved = resolveConfig({ servers: {}, server: { allowedOrigins: ["${PORTCULLIS_TEST_ORIGIN}"] } });
    assert.equal(resolved.server.allowedOrigins, ["https://console.example.com"]);
    configError(() => resolveConfig({ servers: {}, server: { allowedOrigins: ["not a url"] } }), /server\.allowedOrigins\[0\]/);
    configError(() => resolveConfig({ servers: [stdio({ command: "node" })] } as unknown as GatewayConfig), /servers: expected an object of named upstreams/);
    configError(() => resolveConfig({ sevrers: {} } as unknown as GatewayConfig), /servers: required, but missing/, /sevrers: unknown key/);
  } finally {
    delete process.env[SET];
    delete process.env.PORTCULLIS_TEST_URL;
    delete process.env.PORTCULLIS_TEST_ORIGIN;
  }
});

test("a TS config that does not compile is an ERR_CONFIG naming the file", async () => {
  const file = join(dir, "broken.config.ts");
  await writeFile(file, "export default { servers: {\n");
  await configErrorAsync(() => loadConfigFile(file), /broken\.config\.ts: could not load/);
});

test("config errors never echo a value that may be a credential", () => {
  const message = configError(() => resolveConfig({ servers: {}, admin: { token: "short-but-secret-value" } }), /admin\.token/);
  assert.not.match(message, "short-but-secret-value");
});

// --- every missing variable at once, and audit: false ------------------------------------------------

test("resolveConfig names every missing variable of the settings it resolves in one error", () => {
  const message = configError(
    () => resolveConfig({ servers: {}, server: { host: `\${${MISSING}_HOST}`, allowedOrigins: [`\${${MISSING}_ORIGIN}`] }, admin: { token: `\${${MISSING}_ADMIN}` } }),
    new RegExp(`server\\.host: environment variable ${MISSING}_HOST is not set`),
    new RegExp(`server\\.allowedOrigins\\[0\\]: environment variable ${MISSING}_ORIGIN is not set`),
    new RegExp(`admin\\.token: environment variable ${MISSING}_ADMIN is not set`),
  );
  assert.match(message, /3 environment variables are not set/);
  configError(() => interpolateDeep({ a: `\${${MISSING}}`, b: [`\${${MISSING}_B}`] }, ""), /a: environment variable/, /b\[0\]: environment variable/);
});

test("a TypeScript config names every missing variable in one error, and keeps failing when loaded again", async () => {
  const file = join(dir, "two-missing.config.ts");
  const plugins = new URL("../../plugins/mod.ts", import.meta.url).href;
  await writeFile(file, [
    `import { http, stdio } from ${JSON.stringify(plugins)};`,
    `export default { servers: {`,
    `  a: stdio({ command: "node", env: { T: "\${${MISSING}_ONE}" } }),`,
    `  b: http({ url: "https://mcp.example.com/mcp", headers: { Authorization: "Bearer \${${MISSING}_TWO}" } }),`,
    `  c: http({ url: "\${${MISSING}_URL}" }),`,
    `} };`,
    "",
  ].join("\n"));
  {
    for (let i = 0; i < 2; i++) {
      const message = await configErrorAsync(
        () => loadConfigFile(file),
        new RegExp(`stdio\\.env\\.T: environment variable ${MISSING}_ONE is not set`),
        new RegExp(`http\\.headers\\.Authorization: environment variable ${MISSING}_TWO is not set`),
        new RegExp(`http\\.url: environment variable ${MISSING}_URL is not set`),
      );
      assert.not.match(message, /expected an http\(s\) URL/, "what follows from a missing variable is not reported as another problem");
    }
    const fn = join(dir, "fn-missing.config.ts");
    await writeFile(fn, `export default () => ({ servers: {}, server: { host: "\${${MISSING}_FN}" }, admin: { token: "\${${MISSING}_FN2}" } });\n`);
    const config = await loadConfigFile(fn);
    configError(() => resolveConfig(config), new RegExp(`${MISSING}_FN\\b`), new RegExp(`${MISSING}_FN2`));
  }
});

test("audit: false turns auditing off; anything but false or an array of sinks is an error naming audit", () => {
  assert.equal(resolveConfig({ servers: {}, audit: false }).audit, []);
  assert.equal(resolveConfig({ servers: {} }).audit, [], "createGateway alone writes no audit file");
  configError(() => resolveConfig({ servers: {}, audit: true } as unknown as GatewayConfig), /audit: expected an array of audit sinks, or false/);
  configError(() => resolveConfig({ servers: {}, audit: [{ name: "x" }] } as unknown as GatewayConfig), /audit\[0\]: expected an audit sink/);
});

test.run();
