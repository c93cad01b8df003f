import * as v from "valibot";
import { plainObject } from "../config/schema.ts";
import { GatewayError } from "../errors.ts";
import { parseBody, readApiBody } from "../http/api-body.ts";
import { json } from "../http/responses.ts";
import type { AuthContext, Identity, Route } from "../types.ts";
import { toolEntryProblem } from "../auth/permissions.ts";
import { principalOf } from "../auth/principal.ts";
import { assertWithinRights, isRootAdmin } from "./delegation.ts";
import { parseDuration } from "./duration.ts";
import { API_KEY_PREFIX, constantTimeEqual, hashSecretSync, redactSecrets, TOKEN_PREFIX, wellFormed } from "./secret.ts";
import { KNOWN_SCOPES } from "./service.ts";
import { parseRate } from "../limits/rate.ts";
import { acceptedTokenTypes } from "./strategy.ts";
import type { AuthStrategy, CreateTokenInput, TokenFilter, TokenService, TokenStore, TokenType } from "../types.ts";

const text = (max: number, what = "a string") => v.pipe(v.string(`expected ${what}`), v.minLength(1, `expected ${what}`), v.maxLength(max, `expected at most ${max} characters`));
const names = (what: string) => v.pipe(v.array(text(200, what), `expected an array of ${what}s`), v.maxLength(100, "expected at most 100 entries"));

const CreateBody = plainObject({
  user: text(200, "the user the token is for"),
  name: v.optional(text(200)),
  email: v.optional(v.pipe(text(320, "an email address"), v.email("expected an email address"))),
  team: v.optional(text(200)),
  roles: v.optional(names("role name")),
  org: v.optional(text(200)),
  type: v.optional(v.picklist(["token", "api-key", "certificate"], 'expected "token", "api-key" or "certificate"')),
  certificate: v.optional(plainObject({
    fingerprint: v.optional(v.pipe(
      v.string("expected the certificate's SHA-256 fingerprint in hex"),
      v.transform((s) => s.replace(/:/g, "").toLowerCase()),
      v.regex(/^[0-9a-f]{64}$/, "expected the certificate's SHA-256 fingerprint: 64 hex digits, colons allowed"),
    )),
    subject: v.optional(text(500, "the certificate subject as mtls() maps it (SAN email, CN or SPIFFE ID)")),
  }, "unknown key; expected fingerprint or subject")),
  kind: v.optional(v.picklist(["development", "production", "ci"], 'expected "development", "production" or "ci"')),
  scopes: v.optional(v.array(v.picklist(KNOWN_SCOPES, `expected one of ${KNOWN_SCOPES.join(", ")}`), "expected an array of scopes")),
  permissions: v.optional(plainObject({
    servers: v.optional(names("server name or glob")),
    tools: v.optional(names("tool name, glob, read or write")),
  }, "unknown key; expected servers or tools")),
  description: v.optional(text(500)),
  expiresIn: v.optional(v.string("expected a duration such as 90m, 24h, 7d or 30d")),
  rateLimit: v.optional(v.pipe(v.string("expected a rate such as 100/m, 1000/h or 20/10s"), v.check((r) => {
    try {
      return parseRate(r, "rateLimit") !== undefined;
    } catch {
      return false;
    }
  }, "expected a rate such as 100/m, 1000/h or 20/10s"))),
}, "unknown key; expected one of user, name, email, team, roles, org, type, certificate, kind, scopes, permissions, description, expiresIn, rateLimit");

const RotateBody = plainObject({
  graceSeconds: v.optional(v.pipe(v.number("expected a number of seconds"), v.integer("expected whole seconds"), v.minValue(0, "expected 0 to 3600"), v.maxValue(3600, "expected 0 to 3600"))),
}, "unknown key; expected graceSeconds");


/**
 * Validates a token-create body (API and CLI alike) into service input; errors name the field.
 *
 * @example
 * const input = parseCreateBody({ user: "alice", scopes: ["mcp:read"], expiresIn: "7d" }, "__");
 */
