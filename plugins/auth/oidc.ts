import { readBearer, TOKEN_PREFIX, type AuthContext, type AuthOutcome, type AuthStrategy, type Logger } from "../../core/mod.ts";
import { refuse, STRATEGY } from "./oidc/identity.ts";
import { createIntrospector } from "./oidc/introspect.ts";
import { mcpScopesOf, protectedResourceMetadata, resourceChallenge } from "./oidc/metadata.ts";
import { type OidcOptions, resolveOptions } from "./oidc/options.ts";
import { createDiscovery, createJwtVerifier } from "./oidc/verify.ts";

export type { OidcIntrospectionOptions, OidcOptions } from "./oidc/options.ts";
export type { OidcClaimMapping, OidcClaimPath, OidcProvider } from "./oidc/presets.ts";

const MAX_TOKEN_LENGTH = 16384;

/**
 * OAuth 2.0 / OIDC resource server: accepts access tokens the company IdP (Okta, Auth0, Azure AD, Google
 * or any OIDC provider) issued for the gateway. JWTs are verified against the IdP's JWKS (found by
 * discovery, cached, refetched for an unknown `kid` at most once per cooldown); opaque tokens go through
 * RFC 7662 introspection when configured. Serves the protected resource metadata (RFC 9728) and answers
 * 401s with a `resource_metadata` challenge so MCP clients find the IdP. Gateway `pt_` tokens, and other
 * bearer credentials it cannot judge, are left to the next strategy.
 *
 * @example
 * defineGateway({
 *   auth: [bearer(), oidc({ provider: "okta", issuer: "https://dev-123.okta.com/oauth2/default", audience: "api://portcullis" })],
 *   servers: { notes: stdio({ command: "notes-server" }) },
 * });
 */
export function oidc(input: OidcOptions): AuthStrategy {
  const options = resolveOptions(input);
  let log: Logger | undefined;
  let publicUrl: string | undefined;
  const logger = (): Logger | undefined => log;
  const discover = createDiscovery(options, logger);
  const verifyJwt = createJwtVerifier(options, discover, logger);
  const introspector = options.introspection && createIntrospector(options.introspection, options, discover, logger);
  const scopes = mcpScopesOf(options.scopeMap);
  const baseUrl = (ctx: AuthContext): string => (publicUrl ?? ctx.url.origin).replace(/\/+$/, "");
  const metadata = (_request: Request, ctx: AuthContext): Response => protectedResourceMetadata(baseUrl(ctx), options.issuer, scopes);

  return {
    name: STRATEGY,
    // The client can get a token with more scope from the IdP: read-only tokens calling write tools get 403 insufficient_scope.
    scopeStepUp: true,
    challenge: (ctx) => resourceChallenge(baseUrl(ctx), scopes),
    routes: [
      { method: "GET", path: "/.well-known/oauth-protected-resource", handler: metadata },
      { method: "GET", path: "/.well-known/oauth-protected-resource/mcp", handler: metadata },
    ],
    setup(ctx) {
      log = ctx.log;
      publicUrl = ctx.publicUrl;
      // Warm the metadata and key cache so the first caller does not wait; a failure is retried on use.
      discover().catch(() => undefined);
    },
    async authenticate(request, ctx): Promise<AuthOutcome> {
      const token = readBearer(request);
      if (token === undefined || token.startsWith(TOKEN_PREFIX)) return undefined;
      if (token.length > MAX_TOKEN_LENGTH) return refuse("token too large");
      const parts = token.split(".").length;
      if (parts === 3) return await verifyJwt(token, [publicUrl, ctx.url.origin]);
      if (parts === 5) return refuse("encrypted access tokens are not supported");
      return introspector ? await introspector.introspect(token) : undefined;
    },
    close() {
      introspector?.clear();
    },
  };
}
