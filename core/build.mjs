// Builds dist/: what the package's consumers run on Node, Deno and Bun, plus its declarations, and what
// `npm start` runs here. Inside this repository Deno and Bun run the sources (and Node's tests, through
// core/serve/node-ts-register.mjs); consumers cannot: Deno strips no types inside node_modules, and
// TypeScript refuses the sources' `.ts` import specifiers in another package.
//
// Entry points share chunks so `portcullis`, `portcullis/plugins` and the CLI see one copy of each module.
// The serve adapter is the one part that differs by runtime: `#serve-adapter` stays an import in the
// bundle, renamed `#built-serve-adapter`, which package.json's "imports" maps by condition to one of the
// three adapters built beside it (dist/serve-node.js, serve-deno.js, serve-bun.js), as `#serve-adapter`
// maps the sources.
import { build } from "esbuild";
import { spawnSync } from "node:child_process";
import { copyFile, rm } from "node:fs/promises";
import { createRequire } from "node:module";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("..", import.meta.url));

await rm(new URL("../dist", import.meta.url), { recursive: true, force: true });
await build({
  absWorkingDir: root,
  entryPoints: {
    mod: "core/mod.ts",
    plugins: "plugins/mod.ts",
    cli: "core/cli/main.ts",
    "serve-node": "core/serve/node.ts",
    "serve-deno": "core/serve/deno.ts",
    "serve-bun": "core/serve/bun.ts",
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
  plugins: [{
    name: "built-serve-adapter",
    setup(b) {
      b.onResolve({ filter: /^#serve-adapter$/ }, () => ({ path: "#built-serve-adapter", external: true }));
    },
  }],
});

// Node's TypeScript hooks are resolved next to the built code, so they ship inside dist/ as well.
for (const f of ["node-ts-hooks.mjs", "node-ts-register.mjs"]) {
  await copyFile(new URL(`./serve/${f}`, import.meta.url), new URL(`../dist/${f}`, import.meta.url));
}

// Declarations (dist/types/, for package.json's "types" conditions) from tsconfig.types.json. TypeScript
// is a devDependency: an install without dev dependencies still gets the JavaScript, only packing needs
// the declarations.
const tsc = (() => {
  try {
    return createRequire(import.meta.url).resolve("typescript/bin/tsc");
  } catch {
    return undefined;
  }
})();
if (tsc) {
  const run = spawnSync(process.execPath, [tsc, "-p", "tsconfig.types.json"], { cwd: root, stdio: "inherit" });
  if (run.status !== 0) throw new Error(`declarations: tsc exited with ${run.status ?? run.signal}`);
} else if (["pack", "publish"].includes(process.env.npm_command ?? "")) {
  throw new Error("declarations: typescript is not installed (npm install, with dev dependencies)");
} else {
  console.warn("core/build.mjs: typescript is not installed, so dist/ has no declarations (only `npm pack` needs them)");
}
