// The Node adapter: @hono/node-server, process signals, and esbuild hooks for TypeScript files.
// Chosen by package.json's "imports" (`#serve-adapter`, default condition; built: dist/serve-node.js).
import { serve as nodeServe } from "@hono/node-server";
import { register } from "node:module";
import process from "node:process";
import type { Handler, Listener, ListenOptions } from "./adapter.ts";

/**
 * Listens with `@hono/node-server`, the headers and request deadlines set on Node's own server.
 *
 * Node enforces both deadlines itself (a 408, then the connection closes); requestTimeout covers
 * receiving the request only, so long SSE responses are untouched. The timers are checked every
 * connectionsCheckingInterval (30 s by default, which made a 60 s headers timeout fire at up to 90 s),
 * hence the shorter interval. A response with Connection: close closes the connection at once.
 *
 * @example
 * const listener = await listen((req) => gateway.fetch(req), { host: "127.0.0.1", port: 0, headersMs: 15_000, bodyMs: 30_000 });
 * await listener.stop();
 */
export async function listen(handler: Handler, options: ListenOptions): Promise<Listener> {
  const { host, port, headersMs, bodyMs } = options;
  return await new Promise<Listener>((resolve, reject) => {
    const server = nodeServe(
      {
        hostname: host,
        port,
        serverOptions: {
          headersTimeout: headersMs,
          // A backstop behind the gateway's own body deadline, for bodies no handler reads; Node requires
          // it to be at least headersTimeout.
          requestTimeout: headersMs + bodyMs,
          connectionsCheckingInterval: Math.max(50, Math.min(1000, Math.floor(Math.min(headersMs, bodyMs) / 4))),
        },
        fetch: (req: Request, env: { incoming?: { socket?: { remoteAddress?: string } } }) => handler(req, { remoteAddress: env?.incoming?.socket?.remoteAddress }),
      },
      (info) => resolve({
        port: info.port,
        stop: () => new Promise<void>((done) => {
          // Open SSE streams and keep-alive connections would otherwise hold close() open.
          (server as unknown as { closeAllConnections?: () => void }).closeAllConnections?.();
          server.close(() => done());
        }),
      }),
    );
    server.once("error", reject);
  });
}

/**
 * Calls `fn` on SIGINT and SIGTERM.
 *
 * @example
 * onShutdownSignal(() => served.close().then(() => exit(0)));
 */
export function onShutdownSignal(fn: () => void): void {
  for (const signal of ["SIGINT", "SIGTERM"] as const) process.on(signal, fn);
}

/**
 * Ends the process with `code`.
 *
 * @example
 * exit(0);
 */
export function exit(code: number): never {
  process.exit(code);
}

let hooksRegistered = false;

/**
 * Imports a module that may be TypeScript (a gateway.config.ts): Node cannot, so the esbuild hooks are
 * registered once, before the first import.
 *
 * @example
 * const mod = await importModule(pathToFileURL("gateway.config.ts").href);
 */
export async function importModule(url: string): Promise<Record<string, unknown>> {
  if (!hooksRegistered) {
    // Beside this file in the sources, and beside the bundle in dist/ (core/build.mjs copies it there).
    register(new URL("./node-ts-hooks.mjs", import.meta.url).href, import.meta.url);
    hooksRegistered = true;
  }
  return await import(url) as Record<string, unknown>;
}
