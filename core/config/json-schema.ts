// The JSON Schema (draft 2020-12) of a JSON gateway config: the one description of the format. The loader
// validates with it (core/config/json-validate.ts), editors use the copy written to
// core/config/gateway.config.schema.json (kept equal by tests/core/json-config.test.ts), and the plugin
// factories then check what only they can (an issuer must be https, a master key must decode ...).
//
// Every string may hold `${VAR}`, replaced from the environment when the config is loaded, so patterns
// accept a value with a `${VAR}` in it and leave the check of the result to the loader.

/** A JSON Schema node. */
export type JsonSchema = { [keyword: string]: unknown };

const ENV_REF = String.raw`.*\$\{[A-Za-z_][A-Za-z0-9_]*\}.*`;

/** A pattern that also accepts any value containing `${VAR}`. */
function orEnv(pattern: string): string {
  return `^(?:${pattern}|${ENV_REF})$`;
}

function text(description: string, errorMessage = "expected a non-empty string"): JsonSchema {
  return { type: "string", minLength: 1, description, errorMessage };
}

function patterned(pattern: string, description: string, errorMessage: string): JsonSchema {
  return { type: "string", pattern: orEnv(pattern), ...(description ? { description } : {}), errorMessage };
}

function integer(minimum: number, maximum: number | undefined, description: string, errorMessage: string): JsonSchema {
  return { type: "integer", minimum, ...(maximum === undefined ? {} : { maximum }), description, errorMessage };
}

function flag(description: string): JsonSchema {
  return { type: "boolean", description, errorMessage: "expected true or false" };
}

function list(description: string, items: JsonSchema = { type: "string", minLength: 1, errorMessage: "expected a non-empty string" }, errorMessage = "expected an array of strings"): JsonSchema {
  return { type: "array", items, description, errorMessage };
}

function object(description: string, properties: Record<string, JsonSchema>, required: string[] = [], errorMessage?: string): JsonSchema {
  return {
    type: "object",
    description,
    properties,
    ...(required.length ? { required } : {}),
    additionalProperties: false,
    ...(errorMessage ? { errorMessage } : {}),
  };
}

function ref(name: string, description?: string): JsonSchema {
  return { $ref: `#/$defs/${name}`, ...(description ? { description } : {}) };
}

function stringMap(description: string, errorMessage: string): JsonSchema {
  return { type: "object", description, additionalProperties: { type: "string", errorMessage: "expected a string" }, errorMessage };
}

const DURATION = String.raw`\d{1,6}[smhdw]`;
const HTTP_URL = String.raw`https?://\S+`;
const HEADER_NAME = "[!#$%&'*+.^_`|~0-9A-Za-z-]+";
const ENV_NAME = "[A-Za-z_][A-Za-z0-9_]*";
const IDENTITY_FIELDS = ["subject", "email", "name", "team", "roles", "org"];
const PROVIDERS = ["okta", "auth0", "azure-ad", "google", "custom"];
const ALGORITHMS = ["RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA", "Ed25519"];

const duration = (description: string): JsonSchema => patterned(DURATION, description, "expected a duration such as 90m, 24h, 7d or 30d");
const durationOf = (what: string, fallback: string): JsonSchema => duration(`${what}, a duration such as 90m, 24h or 30d; default ${fallback}.`);
const nameOrNames = (description: string, errorMessage: string): JsonSchema => ({
  ...(description ? { description } : {}),
  anyOf: [{ type: "string", minLength: 1 }, { type: "array", items: { type: "string", minLength: 1 }, minItems: 1 }],
  errorMessage,
});
const claimPath = nameOrNames("A claim name, a dot path (realm_access.roles), or an array of them.", "expected a claim name or an array of claim names");
const enabled = flag("false turns this entry off (it is then not checked any further).");

const RATE = (description: string): JsonSchema => patterned(String.raw`\d{1,9}/(?:\d{1,6})?[smhd]`, description, "expected a rate such as 100/m, 1000/h or 20/10s");
const PER_KIND = (description: string): JsonSchema => object(description, {
  development: duration(""),
  production: duration(""),
  ci: duration(""),
}, [], "expected { development?, production?, ci? } of durations");

