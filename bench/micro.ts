/**
 * Microbenchmarks of the pieces every call goes through, median time per operation over several rounds:
 * token verification (10,000 tokens in the store), the permission check, JWT verification with a cached
 * key set, identity header mapping and an audit event written to a JSONL file.
 *
 * Run alone: node --import ./core/serve/node-ts-register.mjs bench/micro.ts [--quick] [--json]
 *            deno run -A bench/micro.ts | bun run bench/micro.ts
 * (`npm run bench` runs it on every runtime in BENCH_RUNTIMES.)
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createLocalJWKSet, exportJWK, generateKeyPair, jwtVerify, SignJWT } from "jose";
import { createSigningKeys } from "../core/tokens/signing-keys.ts";
import { createAudit } from "../core/audit/bus.ts";
import { permissionPolicy } from "../core/auth/permissions.ts";
import { createTokenService } from "../core/tokens/service.ts";
import type { Identity, IdentityMapper } from "../core/types.ts";
import { jsonlAudit } from "../plugins/audit/jsonl.ts";
import { memoryStore } from "../plugins/stores/memory.ts";
import { fmt, median, table } from "./lib/stats.ts";

const argv = (globalThis as { process?: { argv: string[] } }).process?.argv ?? [];
const QUICK = argv.includes("--quick");
const JSON_OUT = argv.includes("--json");
const ROUNDS = QUICK ? 3 : 7;
/** Each round runs for about this long (and at most MAX_OPS operations). */
const ROUND_MS = QUICK ? 60 : 250;
const MAX_OPS = 2_000_000;
const quiet = { debug() {}, info() {}, warn() {}, error() {} };

/** One measured operation: its median ns per op over the rounds, and the target if it has one. */
export interface MicroResult {
  name: string;
  nsPerOp: number;
  target?: number;
  rounds: number[];
}

/**
 * Times `fn` in rounds of ~ROUND_MS (after one warm-up round) and returns the median ns per call. An
 * async `fn` is awaited call after call, which is how a request meets it.
 *
 * @example
 * await measure("noop", () => undefined);
 */
export async function measure(name: string, fn: () => unknown, target?: number): Promise<MicroResult> {
  const rounds: number[] = [];
  const probe = fn();
  const isAsync = probe instanceof Promise;
  if (isAsync) await probe;
  for (let r = 0; r <= ROUNDS; r++) {
    let ops = 0;
    const t0 = performance.now();
    const end = t0 + ROUND_MS;
    // Check the clock every 64 operations only, so reading it costs nothing measurable.
    while (ops < MAX_OPS) {
      if (isAsync) for (let i = 0; i < 64; i++) await fn();
      else for (let i = 0; i < 64; i++) fn();
      ops += 64;
      if (performance.now() >= end) break;
    }
    const ns = ((performance.now() - t0) * 1e6) / ops;
    if (r > 0) rounds.push(ns);
  }
  return { name, nsPerOp: median(rounds), target, rounds };
}

async function tokenCase(): Promise<MicroResult[]> {
  const audit = createAudit([], quiet);
  const tokens = createTokenService({ store: memoryStore(), audit, log: quiet, usageFlushMs: 3_600_000 });
  const secrets: string[] = [];
  for (let i = 0; i < 10_000; i++) {
    const { secret } = await tokens.create({ user: `user${i}`, roles: ["bench"], scopes: ["mcp:read", "mcp:write"] }, "bench");
    secrets.push(secret);
  }
  let i = 0;
  const ok = await tokens.verify(secrets[0]!, "token");
  if (!ok.ok) throw new Error("token verification failed in the microbenchmark");
  // Rotate through 1,000 different tokens: many callers, not one hot token.
  const hot = await measure("token verify (10k tokens in store)", () => tokens.verify(secrets[i++ % 1000]!, "token"), 5_000);
  let j = 0;
  const bogus = secrets.slice(0, 1000).map((s) => s.slice(0, 10) + (s[10] === "a" ? "b" : "a") + s.slice(11));
  const bad = await measure("token verify, corrupted secret (rejected)", () => tokens.verify(bogus[j++ % 1000]!, "token"));
  await tokens.close();
  // The same lookups with the verification cache off: hash, store lookup, state check every time.
  const store = memoryStore();
  const uncached = createTokenService({ store, audit, log: quiet, usageFlushMs: 3_600_000, verifyCacheMs: 0 });
  const fresh: string[] = [];
  for (let n = 0; n < 10_000; n++) fresh.push((await uncached.create({ user: `user${n}`, scopes: ["mcp:read"] }, "bench")).secret);
  let k = 0;
  const cold = await measure("token verify, cache off (10k tokens in store)", () => uncached.verify(fresh[k++ % 1000]!, "token"));
  await uncached.close();
  return [hot, cold, bad];
}

