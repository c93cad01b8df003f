// The shared suite: the same files run under node (through the esbuild hooks), deno and bun.
// `npm test` runs this once per runtime (tests/all-runtimes.mjs).
const g = globalThis as { UVU_DEFER?: number; UVU_QUEUE?: unknown[][]; UVU_INDEX?: number };
g.UVU_DEFER = 1;
g.UVU_QUEUE = [];

const files = [
  "./config.test.ts",
  "./http.test.ts",
  "./e2e.test.ts",
  "./tokens.test.ts",
  "./cli.test.ts",
  "./durability.test.ts",
];
const only = (globalThis as { process?: { env: Record<string, string | undefined> } }).process?.env.TEST_ONLY;

let index = 0;
for (const file of files) {
  if (only && !file.includes(only)) continue;
  g.UVU_QUEUE.push([file.slice(2)]);
  g.UVU_INDEX = index++;
  await import(file);
}
const { exec } = await import("uvu");
await exec();
