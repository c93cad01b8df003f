// SHA-256 (FIPS 180-4) computed synchronously. WebCrypto's digest() is asynchronous: on Node every
// call crosses to the thread pool and back, which made hashing a presented token ~20-35 µs of the
// ~40 µs token check on every request. Hashing a 52-byte token here takes about a microsecond. The
// algorithm has no data-dependent branches or table lookups, so it leaks nothing through timing.

const K = new Uint32Array([
  0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
  0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
  0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
  0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
  0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
  0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
  0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
  0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
]);
const H0 = [0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19] as const;
const W = new Uint32Array(64);
const encoder = new TextEncoder();

function block(h: Uint32Array, data: Uint8Array, at: number): void {
  for (let i = 0; i < 16; i++) {
    const j = at + i * 4;
    W[i] = (data[j]! << 24) | (data[j + 1]! << 16) | (data[j + 2]! << 8) | data[j + 3]!;
  }
  for (let i = 16; i < 64; i++) {
    const a = W[i - 15]!;
    const b = W[i - 2]!;
    const s0 = ((a >>> 7) | (a << 25)) ^ ((a >>> 18) | (a << 14)) ^ (a >>> 3);
    const s1 = ((b >>> 17) | (b << 15)) ^ ((b >>> 19) | (b << 13)) ^ (b >>> 10);
    W[i] = W[i - 16]! + s0 + W[i - 7]! + s1;
  }
  let a = h[0]!, b = h[1]!, c = h[2]!, d = h[3]!, e = h[4]!, f = h[5]!, g = h[6]!, k = h[7]!;
  for (let i = 0; i < 64; i++) {
    const S1 = ((e >>> 6) | (e << 26)) ^ ((e >>> 11) | (e << 21)) ^ ((e >>> 25) | (e << 7));
    const ch = (e & f) ^ (~e & g);
    const t1 = (k + S1 + ch + K[i]! + W[i]!) | 0;
    const S0 = ((a >>> 2) | (a << 30)) ^ ((a >>> 13) | (a << 19)) ^ ((a >>> 22) | (a << 10));
    const maj = (a & b) ^ (a & c) ^ (b & c);
    const t2 = (S0 + maj) | 0;
    k = g;
    g = f;
    f = e;
    e = (d + t1) | 0;
    d = c;
    c = b;
    b = a;
    a = (t1 + t2) | 0;
  }
  h[0] = h[0]! + a;
  h[1] = h[1]! + b;
  h[2] = h[2]! + c;
  h[3] = h[3]! + d;
  h[4] = h[4]! + e;
  h[5] = h[5]! + f;
  h[6] = h[6]! + g;
  h[7] = h[7]! + k;
}

/**
 * The SHA-256 digest of bytes, or of a string as UTF-8, computed synchronously.
 *
 * @example
 * sha256("abc"); // Uint8Array(32) [0xba, 0x78, 0x16, 0xbf, ...]
 */
export function sha256(input: string | Uint8Array): Uint8Array {
  const out = new Uint8Array(32);
  const h = digestWords(input);
  for (let i = 0; i < 8; i++) {
    out[i * 4] = h[i]! >>> 24;
    out[i * 4 + 1] = (h[i]! >>> 16) & 0xff;
    out[i * 4 + 2] = (h[i]! >>> 8) & 0xff;
    out[i * 4 + 3] = h[i]! & 0xff;
  }
  return out;
}

const scratch = new Uint8Array(64);
const state = new Uint32Array(8);

/**
 * The SHA-256 digest as eight big-endian 32-bit words. The array is reused by the next call: copy what
 * you keep.
 *
 * @example
 * const words = sha256Words("abc"); // words[0] === 0xba7816bf
 */
export function sha256Words(input: string | Uint8Array): Uint32Array {
  return digestWords(input);
}

function asciiOnly(text: string): boolean {
  for (let i = 0; i < text.length; i++) if (text.charCodeAt(i) > 0x7f) return false;
  return true;
}

function digestWords(input: string | Uint8Array): Uint32Array {
  // Tokens are short ASCII strings: they fit one block, so they skip TextEncoder and every allocation.
  if (typeof input === "string" && input.length < 56 && asciiOnly(input)) {
    state.set(H0);
    scratch.fill(0);
    for (let i = 0; i < input.length; i++) scratch[i] = input.charCodeAt(i);
    scratch[input.length] = 0x80;
    const bits = input.length * 8;
    scratch[63] = bits & 0xff;
    scratch[62] = bits >>> 8;
    block(state, scratch, 0);
    return state;
  }
  const data = typeof input === "string" ? encoder.encode(input) : input;
  const h = state;
  h.set(H0);
  const full = data.length - (data.length % 64);
  for (let at = 0; at < full; at += 64) block(h, data, at);
  // The last one or two blocks: the remaining bytes, 0x80, zeros, and the bit length (big-endian, 64 bits).
  const rest = data.length - full;
  const tail = new Uint8Array(rest < 56 ? 64 : 128);
  tail.set(data.subarray(full));
  tail[rest] = 0x80;
  const bits = data.length * 8;
  const end = tail.length;
  tail[end - 1] = bits & 0xff;
  tail[end - 2] = (bits >>> 8) & 0xff;
  tail[end - 3] = (bits >>> 16) & 0xff;
  tail[end - 4] = (bits >>> 24) & 0xff;
  const high = Math.floor(bits / 2 ** 32);
  tail[end - 5] = high & 0xff;
  tail[end - 6] = (high >>> 8) & 0xff;
  tail[end - 7] = (high >>> 16) & 0xff;
  tail[end - 8] = (high >>> 24) & 0xff;
  for (let at = 0; at < end; at += 64) block(h, tail, at);
  return h;
}