const SERVER = object("Settings of the HTTP server and the MCP endpoint.", {
  host: text("Interface to listen on; default 127.0.0.1.", "expected a host name or IP address"),
  port: integer(0, 65535, "Port to listen on; default 8787 ($PORTCULLIS_PORT and --port win).", "expected an integer between 0 and 65535"),
  maxBodyBytes: integer(1, undefined, "Largest request body accepted, in bytes; default 4194304 (4 MiB).", "expected a positive integer number of bytes"),
  allowedOrigins: list("Browser origins allowed besides the gateway's own and loopback ones, e.g. https://app.example.com.", { type: "string", minLength: 1, errorMessage: "expected an origin such as https://app.example.com" }, "expected an array of origins"),
  trustedProxies: list("Reverse proxies (IP addresses or CIDR ranges) whose X-Forwarded-For names the client; default none.", { type: "string", minLength: 1, errorMessage: "expected an IP address or CIDR range such as 10.0.0.0/8" }, "expected an array of addresses or CIDR ranges"),
  separator: patterned(String.raw`[^\s/]{1,8}`, "Separator between server and tool names on /mcp; default __.", "expected 1 to 8 characters without spaces or slashes"),
  sessionIdleSeconds: integer(1, undefined, "Idle time after which an MCP session is closed; default 600.", "expected a positive integer number of seconds"),
  maxSessions: integer(1, undefined, "Most concurrent MCP sessions; default 10000.", "expected a positive integer"),
  maxSessionsPerUser: integer(1, undefined, "Most concurrent MCP sessions of one caller; default 16.", "expected a positive integer"),
  bodyTimeoutMs: integer(100, 600_000, "Time allowed to receive a request body, ms; default 30000.", "expected milliseconds from 100 to 600000"),
  headersTimeoutMs: integer(100, 600_000, "Time allowed to receive request headers, ms; default 15000.", "expected milliseconds from 100 to 600000"),
  publicUrl: patterned(String.raw`https?://[^/?#\s]+/?`, "The URL clients use to reach the gateway (https://mcp.example.com), no path.", "expected the gateway's public URL such as https://mcp.example.com (no path)"),
  ssl: object("Serve HTTPS (TLS 1.2 and up). The PEM files are read at start and again on SIGHUP or when they change.", {
    enabled: flag("false serves plain HTTP and ignores the rest; otherwise HTTPS with cert and key (both then required)."),
    cert: text("PEM file of the server certificate (intermediates after it).", "expected a file path"),
    key: text("PEM file of the certificate's private key (unencrypted).", "expected a file path"),
    ca: text("PEM file of the CA certificates client certificates are verified against.", "expected a file path"),
  }),
});

const IDENTITY_FORWARDING = object("Who upstream servers learn is calling: headers for HTTP servers, _meta for stdio servers.", {
  enabled: flag("false forwards no identity at all; default true."),
  headers: list(
    "The identity fields sent (X-User-Email, X-User-Name, X-User-Team, X-User-Roles, X-Organization-Id, X-User-Id); default email, name, team, roles, org. [] sends none.",
    { enum: IDENTITY_FIELDS },
    "expected an array of identity fields",
  ),
  headerNames: {
    type: "object",
    description: "Header name per field, replacing the default (X-User-Email ...).",
    propertyNames: { enum: IDENTITY_FIELDS },
    additionalProperties: patterned(HEADER_NAME, "", "expected an HTTP header name"),
    errorMessage: "expected an object of identity field to header name",
  },
  jwtAssertion: {
    description: "Also send a short-lived JWT signed by the gateway (keys at /.well-known/jwks.json): true, or its options.",
    anyOf: [
      { type: "boolean" },
      object("Options of the identity assertion.", {
        header: patterned(HEADER_NAME, "Header carrying the JWT to HTTP servers; default X-Portcullis-Assertion.", "expected an HTTP header name"),
        expiresInSeconds: integer(10, 3600, "Lifetime of each assertion; default 60.", "expected a whole number of seconds from 10 to 3600"),
        issuer: text("The iss claim; default server.publicUrl, else portcullis."),
        audience: text("The aud claim; {server} is replaced by the server's name. Default: the server's name."),
      }),
    ],
    errorMessage: "expected true, false or { header?, expiresInSeconds?, issuer?, audience? }",
  },
}, [], "expected { enabled?, headers?, headerNames?, jwtAssertion? }");

