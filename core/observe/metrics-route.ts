import { scopedBearerStrategy } from "../auth/admin-token.ts";
import type { Authenticate } from "../auth/authenticate.ts";
import { GatewayError } from "../errors.ts";
import type { AuthStrategy, Route, TokenService } from "../types.ts";
import { type Cidr, inRanges } from "./cidr.ts";
import type { GatewayMetrics } from "./metrics.ts";
import { PROMETHEUS_CONTENT_TYPE } from "./prometheus-text.ts";

/** The strategy name of gateway tokens taken on `/metrics` for their `metrics` (or `admin`) scope. */
export const METRICS_BEARER_STRATEGY = "metrics-bearer";

/** The scopes that may read `/metrics`. */
const SCRAPE_SCOPES = ["metrics", "admin"];

/**
 * Gateway bearer tokens (`pt_...`) carrying the `metrics` or `admin` scope, on `/metrics` only, whatever
 * strategies authenticate `/mcp`: a Prometheus server scrapes with a token made for nothing else.
 *
 * @example
 * const strategies = [...config.auth, metricsBearerStrategy(tokens)];
 */
export function metricsBearerStrategy(tokens: TokenService): AuthStrategy {
  return scopedBearerStrategy(tokens, METRICS_BEARER_STRATEGY, SCRAPE_SCOPES, { code: "ERR_FORBIDDEN", reason: "/metrics needs a token with the metrics or admin scope" });
}

/** What the `/metrics` route needs. */
export interface MetricsRouteOptions {
  metrics: GatewayMetrics;
  /** Addresses that may scrape without a credential (`metrics.allowFrom`). */
  allowFrom: readonly Cidr[];
  /** Authenticates a scrape from anywhere else (static admin token, configured strategies, metrics tokens). */
  authenticate: Authenticate;
}

/**
 * `GET /metrics` in the Prometheus text format: from an allow-listed address as it is, from anywhere
 * else with a credential carrying the `metrics` or `admin` scope (401 without one, 403 with another).
 *
 * @example
 * const routes = metricsRoutes({ metrics, allowFrom: [parseCidr("10.0.0.0/8")!], authenticate });
 */
export function metricsRoutes(o: MetricsRouteOptions): Route[] {
  return [{
    method: "GET",
    path: "/metrics",
    auth: "none",
    async handler(request, ctx) {
      // The connection's own address: a forwarded header never opens the allow-list.
      if (!inRanges(ctx.info.peerAddress ?? ctx.info.remoteAddress, o.allowFrom)) {
        const identity = await o.authenticate(request, ctx, "other");
        if (!identity.scopes.some((s) => SCRAPE_SCOPES.includes(s))) throw new GatewayError("ERR_FORBIDDEN", "/metrics needs the metrics or admin scope");
      }
      return new Response(await o.metrics.render(), { headers: { "content-type": PROMETHEUS_CONTENT_TYPE, "cache-control": "no-store" } });
    },
  }];
}
