// Access decisions on /mcp. Type-only: imports no implementation.
import type { Identity } from "./identity.ts";

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

/** What the `authorize` hook is asked about. */
export interface AuthorizeContext {
  identity: Identity;
  server: string;
  /** The tool's upstream name, for tool decisions. */
  tool?: string;
  action: "list" | "call" | "read" | "server";
  /** The decision of the built-in rules. */
  allowed: boolean;
}

/** A config-as-code hook with the last word: return true/false to decide, undefined to keep `allowed`. */
export type AuthorizeHook = (ctx: AuthorizeContext) => boolean | undefined;