const UPSTREAM_COMMON: Record<string, JsonSchema> = {
  timeoutMs: integer(1, undefined, "Per-request timeout, ms; default 60000.", "expected a positive integer number of milliseconds"),
  connectTimeoutMs: integer(1, undefined, "Connect (start) timeout, ms; default 15000.", "expected a positive integer number of milliseconds"),
  restart: object("Reconnect backoff after a failure: first delay and cap, ms.", {
    initialDelayMs: integer(1, undefined, "First delay; default 250.", "expected a positive integer number of milliseconds"),
    maxDelayMs: integer(1, undefined, "Longest delay; default 30000.", "expected a positive integer number of milliseconds"),
  }, [], "expected { initialDelayMs?, maxDelayMs? }"),
  allowSampling: flag("Let the server ask callers for LLM sampling; default true."),
  allowElicitation: flag("Let the server ask callers for input (elicitation); default true."),
  maxCallerConnections: integer(1, undefined, "Most connections of its own this server gets for single caller sessions; default 32.", "expected a positive integer"),
  maxCallerConnectionsPerUser: integer(1, undefined, "Most of those one user holds at once on this server; default 16.", "expected a positive integer"),
  identityForwarding: ref("identityForwarding", "This server's own identity forwarding, replacing the gateway's."),
};

const PER_USER_COMMON: Record<string, JsonSchema> = {
  required: flag("Refuse users who have not stored their credential (PUT /v1/me/credentials/<server>); default true."),
  idleSeconds: integer(1, undefined, "Close a user's own connection after this many idle seconds.", "expected a positive integer number of seconds"),
};

const STDIO_COMMON: Record<string, JsonSchema> = {
  type: { const: "stdio", description: "Optional: the kind of server, told by its keys otherwise.", errorMessage: 'expected "stdio"' },
  env: stringMap("Extra environment of the process. ${VAR} comes from the gateway's environment, ${secret:NAME} from the secret sources at each start.", "expected an object of strings"),
  cwd: text("Working directory of the process.", "expected a directory"),
  inheritEnv: flag("Pass the gateway's whole environment instead of a safe default set (PATH, HOME ...); default false."),
  stderr: { enum: ["log", "inherit", "ignore"], description: "The server's stderr: log (default, redacted), inherit or ignore." },
  userCredential: object("Per-user credentials: each user gets their own process with their stored credential in this environment variable.", {
    env: patterned(ENV_NAME, "The environment variable that receives the user's credential.", "expected an environment variable name such as GITHUB_TOKEN"),
    ...PER_USER_COMMON,
  }, ["env"], "expected { env, required?, idleSeconds? }"),
  ...UPSTREAM_COMMON,
};

const STDIO_COMMAND = object("An MCP server started as a child process, speaking MCP over stdin/stdout.", {
  command: text("Executable to start.", "expected a command"),
  args: list("Its arguments.", { type: "string", errorMessage: "expected a string" }),
  ...STDIO_COMMON,
}, ["command"]);

const STDIO_SCRIPT = object("A .ts/.js MCP server file run with the gateway's own runtime (node, deno or bun).", {
  script: text("The server file, relative to the directory the gateway is started in.", "expected a file path"),
  ...STDIO_COMMON,
}, ["script"]);

const HTTP = object("An MCP server reached over Streamable HTTP.", {
  type: { const: "http", description: "Optional: the kind of server, told by its keys otherwise.", errorMessage: 'expected "http"' },
  url: patterned(HTTP_URL, "The server's MCP endpoint, e.g. https://mcp.example.com/mcp.", "expected an http(s) URL"),
  headers: {
    ...stringMap("Headers sent on every request (the server's credentials, never shown to clients). ${secret:NAME} is resolved from the secret sources.", "expected an object of strings"),
    propertyNames: { pattern: `^${HEADER_NAME}$`, errorMessage: "expected a valid header name" },
  },
  userCredential: object("Per-user credentials: each user's requests carry their own stored credential.", {
    header: patterned(HEADER_NAME, "Header carrying it; default Authorization.", "expected a header name such as Authorization"),
    format: patterned(".*\\{credential\\}.*", "How it is written; default \"Bearer {credential}\".", "expected a string containing {credential}, such as \"Bearer {credential}\""),
    ...PER_USER_COMMON,
  }, [], "expected { header?, format?, required?, idleSeconds? }"),
  ...UPSTREAM_COMMON,
}, ["url"]);

const OAUTH_CLIENT = object("A client that may use client_credentials (a headless agent).", {
  clientId: text("Its client id (not a URL)."),
  clientSecret: { type: "string", minLength: 16, description: "The secret it presents; only its hash is kept.", errorMessage: "expected a secret of at least 16 characters" },
  name: text("Shown on audit events and in the sessions list."),
  identity: object("Who the agent acts as.", {
    subject: text("The subject."),
    email: text("Email."),
    name: text("Display name."),
    team: text("Team."),
    roles: list("Roles."),
    org: text("Organization."),
    permissions: ref("permissions"),
  }, ["subject"], "expected { subject, email?, name?, team?, roles?, org?, permissions? }"),
  scopes: list("Scopes it may get; default mcp:read, mcp:write.", { enum: ["mcp:read", "mcp:write", "admin"] }, "expected an array of mcp:read, mcp:write, admin"),
}, ["clientId", "clientSecret", "identity"]);

