// The official MCP conformance suite (`@modelcontextprotocol/conformance`, a devDependency pinned in
// package.json) run through the gateway: every server scenario, first against the fixture server
// (tests/fixtures/conformance-server.ts) directly over Streamable HTTP, then against `/mcp/<server>` of a
// gateway that has the fixture as two upstreams, `conf` over HTTP and `conf-stdio` over stdio. A scenario
// that passes directly must pass through the gateway, except the ones in KNOWN_GAPS, which must still
// fail (when one starts passing, remove it from the list).
//
// The suite's CLI needs Node >= 22 (it imports `globSync` from node:fs). On an older Node it is run by a
// Node 22 installed from npm into node_modules/.cache (the `node-<os>-<arch>` binary package; never a
// devDependency, which would put a `node` in node_modules/.bin and run `npm test` itself on 22), reused on
// later runs; CONFORMANCE_NODE=/path/to/node22 uses one already there. The suite sends no credentials and
// has no option for headers, so it talks to a loopback proxy that adds the bearer token and forwards
// everything else unchanged (Host and Origin included, which the DNS-rebinding scenario needs).
// Node only: the suite exercises the protocol, not the runtime edges, which the rest of tests/ covers on
// Deno and Bun.
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdir, mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import { createServer, request as httpRequest, type Server as HttpServer } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import process from "node:process";
import { bearer, memoryStore } from "../../plugins/mod.ts";
import { startConformanceServer } from "../fixtures/conformance-server.ts";
import { http, runtime, startGateway, stdio } from "../fixtures/helpers.ts";

const test = suite("conformance");

type Upstream = "http" | "stdio";

/**
 * Scenarios that pass against the fixture directly but fail through the gateway today, per upstream
 * kind, each with why. The test fails if one of these passes (take it off the list) or if any other
 * scenario fails.
 *
 * Empty since server-initiated traffic is relayed (1398b23). Before, on both kinds: tools-call-with-progress
 * (no progress relay, until 4643dad), logging-set-level and tools-call-with-logging (no logging/setLevel,
 * no log relay), resources-subscribe and resources-unsubscribe (no subscription relay), and
 * tools-call-sampling, tools-call-elicitation, elicitation-sep1034-defaults, elicitation-sep1330-enums
 * (server-to-client requests not relayed).
 */
const KNOWN_GAPS: Record<Upstream, Record<string, string>> = {
  http: {},
  stdio: {},
};

const ROOT = new URL("../..", import.meta.url).pathname.replace(/\/$/, "");
const SUITE_CLI = join(ROOT, "node_modules/@modelcontextprotocol/conformance/dist/index.js");
const FIXTURE = join(ROOT, "tests/fixtures/conformance-server.ts");
/** The gateway's server name for the fixture, per upstream kind. */
const SERVER: Record<Upstream, string> = { http: "conf", stdio: "conf-stdio" };
const CACHE = join(ROOT, "node_modules/.cache/portcullis-conformance");
const NODE_MAJOR = 22;
const ADMIN = "admin-token-for-conformance-tests-0123456789";

type Status = "SUCCESS" | "FAILURE" | "WARNING" | "INFO" | "SKIPPED";
interface Check {
  id: string;
  status: Status;
  errorMessage?: string;
}
/** One scenario's result: passed when none of its checks failed (the suite's own rule). */
interface Outcome {
  passed: boolean;
  failures: string[];
  warnings: string[];
}

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

function run(command: string, args: string[], timeoutMs: number, env: Record<string, string | undefined> = process.env): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd: ROOT, env: { ...env, NO_COLOR: "1" }, stdio: ["ignore", "pipe", "pipe"] });
    const out: Run = { code: null, stdout: "", stderr: "" };
    child.stdout!.setEncoding("utf8").on("data", (d: string) => (out.stdout += d));
    child.stderr!.setEncoding("utf8").on("data", (d: string) => (out.stderr += d));
    const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
    child.on("error", (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      out.code = code;
      if (signal) out.stderr += `\n(killed by ${signal}${signal === "SIGKILL" ? ` after ${timeoutMs} ms` : ""})`;
      resolve(out);
    });
  });
}

async function majorOf(node: string): Promise<number> {
  try {
    const r = await run(node, ["--version"], 10_000);
    return Number(/^v(\d+)\./.exec(r.stdout.trim())?.[1] ?? 0);
  } catch {
    return 0;
  }
}

