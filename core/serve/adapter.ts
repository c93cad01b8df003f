// What every runtime adapter (node.ts, deno.ts, bun.ts) provides. package.json's "imports" maps
// `#serve-adapter` to exactly one of them by runtime condition, so each file holds one runtime's code
// and nothing decides at run time which runtime it is on. Type-only: imports no implementation.
import type { RequestInfo } from "../types.ts";

/** The gateway's fetch, as an adapter calls it: the request plus what the connection says. */
export type Handler = (request: Request, info: RequestInfo) => Promise<Response>;

/** Where to listen, and how long a client may take to send a request. */
export interface ListenOptions {
  host: string;
  /** 0 picks a free port. */
  port: number;
  /** Time allowed to receive a request's headers, in ms; enforced where the runtime can (Node). */
  headersMs: number;
  /** Time allowed to receive a request's body, in ms; the gateway enforces it, a runtime may back it up. */
  bodyMs: number;
  /** Serve HTTPS with this material; absent: plain HTTP. */
  tls?: TlsMaterial;
}

/** `server.tls` with the files read: PEM text, not paths. */
export interface TlsMaterial {
  cert: string;
  key: string;
  ca?: string;
  minVersion: "TLSv1.2" | "TLSv1.3";
  /** Ask for a client certificate and hand the result to the gateway as `info.tls`. */
  requestCert: boolean;
  /** Refuse handshakes without a certificate the CA verifies. */
  rejectUnauthorized: boolean;
}

/**
 * The certificate and key of `tls` for a runtime whose server can only present them: it throws, naming
 * the alternative, when the config asks for client certificates or a TLS floor above 1.2 (the runtime
 * accepts TLS 1.2 and 1.3 with no setting to raise it).
 *
 * @example
 * Deno.serve({ ...plainTls("Deno.serve", tls, "cannot ask for or hand over client certificates") }, handler);
 */
export function plainTls(server: string, tls: TlsMaterial, whyNoClientCerts: string): { cert: string; key: string } {
  if (tls.requestCert) {
    throw new Error(
      `${server} ${whyNoClientCerts}, so server.tls.requestCert cannot work on ${server.split(".")[0]}: ` +
        "run the gateway on Node, or terminate TLS in a proxy that forwards the client certificate in a header (the mtls auth strategy reads it there)",
    );
  }
  if (tls.minVersion !== "TLSv1.2") {
    throw new Error(`${server} cannot raise the oldest TLS version to ${tls.minVersion} (it accepts TLS 1.2 and 1.3): run the gateway on Node for server.tls.minVersion`);
  }
  return { cert: tls.cert, key: tls.key };
}

/** A server that listens. */
export interface Listener {
  /** The port bound (the one picked, when 0 was asked for). */
  port: number;
  /** Stops accepting connections and drops the open ones. */
  stop(): Promise<void>;
  /**
   * Serves new connections with new TLS material, open connections untouched. Absent where the runtime
   * cannot (Deno.serve, Bun.serve); throws when the runtime refuses the material (the old one stays in force).
   */
  reloadTls?: (tls: TlsMaterial) => Promise<void>;
}
