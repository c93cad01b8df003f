import type { Audit } from "../types.ts";
import type { AuthContext, AuthStrategy, Identity } from "../types.ts";
import { runAuth } from "./pipeline.ts";

/** Which strategies a route takes: `mcp` (the configured ones) or `other` (the static admin token too). */
export type StrategySet = "mcp" | "other";

/** Authenticates one request with one set of strategies, audited; throws the 401/403 GatewayError. */
export type Authenticate = (request: Request, ctx: Pick<AuthContext, "url" | "info">, set: StrategySet) => Promise<Identity>;

/**
 * Builds the gateway's one authentication step: runs the strategies in order and records every attempt,
 * success or failure, in the audit trail (never the credential).
 *
 * @example
 * const authenticate = authenticator({ mcp: config.auth, other: [adminTokenStrategy(token), ...config.auth], audit });
 * const identity = await authenticate(request, { url, info }, "mcp");
 */
export function authenticator(o: { mcp: readonly AuthStrategy[]; other: readonly AuthStrategy[]; audit: Audit }): Authenticate {
  return async (request, ctx, set) => {
    const { url, info } = ctx;
    const result = await runAuth(set === "mcp" ? o.mcp : o.other, request, { url, info });
    if (result.ok) {
      const id = result.identity;
      o.audit.emit({ type: "auth", outcome: "success", strategy: id.strategy, subject: id.subject, tokenId: id.tokenId, path: url.pathname, remoteAddress: info.remoteAddress });
      return id;
    }
    o.audit.emit({
      type: "auth",
      outcome: "failure",
      strategy: result.strategy,
      tokenId: result.tokenId,
      code: result.error.code,
      reason: result.error.message,
      path: url.pathname,
      remoteAddress: info.remoteAddress,
    });
    throw result.error;
  };
}
