import type { Logger, Upstream } from "../types.ts";
import { type ListKind, UpstreamConnection } from "./upstream-connection.ts";

/** Listener for list changes of any upstream. */
export type ChangeListener = (server: string, kind: ListKind) => void;

/** The set of upstream connections, keyed by server name, with list-change fan-out. */
export interface UpstreamRegistry {
  get(name: string): UpstreamConnection | undefined;
  names(): string[];
  all(): UpstreamConnection[];
  /** Subscribes to list changes; returns the unsubscribe function. */
  onChange(listener: ChangeListener): () => void;
  /** Resolves when every upstream has finished its first connection attempt. */
  ready(): Promise<void>;
  close(): Promise<void>;
}

/**
 * Creates a connection for every configured upstream and starts connecting them all in the background.
 *
 * @example
 * const registry = createRegistry({ everything: stdio({ command: "npx", args: ["mcp-server-everything"] }) }, log);
 */
export function createRegistry(servers: Record<string, Upstream>, log: Logger): UpstreamRegistry {
  const listeners = new Set<ChangeListener>();
  const emit: ChangeListener = (server, kind) => {
    for (const l of listeners) {
      try {
        l(server, kind);
      } catch (err) {
        log.warn("list-change listener failed", { error: err instanceof Error ? err.message : String(err) });
      }
    }
  };
  const connections = new Map<string, UpstreamConnection>();
  for (const [name, upstream] of Object.entries(servers)) {
    connections.set(name, new UpstreamConnection(name, upstream, log, emit));
  }
  const started = Promise.all([...connections.values()].map((c) => c.start())).then(() => undefined);
  return {
    get: (name) => connections.get(name),
    names: () => [...connections.keys()],
    all: () => [...connections.values()],
    onChange(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    ready: () => started,
    async close() {
      listeners.clear();
      await Promise.all([...connections.values()].map((c) => c.close()));
    },
  };
}
