// The `portcullis` command, run as a real child process with the runtime running the suite: node runs
// the built dist/cli.js, deno and bun run core/cli/main.ts. Configs are written to a temporary directory
// inside the repository so their bare `portcullis` imports resolve the way a user's would.
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { mkdir, mkdtemp, readdir, readFile, rm, stat, symlink, writeFile } from "node:fs/promises";
import { join } from "node:path";
import process from "node:process";
import { VERSION } from "../../core/version.ts";
import { NOTES, runtime, startGateway, waitFor } from "../fixtures/helpers.ts";
import { freePort } from "../fixtures/cli-process.ts";
import { bearer, memoryStore } from "../../plugins/mod.ts";

const test = suite("cli");

const ROOT = new URL("../..", import.meta.url).pathname.replace(/\/$/, "");
const MISSING = "PORTCULLIS_TEST_CLI_MISSING_VAR";
let dir: string;
const children = new Set<ChildProcess>();
/** Pids of upstream processes the gateway started, killed in `after` if they outlive the test. */
const upstreamPids = new Set<number>();

interface Run {
  code: number | null;
  signal: string | null;
  stdout: string;
  stderr: string;
}

function cliCommand(): [string, string[]] {
  if (runtime === "deno") return [(globalThis as unknown as { Deno: { execPath(): string } }).Deno.execPath(), ["run", "-A", "core/cli/main.ts"]];
  if (runtime === "bun") return [process.execPath, ["run", "core/cli/main.ts"]];
  return [process.execPath, [join(ROOT, "dist/cli.js")]];
}

function childEnv(extra: Record<string, string>): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (v !== undefined && !k.startsWith("PORTCULLIS_")) env[k] = v;
  }
  // Anything the CLI persists goes to the temporary directory, never the repository.
  return { ...env, NO_COLOR: "1", PORTCULLIS_DATA_DIR: join(dir, "data"), ...extra };
}

/** Starts the CLI; output is collected on the returned object as it arrives. */
function spawnCli(args: string[], env: Record<string, string> = {}): { child: ChildProcess; out: Run; exited: Promise<Run> } {
  const [command, base] = cliCommand();
  const child = spawn(command, [...base, ...args], { cwd: ROOT, env: childEnv(env), stdio: ["ignore", "pipe", "pipe"] });
  children.add(child);
  const out: Run = { code: null, signal: null, stdout: "", stderr: "" };
  child.stdout!.setEncoding("utf8");
  child.stderr!.setEncoding("utf8");
  child.stdout!.on("data", (d: string) => (out.stdout += d));
  child.stderr!.on("data", (d: string) => (out.stderr += d));
  const exited = new Promise<Run>((resolve) => {
    child.on("close", (code, signal) => {
      children.delete(child);
      out.code = code;
      out.signal = signal;
      resolve(out);
    });
  });
  return { child, out, exited };
}

/** Resolves with the run, or rejects (after killing the child) if it does not end within `ms`. */
function within(run: { child: ChildProcess; out: Run; exited: Promise<Run> }, ms: number): Promise<Run> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      run.child.kill("SIGKILL");
      reject(new Error(`portcullis did not exit within ${ms} ms\nstdout: ${run.out.stdout}\nstderr: ${run.out.stderr}`));
    }, ms);
  });
  return Promise.race([run.exited, timeout]).finally(() => clearTimeout(timer));
}

function cli(args: string[], env: Record<string, string> = {}, ms = 20_000): Promise<Run> {
  return within(spawnCli(args, env), ms);
}


/** Every live process as pid, parent pid and command line. */
function processes(): Array<{ pid: number; ppid: number; args: string }> {
  const text = execFileSync("ps", ["-eo", "pid=,ppid=,args="], { encoding: "utf8" });
  return text.split("\n").flatMap((line) => {
    const m = /^\s*(\d+)\s+(\d+)\s+(.*)$/.exec(line);
    return m ? [{ pid: Number(m[1]), ppid: Number(m[2]), args: m[3]! }] : [];
  });
}

