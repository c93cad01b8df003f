// What the gateway hands every plugin at start. Type-only: imports no implementation.
import type { Audit } from "./audit.ts";
import type { Identity } from "./identity.ts";
import type { Logger } from "./logger.ts";
import type { TokenStore } from "./store.ts";
import type { SigningKeys, TokenService } from "./tokens.ts";

/** Gateway services handed to plugins when the gateway starts. */
export interface PluginContext {
  tokens: TokenService;
  audit: Audit;
  log: Logger;
  /** The configured store: tokens, plus namespaced items (grants, sessions, vault records). */
  store: TokenStore;
  /** The gateway's JWT signing keys (identity assertions, OAuth access tokens); public half at `/.well-known/jwks.json`. */
  keys: SigningKeys;
  /** Time allowed to receive a request body, ms (`server.bodyTimeoutMs`): for plugins that read bodies themselves. */
  bodyTimeoutMs: number;
  /** The gateway's public base URL when configured (`server.publicUrl`), else undefined: use the request's origin. */
  publicUrl?: string;
  /** The configured servers `identity` may reach under the permission model (for consent pages and the like). */
  serversFor(identity: Identity): string[];
  /**
   * Ends every MCP session opened with the credential `credentialId` (an identity's `credentialId`, else
   * its `tokenId`): call it when a strategy's own credential is revoked (an OAuth grant ended, say).
   */
  endSessions(credentialId: string): void;
}
