// Node module hooks that let Node import TypeScript files (gateway.config.ts, example servers, tests)
// by transpiling them with esbuild. Deno and Bun import TypeScript natively and never load this.
import { readFile } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import { transform } from "esbuild";

const TS = /\.(?:ts|mts|cts)$/;

export async function load(url, context, nextLoad) {
  if (!url.startsWith("file:") || !TS.test(new URL(url).pathname)) return nextLoad(url, context);
  const file = fileURLToPath(url);
  const source = await readFile(file, "utf8");
  const out = await transform(source, {
    loader: "ts",
    format: "esm",
    target: "node20",
    sourcemap: "inline",
    sourcefile: file,
  });
  return { format: "module", source: out.code, shortCircuit: true };
}