function descendants(root: number): Array<{ pid: number; args: string }> {
  const all = processes();
  const found: Array<{ pid: number; args: string }> = [];
  const parents = new Set([root]);
  let grew = true;
  while (grew) {
    grew = false;
    for (const p of all) {
      if (parents.has(p.ppid) && !parents.has(p.pid)) {
        parents.add(p.pid);
        found.push(p);
        grew = true;
      }
    }
  }
  return found;
}

function alive(pids: Iterable<number>): Array<{ pid: number; args: string }> {
  const wanted = new Set(pids);
  return processes().filter((p) => wanted.has(p.pid) && p.args.includes("notes.ts"));
}

const goodConfig = () => join(dir, "gateway.config.ts");
const goodJson = () => join(dir, "seed.json");

test.before(async () => {
  dir = await mkdtemp(join(ROOT, "tests", ".tmp-cli-"));
  // The bare specifiers are the point: they must resolve on every runtime.
  await writeFile(goodConfig(), [
    'import { defineGateway } from "portcullis";',
    'import { http, stdio } from "portcullis/plugins";',
    "",
    "export default defineGateway({",
    "  server: { port: 9911 },",
    "  servers: {",
    `    notes: stdio({ script: ${JSON.stringify(NOTES)}, stderr: "ignore" }),`,
    '    remote: http({ url: "http://127.0.0.1:9/mcp" }),',
    "  },",
    "});",
    "",
  ].join("\n"));
  await writeFile(join(dir, "start.config.ts"), [
    'import { defineGateway } from "portcullis";',
    'import { stdio } from "portcullis/plugins";',
    "",
    "export default defineGateway({",
    '  logLevel: "warn",',
    `  servers: { notes: stdio({ script: ${JSON.stringify(NOTES)}, stderr: "ignore" }) },`,
    "});",
    "",
  ].join("\n"));
  await writeFile(join(dir, "typo.config.ts"), "export default { server: { prot: 8080 }, servers: {} };\n");
  await writeFile(join(dir, "empty.config.ts"), "export default { servers: {} };\n");
  await writeFile(join(dir, "missing-var.config.ts"), [
    'import { stdio } from "portcullis/plugins";',
    `export default { servers: { a: stdio({ command: "node", env: { T: "\${${MISSING}}" } }) } };`,
    "",
  ].join("\n"));
  await writeFile(goodJson(), JSON.stringify({
    mcpServers: {
      alpha: { command: "node", args: ["x.js"] },
      beta: { url: "http://127.0.0.1:1/mcp", headers: { Authorization: "Bearer ${PORTCULLIS_TEST_CLI_TOKEN}" } },
    },
  }));
});

test.after(async () => {
  for (const child of children) {
    // A gateway left running by a failed test: its upstreams must not outlive the suite either.
    if (child.pid !== undefined) for (const p of descendants(child.pid)) if (p.args.includes("notes.ts")) upstreamPids.add(p.pid);
    child.kill("SIGKILL");
  }
  for (const { pid } of alive(upstreamPids)) {
    try {
      process.kill(pid, "SIGKILL");
    } catch {
      // already gone
    }
  }
  await rm(dir, { recursive: true, force: true });
});

if (runtime === "node") {
  test("node runs dist/: it is built from the current sources", async () => {
    const built = (await stat(join(ROOT, "dist/cli.js"))).mtimeMs;
    let newest = { file: "", mtime: 0 };
    for (const top of ["core", "plugins"]) {
      for (const rel of await readdir(join(ROOT, top), { recursive: true })) {
        if (!/\.(?:ts|mjs)$/.test(rel)) continue;
        const mtime = (await stat(join(ROOT, top, rel))).mtimeMs;
        if (mtime > newest.mtime) newest = { file: `${top}/${rel}`, mtime };
      }
    }
    assert.ok(built >= newest.mtime, `dist/ is older than ${newest.file}: run \`npm run build\` (node's CLI tests run dist/cli.js)`);
  });
}

