import { GatewayError } from "../errors.ts";
import type { Audit, Identity, Logger, PublicToken, TokenKind, TokenPolicy, TokenRecord, TokenService, TokenStore } from "../types.ts";
import { createCounters } from "./counters.ts";

/** The kinds a token may be created as, in the order they are shown. */
export const TOKEN_KINDS: readonly TokenKind[] = ["development", "production", "ci"];

/**
 * The usual guidance on token lifetimes, as the default `tokens.maxLifetime`: development tokens at most
 * 30 days, production tokens 7 days, CI/CD tokens 24 hours (seconds).
 */
export const DEFAULT_MAX_LIFETIME: Readonly<Record<TokenKind, number>> = { development: 30 * 86400, production: 7 * 86400, ci: 86400 };

/** The response header naming when a token is due for rotation. */
export const ROTATE_BY_HEADER = "Portcullis-Token-Rotate-By";

/**
 * Resolves `tokens.maxLifetime` and `tokens.rotateEvery` (durations per kind) into seconds, with the
 * defaults of {@link DEFAULT_MAX_LIFETIME}. `duration` parses one value and names its path on a mistake.
 *
 * @example
 * resolveTokenPolicy({ maxLifetime: { ci: "8h" } }, (v, fallback) => v === undefined ? fallback : parseDuration(v, "x"));
 */
export function resolveTokenPolicy(
  tokens: { maxLifetime?: Partial<Record<TokenKind, string>>; rotateEvery?: Partial<Record<TokenKind, string>> } | undefined,
  duration: (value: string | undefined, fallback: number, path: string) => number,
): TokenPolicy {
  const maxLifetimeSeconds = { ...DEFAULT_MAX_LIFETIME };
  const rotateEverySeconds: Partial<Record<TokenKind, number>> = {};
  for (const kind of TOKEN_KINDS) {
    maxLifetimeSeconds[kind] = duration(tokens?.maxLifetime?.[kind], DEFAULT_MAX_LIFETIME[kind], `tokens.maxLifetime.${kind}`);
    const every = tokens?.rotateEvery?.[kind];
    if (every !== undefined) rotateEverySeconds[kind] = duration(every, 0, `tokens.rotateEvery.${kind}`);
  }
  return { maxLifetimeSeconds, rotateEverySeconds };
}

/**
 * A number of seconds as the durations of the config are written: in days above two days (`7d`), else in
 * hours (`24h`, `48h`), minutes or seconds, whichever is whole.
 *
 * @example
 * formatDuration(86400); // "24h"
 */
export function formatDuration(seconds: number): string {
  if (seconds % 86400 === 0 && seconds > 2 * 86400) return `${seconds / 86400}d`;
  if (seconds % 3600 === 0) return `${seconds / 3600}h`;
  if (seconds % 60 === 0) return `${seconds / 60}m`;
  return `${seconds}s`;
}

/**
 * The lifetime a create gets under the policy: the asked one when the kind allows it (else a 400 naming
 * `expiresIn`, the kind and its maximum), or without one the default capped to the kind's maximum.
 *
 * @example
 * lifetimeFor(policy, "ci", undefined, 30 * 86400); // 86400
 * lifetimeFor(policy, "ci", 7 * 86400, 30 * 86400); // throws ERR_BAD_REQUEST "expiresIn: at most 24h ..."
 */
export function lifetimeFor(policy: TokenPolicy | undefined, kind: TokenKind | undefined, asked: number | undefined, fallback: number): number {
  if (kind === undefined || policy === undefined) return asked ?? fallback;
  const max = policy.maxLifetimeSeconds[kind];
  if (asked === undefined) return Math.min(fallback, max);
  if (asked > max) {
    throw new GatewayError("ERR_BAD_REQUEST", `expiresIn: at most ${formatDuration(max)} is allowed for ${kind} tokens (tokens.maxLifetime.${kind}), received ${formatDuration(asked)}`);
  }
  return asked;
}

/**
 * When a token is due for rotation under the policy (ms since the epoch), or undefined when its kind
 * has no `rotateEvery`.
 *
 * @example
 * rotateByOf({ kind: "production", createdAt: "2026-01-01T00:00:00.000Z" }, policy); // Date.parse("2026-01-03...")
 */
