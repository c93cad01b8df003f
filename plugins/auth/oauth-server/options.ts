import { configError, interpolateDeep, parseDuration, type Permissions } from "../../../core/mod.ts";

/** The company identity provider users sign in at. */
export interface UpstreamIdp {
  /** The IdP's issuer URL (OIDC discovery runs against it). `http:` only on loopback, for tests. */
  issuer: string;
  /** The gateway's client id at the IdP. */
  clientId: string;
  /** The gateway's client secret at the IdP (`client_secret_basic`). */
  clientSecret: string;
  /** Scopes asked of the IdP; default `["openid", "email", "profile"]`. */
  scopes?: string[];
  /** A preset name (`okta`, `auth0`, `azure-ad`, `google`, `custom`): only changes claim defaults. */
  provider?: string;
}

/** Which IdP claims become which identity fields. */
export interface ClaimMapping {
  /** Claims whose string or string-array values become roles; default `["roles", "groups"]`. */
  roles?: string[];
  /** Claim holding the team; default none. */
  team?: string;
  /** Claim holding the organization/tenant; default `org` (Azure: `tid`, Google: `hd`). */
  org?: string;
}

/** A client configured in the gateway config that may use `client_credentials` (headless agents). */
export interface StaticClient {
  clientId: string;
  /** The secret the agent presents (client_secret_basic or client_secret_post); only its hash is kept. */
  clientSecret: string;
  /** Shown on audit events and in the sessions list. */
  name?: string;
  /** Who the agent acts as. */
  identity: { subject: string; email?: string; name?: string; team?: string; roles?: string[]; org?: string; permissions?: Permissions };
  /** Scopes the agent may get; default `["mcp:read", "mcp:write"]`. */
  scopes?: string[];
}

/** Limits on `/oauth/register` without an admin credential. */
export interface RegistrationLimits {
  /** Registrations per remote address per minute; default 20 (behind a proxy every caller shares its address). */
  perMinute?: number;
  /** Dynamically registered clients kept at most; default 10,000. */
  maxClients?: number;
}

/** Options of `oauthServer()`. */
export interface OauthServerOptions {
  upstream: UpstreamIdp;
  /** Access token lifetime; default `1h`. */
  accessTokenTtl?: string;
  /** Refresh token and session lifetime; default `30d`. */
  refreshTokenTtl?: string;
  /** Same as `refreshTokenTtl` (the Portkey-compatible JSON config's name); `refreshTokenTtl` wins when both are set. */
  tokenExpiration?: string;
  /** Static clients for `client_credentials`. */
  clients?: StaticClient[];
  /**
   * Always true: registered and metadata-document clients always get the consent page (once per user,
   * client, redirect URI and scopes). `false` is refused at config time: list trusted clients in `skipConsentFor`.
   */
  consent?: true;
  /**
   * Client ids the operator trusts (e.g. a known client ID metadata document URL): no consent page, and
   * errors before sign-in go back to them rather than to an error page. Default none.
   */
  skipConsentFor?: string[];
  /** Limits on open dynamic registration (RFC 7591), per gateway process. */
  registration?: RegistrationLimits;
  /** Claim mapping from the IdP's ID token / userinfo to identities. */
  claims?: ClaimMapping;
  /** Users holding one of these roles also get the `admin` scope (the sessions and tokens API). Default none. */
  adminRoles?: string[];
  /** Accept `http://` loopback client ID metadata documents: tests only. Default false. */
  allowInsecureClientMetadata?: boolean;
  /** Lifetime of authorization codes; default `60s`. */
  codeTtl?: string;
  /** Time allowed for signing in at the IdP and consenting; default `10m`. */
  loginTtl?: string;
}

/** Options after validation, lifetimes in seconds. */
export interface ResolvedOptions {
  upstream: Required<Omit<UpstreamIdp, "provider">> & { provider: string; issuerUrl: URL; insecure: boolean };
  accessTtl: number;
  refreshTtl: number;
  codeTtl: number;
  loginTtl: number;
  clients: StaticClient[];
  skipConsentFor: Set<string>;
  registration: Required<RegistrationLimits>;
  claims: { roles: string[]; team?: string; org?: string };
  adminRoles: string[];
  allowInsecureClientMetadata: boolean;
}

export const MCP_SCOPES = ["mcp:read", "mcp:write"] as const;

const PRESET_CLAIMS: Record<string, { roles: string[]; team?: string; org?: string }> = {
  okta: { roles: ["groups", "roles"], org: "org" },
  auth0: { roles: ["roles", "groups", "permissions"], org: "org_id" },
  "azure-ad": { roles: ["roles", "groups"], org: "tid" },
  google: { roles: ["groups"], org: "hd" },
  custom: { roles: ["roles", "groups"], org: "org" },
};

function loopback(host: string): boolean {
  return host === "localhost" || host === "127.0.0.1" || host === "[::1]";
}

function duration(value: unknown, path: string, fallback: string): number {
  if (value === undefined) return parseDuration(fallback, path);
  if (typeof value !== "string") throw configError(path, "expected a duration such as 90m, 24h, 7d or 30d", JSON.stringify(value));
  try {
    return parseDuration(value, path);
  } catch {
    throw configError(path, "expected a duration such as 90m, 24h, 7d or 30d", JSON.stringify(value));
  }
}

function text(value: unknown, path: string): string {
  if (typeof value !== "string" || value.trim() === "") throw configError(path, "expected a non-empty string", value === undefined ? "nothing" : JSON.stringify(typeof value === "string" ? value : typeof value));
  return value;
}

function strings(value: unknown, path: string): string[] | undefined {
  if (value === undefined) return undefined;
  if (!Array.isArray(value) || value.some((v) => typeof v !== "string" || v === "")) throw configError(path, "expected an array of non-empty strings");
  return value as string[];
}

