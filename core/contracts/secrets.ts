// The contract of a secret source plugin. Type-only: imports no implementation.
import type { PluginContext } from "./plugin-context.ts";

/**
 * Resolves `secret("NAME")` references in upstream settings. `envSecrets()` reads the environment;
 * `vault()` keeps values encrypted in the store.
 */
export interface SecretSource {
  /** A label for logs and errors (`secrets:env`); a source is recognised by its `get` hook. */
  name: string;
  /** The value, or undefined when this source does not have it (the next source is asked). */
  get(name: string): Promise<string | undefined>;
  /** Subscribes to value changes (so upstreams using the secret reconnect); returns the unsubscribe function. */
  onChange?(listener: (name: string) => void): () => void;
  setup?(ctx: PluginContext): void | Promise<void>;
  close?(): void | Promise<void>;
}
