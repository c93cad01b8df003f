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
