// IP address ranges (CIDRs) parsed once, at config time: `metrics.allowFrom`, and `mtls({ proxy: { trustedProxies } })` through the plugin kit.

/** One address range: the first `bits` bits of `base` (IPv4 addresses are held as IPv4-mapped IPv6). */
export interface Cidr {
  base: bigint;
  bits: number;
}

const V4_MAPPED = 0xffffn << 32n;

function parseV4(text: string): bigint | undefined {
  const parts = text.split(".");
  if (parts.length !== 4) return undefined;
  let value = 0n;
  for (const p of parts) {
    if (!/^(0|[1-9][0-9]{0,2})$/.test(p) || Number(p) > 255) return undefined;
    value = (value << 8n) | BigInt(p);
  }
  return value;
}

function parseV6(text: string): bigint | undefined {
  const halves = text.split("::");
  if (halves.length > 2) return undefined;
  const groups = (half: string): number[] | undefined => {
    if (half === "") return [];
    const out: number[] = [];
    const items = half.split(":");
    for (let i = 0; i < items.length; i++) {
      const item = items[i]!;
      // An embedded IPv4 address (`::ffff:192.0.2.1`) is the last two groups.
      if (i === items.length - 1 && item.includes(".")) {
        const v4 = parseV4(item);
        if (v4 === undefined) return undefined;
        out.push(Number(v4 >> 16n), Number(v4 & 0xffffn));
      } else if (/^[0-9a-fA-F]{1,4}$/.test(item)) {
        out.push(parseInt(item, 16));
      } else return undefined;
    }
    return out;
  };
  const head = groups(halves[0]!);
  const tail = halves.length === 2 ? groups(halves[1]!) : [];
  if (!head || !tail) return undefined;
  const missing = 8 - head.length - tail.length;
  if (halves.length === 1 ? missing !== 0 : missing < 1) return undefined;
  let value = 0n;
  for (const g of [...head, ...new Array<number>(halves.length === 2 ? missing : 0).fill(0), ...tail]) value = (value << 16n) | BigInt(g);
  return value;
}

/**
 * An IP address as a 128-bit number (IPv4 as IPv4-mapped IPv6, so `::ffff:10.0.0.1` and `10.0.0.1` are
 * one address), or `undefined` when the text is not an address. A zone (`fe80::1%eth0`) is ignored.
 *
 * @example
 * parseAddress("10.0.0.1") === parseAddress("::ffff:10.0.0.1") // true
 */
export function parseAddress(text: string): bigint | undefined {
  const bare = text.trim().replace(/^\[(.*)\]$/, "$1").replace(/%.*$/, "");
  const v4 = parseV4(bare);
  if (v4 !== undefined) return V4_MAPPED | v4;
  return bare.includes(":") ? parseV6(bare) : undefined;
}

/**
 * Parses `10.0.0.0/8`, `2001:db8::/32` or a single address (a /32 or /128); `undefined` when malformed.
 *
 * @example
 * const range = parseCidr("10.0.0.0/8");
 */
export function parseCidr(text: string): Cidr | undefined {
  const [addr, prefix, extra] = text.trim().split("/");
  if (addr === undefined || extra !== undefined) return undefined;
  const isV4 = parseV4(addr) !== undefined;
  const base = parseAddress(addr);
  if (base === undefined) return undefined;
  const max = isV4 ? 32 : 128;
  if (prefix !== undefined && !/^(0|[1-9][0-9]{0,2})$/.test(prefix)) return undefined;
  const length = prefix === undefined ? max : Number(prefix);
  if (length > max) return undefined;
  const bits = isV4 ? 96 + length : length;
  return { base: base & maskOf(bits), bits };
}

function maskOf(bits: number): bigint {
  return bits === 0 ? 0n : ((1n << BigInt(bits)) - 1n) << BigInt(128 - bits);
}

/**
 * Whether `address` lies in one of `ranges`.
 *
 * @example
 * inRanges("10.1.2.3", [parseCidr("10.0.0.0/8")!]) // true
 */
export function inRanges(address: string | undefined, ranges: readonly Cidr[]): boolean {
  if (address === undefined) return false;
  const value = parseAddress(address);
  if (value === undefined) return false;
  return ranges.some((r) => (value & maskOf(r.bits)) === r.base);
}