export function parseCreateBody(input: unknown, separator: string): CreateTokenInput {
  const { expiresIn, ...rest } = parseBody(CreateBody, input);
  // A tool entry that names no server would grant nothing: refused where it is written, not found out later.
  rest.permissions?.tools?.forEach((entry, i) => {
    const problem = toolEntryProblem(entry, separator);
    if (problem) throw new GatewayError("ERR_BAD_REQUEST", `permissions.tools[${i}]: ${problem}`);
  });
  // A certificate record names its certificate, and only a certificate record does.
  if (rest.certificate !== undefined) {
    rest.type ??= "certificate";
    if (rest.type !== "certificate") throw new GatewayError("ERR_BAD_REQUEST", 'certificate: only for type "certificate"');
    if ((rest.certificate.fingerprint === undefined) === (rest.certificate.subject === undefined)) throw new GatewayError("ERR_BAD_REQUEST", "certificate: expected either fingerprint or subject");
  } else if (rest.type === "certificate") {
    throw new GatewayError("ERR_BAD_REQUEST", "certificate: required for type \"certificate\": { fingerprint } or { subject }");
  }
  return { ...rest, expiresInSeconds: expiresIn === undefined ? undefined : parseDuration(expiresIn, "expiresIn") };
}

/** What the token API needs from the gateway. */
export interface AuthApiOptions {
  tokens: TokenService;
  /** Where a token named by its secret in the path is looked up by hash. */
  store: Pick<TokenStore, "findByHash">;
  /**
   * The strategies that authenticate `/mcp`: a create without `type` makes the kind they accept (an API
   * key when only `apiKey()` takes gateway credentials). Default: a bearer token.
   */
  strategies?: readonly AuthStrategy[];
  /** The separator between server and tool names (permission entries are compared part by part). */
  separator: string;
  /** Lifetime of a token created without `expiresIn`, seconds. */
  defaultLifetimeSeconds: number;
  /** Authenticates the request (auth pipeline plus the static admin token), or throws a 401 GatewayError. */
  authenticate(request: Request): Promise<Identity>;
  /** Time allowed to receive a request body, ms. */
  bodyTimeoutMs: number;
  /**
   * Serves `GET /v1/auth/tokens/{id}/usage` (core/tokens/usage.ts): called with the authenticated caller
   * and the token id; it decides who may read what. Without it that path is 404.
   */
  usage?: (request: Request, identity: Identity, tokenId: string) => Promise<Response>;
  /** The servers a caller may use, shown by whoami (`servers`) so a page can offer them; default none shown. */
  serversFor?: (identity: Identity) => string[];
}

/**
 * The `createdBy` of a token a user made for themselves (self-service): their issuer-qualified subject,
 * marked so that no admin's actor string can look the same. Such tokens are theirs to list, revoke and rotate.
 *
 * @example
 * ownerTag(identity); // "self:oauth:https://gw.example.com#alice"
 */
export function ownerTag(identity: Identity): string {
  return `self:${principalOf(identity)}`;
}

function owns(identity: Identity, token: { id: string; createdBy?: string } | undefined): boolean {
  return token !== undefined && (token.id === identity.tokenId || token.createdBy === ownerTag(identity));
}

// A user making a token for themselves: who the token is comes from their identity, never from the body.
const IDENTITY_FIELDS = ["name", "email", "team", "roles", "org"] as const;
function selfServiceInput(identity: Identity, input: CreateTokenInput): CreateTokenInput {
  if (input.user !== identity.subject) throw new GatewayError("ERR_FORBIDDEN", `user: a token for someone else needs the admin scope (you are ${identity.subject})`);
  for (const key of IDENTITY_FIELDS) {
    if (input[key] !== undefined) throw new GatewayError("ERR_FORBIDDEN", `${key}: set from your identity; choosing it needs the admin scope`);
  }
  if (input.type === "certificate") throw new GatewayError("ERR_FORBIDDEN", "type: certificate records need the admin scope");
  // Left out, scopes and permissions are the caller's own (never admin): what they may give, no more.
  const out: CreateTokenInput = {
    ...input,
    roles: [...identity.roles],
    scopes: input.scopes ?? identity.scopes.filter((s) => s !== "admin"),
    ...(input.permissions === undefined && identity.permissions !== undefined ? { permissions: identity.permissions } : {}),
  };
  for (const key of ["name", "email", "team", "org"] as const) if (identity[key] !== undefined) out[key] = identity[key];
  return out;
}

function isAdmin(identity: Identity): boolean {
  return identity.scopes.includes("admin");
}

function requireAdmin(identity: Identity): void {
  if (!isAdmin(identity)) throw new GatewayError("ERR_FORBIDDEN", "this operation needs the admin scope");
}

function actorOf(identity: Identity): string {
  return identity.tokenId ? `${identity.subject} (${identity.tokenId})` : identity.subject;
}

