import type { Identity } from "../types.ts";

/** A tool as the policy sees it: its upstream name and its annotations. */
export interface ToolInfo {
  name: string;
  annotations?: { readOnlyHint?: boolean };
}

/** Decides what an identity may see and do on `/mcp`. */
export interface AccessPolicy {
  /** Whether the identity may reach the server at all. */
  server(identity: Identity, server: string): boolean;
  /** Whether the identity may see and call the tool. `call` is true when the tool is being called. */
  tool(identity: Identity, server: string, tool: ToolInfo, call: boolean): boolean;
  /** Whether the identity may list and read prompts and resources of the server. */
  read(identity: Identity, server: string): boolean;
}

/**
 * The policy of a gateway without a permission model: an authenticated identity reaches every server.
 *
 * @example
 * const policy = allowAuthenticated();
 */
export function allowAuthenticated(): AccessPolicy {
  return { server: () => true, tool: () => true, read: () => true };
}
