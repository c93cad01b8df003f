import { Client, StreamableHTTPClientTransport } from "@modelcontextprotocol/client";
import { execFileSync } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { freePort, start, stop, sleep } from "./lib/procs.ts";
const ROOT = new URL("../", import.meta.url).pathname;
const dir = mkdtempSync("/tmp/pb-");
const env = { PORTCULLIS_DATA_DIR: dir, BENCH_UPSTREAMS: "5", BENCH_TOOLS: "50", BENCH_AUDIT: dir + "/a.jsonl", BENCH_ECHO_CMD: JSON.stringify([process.execPath, "--import", ROOT + "core/serve/node-ts-register.mjs", ROOT + "bench/echo-server.ts"]) };
const out = execFileSync(process.execPath, [ROOT + "dist/cli.js", "tokens", "create", "--config", ROOT + "bench/gateway.config.ts", "--user", "b", "--roles", "bench", "--scopes", "mcp:read,mcp:write", "--servers", "echo*", "--tools", "echo*", "--json"], { env: { ...process.env, ...env } }).toString();
const token = JSON.parse(out).token;
const port = await freePort();
const extra = (process.env.PROF_ARGS ?? "").split(" ").filter(Boolean);
const entry = process.env.GW ? ["--import", ROOT + "core/serve/node-ts-register.mjs", ROOT + "bench/_gw.ts"] : [ROOT + "dist/cli.js", "start", "--config", ROOT + "bench/gateway.config.ts"];
const p = start(process.execPath, [...extra, ...entry, "--port", String(port)], env);
p.child.stdout!.resume();
await sleep(3000);
const c = new Client({ name: "p", version: "1" });
await c.connect(new StreamableHTTPClientTransport(new URL(`http://127.0.0.1:${port}/mcp`), { requestInit: { headers: { authorization: `Bearer ${token}` } } }));
const N = Number(process.env.N ?? 2000);
if (process.env.CONC) {
  const cs = await Promise.all(Array.from({ length: 32 }, async () => { const x = new Client({ name: "p", version: "1" }); await x.connect(new StreamableHTTPClientTransport(new URL(`http://127.0.0.1:${port}/mcp`), { requestInit: { headers: { authorization: `Bearer ${token}` } } })); return x; }));
  const { readFileSync } = await import("node:fs");
  const cpu = () => { const f = readFileSync(`/proc/${p.pid}/stat`, "utf8").split(") ")[1]!.split(" "); return (Number(f[11]) + Number(f[12])) * 10; };
  let n = 0; const end = performance.now() + 8000; const c0 = cpu();
  await Promise.all(cs.map(async (x) => { while (performance.now() < end) { await x.callTool({ name: "echo1__echo", arguments: { message: "hi" } }); n++; } }));
  console.log("calls/s", n / 8, "cpu us/call", ((cpu() - c0) * 1000 / n).toFixed(0));
}
for (let i = 0; i < 200; i++) await c.callTool({ name: "echo1__echo", arguments: { message: "hi" } });
const lat: number[] = [];
for (let i = 0; i < N; i++) { const s = performance.now(); await c.callTool({ name: "echo1__echo", arguments: { message: "hi" } }); lat.push(performance.now() - s); }
lat.sort((a, b) => a - b);
console.log("p50", lat[N >> 1], "p99", lat[Math.floor(N * 0.99)]);
await c.close();
await stop(p, 10000);
