// A real OpenID provider (`oidc-provider` from npm) served in-process on a loopback port, shared by the
// OAuth/OIDC suites. Nothing about the protocol is mocked: tokens come from its real token endpoint,
// keys from its real JWKS endpoint, and key rotation swaps the keys it actually serves and signs with.
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { exportJWK, generateKeyPair, type JWK } from "jose";

/** The parts of oidc-provider's `Provider` instance the suites use (the package ships no types). */
export interface OidcProviderInstance {
  issuer: string;
  callback(): (req: IncomingMessage, res: ServerResponse) => void;
  interactionDetails(req: IncomingMessage, res: ServerResponse): Promise<Record<string, unknown>>;
  interactionFinished(req: IncomingMessage, res: ServerResponse, result: Record<string, unknown>, options?: { mergeWithLastSubmission?: boolean }): Promise<void>;
  interactionResult(req: IncomingMessage, res: ServerResponse, result: Record<string, unknown>, options?: { mergeWithLastSubmission?: boolean }): Promise<string>;
  Grant: new (init: Record<string, unknown>) => { addOIDCScope(s: string): void; addResourceScope(r: string, s: string): void; save(): Promise<string> };
  on(event: string, listener: (...args: unknown[]) => void): void;
  [key: string]: unknown;
}

/** A resource server (an RFC 8707 resource indicator) the IdP issues access tokens for. */
export interface IdpResource {
  /** Space-separated scopes the resource accepts. */
  scope: string;
  /** `jwt` (default) or `opaque` (for introspection). */
  accessTokenFormat?: "jwt" | "opaque";
  /** Access token lifetime in seconds; default 300. */
  accessTokenTTL?: number;
  /** The `aud` of tokens for it; default the resource indicator itself. */
  audience?: string;
}

/** Options of the in-process IdP. Every field is optional; the defaults suit a resource-server suite. */
export interface IdpOptions {
  /** Registered clients (oidc-provider client metadata). Default: one confidential client-credentials client `DEFAULT_CLIENT`. */
  clients?: Array<Record<string, unknown>>;
  /** Resource servers by resource indicator. Default: `{ [DEFAULT_RESOURCE]: { scope: "mcp:read mcp:write" } }`. */
  resources?: Record<string, IdpResource>;
  /** The resource used when a request names none (so client-credentials tokens are JWTs for it). Default: the first resource. */
  defaultResource?: string;
  /** Accounts by id: the claims each account has (`email`, `name`, `groups` ...). */
  accounts?: Record<string, Record<string, unknown>>;
  /** Extra claims added to every access token (JWT access tokens carry them). */
  extraTokenClaims?: (token: { accountId?: string; clientId?: string; kind?: string }) => Record<string, unknown> | undefined;
  /** Features merged over the defaults (clientCredentials, introspection, resourceIndicators, revocation are on). */
  features?: Record<string, unknown>;
  /** Any other oidc-provider configuration, merged last (interactions, ttl, claims, pkce, routes ...). */
  configuration?: Record<string, unknown>;
  /** Private signing JWKs; default one fresh RS256 key. */
  keys?: JWK[];
}

/** A running IdP. */
export interface Idp {
  /** The issuer identifier, `http://127.0.0.1:<port>`. */
  issuer: string;
  /** The current oidc-provider instance (replaced by `setKeys`, which rebuilds it). */
  readonly provider: OidcProviderInstance;
  /** The private signing JWKs in force, current first. */
  readonly keys: JWK[];
  /** Every request the IdP received, as `METHOD /path` (to count JWKS fetches, introspections ...). */
  readonly requests: string[];
  /** Client-credentials grant at the real token endpoint; throws with the IdP's error on refusal. */
  clientCredentials(options?: { clientId?: string; clientSecret?: string; resource?: string; scope?: string }): Promise<{ access_token: string; token_type: string; expires_in: number; scope?: string }>;
  /** Serves and signs with a new key set from now on (the provider is rebuilt; stored grants survive). */
  setKeys(keys: JWK[]): Promise<void>;
  close(): Promise<void>;
}

/** The confidential client registered by default (client-credentials grant, `client_secret_basic`). */
export const DEFAULT_CLIENT = { client_id: "portcullis-test", client_secret: "portcullis-test-secret-0123456789abcdef" };
/** The resource indicator (and `aud`) of the default resource server. */
export const DEFAULT_RESOURCE = "http://gateway.test/mcp";

/**
 * A fresh private signing key as a JWK with a random `kid`.
 *
 * @example
 * const key = await generateSigningKey("ES256");
 */
export async function generateSigningKey(alg: "RS256" | "ES256" | "PS256" | "EdDSA" = "RS256"): Promise<JWK> {
  const { privateKey } = await generateKeyPair(alg, { extractable: true });
  const jwk = await exportJWK(privateKey);
  return { ...jwk, alg, use: "sig", kid: `k-${crypto.randomUUID().slice(0, 8)}` };
}

/**
 * Starts oidc-provider on `127.0.0.1:0` with its Koa app mounted on a node:http server.
 *
 * @example
 * const idp = await startIdp({ resources: { "http://127.0.0.1:8787/mcp": { scope: "mcp:read" } } });
 * const { access_token } = await idp.clientCredentials();
 * await idp.close();
 */
