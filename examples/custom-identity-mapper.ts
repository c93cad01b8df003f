/**
 * A custom identity mapper written only against Portcullis's exported types: the caller travels as one
 * value, `{ iss, sub, email, roles }`, instead of a header per field.
 *
 * - HTTP-style upstreams (`identityVia: "headers"`) get an `X-Caller` header holding that object as
 *   base64url-encoded JSON.
 * - stdio and in-process upstreams (`identityVia: "meta"`) get the object itself in
 *   `params._meta["example.com/caller"]`.
 *
 * The value is not signed. A server may trust it only because the gateway is the one writing it: the
 * gateway strips the same header from every client request (`headerNames()`) and the same `_meta` key
 * from every forwarded request (`metaKeys()`), so a client cannot smuggle its own. When the network
 * between gateway and server is not yours, use `jwtAssertion()` instead, which servers can verify.
 *
 * @example
 * import { callerIdentity, readCallerHeader } from "./examples/custom-identity-mapper.ts";
 * defineGateway({ identity: [callerIdentity()], servers: { ... } });
 * // in an HTTP upstream:
 * const caller = readCallerHeader(request.headers.get("x-caller")); // { iss, sub, email?, roles }
 */
import { configError, type ForwardedIdentity, type Identity, type IdentityMapper } from "portcullis";

/** Options of {@link callerIdentity}. */
export interface CallerIdentityOptions {
  /** Header for `identityVia: "headers"` upstreams; default `X-Caller`. */
  header?: string;
  /** `_meta` key for `identityVia: "meta"` upstreams; default `example.com/caller`. */
  metaKey?: string;
}

/** What an upstream learns about the caller. */
export interface Caller {
  /** Who vouches for `sub` (`gateway`, `oidc:<issuer>` ...): a subject means nothing without it. */
  iss: string;
  sub: string;
  email?: string;
  roles: string[];
}

const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
// A reverse-DNS prefix, as MCP asks of `_meta` keys, and never the gateway's own `io.portcullis/`.
const META_KEY = /^[a-z0-9]+(?:[.-][a-z0-9]+)*\/[A-Za-z0-9._-]+$/;

function base64url(bytes: Uint8Array): string {
  let binary = "";
  for (const b of bytes) binary += String.fromCharCode(b);
  return btoa(binary).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

function fromBase64url(text: string): Uint8Array {
  const binary = atob(text.replace(/-/g, "+").replace(/_/g, "/"));
  return Uint8Array.from(binary, (c) => c.charCodeAt(0));
}

function callerOf(identity: Identity): Caller {
  const caller: Caller = { iss: identity.issuer ?? identity.strategy, sub: identity.subject, roles: [...identity.roles] };
  if (identity.email !== undefined) caller.email = identity.email;
  return caller;
}

/**
 * Encodes a caller as the header value: base64url of its JSON, so any character in a name or role
 * stays inside one header value.
 *
 * @example
 * encodeCaller({ iss: "gateway", sub: "alice", roles: ["dev"] }); // "eyJpc3MiOiJnYXRld2F5Ii..."
 */
export function encodeCaller(caller: Caller): string {
  return base64url(new TextEncoder().encode(JSON.stringify(caller)));
}

/**
 * Decodes an `X-Caller` header value (what an upstream server calls); undefined when absent or malformed.
 *
 * @example
 * readCallerHeader(request.headers.get("x-caller"))?.sub; // "alice"
 */
export function readCallerHeader(value: string | null | undefined): Caller | undefined {
  if (!value) return undefined;
  try {
    const parsed = JSON.parse(new TextDecoder().decode(fromBase64url(value))) as Caller;
    return typeof parsed?.sub === "string" && typeof parsed.iss === "string" && Array.isArray(parsed.roles) ? parsed : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The mapper. Throws a config error (`ERR_CONFIG`) for a header name or `_meta` key it cannot use.
 *
 * @example
 * callerIdentity({ header: "X-Caller", metaKey: "example.com/caller" })
 */
export function callerIdentity(options: CallerIdentityOptions = {}): IdentityMapper {
  const header = options.header ?? "X-Caller";
  if (typeof header !== "string" || !HEADER_NAME.test(header)) throw configError("callerIdentity.header", "expected an HTTP header name", JSON.stringify(header));
  const metaKey = options.metaKey ?? "example.com/caller";
  if (typeof metaKey !== "string" || !META_KEY.test(metaKey) || metaKey.toLowerCase().startsWith("io.portcullis/")) {
    throw configError("callerIdentity.metaKey", "expected a key such as example.com/caller, outside io.portcullis/", JSON.stringify(metaKey));
  }
  // The gateway maps once per forwarded request; an identity object lives for a session or a request,
  // so encoding once per identity keeps JSON and base64 off the hot path.
  const cache = new WeakMap<Identity, { headers: ForwardedIdentity; meta: ForwardedIdentity }>();

  return {
    name: "identity:caller",
    headerNames: () => [header],
    metaKeys: () => [metaKey],
    map(identity: Identity, _server: string, via: "headers" | "meta"): ForwardedIdentity {
      let forwarded = cache.get(identity);
      if (!forwarded) {
        const caller = callerOf(identity);
        forwarded = { headers: { headers: { [header]: encodeCaller(caller) } }, meta: { meta: { [metaKey]: caller } } };
        cache.set(identity, forwarded);
      }
      return forwarded[via];
    },
  };
}
