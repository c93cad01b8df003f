import { constantTimeEqual, type GatewayError, hashSecret, newId, newSecret, readBodyText, type Identity, type TokenStore } from "../../../core/mod.ts";
import { readOauthBody } from "./form.ts";
import { oauthError, type OauthErrorCode } from "./oauth-error.ts";
import { MCP_SCOPES, type StaticClient } from "./options.ts";
import { hostProblem } from "./public-address.ts";
import { isLoopbackUrl, redirectUriProblem } from "./redirect-uris.ts";

/** An OAuth client the gateway knows: registered (RFC 7591), a metadata document URL, or configured. */
export interface ClientRecord {
  clientId: string;
  name: string;
  redirectUris: string[];
  grantTypes: string[];
  authMethod: "none" | "client_secret_basic" | "client_secret_post";
  /** Hash of the client secret, for confidential clients. */
  secretHash?: string;
  kind: "registered" | "metadata" | "static";
  /** For client_credentials: who the client acts as, and the scopes it may get. */
  identity?: StaticClient["identity"];
  scopes?: string[];
  createdAt: string;
  registeredBy?: string;
  /** When the client last obtained a token (registered clients; updated at most hourly). */
  lastUsedAt?: string;
}

const KIND = "oauth:client";
const METADATA_LIMIT = 64 * 1024;
const CACHE_MAX = 500;
// A document that could not be used is not fetched again for a minute: the endpoints that trigger
// fetches are unauthenticated, so a failing URL must not become a fetch per request.
const FAILURE_MEMORY_MS = 60_000;
const FETCHES_IN_FLIGHT = 8;
const HOUR_MS = 3_600_000;
const DAY_MS = 24 * HOUR_MS;
// Open registrations never used for a token go after a day; any registration unused this long goes.
const NEVER_USED_MS = DAY_MS;
const UNUSED_MS = 90 * DAY_MS;
const SWEEP_EVERY_MS = 10 * 60_000;
const RATE_WINDOW_MS = 60_000;
const RATE_ADDRESSES_MAX = 10_000;
const GRANTS = ["authorization_code", "refresh_token", "client_credentials"];
const BASIC_CHALLENGE = { "www-authenticate": 'Basic realm="portcullis"' };

function registrationError(description: string, error: OauthErrorCode = "invalid_client_metadata"): GatewayError {
  return oauthError(error, description);
}

function isUrlId(clientId: string): boolean {
  return /^https?:\/\//i.test(clientId);
}

function checkRedirectUris(value: unknown, required: boolean, error: OauthErrorCode = "invalid_redirect_uri"): string[] {
  if (value === undefined && !required) return [];
  if (!Array.isArray(value) || value.length === 0 || value.length > 20) throw registrationError("redirect_uris: expected 1 to 20 URIs", error);
  for (const uri of value) {
    const problem = redirectUriProblem(uri);
    if (problem) throw registrationError(`redirect_uris: ${JSON.stringify(String(uri).slice(0, 200))} ${problem}`, error);
  }
  return [...new Set(value as string[])];
}

function clientName(value: unknown, fallback: string): string {
  if (value === undefined) return fallback;
  if (typeof value !== "string" || value.trim() === "" || value.length > 200) throw registrationError("client_name: expected a string of at most 200 characters");
  return value.trim();
}

/** The clients the gateway knows, wherever they come from. */
export interface ClientRegistry {
  /** Throws an OAuth `temporarily_unavailable` (`ERR_OVERLOADED`) while too many metadata documents are being fetched. */
  find(clientId: string): Promise<ClientRecord | undefined>;
  /**
   * Serves RFC 7591 registration: validates the metadata and answers with the client (and its secret, once).
   * Without an admin credential it is rate-limited per `remoteAddress` and capped in total.
   */
  register(request: Request, admin: Identity | undefined, remoteAddress?: string): Promise<Response>;
  /** Notes that a registered client obtained a token (what keeps its registration from expiring). */
  markUsed(client: ClientRecord): Promise<void>;
  /** Authenticates the client of a token or revocation request (Basic, post body, or public `client_id`). */
  authenticate(request: Request, form: URLSearchParams): Promise<ClientRecord>;
}

/** What the registry needs. */
export interface ClientRegistryOptions {
  store: TokenStore;
  /** Time allowed to receive a registration body, ms (the gateway's `server.bodyTimeoutMs`). */
  bodyTimeoutMs?: number;
  statics: StaticClient[];
  allowInsecureMetadata: boolean;
  /** Open registrations per remote address per minute; default 20. */
  perMinute?: number;
  /** Registered clients kept at most (open registration stops there); default 10,000. */
  maxClients?: number;
  /** Session lifetime in seconds: a registration unused for 90 days, or this if longer, expires. */
  sessionTtlSeconds?: number;
  /** Who registered, for audit. */
  onRegister?(client: ClientRecord): void;
}