test("--help and help print the usage and exit 0; --version prints the version", async () => {
  const help = await cli(["--help"]);
  assert.is(help.code, 0, help.stderr);
  assert.match(help.stdout, /Usage:/);
  assert.match(help.stdout, /portcullis start/);
  assert.match(help.stdout, /portcullis check/);
  const bare = await cli([]);
  assert.is(bare.code, 0, bare.stderr);
  assert.match(bare.stdout, /Usage:/);
  const version = await cli(["--version"]);
  assert.is(version.code, 0, version.stderr);
  assert.is(version.stdout.trim(), VERSION);
});

test("an unknown command or option exits 2", async () => {
  const bogus = await cli(["bogus"]);
  assert.is(bogus.code, 2);
  assert.match(bogus.stderr, /unknown command "bogus"/);
  assert.is(bogus.stdout, "");
  const option = await cli(["check", "--no-such-option"]);
  assert.is(option.code, 2);
  assert.match(option.stderr, /no-such-option/);
});

test("check on a good TS config (bare portcullis imports) exits 0 and lists the servers", async () => {
  const run = await cli(["check", "--config", goodConfig()]);
  assert.is(run.code, 0, run.stderr);
  assert.match(run.stdout, /: OK\n/);
  assert.match(run.stdout, /listen: http:\/\/127\.0\.0\.1:9911/);
  assert.match(run.stdout, /notes: upstream:stdio .*notes\.ts/);
  assert.match(run.stdout, /remote: upstream:http http:\/\/127\.0\.0\.1:9\/mcp/);
  assert.match(run.stdout, /auth: none/);
});

test("check on a .json config in the seed's shape, found through PORTCULLIS_CONFIG, exits 0", async () => {
  const run = await cli(["check"], { PORTCULLIS_CONFIG: goodJson(), PORTCULLIS_TEST_CLI_TOKEN: "t0ken-value" });
  assert.is(run.code, 0, run.stderr);
  assert.match(run.stdout, /seed\.json: OK/);
  assert.match(run.stdout, /alpha: upstream:stdio node x\.js/);
  assert.match(run.stdout, /beta: upstream:http http:\/\/127\.0\.0\.1:1\/mcp/);
  assert.not.match(run.stdout + run.stderr, /t0ken-value/, "the header's secret is never printed");
  const unset = await cli(["check", "--config", goodJson()]);
  assert.is(unset.code, 2);
  assert.match(unset.stderr, /mcpServers\.beta\.headers\.Authorization/);
  assert.match(unset.stderr, /PORTCULLIS_TEST_CLI_TOKEN/);
});

test("check on a config with a typo exits 2 and names the path", async () => {
  const run = await cli(["check", "--config", join(dir, "typo.config.ts")]);
  assert.is(run.code, 2);
  assert.match(run.stderr, /server\.prot: unknown key/);
  assert.is(run.stdout, "");
});

test("check on a config whose plugin throws at config time exits 2 and names the path", async () => {
  const run = await cli(["check", "--config", join(dir, "missing-var.config.ts")]);
  assert.is(run.code, 2, run.stderr);
  assert.match(run.stderr, /stdio\.env\.T/);
  assert.match(run.stderr, new RegExp(MISSING));
});

test("check on a missing file exits 2", async () => {
  const run = await cli(["check", "--config", join(dir, "nope.config.ts")]);
  assert.is(run.code, 2);
  assert.match(run.stderr, /cannot read config file/);
  assert.match(run.stderr, /nope\.config\.ts/);
});

test("start refuses a bad --port with exit 2", async () => {
  const run = await cli(["start", "--config", join(dir, "empty.config.ts"), "--port", "99999"]);
  assert.is(run.code, 2);
  assert.match(run.stderr, /--port: expected an integer between 0 and 65535/);
});

