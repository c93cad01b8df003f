import type { Gateway, Logger, RequestInfo } from "../types.ts";

/** Anything `serve()` can serve: a gateway, or any fetch handler with the same shape. */
export type Servable = Pick<Gateway, "fetch" | "close"> & { config: { server: { host: string; port: number }; logger: Logger } };

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

async function listen(handler: Handler, host: string, port: number): Promise<Listener> {
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
      fetch: (req: Request) => handler(req, { remoteAddress: server.requestIP(req)?.address }),
    });
    return { port: server.port, stop: async () => { await server.stop(true); } };
  }
  const { serve } = await import("@hono/node-server");
  return await new Promise<Listener>((resolve, reject) => {
    const server = serve(
      {
        hostname: host,
        port,
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
  const listener = await listen((req, info) => gateway.fetch(req, info), host, options.port ?? gateway.config.server.port);
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
