import { GatewayError } from "../errors.ts";
import type { AuthOutcome, AuthStrategy, PluginContext } from "../types.ts";
import { API_KEY_PREFIX, TOKEN_PREFIX, wellFormed } from "./secret.ts";
import { identityOf } from "./service.ts";
import type { TokenService } from "../types.ts";
import type { TokenType } from "./types.ts";

/** Where a token strategy's credential goes, and where callers put it by mistake. */
export interface TokenStrategyOptions {
  /**
   * Where this kind of credential goes, as told to a caller who sent it elsewhere: `as Authorization:
   * Bearer`, `in the X-API-Key header`. Default: `as Authorization: Bearer` for tokens, `in the API-key
   * header` for API keys.
   */
  place?: string;
  /**
   * Reads a credential from where callers put this kind by mistake (an API key sent as a bearer token).
   * When no strategy accepts the request and a well-formed secret of this strategy's kind is found there,
   * the 401 says what it is and where it goes, never the secret.
   */
  elsewhere?: (request: Request) => string | null | undefined;
}

/** What the gateway knows of a strategy made by `tokenStrategy`. */
interface TokenStrategyInfo {
  type: SecretType;
  hint(request: Request): string | undefined;
}

/** The kinds of gateway credential that have a secret a client presents. */
type SecretType = Exclude<TokenType, "certificate">;

const KINDS: Record<SecretType, { prefix: string; what: string; place: string }> = {
  token: { prefix: TOKEN_PREFIX, what: "a bearer token", place: "as Authorization: Bearer" },
  "api-key": { prefix: API_KEY_PREFIX, what: "an API key", place: "in the API-key header" },
};

// Under a symbol, so a spread copy of the strategy (`{ ...bearer(), name: "mine" }`) keeps it.
const INFO = Symbol.for("portcullis.tokenStrategy");

function infoOf(strategy: AuthStrategy): TokenStrategyInfo | undefined {
  return (strategy as { [INFO]?: TokenStrategyInfo })[INFO];
}

/**
 * The shared body of `bearer()` and `apiKey()`: read a credential from the request, verify it with the
 * gateway's token service, and turn the record into an identity. A well-formed secret of the other kind
 * in this strategy's place is refused saying what it is and where it goes (`this is a bearer token; send
 * it as Authorization: Bearer`).
 *
 * @example
 * tokenStrategy("auth:bearer", "token", (req) => req.headers.get("authorization")?.slice(7) ?? null, 'Bearer realm="portcullis"');
 */
export function tokenStrategy(name: string, type: SecretType, read: (request: Request) => string | null, challenge: string, options: TokenStrategyOptions = {}): AuthStrategy {
  let tokens: TokenService | undefined;
  const kind = KINDS[type];
  const other = KINDS[type === "token" ? "api-key" : "token"];
  const place = options.place ?? kind.place;
  const elsewhere = options.elsewhere;
  const info: TokenStrategyInfo = {
    type,
    hint(request) {
      const found = elsewhere?.(request)?.trim();
      return found && wellFormed(found, kind.prefix) ? `this is ${kind.what}; send it ${place}` : undefined;
    },
  };
  const strategy: AuthStrategy = {
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
      if (result.ok) return { identity: identityOf(result.record, name) };
      // Only on the way out: a refused credential that is a well-formed secret of the other kind.
      if (wellFormed(secret, other.prefix)) return { error: { code: "ERR_INVALID_CREDENTIAL", reason: `this is ${other.what}; send it ${other.place}` } };
      return { error: { code: result.code, reason: result.reason, tokenId: result.tokenId } };
    },
  };
  return Object.assign(strategy, { [INFO]: info });
}

/**
 * The kind of gateway credential a strategy made by `tokenStrategy` accepts, else undefined.
 *
 * @example
 * tokenStrategyType(bearer()); // "token"
 */
export function tokenStrategyType(strategy: AuthStrategy): TokenType | undefined {
  return infoOf(strategy)?.type;
}

/**
 * What a strategy made by `tokenStrategy` can tell a caller whose credential no strategy accepted: a
 * secret of its kind found where it does not go (`this is an API key; send it in the X-API-Key header`).
 *
 * @example
 * credentialHint(apiKey(), request); // "this is an API key; send it in the X-API-Key header"
 */
export function credentialHint(strategy: AuthStrategy, request: Request): string | undefined {
  return infoOf(strategy)?.hint(request);
}

/**
 * The kinds of gateway credential (bearer tokens, API keys) that a list of strategies accepts.
 *
 * @example
 * acceptedTokenTypes([apiKey()]); // ["api-key"]
 */
export function acceptedTokenTypes(strategies: readonly AuthStrategy[]): TokenType[] {
  const types = new Set<TokenType>();
  for (const s of strategies) {
    const type = tokenStrategyType(s);
    if (type) types.add(type);
  }
  return [...types];
}
