import { sha256Words } from "./sha256.ts";

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

function crc32(text: string, end = text.length): number {
  if (!crcTable) {
    crcTable = new Uint32Array(256);
    for (let n = 0; n < 256; n++) {
      let c = n;
      for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
      crcTable[n] = c >>> 0;
    }
  }
  let crc = 0xffffffff;
  for (let i = 0; i < end; i++) crc = crcTable[(crc ^ text.charCodeAt(i)) & 0xff]! ^ (crc >>> 8);
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
  // Read in place, without slicing or concatenating: this runs on every request that carries a secret.
  const checkAt = prefix.length + BODY_LENGTH;
  for (let i = prefix.length; i < checkAt; i++) if (!isBase62(secret.charCodeAt(i))) return false;
  let value = crc32(secret, checkAt);
  for (let i = secret.length - 1; i >= checkAt; i--) {
    if (secret.charCodeAt(i) !== ALPHABET.charCodeAt(value % 62)) return false;
    value = Math.floor(value / 62);
  }
  return true;
}

// The shape of a gateway secret, checksum or not (a mistyped secret is still a secret).
const SECRET_SHAPE = /\b(p[tk]_)[0-9A-Za-z]{16,}/g;

/**
 * Replaces everything shaped like a gateway secret (`pt_...`, `pk_...`) in a text meant for a log line,
 * an audit event or an error message, such as a request path that names a token by its secret.
 *
 * @example
 * redactSecrets("/v1/auth/tokens/pt_3fK9.../rotate"); // "/v1/auth/tokens/pt_[redacted]/rotate"
 */
export function redactSecrets(text: string): string {
  return text.replace(SECRET_SHAPE, "$1[redacted]");
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

// Every pair of base64url characters, indexed by the 12 bits they encode: a 256-bit digest becomes
// 21 table lookups and one last character instead of 43 shifts, masks and lookups.
let pairs: string[] | undefined;

function bits12(h: Uint32Array, offset: number): number {
  const w = offset >>> 5;
  const b = offset & 31;
  return b <= 20 ? (h[w]! >>> (20 - b)) & 0xfff : ((h[w]! << (b - 20)) | (h[w + 1]! >>> (52 - b))) & 0xfff;
}

function base64urlWords(h: Uint32Array): string {
  if (!pairs) {
    pairs = [];
    for (let i = 0; i < 4096; i++) pairs.push(B64URL[i >>> 6]! + B64URL[i & 63]!);
  }
  let out = "";
  for (let k = 0; k < 21; k++) out += pairs[bits12(h, k * 12)]!;
  return out + B64URL[(h[7]! & 0xf) << 2]!;
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
  return base64urlWords(sha256Words(secret));
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
  if (a.length === b.length) {
    // The common case (two hashes) without the bounds juggling below.
    let same = 0;
    for (let i = 0; i < a.length; i++) same |= a.charCodeAt(i) ^ b.charCodeAt(i);
    return same === 0;
  }
  let diff = a.length ^ b.length;
  const n = Math.max(a.length, b.length);
  for (let i = 0; i < n; i++) diff |= (a.charCodeAt(i) || 0) ^ (b.charCodeAt(i) || 0);
  return diff === 0;
}
