// Portcullis as another project gets it: `npm pack`, the tarball installed with `npm ci --offline` in a
// fresh project, then used from there: imported on the runtime running the suite (createGateway,
// gateway.fetch, serve() with that runtime's adapter), its CLI checking a gateway.config.ts that imports
// "portcullis", and consumer TypeScript checked against the shipped declarations (tsc on node, deno check
// on deno). The project lives in the system's temporary directory, never inside this repository, where
// deno.json, tsconfig.json's paths or node_modules further up would resolve "portcullis" to the sources.
// Packing (a copy of the package, so that this checkout's dist/ is left alone) and installing take
// seconds, so the installed project is kept, keyed by a hash of everything that goes into the tarball
// and the project, and reused by the next runtime and the next run.
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { copyFile, cp, mkdir, readdir, readFile, rename, rm, stat, symlink, utimes, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import process from "node:process";
import { runtime } from "../fixtures/helpers.ts";

const test = suite("pack");

const ROOT = new URL("../..", import.meta.url).pathname.replace(/\/$/, "");
const SELF = new URL(import.meta.url).pathname;
/** What the tarball is made of: package.json's "files", and what builds dist/ from them. */
const PACKAGE_DIRS = ["core", "plugins"];
const PACKAGE_FILES = ["package.json", "package-lock.json", "tsconfig.json", "tsconfig.types.json", "README.md", "LICENSE"];
const EXAMPLES = ["custom-audit-sink.ts", "custom-auth-plugin.ts", "custom-identity-mapper.ts", "custom-store.ts", "custom-upstream.ts"];
/** An installed project unused for this long is removed when another one is made. */
const STALE_MS = 60 * 60 * 1000;

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** The environment for children: no PORTCULLIS_* settings, and no npm settings that name this project. */
function childEnv(extra: Record<string, string> = {}): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (v === undefined || k.startsWith("PORTCULLIS_") || k === "INIT_CWD") continue;
    // `npm test` hands its scripts npm_package_*, npm_lifecycle_* and the project's local prefix.
    if (k.startsWith("npm_") && (!k.startsWith("npm_config_") || k === "npm_config_local_prefix")) continue;
    env[k] = v;
  }
  return { ...env, NO_COLOR: "1", ...extra };
}

function run(command: string, args: string[], cwd: string, ms: number, env: Record<string, string> = {}): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd, env: childEnv(env), stdio: ["ignore", "pipe", "pipe"] });
    const out: Run = { code: null, stdout: "", stderr: "" };
    child.stdout!.setEncoding("utf8");
    child.stderr!.setEncoding("utf8");
    child.stdout!.on("data", (d: string) => (out.stdout += d));
    child.stderr!.on("data", (d: string) => (out.stderr += d));
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`${command} ${args.join(" ")} did not exit within ${ms} ms\nstdout: ${out.stdout}\nstderr: ${out.stderr}`));
    }, ms);
    child.on("error", (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.on("close", (code) => {
      clearTimeout(timer);
      out.code = code;
      resolve(out);
    });
  });
}

function ok(r: Run, what: string): Run {
  assert.is(r.code, 0, `${what} exited with ${r.code}\nstdout: ${r.stdout.slice(-4000)}\nstderr: ${r.stderr.slice(-4000)}`);
  return r;
}

/** The executable of the runtime running the suite. */
function runtimeExec(): string {
  const deno = (globalThis as { Deno?: { execPath(): string } }).Deno;
  return deno ? deno.execPath() : process.execPath;
}

async function inputsHash(): Promise<string> {
  const files = [...PACKAGE_FILES, ".gitignore", ...EXAMPLES.map((f) => `examples/${f}`)];
  for (const top of PACKAGE_DIRS) {
    for (const rel of await readdir(join(ROOT, top), { recursive: true })) {
      if ((await stat(join(ROOT, top, rel))).isFile()) files.push(`${top}/${rel}`);
    }
  }
  const hash = createHash("sha256");
  for (const file of files.sort()) hash.update(`${file}\0`).update(await readFile(join(ROOT, file)).catch(() => "(none)")).update("\0");
  // The project's files below come from this test, and npm installs a platform's own esbuild binary.
  hash.update(await readFile(SELF)).update(`${process.platform}-${process.arch}`);
  return hash.digest("hex").slice(0, 16);
}

interface LockEntry {
  version?: string;
  dependencies?: Record<string, string>;
  optionalDependencies?: Record<string, string>;
  peerDependencies?: Record<string, string>;
  peerDependenciesMeta?: Record<string, { optional?: boolean }>;
  dev?: boolean;
  devOptional?: boolean;
  optional?: boolean;
  [key: string]: unknown;
}

