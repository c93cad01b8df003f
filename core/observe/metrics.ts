import type { AuditBus } from "../audit/bus.ts";
import type { UpstreamRegistry } from "../mcp/registry.ts";
import { stateOf } from "../tokens/service.ts";
import type { AuditEvent, TokenStore } from "../types.ts";
import { VERSION } from "../version.ts";
import { counter, type Family, gauge, histogram, type HistogramSeries, observe, type ValueSeries } from "./prometheus-text.ts";

/** What the metrics read from the rest of the gateway. */
export interface MetricsSources {
  /** Every audit event (auth attempts, tool calls, token operations) is counted from the bus. */
  audit: AuditBus;
  registry: UpstreamRegistry;
  /** Open MCP sessions by transport (`streamable-http`, `sse`). */
  sessions(): Record<string, number>;
  /** Where tokens live: counted by state and type at scrape time, at most every `tokenCountMs`. */
  store: TokenStore;
  /** How long a token count is reused, ms; default 5000. */
  tokenCountMs?: number;
}

/** A route as the metrics know it: its path pattern and method (never the URL it was asked for). */
export interface MeasuredRoute {
  method: string;
  path: string;
}

/** The gateway's metrics: what the hot path records, and the text a scrape gets. */
export interface GatewayMetrics {
  /** One HTTP request answered: its route (undefined when none matched), method, status and start (`performance.now()`). */
  request(route: MeasuredRoute | undefined, method: string, status: number, startedMs: number): void;
  /** Every family in the Prometheus text format. */
  render(): Promise<string>;
  close(): void;
}

