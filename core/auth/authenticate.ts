import { readBearer } from "../http/bearer.ts";
import { redactSecrets } from "../tokens/secret.ts";
import { tokenStrategyType } from "../tokens/strategy.ts";
import type { Audit } from "../types.ts";
import type { AuthContext, AuthStrategy, Identity } from "../types.ts";
import { runAuth } from "./pipeline.ts";
import { credentialHeaders, credentialKey } from "../limits/credential-key.ts";
import type { Lockout } from "../limits/lockout.ts";

/** Which strategies a route takes: `mcp` (the configured ones) or `other` (the static admin token too). */
export type StrategySet = "mcp" | "other";

/** Authenticates one request with one set of strategies, audited; throws the 401/403 GatewayError. */
export type Authenticate = (request: Request, ctx: Pick<AuthContext, "url" | "info">, set: StrategySet) => Promise<Identity>;

// Requests whose accepted credential travelled in a header that a browser never attaches by itself.
const headerCredentials = new WeakSet<Request>();

/**
 * Whether this request was authenticated by a credential sent in a header a web page cannot add to a
 * cross-site request without asking first (`Authorization: Bearer`, an API-key header), as opposed to
 * one a browser attaches on its own (a cookie, a client certificate). Only such requests may skip the
 * JSON media-type check of the `/v1` APIs, which is what stops a cross-site form post.
 *
 * @example
 * if (!isJson && !credentialInHeader(request)) throw new GatewayError("ERR_UNSUPPORTED_MEDIA_TYPE", "...");
 */
export function credentialInHeader(request: Request): boolean {
  return headerCredentials.has(request);
}

/**
 * Builds the gateway's one authentication step: runs the strategies in order and records every attempt,
 * success or failure, in the audit trail (never the credential, nor a secret named in the path).
 *
 * @example
 * const authenticate = authenticator({ mcp: config.auth, other: [adminTokenStrategy(token), ...config.auth], audit });
 * const identity = await authenticate(request, { url, info }, "mcp");
 */
export function authenticator(o: { mcp: readonly AuthStrategy[]; other: readonly AuthStrategy[]; audit: Audit; lockout?: Lockout }): Authenticate {
  // Where a presented credential may be, for naming it to the lockout (a hash prefix, never the secret).
  const headers = credentialHeaders([...o.mcp, ...o.other]);
  return async (request, ctx, set) => {
    const { url, info } = ctx;
    // An address or credential locked out after too many failures is refused before any strategy runs.
    const locked = o.lockout?.refusal(info.remoteAddress, () => credentialKey(request, headers));
    if (locked) {
      o.audit.emit({ type: "auth", outcome: "failure", code: locked.code, reason: locked.message, path: redactSecrets(url.pathname), remoteAddress: info.remoteAddress });
      throw locked;
    }
    const result = await runAuth(set === "mcp" ? o.mcp : o.other, request, { url, info });
    // `/v1/auth/tokens/pt_...` names a token by its secret: the path is audited without it.
    const path = redactSecrets(url.pathname);
    if (result.ok) {
      const id = result.identity;
      // Only the API routes (`other`) read bodies this way. Gateway tokens and API keys come from headers;
      // every other strategy is judged by what the request carries.
      if (set === "other" && (tokenStrategyType(result.by) !== undefined || readBearer(request) !== undefined)) headerCredentials.add(request);
      o.audit.emit({ type: "auth", outcome: "success", strategy: id.strategy, subject: id.subject, tokenId: id.tokenId, ...(id.credentialId !== undefined && id.credentialId !== id.tokenId ? { credentialId: id.credentialId } : {}), path, remoteAddress: info.remoteAddress });
      return id;
    }
    o.audit.emit({
      type: "auth",
      outcome: "failure",
      strategy: result.strategy,
      tokenId: result.tokenId,
      code: result.error.code,
      reason: result.error.message,
      path,
      remoteAddress: info.remoteAddress,
    });
    // A request with no credential at all is not an attempt (clients ask first, then log in).
    if (o.lockout && result.error.code !== "ERR_AUTH_REQUIRED") {
      const refused = await o.lockout.failed({ address: info.remoteAddress, credential: credentialKey(request, headers), tokenId: result.tokenId, path });
      if (refused) throw refused;
    }
    throw result.error;
  };
}
