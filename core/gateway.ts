import { runAuth } from "./auth/pipeline.ts";
import { allowAuthenticated } from "./auth/policy.ts";
import { resolveConfig } from "./config/resolve.ts";
import { GatewayError } from "./errors.ts";
import { readJsonBody } from "./http/body.ts";
import { originAllowed } from "./http/origin.ts";
import { errorResponse, json, toErrorResponse } from "./http/responses.ts";
import { createMcpEndpoint } from "./mcp/endpoint.ts";
import { createRegistry } from "./mcp/registry.ts";
import type { AuthStrategy, Gateway, GatewayConfig, RequestInfo, Route } from "./types.ts";

const MCP_METHODS = "GET, POST, DELETE";

function routesOf(strategies: readonly AuthStrategy[]): Map<string, Route> {
  const routes = new Map<string, Route>();
  for (const s of strategies) for (const r of s.routes ?? []) routes.set(`${r.method} ${r.path}`, r);
  return routes;
}

/**
 * Validates a configuration and builds the gateway: a web-standard `fetch` handler plus `close()`.
 * Upstreams start connecting at once, in the background.
 *
 * @example
 * const gateway = createGateway(config);
 * const response = await gateway.fetch(new Request("http://127.0.0.1:8787/healthz"));
 * await gateway.close();
 */
export function createGateway(input: GatewayConfig): Gateway {
  const config = resolveConfig(input);
  const log = config.logger;
  const registry = createRegistry(config.servers, log);
  const endpoint = createMcpEndpoint({
    registry,
    policy: allowAuthenticated(),
    separator: config.server.separator,
    maxBodyBytes: config.server.maxBodyBytes,
    sessionIdleSeconds: config.server.sessionIdleSeconds,
    maxSessions: config.server.maxSessions,
    log,
  });
  const routes = routesOf(config.auth);
  const unknown = (err: unknown) => log.error("unhandled error", { error: err instanceof Error ? err.stack ?? err.message : String(err) });
  let closing: Promise<void> | undefined;

  async function mcp(request: Request, url: URL, info: RequestInfo, only: string | undefined): Promise<Response> {
    if (!MCP_METHODS.includes(request.method)) {
      throw new GatewayError("ERR_METHOD_NOT_ALLOWED", `method ${request.method} is not allowed on ${url.pathname}`, { headers: { allow: MCP_METHODS } });
    }
    if (!originAllowed(request.headers.get("origin"), config.server.allowedOrigins)) {
      throw new GatewayError("ERR_FORBIDDEN_ORIGIN", "Origin not allowed");
    }
    const auth = await runAuth(config.auth, request, { url, info });
    if (!auth.ok) throw auth.error;
    if (only !== undefined && !registry.get(only)) throw new GatewayError("ERR_NOT_FOUND", `no MCP server named '${only}'`);
    const body = request.method === "POST" ? await readJsonBody(request, config.server.maxBodyBytes) : undefined;
    return endpoint.handle(request, auth.identity, body, only);
  }

  async function fetch(request: Request, info: RequestInfo = {}): Promise<Response> {
    let url: URL;
    try {
      url = new URL(request.url);
    } catch {
      return errorResponse("ERR_BAD_REQUEST", "bad request URL", 400);
    }
    const path = url.pathname;
    const isMcp = path === "/mcp" || path.startsWith("/mcp/");
    try {
      if (closing) throw new GatewayError("ERR_OVERLOADED", "the gateway is shutting down");
      if (isMcp) {
        const rest = path.slice("/mcp/".length);
        if (path !== "/mcp" && (rest === "" || rest.includes("/"))) throw new GatewayError("ERR_NOT_FOUND", "not found");
        return await mcp(request, url, info, path === "/mcp" ? undefined : decodeURIComponent(rest));
      }
      if (path === "/healthz") {
        if (request.method !== "GET" && request.method !== "HEAD") {
          throw new GatewayError("ERR_METHOD_NOT_ALLOWED", `method ${request.method} is not allowed on /healthz`, { headers: { allow: "GET, HEAD" } });
        }
        const upstreams: Record<string, string> = {};
        for (const c of registry.all()) upstreams[c.name] = c.state;
        const degraded = Object.values(upstreams).some((s) => s !== "ready");
        return json({ status: degraded ? "degraded" : "ok", upstreams, sessions: endpoint.sessionCount() });
      }
      const route = routes.get(`${request.method} ${path}`);
      if (route) return await route.handler(request, { url, info });
      throw new GatewayError("ERR_NOT_FOUND", "not found");
    } catch (err) {
      return toErrorResponse(err, isMcp, unknown);
    }
  }

  return {
    fetch,
    config,
    ready: () => registry.ready(),
    close() {
      closing ??= (async () => {
        await endpoint.close();
        await registry.close();
        await Promise.all(config.auth.map((s) => s.close?.()));
      })();
      return closing;
    },
  };
}