const METHODS = new Set(["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]);
// Failure codes are GatewayError codes; anything else a plugin reports is one label value, not many.
const CODE = /^ERR_[A-Z0-9_]{1,48}$/;
const STRATEGY = /^[A-Za-z0-9:._-]{1,64}$/;
const UPSTREAM_STATES = ["idle", "connecting", "ready", "down", "closed"] as const;

interface RouteCells {
  route: string;
  method: string;
  statuses: Map<number, ValueSeries>;
  latency: HistogramSeries;
}

/**
 * Builds the gateway's metrics. Counters move as events happen (requests through `request`, the rest
 * through the audit bus); gauges (upstreams, sessions, tokens) are read when scraped. Label values are
 * bounded: route patterns, configured servers, tools their upstream listed (else `other`), strategy
 * names and error codes; never a user, a token id or a raw URL.
 *
 * @example
 * const metrics = createMetrics({ audit, registry, sessions: () => ({ "streamable-http": endpoint.sessionCount() }), store });
 * const text = await metrics.render();
 */
export function createMetrics(s: MetricsSources): GatewayMetrics {
  const requests = counter({ name: "portcullis_http_requests_total", help: "HTTP requests answered, by route pattern, method and status.", labels: ["route", "method", "status"] });
  const requestSeconds = histogram({ name: "portcullis_http_request_duration_seconds", help: "Time to answer an HTTP request (until the response starts), by route pattern and method.", labels: ["route", "method"] });
  const auth = counter({ name: "portcullis_auth_attempts_total", help: "Authentication attempts, by strategy, outcome and failure code.", labels: ["strategy", "outcome", "code"] });
  const tools = counter({ name: "portcullis_tool_calls_total", help: "Tool calls, by server, tool and outcome (ok, tool_error, error, denied).", labels: ["server", "tool", "outcome"] });
  const toolSeconds = histogram({ name: "portcullis_tool_call_duration_seconds", help: "Duration of tool calls, by server and tool.", labels: ["server", "tool"] });
  const tokenOps = counter({ name: "portcullis_token_operations_total", help: "Token operations (create, revoke, rotate, bootstrap).", labels: ["action"] });
  const events = counter({ name: "portcullis_audit_events_total", help: "Audit events emitted, by type.", labels: ["type"] });
  const serverRequests = counter({ name: "portcullis_server_requests_total", help: "Requests upstream servers sent to callers (sampling, elicitation, roots), by server, kind and outcome.", labels: ["server", "kind", "outcome"] });
  const upState = gauge({ name: "portcullis_upstream_state", help: "Upstream connection state: 1 for the current state of each server.", labels: ["server", "state"] });
  const upUp = gauge({ name: "portcullis_upstream_up", help: "Whether the upstream's shared connection is ready (1) or not (0).", labels: ["server"] });
  const upRestarts = counter({ name: "portcullis_upstream_restarts_total", help: "Connection attempts after the first (reconnects after a crash, a failure or a secret change).", labels: ["server"] });
  const upUsers = gauge({ name: "portcullis_upstream_user_connections", help: "Open connections of one user (per-user credentials) or of one caller session, by server and kind.", labels: ["server", "kind"] });
  const sessions = gauge({ name: "portcullis_sessions_open", help: "Open MCP sessions, by transport.", labels: ["transport"] });
  const tokens = gauge({ name: "portcullis_tokens", help: "Tokens and API keys in the store, by state and type (counted at most every few seconds).", labels: ["state", "type"] });
  const sinkDrops = counter({ name: "portcullis_audit_sink_dropped_total", help: "Audit events a sink dropped (a full buffer), for sinks that count them.", labels: ["sink"] });
  const sinkFailures = counter({ name: "portcullis_audit_sink_failures_total", help: "Audit sink writes that threw or rejected.", labels: ["sink"] });
  const build = gauge({ name: "portcullis_build_info", help: "The running version.", labels: ["version"] });
  build.at(VERSION).value = 1;
  const started = gauge({ name: "portcullis_start_time_seconds", help: "When the gateway started, seconds since the epoch." });
  started.at().value = Math.floor(Date.now() / 1000);
  const families: Array<Family<ValueSeries> | Family<HistogramSeries>> = [
    build, started, requests, requestSeconds, auth, tools, toolSeconds, serverRequests, tokenOps, events,
    upState, upUp, upRestarts, upUsers, sessions, tokens, sinkDrops, sinkFailures,
  ];

  const servers = new Set(s.registry.names());
  // A tool is a label value only when its server listed it: a client naming tools cannot grow the series.
  const listed = new WeakMap<readonly { name: string }[], Set<string>>();
  const toolLabel = (server: string, tool: string): string => {
    const list = s.registry.get(server)?.tools;
    if (!list) return "other";
    let names = listed.get(list);
    if (!names) listed.set(list, names = new Set(list.map((t) => t.name)));
    return names.has(tool) ? tool : "other";
  };
  const onEvent = (e: AuditEvent): void => {
    events.at(e.type).value++;
    if (e.type === "auth") {
      const strategy = e.strategy === undefined ? "none" : STRATEGY.test(e.strategy) ? e.strategy : "other";
      const code = e.code === undefined ? "" : CODE.test(e.code) ? e.code : "other";
      auth.at(strategy, e.outcome, code).value++;
    } else if (e.type === "tool_call") {
      const server = servers.has(e.server) ? e.server : e.server === "" ? "none" : "other";
      const tool = server === e.server ? toolLabel(server, e.tool) : "other";
      tools.at(server, tool, e.outcome).value++;
      if (e.outcome !== "denied") observe(toolSeconds.at(server, tool), e.durationMs / 1000);
    } else if (e.type === "token") {
      tokenOps.at(e.action).value++;
      tokenCount = undefined;
    } else if (e.type === "server_request") {
      serverRequests.at(servers.has(e.server) ? e.server : "other", e.kind, e.outcome).value++;
    }
  };
  const off = s.audit.listen(onEvent);

  // Keyed by the route object itself, then the method: the hot path finds its series with three map
  // lookups and builds no string. A method no route declares is one label value, `other`.
  const perRoute = new Map<MeasuredRoute | null, Map<string, RouteCells>>();
  const cellsOf = (route: MeasuredRoute | undefined, method: string): RouteCells => {
    let byMethod = perRoute.get(route ?? null);
    if (!byMethod) perRoute.set(route ?? null, byMethod = new Map());
    let cells = byMethod.get(method);
    if (!cells) {
      const m = route && route.method !== "*" ? route.method : METHODS.has(method) ? method : "other";
      // Unknown methods share one entry, so a client inventing methods grows nothing here either.
      if (m === "other" && byMethod.has("\u0000other")) return byMethod.get("\u0000other")!;
      cells = { route: route?.path ?? "unmatched", method: m, statuses: new Map(), latency: requestSeconds.at(route?.path ?? "unmatched", m) };
      byMethod.set(m === "other" ? "\u0000other" : method, cells);
    }
    return cells;
  };

  const tokenCountMs = s.tokenCountMs ?? 5000;
  let tokenCount: { at: number; counts: Promise<Map<string, number>> } | undefined;
  const countTokens = (): Promise<Map<string, number>> => {
    const now = Date.now();
    if (tokenCount && now - tokenCount.at < tokenCountMs) return tokenCount.counts;
    const counts = s.store.list().then((records) => {
      const out = new Map<string, number>();
      for (const r of records) {
        const key = `${stateOf(r, now)}\u0000${r.type}`;
        out.set(key, (out.get(key) ?? 0) + 1);
      }
      return out;
    });
    tokenCount = { at: now, counts };
    counts.catch(() => (tokenCount = undefined));
    return counts;
  };

  return {
    request(route, method, status, startedMs) {
      const cells = cellsOf(route, method);
      let series = cells.statuses.get(status);
      if (!series) cells.statuses.set(status, series = requests.at(cells.route, cells.method, String(status)));
      series.value++;
      observe(cells.latency, (performance.now() - startedMs) / 1000);
    },
    async render() {
      upState.clear();
      upUp.clear();
      upRestarts.clear();
      upUsers.clear();
      for (const c of s.registry.all()) {
        for (const state of UPSTREAM_STATES) upState.at(c.name, state).value = c.state === state ? 1 : 0;
        upUp.at(c.name).value = c.state === "ready" ? 1 : 0;
        upRestarts.at(c.name).value = c.restarts;
      }
      for (const [server, n] of Object.entries(s.registry.openConnections())) {
        upUsers.at(server, "user").value = n.user;
        upUsers.at(server, "caller").value = n.caller;
      }
      sessions.clear();
      for (const [transport, n] of Object.entries(s.sessions())) sessions.at(transport).value = n;
      sinkDrops.clear();
      sinkFailures.clear();
      for (const sink of s.audit.sinkStats()) {
        sinkFailures.at(sink.name).value = sink.failures;
        if (sink.dropped !== undefined) sinkDrops.at(sink.name).value = sink.dropped;
      }
      tokens.clear();
      try {
        for (const [key, n] of await countTokens()) {
          const [state, type] = key.split("\u0000") as [string, string];
          tokens.at(state, type).value = n;
        }
      } catch {
        // A store that cannot be read leaves the token gauge out of this scrape; the rest is still worth having.
      }
      return families.map((f) => f.render()).join("");
    },
    close: off,
  };
}
