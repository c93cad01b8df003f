import { lookup } from "node:dns/promises";

// [first address, prefix length] of IPv4 ranges that are not the public internet: this network, RFC 1918,
// CGNAT, loopback, link-local (cloud metadata lives at 169.254.169.254), IETF/test/benchmark nets,
// multicast and reserved (up to 255.255.255.255).
const PRIVATE_V4: Array<[number, number]> = [
  [0x00000000, 8], [0x0a000000, 8], [0x64400000, 10], [0x7f000000, 8], [0xa9fe0000, 16], [0xac100000, 12],
  [0xc0000000, 24], [0xc0000200, 24], [0xc0a80000, 16], [0xc6120000, 15], [0xc6336400, 24], [0xcb007100, 24],
  [0xe0000000, 4], [0xf0000000, 4],
];

const LOOKUP_TIMEOUT_MS = 5000;

function parseV4(text: string): number | undefined {
  const parts = text.split(".");
  if (parts.length !== 4 || parts.some((p) => !/^\d{1,3}$/.test(p) || Number(p) > 255)) return undefined;
  return parts.reduce((n, p) => n * 256 + Number(p), 0);
}

function parseV6(text: string): number[] | undefined {
  if (text.includes("%")) return undefined; // a zone id only makes sense on link-local addresses
  let head = text;
  const tail: number[] = [];
  const dotted = /:(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  if (dotted) {
    const v4 = parseV4(dotted[1]!);
    if (v4 === undefined) return undefined;
    tail.push(v4 >>> 16, v4 & 0xffff);
    head = text.slice(0, dotted.index);
    if (head.endsWith(":")) head += ":"; // "::a.b.c.d": the colon before the IPv4 part belongs to the "::"
  }
  const halves = head.split("::");
  if (halves.length > 2) return undefined;
  const groups = (s: string) => (s === "" ? [] : s.split(":").map((g) => (/^[0-9a-f]{1,4}$/i.test(g) ? parseInt(g, 16) : NaN)));
  const left = groups(halves[0]!);
  const right = halves.length === 2 ? groups(halves[1]!) : [];
  const fill = 8 - left.length - right.length - tail.length;
  if (halves.length === 1 ? fill !== 0 : fill < 1) return undefined;
  const all = [...left, ...new Array<number>(halves.length === 2 ? fill : 0).fill(0), ...right, ...tail];
  return all.length === 8 && all.every((g) => Number.isInteger(g)) ? all : undefined;
}

function privateV4(n: number): boolean {
  return PRIVATE_V4.some(([start, bits]) => Math.floor(n / 2 ** (32 - bits)) === Math.floor(start / 2 ** (32 - bits)));
}

function privateV6(g: number[]): boolean {
  const v4 = (hi: number, lo: number) => hi * 65536 + lo;
  const zeros = (from: number, to: number) => g.slice(from, to).every((x) => x === 0);
  // IPv4-mapped (::ffff:a.b.c.d), IPv4-compatible (::a.b.c.d, which covers :: and ::1) and NAT64 (64:ff9b::a.b.c.d)
  // reach the IPv4 address they carry.
  if (zeros(0, 5) && (g[5] === 0xffff || g[5] === 0)) return privateV4(v4(g[6]!, g[7]!));
  if (g[0] === 0x64 && g[1] === 0xff9b && zeros(2, 6)) return privateV4(v4(g[6]!, g[7]!));
  if (g[0] === 0x64 && g[1] === 0xff9b && g[2] === 1) return true; // local-use NAT64
  if (g[0] === 0x2002) return privateV4(v4(g[1]!, g[2]!)); // 6to4
  if (g[0] === 0x2001 && (g[1] === 0 || g[1] === 0xdb8)) return true; // Teredo (hides an IPv4), documentation
  if (g[0] === 0x100 && zeros(1, 4)) return true; // discard
  const top = g[0]!;
  return (top & 0xffc0) === 0xfe80 || (top & 0xffc0) === 0xfec0 || (top & 0xfe00) === 0xfc00 || (top & 0xff00) === 0xff00;
}

/**
 * Whether an IP address (v4 or v6, brackets allowed) is on the public internet: not loopback, RFC 1918,
 * link-local, unique-local, CGNAT, `0.0.0.0/8`, multicast, reserved, or an IPv4-mapped form of those.
 * Anything that does not parse is not public.
 *
 * @example
 * isPublicAddress("10.0.0.1"); // false
 * isPublicAddress("[::ffff:7f00:1]"); // false (127.0.0.1)
 * isPublicAddress("93.184.215.14"); // true
 */
export function isPublicAddress(address: string): boolean {
  const ip = address.replace(/^\[(.*)\]$/, "$1");
  const v4 = parseV4(ip);
  if (v4 !== undefined) return !privateV4(v4);
  const v6 = ip.includes(":") ? parseV6(ip) : undefined;
  return v6 !== undefined && !privateV6(v6);
}

/**
 * Why a host may not be fetched from the gateway (undefined when it may): an IP literal or a name that
 * resolves to any address that is not public, or a name that does not resolve in time.
 *
 * @example
 * await hostProblem("169.254.169.254"); // "169.254.169.254 is not a public address"
 */
export async function hostProblem(hostname: string): Promise<string | undefined> {
  const host = hostname.replace(/^\[(.*)\]$/, "$1");
  if (parseV4(host) !== undefined || host.includes(":")) return isPublicAddress(host) ? undefined : `${host} is not a public address`;
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    const addresses = await Promise.race([
      lookup(host, { all: true, verbatim: true }),
      new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error("lookup timed out")), LOOKUP_TIMEOUT_MS))),
    ]);
    if (addresses.length === 0) return `${host} does not resolve`;
    // Every address must be public: the fetch may connect to any of them.
    const bad = addresses.find((a) => !isPublicAddress(a.address));
    return bad ? `${host} resolves to ${bad.address}, which is not a public address` : undefined;
  } catch {
    return `${host} does not resolve`;
  } finally {
    clearTimeout(timer);
  }
}
