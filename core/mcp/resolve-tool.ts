import type { Tool } from "@modelcontextprotocol/client";
import type { AccessPolicy } from "../types.ts";
import type { Identity } from "../types.ts";
import { nameTooLong, splitName } from "./namespacing.ts";
import type { UpstreamRegistry } from "./registry.ts";
import type { UpstreamConnection } from "./upstream-connection.ts";

/**
 * Everything the gateway decides about one `tools/call`, worked out once: which server and tool the name
 * means, whether the caller may call it, and whether `mcp:write` would let them (OAuth step-up).
 */
export type ToolResolution =
  /** No server or tool by that name that this caller may know of. */
  | { decision: "unknown"; requested: string; server?: string; tool?: string }
  /** The server cannot be reached for this caller (down, or their own credential is missing). */
  | { decision: "unavailable"; requested: string; server: string; tool: string; error: Error }
  /** The tool exists but the caller may not call it; `stepUp` when the `mcp:write` scope would allow it. */
  | { decision: "denied"; requested: string; server: string; tool: string; stepUp: boolean }
  | { decision: "allowed"; requested: string; server: string; tool: string; conn: UpstreamConnection; info: Tool };

/** What resolution needs from the gateway. */
export interface ResolveOptions {
  registry: UpstreamRegistry;
  policy: AccessPolicy;
  separator: string;
  /** Set on `/mcp/<server>`: names are that server's own, unprefixed. */
  only?: string;
  /** The connection serving this caller on a server; default `registry.connectionFor`. */
  connect?: (name: string, identity: Identity) => Promise<UpstreamConnection | undefined>;
}

/**
 * Resolves a tool name as the caller wrote it (`notes__add_note`, or `add_note` on `/mcp/notes`).
 *
 * @example
 * const r = await resolveTool("notes__add_note", identity, { registry, policy, separator: "__" });
 * if (r.decision === "denied" && r.stepUp) throw insufficientScope();
 */
export async function resolveTool(requested: string, identity: Identity, o: ResolveOptions): Promise<ToolResolution> {
  const parts = o.only !== undefined ? { server: o.only, name: requested } : splitName(requested, o.separator, o.registry.names());
  if (!parts || nameTooLong(parts.name) || !o.registry.get(parts.server) || !o.policy.server(identity, parts.server)) {
    return { decision: "unknown", requested };
  }
  const { server, name: tool } = parts;
  let conn: UpstreamConnection | undefined;
  try {
    conn = await (o.connect ?? o.registry.connectionFor)(server, identity);
    if (!conn) return { decision: "unknown", requested, server, tool };
    // A server that is down has no listing: say it is down rather than "unknown tool".
    await conn.assertAvailable();
  } catch (err) {
    return { decision: "unavailable", requested, server, tool, error: err instanceof Error ? err : new Error(String(err)) };
  }
  const info = (await conn.listing()).tools.find((t) => t.name === tool);
  if (!info) return { decision: "unknown", requested, server, tool };
  if (o.policy.tool(identity, server, info, true)) return { decision: "allowed", requested, server, tool, conn, info };
  const stepUp = !identity.scopes.includes("mcp:write") && identity.scopes.includes("mcp:read") && info.annotations?.readOnlyHint !== true &&
    o.policy.tool({ ...identity, scopes: [...identity.scopes, "mcp:write"] }, server, info, true);
  return { decision: "denied", requested, server, tool, stepUp };
}
