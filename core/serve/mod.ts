import { BODY_TIMEOUT_MS } from "../http/body.ts";
import type { Gateway, Logger, RequestInfo } from "../types.ts";

/** Anything `serve()` can serve: a gateway, or any fetch handler with the same shape. */
export type Servable = Pick<Gateway, "fetch" | "close"> & {
  config: {
    server: {
      host: string;
      port: number;
      /** Time allowed to receive a whole request body, in ms; default 30000. */
      bodyTimeoutMs?: number;
      /** Time allowed to receive a request's headers, in ms; default 15000 (Node only: see `listen` for Deno and Bun). */
      headersTimeoutMs?: number;
    };
    logger: Logger;
  };
};

/** Options of `serve()`. */
export interface ServeOptions {
  /** Port; default the config's `server.port` (8787). 0 picks a free port. */
  port?: number;
  /** Interface; default the config's `server.host` (127.0.0.1). */
  host?: string;
  /** Close the gateway and exit the process on SIGINT/SIGTERM; default true. */
  handleSignals?: boolean;
  /** Called once the server listens. */
  onListen?: (address: { host: string; port: number; url: string }) => void;
}

/** A running HTTP server. */
export interface Served {
  /** The base URL, e.g. `http://127.0.0.1:8787`. */
  url: string;
  port: number;
  /** Stops accepting connections and closes the gateway (upstreams included). */
  close(): Promise<void>;
}

type Handler = (request: Request, info: RequestInfo) => Promise<Response>;
type Listener = { port: number; stop(): Promise<void> };
type Deadlines = { headersMs: number; bodyMs: number };

const HEADERS_TIMEOUT_MS = 15_000;
// How long, and how much, a request body the handler left unread may still take once the response is
// ready, before the connection is closed after it instead of kept for another request (Bun).
const DRAIN_MS = 500;
const DRAIN_BYTES = 64 * 1024;

interface DenyGlobals {
  Deno?: {
    serve(options: Record<string, unknown>, handler: (req: Request, info: { remoteAddr: { hostname: string } }) => Promise<Response>): { finished: Promise<void>; shutdown(): Promise<void>; addr: { port: number } };
    addSignalListener(signal: string, fn: () => void): void;
    exit(code: number): never;
  };
  Bun?: {
    serve(options: Record<string, unknown>): { port: number; stop(force?: boolean): Promise<void> | void; requestIP(req: Request): { address: string } | null };
  };
  process?: { on(signal: string, fn: () => void): void; exit(code: number): never };
}

const G = globalThis as DenyGlobals;

// Slow senders, per runtime (measured with raw sockets on Node 20, Deno 2.9, Bun 1.4):
// - Node: headersTimeout and requestTimeout are the server's own (a 408, then the connection closes);
//   requestTimeout covers receiving the request only, so long SSE responses are untouched. The timers
//   are checked every connectionsCheckingInterval (30 s by default, which made the default 60 s headers
//   timeout fire at up to 90 s). A response with Connection: close closes the connection at once.
// - Bun: headers are cut by Bun itself after about 10 s (12 s measured, whatever idleTimeout says), not
//   configurable. idleTimeout would also cut slow bodies, but it cuts SSE streams and long tool calls
//   alike, so it stays 0: bodies are bounded by the gateway's read deadline (readJsonBody), whose 408
//   carries Connection: close, which Bun honours at once.
// - Deno: Deno.serve has no headers deadline and no way to set one (half-sent headers stayed open for
//   more than 130 s). A slow body gets the gateway's 408 at its deadline, which frees the handler, but
//   Deno keeps the connection while a read of the body is pending, until the client finishes or goes:
//   neither Connection: close, a response stream that fails, nor a throwing handler closes it, and
//   cancelling the read does not either. (Deno's node:http does enforce both deadlines.)
async function listen(handler: Handler, host: string, port: number, deadlines: Deadlines): Promise<Listener> {
  if (G.Deno) {
    const deno = G.Deno;
    return await new Promise<Listener>((resolve) => {
      const server = deno.serve({ hostname: host, port, onListen: (addr: { port: number }) => resolve({ port: addr.port, stop: () => server.shutdown() }) }, (req, info) => handler(req, { remoteAddress: info.remoteAddr.hostname }));
    });
  }
  if (G.Bun) {
    const server = G.Bun.serve({
      hostname: host,
      port,
      // SSE streams of MCP sessions stay open for a long time: no idle cut-off.
      idleTimeout: 0,
      fetch: async (req: Request) => {
        const res = await handler(req, { remoteAddress: server.requestIP(req)?.address });
        return await leavesBodyBehind(req) ? withHeader(res, "connection", "close") : res;
      },
    });
    return { port: server.port, stop: async () => { await server.stop(true); } };
  }
  const { serve } = await import("@hono/node-server");
  return await new Promise<Listener>((resolve, reject) => {
    const server = serve(
      {
        hostname: host,
        port,
        serverOptions: {
          headersTimeout: deadlines.headersMs,
          // A backstop behind the gateway's own body deadline, for bodies no handler reads; Node requires
          // it to be at least headersTimeout.
          requestTimeout: deadlines.headersMs + deadlines.bodyMs,
          connectionsCheckingInterval: Math.max(50, Math.min(1000, Math.floor(Math.min(deadlines.headersMs, deadlines.bodyMs) / 4))),
        },
        fetch: (req: Request, env: { incoming?: { socket?: { remoteAddress?: string } } }) => handler(req, { remoteAddress: env?.incoming?.socket?.remoteAddress }),
      },
      (info) => resolve({
        port: info.port,
        stop: () => new Promise<void>((done) => {
          (server as unknown as { closeAllConnections?: () => void }).closeAllConnections?.();
          server.close(() => done());
        }),
      }),
    );
    server.once("error", reject);
  });
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
 * Serves a gateway over HTTP on Node (`@hono/node-server`), Deno (`Deno.serve`) or Bun (`Bun.serve`),
 * and shuts down gracefully on SIGINT/SIGTERM, closing every upstream.
 *
 * @example
 * const served = await serve(createGateway(config), { port: 8787 });
 * console.error(`listening on ${served.url}`);
 */
export async function serve(gateway: Servable, options: ServeOptions = {}): Promise<Served> {
  const host = options.host ?? gateway.config.server.host;
  const server = gateway.config.server;
  const deadlines = { headersMs: server.headersTimeoutMs ?? HEADERS_TIMEOUT_MS, bodyMs: server.bodyTimeoutMs ?? BODY_TIMEOUT_MS };
  const listener = await listen((req, info) => gateway.fetch(req, info), host, options.port ?? server.port, deadlines);
  const shownHost = host.includes(":") ? `[${host}]` : host;
  const url = `http://${shownHost}:${listener.port}`;
  let closed: Promise<void> | undefined;
  const close = (): Promise<void> => {
    closed ??= (async () => {
      // Close the gateway first so open SSE streams end and the listener can stop.
      await gateway.close();
      await listener.stop();
    })();
    return closed;
  };
  if (options.handleSignals ?? true) {
    const onSignal = () => {
      gateway.config.logger.info("shutting down");
      close().then(() => exit(0), () => exit(1));
    };
    for (const sig of ["SIGINT", "SIGTERM"]) {
      if (G.Deno) G.Deno.addSignalListener(sig, onSignal);
      else G.process?.on(sig, onSignal);
    }
  }
  options.onListen?.({ host, port: listener.port, url });
  return { url, port: listener.port, close };
}

function exit(code: number): void {
  if (G.Deno) G.Deno.exit(code);
  else G.process?.exit(code);
}
