/**
 * Shared by the example servers: serve a fetch handler on 127.0.0.1 with the runtime's own server, and
 * tell whether a module is the program being run.
 */

/**
 * Serves `fetch` on 127.0.0.1:`port` with Deno.serve, Bun.serve or @hono/node-server.
 *
 * @example
 * await serveHttp("notes", 8790, notesHttpHandler().fetch);
 */
export async function serveHttp(name: string, port: number, fetch: (request: Request) => Promise<Response>): Promise<void> {
  const g = globalThis as { Deno?: { serve(o: object, h: (r: Request) => Promise<Response>): unknown }; Bun?: { serve(o: object): unknown } };
  if (g.Deno) g.Deno.serve({ port, hostname: "127.0.0.1" }, fetch);
  else if (g.Bun) g.Bun.serve({ port, hostname: "127.0.0.1", fetch });
  else (await import("@hono/node-server")).serve({ port, hostname: "127.0.0.1", fetch });
  console.error(`${name} MCP server on http://127.0.0.1:${port}/mcp`);
}

/**
 * Whether the module at `url` is the program being run (`import.meta.main` where the runtime has it).
 *
 * @example
 * if (isMain(import.meta)) await main(process.argv.slice(2));
 */
export function isMain(meta: ImportMeta): boolean {
  const self = (meta as { main?: boolean }).main;
  const argv = (globalThis as { process?: { argv: string[] } }).process?.argv ?? [];
  return self === true || (self === undefined && argv[1] !== undefined && meta.url.endsWith(argv[1].replace(/^.*[\\/]/, "")));
}

/** The command-line arguments after the script. */
export function args(): string[] {
  return ((globalThis as { process?: { argv: string[] } }).process?.argv ?? []).slice(2);
}