export async function startIdp(options: IdpOptions = {}): Promise<Idp> {
  // Untyped package: imported through a variable so the type-checker does not look for declarations.
  const name = "oidc-provider";
  const { default: Provider } = (await import(name)) as { default: new (issuer: string, config: Record<string, unknown>) => OidcProviderInstance };
  const resources = options.resources ?? { [DEFAULT_RESOURCE]: { scope: "mcp:read mcp:write" } };
  const defaultResource = options.defaultResource ?? Object.keys(resources)[0];
  const accounts = options.accounts ?? {};
  let keys = options.keys ?? [await generateSigningKey()];
  const cookieKeys = [crypto.randomUUID(), crypto.randomUUID()];

  let handler: ((req: IncomingMessage, res: ServerResponse) => void) | undefined;
  const requests: string[] = [];
  const server = createServer((req, res) => {
    requests.push(`${req.method} ${(req.url ?? "/").split("?")[0]}`);
    if (handler) handler(req, res);
    else res.writeHead(503).end();
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  function build(): OidcProviderInstance {
    const userFeatures = options.features ?? {};
    const configuration: Record<string, unknown> = {
      clients: options.clients ?? [{ ...DEFAULT_CLIENT, grant_types: ["client_credentials"], redirect_uris: [], response_types: [], scope: "mcp:read mcp:write" }],
      jwks: { keys },
      cookies: { keys: cookieKeys },
      // ID tokens are signed with the current key's algorithm, so a rotation to another key type works.
      clientDefaults: { grant_types: ["authorization_code"], response_types: ["code"], token_endpoint_auth_method: "client_secret_basic", id_token_signed_response_alg: keys[0]!.alg ?? "RS256" },
      scopes: ["openid", "offline_access", "mcp:read", "mcp:write"],
      claims: { openid: ["sub"], email: ["email", "email_verified"], profile: ["name"], groups: ["groups"] },
      ttl: { AccessToken: 300, ClientCredentials: 300, AuthorizationCode: 60, IdToken: 300, RefreshToken: 86400, Interaction: 600, Session: 3600, Grant: 86400 },
      async findAccount(_ctx: unknown, id: string) {
        const claims = accounts[id];
        if (!claims) return undefined;
        return { accountId: id, claims: async () => ({ sub: id, ...claims }) };
      },
      async extraTokenClaims(_ctx: unknown, token: { accountId?: string; clientId?: string; kind?: string }) {
        return options.extraTokenClaims?.(token);
      },
      features: {
        devInteractions: { enabled: false },
        clientCredentials: { enabled: true },
        // Any authenticated client may introspect: the suites decide who is allowed by who they register.
        introspection: { enabled: true, allowedPolicy: async () => true },
        revocation: { enabled: true },
        ...userFeatures,
        resourceIndicators: {
          enabled: true,
          defaultResource: async (_ctx: unknown, _client: unknown, oneOf?: string[]) => oneOf ?? defaultResource,
          useGrantedResource: async () => true,
          getResourceServerInfo: async (_ctx: unknown, indicator: string) => {
            const r = resources[indicator];
            if (!r) throw new Error(`unknown resource ${indicator}`);
            return {
              scope: r.scope,
              audience: r.audience ?? indicator,
              accessTokenTTL: r.accessTokenTTL ?? 300,
              accessTokenFormat: r.accessTokenFormat ?? "jwt",
              ...(r.accessTokenFormat === "opaque" ? {} : { jwt: { sign: { alg: keys[0]!.alg ?? "RS256" } } }),
            };
          },
          ...(userFeatures.resourceIndicators as Record<string, unknown> | undefined),
        },
      },
      ...options.configuration,
    };
    const provider = new Provider(issuer, configuration);
    // The provider prints warnings about development defaults; they are expected in a test fixture.
    provider.on("server_error", () => undefined);
    return provider;
  }

  let provider = build();
  handler = provider.callback();

  return {
    issuer,
    get provider() {
      return provider;
    },
    get keys() {
      return keys;
    },
    requests,
    async clientCredentials(o = {}) {
      const body = new URLSearchParams({ grant_type: "client_credentials" });
      if (o.resource ?? defaultResource) body.set("resource", (o.resource ?? defaultResource)!);
      if (o.scope !== undefined) body.set("scope", o.scope);
      const auth = btoa(`${encodeURIComponent(o.clientId ?? DEFAULT_CLIENT.client_id)}:${encodeURIComponent(o.clientSecret ?? DEFAULT_CLIENT.client_secret)}`);
      const res = await fetch(`${issuer}/token`, {
        method: "POST",
        headers: { authorization: `Basic ${auth}`, "content-type": "application/x-www-form-urlencoded" },
        body,
      });
      const json = await res.json() as Record<string, unknown>;
      if (!res.ok) throw new Error(`IdP token endpoint refused: ${res.status} ${JSON.stringify(json)}`);
      return json as { access_token: string; token_type: string; expires_in: number; scope?: string };
    },
    async setKeys(next) {
      keys = next;
      provider = build();
      handler = provider.callback();
    },
    async close() {
      server.closeAllConnections?.();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
