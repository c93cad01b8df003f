// The data table of tests/hostile.test.ts: bad inputs, each with the HTTP status and gateway error code
// it must get. Rows are data; credentials, ids and URLs they need are filled in from `Keys` when the row
// runs, so the table can be built before any token exists. `code: null` means "status only" (a HEAD
// answer, an answer of the HTTP parser); `code: undefined` means a success, with no error in the body.

/** Everything rows refer to, created by the suite before the table runs. */
export interface Keys {
  /** The static `admin.token` of the config. */
  admin: string;
  /** alice's bearer token and API key (same identity fields), and the bearer token's id. */
  user: string;
  userId: string;
  userKey: string;
  /** A token with neither mcp:read nor mcp:write. */
  noScope: string;
  /** A token with the admin scope and no restriction. */
  adminTok: string;
  /** A token with the admin scope, only mcp:read, `permissions.servers: ["notes"]`, one hour. */
  notesAdmin: string;
  expired: string;
  expiredKey: string;
  revoked: string;
  revokedKey: string;
  /** Rotated with no grace. */
  rotated: string;
  /** Rotated with a 1 s grace that has passed. */
  rotatedGrace: string;
  /** Well-formed, correct checksum, never issued. */
  unknown: string;
  unknownKey: string;
  /** Ids of tokens rows may aim at: someone else's (bob), an unrestricted one, and a notes-only read-only one. */
  otherId: string;
  victimId: string;
  richId: string;
  writerNotesId: string;
  narrowId: string;
  /** A token only the rotate-body rows aim at. */
  spareId: string;
  /** The kid of the gateway's current signing key (for forged OAuth access tokens). */
  kid: string;
}

export type Runtime = "node" | "deno" | "bun";

export type Category =
  | "1 credentials"
  | "2 identity spoofing"
  | "3 origin"
  | "4 json-rpc and bodies"
  | "5 paths"
  | "6 token api"
  | "9 http edge";

/** One acceptable answer. */
export interface Expect {
  status: number;
  /** Gateway error code; undefined: no error expected; null: not checked. */
  code?: string | null;
  /** The JSON-RPC error code number, where it is part of the contract. */
  rpc?: number;
  /** The `Allow` header, for 405s. */
  allow?: string;
}

export interface Row {
  cat: Category;
  /** What the input is, in words (printed with the request line when the row fails). */
  what: string;
  method: string;
  path: string | ((k: Keys) => string);
  headers?: (k: Keys) => Headers;
  body?: (k: Keys) => BodyInit | undefined;
  /** The answer it must get; a list when more than one answer is acceptable. */
  expect: Expect | Expect[];
  /** More checks on the parsed body; returns what is wrong, or undefined. */
  check?: (body: any, k: Keys) => string | undefined;
  /** Only on these runtimes (their `Request` differs). */
  runtimes?: Runtime[];
}

export const BASE = "http://127.0.0.1:8787";
export const INIT = {
  jsonrpc: "2.0",
  id: 1,
  method: "initialize",
  params: { protocolVersion: "2025-11-25", capabilities: {}, clientInfo: { name: "hostile", version: "1" } },
};
export const LIST = { jsonrpc: "2.0", id: 2, method: "tools/list" };
const MCP_ACCEPT = "application/json, text/event-stream";
/** A session id no session has: a request that reaches the session lookup with it proves everything before passed. */
export const NO_SESSION = "00000000-0000-4000-8000-000000000000";

type HeaderList = Array<[string, string]>;

function headers(...lists: HeaderList[]): Headers {
  const h = new Headers();
  for (const list of lists) for (const [k, v] of list) h.append(k, v);
  return h;
}

const json = (v: unknown) => JSON.stringify(v);
const err = (status: number, code: string | null, extra: Partial<Expect> = {}): Expect => ({ status, code, ...extra });
const ok = (status = 200): Expect => ({ status, code: undefined });

// ---------- token shapes ----------

const B62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
function swap(c: string): string {
  return B62[(B62.indexOf(c) + 1) % 62]!;
}
function at(t: string, i: number, c: string): string {
  return t.slice(0, i) + c + t.slice(i + 1);
}
const flipCheck = (t: string) => at(t, t.length - 1, swap(t[t.length - 1]!));
const flipBody = (t: string) => at(t, 10, swap(t[10]!));

