// The runtime-independent half of serving. The runtime's half comes from `#serve-adapter`, which
// package.json's "imports" maps by condition: deno.ts on Deno, bun.ts on Bun, node.ts elsewhere. In the
// built package the import is `#built-serve-adapter`, mapped the same way to dist/serve-{deno,bun,node}.js
// (core/build.mjs).
import { exit, listen, onReloadSignal, onShutdownSignal } from "#serve-adapter";
import { BODY_TIMEOUT_MS } from "../http/body.ts";
import type { Gateway, Logger, ResolvedTls } from "../types.ts";
import { configError } from "../errors.ts";
import { readTls, watchTls } from "./tls-files.ts";

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
      /** Serve HTTPS from these PEM files (`server.tls`). */
      tls?: ResolvedTls;
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
  /**
   * With TLS, how often the certificate files are checked for changes, in ms; default 5000, 0 turns it
   * off (SIGHUP still reloads them).
   */
  tlsWatchMs?: number;
  /** Called once the server listens. */
  onListen?: (address: { host: string; port: number; url: string }) => void;
}

/** A running HTTP server. */
export interface Served {
  /** The base URL, e.g. `http://127.0.0.1:8787`, `https://...` with TLS. */
  url: string;
  port: number;
  /** Stops accepting connections and closes the gateway (upstreams included). */
  close(): Promise<void>;
  /**
   * Reads the TLS files again and serves new connections with them (what SIGHUP does); rejects, keeping
   * the certificate in force, when they cannot be read or used or the runtime cannot swap them (Deno).
   */
  reloadTls(): Promise<void>;
}

const HEADERS_TIMEOUT_MS = 15_000;

/**
 * Serves a gateway over HTTP, or HTTPS with `server.tls`, on Node (`@hono/node-server`), Deno
 * (`Deno.serve`) or Bun (`Bun.serve`), and shuts down gracefully on SIGINT/SIGTERM, closing every
 * upstream. TLS files that cannot be read or used, or a TLS mode the runtime cannot serve, reject with
 * ERR_CONFIG naming `server.tls...`: it never falls back to plain HTTP.
 *
 * @example
 * const served = await serve(createGateway(config), { port: 8787 });
 * console.error(`listening on ${served.url}`);
 */
export async function serve(gateway: Servable, options: ServeOptions = {}): Promise<Served> {
  const host = options.host ?? gateway.config.server.host;
  const server = gateway.config.server;
  const log = gateway.config.logger;
  const tls = server.tls;
  const material = tls === undefined ? undefined : await readTls(tls);
  let listener;
  try {
    listener = await listen((req, info) => gateway.fetch(req, info), {
      host,
      port: options.port ?? server.port,
      headersMs: server.headersTimeoutMs ?? HEADERS_TIMEOUT_MS,
      bodyMs: server.bodyTimeoutMs ?? BODY_TIMEOUT_MS,
      ...(material === undefined ? {} : { tls: material }),
    });
  } catch (err) {
    // Never fall back to plain HTTP: a TLS setup the runtime refuses stops the start.
    if (material !== undefined) throw configError("server.tls", `cannot serve HTTPS with it: ${(err as Error).message}`);
    throw err;
  }
  if (tls === undefined && !isLoopback(host)) {
    log.warn(`serving plain HTTP on ${host}, which is not a loopback interface: tokens and MCP traffic cross the network unencrypted. Set server.tls, or put a TLS-terminating proxy in front`);
  }
  const shownHost = host.includes(":") ? `[${host}]` : host;
  const url = `${tls === undefined ? "http" : "https"}://${shownHost}:${listener.port}`;
  let reloading: Promise<void> = Promise.resolve();
  const reloadTls = (): Promise<void> => {
    const run = async (): Promise<void> => {
      if (tls === undefined) throw configError("server.tls", "expected TLS settings: this server serves plain HTTP");
      if (listener.reloadTls === undefined) throw configError("server.tls", "this runtime's server (Deno.serve, Bun.serve) cannot replace its certificate while serving; restart the gateway to use the new files, or run it on Node");
      await listener.reloadTls(await readTls(tls));
    };
    reloading = reloading.then(run, run);
    return reloading;
  };
  const reloadLogged = (why: string): void => {
    reloadTls().then(
      () => log.info(`TLS certificate reloaded (${why})`),
      (err: Error) => log.error(`TLS certificate not reloaded (${why}); the previous one stays in force: ${err.message}`),
    );
  };
  if (tls !== undefined && listener.reloadTls === undefined) {
    log.info("this runtime cannot replace the TLS certificate while serving: restart the gateway after renewing it (Node reloads it on SIGHUP and on file change)");
  }
  const stopReloadSignal = tls === undefined ? undefined : onReloadSignal(() => reloadLogged("SIGHUP"));
  const watchMs = options.tlsWatchMs ?? 5000;
  const stopWatch = tls !== undefined && listener.reloadTls !== undefined && watchMs > 0
    ? watchTls(tls, watchMs, () => reloadLogged("file changed"))
    : undefined;
  let closed: Promise<void> | undefined;
  const close = (): Promise<void> => {
    closed ??= (async () => {
      stopWatch?.();
      stopReloadSignal?.();
      // Close the gateway first so open SSE streams end and the listener can stop.
      await gateway.close();
      await listener.stop();
    })();
    return closed;
  };
  if (options.handleSignals ?? true) {
    onShutdownSignal(() => {
      log.info("shutting down");
      close().then(() => exit(0), () => exit(1));
    });
  }
  options.onListen?.({ host, port: listener.port, url });
  return { url, port: listener.port, close, reloadTls };
}

function isLoopback(host: string): boolean {
  return host === "localhost" || host === "::1" || host === "[::1]" || /^127\.\d+\.\d+\.\d+$/.test(host);
}