async function policyCases(): Promise<MicroResult[]> {
  const policy = permissionPolicy({ separator: "__", roles: { bench: { servers: ["echo*"] }, support: { servers: ["notes"], tools: ["read"] } } });
  const base: Identity = {
    subject: "bench",
    roles: ["bench"],
    scopes: ["mcp:read", "mcp:write"],
    strategy: "auth:bearer",
    tokenId: "tok_x",
    permissions: { servers: ["echo*"], tools: ["echo*__*"] },
  };
  const tool = { name: "echo", annotations: { readOnlyHint: true } };
  if (!policy.tool(base, "echo1", tool, true)) throw new Error("policy denied the benchmark tool");
  return [
    await measure("policy check: tool call (session identity)", () => policy.tool(base, "echo1", tool, true), 2_000),
    // Stateless (2026-07-28) requests authenticate afresh, so each brings a new identity object.
    await measure("policy check: tool call (new identity each time)", () => policy.tool({ ...base }, "echo1", tool, true)),
  ];
}

async function jwtCase(): Promise<MicroResult[]> {
  const { publicKey, privateKey } = await generateKeyPair("ES256");
  const other = await generateKeyPair("ES256");
  const jwks = createLocalJWKSet({
    keys: [
      { ...(await exportJWK(other.publicKey)), kid: "old", alg: "ES256", use: "sig" },
      { ...(await exportJWK(publicKey)), kid: "current", alg: "ES256", use: "sig" },
    ],
  });
  const jwt = await new SignJWT({ email: "bench@example.com", roles: ["bench"] })
    .setProtectedHeader({ alg: "ES256", kid: "current" })
    .setIssuer("https://idp.example.com")
    .setAudience("portcullis")
    .setSubject("bench")
    .setIssuedAt()
    .setExpirationTime("1h")
    .sign(privateKey);
  const opts = { issuer: "https://idp.example.com", audience: "portcullis", algorithms: ["ES256"] };
  // The gateway's own tokens (oauthServer() access tokens, identity assertions) go through SigningKeys,
  // which answers a token it verified before from memory (keyed by its hash, until min(exp, 60 s)).
  const keys = createSigningKeys();
  const own = await keys.sign({ email: "bench@example.com" }, { issuer: "https://gw.example", audience: "https://gw.example/mcp", subject: "bench", expiresInSeconds: 3600, typ: "at+jwt" });
  const ownOpts = { issuer: "https://gw.example", audience: "https://gw.example/mcp", typ: "at+jwt" };
  await keys.verify(own, ownOpts);
  return [
    await measure("JWT verify, ES256, cached JWKS", () => jwtVerify(jwt, jwks, opts), 100_000),
    await measure("gateway JWT verify, repeated token (SigningKeys cache)", () => keys.verify(own, ownOpts)),
  ];
}

async function identityCase(): Promise<MicroResult[]> {
  let mod: { identityHeaders?: () => IdentityMapper };
  try {
    mod = await import("../plugins/identity/headers.ts");
  } catch {
    return [];
  }
  if (!mod.identityHeaders) return [];
  const mapper = mod.identityHeaders();
  const identity: Identity = { subject: "bench", email: "bench@example.com", name: "Bench Person", team: "perf", roles: ["bench", "dev"], org: "acme", scopes: ["mcp:read"], strategy: "auth:bearer" };
  return [
    await measure("identity headers (session identity)", () => mapper.map(identity, "echo1", "headers")),
    await measure("identity headers (new identity each time)", () => mapper.map({ ...identity }, "echo1", "headers")),
    await measure("identity _meta for stdio (session identity)", () => mapper.map(identity, "echo1", "meta")),
  ];
}

async function auditCase(): Promise<MicroResult[]> {
  const dir = await mkdtemp(join(tmpdir(), "portcullis-micro-"));
  try {
    const sink = jsonlAudit({ path: join(dir, "audit.jsonl"), flushMs: 50 });
    const audit = createAudit([sink], quiet);
    const event = { type: "tool_call", subject: "bench", tokenId: "tok_0123456789abcdef", strategy: "auth:bearer", server: "echo1", tool: "echo", allowed: true, outcome: "ok", durationMs: 0.412 } as const;
    let n = 0;
    // Every 1,000 events the loop awaits the file append, so the figure includes the disk write, amortized.
    const emit = async () => {
      audit.emit(event);
      if (++n % 1000 === 0) await audit.flush();
    };
    const r = await measure("audit event -> JSONL file (amortized append)", emit);
    await audit.close();
    return [r];
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  const results = [...await tokenCase(), ...await policyCases(), ...await jwtCase(), ...await identityCase(), ...await auditCase()];
  if (JSON_OUT) {
    (globalThis as { process?: { stdout: { write(s: string): void } } }).process?.stdout.write(JSON.stringify(results) + "\n");
    return;
  }
  const rows = results.map((r) => [r.name, `${fmt(r.nsPerOp / 1000)} µs`, r.target === undefined ? "" : `< ${fmt(r.target / 1000)} µs`, r.target === undefined ? "" : r.nsPerOp < r.target ? "met" : "MISSED"]);
  console.log(table(["operation", "median per op", "target", ""], rows));
}

await main();
