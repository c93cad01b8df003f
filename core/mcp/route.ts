import { GatewayError } from "../errors.ts";
import { readJsonBody } from "../http/body.ts";
import { decodePathSegment } from "../http/path.ts";
import type { AccessPolicy } from "../types.ts";
import type { AuthContext, Identity, Route } from "../types.ts";
import type { McpEndpoint } from "./endpoint.ts";
import type { UpstreamRegistry } from "./registry.ts";
import { resolveTool, type ToolResolution } from "./resolve-tool.ts";

/** What the `/mcp` routes need from the gateway. */
export interface McpRouteOptions {
  endpoint: McpEndpoint;
  registry: UpstreamRegistry;
  policy: AccessPolicy;
  separator: string;
  maxBodyBytes: number;
  bodyTimeoutMs: number;
  /** Names of the strategies whose clients can ask for more scope (OAuth): they get 403 insufficient_scope. */
  stepUp: ReadonlySet<string>;
  /** The public base URL when configured, else the request's origin is used. */
  publicUrl?: string;
  /** Whether the gateway publishes `/.well-known/oauth-protected-resource/mcp` (then the challenge points there). */
  hasResourceMetadata(): boolean;
}

function singleToolCall(body: unknown): string | undefined {
  if (typeof body !== "object" || body === null || Array.isArray(body)) return undefined;
  const { method, params } = body as { method?: unknown; params?: { name?: unknown } };
  return method === "tools/call" && typeof params?.name === "string" ? params.name : undefined;
}

/**
 * The MCP endpoint's routes: `/mcp` (every server the caller may use, names prefixed) and `/mcp/<server>`
 * (one server, unprefixed), for GET, POST and DELETE. The gateway has already checked the Origin and
 * authenticated the caller with the configured strategies; here: scopes, the server, the body, and one
 * resolution of a `tools/call` that both the OAuth step-up and the MCP layer use.
 *
 * @example
 * const routes = mcpRoutes({ endpoint, registry, policy, separator: "__", maxBodyBytes, bodyTimeoutMs, stepUp, hasResourceMetadata });
 */
export function mcpRoutes(o: McpRouteOptions): Route[] {
  // Step-up (RFC 6750 / MCP authorization): tell the client which scope to ask its authorization server for.
  const insufficient = (message: string, url: URL): GatewayError => {
    const prm = o.hasResourceMetadata()
      ? `, resource_metadata="${(o.publicUrl ?? url.origin).replace(/\/+$/, "")}/.well-known/oauth-protected-resource/mcp"`
      : "";
    return new GatewayError("ERR_INSUFFICIENT_SCOPE", message, {
      headers: { "www-authenticate": `Bearer error="insufficient_scope", scope="mcp:read mcp:write"${prm}` },
    });
  };

  async function handler(request: Request, ctx: AuthContext): Promise<Response> {
    const { url } = ctx;
    const identity = ctx.identity as Identity;
    const path = url.pathname;
    const rest = path === "/mcp" ? undefined : path.slice("/mcp/".length);
    if (rest !== undefined && (rest === "" || rest.includes("/"))) throw new GatewayError("ERR_NOT_FOUND", "not found");
    if (!identity.scopes.includes("mcp:read") && !identity.scopes.includes("mcp:write")) {
      throw insufficient("the credential carries neither mcp:read nor mcp:write", url);
    }
    const only = rest === undefined ? undefined : decodePathSegment(rest);
    if (only !== undefined && !o.registry.get(only)) throw new GatewayError("ERR_NOT_FOUND", `no MCP server named '${only}'`);
    const body = request.method === "POST" ? await readJsonBody(request, o.maxBodyBytes, o.bodyTimeoutMs) : undefined;
    // JSON-RPC 2.0: an empty batch is an invalid request, whichever transport would otherwise take it.
    if (Array.isArray(body) && body.length === 0) throw new GatewayError("ERR_BAD_REQUEST", "Invalid Request: empty JSON-RPC batch");
    const name = singleToolCall(body);
    let resolved: ToolResolution | undefined;
    if (name !== undefined) {
      resolved = await resolveTool(name, identity, { registry: o.registry, policy: o.policy, separator: o.separator, only });
      if (resolved.decision === "denied" && resolved.stepUp && o.stepUp.has(identity.strategy)) {
        throw insufficient("this tool needs the mcp:write scope", url);
      }
    }
    return o.endpoint.handle(request, identity, body, only, resolved);
  }

  const routes: Route[] = [];
  for (const path of ["/mcp", "/mcp/*"]) {
    for (const method of ["GET", "POST", "DELETE"] as const) routes.push({ method, path, auth: "mcp", origin: true, errors: "rpc", handler });
  }
  return routes;
}