/**
 * The consumer's package-lock.json: the tarball, plus exactly the packages it (and @types/node) depend
 * on as this repository's lockfile has them, so `npm ci --offline` installs the versions this repository
 * is tested with from npm's cache, needing no registry metadata.
 */
function consumerLock(repoLock: { packages: Record<string, LockEntry> }, pkg: { name: string; version: string; license?: string; bin?: unknown; engines?: unknown; dependencies: Record<string, string> }, tarball: string, integrity: string, rootDeps: Record<string, string>): unknown {
  const all = repoLock.packages;
  const picked: Record<string, LockEntry> = {};
  // Where Node's resolution finds `name` from the package installed at `location`.
  const resolveFrom = (location: string, name: string): string | undefined => {
    for (let base = location; ; base = base.includes("/node_modules/") ? base.slice(0, base.lastIndexOf("/node_modules/")) : "") {
      const at = `${base ? `${base}/` : ""}node_modules/${name}`;
      if (all[at]) return at;
      if (!base) return undefined;
    }
  };
  const walk = (location: string, entry: LockEntry): void => {
    const deps = { ...entry.dependencies, ...entry.optionalDependencies, ...entry.peerDependencies };
    for (const name of Object.keys(deps)) {
      const at = resolveFrom(location, name);
      if (!at) {
        if (entry.optionalDependencies?.[name] || entry.peerDependenciesMeta?.[name]?.optional) continue;
        throw new Error(`package-lock.json has no ${name} for ${location || "the root"}`);
      }
      if (picked[at]) continue;
      const { dev: _dev, devOptional, ...rest } = all[at]!;
      picked[at] = devOptional ? { ...rest, optional: true } : rest;
      walk(at, all[at]!);
    }
  };
  walk("", { dependencies: { ...pkg.dependencies, "@types/node": "*" } });
  return {
    name: "consumer",
    lockfileVersion: 3,
    requires: true,
    packages: {
      "": { name: "consumer", dependencies: rootDeps },
      [`node_modules/${pkg.name}`]: {
        version: pkg.version,
        resolved: `file:${tarball}`,
        integrity,
        license: pkg.license,
        dependencies: pkg.dependencies,
        bin: pkg.bin,
        engines: pkg.engines,
      },
      ...picked,
    },
  };
}

// The consumer project's files.

const SMOKE = `// Imports the package, answers a request in process and over HTTP, and says which serve adapter it got.
import { createGateway, defineGateway, serve, VERSION } from "portcullis";
import { bearer, memoryStore } from "portcullis/plugins";
import { adapter } from "./node_modules/portcullis/adapter-probe.mjs";

const gateway = createGateway(defineGateway({
  logLevel: "warn",
  admin: { bootstrap: false },
  auth: [bearer()],
  tokens: { store: memoryStore() },
  servers: {},
}));
const direct = await gateway.fetch(new Request("http://gateway.test/healthz"));
const served = await serve(gateway, { port: 0, handleSignals: false });
const overHttp = await fetch(served.url + "/healthz");
const body = await overHttp.json();
await served.close();
console.log(JSON.stringify({ version: VERSION, direct: direct.status, http: overHttp.status, body, adapter: adapter.slice(adapter.lastIndexOf("/") + 1) }));
`;

// Inside the package, so that its own package.json "imports" apply: what `#built-serve-adapter` is here.
const PROBE = `export const adapter = import.meta.resolve("#built-serve-adapter");\n`;

const CONFIG = `import { defineGateway } from "portcullis";
import { bearer, memoryStore, stdio } from "portcullis/plugins";

export default defineGateway({
  auth: [bearer()],
  tokens: { store: memoryStore() },
  servers: { files: stdio({ command: "npx", args: ["-y", "@modelcontextprotocol/server-filesystem", "/srv"] }) },
});
`;

const CONSUMER = `import { createGateway, defineGateway, GatewayError, isGatewayError, serve, type AuditEvent, type AuditSink, type AuthStrategy, type GatewayConfig, type GatewayErrorCode, type Served } from "portcullis";
import { apiKey, bearer, fileStore, http, jsonlAudit, memoryStore, stdio, type StdioOptions } from "portcullis/plugins";

const seen: AuditEvent[] = [];
const audit: AuditSink = { name: "audit:array", write: (event) => void seen.push(event) };
const nobody: AuthStrategy = { name: "auth:nobody", authenticate: async () => undefined };
const files: StdioOptions = { command: "npx", args: ["-y", "@modelcontextprotocol/server-filesystem", "/srv"] };
const durable: boolean = seen.length > 0;

const config: GatewayConfig = defineGateway({
  server: { port: 0 },
  auth: [nobody, bearer(), apiKey()],
  tokens: { store: durable ? fileStore({ dir: "./data" }) : memoryStore() },
  audit: [audit, jsonlAudit({ path: "./audit.jsonl" })],
  servers: { files: stdio(files), remote: http({ url: "https://mcp.example.com/mcp" }) },
});

// @ts-expect-error the port is a number: the declarations are real types, not \`any\`
defineGateway({ server: { port: "8787" } });

const gateway = createGateway(config);
const health: Response = await gateway.fetch(new Request("http://localhost/healthz"));
const served: Served = await serve(gateway, { port: 0, handleSignals: false });
const code: GatewayErrorCode | undefined = isGatewayError(new GatewayError("ERR_CONFIG", "x")) ? "ERR_CONFIG" : undefined;
console.log(health.status, served.url, code, seen.length);
await served.close();
`;

