import type { AccessPolicy, Identity } from "../types.ts";

/**
 * The policy of a gateway without a permission model: an authenticated identity reaches every server.
 *
 * @example
 * const policy = allowAuthenticated();
 */
export function allowAuthenticated(): AccessPolicy {
  return { server: () => true, tool: () => true, read: () => true };
}
