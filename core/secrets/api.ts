import * as v from "valibot";
import { plainObject } from "../config/schema.ts";
import { principalOf } from "../auth/principal.ts";
import { GatewayError } from "../errors.ts";
import { decodePathSegment } from "../http/path.ts";
import { parseBody, readApiBody } from "../http/api-body.ts";
import { json } from "../http/responses.ts";
import type { AuthContext, Identity, Route, SecretSource, Upstream } from "../types.ts";
import { MASTER_KEY_ENV } from "./crypto.ts";
import { SECRET_NAME } from "./refs.ts";
import type { VaultAdmin } from "./types.ts";
import type { UserCredentialStore } from "./user-credentials.ts";


const ValueBody = plainObject({
  value: v.pipe(v.string("expected the secret value as a string"), v.minLength(1, "expected a non-empty string"), v.maxLength(16_384, "expected at most 16384 characters")),
}, "unknown key; expected value");

const RotateBody = plainObject({
  newKey: v.pipe(v.string("expected the new master key (32 bytes as base64 or hex)"), v.minLength(1, "expected the new master key (32 bytes as base64 or hex)")),
}, "unknown key; expected newKey");

/**
 * The vault among the configured secret sources (by its name `secrets:vault` and its admin methods), or
 * undefined.
 *
 * @example
 * const vault = findVault(config.secrets);
 */
export function findVault(sources: readonly SecretSource[]): (SecretSource & VaultAdmin) | undefined {
  return sources.find((s): s is SecretSource & VaultAdmin =>
    typeof (s as Partial<VaultAdmin>).set === "function" && typeof (s as Partial<VaultAdmin>).rotateKey === "function"
  );
}


/** What the credentials API needs from the gateway. */
export interface CredentialsApiOptions {
  /** The configured vault, if any. */
  vault?: VaultAdmin;
  users: UserCredentialStore;
  /** The configured upstreams: `/v1/me/credentials/{server}` accepts servers with `perUser`. */
  servers: Record<string, Upstream>;
  /** Authenticates the request (auth pipeline plus the static admin token), or throws a 401 GatewayError. */
  authenticate(request: Request): Promise<Identity>;
  /** Time allowed to receive a request body, ms. */
  bodyTimeoutMs: number;
}

function actorOf(identity: Identity): string {
  return identity.tokenId ? `${identity.subject} (${identity.tokenId})` : identity.subject;
}

/**
 * Serves `/v1/credentials` (admin: the vault's secrets) and `/v1/me/credentials` (any authenticated
 * user: their own per-user credentials). Responses carry names and metadata, never values. Returns
 * undefined for paths it does not own.
 *
 * @example
 * const res = await handleCredentialsApi(request, url, { vault, users, servers, authenticate });
 */
export async function handleCredentialsApi(request: Request, url: URL, opts: CredentialsApiOptions): Promise<Response | undefined> {
  const path = url.pathname;
  const method = request.method;
  const notAllowed = (allow: string) => new GatewayError("ERR_METHOD_NOT_ALLOWED", `method ${method} is not allowed on ${path}`, { headers: { allow } });

  if (path === "/v1/credentials" || path.startsWith("/v1/credentials/")) {
    const rest = path.slice("/v1/credentials/".length);
    if (path !== "/v1/credentials" && rest === "") throw new GatewayError("ERR_NOT_FOUND", "not found");
    const allow = path === "/v1/credentials" ? "GET" : rest === "rotate-key" ? "POST, PUT, DELETE" : "PUT, DELETE";
    if (!allow.split(", ").includes(method)) throw notAllowed(allow);
    const identity = await opts.authenticate(request);
    if (!identity.scopes.includes("admin")) throw new GatewayError("ERR_FORBIDDEN", "this operation needs the admin scope");
    const vault = opts.vault;
    if (!vault) {
      throw new GatewayError("ERR_CONFIG", `no vault is configured: set ${MASTER_KEY_ENV} and add vault() to the config's secrets`, { status: 503 });
    }
    if (path === "/v1/credentials") return json({ credentials: await vault.list() });
    if (rest === "rotate-key" && method === "POST") {
      const { newKey } = parseBody(RotateBody, await readApiBody(request, opts.bodyTimeoutMs));
      return json(await vault.rotateKey(newKey, actorOf(identity)));
    }
    const name = decodePathSegment(rest);
    if (!SECRET_NAME.test(name)) throw new GatewayError("ERR_BAD_REQUEST", "name: expected letters, digits, _ . / - (starting with a letter or _), at most 128 characters");
    if (method === "PUT") {
      const { value } = parseBody(ValueBody, await readApiBody(request, opts.bodyTimeoutMs));
      return json(await vault.set(name, value, actorOf(identity)));
    }
    if (!(await vault.delete(name, actorOf(identity)))) throw new GatewayError("ERR_NOT_FOUND", `no secret named ${name}`);
    return json({ name, deleted: true });
  }

  if (path === "/v1/me/credentials" || path.startsWith("/v1/me/credentials/")) {
    const rest = path.slice("/v1/me/credentials/".length);
    if (path !== "/v1/me/credentials" && (rest === "" || rest.includes("/"))) throw new GatewayError("ERR_NOT_FOUND", "not found");
    const allow = path === "/v1/me/credentials" ? "GET" : "PUT, DELETE";
    if (!allow.split(", ").includes(method)) throw notAllowed(allow);
    const identity = await opts.authenticate(request);
    if (!opts.users.available()) throw new GatewayError("ERR_CONFIG", `per-user credentials need a master key: set ${MASTER_KEY_ENV}`, { status: 503 });
    // Keyed by the issuer-qualified subject: a gateway token for `bob` never reads the IdP user bob's credential.
    const owner = principalOf(identity);
    if (path === "/v1/me/credentials") return json({ subject: identity.subject, credentials: await opts.users.list(owner) });
    const server = decodePathSegment(rest);
    const upstream = Object.hasOwn(opts.servers, server) ? opts.servers[server] : undefined;
    if (!upstream?.perUser) throw new GatewayError("ERR_NOT_FOUND", `no server named ${server} takes per-user credentials`);
    if (method === "PUT") {
      const { value } = parseBody(ValueBody, await readApiBody(request, opts.bodyTimeoutMs));
      return json({ subject: identity.subject, ...await opts.users.set(owner, server, value, actorOf(identity)) });
    }
    if (!(await opts.users.delete(owner, server, actorOf(identity)))) throw new GatewayError("ERR_NOT_FOUND", `no credential of yours for ${server}`);
    return json({ server, deleted: true });
  }
  return undefined;
}

/**
 * The credentials APIs as routes: `/v1/credentials[/{name}]` (admin) and `/v1/me/credentials[/{server}]`
 * (the caller's own), behind the Origin check; the handlers authenticate and answer 405 themselves.
 *
 * @example
 * const routes = credentialRoutes({ vault, users, servers: config.servers, bodyTimeoutMs: 30000 });
 */
export function credentialRoutes(opts: Omit<CredentialsApiOptions, "authenticate">): Route[] {
  const handler = async (request: Request, ctx: AuthContext): Promise<Response> => {
    const res = await handleCredentialsApi(request, ctx.url, { ...opts, authenticate: () => ctx.authenticate!() });
    if (!res) throw new GatewayError("ERR_NOT_FOUND", "not found");
    return res;
  };
  return ["/v1/credentials", "/v1/credentials/*", "/v1/me/credentials", "/v1/me/credentials/*"].map((path) => ({ method: "*", path, origin: true, handler }));
}
