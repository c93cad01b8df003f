// The layering rules of ARCHITECTURE.md, held against the code: built-in plugins use only the public
// surface (core/mod.ts), core never reaches into plugins/ (the CLI, the composition root, excepted), the
// contracts import no implementation, and core has no import loop.
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join, normalize, relative } from "node:path";

const test = suite("layering");
const ROOT = normalize(join(new URL("..", import.meta.url).pathname, ".."));

function filesUnder(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(join(ROOT, dir))) {
    const path = join(dir, name);
    if (statSync(join(ROOT, path)).isDirectory()) out.push(...filesUnder(path));
    else if (name.endsWith(".ts")) out.push(path);
  }
  return out;
}

/** Every module specifier a file imports or re-exports (static and dynamic), with its line. */
function importsOf(file: string): Array<{ spec: string; line: number }> {
  const text = readFileSync(join(ROOT, file), "utf8");
  const out: Array<{ spec: string; line: number }> = [];
  const re = /(?:^|\n)\s*(?:import|export)\s[^;]*?from\s+"([^"]+)"|import\(\s*"([^"]+)"\s*\)/g;
  for (const m of text.matchAll(re)) {
    out.push({ spec: (m[1] ?? m[2])!, line: text.slice(0, m.index).split("\n").length });
  }
  return out;
}

const resolveIn = (file: string, spec: string): string => normalize(join(dirname(file), spec));

// The composition root may wire built-in plugins together; nothing else in core may.
const COMPOSITION_ROOT = /^core\/cli\//;

test("built-in plugins import only the public surface core/mod.ts (and each other, npm packages, node: builtins)", () => {
  const bad: string[] = [];
  for (const file of filesUnder("plugins")) {
    for (const { spec, line } of importsOf(file)) {
      if (!spec.startsWith(".")) continue;
      const target = resolveIn(file, spec);
      if (target.startsWith("plugins/") || target === "core/mod.ts") continue;
      bad.push(`${file}:${line} imports ${spec}`);
    }
  }
  assert.equal(bad, []);
});

test("core does not import plugins, except the composition root (the CLI)", () => {
  const bad: string[] = [];
  for (const file of filesUnder("core")) {
    if (COMPOSITION_ROOT.test(file)) continue;
    for (const { spec, line } of importsOf(file)) {
      if (spec.startsWith(".") && resolveIn(file, spec).startsWith("plugins/")) bad.push(`${file}:${line} imports ${spec}`);
    }
  }
  assert.equal(bad, []);
});

test("the contracts import no implementation: only other contracts and npm packages", () => {
  const bad: string[] = [];
  for (const file of filesUnder("core/contracts")) {
    for (const { spec, line } of importsOf(file)) {
      if (spec.startsWith(".") && !resolveIn(file, spec).startsWith("core/contracts/")) bad.push(`${file}:${line} imports ${spec}`);
    }
  }
  assert.equal(bad, []);
});

test("core has no import loop", () => {
  const files = filesUnder("core");
  const graph = new Map(files.map((f) => [f, importsOf(f).filter((i) => i.spec.startsWith(".")).map((i) => resolveIn(f, i.spec)).filter((t) => t.startsWith("core/"))]));
  const loops: string[] = [];
  const state = new Map<string, "open" | "done">();
  const path: string[] = [];
  const visit = (f: string): void => {
    if (state.get(f) === "done") return;
    if (state.get(f) === "open") {
      loops.push([...path.slice(path.indexOf(f)), f].map((p) => relative("core", p)).join(" -> "));
      return;
    }
    state.set(f, "open");
    path.push(f);
    for (const t of graph.get(f) ?? []) visit(t);
    path.pop();
    state.set(f, "done");
  };
  for (const f of files) visit(f);
  assert.equal(loops, []);
});

test.run();