/**
 * The kind a create without `type` makes: a bearer token, unless the strategies take API keys only.
 *
 * @example
 * defaultType([apiKey()]); // "api-key"
 */
export function defaultType(strategies: readonly AuthStrategy[]): TokenType {
  const accepted = acceptedTokenTypes(strategies);
  return accepted.length === 1 && accepted[0] === "api-key" ? "api-key" : "token";
}

/**
 * The id of the token a path segment names: a `tok_` id as it is, or a token's own secret (`pt_`, `pk_`),
 * looked up by its hash, the way a leaked credential is reported. Never echoes the segment.
 */
async function tokenIdOf(segment: string, store: AuthApiOptions["store"]): Promise<string> {
  if (/^tok_[A-Za-z0-9]{16}$/.test(segment)) return segment;
  const type: TokenType | undefined = wellFormed(segment, TOKEN_PREFIX) ? "token" : wellFormed(segment, API_KEY_PREFIX) ? "api-key" : undefined;
  if (type === undefined) throw new GatewayError("ERR_NOT_FOUND", "not found");
  const hash = hashSecretSync(segment);
  const record = await store.findByHash(hash);
  if (!record || !constantTimeEqual(record.hash, hash) || record.type !== type) {
    throw new GatewayError("ERR_NOT_FOUND", `no ${type === "token" ? "token" : "API key"} with that secret`);
  }
  return record.id;
}

/**
 * Serves `/v1/auth/*`: token create, list, get, revoke, rotate and whoami. A token is named in the path by
 * its `tok_` id or by its secret (`DELETE /v1/auth/tokens/pt_...`). Returns undefined for paths it does
 * not own.
 *
 * @example
 * const res = await handleAuthApi(request, url, { tokens, store, separator: "__", defaultLifetimeSeconds: 2592000, bodyTimeoutMs: 30000, authenticate });
 */