test("start serves /healthz with the stdio upstream ready; SIGTERM exits 0 and stops the upstream", async () => {
  const port = await freePort();
  const run = spawnCli(["start", "--config", join(dir, "start.config.ts"), "--port", String(port)]);
  let health: { status?: string; upstreams?: Record<string, string> } = {};
  try {
    await waitFor(async () => {
      if (run.child.exitCode !== null) throw new Error(`portcullis exited early with ${run.child.exitCode}\n${run.out.stderr}`);
      try {
        const res = await fetch(`http://127.0.0.1:${port}/healthz`);
        health = await res.json();
        return res.status === 200 && health.upstreams?.notes === "ready";
      } catch {
        return false;
      }
    }, 15_000);
  } catch (err) {
    throw new Error(`${(err as Error).message}; last /healthz ${JSON.stringify(health)}\nstderr: ${run.out.stderr}`);
  }
  assert.is(health.status, "ok");
  assert.equal(health.upstreams, { notes: "ready" });

  const notes = descendants(run.child.pid!).filter((p) => p.args.includes("notes.ts"));
  assert.ok(notes.length >= 1, `the notes server runs as a child of the gateway\n${JSON.stringify(descendants(run.child.pid!))}`);
  for (const p of notes) upstreamPids.add(p.pid);

  // process.kill rather than child.kill: Deno's node:child_process reports a child it was asked to
  // kill as ended by that signal, even when the child handled it and exited 0.
  process.kill(run.child.pid!, "SIGTERM");
  const ended = await within(run, 10_000);
  assert.is(ended.signal, null, `exited by signal ${ended.signal}\n${ended.stderr}`);
  assert.is(ended.code, 0, ended.stderr);
  try {
    await waitFor(() => alive(upstreamPids).length === 0, 5_000);
  } catch {
    assert.unreachable(`the upstream outlived the gateway: ${JSON.stringify(alive(upstreamPids))}`);
  }
  const after = await fetch(`http://127.0.0.1:${port}/healthz`).then(() => "answered", () => "refused");
  assert.is(after, "refused", "the port is closed");
});

test("another project imports portcullis as an ESM module and calls createGateway", async () => {
  const project = join(dir, "consumer");
  await mkdir(join(project, "node_modules"), { recursive: true });
  await symlink(ROOT, join(project, "node_modules", "portcullis"), "dir");
  await writeFile(join(project, "package.json"), JSON.stringify({ name: "consumer", type: "module" }));
  await writeFile(join(project, "app.mjs"), [
    'import { createGateway, defineGateway } from "portcullis";',
    'import { bearer, memoryStore } from "portcullis/plugins";',
    'const gw = createGateway(defineGateway({ auth: [bearer()], tokens: { store: memoryStore() }, admin: { bootstrap: false }, servers: {}, logLevel: "warn" }));',
    "await gw.ready();",
    'const { secret } = await gw.tokens.create({ user: "embedded" }, "app");',
    'const res = await gw.fetch(new Request("http://localhost/v1/auth/whoami", { headers: { authorization: `Bearer ${secret}` } }));',
    "console.log(`${res.status} ${(await res.json()).subject}`);",
    "await gw.close();",
  ].join("\n"));
  const [command] = cliCommand();
  const args = runtime === "deno" ? ["run", "-A", "app.mjs"] : runtime === "bun" ? ["run", "app.mjs"] : ["app.mjs"];
  const child = spawn(command, args, { cwd: project, env: childEnv({}), stdio: ["ignore", "pipe", "pipe"] });
  children.add(child);
  let stdout = "";
  let stderr = "";
  child.stdout!.on("data", (d) => (stdout += d));
  child.stderr!.on("data", (d) => (stderr += d));
  const code = await new Promise<number | null>((resolve) => child.on("close", (c) => resolve(c)));
  children.delete(child);
  assert.is(code, 0, stderr);
  assert.is(stdout.trim(), "200 embedded");
});

