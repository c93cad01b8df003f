import { MCP_SCOPES } from "./options.ts";
import { resourceOf } from "./runtime.ts";

function document(body: unknown): Response {
  // Browser-based MCP clients (the Inspector) read these cross-origin; they hold nothing private.
  return new Response(JSON.stringify(body), {
    status: 200,
    headers: { "content-type": "application/json", "cache-control": "public, max-age=300", "access-control-allow-origin": "*" },
  });
}

/**
 * RFC 9728 protected resource metadata for the gateway's `/mcp` endpoint.
 *
 * @example
 * protectedResourceMetadata("https://mcp.example.com", "/mcp");
 */
export function protectedResourceMetadata(issuer: string, path = "/mcp", certificateBound = false): Response {
  return document({
    ...(certificateBound ? { tls_client_certificate_bound_access_tokens: true } : {}),
    resource: path === "/mcp" ? resourceOf(issuer) : `${issuer}${path}`,
    authorization_servers: [issuer],
    scopes_supported: [...MCP_SCOPES],
    bearer_methods_supported: ["header"],
    resource_name: "Portcullis MCP gateway",
  });
}

/**
 * RFC 8414 authorization server metadata.
 *
 * @example
 * authorizationServerMetadata("https://mcp.example.com");
 */
export function authorizationServerMetadata(issuer: string, certificateBound = false): Response {
  return document({
    ...(certificateBound ? { tls_client_certificate_bound_access_tokens: true } : {}),
    issuer,
    authorization_endpoint: `${issuer}/oauth/authorize`,
    token_endpoint: `${issuer}/oauth/token`,
    registration_endpoint: `${issuer}/oauth/register`,
    revocation_endpoint: `${issuer}/oauth/revoke`,
    jwks_uri: `${issuer}/.well-known/jwks.json`,
    scopes_supported: [...MCP_SCOPES],
    response_types_supported: ["code"],
    response_modes_supported: ["query"],
    grant_types_supported: ["authorization_code", "refresh_token", "client_credentials"],
    token_endpoint_auth_methods_supported: ["none", "client_secret_basic", "client_secret_post"],
    revocation_endpoint_auth_methods_supported: ["none", "client_secret_basic", "client_secret_post"],
    code_challenge_methods_supported: ["S256"],
    client_id_metadata_document_supported: true,
    authorization_response_iss_parameter_supported: true,
    resource_indicators_supported: true,
  });
}
