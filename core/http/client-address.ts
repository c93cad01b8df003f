import { inRanges, parseAddress, type Cidr } from "../observe/cidr.ts";
import type { RequestInfo } from "../types.ts";

/**
 * The client's address behind trusted reverse proxies: when the connection comes from one of `trusted`,
 * the rightmost `X-Forwarded-For` entry that is not itself a trusted proxy (each proxy appends the address
 * it saw, so entries left of the last untrusted one could have been written by the client); otherwise
 * the connection's own address. Malformed entries end the walk at the proxy that added them.
 *
 * @example
 * clientAddress("10.0.0.5", "203.0.113.9, 10.0.0.7", [parseCidr("10.0.0.0/8")!]); // "203.0.113.9"
 */
export function clientAddress(peer: string | undefined, forwardedFor: string | null, trusted: readonly Cidr[]): string | undefined {
  if (peer === undefined || forwardedFor === null || !inRanges(peer, trusted)) return peer;
  let client = peer;
  const hops = forwardedFor.split(",").map((h) => h.trim());
  for (let i = hops.length - 1; i >= 0; i--) {
    const hop = hops[i]!;
    if (parseAddress(hop) === undefined) break;
    client = hop;
    if (!inRanges(hop, trusted)) break;
  }
  return client;
}

/**
 * The connection info a request is judged by, with `server.trustedProxies`: `remoteAddress` is the
 * client's (audit, lockout, usage, registration limits), `peerAddress` the connection's own (what a
 * check of the proxy itself must use: the mTLS proxy header, the metrics allow-list).
 *
 * @example
 * info = withClientAddress(info, request.headers.get("x-forwarded-for"), trusted);
 */
export function withClientAddress(info: RequestInfo, forwardedFor: string | null, trusted: readonly Cidr[]): RequestInfo {
  const peer = info.remoteAddress;
  const client = clientAddress(peer, forwardedFor, trusted);
  return client === peer ? { ...info, peerAddress: peer } : { ...info, remoteAddress: client, peerAddress: peer };
}
