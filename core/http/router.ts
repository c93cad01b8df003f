import { GatewayError } from "../errors.ts";
import type { Route } from "../types.ts";

/** A route with the name of whoever declared it (`core` or a plugin), so a collision can name both. */
export interface OwnedRoute extends Route {
  owner: string;
}

/** The route table of one gateway: every route, core's and plugins', declared as data. */
export interface Router {
  /** The route for a request: an exact `METHOD path`, else the longest `*` route whose prefix it has. */
  match(method: string, path: string): OwnedRoute | undefined;
  /** Whether some route serves `METHOD path` exactly (for documents that point at optional routes). */
  has(method: string, path: string): boolean;
  /** The methods some route serves `path` with (for 405 and `Allow`), and how errors there are shaped. */
  allowed(path: string): { methods: string[]; errors: Route["errors"] };
}

const ANY = "*";

/**
 * Builds the route table. A path ending in `*` serves everything below its prefix; `method: "*"` serves
 * every method (the handler answers 405 itself). Two owners declaring the same method and path is a
 * config error naming both: no plugin silently replaces another's route.
 *
 * @example
 * const router = createRouter([{ owner: "core", method: "GET", path: "/healthz", auth: "none", handler }]);
 * router.match("GET", "/healthz");
 */
export function createRouter(routes: readonly OwnedRoute[]): Router {
  const exact = new Map<string, OwnedRoute>();
  const prefixes: OwnedRoute[] = [];
  for (const route of routes) {
    const key = `${route.method} ${route.path}`;
    const clash = exact.get(key) ?? prefixes.find((p) => `${p.method} ${p.path}` === key);
    if (clash) {
      throw new GatewayError(
        "ERR_CONFIG",
        `invalid gateway config:\n  ${route.owner}: route ${key} is already served by ${clash.owner}; configure only one of them`,
      );
    }
    if (route.path.endsWith("*")) prefixes.push(route);
    else exact.set(key, route);
  }
  // Longest prefix first, so the most specific route wins.
  prefixes.sort((a, b) => b.path.length - a.path.length);
  const lookup = (method: string, path: string): OwnedRoute | undefined => {
    const hit = exact.get(`${method} ${path}`);
    if (hit) return hit;
    for (const r of prefixes) {
      if (r.method !== method) continue;
      const prefix = r.path.slice(0, -1);
      if (path.startsWith(prefix)) return r;
    }
    return undefined;
  };
  const methods = [...new Set(routes.map((r) => r.method))].filter((m) => m !== ANY);
  return {
    match: (method, path) => lookup(method, path) ?? lookup(ANY, path),
    has: (method, path) => exact.has(`${method} ${path}`),
    allowed(path) {
      const found = methods.map((m) => lookup(m, path)).filter((r): r is OwnedRoute => r !== undefined);
      return { methods: found.map((r) => r.method), errors: found[0]?.errors };
    },
  };
}