/** A Node >= 22 to run the suite's CLI with: this one, CONFORMANCE_NODE, or one installed from npm. */
async function suiteNode(): Promise<string> {
  if (Number(process.versions.node.split(".")[0]) >= NODE_MAJOR) return process.execPath;
  const given = process.env.CONFORMANCE_NODE;
  if (given) {
    const major = await majorOf(given);
    if (major < NODE_MAJOR) throw new Error(`CONFORMANCE_NODE=${given} is Node ${major || "(not runnable)"}, the conformance suite needs ${NODE_MAJOR}+`);
    return given;
  }
  const os = process.platform === "win32" ? "win" : process.platform;
  const pkg = `node-${os}-${process.arch}`;
  const prefix = join(CACHE, `node${NODE_MAJOR}`);
  const binary = join(prefix, "node_modules", pkg, "bin", process.platform === "win32" ? "node.exe" : "node");
  if (existsSync(binary) && (await majorOf(binary)) >= NODE_MAJOR) return binary;

  // The prebuilt binary package has no install scripts; npm only unpacks it.
  await mkdir(prefix, { recursive: true });
  const npmCli = process.env.npm_execpath;
  const [npm, base] = npmCli && /\.c?js$/.test(npmCli) ? [process.execPath, [npmCli]] : ["npm", []];
  const started = Date.now();
  const r = await run(npm, [...base, "install", "--prefix", prefix, "--no-save", "--no-package-lock", "--no-audit", "--no-fund", `${pkg}@${NODE_MAJOR}`], 180_000);
  if (r.code !== 0 || !existsSync(binary)) {
    throw new Error(`could not install ${pkg}@${NODE_MAJOR} from npm for the conformance suite (exit ${r.code}):\n${r.stderr.slice(-2000)}`);
  }
  console.log(`  (conformance: installed ${pkg}@${NODE_MAJOR} into ${prefix.slice(ROOT.length + 1)} in ${((Date.now() - started) / 1000).toFixed(1)} s)`);
  return binary;
}

/** Runs every server scenario of the suite against `url`; the outcome of each, by scenario name. */
async function runSuite(node: string, url: string, label: string): Promise<Map<string, Outcome>> {
  const out = await mkdtemp(join(tmpdir(), `portcullis-conformance-${label}-`));
  try {
    const r = await run(node, [SUITE_CLI, "server", "--url", url, "--suite", "all", "--output-dir", out], 120_000);
    const outcomes = new Map<string, Outcome>();
    for (const dir of await readdir(out)) {
      // The suite writes one `server-<scenario>-<ISO timestamp>/checks.json` per scenario.
      const name = /^server-(.+)-\d{4}-\d\d-\d\dT\d\d-\d\d-\d\d-\d{3}Z$/.exec(dir)?.[1];
      if (!name) continue;
      const checks = JSON.parse(await readFile(join(out, dir, "checks.json"), "utf8")) as Check[];
      const describe = (c: Check) => `${c.id}${c.errorMessage ? `: ${c.errorMessage}` : ""}`;
      const failures = checks.filter((c) => c.status === "FAILURE").map(describe);
      outcomes.set(name, { passed: failures.length === 0, failures, warnings: checks.filter((c) => c.status === "WARNING").map(describe) });
    }
    if (outcomes.size === 0) throw new Error(`the conformance suite produced no results against ${label} (exit ${r.code}):\n${r.stdout.slice(-2000)}\n${r.stderr.slice(-2000)}`);
    // Scenarios the CLI ran but wrote nothing for (it crashed on them) count as failed.
    for (const m of r.stdout.matchAll(/^=== Running scenario: (\S+) ===$/gm)) {
      if (!outcomes.has(m[1])) outcomes.set(m[1], { passed: false, failures: ["no result written"], warnings: [] });
    }
    return outcomes;
  } finally {
    await rm(out, { recursive: true, force: true });
  }
}

/**
 * A loopback proxy in front of the gateway that adds `Authorization: Bearer <token>` to every request and
 * otherwise forwards requests and (streamed) responses unchanged, Host and Origin included.
 */