const STRICT = { strict: true, target: "es2022", noEmit: true, skipLibCheck: false };
const TSCONFIGS: Record<string, unknown> = {
  // Declarations checked in full (skipLibCheck off), the custom-plugin examples written against them
  // too. "types": ["node"] because TypeScript 6 adds no @types by default and the MCP SDK's own
  // declarations use Node's Buffer.
  "tsconfig.json": { compilerOptions: { ...STRICT, module: "nodenext", moduleResolution: "nodenext", types: ["node"] }, include: ["*.ts"] },
  "tsconfig.bundler.json": { compilerOptions: { ...STRICT, module: "esnext", moduleResolution: "bundler", types: ["node"] }, include: ["*.ts"] },
  // What `tsc --init` writes (TypeScript 6), checking the consumer's own code against the declarations.
  "tsconfig.init.json": {
    compilerOptions: {
      module: "nodenext", target: "esnext", types: [], noUncheckedIndexedAccess: true, exactOptionalPropertyTypes: true, strict: true,
      verbatimModuleSyntax: true, isolatedModules: true, noUncheckedSideEffectImports: true, moduleDetection: "force", skipLibCheck: true, noEmit: true,
    },
    files: ["consumer.ts"],
  },
};

/**
 * Packs a copy of this repository's package (so that building dist/ for the tarball leaves this
 * checkout's dist/ alone while other suites run it) and installs the tarball in a new project under
 * `work`.
 */
async function packAndInstall(work: string): Promise<void> {
  const pkg = JSON.parse(await readFile(join(ROOT, "package.json"), "utf8"));
  const repoLock = JSON.parse(await readFile(join(ROOT, "package-lock.json"), "utf8"));
  const src = join(work, "src");
  for (const path of [...PACKAGE_DIRS, ...PACKAGE_FILES, ".gitignore"]) {
    if (await stat(join(ROOT, path)).catch(() => undefined)) await cp(join(ROOT, path), join(src, path), { recursive: true });
  }
  await symlink(join(ROOT, "node_modules"), join(src, "node_modules"), "dir");
  // `npm pack` runs "prepare" (core/build.mjs): dist/ is built from these sources.
  ok(await run("npm", ["pack", "--pack-destination", work], src, 180_000), "npm pack");
  const tarballName = `${pkg.name}-${pkg.version}.tgz`;
  const tarball = await readFile(join(work, tarballName));
  const app = join(work, "app");
  await mkdir(app);
  const rootDeps = { [pkg.name]: `file:../${tarballName}`, "@types/node": repoLock.packages["node_modules/@types/node"].version };
  await writeFile(join(app, "package.json"), JSON.stringify({ name: "consumer", private: true, type: "module", dependencies: rootDeps }, null, 2));
  const integrity = `sha512-${createHash("sha512").update(tarball).digest("base64")}`;
  await writeFile(join(app, "package-lock.json"), JSON.stringify(consumerLock(repoLock, pkg, `../${tarballName}`, integrity, rootDeps), null, 2));
  let install = await run("npm", ["ci", "--offline", "--no-audit", "--no-fund"], app, 180_000);
  // An npm cache without this repository's packages (cleaned since `npm install`): fetch what is missing.
  if (install.code !== 0 && /ENOTCACHED/.test(install.stderr)) install = await run("npm", ["ci", "--prefer-offline", "--no-audit", "--no-fund"], app, 300_000);
  ok(install, "npm ci in the consumer project");
  await writeFile(join(app, "node_modules", pkg.name, "adapter-probe.mjs"), PROBE);
  await writeFile(join(app, "smoke.mjs"), SMOKE);
  await writeFile(join(app, "gateway.config.ts"), CONFIG);
  await writeFile(join(app, "consumer.ts"), CONSUMER);
  for (const f of EXAMPLES) await copyFile(join(ROOT, "examples", f), join(app, f));
  for (const [name, config] of Object.entries(TSCONFIGS)) await writeFile(join(app, name), JSON.stringify(config, null, 2));
  await rm(src, { recursive: true, force: true });
}

