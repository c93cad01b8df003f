import { type Attributes, type Context, ROOT_CONTEXT, type Span, SpanKind, SpanStatusCode, trace, type Tracer, type TracerProvider } from "@opentelemetry/api";
import type { Logger, ResolvedConfig } from "../types.ts";
import { VERSION } from "../version.ts";

/** The W3C trace context of an outgoing call: `traceparent`, and `tracestate` when there is one. */
export interface TraceCarrier {
  traceparent?: string;
  tracestate?: string;
}

/**
 * The gateway's tracing. Off (no `tracing` in the config), `tracer` stays undefined and no SDK module is
 * ever loaded: every caller checks `tracer` first, so an untraced request pays one property read.
 */
export interface Tracing {
  /** The tracer once tracing is configured and its SDK loaded; undefined otherwise. */
  readonly tracer: Tracer | undefined;
  /** The parent a request's `traceparent` (and `tracestate`) header names; the root context without one. */
  parentOf(headers: Headers): Context;
  /** Starts a span under `parent`. */
  start(name: string, kind: "server" | "client", parent: Context, attributes: Attributes): Span;
  /** The context of `span` under `parent`, to start its children in. */
  within(parent: Context, span: Span): Context;
  /** The W3C headers (and `_meta` entries) that carry `ctx` to an upstream. */
  carrier(ctx: Context): TraceCarrier;
  /** Ends a span: ok, or an error with a short description (never arguments or results). */
  end(span: Span, error?: string): void;
  /** Resolves once the SDK is loaded (at once when tracing is off); a failure to load is logged, tracing stays off. */
  ready(): Promise<void>;
  /** Exports what is buffered and stops. */
  close(): Promise<void>;
}

/** Loads of a tracing SDK so far in this process (tests check that an untraced gateway loads none). */
let sdkLoads = 0;

/**
 * How many times a gateway has loaded the tracing SDK in this process.
 *
 * @example
 * const before = tracingSdkLoads(); createGateway(configWithoutTracing); // tracingSdkLoads() === before
 */
export function tracingSdkLoads(): number {
  return sdkLoads;
}

const getter = {
  get: (carrier: Headers, key: string) => carrier.get(key) ?? undefined,
  keys: (carrier: Headers) => [...carrier.keys()],
};
const setter = { set: (carrier: TraceCarrier, key: string, value: string) => void ((carrier as Record<string, string>)[key] = value) };

const OFF: Tracing = {
  tracer: undefined,
  parentOf: () => ROOT_CONTEXT,
  start: () => trace.wrapSpanContext({ traceId: "", spanId: "", traceFlags: 0 }),
  within: (parent) => parent,
  carrier: () => ({}),
  end: () => undefined,
  ready: () => Promise.resolve(),
  close: () => Promise.resolve(),
};

/**
 * The gateway's tracing from `config.tracing`: nothing at all when it is absent; otherwise the official
 * OpenTelemetry SDK, loaded on demand, exporting over OTLP/HTTP (JSON) with a batch processor, or the
 * TracerProvider the config hands over. Incoming `traceparent` headers are honoured as parents.
 *
 * @example
 * const tracing = createTracing(config.tracing, log);
 * await tracing.ready();
 * if (tracing.tracer) { const span = tracing.start("tools/call echo", "server", tracing.parentOf(request.headers), { "mcp.method": "tools/call" }); tracing.end(span); }
 */
export function createTracing(settings: ResolvedConfig["tracing"], log: Logger): Tracing {
  if (!settings) return OFF;
  let tracer: Tracer | undefined;
  let shutdown: (() => Promise<void>) | undefined;
  let propagator: { inject(ctx: Context, carrier: unknown, set: typeof setter): void; extract(ctx: Context, carrier: unknown, get: typeof getter): Context } | undefined;
  const loading = (async () => {
    sdkLoads++;
    const core = await import("@opentelemetry/core");
    propagator = new core.W3CTraceContextPropagator() as unknown as typeof propagator;
    let provider: TracerProvider;
    if (settings.provider) {
      provider = settings.provider;
    } else {
      const [sdk, exporterModule, resources] = await Promise.all([
        import("@opentelemetry/sdk-trace"),
        import("@opentelemetry/exporter-trace-otlp-http"),
        import("@opentelemetry/resources"),
      ]);
      const exporter = new exporterModule.OTLPTraceExporter({ url: settings.otlp!.url, headers: settings.otlp!.headers });
      const own = new sdk.TracerProvider({
        resource: resources.resourceFromAttributes({ "service.name": settings.serviceName, "service.version": VERSION }),
        spanProcessors: [new sdk.BatchSpanProcessor({ exporter, scheduledDelayMillis: 1000 })],
      });
      shutdown = () => own.shutdown();
      provider = own;
    }
    tracer = provider.getTracer("portcullis", VERSION);
  })().catch((err) => log.error("tracing is configured but could not start; nothing is traced", { error: err instanceof Error ? err.message : String(err) }));

  return {
    get tracer() {
      return tracer;
    },
    parentOf(headers) {
      if (!propagator || !headers.has("traceparent")) return ROOT_CONTEXT;
      return propagator.extract(ROOT_CONTEXT, headers, getter);
    },
    start(name, kind, parent, attributes) {
      return tracer!.startSpan(name, { kind: kind === "server" ? SpanKind.SERVER : SpanKind.CLIENT, attributes }, parent);
    },
    within: (parent, span) => trace.setSpan(parent, span),
    carrier(ctx) {
      const out: TraceCarrier = {};
      propagator?.inject(ctx, out, setter);
      return out;
    },
    end(span, error) {
      if (error !== undefined) span.setStatus({ code: SpanStatusCode.ERROR, message: error });
      else span.setStatus({ code: SpanStatusCode.OK });
      span.end();
    },
    ready: () => loading,
    async close() {
      await loading;
      tracer = undefined;
      await shutdown?.().catch((err) => log.warn("tracing export at shutdown failed", { error: err instanceof Error ? err.message : String(err) }));
    },
  };
}