/**
 * The client registry: configured clients, dynamically registered ones (in the store, secrets hashed)
 * and client ID metadata documents (fetched, checked and cached).
 *
 * @example
 * const clients = createClientRegistry({ store, statics: [], allowInsecureMetadata: false });
 * const c = await clients.find("https://app.example.com/oauth/client.json");
 */
export function createClientRegistry(opts: ClientRegistryOptions): ClientRegistry {
  const statics = new Map<string, Promise<ClientRecord>>();
  for (const c of opts.statics) {
    statics.set(c.clientId, hashSecret(c.clientSecret).then((secretHash) => ({
      clientId: c.clientId,
      name: c.name ?? c.clientId,
      redirectUris: [],
      grantTypes: ["client_credentials"],
      authMethod: "client_secret_basic",
      secretHash,
      kind: "static",
      identity: c.identity,
      scopes: c.scopes ?? [...MCP_SCOPES],
      createdAt: new Date(0).toISOString(),
    })));
  }
  const metadataCache = new Map<string, { record: ClientRecord; until: number }>();
  const failed = new Map<string, number>();
  const inFlight = new Map<string, Promise<ClientRecord | undefined>>();
  const perMinute = opts.perMinute ?? 20;
  const maxClients = opts.maxClients ?? 10_000;
  const unusedMs = Math.max(UNUSED_MS, (opts.sessionTtlSeconds ?? 0) * 1000);
  const rate = new Map<string, { count: number; start: number }>();
  let registered: number | undefined;
  let lastSweep = 0;

  function remember<V>(map: Map<string, V>, key: string, value: V): void {
    if (map.size >= CACHE_MAX) map.delete(map.keys().next().value!);
    map.set(key, value);
  }

  async function fetchMetadata(clientId: string): Promise<ClientRecord | undefined> {
    const cached = metadataCache.get(clientId);
    if (cached && cached.until > Date.now()) return cached.record;
    if ((failed.get(clientId) ?? 0) > Date.now()) return undefined;
    const running = inFlight.get(clientId);
    if (running) return await running;
    if (inFlight.size >= FETCHES_IN_FLIGHT) {
      // Named as an OAuth error here so that every endpoint that looks a client up answers it the same way.
      throw oauthError("temporarily_unavailable", "the gateway is fetching too many client metadata documents right now; try again in a moment", { status: 503 });
    }
    const fetching = fetchAndCheck(clientId).finally(() => inFlight.delete(clientId));
    inFlight.set(clientId, fetching);
    const record = await fetching;
    if (!record) remember(failed, clientId, Date.now() + FAILURE_MEMORY_MS);
    return record;
  }

  async function fetchAndCheck(clientId: string): Promise<ClientRecord | undefined> {
    let url: URL;
    try {
      url = new URL(clientId);
    } catch {
      return undefined;
    }
    const insecureOk = opts.allowInsecureMetadata && url.protocol === "http:" && isLoopbackUrl(url);
    if (url.protocol !== "https:" && !insecureOk) return undefined;
    if (url.hash || url.username || url.password || url.pathname === "/") return undefined;
    // Anyone can name any URL as a client id and make the gateway fetch it: never one that reaches the
    // gateway's own network (loopback, RFC 1918, link-local cloud metadata ...). Residual risk: the fetch
    // resolves the name again, so a DNS server answering public-then-private (rebinding) can still slip
    // through between this check and the connection; fetch offers no portable way to pin the address.
    if (!opts.allowInsecureMetadata && (await hostProblem(url.hostname))) return undefined;
    let res: Response;
    try {
      res = await fetch(url, { redirect: "error", headers: { accept: "application/json" }, signal: AbortSignal.timeout(5000) });
    } catch {
      return undefined;
    }
    if (res.status !== 200) {
      await res.body?.cancel();
      return undefined;
    }
    // The fetch's own timeout also ends a body that trickles in; the deadline here only bounds the read.
    const text = await readBodyText(res as unknown as Request, METADATA_LIMIT, 5000).catch(() => undefined);
    if (text === undefined) return undefined;
    let doc: Record<string, unknown>;
    try {
      doc = JSON.parse(text);
    } catch {
      return undefined;
    }
    // The document must name itself: a document served at one URL cannot speak for another client id.
    if (typeof doc !== "object" || doc === null || doc.client_id !== clientId) return undefined;
    const method = doc.token_endpoint_auth_method ?? "none";
    if (method !== "none") return undefined;
    let record: ClientRecord;
    try {
      record = {
        clientId,
        name: clientName(doc.client_name, url.host),
        redirectUris: checkRedirectUris(doc.redirect_uris, true),
        grantTypes: ["authorization_code", "refresh_token"],
        authMethod: "none",
        kind: "metadata",
        createdAt: new Date().toISOString(),
      };
    } catch {
      return undefined;
    }
    const maxAge = Number(/max-age=(\d+)/.exec(res.headers.get("cache-control") ?? "")?.[1] ?? 300);
    remember(metadataCache, clientId, { record, until: Date.now() + Math.min(Math.max(maxAge, 60), 86400) * 1000 });
    return record;
  }

  /** Counts one open registration from `address`; false once it made `perMinute` this minute. */
  function withinRate(address: string): boolean {
    const now = Date.now();
    if (rate.size >= RATE_ADDRESSES_MAX) {
      for (const [a, w] of rate) if (now - w.start >= RATE_WINDOW_MS) rate.delete(a);
      // Still full: an address flood. Forgetting every count is the price; the total cap still holds.
      if (rate.size >= RATE_ADDRESSES_MAX) rate.clear();
    }
    const w = rate.get(address);
    if (!w || now - w.start >= RATE_WINDOW_MS) {
      rate.set(address, { count: 1, start: now });
      return true;
    }
    w.count++;
    return w.count <= perMinute;
  }

  async function registeredCount(): Promise<number> {
    registered ??= (await opts.store.listItems(KIND)).length;
    return registered;
  }

  function sweep(): void {
    if (Date.now() - lastSweep < SWEEP_EVERY_MS) return;
    lastSweep = Date.now();
    void (async () => {
      const now = Date.now();
      let kept = 0;
      for (const { key, value } of await opts.store.listItems(KIND)) {
        const c = value as ClientRecord;
        const created = Date.parse(c.createdAt);
        const neverUsed = !c.lastUsedAt && !c.registeredBy && now - created > NEVER_USED_MS;
        const unused = now - (c.lastUsedAt ? Date.parse(c.lastUsedAt) : created) > unusedMs;
        if (neverUsed || unused) await opts.store.takeItem(KIND, key);
        else kept++;
      }
      // Recounted from the store, which other gateways sharing it also write to.
      registered = kept;
    })().catch(() => undefined);
  }

  async function find(clientId: string): Promise<ClientRecord | undefined> {
    if (clientId === "" || clientId.length > 2000) return undefined;
    const configured = statics.get(clientId);
    if (configured) return await configured;
    if (isUrlId(clientId)) return await fetchMetadata(clientId);
    return (await opts.store.getItem(KIND, clientId)) as ClientRecord | undefined;
  }

  return {
    find,

    async register(request, admin, remoteAddress) {
      sweep();
      if (!admin) {
        if (!withinRate(remoteAddress ?? "unknown")) {
          throw oauthError("too_many_requests", `at most ${perMinute} registrations per minute from one address; try again later`, { status: 429, headers: { "retry-after": "60" } });
        }
        if ((await registeredCount()) >= maxClients) {
          throw oauthError("temporarily_unavailable", "the gateway holds as many registered clients as it allows; ask its administrator", { status: 503 });
        }
      }
      const type = request.headers.get("content-type") ?? "";
      if (!/^application\/json\s*(;|$)/i.test(type)) throw registrationError("expected an application/json body", "invalid_request");
      const text = await readOauthBody(request, METADATA_LIMIT, opts.bodyTimeoutMs);
      let body: Record<string, unknown>;
      try {
        body = JSON.parse(text);
      } catch {
        throw registrationError("body is not JSON", "invalid_request");
      }
      if (typeof body !== "object" || body === null || Array.isArray(body)) throw registrationError("expected a JSON object");
      const grantTypes = body.grant_types === undefined ? ["authorization_code", "refresh_token"] : body.grant_types;
      if (!Array.isArray(grantTypes) || grantTypes.length === 0 || grantTypes.some((g) => !GRANTS.includes(g as string))) {
        throw registrationError(`grant_types: expected some of ${GRANTS.join(", ")}`);
      }
      const method = body.token_endpoint_auth_method ?? (grantTypes.includes("client_credentials") ? "client_secret_basic" : "none");
      if (method !== "none" && method !== "client_secret_basic" && method !== "client_secret_post") {
        throw registrationError("token_endpoint_auth_method: expected none, client_secret_basic or client_secret_post");
      }
      const responseTypes = body.response_types ?? ["code"];
      if (!Array.isArray(responseTypes) || responseTypes.some((r) => r !== "code")) throw registrationError('response_types: only "code" is supported');
      const usesCode = grantTypes.includes("authorization_code");
      const redirectUris = checkRedirectUris(body.redirect_uris, usesCode);
      const clientId = newId("cli_");
      let scopes: string[] | undefined;
      let identity: ClientRecord["identity"];
      if (grantTypes.includes("client_credentials")) {
        // A machine client acts without a user: only an admin may create one, and decides what it may do.
        if (!admin) throw registrationError("client_credentials clients can only be registered with an admin credential");
        if (method === "none") throw registrationError("client_credentials needs a client secret");
        scopes = typeof body.scope === "string" ? body.scope.split(" ").filter(Boolean) : [...MCP_SCOPES];
        if (scopes.length === 0 || scopes.some((s) => !(MCP_SCOPES as readonly string[]).includes(s))) throw registrationError("scope: expected mcp:read and/or mcp:write");
        identity = { subject: `client:${clientId}`, name: clientName(body.client_name, clientId), roles: [] };
      }
      return await finish();

      async function finish(): Promise<Response> {
        const secret = method === "none" ? undefined : newSecret("pcs_");
        const record: ClientRecord = {
          clientId,
          name: clientName(body.client_name, clientId),
          redirectUris,
          grantTypes: grantTypes as string[],
          authMethod: method as ClientRecord["authMethod"],
          ...(secret ? { secretHash: await hashSecret(secret) } : {}),
          kind: "registered",
          ...(identity ? { identity } : {}),
          ...(scopes ? { scopes } : {}),
          createdAt: new Date().toISOString(),
          ...(admin ? { registeredBy: admin.subject } : {}),
        };
        const before = await registeredCount();
        await opts.store.putItem(KIND, clientId, record);
        registered = (registered ?? before) + 1;
        opts.onRegister?.(record);
        const out: Record<string, unknown> = {
          client_id: clientId,
          client_id_issued_at: Math.floor(Date.now() / 1000),
          client_name: record.name,
          redirect_uris: record.redirectUris,
          grant_types: record.grantTypes,
          response_types: ["code"],
          token_endpoint_auth_method: record.authMethod,
        };
        if (secret) Object.assign(out, { client_secret: secret, client_secret_expires_at: 0 });
        if (scopes) out.scope = scopes.join(" ");
        return new Response(JSON.stringify(out), { status: 201, headers: { "content-type": "application/json", "cache-control": "no-store" } });
      }
    },

    async markUsed(client) {
      if (client.kind !== "registered") return;
      const now = Date.now();
      // At most hourly: this runs on every token request, and expiry only needs to know the day.
      if (client.lastUsedAt && now - Date.parse(client.lastUsedAt) < HOUR_MS) return;
      sweep();
      const current = (await opts.store.getItem(KIND, client.clientId)) as ClientRecord | undefined;
      if (current) await opts.store.putItem(KIND, client.clientId, { ...current, lastUsedAt: new Date(now).toISOString() });
    },

    async authenticate(request, form) {
      const header = request.headers.get("authorization");
      let id: string | undefined;
      let secret: string | undefined;
      if (header && /^Basic\s+/i.test(header)) {
        let decoded: string;
        try {
          decoded = atob(header.replace(/^Basic\s+/i, "").trim());
        } catch {
          throw oauthError("invalid_client", "malformed Basic credentials", { status: 401, headers: BASIC_CHALLENGE });
        }
        const colon = decoded.indexOf(":");
        if (colon < 0) throw oauthError("invalid_client", "malformed Basic credentials", { status: 401, headers: BASIC_CHALLENGE });
        // RFC 6749 §2.3.1: both parts are form-urlencoded before they are joined.
        const unform = (s: string) => decodeURIComponent(s.replace(/\+/g, " "));
        try {
          id = unform(decoded.slice(0, colon));
          secret = unform(decoded.slice(colon + 1));
        } catch {
          throw oauthError("invalid_client", "malformed Basic credentials", { status: 401 });
        }
        if (form.has("client_id") && form.get("client_id") !== id) throw oauthError("invalid_request", "client_id does not match the Basic credentials");
      } else if (form.has("client_secret")) {
        id = form.get("client_id") ?? undefined;
        secret = form.get("client_secret")!;
      } else {
        id = form.get("client_id") ?? undefined;
      }
      if (!id) throw oauthError("invalid_client", "client authentication is required", { status: 401 });
      const client = await find(id);
      if (!client) throw oauthError("invalid_client", "unknown client", { status: 401 });
      if (client.secretHash) {
        if (secret === undefined) throw oauthError("invalid_client", "this client must authenticate with its secret", { status: 401 });
        if (!constantTimeEqual(await hashSecret(secret), client.secretHash)) throw oauthError("invalid_client", "client authentication failed", { status: 401 });
        // Basic and post are equally strong, so either is accepted whichever one the client registered.
      } else if (secret !== undefined) {
        throw oauthError("invalid_client", "this client is public and has no secret", { status: 401 });
      }
      return client;
    },
  };
}
