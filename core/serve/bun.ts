// The Bun adapter: Bun.serve, and the process signals Bun provides through node:process. Chosen by
// package.json's "imports" (`#serve-adapter`, "bun" condition; built: dist/serve-bun.js).
import process from "node:process";
import { type Handler, type Listener, type ListenOptions, plainTls, type TlsMaterial } from "./adapter.ts";

// The part of the Bun namespace used here, typed locally: the project type-checks with Node's types,
// where `Bun` does not exist.
interface BunTls {
  cert: string;
  key: string;
}

interface BunApi {
  serve(options: { hostname: string; port: number; idleTimeout: number; tls?: BunTls; fetch(req: Request): Promise<Response> }): {
    port: number;
    stop(closeActiveConnections?: boolean): Promise<void> | void;
    requestIP(req: Request): { address: string } | null;
  };
}

const bun: BunApi = (globalThis as unknown as { Bun: BunApi }).Bun;

// How long, and how much, a request body the handler left unread may still take once the response is
// ready, before the connection is closed after it instead of kept for another request.
const DRAIN_MS = 500;
const DRAIN_BYTES = 64 * 1024;

/**
 * Listens with `Bun.serve`.
 *
 * Bun cuts headers itself after about 10 s (12 s measured on Bun 1.4, whatever idleTimeout says), not
 * configurable, so `headersMs` is not used here. idleTimeout would also cut slow bodies, but it cuts
 * SSE streams and long tool calls alike, so it stays 0: bodies are bounded by the gateway's read
 * deadline (`bodyMs`, in readJsonBody), whose 408 carries Connection: close, which Bun honours at once.
 *
 * @example
 * const listener = await listen((req) => gateway.fetch(req), { host: "127.0.0.1", port: 0, headersMs: 15_000, bodyMs: 30_000 });
 * await listener.stop();
 */
export async function listen(handler: Handler, options: ListenOptions): Promise<Listener> {
  const tls = options.tls === undefined ? undefined : bunTls(options.tls);
  const fetch = async (req: Request): Promise<Response> => {
    const res = await handler(req, { remoteAddress: server.requestIP(req)?.address });
    return await leavesBodyBehind(req) ? withHeader(res, "connection", "close") : res;
  };
  const server = bun.serve({
    hostname: options.host,
    port: options.port,
    // SSE streams of MCP sessions stay open for a long time: no idle cut-off.
    idleTimeout: 0,
    ...(tls === undefined ? {} : { tls }),
    fetch,
  });
  // No reloadTls: server.reload({ tls }) is accepted but new connections still get the old certificate
  // (Bun 1.4.5), so a changed certificate needs a restart here.
  return { port: server.port, stop: async () => { await server.stop(true); } };
}

// Bun.serve's fetch handler is not given the peer certificate, and Bun (BoringSSL) accepts TLS 1.2 and
// up with no setting to raise the floor: both are refused at start rather than served otherwise.
function bunTls(tls: TlsMaterial): BunTls {
  return plainTls("Bun.serve", tls, "does not hand the client certificate to the request handler");
}

// Bun keeps receiving a body the handler left unread (a 401 before the body, say) for as long as the
// client sends it. A body that does not end within DRAIN_MS, or is larger than DRAIN_BYTES, costs its
// connection instead; @hono/node-server does the same on Node.
async function leavesBodyBehind(req: Request): Promise<boolean> {
  const body = req.body;
  if (!body || req.bodyUsed || body.locked) return false;
  const reader = body.getReader();
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<false>((resolve) => {
    timer = setTimeout(() => resolve(false), DRAIN_MS);
  });
  const drained = (async (): Promise<boolean> => {
    let size = 0;
    for (;;) {
      const { done, value } = await reader.read();
      if (done) return true;
      size += value.byteLength;
      if (size > DRAIN_BYTES) return false;
    }
  })().catch(() => false);
  try {
    return !(await Promise.race([drained, late]));
  } finally {
    clearTimeout(timer);
    reader.cancel().catch(() => {});
  }
}

function withHeader(res: Response, name: string, value: string): Response {
  const headers = new Headers(res.headers);
  headers.set(name, value);
  return new Response(res.body, { status: res.status, statusText: res.statusText, headers });
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
 * Ends the process with `code`.
 *
 * @example
 * exit(0);
 */
export function exit(code: number): never {
  process.exit(code);
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
