// The Node adapter: @hono/node-server, process signals, and esbuild hooks for TypeScript files.
// Chosen by package.json's "imports" (`#serve-adapter`, default condition; built: dist/serve-node.js).
import { serve as nodeServe } from "@hono/node-server";
import { createServer as createHttpsServer, type Server as HttpsServer, type ServerOptions as HttpsOptions } from "node:https";
import { register } from "node:module";
import process from "node:process";
import { createSecureContext, type TLSSocket } from "node:tls";
import type { RequestInfo } from "../types.ts";
import type { Handler, Listener, ListenOptions, TlsMaterial } from "./adapter.ts";

function secureOptions(tls: TlsMaterial): HttpsOptions {
  return {
    cert: tls.cert,
    key: tls.key,
    ...(tls.ca === undefined ? {} : { ca: tls.ca }),
    minVersion: tls.minVersion,
    requestCert: tls.requestCert,
    // false lets a request without a (valid) certificate through to the auth strategies, which decide.
    rejectUnauthorized: tls.requestCert && tls.rejectUnauthorized,
  };
}

// Node would only complain about a key that does not match its certificate on the first handshake.
function checkedSecureOptions(tls: TlsMaterial): HttpsOptions {
  const options = secureOptions(tls);
  createSecureContext(options);
  return options;
}

type Incoming = { socket?: { remoteAddress?: string; encrypted?: boolean } };

function infoOf(incoming: Incoming | undefined, withPeer: boolean): RequestInfo {
  const socket = incoming?.socket;
  if (!withPeer || !socket?.encrypted) return { remoteAddress: socket?.remoteAddress };
  const tlsSocket = socket as unknown as TLSSocket;
  const raw = tlsSocket.getPeerCertificate(true)?.raw;
  return {
    remoteAddress: socket.remoteAddress,
    tls: { authorized: tlsSocket.authorized, ...(raw ? { peerCertificate: new Uint8Array(raw) } : {}) },
  };
}

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
  const { host, port, headersMs, bodyMs, tls } = options;
  const withPeer = tls?.requestCert ?? false;
  const timing = {
    headersTimeout: headersMs,
    // A backstop behind the gateway's own body deadline, for bodies no handler reads; Node requires
    // it to be at least headersTimeout.
    requestTimeout: headersMs + bodyMs,
    connectionsCheckingInterval: Math.max(50, Math.min(1000, Math.floor(Math.min(headersMs, bodyMs) / 4))),
  };
  const served = tls === undefined
    ? { serverOptions: timing }
    : { serverOptions: { ...timing, ...checkedSecureOptions(tls) }, createServer: createHttpsServer };
  return await new Promise<Listener>((resolve, reject) => {
    const server = nodeServe(
      {
        hostname: host,
        port,
        ...served,
        fetch: (req: Request, env: { incoming?: Incoming }) => handler(req, infoOf(env?.incoming, withPeer)),
      } as Parameters<typeof nodeServe>[0],
      (info) => resolve({
        port: info.port,
        stop: () => new Promise<void>((done) => {
          // Open SSE streams and keep-alive connections would otherwise hold close() open.
          (server as unknown as { closeAllConnections?: () => void }).closeAllConnections?.();
          server.close(() => done());
        }),
        ...(tls === undefined ? {} : {
          // New handshakes get the new context; connections already open keep theirs.
          reloadTls: async (next: TlsMaterial) => (server as unknown as HttpsServer).setSecureContext(checkedSecureOptions(next)),
        }),
      }),
    );
    server.once("error", reject);
  });
}

/**
 * Calls `fn` on SIGHUP (the TLS files are read again then).
 *
 * @example
 * onReloadSignal(() => reload());
 */
export function onReloadSignal(fn: () => void): () => void {
  process.on("SIGHUP", fn);
  return () => void process.off("SIGHUP", fn);
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
