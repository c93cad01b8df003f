import { existsSync } from "node:fs";
/** The current runtime's executable and the arguments that make it run a TypeScript or JavaScript file. */
export interface ScriptCommand {
  command: string;
  args: string[];
}

interface Globals {
  Deno?: { execPath(): string };
  Bun?: unknown;
  process?: { execPath: string };
}

/**
 * How to run a script file with the runtime the gateway itself runs on: `deno run -A`, `bun`, or
 * `node --import <esbuild hook>` (Node cannot run TypeScript by itself).
 *
 * @example
 * const { command, args } = scriptCommand("./examples/servers/notes.ts");
 */
export function scriptCommand(file: string): ScriptCommand {
  const g = globalThis as Globals;
  if (g.Deno) return { command: g.Deno.execPath(), args: ["run", "-A", "--quiet", file] };
  const exec = g.process?.execPath ?? "node";
  if (g.Bun) return { command: exec, args: ["run", file] };
  if (!/\.(?:ts|mts|cts)$/.test(file)) return { command: exec, args: [file] };
  // Built, the hook ships beside this code in dist/; from the sources, it is the one Node's CLI uses.
  const built = new URL("./node-ts-register.mjs", import.meta.url);
  const hook = existsSync(built) ? built.href : new URL("../../core/serve/node-ts-register.mjs", import.meta.url).href;
  return { command: exec, args: ["--import", hook, file] };
}
