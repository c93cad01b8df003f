import { GatewayError } from "../errors.ts";
import { readJsonBody } from "../http/body.ts";
import { decodePathSegment } from "../http/path.ts";
import type { AccessPolicy } from "../types.ts";
import type { AuthContext, Identity, Route } from "../types.ts";
import type { McpEndpoint } from "./endpoint.ts";
import type { UpstreamRegistry } from "./registry.ts";
import { resolveTool, type ToolResolution } from "./resolve-tool.ts";
import { chargeToolCalls, type RateLimiter } from "../limits/rate-limit.ts";
import { splitName } from "./namespacing.ts";

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
  /** Rate limits on tool calls (`limits`, tokens' own `rateLimit`); none when absent. */
  limits?: RateLimiter;
}

/**
 * 403 `insufficient_scope` (RFC 6750 / MCP authorization), telling the client which scope to ask its
 * authorization server for, and where the resource's metadata is when the gateway publishes it.
 *
 * @example
 * throw insufficientScope("this tool needs the mcp:write scope");
 */
export function insufficientScope(message: string, resourceMetadata?: string): GatewayError {
  const prm = resourceMetadata === undefined ? "" : `, resource_metadata="${resourceMetadata}"`;
  return new GatewayError("ERR_INSUFFICIENT_SCOPE", message, {
    headers: { "www-authenticate": `Bearer error="insufficient_scope", scope="mcp:read mcp:write"${prm}` },
  });
}

/** Whether a credential may use MCP at all (it carries `mcp:read` or `mcp:write`). */
export function hasMcpScope(identity: Identity): boolean {
  return identity.scopes.includes("mcp:read") || identity.scopes.includes("mcp:write");
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
  const insufficient = (message: string, url: URL): GatewayError =>
    insufficientScope(message, o.hasResourceMetadata() ? `${(o.publicUrl ?? url.origin).replace(/\/+$/, "")}/.well-known/oauth-protected-resource/mcp` : undefined);

  async function handler(request: Request, ctx: AuthContext): Promise<Response> {
    const { url } = ctx;
    const identity = ctx.identity as Identity;
    const path = url.pathname;
    const rest = path === "/mcp" ? undefined : path.slice("/mcp/".length);
    if (rest !== undefined && (rest === "" || rest.includes("/"))) throw new GatewayError("ERR_NOT_FOUND", "not found");
    if (!hasMcpScope(identity)) throw insufficient("the credential carries neither mcp:read nor mcp:write", url);
    const only = rest === undefined ? undefined : decodePathSegment(rest);
    if (only !== undefined && !o.registry.get(only)) throw new GatewayError("ERR_NOT_FOUND", `no MCP server named '${only}'`);
    const body = request.method === "POST" ? await readJsonBody(request, o.maxBodyBytes, o.bodyTimeoutMs) : undefined;
    // JSON-RPC 2.0: an empty batch is an invalid request, whichever transport would otherwise take it.
    if (Array.isArray(body) && body.length === 0) throw new GatewayError("ERR_BAD_REQUEST", "Invalid Request: empty JSON-RPC batch");
    if (o.limits && body !== undefined) {
      const refused = await chargeToolCalls(o.limits, body, identity, (name) => only ?? splitName(name, o.separator, o.registry.names())?.server);
      if (refused) return refused;
    }
    // Resolved here only for a caller whose client can step up; the MCP layer resolves every other call once.
    const name = o.stepUp.has(identity.strategy) ? singleToolCall(body) : undefined;
    let resolved: ToolResolution | undefined;
    if (name !== undefined) {
      resolved = await resolveTool(name, identity, { registry: o.registry, policy: o.policy, separator: o.separator, only });
      if (resolved.decision === "denied" && resolved.stepUp) {
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
