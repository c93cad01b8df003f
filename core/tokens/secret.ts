import { sha256 } from "./sha256.ts";

const ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
const BODY_LENGTH = 43; // 43 base62 characters carry 256 bits
const CHECK_LENGTH = 6;

/** The prefixes of gateway secrets: bearer tokens and API keys. Secret scanners can match on them. */
export const TOKEN_PREFIX = "pt_";
export const API_KEY_PREFIX = "pk_";

let crcTable: Uint32Array | undefined;

// A character-code test instead of searching ALPHABET: this runs on every request that carries a secret.
function isBase62(c: number): boolean {
  return (c >= 48 && c <= 57) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122);
}

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
  for (let i = 0; i < BODY_LENGTH; i++) if (!isBase62(body.charCodeAt(i))) return false;
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

const B64URL = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

function base64url(bytes: Uint8Array): string {
  let out = "";
  let i = 0;
  for (; i + 2 < bytes.length; i += 3) {
    const n = (bytes[i]! << 16) | (bytes[i + 1]! << 8) | bytes[i + 2]!;
    out += B64URL[n >>> 18]! + B64URL[(n >>> 12) & 63]! + B64URL[(n >>> 6) & 63]! + B64URL[n & 63]!;
  }
  const left = bytes.length - i;
  if (left === 1) {
    const n = bytes[i]! << 16;
    out += B64URL[n >>> 18]! + B64URL[(n >>> 12) & 63]!;
  } else if (left === 2) {
    const n = (bytes[i]! << 16) | (bytes[i + 1]! << 8);
    out += B64URL[n >>> 18]! + B64URL[(n >>> 12) & 63]! + B64URL[(n >>> 6) & 63]!;
  }
  return out;
}

/**
 * SHA-256 of a secret, base64url, computed synchronously (about a microsecond for a token; this is on
 * every authenticated request). Secrets carry 256 random bits, so a fast hash is enough: there is
 * nothing to brute-force.
 *
 * @example
 * const hash = hashSecretSync(token);
 */
export function hashSecretSync(secret: string): string {
  return base64url(sha256(secret));
}

/**
 * SHA-256 of a secret, base64url: the same value as `hashSecretSync`, for callers that await it.
 *
 * @example
 * const hash = await hashSecret(token);
 */
export function hashSecret(secret: string): Promise<string> {
  return Promise.resolve(hashSecretSync(secret));
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
