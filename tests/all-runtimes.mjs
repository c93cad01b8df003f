// `npm test`: runs the shared suite on node, deno and bun (all three installed by `npm install`), one
// after the other, and fails if any runtime fails.
import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("..", import.meta.url));
const bin = (name) => fileURLToPath(new URL(`../node_modules/.bin/${name}`, import.meta.url));
const wanted = (process.env.TEST_RUNTIMES ?? "node,deno,bun").split(",").map((s) => s.trim()).filter(Boolean);
const runtimes = {
  node: [process.execPath, ["--import", "./core/serve/node-ts-register.mjs", "tests/run.ts"]],
  deno: [bin("deno"), ["run", "-A", "tests/run.ts"]],
  bun: [bin("bun"), ["run", "tests/run.ts"]],
};

let passed = 0;
let failed = 0;
const summary = [];
for (const name of wanted) {
  const [cmd, args] = runtimes[name] ?? [];
  if (!cmd) {
    console.error(`unknown runtime ${name}`);
    process.exit(2);
  }
  console.log(`\n=== ${name} ===`);
  const result = await new Promise((resolve) => {
    let out = "";
    const child = spawn(cmd, args, { cwd: root, stdio: ["ignore", "pipe", "inherit"], env: { ...process.env, NO_COLOR: "1" } });
    child.stdout.on("data", (d) => {
      out += d;
      process.stdout.write(d);
    });
    child.on("close", (code) => resolve({ code, out }));
  });
  const total = Number(/Total:\s+(\d+)/.exec(result.out)?.[1] ?? 0);
  const ok = Number(/Passed:\s+(\d+)/.exec(result.out)?.[1] ?? 0);
  const bad = result.code === 0 && total > 0 ? total - ok : Math.max(1, total - ok);
  passed += ok;
  failed += bad;
  summary.push(`${name}: ${ok} passed, ${bad} failed${result.code === 0 ? "" : ` (exit ${result.code})`}`);
}
console.log(`\n${summary.join("\n")}`);
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed > 0 ? 1 : 0);