async function startAuthProxy(target: string, token: string): Promise<{ url: string; close(): Promise<void> }> {
  const { hostname, port } = new URL(target);
  const server: HttpServer = createServer((req, res) => {
    const upstream = httpRequest(
      { host: hostname, port, method: req.method, path: req.url, headers: { ...req.headers, authorization: `Bearer ${token}` } },
      (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
      },
    );
    upstream.on("error", () => {
      if (!res.headersSent) res.writeHead(502);
      res.end();
    });
    // The client hung up (an SSE stream it is done with): hang up on the gateway too.
    res.on("close", () => upstream.destroy());
    req.pipe(upstream);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address() as { port: number };
  return {
    url: `http://127.0.0.1:${address.port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

function summary(outcomes: Map<string, Outcome>): string {
  return [...outcomes].map(([name, o]) => `${o.passed ? "pass" : "FAIL"} ${name}${o.failures.length ? ` (${o.failures.join("; ")})` : ""}`).join("\n");
}

if (runtime !== "node") {
  test("the official conformance suite through the gateway", () => {
    console.log(`  (skipped on ${runtime}: the suite runs on Node only; it tests the protocol through the gateway, the same on every runtime)`);
  });
} else {
  let fixture: Awaited<ReturnType<typeof startConformanceServer>>;
  let gateway: Awaited<ReturnType<typeof startGateway>>;
  let proxy: Awaited<ReturnType<typeof startAuthProxy>>;

  test.before(async () => {
    fixture = await startConformanceServer();
    gateway = await startGateway({
      auth: bearer(),
      admin: { token: ADMIN, bootstrap: false },
      tokens: { store: memoryStore() },
      servers: { [SERVER.http]: http({ url: fixture.url }), [SERVER.stdio]: stdio({ script: FIXTURE, stderr: "ignore" }) },
    });
    const res = await fetch(`${gateway.url}/v1/auth/tokens`, {
      method: "POST",
      headers: { authorization: `Bearer ${ADMIN}`, "content-type": "application/json" },
      body: JSON.stringify({ user: "conformance" }),
    });
    assert.is(res.status, 201, await res.clone().text());
    const { token } = (await res.json()) as { token: string };
    proxy = await startAuthProxy(gateway.url, token);
  });

  test.after(async () => {
    await proxy?.close();
    await gateway?.close();
    await fixture?.close();
  });

  test("the official conformance suite: what passes against the fixture passes through /mcp/<server>", async () => {
    const node = await suiteNode();
    const took: string[] = [];
    const timed = async (url: string, label: string) => {
      const t0 = Date.now();
      const outcomes = await runSuite(node, url, label);
      took.push(`${label} ${((Date.now() - t0) / 1000).toFixed(1)} s`);
      return outcomes;
    };
    const direct = await timed(fixture.url, "direct");
    const via: Record<Upstream, Map<string, Outcome>> = {
      http: await timed(`${proxy.url}/mcp/${SERVER.http}`, "gateway-http"),
      stdio: await timed(`${proxy.url}/mcp/${SERVER.stdio}`, "gateway-stdio"),
    };
    const passingDirect = [...direct].filter(([, o]) => o.passed).map(([n]) => n);
    const failing = (kind: Upstream) => passingDirect.filter((n) => !via[kind].get(n)?.passed);
    console.log(`  (conformance: ${direct.size} server scenarios (runs: ${took.join(", ")}); ${passingDirect.length} pass directly, ` +
      `${passingDirect.length - failing("http").length} through the gateway to an HTTP upstream, ${passingDirect.length - failing("stdio").length} to a stdio upstream)`);
    for (const kind of ["http", "stdio"] as const) {
      const names = failing(kind);
      if (names.length) console.log(`  (conformance: failing through the gateway, ${kind} upstream: ${names.map((n) => `${n}${n in KNOWN_GAPS[kind] ? "" : " [NEW]"}`).join(", ")})`);
      // Warnings (SHOULDs) do not fail a scenario; say where the gateway adds some.
      for (const [name, o] of via[kind]) {
        const extra = o.warnings.filter((w) => !direct.get(name)?.warnings.includes(w));
        if (extra.length) console.log(`  (conformance: ${name} warns through the gateway only, ${kind} upstream: ${extra.join("; ")})`);
      }
    }

    // The fixture is built to pass every scenario; one that fails directly is a fixture (or suite) problem.
    assert.ok(direct.size >= 30, `expected the suite's ~32 server scenarios, got ${direct.size}:\n${summary(direct)}`);
    const failingDirect = [...direct].filter(([, o]) => !o.passed);
    assert.equal(failingDirect.map(([n]) => n), [], `scenarios failing against the fixture itself:\n${summary(new Map(failingDirect))}`);

    for (const kind of ["http", "stdio"] as const) {
      const gaps = KNOWN_GAPS[kind];
      assert.equal([...via[kind].keys()].sort(), [...direct.keys()].sort(), `the same scenarios ran directly and through the gateway (${kind} upstream)`);
      const regressions = failing(kind).filter((n) => !(n in gaps));
      assert.equal(regressions, [], `scenarios that pass directly but fail through the gateway (${kind} upstream):\n${summary(new Map(regressions.map((n) => [n, via[kind].get(n)!])))}`);
      const stale = Object.keys(gaps).filter((n) => via[kind].get(n)?.passed);
      assert.equal(stale, [], `KNOWN_GAPS.${kind} lists scenarios that now pass through the gateway; remove them: ${stale.join(", ")}`);
      const unknown = Object.keys(gaps).filter((n) => !direct.has(n));
      assert.equal(unknown, [], `KNOWN_GAPS.${kind} names scenarios the suite does not have: ${unknown.join(", ")}`);
    }
  });
}

test.run();