/** The installed project for the current sources: reused when there is one, made (atomically) when not. */
async function consumerProject(): Promise<{ app: string; reused: boolean }> {
  const base = tmpdir();
  const final = join(base, `portcullis-pack-${await inputsHash()}`);
  const now = new Date();
  try {
    await utimes(final, now, now);
    return { app: join(final, "app"), reused: true };
  } catch {
    // not made yet
  }
  for (const name of await readdir(base)) {
    if (!name.startsWith("portcullis-pack-")) continue;
    const info = await stat(join(base, name)).catch(() => undefined);
    if (info && now.getTime() - info.mtimeMs > STALE_MS) await rm(join(base, name), { recursive: true, force: true });
  }
  const work = `${final}.tmp-${process.pid}-${Math.random().toString(36).slice(2)}`;
  await mkdir(work);
  try {
    await packAndInstall(work);
    await rename(work, final).catch(async (err: NodeJS.ErrnoException) => {
      // Another run made the same project meanwhile: use theirs.
      if (err.code !== "ENOTEMPTY" && err.code !== "EEXIST") throw err;
    });
  } finally {
    await rm(work, { recursive: true, force: true });
  }
  return { app: join(final, "app"), reused: false };
}

let app: string | undefined;

function project(): string {
  if (!app) throw new Error("no installed project: the pack test failed");
  return app;
}

test("npm pack: the tarball installs offline in a fresh project, with dist/ JavaScript and declarations", async () => {
  const made = await consumerProject();
  app = made.app;
  const pkg = join(app, "node_modules", "portcullis");
  for (const file of ["dist/mod.js", "dist/plugins.js", "dist/cli.js", "dist/serve-node.js", "dist/serve-deno.js", "dist/serve-bun.js", "dist/types/core/mod.d.ts", "dist/types/plugins/mod.d.ts"]) {
    assert.ok((await stat(join(pkg, file)).catch(() => undefined))?.isFile(), `the package has no ${file}`);
  }
});

test(`${runtime} imports "portcullis" and "portcullis/plugins", serves with its own adapter`, async () => {
  const r = ok(await run(runtimeExec(), runtime === "deno" ? ["run", "-A", "--no-lock", "smoke.mjs"] : ["smoke.mjs"], project(), 30_000), `${runtime} smoke.mjs`);
  const out = JSON.parse(r.stdout.trim().split("\n").at(-1)!);
  const pkg = JSON.parse(await readFile(join(ROOT, "package.json"), "utf8"));
  assert.equal(out, { version: pkg.version, direct: 200, http: 200, body: out.body, adapter: `serve-${runtime}.js` });
  assert.is(out.body.status, "ok");
});

test(`${runtime} runs the installed CLI on a gateway.config.ts that imports "portcullis"`, async () => {
  const cli = join("node_modules", "portcullis", "dist", "cli.js");
  // On node through the bin link npm made, as `npx portcullis` does.
  const [command, args] = runtime === "deno" ? [runtimeExec(), ["run", "-A", "--no-lock", cli]] : runtime === "bun" ? [runtimeExec(), [cli]] : [join(project(), "node_modules", ".bin", "portcullis"), []];
  const r = ok(await run(command, [...args, "check"], project(), 30_000, { PORTCULLIS_DATA_DIR: join(project(), "data") }), `${runtime} portcullis check`);
  assert.match(r.stdout, /gateway\.config\.ts: OK/);
  assert.match(r.stdout, /auth: auth:bearer/);
  assert.match(r.stdout, /files: upstream:stdio npx -y @modelcontextprotocol\/server-filesystem \/srv/);
});

if (runtime === "node") {
  // The declarations are the same for every runtime: node checks them, deno checks with its own below.
  test("TypeScript consumers typecheck against the declarations: nodenext, bundler, tsc --init's defaults", async () => {
    const tsc = join(ROOT, "node_modules", "typescript", "bin", "tsc");
    // Incremental: a project made for the same sources was checked by an earlier run; tsc redoes what changed.
    const runs = await Promise.all(Object.keys(TSCONFIGS).map((name) => run(process.execPath, [tsc, "-p", name, "--pretty", "false", "--incremental", "--tsBuildInfoFile", `${name}.tsbuildinfo`], project(), 120_000)));
    Object.keys(TSCONFIGS).forEach((name, i) => {
      const r = runs[i]!;
      const errors = r.stdout.split("\n").filter((l) => / error TS\d+/.test(l));
      assert.is(r.code, 0, `tsc -p ${name}: ${errors.length} errors\n${r.stdout.slice(0, 4000)}${r.stderr}`);
    });
  });
}

if (runtime === "deno") {
  test("deno check of a consumer: the declarations, as Deno reads them", async () => {
    ok(await run(runtimeExec(), ["check", "--no-lock", "consumer.ts"], project(), 60_000), "deno check consumer.ts");
  });
}

test.run();