const AUTH: Record<string, JsonSchema> = {
  bearer: object("Gateway-issued bearer tokens (Authorization: Bearer pt_...).", {
    type: { const: "bearer" },
    enabled,
    realm: text("Realm in the WWW-Authenticate challenge; default portcullis."),
  }, ["type"]),
  "api-key": object("Gateway-issued API keys (pk_...) in a header.", {
    type: { const: "api-key" },
    enabled,
    header: patterned("[A-Za-z0-9-]+", "Header carrying the key; default X-API-Key.", "expected a header name such as X-API-Key"),
  }, ["type"]),
  oauth: object("OAuth (Portkey-compatible): with clientSecret the gateway signs users in at the IdP and is the OAuth server for MCP clients; with only audience it accepts the IdP's own access tokens.", {
    type: { const: "oauth" },
    enabled,
    provider: { enum: PROVIDERS, description: "Claim and issuer preset; default custom." },
    issuer: patterned(HTTP_URL, "The IdP's issuer URL.", "expected an https URL"),
    clientId: text("The gateway's client id at the IdP."),
    clientSecret: text("The gateway's client secret at the IdP."),
    scopes: list("Scopes asked of the IdP; default openid, email, profile."),
    tokenExpiration: durationOf("Refresh token and session lifetime", "30d"),
    audience: nameOrNames("The aud the IdP puts in access tokens meant for the gateway.", "expected an audience or an array of them"),
    tenant: text("Azure AD tenant id (GUID)."),
  }, ["type"]),
  "oauth-server": object("The gateway as the OAuth 2.1 server MCP clients talk to, signing users in at the company IdP.", {
    type: { const: "oauth-server" },
    enabled,
    upstream: object("The IdP users sign in at.", {
      issuer: patterned(HTTP_URL, "The IdP's issuer URL (https; http only on loopback).", "expected an https URL"),
      clientId: text("The gateway's client id at the IdP."),
      clientSecret: text("The gateway's client secret at the IdP."),
      scopes: list("Scopes asked of the IdP; default openid, email, profile."),
      provider: { enum: PROVIDERS, description: "Claim preset; default custom." },
    }, ["issuer", "clientId", "clientSecret"], "expected { issuer, clientId, clientSecret, scopes?, provider? }"),
    accessTokenTtl: durationOf("Access token lifetime", "1h"),
    refreshTokenTtl: durationOf("Refresh token and session lifetime", "30d"),
    tokenExpiration: durationOf("Same as refreshTokenTtl", "30d"),
    codeTtl: durationOf("Authorization code lifetime", "60s"),
    loginTtl: durationOf("Time allowed for signing in and consenting", "10m"),
    clients: list("Static clients for client_credentials.", OAUTH_CLIENT, "expected an array of clients"),
    skipConsentFor: list("Client ids the operator trusts: no consent page."),
    registration: object("Limits on open dynamic client registration.", {
      perMinute: integer(1, undefined, "Registrations per remote address per minute; default 20.", "expected a positive integer"),
      maxClients: integer(1, undefined, "Registered clients kept at most; default 10000.", "expected a positive integer"),
    }, [], "expected { perMinute?, maxClients? }"),
    claims: object("Which IdP claims become roles, team and org.", {
      roles: list("Claims whose values become roles; default roles, groups."),
      team: text("Claim holding the team."),
      org: text("Claim holding the organization."),
    }, [], "expected { roles?, team?, org? }"),
    adminRoles: list("Users holding one of these roles also get the admin scope."),
    allowInsecureClientMetadata: flag("Accept http:// loopback client ID metadata documents: tests only."),
    servers: list("Server names listed on the consent page."),
  }, ["type", "upstream"]),
  oidc: object("Access tokens of an OIDC identity provider (Okta, Auth0, Azure AD, Google, any other), verified against its JWKS.", {
    type: { const: "oidc" },
    enabled,
    issuer: patterned(HTTP_URL, "The IdP's issuer identifier (https; http only on loopback).", "expected an https URL"),
    audience: nameOrNames("The aud the IdP puts in access tokens meant for the gateway.", "expected an audience or an array of them"),
    provider: { enum: PROVIDERS, description: "Issuer check and claim preset; default custom." },
    tenant: text("Azure AD tenant id (GUID), with provider azure-ad."),
    claims: object("Per-field claim paths, overriding the preset's.", {
      subject: claimPath, email: claimPath, emailVerified: claimPath, name: claimPath, team: claimPath, org: claimPath, roles: claimPath, scopes: claimPath,
    }, [], "expected an object of identity field to claim path"),
    clockSkewSeconds: { type: "number", minimum: 0, maximum: 300, description: "Allowed clock difference; default 30.", errorMessage: "expected a number of seconds between 0 and 300" },
    algorithms: list("Accepted signature algorithms (asymmetric only).", { enum: ALGORITHMS }, "expected an array of algorithm names"),
    scopes: { type: "object", description: "Gateway scope to the IdP scope(s) that grant it.", additionalProperties: nameOrNames("", "expected an IdP scope name or an array of them"), errorMessage: "expected an object of gateway scope to IdP scope(s)" },
    defaultScopes: list("Gateway scopes every valid token gets."),
    requiredScopes: list("IdP scopes every token must carry."),
    roleMap: { type: "object", description: "IdP group or role value to gateway role(s).", additionalProperties: { anyOf: [{ type: "string", minLength: 1 }, { type: "array", items: { type: "string", minLength: 1 } }], errorMessage: "expected a role name or an array of them" }, errorMessage: "expected an object of IdP group to gateway role(s)" },
    allowedDomains: list("Accepted account domains."),
    trustUnverifiedEmail: flag("Report the email even when the IdP does not mark it verified; default false."),
    introspection: object("RFC 7662 introspection for opaque access tokens.", {
      clientId: text("Client id at the introspection endpoint."),
      clientSecret: text("Client secret at the introspection endpoint."),
      authMethod: { enum: ["client_secret_basic", "client_secret_post"], description: "Default client_secret_basic." },
      cacheSeconds: { type: "number", minimum: 0, maximum: 60, description: "How long an active answer is reused; default 30.", errorMessage: "expected a number of seconds between 0 and 60" },
      requireAudience: flag("Refuse answers without a matching aud; default true."),
      maxInFlight: integer(1, 1024, "Introspection calls in flight at once; default 16.", "expected a whole number of calls between 1 and 1024"),
    }, ["clientId", "clientSecret"], "expected { clientId, clientSecret, ... }"),
    jwks: object("JWKS caching.", {
      cacheMaxAgeSeconds: { type: "number", minimum: 0, maximum: 86400, description: "Default 600.", errorMessage: "expected a number of seconds between 0 and 86400" },
      cooldownSeconds: { type: "number", minimum: 0, maximum: 3600, description: "Default 30.", errorMessage: "expected a number of seconds between 0 and 3600" },
      timeoutMs: { type: "number", minimum: 100, maximum: 60_000, description: "Default 5000.", errorMessage: "expected a number of milliseconds between 100 and 60000" },
    }, [], "expected { cacheMaxAgeSeconds?, cooldownSeconds?, timeoutMs? }"),
    otherIssuers: { enum: ["refuse", "skip"], description: "A JWT of another issuer: refuse (default) or skip to the next strategy." },
  }, ["type", "audience"]),
  mtls: object("Client certificates (mutual TLS), verified against the configured CA: from the TLS connection, or from a trusted TLS-terminating proxy's header.", {
    type: { const: "mtls" },
    enabled,
    ca: nameOrNames("Trusted CA certificates: PEM file path(s) or PEM text.", "expected a PEM file path, PEM text, or an array of them"),
    requireClientCert: flag("Refuse requests without a client certificate (default true); false leaves them to the next strategy."),
    identity: object("Which certificate fields become the identity.", {
      user: { enum: ["cn", "email", "uri"], description: "The subject: CN, SAN email or SAN URI (SPIFFE ID); default SAN email, else CN." },
      team: { enum: ["o", "ou"], description: "The team: the subject's O or OU." },
      org: { enum: ["o"], description: "The organization: the subject's O." },
    }, [], "expected { user?, team?, org? }"),
    allowedSubjects: list("Subjects (after mapping) that may authenticate: exact, or globs with *."),
    crl: nameOrNames("CRL file path(s), PEM or DER, signed by a configured CA; re-read when changed.", "expected a CRL file path or an array of them"),
    scopes: list("Scopes a certificate identity gets; default mcp:read, mcp:write."),
    proxy: object("Take the certificate from a TLS-terminating proxy's header, believed only from trustedProxies.", {
      header: patterned("[A-Za-z0-9-]+", "Default X-Forwarded-Client-Cert.", "expected a header name such as X-Forwarded-Client-Cert"),
      format: { enum: ["xfcc", "pem-urlencoded"], description: "xfcc (Envoy, default) or pem-urlencoded (nginx $ssl_client_escaped_cert, Traefik)." },
      trustedProxies: list("CIDRs of the proxies (10.0.0.0/8, fd00::/8, 127.0.0.1)."),
    }, ["trustedProxies"], "expected { header?, format?, trustedProxies }"),
  }, ["type", "ca"]),
};

