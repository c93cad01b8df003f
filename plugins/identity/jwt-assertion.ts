import { configError, GatewayError, type ForwardedIdentity, type Identity, type IdentityMapper, type SigningKeys } from "../../core/mod.ts";

/** Options of `jwtAssertion()`. */
export interface JwtAssertionOptions {
  /** Header carrying the JWT to HTTP upstreams; default `X-Portcullis-Assertion`. */
  header?: string;
  /** Lifetime of each assertion in seconds; default 60 (10 to 3600). */
  expiresInSeconds?: number;
  /** The `iss` claim; default the gateway's `server.publicUrl`, else `portcullis`. */
  issuer?: string;
  /** The `aud` claim for a server; default the server's name. */
  audience?: (server: string) => string;
}

/** The `_meta` key under which stdio upstreams receive the assertion. */
export const ASSERTION_META_KEY = "io.portcullis/assertion";

const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;

/**
 * Sends a short-lived JWT signed by the gateway (ES256) describing the caller: `sub`, `email`, `name`,
 * `team`, `roles`, `org`, `iat`/`exp`, `jti`, with `aud` set to the server's name, so a server can prove
 * the identity came from the gateway. The public keys are at `/.well-known/jwks.json`; after a key
 * rotation the previous key stays published until its assertions have expired. Assertions are reused
 * per caller and server while more than half their lifetime remains, so signing stays off the hot path.
 *
 * @example
 * defineGateway({ identity: [identityHeaders(), jwtAssertion({ expiresInSeconds: 120 })], ... })
 */
export function jwtAssertion(options: JwtAssertionOptions = {}): IdentityMapper {
  if (typeof options !== "object" || options === null) throw configError("jwtAssertion", "expected options { header?, expiresInSeconds?, issuer?, audience? }");
  const header = options.header ?? "X-Portcullis-Assertion";
  if (typeof header !== "string" || !TOKEN.test(header)) throw configError("jwtAssertion.header", "expected an HTTP header name", JSON.stringify(header));
  const lifetime = options.expiresInSeconds ?? 60;
  if (!Number.isInteger(lifetime) || lifetime < 10 || lifetime > 3600) {
    throw configError("jwtAssertion.expiresInSeconds", "expected a whole number of seconds from 10 to 3600", JSON.stringify(lifetime));
  }
  if (options.issuer !== undefined && (typeof options.issuer !== "string" || options.issuer === "")) {
    throw configError("jwtAssertion.issuer", "expected a non-empty string", JSON.stringify(options.issuer));
  }
  if (options.audience !== undefined && typeof options.audience !== "function") throw configError("jwtAssertion.audience", "expected a function (server) => string");
  let keys: SigningKeys | undefined;
  let issuer = options.issuer ?? "portcullis";
  const cache = new WeakMap<Identity, Map<string, { jwt: string; renewAt: number }>>();

  async function assertion(identity: Identity, server: string): Promise<string> {
    if (!keys) throw new GatewayError("ERR_INTERNAL", "jwtAssertion used before the gateway set it up");
    let perIdentity = cache.get(identity);
    if (!perIdentity) cache.set(identity, perIdentity = new Map());
    const hit = perIdentity.get(server);
    if (hit && hit.renewAt > Date.now()) return hit.jwt;
    const claims: Record<string, unknown> = { roles: identity.roles };
    if (identity.email !== undefined) claims.email = identity.email;
    if (identity.name !== undefined) claims.name = identity.name;
    if (identity.team !== undefined) claims.team = identity.team;
    if (identity.org !== undefined) claims.org = identity.org;
    const jwt = await keys.sign(claims, {
      issuer,
      audience: options.audience ? options.audience(server) : server,
      subject: identity.subject,
      expiresInSeconds: lifetime,
      typ: "identity+jwt",
    });
    perIdentity.set(server, { jwt, renewAt: Date.now() + (lifetime * 1000) / 2 });
    return jwt;
  }

  return {
    name: "identity:jwt-assertion",
    headerNames: () => [header],
    setup(ctx) {
      keys = ctx.keys;
      if (options.issuer === undefined && ctx.publicUrl !== undefined) issuer = ctx.publicUrl;
    },
    async map(identity, server, via): Promise<ForwardedIdentity> {
      const jwt = await assertion(identity, server);
      return via === "headers" ? { headers: { [header]: jwt } } : { meta: { [ASSERTION_META_KEY]: jwt } };
    },
  };
}
