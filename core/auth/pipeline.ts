import { GatewayError } from "../errors.ts";
import { credentialHint } from "../tokens/strategy.ts";
import type { AuthContext, AuthStrategy, Identity } from "../types.ts";

/** The outcome of running the pipeline, for auditing: who, by which strategy, or why not. */
export type PipelineResult =
  | { ok: true; identity: Identity; by: AuthStrategy }
  | { ok: false; error: GatewayError; strategy?: string; tokenId?: string };

/**
 * Runs the strategies in order; the first that recognises the credential decides. No strategy, or none
 * recognising anything, means 401 with every strategy's challenge: the gateway is never open by default.
 * That 401 says so when a gateway secret was sent where it does not go (an API key as a bearer token).
 *
 * @example
 * const result = await runAuth(strategies, request, { url, info });
 */
export async function runAuth(strategies: readonly AuthStrategy[], request: Request, ctx: AuthContext): Promise<PipelineResult> {
  const challenge = challengeOf(strategies, ctx);
  for (const strategy of strategies) {
    const outcome = await strategy.authenticate(request, ctx);
    if (outcome === undefined) continue;
    if ("identity" in outcome) return { ok: true, identity: { ...outcome.identity, strategy: outcome.identity.strategy || strategy.name }, by: strategy };
    const code = outcome.error.code;
    const error = new GatewayError(code, outcome.error.reason, code === "ERR_FORBIDDEN" ? undefined : { headers: { "www-authenticate": challenge } });
    return { ok: false, error, strategy: strategy.name, tokenId: outcome.error.tokenId };
  }
  let hint: string | undefined;
  for (const strategy of strategies) if ((hint = credentialHint(strategy, request))) break;
  const error = new GatewayError(
    "ERR_AUTH_REQUIRED",
    strategies.length === 0 ? "authentication required: no auth strategy is configured, so every request is refused" : hint ? `authentication required: ${hint}` : "authentication required",
    { headers: { "www-authenticate": challenge } },
  );
  return { ok: false, error };
}

function challengeOf(strategies: readonly AuthStrategy[], ctx: AuthContext): string {
  const parts = strategies
    .map((s) => (typeof s.challenge === "function" ? s.challenge(ctx) : s.challenge))
    .filter((c): c is string => typeof c === "string" && c !== "");
  return parts.length > 0 ? parts.join(", ") : 'Bearer realm="portcullis"';
}