/** The auth `type`s the schema describes, in the order they are listed. */
export const JSON_AUTH_TYPES: readonly string[] = Object.keys(AUTH);

const AUTH_STRATEGY: JsonSchema = {
  description: "An auth strategy: { \"type\": ..., options }. \"enabled\": false turns it off.",
  type: "object",
  if: { properties: { enabled: { const: false } }, required: ["enabled"] },
  then: { type: "object" },
  else: { oneOf: JSON_AUTH_TYPES.map((t) => ref(`auth-${t}`)) },
  errorMessage: `expected { "type": ${JSON_AUTH_TYPES.join(" | ")}, ... }`,
};

const AUDIT_SINK: JsonSchema = {
  description: "An audit sink.",
  type: "object",
  required: ["type"],
  oneOf: [
    object("Appends events to a file, one JSON object per line.", {
      type: { const: "jsonl" },
      path: text("The file; its directory is created.", "expected a file path"),
      maxBuffered: integer(1, undefined, "Most events held while the disk is slow; default 10000.", "expected a positive integer"),
      flushMs: integer(1, undefined, "How long events may wait before a write, ms; default 200.", "expected a positive integer number of milliseconds"),
    }, ["type", "path"]),
    object("Writes every event as one JSON line on stderr.", { type: { const: "console" } }, ["type"]),
  ],
  errorMessage: 'expected { "type": "jsonl", "path" } or { "type": "console" }',
};

