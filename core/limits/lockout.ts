import { GatewayError } from "../errors.ts";
import type { Counters } from "../tokens/counters.ts";
import type { Audit } from "../types.ts";

/** The failed-authentication defence after defaults (see `LimitSettings.failedAuth`). */
export interface LockoutSettings {
  /** Window failures are counted over, ms. */
  windowMs: number;
  /** Failures in a window after which each further failure is answered `delayMs` late. */
  slowAfter: number;
  delayMs: number;
  /** Failures in a window after which the address (or credential) is refused with 429 for `lockMs`. */
  lockAfter: number;
  lockMs: number;
}

/**
 * Defaults: past 10 failures a minute an address (or credential) is slowed down, past 20 it is locked out
 * for 5 minutes. Nobody typing or pasting credentials gets there; a credential stuffer does at once.
 */
export const LOCKOUT_DEFAULTS: LockoutSettings = { windowMs: 60_000, slowAfter: 10, delayMs: 250, lockAfter: 20, lockMs: 300_000 };

/** One failed attempt, as the lockout counts it. */
export interface FailedAttempt {
  /** The client's address, from the serving adapter (never from a header). */
  address?: string;
  /** The presented credential's name (`credentialKey`), never the secret. */
  credential?: string;
  /** The token record the credential belongs to, when the failure found one (revoked, expired). */
  tokenId?: string;
  path: string;
}

/** Counts failed authentications per address and per credential; slows, then refuses, repeat offenders. */
export interface Lockout {
  /**
   * Before authenticating: the 429 (`ERR_TOO_MANY_ATTEMPTS`, with `Retry-After`) to answer when the address
   * or the credential is locked out, else undefined. `credential` is asked for only when a credential is locked.
   */
  refusal(address: string | undefined, credential: () => string | undefined): GatewayError | undefined;
  /** Counts a failed attempt; waits when the offender is slowed; returns the 429 to answer when this failure locks it. */
  failed(attempt: FailedAttempt): Promise<GatewayError | undefined>;
  close(): void;
}

// Locks remembered in this process at most; the oldest goes first (it is also the first to end).
const MAX_LOCKS = 10_000;

function tooMany(what: string, until: number, now: number): GatewayError {
  const seconds = Math.max(1, Math.ceil((until - now) / 1000));
  return new GatewayError("ERR_TOO_MANY_ATTEMPTS", `too many failed authentication attempts from this ${what}; retry after ${seconds} s`, {
    headers: { "retry-after": String(seconds) },
  });
}

/**
 * The failed-authentication defence. Failures are counted in the store's counters (`createCounters`), so
 * processes sharing a store add up each other's; a lock is remembered in each process that sees the count
 * cross `lockAfter`, and audited once (type `lockout`) by the one whose increment started it. A success
 * never resets a count: counts expire with their window.
 *
 * @example
 * const lockout = createLockout(LOCKOUT_DEFAULTS, counters, audit);
 * const refused = lockout.refusal(info.remoteAddress, () => credentialKey(request, headers));
 * if (refused) throw refused;
 */
export function createLockout(settings: LockoutSettings, counters: Counters, audit: Audit): Lockout {
  const locks = new Map<string, number>();
  const lockedUntil = (key: string, now: number): number | undefined => {
    const until = locks.get(key);
    if (until === undefined) return undefined;
    if (until > now) return until;
    locks.delete(key);
    return undefined;
  };
  // Whether any credential was ever locked: until one is, a request's credential is not even named.
  let credentialLocked = false;

  async function count(by: "address" | "credential", key: string, attempt: FailedAttempt): Promise<{ slow: boolean; refusal?: GatewayError }> {
    const n = await counters.increment(`auth-failures:${by}`, key, 1, settings.windowMs);
    if (n <= settings.lockAfter) return { slow: n > settings.slowAfter };
    const now = Date.now();
    const until = now + settings.lockMs;
    const mapKey = `${by}\u0000${key}`;
    if (!locks.has(mapKey)) {
      if (locks.size >= MAX_LOCKS) locks.delete(locks.keys().next().value!);
      if (by === "credential") credentialLocked = true;
    }
    locks.set(mapKey, until);
    // Only the increment that starts a lock audits it, in whichever process sharing the store made it.
    if ((await counters.increment(`auth-lock:${by}`, key, 1, settings.lockMs)) === 1) {
      audit.emit({
        type: "lockout",
        by,
        ...(by === "address" ? { remoteAddress: key } : { credential: key }),
        ...(attempt.tokenId === undefined ? {} : { tokenId: attempt.tokenId }),
        failures: n,
        windowSeconds: Math.round(settings.windowMs / 1000),
        until: new Date(until).toISOString(),
        path: attempt.path,
      });
    }
    return { slow: false, refusal: tooMany(by === "address" ? "address" : "credential", until, now) };
  }

  return {
    refusal(address, credential) {
      if (locks.size === 0) return undefined;
      const now = Date.now();
      if (address !== undefined) {
        const until = lockedUntil(`address\u0000${address}`, now);
        if (until !== undefined) return tooMany("address", until, now);
      }
      if (credentialLocked) {
        const key = credential();
        const until = key === undefined ? undefined : lockedUntil(`credential\u0000${key}`, now);
        if (until !== undefined) return tooMany("credential", until, now);
      }
      return undefined;
    },
    async failed(attempt) {
      // An address counts distinct credentials: a client retrying one stale token in a loop locks out that
      // token (failing anyway), not everyone behind its address; trying many credentials is what locks an address.
      const { address, credential } = attempt;
      const fresh = address === undefined || credential === undefined ||
        (await counters.increment("auth-failures:pair", `${address}\u0000${credential}`, 1, settings.windowMs)) === 1;
      const [a, c] = await Promise.all([
        address === undefined || !fresh ? undefined : count("address", address, attempt),
        credential === undefined ? undefined : count("credential", credential, attempt),
      ]);
      const refusal = a?.refusal ?? c?.refusal;
      if (refusal) return refusal;
      if ((a?.slow || c?.slow) && settings.delayMs > 0) await new Promise((resolve) => setTimeout(resolve, settings.delayMs));
      return undefined;
    },
    close() {
      locks.clear();
      credentialLocked = false;
    },
  };
}
