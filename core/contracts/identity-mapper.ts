// The contract of an identity mapper plugin. Type-only: imports no implementation.
import type { Route } from "./auth.ts";
import type { Identity } from "./identity.ts";
import type { PluginContext } from "./plugin-context.ts";

/** What an identity mapper adds to one upstream request. */
export interface ForwardedIdentity {
  /** HTTP headers for Streamable HTTP upstreams. */
  headers?: Record<string, string>;
  /** Entries merged into the request's `params._meta` (how stdio upstreams learn the caller). */
  meta?: Record<string, unknown>;
}

/**
 * Turns the caller's identity into what an upstream receives. Runs on every forwarded request, so keep
 * it cheap (cache per identity where possible).
 */
export interface IdentityMapper {
  /** A label for logs and errors (`identity:headers`); the gateway recognises a mapper by its `map` hook. */
  name: string;
  map(identity: Identity, server: string, via: "headers" | "meta"): ForwardedIdentity | Promise<ForwardedIdentity>;
  /** Header names the mapper sends; the same headers arriving from clients are stripped before anything reads them. */
  headerNames?(): string[];
  /**
   * `_meta` keys the mapper writes outside the gateway's own `io.portcullis/` namespace (which is always
   * reserved); the same keys arriving from clients are removed before a request is forwarded.
   */
  metaKeys?(): string[];
  setup?(ctx: PluginContext): void | Promise<void>;
  routes?: Route[];
  close?(): void | Promise<void>;
}