const SECRET_SOURCE: JsonSchema = {
  description: "A secret source, asked in order for ${secret:NAME}.",
  type: "object",
  required: ["type"],
  oneOf: [
    object("Secrets from the gateway's environment: ${secret:GITHUB} reads $GITHUB (with prefix P: $PGITHUB).", {
      type: { const: "env" },
      prefix: { type: "string", description: "Prefix added to the secret's name to find the variable.", errorMessage: "expected a string" },
    }, ["type"]),
    object("Secrets kept encrypted in the gateway's store under the master key (set them with portcullis secrets set).", {
      type: { const: "vault" },
      masterKey: text("The master key, 32 bytes as base64 or 64 hex digits; default $PORTCULLIS_MASTER_KEY. Write \"${PORTCULLIS_MASTER_KEY}\", never the key itself."),
      previousKeys: list("Earlier master keys still accepted for reading; default $PORTCULLIS_MASTER_KEY_PREVIOUS."),
    }, ["type"]),
  ],
  errorMessage: 'expected { "type": "env", "prefix"? } or { "type": "vault", "masterKey"? }',
};

const STORE: JsonSchema = {
  description: "Where tokens, API keys, OAuth grants, vault secrets and per-user credentials live.",
  type: "object",
  required: ["type"],
  oneOf: [
    object("An append-only file in a directory (the default under the CLI: $PORTCULLIS_DATA_DIR or .portcullis).", {
      type: { const: "file" },
      dir: text("The directory; created with mode 0700.", "expected a directory path"),
    }, ["type", "dir"]),
    object("Memory only: everything is lost when the gateway stops.", { type: { const: "memory" } }, ["type"]),
  ],
  errorMessage: 'expected { "type": "file", "dir" } or { "type": "memory" }',
};

const PERMISSIONS = object("What a role reaches.", {
  servers: list("Server names or globs (*)."),
  tools: list("Tool names (server__tool), globs, read or write."),
}, [], "expected { servers?, tools? }");

/**
 * The JSON Schema of a JSON gateway config (`{ server, auth, mcpServers, identityForwarding, ... }`).
 *
 * @example
 * await writeFile("core/config/gateway.config.schema.json", JSON.stringify(GATEWAY_JSON_SCHEMA, null, 2) + "\n");
 */
