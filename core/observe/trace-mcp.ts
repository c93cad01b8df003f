import type { Context } from "@opentelemetry/api";
import type { Server } from "@modelcontextprotocol/server";
import type { Tracing } from "./tracing.ts";

/** The context of the server span of each MCP request in progress, by the handler context the SDK gave it. */
export type RequestSpans = WeakMap<object, Context>;

/**
 * Makes every request handler registered on `server` from now on (except `tools/call`, which spans itself
 * once it knows its server and tool) run inside a server span named after its method, parented by
 * `parentOf(ctx)` (the caller's `traceparent`). The span's context is kept in `spans` for the upstream
 * call made while it runs. Call it right after creating the server, and only with tracing on.
 *
 * @example
 * if (tracing.tracer) traceHandlers(server, tracing, (ctx) => parentOf(ctx), spans);
 */
export function traceHandlers(server: Server, tracing: Tracing, parentOf: (ctx: unknown) => Context | undefined, spans: RequestSpans): void {
  const register = server.setRequestHandler.bind(server) as (method: string, handler: (request: unknown, ctx: object) => Promise<unknown>) => void;
  (server as { setRequestHandler: unknown }).setRequestHandler = (method: string, handler: (request: unknown, ctx: object) => Promise<unknown>) => {
    if (method === "tools/call") return register(method, handler);
    return register(method, async (request, ctx) => {
      const parent = parentOf(ctx);
      if (!tracing.tracer || parent === undefined) return await handler(request, ctx);
      const span = tracing.start(method, "server", parent, { "mcp.method": method });
      spans.set(ctx, tracing.within(parent, span));
      try {
        const result = await handler(request, ctx);
        tracing.end(span);
        return result;
      } catch (err) {
        tracing.end(span, err instanceof Error ? err.message : String(err));
        throw err;
      }
    });
  };
}
