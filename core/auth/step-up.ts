import type { UpstreamRegistry } from "../mcp/registry.ts";
import { splitName } from "../mcp/namespacing.ts";
import type { Identity } from "../types.ts";
import type { AccessPolicy } from "./policy.ts";

/** What the step-up check needs to know about the gateway. */
export interface StepUpOptions {
  registry: UpstreamRegistry;
  policy: AccessPolicy;
  separator: string;
}

/**
 * Whether `body` is a `tools/call` the caller could make with `mcp:write` but not with the scopes their
 * token carries: a write tool their permissions reach, called with a read-only token. An OAuth client can
 * then ask its authorization server for more scope (403 `insufficient_scope`), which is better than an
 * "Unknown tool" it cannot act on. Only asked for identities whose strategy can step up.
 *
 * @example
 * if (await needsWriteScope(body, identity, undefined, { registry, policy, separator: "__" })) throw insufficientScope();
 */
export async function needsWriteScope(body: unknown, identity: Identity, only: string | undefined, o: StepUpOptions): Promise<boolean> {
  if (identity.scopes.includes("mcp:write") || !identity.scopes.includes("mcp:read")) return false;
  if (typeof body !== "object" || body === null || Array.isArray(body)) return false;
  const { method, params } = body as { method?: unknown; params?: { name?: unknown } };
  if (method !== "tools/call" || typeof params?.name !== "string") return false;
  const parts = only !== undefined ? { server: only, name: params.name } : splitName(params.name, o.separator, o.registry.names());
  const conn = parts && o.registry.get(parts.server);
  if (!parts || !conn) return false;
  const tool = (await conn.listing()).tools.find((t) => t.name === parts.name);
  if (!tool || tool.annotations?.readOnlyHint === true) return false;
  return o.policy.tool({ ...identity, scopes: [...identity.scopes, "mcp:write"] }, parts.server, tool, true);
}