export const GATEWAY_JSON_SCHEMA: JsonSchema = {
  $schema: "https://json-schema.org/draft/2020-12/schema",
  title: "Portcullis gateway config (JSON)",
  description: "A Portcullis gateway config as JSON: the Portkey-compatible keys (server, auth, mcpServers, identityForwarding) and every built-in plugin that can be written as data. ${VAR} in any string is replaced from the environment; $${ is a literal ${.",
  type: "object",
  properties: {
    $schema: { type: "string", description: "This schema, for editors: e.g. ./node_modules/portcullis/core/config/gateway.config.schema.json." },
    server: SERVER,
    auth: {
      description: "How callers authenticate: one strategy, or several tried in order. None means every /mcp request is refused.",
      anyOf: [ref("authStrategy"), { type: "array", items: ref("authStrategy") }],
      errorMessage: "expected an auth strategy { \"type\", ... } or an array of them",
    },
    mcpServers: {
      type: "object",
      description: "The MCP servers behind the gateway, by name.",
      propertyNames: { pattern: "^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$", errorMessage: "expected a server name of letters, digits, - and _ (at most 64)" },
      additionalProperties: ref("upstream"),
      errorMessage: "expected an object of servers by name",
    },
    identityForwarding: ref("identityForwarding"),
    tokens: object("Gateway tokens and API keys.", {
      store: ref("store"),
      defaultExpiresIn: durationOf("Lifetime of a token created without expiresIn", "30d"),
      maxExpiresIn: durationOf("Longest expiresIn accepted", "365d"),
      verifyCacheMs: integer(0, 60_000, "How long a verified token may be answered from memory, ms; default 1000, 0 turns it off.", "expected milliseconds from 0 to 60000"),
      maxLifetime: PER_KIND("Longest lifetime per token kind; defaults development 30d, production 7d, ci 24h."),
      rotateEvery: PER_KIND("Rotation period per token kind: answers carry Portcullis-Token-Rotate-By, one audit event when due. No default."),
    }, [], "expected { store?, defaultExpiresIn?, maxExpiresIn?, verifyCacheMs?, maxLifetime?, rotateEvery? }"),
    roles: {
      type: "object",
      description: "Role name to the servers and tools its holders may reach.",
      additionalProperties: ref("permissions"),
      errorMessage: "expected an object of role names to { servers?, tools? }",
    },
    audit: {
      description: "Audit sinks. Default (under the CLI): a JSONL file audit.jsonl in the data directory. false or { \"enabled\": false } turns auditing off.",
      anyOf: [
        { type: "boolean" },
        { type: "array", items: ref("auditSink") },
        object("Audit settings.", {
          enabled: flag("false turns auditing off; default true."),
          sinks: { type: "array", items: ref("auditSink"), description: "The sinks, replacing the default file.", errorMessage: "expected an array of audit sinks" },
        }),
      ],
      errorMessage: "expected false, an array of audit sinks, or { enabled?, sinks? }",
    },
    secrets: { type: "array", description: "Where ${secret:NAME} is resolved, asked in order; default [{ \"type\": \"env\" }].", items: ref("secretSource"), errorMessage: "expected an array of secret sources" },
    admin: object("Admin access to /v1/auth.", {
      token: text("A static admin token of at least 32 characters (default $PORTCULLIS_ADMIN_TOKEN); write \"${VAR}\", never the token itself."),
      bootstrap: flag("On a start with no admin at all, create one admin token and print it once; default true."),
    }, [], "expected { token?, bootstrap? }"),
    console: object("The web console at /console.", {
      enabled: flag("false turns /console off; default true."),
      idleTimeout: durationOf("A console session unused this long ends", "30m"),
      absoluteTimeout: durationOf("A console session ends this long after sign-in", "12h"),
    }, [], "expected { enabled?, idleTimeout?, absoluteTimeout? }"),
    keys: object("The gateway's signing keys (identity assertions, OAuth access tokens).", {
      rotateEvery: durationOf("Make a new signing key current this often", "never"),
      retain: durationOf("How long a replaced key still verifies", "1d"),
      masterKey: text("The key that seals private keys in a shared store; default $PORTCULLIS_MASTER_KEY. Write \"${VAR}\", never the key itself."),
    }, [], "expected { rotateEvery?, retain?, masterKey? }"),
    metrics: {
      description: "GET /metrics in the Prometheus text format; false turns it off.",
      anyOf: [
        { const: false },
        object("Metrics settings.", {
          enabled: flag("false turns /metrics off; default true."),
          allowFrom: list("Addresses or CIDR ranges that may scrape without a credential; default none.", { type: "string", minLength: 1, errorMessage: "expected an IP address or CIDR range" }, "expected an array of addresses or CIDR ranges"),
        }),
      ],
      errorMessage: "expected false or { enabled?, allowFrom? }",
    },
    tracing: object("OpenTelemetry traces, exported over OTLP/HTTP (JSON).", {
      otlp: object("The collector.", {
        url: patterned(HTTP_URL, "The OTLP/HTTP traces URL, e.g. http://collector:4318/v1/traces.", "expected an http(s) URL"),
        headers: stringMap("Headers sent with every export (${VAR} for secrets).", "expected an object of header names to values"),
      }, ["url"], "expected { url, headers? }"),
      serviceName: text("service.name of the spans; default portcullis."),
    }, [], "expected { otlp?, serviceName? }"),
    limits: {
      description: "Brute-force defence (on by default) and rate limits on tool calls (none by default); false turns all of it off.",
      anyOf: [
        { const: false },
        object("Limits.", {
          failedAuth: {
            anyOf: [
              { const: false },
              object("Failed-authentication lockout.", {
                within: durationOf("Window failures are counted over", "1m"),
                slowAfter: integer(1, undefined, "Failures after which answers are slowed; default 10.", "expected a positive whole number"),
                delayMs: integer(0, 10_000, "Delay added to slowed answers, ms; default 250.", "expected milliseconds from 0 to 10000"),
                lockAfter: integer(1, undefined, "Failures after which the address or credential is refused with 429; default 20.", "expected a positive whole number"),
                lockFor: durationOf("How long a lockout lasts", "5m"),
              }),
            ],
            errorMessage: "expected false or { within?, slowAfter?, delayMs?, lockAfter?, lockFor? }",
          },
          token: RATE("Tool calls of each token or API key (its own rateLimit wins)."),
          user: RATE("Tool calls of each user, all their credentials together."),
          server: {
            description: "Tool calls to each server, all callers together: one rate, or rates by server name (* for the others).",
            anyOf: [RATE(""), { type: "object", additionalProperties: RATE("") }],
            errorMessage: "expected a rate such as 1000/m, or an object of server names (or *) to rates",
          },
        }),
      ],
      errorMessage: "expected false or { failedAuth?, token?, user?, server? }",
    },
    alerts: {
      type: "array",
      description: "Alert rules over the audit trail; each firing is an alert audit event.",
      items: object("One alert rule.", {
        when: { enum: ["auth.failed", "token.used_from_new_address", "admin.action", "lockout", "rate_limit", "oauth.replay", "tool_call.denied"], description: "What the rule watches.", errorMessage: "expected auth.failed, token.used_from_new_address, admin.action, lockout, rate_limit, oauth.replay or tool_call.denied" },
        name: text("A name for the rule; default its when."),
        count: integer(1, undefined, "Fire once this many matching events arrive within the window; left out, fire on each.", "expected a positive whole number"),
        within: durationOf("The window of count", "5m"),
        by: { enum: ["address", "user", "token"], description: "What count is kept per; default address.", errorMessage: "expected address, user or token" },
        severity: { enum: ["info", "warning", "critical"], description: "Severity of the alert; default warning.", errorMessage: "expected info, warning or critical" },
      }, ["when"], "expected { when, name?, count?, within?, by?, severity? }"),
      errorMessage: "expected an array of alert rules",
    },
    logLevel: { enum: ["debug", "info", "warn", "error", "silent"], description: "Log level; default info." },
  },
  required: ["mcpServers"],
  additionalProperties: false,
  $defs: {
    authStrategy: AUTH_STRATEGY,
    ...Object.fromEntries(JSON_AUTH_TYPES.map((t) => [`auth-${t}`, AUTH[t]!])),
    upstream: {
      description: "One MCP server: { command, args? } or { script } (stdio), or { url } (Streamable HTTP).",
      oneOf: [ref("stdioCommand"), ref("stdioScript"), ref("http")],
      errorMessage: "expected { command, args?, ... } or { script, ... } (stdio) or { url, headers?, ... } (http)",
    },
    stdioCommand: STDIO_COMMAND,
    stdioScript: STDIO_SCRIPT,
    http: HTTP,
    identityForwarding: IDENTITY_FORWARDING,
    permissions: PERMISSIONS,
    auditSink: AUDIT_SINK,
    secretSource: SECRET_SOURCE,
    store: STORE,
  },
};