test("PORTKEY_AUTH_TYPE and PORTKEY_AUTH_ENABLED act as PORTCULLIS_AUTH_TYPE and PORTCULLIS_AUTH_ENABLED", async () => {
  const env = { PORTCULLIS_TEST_CLI_TOKEN: "t0ken-value" };
  const keyed = await cli(["check", "--config", goodJson()], { ...env, PORTKEY_AUTH_TYPE: "api-key" });
  assert.is(keyed.code, 0, keyed.stderr);
  assert.match(keyed.stdout, /^auth: auth:api-key$/m);
  const bearerJson = join(dir, "bearer.json");
  await writeFile(bearerJson, JSON.stringify({ auth: { type: "bearer" }, mcpServers: {} }));
  const off = await cli(["check", "--config", bearerJson], { PORTKEY_AUTH_ENABLED: "false" });
  assert.is(off.code, 0, off.stderr);
  assert.match(off.stdout, /^auth: none/m);
  const on = await cli(["check", "--config", bearerJson], { PORTKEY_AUTH_ENABLED: "true" });
  assert.match(on.stdout, /^auth: auth:bearer$/m);
  const bad = await cli(["check", "--config", bearerJson], { PORTKEY_AUTH_ENABLED: "maybe" });
  assert.is(bad.code, 2);
  assert.match(bad.stderr, /PORTKEY_AUTH_ENABLED: expected true or false, received "maybe"/);
});

test("unknown PORTCULLIS_* and PORTKEY_* variables are named once at start, never their values", async () => {
  const run = await cli(["check", "--config", goodJson()], {
    PORTCULLIS_TEST_CLI_TOKEN: "t0ken-value",
    PORTCULLIS_PROT: "value-of-a-typo",
    PORTKEY_AUTH_TYP: "bearer",
  });
  assert.is(run.code, 0, run.stderr);
  const warned = run.stderr.split("\n").filter((l) => /unknown environment variable/.test(l));
  assert.is(warned.length, 2, run.stderr);
  assert.match(run.stderr, /unknown environment variable PORTCULLIS_PROT is ignored; did you mean PORTCULLIS_PORT\?/);
  assert.match(run.stderr, /unknown environment variable PORTKEY_AUTH_TYP is ignored; did you mean PORTKEY_AUTH_TYPE\?/);
  assert.not.match(run.stderr, /value-of-a-typo/);
  assert.not.match(run.stderr, /PORTCULLIS_TEST_CLI_TOKEN|PORTCULLIS_DATA_DIR/, "variables the config uses and the gateway reads are known");
});

test("the CLI audits to audit.jsonl in the data directory unless the config names its sinks or turns auditing off", async () => {
  const on = join(dir, "audit-default");
  const created = await cli(["tokens", "create", "--config", goodConfig(), "--user", "audited", "--json"], { PORTCULLIS_DATA_DIR: on });
  assert.is(created.code, 0, created.stderr);
  const lines = (await readFile(join(on, "audit.jsonl"), "utf8")).trim().split("\n").map((l) => JSON.parse(l));
  assert.ok(lines.some((e) => e.type === "token" && e.action === "create" && e.user === "audited"), JSON.stringify(lines));
  assert.not.match(JSON.stringify(lines), JSON.parse(created.stdout).token, "never the secret");

  const offJson = join(dir, "audit-off.json");
  await writeFile(offJson, JSON.stringify({ mcpServers: {}, audit: { enabled: false } }));
  const offTs = join(dir, "audit-off.config.ts");
  await writeFile(offTs, "export default { servers: {}, audit: false };\n");
  for (const config of [offJson, offTs]) {
    const data = join(dir, `audit-off-${config.endsWith(".json") ? "json" : "ts"}`);
    const run = await cli(["tokens", "create", "--config", config, "--user", "quiet"], { PORTCULLIS_DATA_DIR: data });
    assert.is(run.code, 0, run.stderr);
    assert.ok((await readdir(data)).includes("tokens.log"), "the store is in the data directory");
    assert.not.ok((await readdir(data)).includes("audit.jsonl"), `${config}: no audit file`);
  }
});

