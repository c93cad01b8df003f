/**
 * A complete custom auth strategy written only against Portcullis's exported types: static team keys.
 *
 * Each key is configured by its SHA-256 digest (never the key itself), the presented key is hashed with
 * WebCrypto and compared in constant time against every configured digest, and the matching entry
 * becomes the caller's identity. Use it as a template for your own strategies.
 *
 * @example
 * import { teamKeys, sha256Hex } from "./examples/custom-auth-plugin.ts";
 * defineGateway({
 *   auth: [teamKeys({ keys: [{ sha256: await sha256Hex("my-long-random-key"), user: "ci-bot", team: "platform" }] })],
 *   servers: { ... },
 * });
 */
import type { AuthOutcome, AuthStrategy, Identity } from "portcullis";

/** One accepted key, by digest, with the identity it stands for. */
export interface TeamKey {
  /** Hex SHA-256 of the key. */
  sha256: string;
  user: string;
  email?: string;
  team?: string;
  roles?: string[];
  scopes?: string[];
}

/** Options of {@link teamKeys}. */
export interface TeamKeysOptions {
  /** Header carrying the key; default `x-team-key`. */
  header?: string;
  keys: TeamKey[];
}

/**
 * Hex SHA-256 of a string (WebCrypto, works on every runtime).
 *
 * @example
 * await sha256Hex("secret"); // "2bb80d53..."
 */
export async function sha256Hex(value: string): Promise<string> {
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(value)));
  return Array.from(digest, (b) => b.toString(16).padStart(2, "0")).join("");
}

function constantTimeEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a[i]! ^ b[i]!;
  return diff === 0;
}

function fromHex(hex: string): Uint8Array {
  const out = new Uint8Array(hex.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(hex.slice(i * 2, i * 2 + 2), 16);
  return out;
}

/**
 * The team-keys strategy. Throws at config time for a malformed digest or header name.
 *
 * @example
 * teamKeys({ header: "x-team-key", keys: [{ sha256: "…64 hex…", user: "alice", team: "data" }] })
 */
export function teamKeys(options: TeamKeysOptions): AuthStrategy {
  const header = (options.header ?? "x-team-key").toLowerCase();
  if (!/^[a-z0-9-]+$/.test(header)) throw new Error(`teamKeys.header: expected a header name, received ${JSON.stringify(options.header)}`);
  if (!Array.isArray(options.keys) || options.keys.length === 0) throw new Error("teamKeys.keys: expected at least one key");
  const entries = options.keys.map((k, i) => {
    if (typeof k.sha256 !== "string" || !/^[0-9a-f]{64}$/i.test(k.sha256)) {
      throw new Error(`teamKeys.keys[${i}].sha256: expected 64 hex characters (the SHA-256 of the key)`);
    }
    if (typeof k.user !== "string" || k.user === "") throw new Error(`teamKeys.keys[${i}].user: expected a non-empty string`);
    return { digest: fromHex(k.sha256.toLowerCase()), key: k };
  });

  return {
    name: "auth:team-keys",
    challenge: `ApiKey header="${header}"`,
    async authenticate(request: Request): Promise<AuthOutcome> {
      const presented = request.headers.get(header);
      if (presented === null) return undefined;
      const digest = fromHex(await sha256Hex(presented));
      let match: TeamKey | undefined;
      // Compare against every entry so the time taken does not reveal which one matched.
      for (const e of entries) if (constantTimeEqual(e.digest, digest)) match = e.key;
      if (!match) return { error: { code: "ERR_INVALID_CREDENTIAL", reason: "unknown team key" } };
      const identity: Identity = {
        subject: match.user,
        email: match.email,
        name: match.user,
        team: match.team,
        roles: match.roles ?? [],
        scopes: match.scopes ?? ["mcp:read", "mcp:write"],
        strategy: "auth:team-keys",
      };
      return { identity };
    },
  };
}
