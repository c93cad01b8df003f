import { credentialOf } from "../auth/principal.ts";
import type { Identity, Logger } from "../types.ts";
import type { AggregateServer } from "./aggregate-server.ts";
import type { UpstreamConnection } from "./upstream-connection.ts";

/**
 * Resource subscriptions of stateless (2026-07-28) callers. A caller names the resources it wants to
 * hear about in `subscriptions/listen`; the gateway keeps only those it may read on a server that takes
 * subscriptions, subscribes to each on that server's shared connection (once, however many listeners
 * share a URI), and unsubscribes when the last listen stream naming it ends. Updates then reach the
 * listeners whose filter names the URI, and no other.
 */
export interface ListenBridge {
  /**
   * Serves one `subscriptions/listen` request: narrows its resource URIs, subscribes upstream, and
   * hands the narrowed request to `serve`; the upstream subscriptions last as long as its stream.
   */
  serve(body: ListenRequest, identity: Identity, aggregate: AggregateServer, signal: AbortSignal, serve: (body: ListenRequest) => Promise<Response>): Promise<Response>;
  /**
   * A caller's `notifications/cancelled` naming one of its listen requests ends that stream (a runtime
   * may not tell the gateway that the caller dropped the connection).
   */
  cancel(identity: Identity, requestId: unknown): void;
}

/** A `subscriptions/listen` JSON-RPC request. */
export interface ListenRequest {
  jsonrpc: "2.0";
  id: string | number;
  method: "subscriptions/listen";
  params: { notifications: { resourceSubscriptions?: unknown[]; [k: string]: unknown }; [k: string]: unknown };
}

/** Whether a parsed body is one `subscriptions/listen` request that names resources. */
export function isResourceListen(body: unknown): body is ListenRequest {
  const b = body as Partial<ListenRequest> | null;
  return typeof b === "object" && b !== null && !Array.isArray(b) && b.method === "subscriptions/listen" &&
    Array.isArray(b.params?.notifications?.resourceSubscriptions);
}

/**
 * Creates the bridge.
 *
 * @example
 * const listen = createListenBridge(log);
 * if (isResourceListen(body)) return listen.serve(body, identity, aggregate, request.signal, (b) => modern.fetch(request, { parsedBody: b }));
 */
export function createListenBridge(log: Logger): ListenBridge {
  /** Listeners per upstream subscription, by server and URI. */
  const counts = new Map<string, number>();
  const keyOf = (conn: UpstreamConnection, uri: string) => `${conn.name}\u0000${uri}`;
  /** Open listen streams, by credential and request id: how each is ended. */
  const streams = new Map<string, () => void>();
  const streamKey = (identity: Identity, id: unknown) => `${credentialOf(identity)}\u0000${JSON.stringify(id)}`;

  async function acquire(conn: UpstreamConnection, uri: string, identity: Identity): Promise<boolean> {
    const key = keyOf(conn, uri);
    const n = counts.get(key) ?? 0;
    counts.set(key, n + 1);
    if (n > 0) return true;
    try {
      await conn.request("resources/subscribe", { uri }, { identity });
      return true;
    } catch (err) {
      log.debug("upstream subscription failed", { server: conn.name, error: (err as Error).message });
      release(conn, uri, identity);
      return false;
    }
  }

  function release(conn: UpstreamConnection, uri: string, identity: Identity): void {
    const key = keyOf(conn, uri);
    const n = (counts.get(key) ?? 1) - 1;
    if (n > 0) {
      counts.set(key, n);
      return;
    }
    counts.delete(key);
    conn.request("resources/unsubscribe", { uri }, { identity }).catch(() => undefined);
  }

  return {
    async serve(body, identity, aggregate, signal, serve) {
      const wanted = [...new Set(body.params.notifications.resourceSubscriptions!.filter((u): u is string => typeof u === "string"))];
      const held: Array<[UpstreamConnection, string]> = [];
      for (const uri of wanted) {
        const conn = await aggregate.subscribable(identity, uri);
        if (conn && await acquire(conn, uri, identity)) held.push([conn, uri]);
      }
      let released = false;
      const done = () => {
        if (released) return;
        released = true;
        signal.removeEventListener("abort", done);
        for (const [conn, uri] of held) release(conn, uri, identity);
      };
      // The caller went away (a runtime may not cancel the body it was sending).
      signal.addEventListener("abort", done, { once: true });
      // Only what is held is listened for: a URI the caller may not read is never named to the listen router.
      const narrowed: ListenRequest = { ...body, params: { ...body.params, notifications: { ...body.params.notifications, resourceSubscriptions: held.map(([, uri]) => uri) } } };
      let response: Response;
      try {
        response = await serve(narrowed);
      } catch (err) {
        done();
        throw err;
      }
      if (!response.body) {
        done();
        return response;
      }
      // The upstream subscriptions end with the stream, however it ends.
      const reader = response.body.getReader();
      const key = streamKey(identity, body.id);
      const stream = new ReadableStream<Uint8Array>({
        start(controller) {
          streams.set(key, () => {
            done();
            streams.delete(key);
            reader.cancel().catch(() => undefined);
            try {
              controller.close();
            } catch {
              // already closed
            }
          });
        },
        async pull(controller) {
          try {
            const { done: finished, value } = await reader.read();
            if (finished) {
              done();
              streams.delete(key);
              controller.close();
            } else controller.enqueue(value);
          } catch (err) {
            done();
            streams.delete(key);
            controller.error(err);
          }
        },
        cancel(reason) {
          done();
          streams.delete(key);
          return reader.cancel(reason);
        },
      });
      return new Response(stream, { status: response.status, statusText: response.statusText, headers: response.headers });
    },
    cancel(identity, requestId) {
      streams.get(streamKey(identity, requestId))?.();
    },
  };
}