test("start: a stdio server that cannot start is logged once with its cause, and /healthz names its last error", async () => {
  const restart = { initialDelayMs: 20, maxDelayMs: 40 };
  const config = join(dir, "failing.json");
  await writeFile(config, JSON.stringify({
    admin: { bootstrap: false },
    mcpServers: {
      nowhere: { command: "node", args: ["-e", "1"], cwd: join(dir, "no-such-dir"), restart },
      ghost: { command: "portcullis-no-such-command", restart },
      crashy: { command: "node", args: ["-e", "console.error('boom-at-start'); process.exit(3)"], restart },
      lost: { script: join(dir, "no-such-server.ts"), restart },
    },
  }));
  const port = await freePort();
  const run = spawnCli(["start", "--config", config, "--port", String(port)]);
  type Failure = { error: string; attempts: number; since: string };
  let health: { status?: string; upstreams?: Record<string, string>; failures?: Record<string, Failure> } = {};
  try {
    await waitFor(async () => {
      if (run.child.exitCode !== null) throw new Error(`portcullis exited early with ${run.child.exitCode}\n${run.out.stderr}`);
      try {
        health = await (await fetch(`http://127.0.0.1:${port}/healthz`)).json();
      } catch {
        return false;
      }
      return ["nowhere", "ghost", "crashy", "lost"].every((s) => (health.failures?.[s]?.attempts ?? 0) >= 5);
    }, 15_000);
  } catch (err) {
    throw new Error(`${(err as Error).message}; last /healthz ${JSON.stringify(health)}\nstderr: ${run.out.stderr}`);
  } finally {
    process.kill(run.child.pid!, "SIGTERM");
  }
  await within(run, 10_000);
  assert.is(health.status, "degraded");
  assert.match(health.failures!.nowhere!.error, /^working directory .*no-such-dir does not exist$/);
  assert.match(health.failures!.ghost!.error, /^command not found: portcullis-no-such-command is not on PATH/);
  assert.match(health.failures!.crashy!.error, /the server wrote: boom-at-start/);
  assert.ok(!Number.isNaN(Date.parse(health.failures!.crashy!.since)));
  // Five failed starts each, one line each: the first failure, with its cause.
  assert.match(health.failures!.lost!.error, /^script .*no-such-server\.ts does not exist$/);
  for (const [server, cause] of [["nowhere", /working directory .*no-such-dir does not exist/], ["ghost", /command not found/], ["crashy", /boom-at-start/], ["lost", /script .* does not exist/]] as const) {
    const lines = run.out.stderr.split("\n").filter((l) => l.includes(`"server":"${server}"`));
    assert.is(lines.length, 1, `${server}:\n${lines.join("\n")}`);
    assert.match(lines[0]!, /upstream connection failed; retrying with backoff/);
    assert.match(lines[0]!, cause);
  }
  assert.equal(run.out.stderr.split("\n").filter((l) => /upstream says/.test(l)), [], "what the server wrote is in the cause, not logged again on each attempt");
});