export function rotateByOf(record: Pick<TokenRecord, "kind" | "createdAt">, policy: TokenPolicy): number | undefined {
  const every = record.kind === undefined ? undefined : policy.rotateEverySeconds[record.kind];
  return every === undefined ? undefined : Date.parse(record.createdAt) + every * 1000;
}

/** What the gateway adds to responses of tokens under a rotation policy. */
export interface RotationNotices {
  /**
   * The headers for a response to `identity`: `Portcullis-Token-Rotate-By` (an HTTP date) for a gateway
   * token whose kind has `rotateEvery`. The first request at or after that moment emits the audit event.
   */
  headersFor(identity: Identity): Promise<Record<string, string> | undefined>;
}

/** What {@link createRotationNotices} is built from. */
export interface RotationNoticeOptions {
  policy: TokenPolicy;
  tokens: Pick<TokenService, "get">;
  store: TokenStore;
  audit: Audit;
  log: Logger;
  /** Tokens whose policy facts are kept in memory; default 10000. */
  cacheSize?: number;
}

// The audit event says "due" once per token across processes: a store marker, taken first by a counter.
const DUE_KIND = "token-rotation-due";

/**
 * Rotation notices: finds the rotate-by moment of each gateway token once (kind and creation time never
 * change for a token id), answers the header from memory after that, and audits the moment a token
 * became due, once (a marker in the store stops other processes and restarts from saying it again).
 *
 * @example
 * const notices = createRotationNotices({ policy: config.tokens.policy, tokens, store, audit, log });
 * const headers = await notices.headersFor(identity); // { "Portcullis-Token-Rotate-By": "Tue, 08 Dec 2026 ..." }
 */
export function createRotationNotices(opts: RotationNoticeOptions): RotationNotices {
  const { policy } = opts;
  const active = Object.keys(policy.rotateEverySeconds).length > 0;
  const size = opts.cacheSize ?? 10_000;
  const facts = new Map<string, { rotateBy?: number; user: string; kind?: TokenKind; announced: boolean }>();
  const counters = createCounters(opts.store);

  async function factsOf(tokenId: string): Promise<{ rotateBy?: number; user: string; kind?: TokenKind; announced: boolean } | undefined> {
    const hit = facts.get(tokenId);
    if (hit) return hit;
    const t: PublicToken | undefined = await opts.tokens.get(tokenId);
    if (!t) return undefined;
    const f = { rotateBy: rotateByOf(t, policy), user: t.user, kind: t.kind, announced: false };
    if (facts.size >= size) facts.delete(facts.keys().next().value!);
    facts.set(tokenId, f);
    return f;
  }

  async function announce(tokenId: string, f: { rotateBy?: number; user: string; kind?: TokenKind; announced: boolean }): Promise<void> {
    f.announced = true;
    try {
      if ((await opts.store.getItem(DUE_KIND, tokenId)) !== undefined) return;
      // Two processes seeing the moment together: the counter (shared when the store has one) picks one.
      if ((await counters.increment(DUE_KIND, tokenId, 1, 86_400_000)) !== 1) return;
      const rotateBy = new Date(f.rotateBy!).toISOString();
      await opts.store.putItem(DUE_KIND, tokenId, { rotateBy, at: new Date().toISOString() });
      opts.audit.emit({ type: "plugin", plugin: "core:rotation-policy", action: "rotation_due", outcome: "ok", subject: f.user, detail: { tokenId, kind: f.kind, rotateBy } });
    } catch (err) {
      f.announced = false;
      opts.log.warn("could not record that a token is due for rotation", { tokenId, error: err instanceof Error ? err.message : String(err) });
    }
  }

  return {
    async headersFor(identity) {
      if (!active || identity.tokenId === undefined || identity.issuer !== "gateway") return undefined;
      const f = await factsOf(identity.tokenId);
      if (f?.rotateBy === undefined) return undefined;
      if (!f.announced && Date.now() >= f.rotateBy) void announce(identity.tokenId, f);
      return { [ROTATE_BY_HEADER]: new Date(f.rotateBy).toUTCString() };
    },
  };
}