function fakeJwt(header: Record<string, unknown>, payload: Record<string, unknown>, sig = "c2lnbmF0dXJl"): string {
  const b64 = (o: unknown) => btoa(JSON.stringify(o)).replace(/=+$/, "").replace(/\+/g, "-").replace(/\//g, "_");
  return `${b64(header)}.${b64(payload)}.${sig}`;
}
const now = () => Math.floor(Date.now() / 1000);
const jwtClaims = () => ({ iss: BASE, aud: `${BASE}/mcp`, sub: "alice", scope: "mcp:read mcp:write admin", sid: "ses_AAAAAAAAAAAAAAAA", iat: now(), exp: now() + 600 });

interface Shape {
  what: string;
  creds: (k: Keys) => HeaderList;
  code: string;
}

/** Every malformed or dead credential, as presented in the Authorization header. */
const BEARER_SHAPES: Shape[] = [
  { what: "no credential at all", creds: () => [], code: "ERR_AUTH_REQUIRED" },
  { what: "Authorization: (empty)", creds: () => [["authorization", ""]], code: "ERR_AUTH_REQUIRED" },
  { what: "Authorization: Bearer (no token)", creds: () => [["authorization", "Bearer"]], code: "ERR_AUTH_REQUIRED" },
  { what: "Authorization: Bearer + spaces only", creds: () => [["authorization", "Bearer     "]], code: "ERR_AUTH_REQUIRED" },
  { what: "Authorization: Basic user:password", creds: () => [["authorization", `Basic ${btoa("alice:hunter2")}`]], code: "ERR_AUTH_REQUIRED" },
  { what: "wrong scheme: Token <valid pt_>", creds: (k) => [["authorization", `Token ${k.user}`]], code: "ERR_AUTH_REQUIRED" },
  { what: "scheme glued to token: Bearer<valid pt_>", creds: (k) => [["authorization", `Bearer${k.user}`]], code: "ERR_AUTH_REQUIRED" },
  { what: "token with no scheme", creds: (k) => [["authorization", k.user]], code: "ERR_AUTH_REQUIRED" },
  { what: "two tokens: Bearer <valid> <valid>", creds: (k) => [["authorization", `Bearer ${k.user} ${k.user}`]], code: "ERR_AUTH_REQUIRED" },
  { what: "space inside the token", creds: (k) => [["authorization", `Bearer ${k.user.slice(0, 20)} ${k.user.slice(20)}`]], code: "ERR_AUTH_REQUIRED" },
  { what: "an API key (pk_) sent as bearer", creds: (k) => [["authorization", `Bearer ${k.userKey}`]], code: "ERR_AUTH_REQUIRED" },
  { what: "upper-case prefix PT_", creds: (k) => [["authorization", `Bearer PT_${k.user.slice(3)}`]], code: "ERR_AUTH_REQUIRED" },
  { what: "garbage without prefix", creds: () => [["authorization", "Bearer garbage"]], code: "ERR_AUTH_REQUIRED" },
  { what: "truncated by one character", creds: (k) => [["authorization", `Bearer ${k.user.slice(0, -1)}`]], code: "ERR_INVALID_CREDENTIAL" },
  { what: "truncated to half", creds: (k) => [["authorization", `Bearer ${k.user.slice(0, 26)}`]], code: "ERR_INVALID_CREDENTIAL" },
  { what: "prefix only pt_", creds: () => [["authorization", "Bearer pt_"]], code: "ERR_INVALID_CREDENTIAL" },
  { what: "one character too many", creds: (k) => [["authorization", `Bearer ${k.user}A`]], code: "ERR_INVALID_CREDENTIAL" },
  { what: "checksum character corrupted", creds: (k) => [["authorization", `Bearer ${flipCheck(k.user)}`]], code: "ERR_INVALID_CREDENTIAL" },
  { what: "body character corrupted (checksum mismatch)", creds: (k) => [["authorization", `Bearer ${flipBody(k.user)}`]], code: "ERR_INVALID_CREDENTIAL" },
  { what: "non-base62 character in the body", creds: (k) => [["authorization", `Bearer ${at(k.user, 10, "-")}`]], code: "ERR_INVALID_CREDENTIAL" },
  { what: "pt_garbage", creds: () => [["authorization", "Bearer pt_garbage"]], code: "ERR_INVALID_CREDENTIAL" },
  { what: "10 KB long pt_ token", creds: () => [["authorization", `Bearer pt_${"A".repeat(10 * 1024)}`]], code: "ERR_INVALID_CREDENTIAL" },
  { what: "non-ASCII (Latin-1) character in the token", creds: (k) => [["authorization", `Bearer ${at(k.user, 10, "\u00e9")}`]], code: "ERR_INVALID_CREDENTIAL" },
  { what: "control character in the token", creds: (k) => [["authorization", `Bearer ${at(k.user, 10, "\u0001")}`]], code: "ERR_INVALID_CREDENTIAL" },
  { what: "well-formed token that was never issued", creds: (k) => [["authorization", `Bearer ${k.unknown}`]], code: "ERR_INVALID_CREDENTIAL" },
  { what: "expired token", creds: (k) => [["authorization", `Bearer ${k.expired}`]], code: "ERR_TOKEN_EXPIRED" },
  { what: "revoked token", creds: (k) => [["authorization", `Bearer ${k.revoked}`]], code: "ERR_TOKEN_REVOKED" },
  { what: "token rotated with no grace", creds: (k) => [["authorization", `Bearer ${k.rotated}`]], code: "ERR_TOKEN_REVOKED" },
  { what: "token rotated, after its grace", creds: (k) => [["authorization", `Bearer ${k.rotatedGrace}`]], code: "ERR_TOKEN_REVOKED" },
  { what: "static admin token with one character more", creds: (k) => [["authorization", `Bearer ${k.admin}x`]], code: "ERR_AUTH_REQUIRED" },
  { what: "static admin token truncated", creds: (k) => [["authorization", `Bearer ${k.admin.slice(0, -1)}`]], code: "ERR_AUTH_REQUIRED" },
  { what: "unsigned JWT (alg none)", creds: () => [["authorization", `Bearer ${fakeJwt({ alg: "none" }, jwtClaims(), "")}`]], code: "ERR_AUTH_REQUIRED" },
  { what: "forged OAuth access token: typ at+jwt, alg none", creds: () => [["authorization", `Bearer ${fakeJwt({ alg: "none", typ: "at+jwt" }, jwtClaims())}`]], code: "ERR_INVALID_CREDENTIAL" },
  { what: "forged OAuth access token: HS256 (algorithm confusion)", creds: (k) => [["authorization", `Bearer ${fakeJwt({ alg: "HS256", typ: "at+jwt", kid: k.kid }, jwtClaims())}`]], code: "ERR_INVALID_CREDENTIAL" },
  { what: "forged OAuth access token: unknown kid", creds: () => [["authorization", `Bearer ${fakeJwt({ alg: "ES256", typ: "at+jwt", kid: "no-such-key" }, jwtClaims())}`]], code: "ERR_INVALID_CREDENTIAL" },
  { what: "forged OAuth access token: real kid, bad signature", creds: (k) => [["authorization", `Bearer ${fakeJwt({ alg: "ES256", typ: "at+jwt", kid: k.kid }, jwtClaims())}`]], code: "ERR_INVALID_CREDENTIAL" },
  { what: "valid token in a misspelt header (Authorisation)", creds: (k) => [["authorisation", `Bearer ${k.user}`]], code: "ERR_AUTH_REQUIRED" },
  { what: "valid token in Proxy-Authorization", creds: (k) => [["proxy-authorization", `Bearer ${k.user}`]], code: "ERR_AUTH_REQUIRED" },
  { what: "valid token in a cookie", creds: (k) => [["cookie", `access_token=${k.user}; token=${k.user}`]], code: "ERR_AUTH_REQUIRED" },
  { what: "duplicate Authorization headers (valid, valid)", creds: (k) => [["authorization", `Bearer ${k.user}`], ["authorization", `Bearer ${k.user}`]], code: "ERR_AUTH_REQUIRED" },
];

/** The same, presented as an API key in X-API-Key. */
const KEY_SHAPES: Shape[] = [
  { what: "X-API-Key: (empty)", creds: () => [["x-api-key", ""]], code: "ERR_AUTH_REQUIRED" },
  { what: "X-API-Key: spaces only", creds: () => [["x-api-key", "    "]], code: "ERR_AUTH_REQUIRED" },
  { what: "a bearer token (pt_) sent as API key", creds: (k) => [["x-api-key", k.user]], code: "ERR_INVALID_CREDENTIAL" },
  { what: "X-API-Key: Bearer <valid pk_>", creds: (k) => [["x-api-key", `Bearer ${k.userKey}`]], code: "ERR_INVALID_CREDENTIAL" },
  { what: "API key truncated by one character", creds: (k) => [["x-api-key", k.userKey.slice(0, -1)]], code: "ERR_INVALID_CREDENTIAL" },
  { what: "API key checksum character corrupted", creds: (k) => [["x-api-key", flipCheck(k.userKey)]], code: "ERR_INVALID_CREDENTIAL" },
  { what: "API key body character corrupted", creds: (k) => [["x-api-key", flipBody(k.userKey)]], code: "ERR_INVALID_CREDENTIAL" },
  { what: "pk_garbage", creds: () => [["x-api-key", "pk_garbage"]], code: "ERR_INVALID_CREDENTIAL" },
  { what: "API key: garbage without prefix", creds: () => [["x-api-key", "garbage"]], code: "ERR_INVALID_CREDENTIAL" },
  { what: "10 KB long API key", creds: () => [["x-api-key", `pk_${"A".repeat(10 * 1024)}`]], code: "ERR_INVALID_CREDENTIAL" },
  { what: "non-ASCII (Latin-1) character in the API key", creds: (k) => [["x-api-key", at(k.userKey, 10, "\u00fc")]], code: "ERR_INVALID_CREDENTIAL" },
  { what: "API key well-formed, never issued", creds: (k) => [["x-api-key", k.unknownKey]], code: "ERR_INVALID_CREDENTIAL" },
  { what: "expired API key", creds: (k) => [["x-api-key", k.expiredKey]], code: "ERR_TOKEN_EXPIRED" },
  { what: "revoked API key", creds: (k) => [["x-api-key", k.revokedKey]], code: "ERR_TOKEN_REVOKED" },
  { what: "the static admin token sent as API key", creds: (k) => [["x-api-key", k.admin]], code: "ERR_INVALID_CREDENTIAL" },
  { what: "duplicate X-API-Key headers (valid, valid)", creds: (k) => [["x-api-key", k.userKey], ["x-api-key", k.userKey]], code: "ERR_INVALID_CREDENTIAL" },
  { what: "bad bearer and a valid API key: the first strategy that recognises a credential decides", creds: (k) => [["authorization", "Bearer pt_garbage"], ["x-api-key", k.userKey]], code: "ERR_INVALID_CREDENTIAL" },
];

interface Place {
  method: string;
  path: string | ((k: Keys) => string);
  headers: (k: Keys) => HeaderList;
  body?: (k: Keys) => BodyInit | undefined;
}

const mcpHeaders: HeaderList = [["content-type", "application/json"], ["accept", MCP_ACCEPT]];
const jsonHeaders: HeaderList = [["content-type", "application/json"]];

/** Every place a credential can be presented. */
const PLACES: Place[] = [
  { method: "POST", path: "/mcp", headers: () => mcpHeaders, body: () => json(INIT) },
  { method: "POST", path: "/mcp/notes", headers: () => mcpHeaders, body: () => json(INIT) },
  { method: "GET", path: "/mcp", headers: () => [["accept", "text/event-stream"], ["mcp-protocol-version", "2025-11-25"]] },
  { method: "DELETE", path: "/mcp", headers: () => [["mcp-session-id", NO_SESSION], ["mcp-protocol-version", "2025-11-25"]] },
  { method: "GET", path: "/v1/auth/whoami", headers: () => [] },
  { method: "GET", path: "/v1/auth/tokens", headers: () => [] },
  { method: "POST", path: "/v1/auth/tokens", headers: () => jsonHeaders, body: () => json({ user: "should-not-exist" }) },
  { method: "POST", path: (k) => `/v1/auth/tokens/${k.victimId}/rotate`, headers: () => jsonHeaders, body: () => "{}" },
  { method: "DELETE", path: (k) => `/v1/auth/tokens/${k.victimId}`, headers: () => [] },
  { method: "GET", path: "/v1/auth/sessions", headers: () => [] },
  { method: "GET", path: "/v1/me/credentials", headers: () => [] },
  { method: "PUT", path: "/v1/credentials/HOSTILE_TEST", headers: () => jsonHeaders, body: () => json({ value: "not-a-real-secret" }) },
];

function credentialRows(): Row[] {
  const rows: Row[] = [];
  for (const shape of [...BEARER_SHAPES, ...KEY_SHAPES]) {
    for (const place of PLACES) {
      rows.push({
        cat: "1 credentials",
        what: shape.what,
        method: place.method,
        path: place.path,
        headers: (k) => headers(place.headers(k), shape.creds(k)),
        body: place.body,
        expect: err(401, shape.code),
      });
    }
  }
  return rows;
}

const isAlice = (body: any): string | undefined =>
  body?.subject === "alice" && body?.email === "alice@example.com" && body?.team === "platform" && body?.name === "Alice A" && body?.org === "acme" &&
    JSON.stringify(body?.roles) === JSON.stringify(["dev"]) && !body?.scopes?.includes("admin")
    ? undefined
    : `whoami answered ${JSON.stringify(body)}`;

/** Credentials that are unusual but valid, and credentials valid elsewhere but refused here. */
function credentialEdgeRows(): Row[] {
  const who = (what: string, creds: (k: Keys) => HeaderList, check = isAlice): Row => ({
    cat: "1 credentials",
    what,
    method: "GET",
    path: "/v1/auth/whoami",
    headers: (k) => headers(creds(k)),
    expect: ok(),
    check,
  });
  const rows: Row[] = [
    // RFC 9110: the auth scheme is case-insensitive and may be followed by any amount of whitespace.
    who("lower-case scheme: bearer <valid> (accepted, RFC 9110)", (k) => [["authorization", `bearer ${k.user}`]]),
    who("upper-case scheme: BEARER <valid> (accepted)", (k) => [["authorization", `BEARER ${k.user}`]]),
    who("two spaces after the scheme (accepted)", (k) => [["authorization", `Bearer  ${k.user}`]]),
    who("a tab after the scheme (accepted)", (k) => [["authorization", `Bearer\t${k.user}`]]),
    who("leading and trailing spaces (trimmed by HTTP, accepted)", (k) => [["authorization", `   Bearer ${k.user}   `]]),
    who("API key with surrounding spaces (trimmed, accepted)", (k) => [["x-api-key", `  ${k.userKey}  `]]),
    who("valid bearer and a garbage API key: the bearer decides", (k) => [["authorization", `Bearer ${k.user}`], ["x-api-key", "pk_garbage"]]),
    who("the static admin token with a lower-case scheme (accepted)", (k) => [["authorization", `bearer ${k.admin}`]], (b) => (b?.subject === "admin-token" ? undefined : `whoami answered ${JSON.stringify(b)}`)),
  ];
  // Credentials that are valid, but not here.
  for (const [what, path, creds] of [
    ["the static admin token is not an /mcp credential", "/mcp", (k: Keys) => [["authorization", `Bearer ${k.admin}`]]],
    ["the static admin token is not an /mcp/notes credential", "/mcp/notes", (k: Keys) => [["authorization", `Bearer ${k.admin}`]]],
    ["valid token in ?access_token= (query credentials are not accepted)", (k: Keys) => `/mcp?access_token=${k.user}`, () => []],
    ["valid API key in ?api_key= (query credentials are not accepted)", (k: Keys) => `/mcp?api_key=${k.userKey}`, () => []],
  ] as Array<[string, string | ((k: Keys) => string), (k: Keys) => HeaderList]>) {
    rows.push({ cat: "1 credentials", what, method: "POST", path, headers: (k) => headers(mcpHeaders, creds(k)), body: () => json(INIT), expect: err(401, "ERR_AUTH_REQUIRED") });
  }
  rows.push({ cat: "1 credentials", what: "valid token in ?access_token= on whoami", method: "GET", path: (k) => `/v1/auth/whoami?access_token=${k.user}`, expect: err(401, "ERR_AUTH_REQUIRED") });
  // A credential with neither mcp:read nor mcp:write reaches nothing.
  for (const path of ["/mcp", "/mcp/notes"]) {
    rows.push({ cat: "1 credentials", what: "token with no mcp scope", method: "POST", path, headers: (k) => headers(mcpHeaders, [["authorization", `Bearer ${k.noScope}`]]), body: () => json(INIT), expect: err(403, "ERR_INSUFFICIENT_SCOPE") });
  }
  // Admin routes with a credential that is not an admin's.
  const adminRoutes: Array<[string, string | ((k: Keys) => string), ((k: Keys) => BodyInit) | undefined]> = [
    ["GET", "/v1/auth/tokens", undefined],
    ["GET", "/v1/auth/tokens?user=alice", undefined],
    ["POST", "/v1/auth/tokens", () => json({ user: "alice", scopes: ["admin"] })],
    ["GET", (k) => `/v1/auth/tokens/${k.otherId}`, undefined],
    ["DELETE", (k) => `/v1/auth/tokens/${k.otherId}`, undefined],
    ["POST", (k) => `/v1/auth/tokens/${k.otherId}/rotate`, () => "{}"],
    ["GET", "/v1/credentials", undefined],
    ["PUT", "/v1/credentials/HOSTILE_TEST", () => json({ value: "not-a-real-secret" })],
    ["DELETE", "/v1/credentials/HOSTILE_TEST", undefined],
    ["POST", "/v1/credentials/rotate-key", () => json({ newKey: "AAAA" })],
    ["GET", "/v1/auth/sessions?user=bob", undefined],
  ];
  for (const [name, creds] of [
    ["alice's token (no admin scope)", (k: Keys): HeaderList => [["authorization", `Bearer ${k.user}`]]],
    ["alice's API key (no admin scope)", (k: Keys): HeaderList => [["x-api-key", k.userKey]]],
    ["a token with no scope at all", (k: Keys): HeaderList => [["authorization", `Bearer ${k.noScope}`]]],
  ] as const) {
    for (const [method, path, body] of adminRoutes) {
      rows.push({
        cat: "1 credentials",
        what: `${name} on an admin route`,
        method,
        path,
        headers: (k) => headers(body ? jsonHeaders : [], creds(k)),
        body,
        expect: err(403, "ERR_FORBIDDEN"),
      });
    }
  }
  // A credential may look at itself; spoofed roles do not make it an admin.
  rows.push({ cat: "1 credentials", what: "a token reading its own record (allowed)", method: "GET", path: (k) => `/v1/auth/tokens/${k.userId}`, headers: (k) => headers([["authorization", `Bearer ${k.user}`]]), expect: ok(), check: (b) => (b?.user === "alice" && b.token === undefined && b.hash === undefined ? undefined : "record shows a secret or the wrong token") });
  return rows;
}

// ---------- 2: identity spoofing ----------

const SPOOF: HeaderList = [
  ["X-User-Email", "mallory@evil.example"],
  ["X-User-Roles", "admin,root"],
  ["X-User-Team", "security"],
  ["X-User-Name", "Mallory"],
  ["X-Organization-Id", "evil-org"],
];

function spoofRows(): Row[] {
  const rows: Row[] = [];
  const cases: Array<[string, (n: string) => string]> = [["canonical case", (n) => n], ["lower case", (n) => n.toLowerCase()], ["upper case", (n) => n.toUpperCase()]];
  for (const [name, value] of SPOOF) {
    for (const [casing, f] of cases) {
      for (const [via, creds] of [
        ["bearer token", (k: Keys): HeaderList => [["authorization", `Bearer ${k.user}`]]],
        ["API key", (k: Keys): HeaderList => [["x-api-key", k.userKey]]],
      ] as const) {
        rows.push({
          cat: "2 identity spoofing",
          what: `${f(name)}: ${value} (${casing}) with alice's ${via}: whoami shows the token's identity`,
          method: "GET",
          path: "/v1/auth/whoami",
          headers: (k) => headers(creds(k), [[f(name), value]]),
          expect: ok(),
          check: isAlice,
        });
      }
      rows.push({
        cat: "2 identity spoofing",
        what: `${f(name)}: ${value} (${casing}) and no credential`,
        method: "POST",
        path: "/mcp",
        headers: () => headers(mcpHeaders, [[f(name), value]]),
        body: () => json(INIT),
        expect: err(401, "ERR_AUTH_REQUIRED"),
      });
    }
  }
  rows.push(
    { cat: "2 identity spoofing", what: "every identity header at once, with alice's token", method: "GET", path: "/v1/auth/whoami", headers: (k) => headers([["authorization", `Bearer ${k.user}`]], SPOOF), expect: ok(), check: isAlice },
    { cat: "2 identity spoofing", what: "every identity header twice, with alice's token", method: "GET", path: "/v1/auth/whoami", headers: (k) => headers([["authorization", `Bearer ${k.user}`]], SPOOF, SPOOF), expect: ok(), check: isAlice },
    { cat: "2 identity spoofing", what: "X-User-Id: admin-token and X-User-Email with alice's token", method: "GET", path: "/v1/auth/whoami", headers: (k) => headers([["authorization", `Bearer ${k.user}`], ["X-User-Id", "admin-token"], ["X-Forwarded-User", "admin"]]), expect: ok(), check: isAlice },
    { cat: "2 identity spoofing", what: "every identity header and no credential on whoami", method: "GET", path: "/v1/auth/whoami", headers: () => headers(SPOOF), expect: err(401, "ERR_AUTH_REQUIRED") },
    { cat: "2 identity spoofing", what: "X-User-Roles: admin does not open the token list to alice", method: "GET", path: "/v1/auth/tokens", headers: (k) => headers([["authorization", `Bearer ${k.user}`], ["X-User-Roles", "admin"]]), expect: err(403, "ERR_FORBIDDEN") },
    { cat: "2 identity spoofing", what: "X-User-Email of an admin does not let alice create tokens", method: "POST", path: "/v1/auth/tokens", headers: (k) => headers(jsonHeaders, [["authorization", `Bearer ${k.user}`]], SPOOF), body: () => json({ user: "mallory", scopes: ["admin"] }), expect: err(403, "ERR_FORBIDDEN") },
  );
  return rows;
}

// ---------- 3: origin ----------

const BAD_ORIGINS = [
  "https://evil.example",
  "null",
  "http://localhost.evil.example",
  "http://127.0.0.1.nip.io",
  "http://localhost@evil.example",
  "http://evil.example:8787",
  "http://127.0.0.2",
  "http://0.0.0.0:8787",
  "http://[::ffff:127.0.0.1]",
  "http://localhost.",
  "file://",
  "chrome-extension://abcdefghijklmnopabcdefghijklmnop",
  "ws://localhost",
  "not a url",
  "https://console.example.com:444",
  "http://console.example.com",
  "https://evil.example, http://localhost",
];

const GOOD_ORIGINS = ["http://localhost", "http://localhost:6274", "http://127.0.0.1:3000", "http://[::1]:8080", "https://localhost", "HTTP://LOCALHOST:1", "https://console.example.com"];

function originRows(): Row[] {
  const rows: Row[] = [];
  const userBearer = (k: Keys): HeaderList => [["authorization", `Bearer ${k.user}`]];
  const adminBearer = (k: Keys): HeaderList => [["authorization", `Bearer ${k.admin}`]];
  const places: Array<[string, string, (k: Keys) => HeaderList, ((k: Keys) => BodyInit) | undefined]> = [
    ["POST", "/mcp", (k) => [...mcpHeaders, ...userBearer(k)], () => json(INIT)],
    ["POST", "/mcp/notes", (k) => [...mcpHeaders, ...userBearer(k)], () => json(INIT)],
    ["GET", "/mcp", (k) => [["accept", "text/event-stream"], ...userBearer(k)], undefined],
    ["GET", "/v1/auth/whoami", userBearer, undefined],
    ["POST", "/v1/auth/tokens", (k) => [...jsonHeaders, ...adminBearer(k)], () => json({ user: "made-by-foreign-origin" })],
    ["GET", "/v1/auth/sessions", adminBearer, undefined],
    ["GET", "/v1/me/credentials", userBearer, undefined],
  ];
  for (const origin of BAD_ORIGINS) {
    for (const [method, path, h, body] of places) {
      rows.push({ cat: "3 origin", what: `Origin: ${origin}`, method, path, headers: (k) => headers(h(k), [["origin", origin]]), body, expect: err(403, "ERR_FORBIDDEN_ORIGIN") });
    }
  }
  rows.push(
    { cat: "3 origin", what: "foreign Origin, no credential: refused before authentication", method: "POST", path: "/mcp", headers: () => headers(mcpHeaders, [["origin", "https://evil.example"]]), body: () => json(INIT), expect: err(403, "ERR_FORBIDDEN_ORIGIN") },
    { cat: "3 origin", what: "foreign Origin, no credential, on whoami", method: "GET", path: "/v1/auth/whoami", headers: () => headers([["origin", "https://evil.example"]]), expect: err(403, "ERR_FORBIDDEN_ORIGIN") },
    { cat: "3 origin", what: "Origin: null, admin token, on the token list", method: "GET", path: "/v1/auth/tokens", headers: (k) => headers(adminBearer(k), [["origin", "null"]]), expect: err(403, "ERR_FORBIDDEN_ORIGIN") },
    { cat: "3 origin", what: "Origin: null, admin token, revoking a token", method: "DELETE", path: (k) => `/v1/auth/tokens/${k.victimId}`, headers: (k) => headers(adminBearer(k), [["origin", "null"]]), expect: err(403, "ERR_FORBIDDEN_ORIGIN") },
    { cat: "3 origin", what: "Origin: https://evil.example, admin token, vault write", method: "PUT", path: "/v1/credentials/HOSTILE_TEST", headers: (k) => headers(jsonHeaders, adminBearer(k), [["origin", "https://evil.example"]]), body: () => json({ value: "not-a-real-secret" }), expect: err(403, "ERR_FORBIDDEN_ORIGIN") },
  );
  for (const origin of GOOD_ORIGINS) {
    // Reaching the session lookup (404) shows the origin check and authentication passed.
    rows.push({ cat: "3 origin", what: `allowed Origin: ${origin}`, method: "POST", path: "/mcp", headers: (k) => headers(mcpHeaders, userBearer(k), [["origin", origin], ["mcp-session-id", NO_SESSION], ["mcp-protocol-version", "2025-11-25"]]), body: () => json(LIST), expect: err(404, "ERR_SESSION_NOT_FOUND", { rpc: -32001 }) });
    rows.push({ cat: "3 origin", what: `allowed Origin: ${origin}`, method: "GET", path: "/v1/auth/whoami", headers: (k) => headers(userBearer(k), [["origin", origin]]), expect: ok(), check: isAlice });
  }
  return rows;
}

// ---------- 4: JSON-RPC and bodies on /mcp ----------

const BAD_TYPES: Array<[string, string | null]> = [
  ["no Content-Type", null],
  ["text/plain", "text/plain"],
  ["text/plain;charset=UTF-8", "text/plain;charset=UTF-8"],
  ["application/x-www-form-urlencoded", "application/x-www-form-urlencoded"],
  ["multipart/form-data", "multipart/form-data; boundary=xyz"],
  ["application/jsonx", "application/jsonx"],
  ["application/json-patch+json", "application/json-patch+json"],
  ["text/json", "text/json"],
  ["application/xml", "application/xml"],
  ["*/*", "*/*"],
  ["json", "json"],
  ["a space inside: application/ json", "application/ json"],
  ["a leading parameter: ;application/json", ";application/json"],
  ["two types: text/plain, application/json", "text/plain, application/json"],
];

const NOT_JSON: Array<[string, () => BodyInit]> = [
  ["an unterminated object", () => "{\"jsonrpc\": \"2.0\", \"id\": 1,"],
  ["plain text", () => "not json"],
  ["an empty body", () => ""],
  ["single quotes", () => "{'jsonrpc':'2.0','id':1,'method':'ping'}"],
  ["a trailing comma", () => "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\",}"],
  ["NaN", () => "NaN"],
  ["undefined", () => "undefined"],
  ["a comment before the object", () => "// hi\n{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"}"],
  ["garbage after the object", () => "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"}garbage"],
  ["two objects back to back", () => "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"}{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"ping\"}"],
  ["invalid UTF-8 bytes", () => new Uint8Array([0xff, 0xfe, 0x7b, 0x7d])],
  ["a NUL byte", () => "\u0000"],
  ["an unterminated deep array", () => "[".repeat(3000)],
];

function bodyRows(): Row[] {
  const rows: Row[] = [];
  const auth = (k: Keys): HeaderList => [["authorization", `Bearer ${k.user}`]];
  const mcpPaths = ["/mcp", "/mcp/notes"];
  for (const path of mcpPaths) {
    for (const [what, type] of BAD_TYPES) {
      rows.push({
        cat: "4 json-rpc and bodies",
        what: `Content-Type: ${what}`,
        method: "POST",
        path,
        headers: (k) => headers([["accept", MCP_ACCEPT]], type === null ? [] : [["content-type", type]], auth(k)),
        body: () => new TextEncoder().encode(json(INIT)),
        expect: err(415, "ERR_UNSUPPORTED_MEDIA_TYPE"),
      });
    }
    for (const [what, body] of NOT_JSON) {
      rows.push({ cat: "4 json-rpc and bodies", what: `not JSON: ${what}`, method: "POST", path, headers: (k) => headers(mcpHeaders, auth(k)), body, expect: err(400, "ERR_PARSE", { rpc: -32700 }) });
    }
    for (const [what, body, extra] of [
      ["empty batch []", "[]", []],
      ["empty batch with whitespace", " [ \n ] ", []],
      ["empty batch on an (unknown) session", "[]", [["mcp-session-id", NO_SESSION], ["mcp-protocol-version", "2025-11-25"]]],
    ] as Array<[string, string, HeaderList]>) {
      rows.push({ cat: "4 json-rpc and bodies", what, method: "POST", path, headers: (k) => headers(mcpHeaders, auth(k), extra), body: () => body, expect: err(400, "ERR_BAD_REQUEST", { rpc: -32600 }) });
    }
    // Content types that are JSON after all: the body is read, and the (unknown) session is what stops it.
    for (const type of ["application/json; charset=utf-8", "APPLICATION/JSON", "application/json ;charset=utf-8"]) {
      rows.push({ cat: "4 json-rpc and bodies", what: `Content-Type: ${type} is JSON`, method: "POST", path, headers: (k) => headers([["content-type", type], ["accept", MCP_ACCEPT], ["mcp-session-id", NO_SESSION], ["mcp-protocol-version", "2025-11-25"]], auth(k)), body: () => json(LIST), expect: err(404, "ERR_SESSION_NOT_FOUND", { rpc: -32001 }) });
    }
  }

  // Bodies over server.maxBodyBytes (4096 in the suite's config).
  const padded = (bytes: number, char = "x") => {
    const base = json({ ...LIST, params: { pad: "" } });
    const unit = new TextEncoder().encode(char).length;
    return json({ ...LIST, params: { pad: char.repeat(Math.ceil((bytes - base.length) / unit)) } });
  };
  const stream = (text: string, chunk = 512) =>
    new ReadableStream<Uint8Array>({
      start(c) {
        const bytes = new TextEncoder().encode(text);
        for (let i = 0; i < bytes.length; i += chunk) c.enqueue(bytes.slice(i, i + chunk));
        c.close();
      },
    });
  const big = padded(5000);
  const bigBytes = new TextEncoder().encode(big).length;
  const session: HeaderList = [["mcp-session-id", NO_SESSION], ["mcp-protocol-version", "2025-11-25"]];
  const large: Array<[string, HeaderList, () => BodyInit]> = [
    ["5000 bytes, honest Content-Length", [["content-length", String(bigBytes)]], () => big],
    ["5000 bytes, no Content-Length", [], () => big],
    ["5000 bytes streamed in 512-byte chunks, no Content-Length", [], () => stream(big)],
    ["5000 bytes streamed in one chunk", [], () => stream(big, 1 << 20)],
    ["4097 bytes (one over the limit)", [], () => padded(4097)],
    ["5000 bytes, Content-Length lies: 100", [["content-length", "100"]], () => big],
    ["5000 bytes, Content-Length lies: 0", [["content-length", "0"]], () => big],
    ["5000 bytes, Content-Length lies: 4096", [["content-length", "4096"]], () => big],
    ["5000 bytes, Content-Length claims 10 GB", [["content-length", "10000000000"]], () => big],
    ["5000 bytes, Content-Length not a number", [["content-length", "abc"]], () => big],
    ["5000 bytes, Content-Length negative", [["content-length", "-1"]], () => big],
    ["5000 bytes of multi-byte characters (under 4096 characters)", [], () => padded(5000, "\u00e9")],
    ["5000 bytes of 4-byte characters, honest Content-Length", [["content-length", String(new TextEncoder().encode(padded(5000, "\u{1F600}")).length)]], () => padded(5000, "\u{1F600}")],
    ["1 MB streamed, no Content-Length", [], () => stream(padded(1 << 20), 64 * 1024)],
  ];
  for (const path of mcpPaths) {
    for (const [what, extra, body] of large) {
      rows.push({ cat: "4 json-rpc and bodies", what: `body over maxBodyBytes: ${what}`, method: "POST", path, headers: (k) => headers(mcpHeaders, auth(k), session, extra), body, expect: err(413, "ERR_BODY_TOO_LARGE") });
    }
    rows.push({ cat: "4 json-rpc and bodies", what: "body of exactly maxBodyBytes is read (the unknown session stops it)", method: "POST", path, headers: (k) => headers(mcpHeaders, auth(k), session), body: () => padded(4096), expect: err(404, "ERR_SESSION_NOT_FOUND", { rpc: -32001 }) });
    rows.push({ cat: "4 json-rpc and bodies", what: "small body, Content-Length claims 10 GB", method: "POST", path, headers: (k) => headers(mcpHeaders, auth(k), session, [["content-length", "10000000000"]]), body: () => json(LIST), expect: [err(413, "ERR_BODY_TOO_LARGE"), err(404, "ERR_SESSION_NOT_FOUND")] });
  }

  // Methods /mcp does not serve.
  for (const path of mcpPaths) {
    for (const method of ["PUT", "PATCH", "OPTIONS"]) {
      for (const [who, creds] of [["alice's token", auth], ["no credential", () => []]] as Array<[string, (k: Keys) => HeaderList]>) {
        rows.push({ cat: "4 json-rpc and bodies", what: `method ${method}, ${who}`, method, path, headers: (k) => headers(mcpHeaders, creds(k)), body: method === "OPTIONS" ? undefined : () => json(INIT), expect: err(405, "ERR_METHOD_NOT_ALLOWED", { allow: "GET, POST, DELETE" }) });
      }
    }
    rows.push({ cat: "4 json-rpc and bodies", what: "method HEAD", method: "HEAD", path, headers: (k) => headers(auth(k)), expect: err(405, null, { allow: "GET, POST, DELETE" }) });
    rows.push({ cat: "4 json-rpc and bodies", what: "lower-case method patch", method: "patch", path, headers: (k) => headers(mcpHeaders, auth(k)), body: () => json(INIT), expect: err(405, "ERR_METHOD_NOT_ALLOWED") });
    // Request keeps an extension method as sent on node and deno (bun turns it into GET): a substring of "GET, POST, DELETE" is still not one of them.
    for (const method of ["POS", "ET", "T"]) {
      rows.push({ cat: "4 json-rpc and bodies", what: `extension method ${method} (a substring of an allowed one)`, method, path, headers: (k) => headers(mcpHeaders, auth(k)), body: () => json(INIT), expect: err(405, "ERR_METHOD_NOT_ALLOWED"), runtimes: ["node", "deno"] });
    }
  }

  // Unknown session ids, on every method that takes one.
  const SIDS: Array<[string, string]> = [
    ["a random UUID", NO_SESSION],
    ["an empty Mcp-Session-Id", ""],
    ["one character", "x"],
    ["4 KB long", "s".repeat(4096)],
    ["a Latin-1 character", "sessi\u00f3n"],
    ["a path", "../../etc/passwd"],
    ["__proto__", "__proto__"],
    ["constructor", "constructor"],
    ["two ids in duplicate headers", `${NO_SESSION}, ${NO_SESSION}`],
  ];
  for (const [what, sid] of SIDS) {
    for (const path of mcpPaths) {
      rows.push({ cat: "4 json-rpc and bodies", what: `unknown session: ${what}`, method: "POST", path, headers: (k) => headers(mcpHeaders, auth(k), [["mcp-session-id", sid], ["mcp-protocol-version", "2025-11-25"]]), body: () => json(LIST), expect: err(404, "ERR_SESSION_NOT_FOUND", { rpc: -32001 }) });
    }
    rows.push({ cat: "4 json-rpc and bodies", what: `unknown session on GET: ${what}`, method: "GET", path: "/mcp", headers: (k) => headers([["accept", "text/event-stream"]], auth(k), [["mcp-session-id", sid], ["mcp-protocol-version", "2025-11-25"]]), expect: err(404, "ERR_SESSION_NOT_FOUND", { rpc: -32001 }) });
    rows.push({ cat: "4 json-rpc and bodies", what: `unknown session on DELETE: ${what}`, method: "DELETE", path: "/mcp", headers: (k) => headers(auth(k), [["mcp-session-id", sid], ["mcp-protocol-version", "2025-11-25"]]), expect: err(404, "ERR_SESSION_NOT_FOUND", { rpc: -32001 }) });
  }

  // 2025-era requests that are not initialize, without a session.
  const noSession: Array<[string, unknown, HeaderList]> = [
    ["tools/list, protocol 2025-11-25", LIST, [["mcp-protocol-version", "2025-11-25"]]],
    ["tools/list, protocol 2025-06-18", LIST, [["mcp-protocol-version", "2025-06-18"]]],
    ["tools/list, protocol 2025-03-26", LIST, [["mcp-protocol-version", "2025-03-26"]]],
    ["tools/call, protocol 2025-11-25", { jsonrpc: "2.0", id: 3, method: "tools/call", params: { name: "notes__echo", arguments: { message: "x" } } }, [["mcp-protocol-version", "2025-11-25"]]],
    ["ping, no protocol header", { jsonrpc: "2.0", id: 4, method: "ping" }, []],
    ["notifications/initialized", { jsonrpc: "2.0", method: "notifications/initialized" }, [["mcp-protocol-version", "2025-11-25"]]],
    ["a batch of tools/list", [LIST], [["mcp-protocol-version", "2025-11-25"]]],
  ];
  for (const path of mcpPaths) {
    for (const [what, body, extra] of noSession) {
      rows.push({ cat: "4 json-rpc and bodies", what: `no session: ${what}`, method: "POST", path, headers: (k) => headers(mcpHeaders, auth(k), extra), body: () => json(body), expect: err(400, "ERR_BAD_REQUEST", { rpc: -32600 }) });
    }
  }
  return rows;
}

// ---------- 5: paths ----------

const BAD_ESCAPES = ["%ff", "%E0%A4%A", "%", "%zz", "%C0%AF", "%ED%A0%80", "%F4%90%80%80", "a%", "notes%"];

function pathRows(): Row[] {
  const rows: Row[] = [];
  const userAuth = (k: Keys): HeaderList => [["authorization", `Bearer ${k.user}`]];
  const adminAuth = (k: Keys): HeaderList => [["authorization", `Bearer ${k.admin}`]];
  const bad = err(400, "ERR_BAD_REQUEST");
  for (const esc of BAD_ESCAPES) {
    rows.push({ cat: "5 paths", what: "malformed percent-escape in the server name", method: "POST", path: `/mcp/${esc}`, headers: (k) => headers(mcpHeaders, userAuth(k)), body: () => json(INIT), expect: bad });
    rows.push({ cat: "5 paths", what: "malformed percent-escape in the server name (GET)", method: "GET", path: `/mcp/${esc}`, headers: (k) => headers([["accept", "text/event-stream"]], userAuth(k)), expect: bad });
    rows.push({ cat: "5 paths", what: "malformed percent-escape in the server name (DELETE)", method: "DELETE", path: `/mcp/${esc}`, headers: (k) => headers(userAuth(k), [["mcp-session-id", NO_SESSION]]), expect: bad });
    rows.push({ cat: "5 paths", what: "malformed percent-escape in a session id", method: "GET", path: `/v1/auth/sessions/${esc}`, headers: (k) => headers(adminAuth(k)), expect: bad });
    rows.push({ cat: "5 paths", what: "malformed percent-escape in a session id (DELETE)", method: "DELETE", path: `/v1/auth/sessions/${esc}`, headers: (k) => headers(adminAuth(k)), expect: bad });
    rows.push({ cat: "5 paths", what: "malformed percent-escape in a token id (cannot name a token)", method: "GET", path: `/v1/auth/tokens/${esc}`, headers: (k) => headers(adminAuth(k)), expect: err(404, "ERR_NOT_FOUND") });
    rows.push({ cat: "5 paths", what: "malformed percent-escape in a vault secret name", method: "PUT", path: `/v1/credentials/${esc}`, headers: (k) => headers(jsonHeaders, adminAuth(k)), body: () => json({ value: "not-a-real-secret" }), expect: bad });
    rows.push({ cat: "5 paths", what: "malformed percent-escape in a per-user credential's server", method: "PUT", path: `/v1/me/credentials/${esc}`, headers: (k) => headers(jsonHeaders, userAuth(k)), body: () => json({ value: "not-a-real-secret" }), expect: bad });
  }
  const notFound = err(404, "ERR_NOT_FOUND");
  const mcp404: Array<[string, string]> = [
    ["unknown server", "/mcp/unknown-server"],
    ["unknown server, 10 KB name", `/mcp/${"a".repeat(10 * 1024)}`],
    ["server name with a NUL", "/mcp/notes%00"],
    ["server name with an encoded slash", "/mcp/notes%2fextra"],
    ["server name is a prototype key", "/mcp/__proto__"],
    ["server name is constructor", "/mcp/constructor"],
    ["traversal ..%2f", "/mcp/..%2fv1%2fauth%2ftokens"],
    ["traversal ..%2F..%2F", "/mcp/..%2F..%2Fetc%2Fpasswd"],
    ["traversal %2e%2e%2f", "/mcp/%2e%2e%2fhealthz"],
    ["traversal ..%5c (backslash)", "/mcp/..%5cv1%5cauth"],
    ["nested path /mcp/a/b", "/mcp/a/b"],
    ["server plus extra segment", "/mcp/notes/extra"],
    ["trailing slash after the server", "/mcp/notes/"],
    ["trailing slash /mcp/", "/mcp/"],
    ["double slash /mcp//notes", "/mcp//notes"],
    ["encoded separator in /mcp itself", "/mcp%2fnotes"],
    ["upper-case /MCP", "/MCP"],
    ["double leading slash //mcp", "//mcp"],
  ];
  for (const [what, path] of mcp404) {
    rows.push({ cat: "5 paths", what, method: "POST", path, headers: (k) => headers(mcpHeaders, userAuth(k)), body: () => json(INIT), expect: notFound });
  }
  const api404: Array<[string, string, string]> = [
    ["unknown token id", "GET", "/v1/auth/tokens/tok_AAAAAAAAAAAAAAAA"],
    ["token id too short", "GET", "/v1/auth/tokens/tok_AAAA"],
    ["token id with traversal", "GET", "/v1/auth/tokens/..%2f..%2fhealthz"],
    ["token id with a NUL", "GET", "/v1/auth/tokens/tok_AAAAAAAAAAAAAAAA%00"],
    ["rotate of an unknown token", "POST", "/v1/auth/tokens/tok_AAAAAAAAAAAAAAAA/rotate"],
    ["rotate with an extra segment", "POST", "/v1/auth/tokens/tok_AAAAAAAAAAAAAAAA/rotate/again"],
    ["revoke of an unknown token", "DELETE", "/v1/auth/tokens/tok_AAAAAAAAAAAAAAAA"],
    ["whoami with a trailing slash", "GET", "/v1/auth/whoami/"],
    ["the bare /v1/auth/", "GET", "/v1/auth/"],
    ["unknown /v1/auth route", "GET", "/v1/auth/admin"],
    ["unknown session id", "GET", "/v1/auth/sessions/ses_AAAAAAAAAAAAAAAA"],
    ["malformed session id", "GET", "/v1/auth/sessions/not-a-session"],
    ["session id with a NUL", "GET", "/v1/auth/sessions/ses_AAAAAAAAAAAAAAAA%00"],
    ["ending an unknown session", "DELETE", "/v1/auth/sessions/ses_AAAAAAAAAAAAAAAA"],
    ["unknown vault secret", "DELETE", "/v1/credentials/NO_SUCH_SECRET"],
    ["per-user credential for a server that takes none", "DELETE", "/v1/me/credentials/notes"],
    ["per-user credential for a prototype key", "DELETE", "/v1/me/credentials/__proto__"],
    ["unknown top-level path", "GET", "/nope"],
    ["unknown /v1 path", "GET", "/v1/nope"],
    ["dotfile", "GET", "/.env"],
    ["/v1/auth without a slash", "GET", "/v1/auth"],
    ["protected resource metadata for an escaped server", "GET", "/.well-known/oauth-protected-resource/mcp/%ff"],
  ];
  for (const [what, method, path] of api404) {
    rows.push({ cat: "5 paths", what, method, path, headers: (k) => headers(path.startsWith("/v1/me/") ? userAuth(k) : adminAuth(k)), expect: notFound });
  }
  for (const [what, method, path] of [
    ["unknown state filter", "GET", "/v1/auth/tokens?state=weird"],
    ["state filter with a bad escape", "GET", "/v1/auth/tokens?state=%ff"],
    ["unknown type filter", "GET", "/v1/auth/tokens?type=admin"],
    ["unknown sessions state filter", "GET", "/v1/auth/sessions?state=weird"],
    ["invalid vault secret name", "PUT", "/v1/credentials/has%20space"],
    ["vault secret name with a NUL", "PUT", "/v1/credentials/BAD%00NAME"],
  ]) {
    rows.push({ cat: "5 paths", what, method: method!, path: path!, headers: (k) => headers(jsonHeaders, adminAuth(k)), body: method === "PUT" ? () => json({ value: "not-a-real-secret" }) : undefined, expect: bad });
  }
  return rows;
}

// ---------- 6: token API bodies ----------

function tokenBodyRows(): Row[] {
  const rows: Row[] = [];
  const create = (what: string, body: () => BodyInit, expect: Expect | Expect[], auth: (k: Keys) => string = (k) => k.admin, type = "application/json", check?: Row["check"]): Row => ({
    cat: "6 token api",
    what,
    method: "POST",
    path: "/v1/auth/tokens",
    headers: (k) => headers([["content-type", type], ["authorization", `Bearer ${auth(k)}`]]),
    body,
    expect,
    check,
  });
  const bad = err(400, "ERR_BAD_REQUEST");
  const badBodies: Array<[string, unknown]> = [
    // unknown keys
    ["unknown key (typo)", { user: "x", tpye: "token" }],
    ["unknown key admin: true", { user: "x", admin: true }],
    ["unknown key __proto__", JSON.parse("{\"user\":\"x\",\"__proto__\":{\"scopes\":[\"admin\"]}}")],
    ["unknown key constructor", { user: "x", constructor: { prototype: { admin: true } } }],
    ["record field id", { user: "x", id: "tok_AAAAAAAAAAAAAAAA" }],
    ["record field hash", { user: "x", hash: "AAAA" }],
    ["record field expiresAt", { user: "x", expiresAt: "2999-01-01T00:00:00.000Z" }],
    ["record field createdBy", { user: "x", createdBy: "admin-token" }],
    ["record field rotatedFrom", { user: "x", rotatedFrom: "tok_AAAAAAAAAAAAAAAA" }],
    ["record field state", { user: "x", state: "active" }],
    ["record field token (choose your own secret)", { user: "x", token: "pt_chosen" }],
    ["unknown key in permissions", { user: "x", permissions: { servers: ["notes"], admin: true } }],
    // wrong types
    ["user is missing", {}],
    ["user is a number", { user: 1 }],
    ["user is null", { user: null }],
    ["user is empty", { user: "" }],
    ["user is an array", { user: ["alice"] }],
    ["user is an object", { user: { name: "alice" } }],
    ["user is 201 characters", { user: "u".repeat(201) }],
    ["name is a number", { user: "x", name: 5 }],
    ["name is 201 characters", { user: "x", name: "n".repeat(201) }],
    ["email is not an email", { user: "x", email: "not-an-email" }],
    ["email is 321 characters", { user: "x", email: `${"e".repeat(310)}@example.com` }],
    ["team is a boolean", { user: "x", team: true }],
    ["org is empty", { user: "x", org: "" }],
    ["description is 501 characters", { user: "x", description: "d".repeat(501) }],
    ["roles is a string", { user: "x", roles: "admin" }],
    ["roles has a number", { user: "x", roles: [1] }],
    ["roles has an empty name", { user: "x", roles: [""] }],
    ["roles has null", { user: "x", roles: [null] }],
    ["roles is an object", { user: "x", roles: { admin: true } }],
    ["101 roles", { user: "x", roles: Array.from({ length: 101 }, (_, i) => `r${i}`) }],
    ["a 201-character role name", { user: "x", roles: ["r".repeat(201)] }],
    ["type admin", { user: "x", type: "admin" }],
    ["type pk", { user: "x", type: "pk" }],
    ["type is a number", { user: "x", type: 1 }],
    ["scopes is a string", { user: "x", scopes: "admin" }],
    ["scopes has a number", { user: "x", scopes: [1] }],
    ["scope root", { user: "x", scopes: ["root"] }],
    ["scope in upper case", { user: "x", scopes: ["MCP:READ"] }],
    ["scope wildcard mcp:*", { user: "x", scopes: ["mcp:*"] }],
    ["scope wildcard *", { user: "x", scopes: ["*"] }],
    ["scope with a trailing space", { user: "x", scopes: ["admin "] }],
    ["scopes as one space-separated string in an array", { user: "x", scopes: ["mcp:read mcp:write"] }],
    ["permissions is an array", { user: "x", permissions: [] }],
    ["permissions is a string", { user: "x", permissions: "all" }],
    ["permissions is null", { user: "x", permissions: null }],
    ["permissions.servers is a string", { user: "x", permissions: { servers: "notes" } }],
    ["permissions.tools has a number", { user: "x", permissions: { tools: [5] } }],
    ["101 permitted servers", { user: "x", permissions: { servers: Array.from({ length: 101 }, (_, i) => `s${i}`) } }],
    ["a 201-character tool glob", { user: "x", permissions: { tools: ["t".repeat(201)] } }],
    // expiresIn
    ["expiresIn forever", { user: "x", expiresIn: "forever" }],
    ["expiresIn empty", { user: "x", expiresIn: "" }],
    ["expiresIn 0d", { user: "x", expiresIn: "0d" }],
    ["expiresIn -1d", { user: "x", expiresIn: "-1d" }],
    ["expiresIn 1.5d", { user: "x", expiresIn: "1.5d" }],
    ["expiresIn 1y", { user: "x", expiresIn: "1y" }],
    ["expiresIn 30 d", { user: "x", expiresIn: "30 d" }],
    ["expiresIn 1e3s", { user: "x", expiresIn: "1e3s" }],
    ["expiresIn 0x10s", { user: "x", expiresIn: "0x10s" }],
    ["expiresIn 7D (upper-case unit)", { user: "x", expiresIn: "7D" }],
    ["expiresIn 1000000d (seven digits)", { user: "x", expiresIn: "1000000d" }],
    ["expiresIn 999999w", { user: "x", expiresIn: "999999w" }],
    ["expiresIn 91d (over the 90d maximum)", { user: "x", expiresIn: "91d" }],
    ["expiresIn 2161h (over the maximum)", { user: "x", expiresIn: "2161h" }],
    ["expiresIn 13w (over the maximum)", { user: "x", expiresIn: "13w" }],
    ["expiresIn is a number", { user: "x", expiresIn: 30 }],
    ["expiresIn is null", { user: "x", expiresIn: null }],
    ["expiresIn is true", { user: "x", expiresIn: true }],
    // not an object
    ["body is an array", []],
    ["body is an array of a valid body", [{ user: "x" }]],
    ["body is a string", "user"],
    ["body is null", null],
    ["body is a number", 42],
    ["body is true", true],
  ];
  for (const [what, body] of badBodies) rows.push(create(what, () => json(body), bad));
  rows.push(
    create("body is not JSON", () => "{not json", bad),
    create("body is an unterminated string", () => "{\"user\":\"x", bad),
    create("body has a NUL byte outside a string", () => "{\"user\":\"x\"}\u0000", bad),
    create("body is empty", () => "", bad),
    create("body over 64 KiB", () => json({ user: "x".repeat(70_000) }), err(413, "ERR_BODY_TOO_LARGE")),
    create("body is text/plain", () => json({ user: "x" }), err(415, "ERR_UNSUPPORTED_MEDIA_TYPE"), undefined, "text/plain"),
    create("body is a form", () => "user=x&scopes=admin", err(415, "ERR_UNSUPPORTED_MEDIA_TYPE"), undefined, "application/x-www-form-urlencoded"),
  );
  // Valid bodies that look odd: accepted.
  rows.push(
    create("a role name containing a comma is accepted (forwarded encoded)", () => json({ user: "comma-role", roles: ["a,b"], expiresIn: "1h" }), ok(201), undefined, undefined, (b) => (JSON.stringify(b?.roles) === JSON.stringify(["a,b"]) ? undefined : `roles ${JSON.stringify(b?.roles)}`)),
    create("a user name with a NUL and CR/LF inside the string is accepted as data", () => json({ user: "nul\u0000cr\r\nlf", expiresIn: "1h" }), ok(201)),
    create("expiresIn with surrounding spaces is accepted", () => json({ user: "spaced", expiresIn: " 7d " }), ok(201)),
    create("expiresIn exactly the maximum (90d) is accepted", () => json({ user: "longest", expiresIn: "90d" }), ok(201)),
  );
  // Privilege: an admin limited to notes, read-only, for one hour, may hand out nothing more.
  const delegate = (k: Keys) => k.notesAdmin;
  const forbidden = err(403, "ERR_FORBIDDEN");
  const narrow = { scopes: ["mcp:read"], permissions: { servers: ["notes"] }, expiresIn: "30m" };
  for (const [what, body] of [
    ["without the notes restriction", { user: "d1", scopes: ["mcp:read"], expiresIn: "30m" }],
    ["for another server", { ...narrow, user: "d2", permissions: { servers: ["other"] } }],
    ["for notes and another server", { ...narrow, user: "d3", permissions: { servers: ["notes", "other"] } }],
    ["for every server (*)", { ...narrow, user: "d4", permissions: { servers: ["*"] } }],
    ["for a glob wider than notes (no*)", { ...narrow, user: "d5", permissions: { servers: ["no*"] } }],
    ["with an extra scope (mcp:write)", { ...narrow, user: "d6", scopes: ["mcp:read", "mcp:write"] }],
    ["with the default scopes (which include mcp:write)", { user: "d7", permissions: { servers: ["notes"] }, expiresIn: "30m" }],
    ["outliving its own remaining lifetime (2h > 1h)", { ...narrow, user: "d8", expiresIn: "2h" }],
    ["outliving its own remaining lifetime (90d)", { ...narrow, user: "d9", expiresIn: "90d" }],
    ["as an unrestricted API key", { user: "d10", type: "api-key", scopes: ["mcp:read"], expiresIn: "30m" }],
  ] as Array<[string, unknown]>) {
    rows.push(create(`notes-only admin creates a token ${what}`, () => json(body), forbidden, delegate));
  }
  rows.push(create("notes-only admin creates a token with permissions: [] (an array, so no restriction)", () => json({ user: "d11", scopes: ["mcp:read"], permissions: [], expiresIn: "30m" }), [bad, forbidden], delegate));
  rows.push(
    { cat: "6 token api", what: "notes-only admin rotates an unrestricted token", method: "POST", path: (k) => `/v1/auth/tokens/${k.richId}/rotate`, headers: (k) => headers(jsonHeaders, [["authorization", `Bearer ${k.notesAdmin}`]]), body: () => "{}", expect: forbidden },
    { cat: "6 token api", what: "notes-only admin rotates a notes token that has mcp:write", method: "POST", path: (k) => `/v1/auth/tokens/${k.writerNotesId}/rotate`, headers: (k) => headers(jsonHeaders, [["authorization", `Bearer ${k.notesAdmin}`]]), body: () => "{}", expect: forbidden },
    create("notes-only admin creates a token within its own rights (allowed)", () => json({ ...narrow, user: "d-ok" }), ok(201), delegate),
    { cat: "6 token api", what: "notes-only admin rotates a token within its own rights (allowed)", method: "POST", path: (k) => `/v1/auth/tokens/${k.narrowId}/rotate`, headers: (k) => headers(jsonHeaders, [["authorization", `Bearer ${k.notesAdmin}`]]), body: () => "{}", expect: ok(201) },
    create("the static admin token creates an unrestricted admin token for 90d", () => json({ user: "root-made", scopes: ["admin", "mcp:read", "mcp:write"], expiresIn: "90d" }), ok(201)),
    create("the static admin token creates an admin API key", () => json({ user: "root-key", type: "api-key", scopes: ["admin"], expiresIn: "1h" }), ok(201)),
    create("an unrestricted admin token creates a token for any server", () => json({ user: "admin-made", permissions: { servers: ["*"] }, expiresIn: "1d" }), ok(201), (k) => k.adminTok),
  );
  // Rotate bodies.
  for (const [what, body] of [
    ["graceSeconds over an hour", { graceSeconds: 3601 }],
    ["graceSeconds negative", { graceSeconds: -1 }],
    ["graceSeconds fractional", { graceSeconds: 1.5 }],
    ["graceSeconds a string", { graceSeconds: "60" }],
    ["graceSeconds null", { graceSeconds: null }],
    ["unknown key", { grace: 60 }],
    ["body is an array", []],
    ["body is null", null],
  ] as Array<[string, unknown]>) {
    rows.push({ cat: "6 token api", what: `rotate: ${what}`, method: "POST", path: (k) => `/v1/auth/tokens/${k.spareId}/rotate`, headers: (k) => headers(jsonHeaders, [["authorization", `Bearer ${k.admin}`]]), body: () => json(body), expect: bad });
  }
  return rows;
}

// ---------- 9: HTTP edge ----------

function edgeRows(): Row[] {
  const auth = (k: Keys): HeaderList => [["authorization", `Bearer ${k.user}`]];
  const admin = (k: Keys): HeaderList => [["authorization", `Bearer ${k.admin}`]];
  const r = (what: string, method: string, path: string | ((k: Keys) => string), h: (k: Keys) => HeaderList, expect: Expect | Expect[], body?: () => BodyInit, check?: Row["check"]): Row => ({
    cat: "9 http edge",
    what,
    method,
    path,
    headers: (k) => headers(h(k)),
    body,
    expect,
    check,
  });
  const huge = "h".repeat(1 << 20);
  return [
    r("HEAD /healthz", "HEAD", "/healthz", () => [], { status: 200, code: null }),
    r("POST /healthz", "POST", "/healthz", () => [], err(405, "ERR_METHOD_NOT_ALLOWED", { allow: "GET, HEAD" })),
    r("/healthz with a foreign Origin (public, no credential)", "GET", "/healthz", () => [["origin", "https://evil.example"]], ok()),
    r("OPTIONS /v1/auth/tokens (no CORS preflight)", "OPTIONS", "/v1/auth/tokens", () => [["origin", "http://localhost"], ["access-control-request-method", "POST"]], err(405, "ERR_METHOD_NOT_ALLOWED", { allow: "GET, POST" })),
    r("OPTIONS /v1/auth/whoami", "OPTIONS", "/v1/auth/whoami", () => [], err(405, "ERR_METHOD_NOT_ALLOWED", { allow: "GET" })),
    r("PUT /v1/auth/whoami", "PUT", "/v1/auth/whoami", auth, err(405, "ERR_METHOD_NOT_ALLOWED", { allow: "GET" })),
    r("DELETE /v1/auth/tokens", "DELETE", "/v1/auth/tokens", admin, err(405, "ERR_METHOD_NOT_ALLOWED", { allow: "GET, POST" })),
    r("PATCH /v1/auth/tokens", "PATCH", "/v1/auth/tokens", admin, err(405, "ERR_METHOD_NOT_ALLOWED")),
    r("PUT on a token", "PUT", (k) => `/v1/auth/tokens/${k.victimId}`, admin, err(405, "ERR_METHOD_NOT_ALLOWED", { allow: "GET, DELETE" })),
    r("POST on a token", "POST", (k) => `/v1/auth/tokens/${k.victimId}`, admin, err(405, "ERR_METHOD_NOT_ALLOWED")),
    r("GET on rotate", "GET", (k) => `/v1/auth/tokens/${k.victimId}/rotate`, admin, err(405, "ERR_METHOD_NOT_ALLOWED", { allow: "POST" })),
    r("GET /v1/credentials/rotate-key", "GET", "/v1/credentials/rotate-key", admin, err(405, "ERR_METHOD_NOT_ALLOWED")),
    r("POST /v1/me/credentials", "POST", "/v1/me/credentials", auth, err(405, "ERR_METHOD_NOT_ALLOWED", { allow: "GET" })),
    r("1 MB Authorization header", "GET", "/v1/auth/whoami", () => [["authorization", `Bearer pt_${huge}`]], err(401, "ERR_INVALID_CREDENTIAL")),
    r("1 MB X-API-Key header", "GET", "/v1/auth/whoami", () => [["x-api-key", huge]], err(401, "ERR_INVALID_CREDENTIAL")),
    r("1 MB Origin header", "GET", "/v1/auth/whoami", (k) => [...auth(k), ["origin", `https://${huge}.example`]], err(403, "ERR_FORBIDDEN_ORIGIN")),
    r("1 MB Mcp-Session-Id header", "POST", "/mcp", (k) => [...mcpHeaders, ...auth(k), ["mcp-session-id", huge]], err(404, "ERR_SESSION_NOT_FOUND", { rpc: -32001 }), () => json(LIST)),
    r("1 MB X-User-Email header with a valid token", "GET", "/v1/auth/whoami", (k) => [...auth(k), ["x-user-email", huge]], ok(), undefined, isAlice),
    r("1 MB User-Agent with a valid token", "GET", "/v1/auth/whoami", (k) => [...auth(k), ["user-agent", huge]], ok(), undefined, isAlice),
    r("1 MB Content-Type", "POST", "/mcp", (k) => [["content-type", `application/json;${"a=b;".repeat(1 << 18)}`], ["accept", MCP_ACCEPT], ...auth(k), ["mcp-session-id", NO_SESSION]], [err(404, "ERR_SESSION_NOT_FOUND"), err(415, "ERR_UNSUPPORTED_MEDIA_TYPE")], () => json(LIST)),
    r("1 MB query string", "GET", `/v1/auth/whoami?q=${huge}`, auth, ok(), undefined, isAlice),
    r("duplicate Origin headers, both loopback", "GET", "/v1/auth/whoami", (k) => [...auth(k), ["origin", "http://localhost"], ["origin", "http://localhost"]], err(403, "ERR_FORBIDDEN_ORIGIN")),
    r("duplicate Content-Type headers, both JSON", "POST", "/mcp", (k) => [["content-type", "application/json"], ["content-type", "application/json"], ["accept", MCP_ACCEPT], ...auth(k)], err(415, "ERR_UNSUPPORTED_MEDIA_TYPE"), () => json(INIT)),
    r("X-Forwarded-For does not change the audited address", "GET", "/v1/auth/whoami", (k) => [...auth(k), ["x-forwarded-for", "6.6.6.6"], ["x-real-ip", "6.6.6.6"], ["forwarded", "for=6.6.6.6"]], ok(), undefined, isAlice),
    r("Host header of another site", "GET", "/v1/auth/whoami", (k) => [...auth(k), ["host", "evil.example"]], ok(), undefined, isAlice),
    r("a CORS preflight on /mcp", "OPTIONS", "/mcp", () => [["origin", "https://evil.example"], ["access-control-request-method", "POST"]], err(405, "ERR_METHOD_NOT_ALLOWED")),
  ];
}

/** The whole in-process table. */
export function buildRows(): Row[] {
  return [...credentialRows(), ...credentialEdgeRows(), ...spoofRows(), ...originRows(), ...bodyRows(), ...pathRows(), ...tokenBodyRows(), ...edgeRows()];
}

/** A row as one line: category, request line, what it is, and the answer it must get. */
export function describeRow(row: Row, k?: Keys): string {
  let path = typeof row.path === "function" ? (k ? row.path(k) : "<computed>") : row.path;
  // Failure output names the credentials, it does not print them.
  if (k) for (const [name, value] of [["token", k.user], ["key", k.userKey]]) path = path.split(value!).join(`<alice's ${name}>`);
  const shown = path.length > 80 ? `${path.slice(0, 77)}...` : path;
  const want = (Array.isArray(row.expect) ? row.expect : [row.expect]).map((e) => `${e.status} ${e.code === undefined ? "(no error)" : e.code ?? "(any code)"}`).join(" or ");
  return `[${row.cat}] ${row.method} ${shown} | ${row.what} | want ${want}`;
}

/** Raw HTTP requests `Request` cannot express (a NUL or UTF-8 bytes in a header), sent over a socket. */
export interface RawRow {
  cat: Category;
  what: string;
  request: (k: Keys) => Uint8Array;
  /** Acceptable answers: the HTTP parser refusing the request (`code: null`), or the gateway's answer. */
  expect: Expect[];
}

function raw(head: string, body = ""): Uint8Array {
  const enc = new TextEncoder();
  const b = enc.encode(body);
  const lines = `${head}\r\nHost: 127.0.0.1\r\nConnection: close\r\n${body ? `Content-Length: ${b.length}\r\n` : ""}\r\n`;
  const h = enc.encode(lines);
  const out = new Uint8Array(h.length + b.length);
  out.set(h);
  out.set(b, h.length);
  return out;
}

export function rawRows(): RawRow[] {
  const parserRefused = err(400, null);
  return [
    { cat: "1 credentials", what: "a NUL byte in the bearer token", request: (k) => raw(`GET /v1/auth/whoami HTTP/1.1\r\nAuthorization: Bearer ${at(k.user, 10, "\u0000")}`), expect: [parserRefused, err(401, "ERR_INVALID_CREDENTIAL")] },
    { cat: "1 credentials", what: "a NUL byte in the API key", request: (k) => raw(`GET /v1/auth/whoami HTTP/1.1\r\nX-API-Key: ${at(k.userKey, 10, "\u0000")}`), expect: [parserRefused, err(401, "ERR_INVALID_CREDENTIAL")] },
    { cat: "1 credentials", what: "UTF-8 bytes (€) in the bearer token", request: (k) => raw(`GET /v1/auth/whoami HTTP/1.1\r\nAuthorization: Bearer ${at(k.user, 10, "\u20ac")}`), expect: [parserRefused, err(401, "ERR_INVALID_CREDENTIAL")] },
    { cat: "1 credentials", what: "UTF-8 bytes (€) in the API key", request: (k) => raw(`GET /v1/auth/whoami HTTP/1.1\r\nX-API-Key: ${at(k.userKey, 10, "\u20ac")}`), expect: [parserRefused, err(401, "ERR_INVALID_CREDENTIAL")] },
    { cat: "1 credentials", what: "UTF-8 bytes in the bearer token on /mcp", request: (k) => raw(`POST /mcp HTTP/1.1\r\nContent-Type: application/json\r\nAccept: ${MCP_ACCEPT}\r\nAuthorization: Bearer ${at(k.user, 10, "\u00e9")}\u20ac`, json(INIT)), expect: [parserRefused, err(401, "ERR_INVALID_CREDENTIAL")] },
    { cat: "3 origin", what: "a look-alike Origin in UTF-8 (Cyrillic o in localhost)", request: (k) => raw(`GET /v1/auth/whoami HTTP/1.1\r\nAuthorization: Bearer ${k.user}\r\nOrigin: http://l\u043ecalhost`), expect: [parserRefused, err(403, "ERR_FORBIDDEN_ORIGIN")] },
    { cat: "2 identity spoofing", what: "a NUL byte in X-User-Email with a valid token", request: (k) => raw(`GET /v1/auth/whoami HTTP/1.1\r\nAuthorization: Bearer ${k.user}\r\nX-User-Email: admin@example.com\u0000alice@example.com`), expect: [parserRefused, { status: 200, code: undefined }] },
    { cat: "9 http edge", what: "UTF-8 bytes in the request path", request: (k) => raw(`GET /mcp/n\u00f6tes HTTP/1.1\r\nAuthorization: Bearer ${k.user}\r\nAccept: text/event-stream`), expect: [parserRefused, err(404, "ERR_NOT_FOUND")] },
  ];
}
