import * as oauth from "oauth4webapi";
import type { GrantSubject } from "./grants.ts";
import type { ResolvedOptions } from "./options.ts";

/**
 * What the IdP told us about the user, after the ID token checked out: `subject` is the IdP's `sub` (the
 * only claim an IdP guarantees is unique and never reassigned), and `email` is there only when the IdP
 * asserted `email_verified: true`.
 */
export type IdpUser = Omit<GrantSubject, "permissions">;

/** Sign-in at the company IdP: authorization code + PKCE + nonce, with oauth4webapi. */
export interface IdpClient {
  /** The IdP authorization URL to send the browser to. */
  authorizationUrl(p: { state: string; nonce: string; codeVerifier: string; redirectUri: string }): Promise<URL>;
  /** Checks the IdP's answer at `/oauth/callback`, redeems the code, verifies the ID token, and maps the user. */
  finish(p: { params: URLSearchParams; state: string; nonce: string; codeVerifier: string; redirectUri: string }): Promise<IdpUser>;
}

const DISCOVERY_RETRY_MS = 30_000;

function stringsOf(value: unknown): string[] {
  if (typeof value === "string") return value === "" ? [] : [value];
  if (Array.isArray(value)) return value.filter((v): v is string => typeof v === "string" && v !== "");
  return [];
}

function stringOf(value: unknown): string | undefined {
  return typeof value === "string" && value !== "" ? value : undefined;
}

/**
 * Builds the IdP client for the configured upstream. Discovery runs on first use and is cached (a
 * failed discovery is retried after 30 s, so an IdP outage at start does not stick).
 *
 * @example
 * const idp = createIdpClient(options);
 * const url = await idp.authorizationUrl({ state, nonce, codeVerifier, redirectUri });
 */
export function createIdpClient(options: ResolvedOptions): IdpClient {
  const up = options.upstream;
  const client: oauth.Client = { client_id: up.clientId };
  const auth = oauth.ClientSecretBasic(up.clientSecret);
  const http = up.insecure ? { [oauth.allowInsecureRequests]: true } : {};
  let discovered: Promise<oauth.AuthorizationServer> | undefined;
  let failedAt = 0;

  function server(): Promise<oauth.AuthorizationServer> {
    if (discovered && failedAt && Date.now() - failedAt > DISCOVERY_RETRY_MS) discovered = undefined;
    discovered ??= (async () => {
      const res = await oauth.discoveryRequest(up.issuerUrl, { algorithm: "oidc", ...http, signal: AbortSignal.timeout(10_000) });
      return await oauth.processDiscoveryResponse(up.issuerUrl, res);
    })();
    discovered.then(() => (failedAt = 0), () => (failedAt = Date.now()));
    return discovered;
  }

  function mapUser(claims: Record<string, unknown>): IdpUser {
    const roles = new Set<string>();
    for (const name of options.claims.roles) for (const r of stringsOf(claims[name])) roles.add(r);
    return {
      subject: String(claims.sub),
      // Anyone can type someone else's address into an IdP profile; an unverified email would let that
      // account be forwarded upstream (X-User-Email) as its owner. IdPs that never send the claim
      // (Azure AD / Entra ID) therefore forward no email at all.
      email: claims.email_verified === true ? stringOf(claims.email) : undefined,
      name: stringOf(claims.name) ?? stringOf(claims.preferred_username),
      team: options.claims.team ? stringOf(claims[options.claims.team]) ?? stringsOf(claims[options.claims.team])[0] : undefined,
      org: options.claims.org ? stringOf(claims[options.claims.org]) : undefined,
      roles: [...roles],
    };
  }

  return {
    async authorizationUrl(p) {
      const as = await server();
      if (!as.authorization_endpoint) throw new Error("the IdP publishes no authorization_endpoint");
      const url = new URL(as.authorization_endpoint);
      url.searchParams.set("client_id", up.clientId);
      url.searchParams.set("response_type", "code");
      url.searchParams.set("redirect_uri", p.redirectUri);
      url.searchParams.set("scope", up.scopes.join(" "));
      url.searchParams.set("state", p.state);
      url.searchParams.set("nonce", p.nonce);
      url.searchParams.set("code_challenge", await oauth.calculatePKCECodeChallenge(p.codeVerifier));
      url.searchParams.set("code_challenge_method", "S256");
      return url;
    },

    async finish(p) {
      const as = await server();
      // Checks state and, when the IdP supports RFC 9207, the `iss` of the response.
      const params = oauth.validateAuthResponse(as, client, p.params, p.state);
      const res = await oauth.authorizationCodeGrantRequest(as, client, auth, params, p.redirectUri, p.codeVerifier, { ...http, signal: AbortSignal.timeout(10_000) });
      // Verifies the ID token's iss, aud, azp, exp, iat and our nonce; it came straight from the IdP's token endpoint.
      const tokens = await oauth.processAuthorizationCodeResponse(as, client, res, { expectedNonce: p.nonce, requireIdToken: true });
      const idClaims = oauth.getValidatedIdTokenClaims(tokens)!;
      let claims: Record<string, unknown> = { ...idClaims };
      // Many IdPs (and OIDC's default for the code flow) keep profile claims out of the ID token: ask userinfo.
      if (as.userinfo_endpoint && (claims.email === undefined || claims.email_verified === undefined || claims.name === undefined)) {
        try {
          const info = await oauth.userInfoRequest(as, client, tokens.access_token, { ...http, signal: AbortSignal.timeout(10_000) });
          const user = await oauth.processUserInfoResponse(as, client, idClaims.sub, info);
          claims = { ...user, ...idClaims };
        } catch {
          // Userinfo only adds profile details; the ID token alone already proves who signed in.
        }
      }
      // The IdP's own tokens are dropped here: nothing from them ever reaches an upstream or the store.
      return mapUser(claims);
    },
  };
}
