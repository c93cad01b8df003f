// The shared suite: the same files run under node (through the esbuild hooks), deno and bun.
// `npm test` runs this once per runtime (tests/all-runtimes.mjs). Every `tests/*.test.ts` is part of it.
import { readdirSync } from "node:fs";

const g = globalThis as { UVU_DEFER?: number; UVU_QUEUE?: unknown[][]; UVU_INDEX?: number };
g.UVU_DEFER = 1;
g.UVU_QUEUE = [];

// The cheap suites first, the long end-to-end ones last, so a broken basic shows up early.
const FIRST = ["config.test.ts", "http.test.ts", "e2e.test.ts", "tokens.test.ts", "cli.test.ts", "durability.test.ts"];
const found = readdirSync(new URL(".", import.meta.url)).filter((f) => f.endsWith(".test.ts"));
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
