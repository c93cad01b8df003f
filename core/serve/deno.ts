// The Deno adapter: Deno.serve and Deno's signal API. Chosen by package.json's "imports"
// (`#serve-adapter`, "deno" condition; built: dist/serve-deno.js).
import { type Handler, type Listener, type ListenOptions, plainTls, type TlsMaterial } from "./adapter.ts";

// The few parts of the Deno namespace used here, typed locally: the project type-checks with Node's
// types, where `Deno` does not exist.
interface DenoApi {
  serve(
    options: { hostname: string; port: number; cert?: string; key?: string; onListen(addr: { port: number }): void; onError?(err: unknown): Response },
    handler: (req: Request, info: { remoteAddr: { hostname: string } }) => Promise<Response>,
  ): { shutdown(): Promise<void> };
  addSignalListener(signal: "SIGINT" | "SIGTERM" | "SIGHUP", fn: () => void): void;
  removeSignalListener(signal: "SIGHUP", fn: () => void): void;
  exit(code: number): never;
}

const deno: DenoApi = (globalThis as unknown as { Deno: DenoApi }).Deno;

/**
 * Listens with `Deno.serve`.
 *
 * Deno.serve has no headers deadline and no way to set one (half-sent headers stayed open for more
 * than 130 s on Deno 2.9), so `headersMs` and `bodyMs` are not used here. A slow body gets the
 * gateway's 408 at its deadline, which frees the handler, but Deno keeps the connection while a read of
 * the body is pending, until the client finishes or goes: neither Connection: close, a response stream
 * that fails, nor a throwing handler closes it, and cancelling the read does not either. (Deno's
 * node:http does enforce both deadlines.)
 *
 * @example
 * const listener = await listen((req) => gateway.fetch(req), { host: "127.0.0.1", port: 0, headersMs: 15_000, bodyMs: 30_000 });
 * await listener.stop();
 */
export async function listen(handler: Handler, options: ListenOptions): Promise<Listener> {
  const tls = options.tls === undefined ? {} : denoTls(options.tls);
  return await new Promise<Listener>((resolve, reject) => {
    try {
      const server = deno.serve(
        { hostname: options.host, port: options.port, ...tls, onListen: (addr) => resolve({ port: addr.port, stop: () => server.shutdown() }) },
        (req, info) => handler(req, { remoteAddress: info.remoteAddr.hostname }),
      );
    } catch (err) {
      reject(err);
    }
  });
}

// Deno.serve takes a certificate and key once: it cannot swap them while serving (no reloadTls here),
// cannot ask for client certificates, and (rustls) accepts TLS 1.2 and 1.3 with no setting to raise the
// floor. Deno's node:https did not complete a handshake that asked for a client certificate (Deno 2.9).
function denoTls(tls: TlsMaterial): { cert: string; key: string } {
  return plainTls("Deno.serve", tls, "cannot ask for or hand over client certificates");
}

/**
 * Calls `fn` on SIGHUP.
 *
 * @example
 * onReloadSignal(() => reload());
 */
export function onReloadSignal(fn: () => void): () => void {
  deno.addSignalListener("SIGHUP", fn);
  return () => deno.removeSignalListener("SIGHUP", fn);
}

/**
 * Calls `fn` on SIGINT and SIGTERM.
 *
 * @example
 * onShutdownSignal(() => served.close().then(() => exit(0)));
 */
export function onShutdownSignal(fn: () => void): void {
  for (const signal of ["SIGINT", "SIGTERM"] as const) deno.addSignalListener(signal, fn);
}

/**
 * Ends the process with `code`.
 *
 * @example
 * exit(0);
 */
export function exit(code: number): never {
  deno.exit(code);
}

/**
 * Imports a module, TypeScript included (a gateway.config.ts).
 *
 * @example
 * const mod = await importModule(pathToFileURL("gateway.config.ts").href);
 */
export async function importModule(url: string): Promise<Record<string, unknown>> {
  return await import(url) as Record<string, unknown>;
}
