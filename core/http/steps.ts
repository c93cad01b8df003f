import type { Authenticate } from "../auth/authenticate.ts";
import { GatewayError, isGatewayError } from "../errors.ts";
import type { AuthContext, Identity, Logger, RequestInfo, RouteAuth } from "../types.ts";
import { redactSecrets } from "../tokens/secret.ts";
import { originAllowed } from "./origin.ts";
import { errorResponse, toErrorResponse } from "./responses.ts";
import type { OwnedRoute, Router } from "./router.ts";

/**
 * A step that removes headers only the gateway may set (identity headers towards upstreams): the same
 * names arriving from a client never reach a strategy, a hook or an upstream.
 *
 * @example
 * const strip = stripHeaders(["X-User-Email"]);
 * request = strip(request);
 */
export function stripHeaders(names: readonly string[]): (request: Request) => Request {
  const lower = [...new Set(names.map((h) => h.toLowerCase()))];
  if (lower.length === 0) return (request) => request;
  return (request) => {
    if (!lower.some((h) => request.headers.has(h))) return request;
    const headers = new Headers(request.headers);
    for (const name of lower) headers.delete(name);
    return new Request(request, { headers });
  };
}

/**
 * The Origin step: a browser page from a foreign origin gets 403 `ERR_FORBIDDEN_ORIGIN` before anything
 * else runs (DNS rebinding, cross-site requests).
 *
 * @example
 * checkOrigin(request, ["https://console.example.com"]);
 */
export function checkOrigin(request: Request, allowed: readonly string[]): void {
  if (!originAllowed(request.headers.get("origin"), allowed)) throw new GatewayError("ERR_FORBIDDEN_ORIGIN", "Origin not allowed");
}

/**
 * The authentication step of a route: `mcp` takes the configured strategies only; `user`, `admin` and a
 * custom check take the static admin token too.
 *
 * @example
 * const identity = await authorizeRoute("admin", () => authenticate(request, { url, info }, "other"), authenticate...);
 */
export async function authorizeRoute(auth: Exclude<RouteAuth, "none">, authenticate: (set: "mcp" | "other") => Promise<Identity>): Promise<Identity> {
  if (auth === "mcp") return await authenticate("mcp");
  const identity = await authenticate("other");
  if (auth === "admin" && !identity.scopes.includes("admin")) throw new GatewayError("ERR_FORBIDDEN", "this operation needs the admin scope");
  if (typeof auth === "function") auth(identity);
  return identity;
}

/** What `handleRequest` needs from the gateway. */
export interface RequestDeps {
  router: Router;
  authenticate: Authenticate;
  allowedOrigins: readonly string[];
  log: Logger;
  /** Resolves once the gateway has started; throws while it is shutting down. */
  ready(): Promise<void>;
  /**
   * Told of every answer: the route that served it (undefined when none matched), the method, the status
   * and when the request started (`performance.now()`). For /metrics; it must be quick.
   */
  observe?(route: OwnedRoute | undefined, method: string, status: number, startedMs: number): void;
  /**
   * Headers to add to a successful answer for the caller it authenticated (the rotation policy's
   * `Portcullis-Token-Rotate-By`); not called for requests nobody authenticated.
   */
  headersFor?(identity: Identity): Promise<Record<string, string> | undefined>;
}

/**
 * Adds headers to a response; one whose headers cannot change (a redirect made by `Response.redirect`)
 * is copied first.
 *
 * @example
 * response = withHeaders(response, { "Portcullis-Token-Rotate-By": "Tue, 08 Dec 2026 10:00:00 GMT" });
 */
export function withHeaders(response: Response, headers: Record<string, string>): Response {
  try {
    for (const [k, v] of Object.entries(headers)) response.headers.set(k, v);
    return response;
  } catch {
    const copy = new Response(response.body, response);
    for (const [k, v] of Object.entries(headers)) copy.headers.set(k, v);
    return copy;
  }
}

/**
 * One request, start to end: find the route (404, or 405 with `Allow`), check the Origin when the route
 * asks, wait for the gateway to have started, authenticate as the route says, run the handler, and shape
 * any error the way the route answers (JSON API, OAuth or JSON-RPC). Unknown errors are a 500 with
 * nothing internal in it, logged once.
 *
 * @example
 * return await handleRequest(request, info, { router, authenticate, allowedOrigins, log, ready });
 */
export async function handleRequest(request: Request, info: RequestInfo, d: RequestDeps): Promise<Response> {
  let url: URL;
  try {
    url = new URL(request.url);
  } catch {
    return errorResponse("ERR_BAD_REQUEST", "bad request URL", 400);
  }
  const route = d.router.match(request.method, url.pathname);
  const allowed = route ? undefined : d.router.allowed(url.pathname);
  const shape = route?.errors ?? allowed?.errors ?? "json";
  const started = d.observe ? performance.now() : 0;
  try {
    await d.ready();
    if (!route) {
      if (allowed!.methods.length === 0) throw new GatewayError("ERR_NOT_FOUND", "not found");
      const allow = [...new Set(allowed!.methods)].join(", ");
      throw new GatewayError("ERR_METHOD_NOT_ALLOWED", `method ${request.method} is not allowed on ${url.pathname}`, { headers: { allow } });
    }
    if (route.origin) checkOrigin(request, d.allowedOrigins);
    let caller: Identity | undefined;
    const authenticate = async (set: "mcp" | "other") => (caller = await d.authenticate(request, { url, info }, set));
    const ctx: AuthContext = { url, info, authenticate: () => authenticate("other") };
    if (route.auth !== undefined && route.auth !== "none") ctx.identity = await authorizeRoute(route.auth, authenticate);
    const response = await route.handler(request, ctx);
    const extra = caller !== undefined && d.headersFor ? await d.headersFor(caller) : undefined;
    return observed(d, route, request.method, started, extra ? withHeaders(response, extra) : response);
  } catch (err) {
    // A client that went away mid-upload is worth a debug line, not an error.
    if (isGatewayError(err) && err.code === "ERR_CLIENT_ABORTED") d.log.debug("request body aborted by the client", { path: redactSecrets(url.pathname) });
    return observed(d, route, request.method, started, toErrorResponse(err, shape, (e) => d.log.error("unhandled error", { error: e instanceof Error ? e.stack ?? e.message : String(e) })));
  }
}

function observed(d: RequestDeps, route: OwnedRoute | undefined, method: string, started: number, response: Response): Response {
  d.observe?.(route, method, response.status, started);
  return response;
}
