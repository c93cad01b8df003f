// The runtime-independent half of serving. The runtime's half comes from `#serve-adapter`, which
// package.json's "imports" maps by condition: deno.ts on Deno, bun.ts on Bun, node.ts elsewhere. In the
// built package the import is `#built-serve-adapter`, mapped the same way to dist/serve-{deno,bun,node}.js
// (core/build.mjs).
import { exit, listen, onShutdownSignal } from "#serve-adapter";
import { BODY_TIMEOUT_MS } from "../http/body.ts";
import type { Gateway, Logger } from "../types.ts";

/** Anything `serve()` can serve: a gateway, or any fetch handler with the same shape. */
export type Servable = Pick<Gateway, "fetch" | "close"> & {
  config: {
    server: {
      host: string;
      port: number;
      /** Time allowed to receive a whole request body, in ms; default 30000. */
      bodyTimeoutMs?: number;
      /** Time allowed to receive a request's headers, in ms; default 15000 (Node only: see core/serve/deno.ts and bun.ts). */
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

const HEADERS_TIMEOUT_MS = 15_000;

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
  const listener = await listen((req, info) => gateway.fetch(req, info), {
    host,
    port: options.port ?? server.port,
    headersMs: server.headersTimeoutMs ?? HEADERS_TIMEOUT_MS,
    bodyMs: server.bodyTimeoutMs ?? BODY_TIMEOUT_MS,
  });
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
    onShutdownSignal(() => {
      gateway.config.logger.info("shutting down");
      close().then(() => exit(0), () => exit(1));
    });
  }
  options.onListen?.({ host, port: listener.port, url });
  return { url, port: listener.port, close };
}
