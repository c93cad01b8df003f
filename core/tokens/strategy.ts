import { GatewayError } from "../errors.ts";
import type { AuthOutcome, AuthStrategy, PluginContext } from "../types.ts";
import { identityOf } from "./service.ts";
import type { TokenService } from "../types.ts";
import type { TokenType } from "./types.ts";

/**
 * The shared body of `bearer()` and `apiKey()`: read a credential from the request, verify it with the
 * gateway's token service, and turn the record into an identity.
 *
 * @example
 * tokenStrategy("auth:bearer", "token", (req) => req.headers.get("authorization")?.slice(7) ?? null, 'Bearer realm="portcullis"');
 */
export function tokenStrategy(name: string, type: TokenType, read: (request: Request) => string | null, challenge: string): AuthStrategy {
  let tokens: TokenService | undefined;
  return {
    name,
    challenge,
    setup(ctx: PluginContext) {
      tokens = ctx.tokens;
    },
    async authenticate(request): Promise<AuthOutcome> {
      const secret = read(request);
      if (secret === null) return undefined;
      if (!tokens) throw new GatewayError("ERR_INTERNAL", `${name} used before the gateway set it up`);
      const result = await tokens.verify(secret, type);
      if (!result.ok) return { error: { code: result.code, reason: result.reason, tokenId: result.tokenId } };
      return { identity: identityOf(result.record, name) };
    },
  };
}
