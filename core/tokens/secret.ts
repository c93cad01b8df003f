const ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
const BODY_LENGTH = 43; // 43 base62 characters carry 256 bits
const CHECK_LENGTH = 6;

/** The prefixes of gateway secrets: bearer tokens and API keys. Secret scanners can match on them. */
export const TOKEN_PREFIX = "pt_";
export const API_KEY_PREFIX = "pk_";

let crcTable: Uint32Array | undefined;

function crc32(text: string): number {
  if (!crcTable) {
    crcTable = new Uint32Array(256);
    for (let n = 0; n < 256; n++) {
      let c = n;
      for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
      crcTable[n] = c >>> 0;
    }
  }
  let crc = 0xffffffff;
  for (let i = 0; i < text.length; i++) crc = crcTable[(crc ^ text.charCodeAt(i)) & 0xff]! ^ (crc >>> 8);
  return (crc ^ 0xffffffff) >>> 0;
}

function base62(value: number, length: number): string {
  let out = "";
  for (let i = 0; i < length; i++) {
    out = ALPHABET[value % 62] + out;
    value = Math.floor(value / 62);
  }
  return out;
}

function randomBase62(length: number): string {
  // Rejection sampling keeps every character uniform (no modulo bias).
  let out = "";
  while (out.length < length) {
    for (const b of crypto.getRandomValues(new Uint8Array(length * 2))) {
      if (b < 248 && out.length < length) out += ALPHABET[b % 62];
    }
  }
  return out;
}

/**
 * A new secret: prefix, 256 random bits in base62, and a CRC32 checksum, e.g. `pt_<43 chars><6 chars>`.
 *
 * @example
 * const token = newSecret("pt_");
 */
export function newSecret(prefix: string): string {
  const body = randomBase62(BODY_LENGTH);
  return `${prefix}${body}${base62(crc32(prefix + body), CHECK_LENGTH)}`;
}

/**
 * Whether a string has the shape and checksum of a secret with this prefix; garbage fails here, before
 * any store lookup.
 *
 * @example
 * wellFormed("pt_abc", "pt_"); // false
 */
export function wellFormed(secret: string, prefix: string): boolean {
  if (secret.length !== prefix.length + BODY_LENGTH + CHECK_LENGTH || !secret.startsWith(prefix)) return false;
  const body = secret.slice(prefix.length, prefix.length + BODY_LENGTH);
  for (const ch of body) if (!ALPHABET.includes(ch)) return false;
  return secret.slice(-CHECK_LENGTH) === base62(crc32(prefix + body), CHECK_LENGTH);
}

/**
 * A public identifier such as `tok_3fK9...` (not secret; used in URLs and audit events).
 *
 * @example
 * newId("tok_");
 */
export function newId(prefix: string): string {
  return prefix + randomBase62(16);
}

/**
 * SHA-256 of a secret, base64url. Secrets carry 256 random bits, so a fast hash is enough: there is
 * nothing to brute-force.
 *
 * @example
 * const hash = await hashSecret(token);
 */
export async function hashSecret(secret: string): Promise<string> {
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(secret)));
  let bin = "";
  for (const b of digest) bin += String.fromCharCode(b);
  return btoa(bin).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

/**
 * Compares two strings in time that depends only on their lengths.
 *
 * @example
 * constantTimeEqual(storedHash, presentedHash);
 */
export function constantTimeEqual(a: string, b: string): boolean {
  let diff = a.length ^ b.length;
  const n = Math.max(a.length, b.length);
  for (let i = 0; i < n; i++) diff |= (a.charCodeAt(i) || 0) ^ (b.charCodeAt(i) || 0);
  return diff === 0;
}
