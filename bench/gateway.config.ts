// The gateway the benchmark measures: the realistic path switched on. Bearer tokens from the file
// store (the CLI's default), roles plus a token's own permissions, the default identity mapper (not
// disabled), and a JSONL audit file. The harness sets the environment:
//   BENCH_UPSTREAMS  how many echo servers (echo1 ... echoN), default 1
//   BENCH_TOOLS      tools per echo server, default 1
//   BENCH_AUDIT      the audit file
//   BENCH_ECHO_CMD   JSON [command, ...args] that starts bench/echo-server.ts over stdio
//   BENCH_REDIS_URL  when set, the store is Redis at this URL (the several-instances case) instead of the file store
// The upstreams run on one runtime (node) whichever runtime the gateway runs on, so the three gateways
// are compared over the same upstream.
import { defineGateway } from "portcullis";
import { bearer, jsonlAudit, redisStore, stdio } from "portcullis/plugins";

const env = (globalThis as { process?: { env: Record<string, string | undefined> } }).process?.env ?? {};
const upstreams = Number(env.BENCH_UPSTREAMS ?? 1);
const [command, ...args] = JSON.parse(env.BENCH_ECHO_CMD ?? "[]") as string[];
if (!command) throw new Error("BENCH_ECHO_CMD is not set: run this config through `npm run bench`");

const servers: Record<string, ReturnType<typeof stdio>> = {};
for (let i = 1; i <= upstreams; i++) {
  servers[`echo${i}`] = stdio({ command, args: [...args, "--tools", env.BENCH_TOOLS ?? "1"], stderr: "ignore" });
}

export default defineGateway({
  // The harness opens its 32 load clients and 1,000 idle sessions with one token, where real traffic has
  // many callers: the per-caller session cap (16 by default) is lifted so it does not close them.
  server: { host: "127.0.0.1", maxSessionsPerUser: 10_000 },
  auth: [bearer()],
  servers,
  roles: { bench: { servers: ["echo*"] } },
  audit: [jsonlAudit({ path: env.BENCH_AUDIT ?? "./bench/results/audit.jsonl" })],
  ...(env.BENCH_REDIS_URL ? { tokens: { store: redisStore({ url: env.BENCH_REDIS_URL, prefix: "bench:" }) } } : {}),
  logLevel: "warn",
  admin: { bootstrap: false },
});