/**
 * Validates `oauthServer()` options at config time; every error names its path under `auth.oauth`.
 *
 * @example
 * const o = resolveOptions({ upstream: { issuer: "https://id.example.com", clientId: "gw", clientSecret: "s" } });
 */
export function resolveOptions(options: OauthServerOptions): ResolvedOptions {
  const base = "auth.oauth";
  if (typeof options !== "object" || options === null) throw configError(base, "expected an options object");
  // `${VAR}` in any string option (issuer, client secret ...) is replaced from the environment, once.
  const input = interpolateDeep(options, base);
  const up = input.upstream as UpstreamIdp | undefined;
  if (typeof up !== "object" || up === null) throw configError(`${base}.upstream`, "expected { issuer, clientId, clientSecret }");
  const issuer = text(up.issuer, `${base}.upstream.issuer`);
  let issuerUrl: URL;
  try {
    issuerUrl = new URL(issuer);
  } catch {
    throw configError(`${base}.upstream.issuer`, "expected an https URL", JSON.stringify(issuer));
  }
  const insecure = issuerUrl.protocol === "http:" && loopback(issuerUrl.hostname);
  if (issuerUrl.protocol !== "https:" && !insecure) throw configError(`${base}.upstream.issuer`, "expected an https URL (http only on loopback)", JSON.stringify(issuer));
  const provider = up.provider ?? "custom";
  if (typeof provider !== "string" || !(provider in PRESET_CLAIMS)) {
    throw configError(`${base}.upstream.provider`, `expected one of ${Object.keys(PRESET_CLAIMS).join(", ")}`, JSON.stringify(provider));
  }
  const scopes = strings(up.scopes, `${base}.upstream.scopes`) ?? ["openid", "email", "profile"];
  if (!scopes.includes("openid")) scopes.unshift("openid");
  const preset = PRESET_CLAIMS[provider]!;
  const claims = input.claims ?? {};
  if (typeof claims !== "object" || claims === null) throw configError(`${base}.claims`, "expected { roles?, team?, org? }");
  // Turning consent off let any self-registered client (its redirect URI chosen by whoever registered it)
  // get codes silently from a signed-in user; only named, trusted clients may skip it now.
  if (input.consent !== undefined && input.consent !== true) {
    throw configError(`${base}.consent`, "consent can no longer be turned off; list the client ids you trust in skipConsentFor instead", JSON.stringify(input.consent));
  }
  const registration = (input.registration ?? {}) as RegistrationLimits;
  if (typeof registration !== "object" || registration === null) throw configError(`${base}.registration`, "expected { perMinute?, maxClients? }");
  for (const key of ["perMinute", "maxClients"] as const) {
    const v = registration[key];
    if (v !== undefined && (!Number.isInteger(v) || v < 1)) throw configError(`${base}.registration.${key}`, "expected a positive integer", JSON.stringify(v));
  }
  const clients = input.clients ?? [];
  if (!Array.isArray(clients)) throw configError(`${base}.clients`, "expected an array of clients");
  const seen = new Set<string>();
  clients.forEach((c, i) => {
    const p = `${base}.clients[${i}]`;
    if (typeof c !== "object" || c === null) throw configError(p, "expected { clientId, clientSecret, identity }");
    text(c.clientId, `${p}.clientId`);
    if (/^https?:/i.test(c.clientId)) throw configError(`${p}.clientId`, "expected a plain id, not a URL");
    if (seen.has(c.clientId)) throw configError(`${p}.clientId`, "expected a unique client id", JSON.stringify(c.clientId));
    seen.add(c.clientId);
    if (typeof c.clientSecret !== "string" || c.clientSecret.length < 16) throw configError(`${p}.clientSecret`, "expected a secret of at least 16 characters");
    if (typeof c.identity !== "object" || c.identity === null) throw configError(`${p}.identity`, "expected { subject, ... }");
    text(c.identity.subject, `${p}.identity.subject`);
    strings(c.identity.roles, `${p}.identity.roles`);
    const s = strings(c.scopes, `${p}.scopes`);
    for (const scope of s ?? []) if (!(MCP_SCOPES as readonly string[]).includes(scope) && scope !== "admin") throw configError(`${p}.scopes`, "expected mcp:read, mcp:write or admin", JSON.stringify(scope));
  });
  return {
    upstream: { issuer, clientId: text(up.clientId, `${base}.upstream.clientId`), clientSecret: text(up.clientSecret, `${base}.upstream.clientSecret`), scopes, provider, issuerUrl, insecure },
    accessTtl: duration(input.accessTokenTtl, `${base}.accessTokenTtl`, "1h"),
    refreshTtl: duration(input.refreshTokenTtl ?? input.tokenExpiration, `${base}.${input.refreshTokenTtl === undefined && input.tokenExpiration !== undefined ? "tokenExpiration" : "refreshTokenTtl"}`, "30d"),
    codeTtl: duration(input.codeTtl, `${base}.codeTtl`, "60s"),
    loginTtl: duration(input.loginTtl, `${base}.loginTtl`, "10m"),
    clients,
    skipConsentFor: new Set(strings(input.skipConsentFor, `${base}.skipConsentFor`) ?? []),
    registration: { perMinute: registration.perMinute ?? 20, maxClients: registration.maxClients ?? 10_000 },
    claims: {
      roles: strings(claims.roles, `${base}.claims.roles`) ?? preset.roles,
      team: claims.team ?? preset.team,
      org: claims.org ?? preset.org,
    },
    adminRoles: strings(input.adminRoles, `${base}.adminRoles`) ?? [],
    allowInsecureClientMetadata: input.allowInsecureClientMetadata === true,
  };
}
