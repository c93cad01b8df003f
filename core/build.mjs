// Builds dist/ for Node: Node cannot import the TypeScript sources, Deno and Bun import them directly.
// Entry points share chunks so `portcullis`, `portcullis/plugins` and the CLI see one copy of each module.
import { build } from "esbuild";
import { copyFile, rm } from "node:fs/promises";

await rm(new URL("../dist", import.meta.url), { recursive: true, force: true });
await build({
  entryPoints: {
    mod: "core/mod.ts",
    plugins: "plugins/mod.ts",
    cli: "core/cli/main.ts",
  },
  outdir: "dist",
  bundle: true,
  splitting: true,
  format: "esm",
  platform: "node",
  target: "node20",
  packages: "external",
  sourcemap: true,
  logLevel: "warning",
});

// Node's TypeScript hooks are resolved next to the built code, so they ship inside dist/ as well.
for (const f of ["node-ts-hooks.mjs", "node-ts-register.mjs"]) {
  await copyFile(new URL(`./serve/${f}`, import.meta.url), new URL(`../dist/${f}`, import.meta.url));
}
