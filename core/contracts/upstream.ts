// The contract of an upstream plugin. Type-only: imports no implementation.
import type { Transport } from "@modelcontextprotocol/client";
import type { Identity } from "./identity.ts";
import type { IdentityMapper } from "./identity-mapper.ts";

/** What an upstream plugin gets when it builds a transport. */
export interface TransportContext {
  /** Resolves a secret by name from the configured sources; throws a clear error when none has it. Audited. */
  secret(name: string): Promise<string>;
  /** Set on per-user connections: the user and their own credential for this server. */
  user?: { identity: Identity; credential: string };
  /** Writes one line of the server's own output (a stdio server's stderr) to the gateway's log, redacted. */
  log?(line: string): void;
}

/** How to reach one MCP server. */
export interface Upstream {
  /** A label for logs and errors (`upstream:stdio`); an upstream is recognised by its `createTransport` hook. */
  name: string;
  /** A short human description (command line or URL, never credentials). */
  describe(): string;
  /** A fresh, unstarted MCP client transport; called again after every crash. */
  createTransport(ctx: TransportContext): Transport | Promise<Transport>;
  /** How the caller's identity travels: HTTP headers or `params._meta`; default `meta` (`http()` says `headers`). */
  identityVia?: "headers" | "meta";
  /** Names of the secrets this upstream uses: a change of one reconnects it (a stdio server restarts). */
  secretNames?(): string[];
  /**
   * Per-user credentials: each user's calls go over their own connection built with their own stored
   * credential (`PUT /v1/me/credentials/<server>`). `required`: a user without one is refused with a clear error.
   */
  perUser?: { required: boolean; idleSeconds?: number };
  /** Identity mappers for this server only, replacing the gateway's; `false` forwards nothing. */
  identity?: IdentityMapper[] | false;
  /** Whether the server may ask callers for LLM sampling; default true (refused: a JSON-RPC error, audited). */
  allowSampling?: boolean;
  /** Whether the server may ask callers for input (elicitation); default true. */
  allowElicitation?: boolean;
  /** Most connections of its own this server gets for single caller sessions at once; default 32. */
  maxCallerConnections?: number;
  /** Most of those one user (principal) holds at once on this server; default 16. */
  maxCallerConnectionsPerUser?: number;
  /** Per-request timeout in milliseconds (default 60000). */
  timeoutMs?: number;
  /** Connect timeout in milliseconds (default 15000). */
  connectTimeoutMs?: number;
  /** Reconnect backoff: first delay and cap, in milliseconds. */
  restart?: { initialDelayMs?: number; maxDelayMs?: number };
  /** Called once when the gateway closes. */
  close?(): void | Promise<void>;
}