test("tokens create without --type makes what the config's /mcp accepts: an API key under an api-key-only config", async () => {
  const config = join(dir, "api-key-only.json");
  await writeFile(config, JSON.stringify({ auth: { type: "api-key", header: "X-API-Key" }, mcpServers: {} }));
  const data = { PORTCULLIS_DATA_DIR: join(dir, "api-key-data") };
  const key = await cli(["tokens", "create", "--config", config, "--user", "alice@example.com", "--json"], data);
  assert.is(key.code, 0, key.stderr);
  assert.match(JSON.parse(key.stdout).token, /^pk_/);
  const token = await cli(["tokens", "create", "--config", config, "--user", "bob", "--type", "token", "--json"], data);
  assert.is(token.code, 0, token.stderr);
  assert.match(JSON.parse(token.stdout).token, /^pt_/, "--type still decides");
  // A certificate record for mtls(): named by fingerprint, no secret printed.
  const fp = "AB:".repeat(31) + "AB";
  const cert = await cli(["tokens", "create", "--config", config, "--user", "svc", "--fingerprint", fp, "--roles", "robot"], data);
  assert.is(cert.code, 0, cert.stderr);
  assert.match(cert.stdout, /type: +certificate/);
  assert.match(cert.stdout, new RegExp(`certificate: sha256 ${"ab".repeat(32)}`));
  assert.not.match(cert.stdout, /secret/);
  const bad = await cli(["tokens", "create", "--config", config, "--user", "svc", "--fingerprint", "xyz"], data);
  assert.is.not(bad.code, 0);
  assert.match(bad.stderr, /certificate\.fingerprint: expected/);
});

test("tokens create, list, rotate and revoke on the local store, then against a running gateway with --url", async () => {
  const data = { PORTCULLIS_DATA_DIR: join(dir, "tokens-data") };
  const created = await cli(["tokens", "create", "--config", goodConfig(), "--user", "cli-user", "--team", "ops", "--scopes", "mcp:read", "--servers", "notes", "--expires-in", "7d", "--json"], data);
  assert.is(created.code, 0, created.stderr);
  const record = JSON.parse(created.stdout);
  assert.match(record.token, /^pt_/);
  assert.equal(record.permissions, { servers: ["notes"] });
  const listed = await cli(["tokens", "list", "--config", goodConfig(), "--user", "cli-user"], data);
  assert.is(listed.code, 0, listed.stderr);
  assert.match(listed.stdout, record.id);
  assert.not.match(listed.stdout, record.token);
  const rotated = await cli(["tokens", "rotate", record.id, "--config", goodConfig(), "--json"], data);
  assert.is(rotated.code, 0, rotated.stderr);
  const next = JSON.parse(rotated.stdout);
  assert.is(next.rotatedFrom, record.id);
  const revoked = await cli(["tokens", "revoke", next.id, "--config", goodConfig(), "--json"], data);
  assert.is(revoked.code, 0, revoked.stderr);
  assert.is(JSON.parse(revoked.stdout).state, "revoked");
  const bad = await cli(["tokens", "create", "--config", goodConfig(), "--user", "x", "--scopes", "root"], data);
  assert.is.not(bad.code, 0);
  assert.match(bad.stderr, /scopes\[0\]/);

  const admin = "cli-remote-admin-token-0123456789abcdef";
  const gw = await startGateway({ auth: [bearer()], admin: { token: admin, bootstrap: false }, tokens: { store: memoryStore() }, servers: {} });
  try {
    const remote = await cli(["tokens", "create", "--url", gw.url, "--admin-token", admin, "--user", "remote-user", "--json"]);
    assert.is(remote.code, 0, remote.stderr);
    const r = JSON.parse(remote.stdout);
    assert.ok((await gw.gateway.tokens.get(r.id))?.user === "remote-user");
    const list = await cli(["tokens", "list", "--url", gw.url, "--json"], { PORTCULLIS_ADMIN_TOKEN: admin });
    assert.is(list.code, 0, list.stderr);
    assert.ok(JSON.parse(list.stdout).some((t: { id: string }) => t.id === r.id));
    const gone = await cli(["tokens", "revoke", r.id, "--url", gw.url, "--admin-token", admin]);
    assert.is(gone.code, 0, gone.stderr);
    assert.is((await gw.gateway.tokens.get(r.id))?.state, "revoked");
    const denied = await cli(["tokens", "list", "--url", gw.url, "--admin-token", r.token]);
    assert.is.not(denied.code, 0, "a revoked token is no admin");
  } finally {
    await gw.close();
  }
});

test.run();