export async function handleAuthApi(request: Request, url: URL, opts: AuthApiOptions): Promise<Response | undefined> {
  const path = url.pathname;
  if (!path.startsWith("/v1/auth/")) return undefined;
  const { tokens } = opts;
  const method = request.method;
  // The path may name a token by its secret: messages show it redacted.
  const notAllowed = (allow: string) => new GatewayError("ERR_METHOD_NOT_ALLOWED", `method ${method} is not allowed on ${redactSecrets(path)}`, { headers: { allow } });

  if (path === "/v1/auth/whoami") {
    if (method !== "GET") throw notAllowed("GET");
    const identity = await opts.authenticate(request);
    const { permissions, ...rest } = identity;
    return json({ ...rest, ...(permissions ? { permissions } : {}), ...(opts.serversFor ? { servers: opts.serversFor(identity) } : {}) });
  }

  if (path === "/v1/auth/tokens") {
    if (method !== "GET" && method !== "POST") throw notAllowed("GET, POST");
    const identity = await opts.authenticate(request);
    // Anyone signed in makes and lists their own tokens (self-service, within their own rights); the rest is admin.
    const admin = isAdmin(identity);
    if (method === "POST") {
      const parsed = parseCreateBody(await readApiBody(request, opts.bodyTimeoutMs), opts.separator);
      const input = admin ? parsed : selfServiceInput(identity, parsed);
      // A token this gateway's `/mcp` would refuse is no answer to a create that did not say which kind.
      input.type ??= defaultType(opts.strategies ?? []);
      const now = Date.now();
      // Without an explicit lifetime, a bounded credential hands out at most what it has left.
      if (input.expiresInSeconds === undefined && identity.expiresAt !== undefined && !isRootAdmin(identity)) {
        input.expiresInSeconds = Math.max(1, Math.min(opts.defaultLifetimeSeconds, Math.floor((identity.expiresAt - now) / 1000)));
      }
      assertWithinRights(identity, {
        scopes: input.scopes ?? ["mcp:read", "mcp:write"],
        roles: input.roles ?? [],
        permissions: input.permissions,
        expiresAt: now + (input.expiresInSeconds ?? opts.defaultLifetimeSeconds) * 1000,
      }, opts.separator);
      // A gateway token making a token for its own user makes a copy of itself: it dies with it.
      const forSelf = !admin || input.user === identity.subject;
      if (forSelf && identity.issuer === "gateway" && identity.tokenId?.startsWith("tok_")) input.parentId = identity.tokenId;
      const created = await tokens.create(input, forSelf ? ownerTag(identity) : actorOf(identity));
      // A certificate record has no secret: the certificate is the credential.
      return json(created.secret === "" ? created.record : { ...created.record, token: created.secret }, 201);
    }
    const filter: TokenFilter = {};
    for (const key of ["user", "team", "type", "state"] as const) {
      const value = url.searchParams.get(key);
      if (value !== null) (filter as Record<string, string>)[key] = value;
    }
    if (filter.type && !["token", "api-key", "certificate"].includes(filter.type)) throw new GatewayError("ERR_BAD_REQUEST", 'type: expected "token", "api-key" or "certificate"');
    if (filter.state && !["active", "expired", "revoked"].includes(filter.state)) throw new GatewayError("ERR_BAD_REQUEST", "state: expected active, expired or revoked");
    // `?mine=1`: the caller's own tokens (the ones they made, and the one they call with); anything else is admin.
    const mine = url.searchParams.get("mine") === "1";
    if (!mine) requireAdmin(identity);
    const listed = await tokens.list(filter);
    return json({ tokens: mine ? listed.filter((t) => owns(identity, t)) : listed });
  }

  const m = /^\/v1\/auth\/tokens\/([^/]+)(\/rotate|\/usage)?$/.exec(path);
  if (!m) throw new GatewayError("ERR_NOT_FOUND", "not found");
  const identity = await opts.authenticate(request);
  const id = await tokenIdOf(m[1]!, opts.store);
  // Usage is readable by the token's own user as well as by admins: the usage handler decides.
  if (m[2] === "/usage") {
    if (!opts.usage) throw new GatewayError("ERR_NOT_FOUND", "not found");
    if (method !== "GET") throw notAllowed("GET");
    return await opts.usage(request, identity, id);
  }
  // A credential may look at, revoke and rotate itself, a user the tokens they made; everything else needs admin.
  const self = identity.tokenId === id || (!isAdmin(identity) && owns(identity, await tokens.get(id)));
  if (!self) requireAdmin(identity);

  if (m[2] === "/rotate") {
    if (method !== "POST") throw notAllowed("POST");
    const { graceSeconds } = parseBody(RotateBody, await readApiBody(request, opts.bodyTimeoutMs));
    const target = await tokens.get(id);
    if (!target) throw new GatewayError("ERR_NOT_FOUND", `no token with id ${id}`);
    // Rotating hands out a fresh secret with the target's rights: only for a credential that has them all.
    assertWithinRights(identity, {
      scopes: target.scopes,
      roles: target.roles,
      permissions: target.permissions,
      expiresAt: target.expiresAt ? Date.parse(target.expiresAt) : Infinity,
    }, opts.separator);
    // A user's own token stays theirs when they rotate it.
    const rotated = await tokens.rotate(id, graceSeconds ?? 0, target.createdBy === ownerTag(identity) ? ownerTag(identity) : actorOf(identity));
    return json({ ...rotated.record, token: rotated.secret }, 201);
  }
  if (method === "GET") {
    const t = await tokens.get(id);
    if (!t) throw new GatewayError("ERR_NOT_FOUND", `no token with id ${id}`);
    return json(t);
  }
  if (method === "DELETE") return json(await tokens.revoke(id, actorOf(identity)));
  throw notAllowed("GET, DELETE");
}

/**
 * The token API as routes: `/v1/auth/whoami`, `/v1/auth/tokens`, `/v1/auth/tokens/{id or secret}[/rotate]`, each
 * behind the Origin check; the handlers authenticate (and answer 405) themselves, since who may do what
 * depends on the method and on whether a credential acts on itself.
 *
 * @example
 * const routes = tokenRoutes({ tokens, store, strategies: config.auth, separator: "__", defaultLifetimeSeconds: 2592000, bodyTimeoutMs: 30000 });
 */
export function tokenRoutes(opts: Omit<AuthApiOptions, "authenticate">): Route[] {
  const handler = async (request: Request, ctx: AuthContext): Promise<Response> =>
    (await handleAuthApi(request, ctx.url, { ...opts, authenticate: () => ctx.authenticate!() })) ?? notFound();
  return ["/v1/auth/whoami", "/v1/auth/tokens", "/v1/auth/tokens/*"].map((path) => ({ method: "*", path, origin: true, handler }));
}

function notFound(): never {
  throw new GatewayError("ERR_NOT_FOUND", "not found");
}
