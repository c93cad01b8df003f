import type { OauthEvent, PluginContext, RequestInfo } from "../../../core/mod.ts";
import type { ClientRegistry } from "./clients.ts";
import type { Grants, SessionRecord } from "./grants.ts";
import type { IdpClient } from "./idp.ts";
import type { ResolvedOptions } from "./options.ts";

/** Everything the OAuth endpoints share. */
export interface OauthRuntime {
  options: ResolvedOptions;
  clients: ClientRegistry;
  grants: Grants;
  idp: IdpClient;
  /** The gateway services; throws before `setup`. */
  plugin(): PluginContext;
  /** The issuer for a request: `server.publicUrl`, else the request's origin. */
  issuerOf(url: URL): string;
  /** Emits an `oauth` audit event. Never pass secrets. */
  audit(event: Omit<OauthEvent, "type" | "time">): void;
  /**
   * RFC 8705: the thumbprint (`x5t#S256`, base64url SHA-256) of the verified client certificate a request
   * presents, when the server runs with `mtls`; undefined otherwise.
   */
  thumbprint(info: RequestInfo): Promise<string | undefined>;
  /** Whether the token endpoint refuses requests without a client certificate (`requireCertificateBoundTokens`). */
  requireCertificate: boolean;
  /** Signs an access token for a session. */
  accessToken(session: SessionRecord, scopes: string[], issuer: string): Promise<string>;
}

/**
 * The protected resource (RFC 8707 / 9728) the gateway's access tokens are for: its `/mcp` URL.
 *
 * @example
 * resourceOf("https://mcp.example.com"); // "https://mcp.example.com/mcp"
 */
export function resourceOf(issuer: string): string {
  return `${issuer}/mcp`;
}

/**
 * Whether a requested `resource` names this gateway: its `/mcp` URL or one server under it.
 *
 * @example
 * resourceAllowed("https://gw/mcp/notes", "https://gw"); // true
 */
export function resourceAllowed(resource: string, issuer: string): boolean {
  const base = resourceOf(issuer);
  if (resource === base || resource === `${base}/`) return true;
  return resource.startsWith(`${base}/`) && /^[A-Za-z0-9._~-]+$/.test(resource.slice(base.length + 1));
}
