// The shared suite: the same files run under node (through the esbuild hooks), deno and bun.
// `npm test` runs this once per runtime (tests/all-runtimes.mjs). Every `*.test.ts` below tests/ is part of
// it; the folders mirror the code's (tests/core, tests/plugins/<kind>, tests/examples; shared fixtures in
// tests/fixtures). TEST_ONLY=a,b runs the files whose path contains one of the words.
import { readdirSync, statSync } from "node:fs";

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
