// The shared suite: the same files run under node (through the esbuild hooks), deno and bun.
// `npm test` runs this once per runtime (tests/all-runtimes.mjs). Every `*.test.ts` below tests/ is part of
// it; the folders mirror the code's (tests/core, tests/plugins/<kind>, tests/examples; shared fixtures in
// tests/fixtures). TEST_ONLY=a,b runs the files whose path contains one of the words.
import { readdirSync, statSync } from "node:fs";

// Warnings a suite provokes on purpose, dropped so that a real one stands out. Each is matched by its code
// and message; every other warning is printed as usual. (The test IdP drops its own: tests/fixtures/idp.ts.)
// - UNDICI-FETCH-patch: Node's fetch warns about a lower-case `patch` method, which the hostile table
//   sends to check that the gateway answers it 405.
type EmitWarning = (warning: string | Error, ...rest: unknown[]) => void;
const EXPECTED_WARNINGS: Array<{ code: string; text: string }> = [
  { code: "UNDICI-FETCH-patch", text: "Using `patch` is highly likely to result in a `405 Method Not Allowed`" },
];
const proc = (globalThis as { process?: { emitWarning?: EmitWarning } }).process;
const emitWarning = proc?.emitWarning;
if (proc && emitWarning) {
  proc.emitWarning = function (this: unknown, warning: string | Error, ...rest: unknown[]): void {
    // emitWarning(message, type, code) or emitWarning(message, { type, code })
    const code = typeof rest[0] === "object" && rest[0] !== null ? (rest[0] as { code?: unknown }).code : rest[1];
    const text = typeof warning === "string" ? warning : warning.message;
    if (EXPECTED_WARNINGS.some((w) => w.code === code && text.includes(w.text))) return;
    return emitWarning.call(this, warning, ...rest);
  };
}

const g = globalThis as { UVU_DEFER?: number; UVU_QUEUE?: unknown[][]; UVU_INDEX?: number };
g.UVU_DEFER = 1;
g.UVU_QUEUE = [];

const here = new URL(".", import.meta.url).pathname;
function testsUnder(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(here + dir)) {
    const path = dir + name;
    if (name.startsWith(".") || name === "fixtures") continue;
    if (statSync(here + path).isDirectory()) out.push(...testsUnder(path + "/"));
    else if (name.endsWith(".test.ts")) out.push(path);
  }
  return out;
}

// The cheap suites first, the long end-to-end ones last, so a broken basic shows up early.
const FIRST = ["config", "http", "e2e", "tokens", "cli", "durability"].map((n) => `core/${n}.test.ts`);
const found = testsUnder("");
const files = [...FIRST.filter((f) => found.includes(f)), ...found.filter((f) => !FIRST.includes(f)).sort()];
const only = (globalThis as { process?: { env: Record<string, string | undefined> } }).process?.env.TEST_ONLY;

let index = 0;
for (const file of files) {
  if (only && !only.split(",").some((o) => file.includes(o.trim()))) continue;
  g.UVU_QUEUE.push([file]);
  g.UVU_INDEX = index++;
  await import(`./${file}`);
}
const { exec } = await import("uvu");
await exec();
