import type { AuthStrategy, TokenService } from "../types.ts";
import { CSRF_HEADER, readCookie, sessionCookieName } from "./cookie.ts";
import type { ConsoleSessions } from "./sessions.ts";

/** The strategy name of the console's session cookie on the `/v1` API. */
export const CONSOLE_STRATEGY = "console-session";

const SAFE_METHODS = new Set(["GET", "HEAD"]);

/**
 * The console session cookie as a way into the `/v1` API (the gateway puts it last among the `other`
 * strategies, never on `/mcp`): the identity is the one that signed in, as it was, never more. A
 * state-changing request must also carry the session's CSRF token in `X-CSRF-Token` (the `/v1` Origin
 * check and SameSite=Strict come first). A request with an `Authorization` header is left to the
 * strategies that read it. A session signed in with a gateway token stops working as soon as that
 * token is revoked or expires, in any process sharing the store.
 *
 * @example
 * const other = [...admin, ...config.auth, adminBearerStrategy(tokens), consoleSessionStrategy({ sessions, tokens, secure })];
 */
export function consoleSessionStrategy(o: { sessions: ConsoleSessions; tokens: Pick<TokenService, "get">; secure(url: URL): boolean }): AuthStrategy {
  return {
    name: CONSOLE_STRATEGY,
    async authenticate(request, ctx) {
      if (request.headers.has("authorization")) return undefined;
      const secret = readCookie(request, sessionCookieName(o.secure(ctx.url)));
      if (secret === undefined) return undefined;
      const session = await o.sessions.lookup(secret);
      if (!session) return { error: { code: "ERR_INVALID_CREDENTIAL", reason: "the console session ended or timed out: sign in again" } };
      if (!SAFE_METHODS.has(request.method) && !o.sessions.csrfMatches(session, request.headers.get(CSRF_HEADER))) {
        return { error: { code: "ERR_FORBIDDEN", reason: "missing or wrong CSRF token: the console sends it in X-CSRF-Token" } };
      }
      const credential = session.credential;
      if (credential?.startsWith("tok_")) {
        const token = await o.tokens.get(credential);
        if (!token || token.state !== "active") {
          await o.sessions.end(session.id, "credential ended", "gateway");
          return { error: { code: token?.state === "expired" ? "ERR_TOKEN_EXPIRED" : "ERR_TOKEN_REVOKED", reason: "the credential this console session signed in with no longer works", tokenId: credential } };
        }
      }
      return { identity: { ...session.identity, credentialId: `console:${session.id}` } };
    },
  };
}
