import { configError, type IdentityMapper, type Upstream } from "../../core/mod.ts";

/** Settings shared by both upstreams' `userCredential` option. */
export interface PerUserBase {
  /** Refuse users who have not stored a credential for this server (default true); false lets them use the shared connection. */
  required?: boolean;
  /** Close a user's own connection after this many idle seconds (default: the gateway's choice). */
  idleSeconds?: number;
}

/** What a server may ask of callers, and how many connections of its own it gets for caller sessions. */
export interface CallerOptions {
  /** Let the server ask the caller's client for LLM sampling (`sampling/createMessage`); default true. */
  allowSampling?: boolean;
  /** Let the server ask the caller for input (`elicitation/create`, form and URL mode); default true. */
  allowElicitation?: boolean;
  /**
   * Most connections this server gets for single caller sessions at once (a caller that can be asked
   * things, sets a log level or subscribes gets its own): for a stdio server each is a process; default 32.
   */
  maxCallerConnections?: number;
  /** Most of those one user holds at once on this server, so one user cannot take them all; default 16. */
  maxCallerConnectionsPerUser?: number;
}

/**
 * Validates `allowSampling`, `allowElicitation`, `maxCallerConnections` and `maxCallerConnectionsPerUser` into the upstream's fields.
 *
 * @example
 * const caller = callerOptionsOf(options, "stdio");
 */
export function callerOptionsOf(options: CallerOptions, path: string): Pick<Upstream, "allowSampling" | "allowElicitation" | "maxCallerConnections" | "maxCallerConnectionsPerUser"> {
  for (const key of ["allowSampling", "allowElicitation"] as const) {
    if (options[key] !== undefined && typeof options[key] !== "boolean") throw configError(`${path}.${key}`, "expected true or false", JSON.stringify(options[key]));
  }
  for (const key of ["maxCallerConnections", "maxCallerConnectionsPerUser"] as const) {
    const max = options[key];
    if (max !== undefined && (typeof max !== "number" || !Number.isInteger(max) || max < 1)) {
      throw configError(`${path}.${key}`, "expected a positive integer", JSON.stringify(max));
    }
  }
  return {
    ...(options.allowSampling === undefined ? {} : { allowSampling: options.allowSampling }),
    ...(options.allowElicitation === undefined ? {} : { allowElicitation: options.allowElicitation }),
    ...(options.maxCallerConnections === undefined ? {} : { maxCallerConnections: options.maxCallerConnections }),
    ...(options.maxCallerConnectionsPerUser === undefined ? {} : { maxCallerConnectionsPerUser: options.maxCallerConnectionsPerUser }),
  };
}

/**
 * Validates the common part of `userCredential` into `Upstream.perUser`.
 *
 * @example
 * const perUser = perUserOf(options.userCredential, "http.userCredential");
 */
export function perUserOf(option: PerUserBase | undefined, path: string): Upstream["perUser"] {
  if (option === undefined) return undefined;
  if (typeof option !== "object" || option === null) throw configError(path, "expected an object", JSON.stringify(option));
  if (option.required !== undefined && typeof option.required !== "boolean") throw configError(`${path}.required`, "expected true or false", JSON.stringify(option.required));
  const idle = option.idleSeconds;
  if (idle !== undefined && (typeof idle !== "number" || !Number.isInteger(idle) || idle <= 0)) {
    throw configError(`${path}.idleSeconds`, "expected a positive integer number of seconds", JSON.stringify(idle));
  }
  return { required: option.required ?? true, ...(idle === undefined ? {} : { idleSeconds: idle }) };
}

/**
 * Validates a server's own `identity` option (mappers replacing the gateway's, or false for none).
 *
 * @example
 * const identity = identityOf(options.identity, "stdio.identity");
 */
export function identityOf(option: IdentityMapper[] | false | undefined, path: string): IdentityMapper[] | false | undefined {
  if (option === undefined || option === false) return option;
  if (!Array.isArray(option)) throw configError(path, "expected an array of identity mappers or false", typeof option);
  for (const [i, m] of option.entries()) {
    if (typeof m !== "object" || m === null || typeof m.name !== "string" || typeof m.map !== "function") {
      throw configError(`${path}[${i}]`, "expected an identity mapper plugin such as identityHeaders() or jwtAssertion()");
    }
  }
  return option;
}
