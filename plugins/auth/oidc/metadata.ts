/**
 * The IdP scopes a client should ask for to use `/mcp`: those granting `mcp:read` and `mcp:write`.
 * `admin` is deliberately not advertised.
 *
 * @example
 * mcpScopesOf({ "mcp:read": ["api.read"], "mcp:write": ["api.write"], admin: ["api.admin"] }); // ["api.read", "api.write"]
 */
export function mcpScopesOf(scopeMap: Record<string, string[]>): string[] {
  return [...new Set([...(scopeMap["mcp:read"] ?? []), ...(scopeMap["mcp:write"] ?? [])])];
}

/**
 * The protected resource metadata (RFC 9728) naming the IdP as the authorization server of `/mcp`.
 *
 * @example
 * protectedResourceMetadata("https://mcp.example.com", "https://dev-1.okta.com/oauth2/default", ["mcp:read"]);
 */
export function protectedResourceMetadata(base: string, issuer: string, scopes: string[]): Response {
  const body = {
    resource: `${base}/mcp`,
    authorization_servers: [issuer],
    scopes_supported: scopes,
    bearer_methods_supported: ["header"],
    resource_name: "Portcullis MCP gateway",
  };
  // Public metadata that browser-based MCP clients fetch cross-origin.
  return new Response(JSON.stringify(body), {
    headers: { "content-type": "application/json", "cache-control": "max-age=300", "access-control-allow-origin": "*" },
  });
}

/**
 * The `WWW-Authenticate` challenge of a 401: where the metadata is, and the scopes to ask the IdP for.
 *
 * @example
 * resourceChallenge("https://mcp.example.com", ["mcp:read"]);
 * // 'Bearer resource_metadata="https://mcp.example.com/.well-known/oauth-protected-resource/mcp", scope="mcp:read"'
 */
export function resourceChallenge(base: string, scopes: string[]): string {
  const scope = scopes.join(" ");
  return `Bearer resource_metadata="${base}/.well-known/oauth-protected-resource/mcp"${scope ? `, scope="${scope}"` : ""}`;
}
