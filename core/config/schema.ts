import * as v from "valibot";
import { GatewayError } from "../errors.ts";
import { storeKind } from "../tokens/derive-store.ts";

const SERVER_KEYS = ["host", "port", "maxBodyBytes", "allowedOrigins", "trustedProxies", "separator", "sessionIdleSeconds", "maxSessions", "maxSessionsPerUser", "bodyTimeoutMs", "headersTimeoutMs", "publicUrl", "tls"] as const;
const TLS_KEYS = ["cert", "key", "ca", "minVersion", "requestCert", "rejectUnauthorized"] as const;
const TOP_KEYS = ["server", "auth", "servers", "tokens", "roles", "authorize", "audit", "identity", "secrets", "admin", "console", "keys", "metrics", "tracing", "logLevel", "logger", "limits", "alerts"] as const;

function oneOf(keys: readonly string[]): string {
  return `unknown key; expected one of ${keys.join(", ")}`;
}

// Plugins are recognised by the hooks they have, never by their names: a name only labels logs and errors.
const plugin = (what: string) =>
  v.custom<{ name: string }>(
    (input) => typeof input === "object" && input !== null && typeof (input as { name?: unknown }).name === "string",
    `expected ${what}`,
  );

const authStrategy = v.pipe(
  plugin("an auth strategy plugin ({ name, authenticate })"),
  v.check((s) => typeof (s as { authenticate?: unknown }).authenticate === "function", "expected an auth strategy plugin ({ name, authenticate })"),
);

const upstream = v.pipe(
  plugin("an upstream plugin such as stdio({ command }) or http({ url })"),
  v.check((u) => typeof (u as { createTransport?: unknown }).createTransport === "function", "expected an upstream plugin with createTransport()"),
);

// `tokens.maxLifetime` and `tokens.rotateEvery`: one duration per token kind.
const perKind = (what: string) =>
  v.strictObject(
    Object.fromEntries(["development", "production", "ci"].map((kind) => [
      kind,
      v.optional(v.pipe(v.string(`expected a duration such as 7d`), v.regex(/^\d{1,6}[smhdw]$/, "expected a duration such as 90m, 24h, 7d or 30d"))),
    ])),
    `unknown key; expected development, production or ci (the token kinds ${what} is set for)`,
  );

const positiveInt = (what: string) => v.pipe(v.number(`expected ${what}`), v.integer(`expected ${what}`), v.minValue(1, `expected ${what}`));

const RATE_MESSAGE = "expected a rate such as 100/m, 1000/h or 20/10s";
const rate = v.pipe(v.string(RATE_MESSAGE), v.regex(/^\d{1,9}\/\d{0,6}[smhd]$/, RATE_MESSAGE));
const durationString = (example: string) => v.pipe(v.string(`expected a duration such as ${example}`), v.regex(/^\d{1,6}[smhdw]$/, `expected a duration such as 30s, 1m, 5m or 1h`));

// `limits`: the brute-force defence and the rate limits (core/limits/).
const limitsSchema = v.lazy((input) =>
  input === false ? v.literal(false) : v.strictObject({
    failedAuth: v.optional(v.lazy((f) =>
      f === false ? v.literal(false) : v.strictObject({
        within: v.optional(durationString("1m")),
        slowAfter: v.optional(v.pipe(v.number("expected a whole number of failures"), v.integer("expected a whole number of failures"), v.minValue(0, "expected a whole number of failures"))),
        delayMs: v.optional(v.pipe(v.number("expected milliseconds from 0 to 10000"), v.integer("expected milliseconds from 0 to 10000"), v.minValue(0, "expected milliseconds from 0 to 10000"), v.maxValue(10_000, "expected milliseconds from 0 to 10000"))),
        lockAfter: v.optional(positiveInt("a positive whole number of failures")),
        lockFor: v.optional(durationString("5m")),
      }, oneOf(["within", "slowAfter", "delayMs", "lockAfter", "lockFor"]))
    )),
    token: v.optional(rate),
    user: v.optional(rate),
    server: v.optional(v.union([rate, v.record(v.string(), rate)], "expected a rate such as 1000/m, or an object of server names (or *) to rates")),
  }, oneOf(["failedAuth", "token", "user", "server"]))
);

const ALERT_TRIGGERS = ["auth.failed", "token.used_from_new_address", "admin.action", "lockout", "rate_limit", "oauth.replay", "tool_call.denied"] as const;
const alertRule = v.strictObject({
  when: v.picklist(ALERT_TRIGGERS, `expected one of ${ALERT_TRIGGERS.join(", ")}`),
  name: v.optional(v.pipe(v.string("expected a rule name"), v.minLength(1, "expected a rule name"), v.maxLength(100, "expected at most 100 characters"))),
  count: v.optional(positiveInt("a positive whole number of events")),
  within: v.optional(durationString("5m")),
  by: v.optional(v.picklist(["address", "user", "token"], 'expected "address", "user" or "token"')),
  severity: v.optional(v.picklist(["info", "warning", "critical"], 'expected "info", "warning" or "critical"')),
}, oneOf(["when", "name", "count", "within", "by", "severity"]));

/** The valibot schema of `defineGateway({...})`; unknown keys are errors so typos never pass silently. */
export const GatewayConfigSchema = v.strictObject(
  {
    server: v.optional(
      v.strictObject(
        {
          host: v.optional(v.pipe(v.string("expected a host name or IP address"), v.minLength(1, "expected a host name or IP address"))),
          port: v.optional(v.pipe(v.number("expected an integer between 0 and 65535"), v.integer("expected an integer between 0 and 65535"), v.minValue(0, "expected an integer between 0 and 65535"), v.maxValue(65535, "expected an integer between 0 and 65535"))),
          maxBodyBytes: v.optional(positiveInt("a positive integer number of bytes")),
          allowedOrigins: v.optional(v.array(v.string("expected an origin such as https://app.example.com"), "expected an array of origins")),
          trustedProxies: v.optional(v.array(v.string("expected an IP address or CIDR range such as 10.0.0.0/8"), "expected an array of addresses or CIDR ranges")),
          separator: v.optional(v.pipe(v.string("expected a non-empty separator such as __"), v.regex(/^[^\s/]{1,8}$/, "expected 1 to 8 characters without spaces or slashes"))),
          sessionIdleSeconds: v.optional(positiveInt("a positive integer number of seconds")),
          maxSessions: v.optional(positiveInt("a positive integer")),
          maxSessionsPerUser: v.optional(positiveInt("a positive integer")),
          bodyTimeoutMs: v.optional(v.pipe(v.number("expected milliseconds from 100 to 600000"), v.integer("expected milliseconds from 100 to 600000"), v.minValue(100, "expected milliseconds from 100 to 600000"), v.maxValue(600_000, "expected milliseconds from 100 to 600000"))),
          headersTimeoutMs: v.optional(v.pipe(v.number("expected milliseconds from 100 to 600000"), v.integer("expected milliseconds from 100 to 600000"), v.minValue(100, "expected milliseconds from 100 to 600000"), v.maxValue(600_000, "expected milliseconds from 100 to 600000"))),
          publicUrl: v.optional(v.pipe(v.string("expected the gateway's public URL such as https://mcp.example.com"), v.regex(/^https?:\/\/[^/?#\s]+\/?$/, "expected the gateway's public URL such as https://mcp.example.com (no path)"))),
          tls: v.optional(v.strictObject(
            {
              cert: v.pipe(v.string("expected the path of a PEM certificate file"), v.minLength(1, "expected the path of a PEM certificate file")),
              key: v.pipe(v.string("expected the path of a PEM private key file"), v.minLength(1, "expected the path of a PEM private key file")),
              ca: v.optional(v.pipe(v.string("expected the path of a PEM file of CA certificates"), v.minLength(1, "expected the path of a PEM file of CA certificates"))),
              minVersion: v.optional(v.picklist(["TLSv1.2", "TLSv1.3"], 'expected "TLSv1.2" or "TLSv1.3"')),
              requestCert: v.optional(v.boolean("expected true or false")),
              rejectUnauthorized: v.optional(v.boolean("expected true or false")),
            },
            oneOf(TLS_KEYS),
          )),
        },
        oneOf(SERVER_KEYS),
      ),
      {},
    ),
    auth: v.optional(v.array(authStrategy, "expected an auth strategy or an array of them")),
    servers: v.pipe(
      v.custom<Record<string, unknown>>((x) => typeof x === "object" && x !== null && !Array.isArray(x), "expected an object of named upstreams, e.g. { everything: stdio({ command }) }"),
      v.record(
        v.pipe(v.string(), v.regex(/^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$/, "expected a server name of letters, digits, - and _ (at most 64)")),
        upstream,
        "expected an object of named upstreams, e.g. { everything: stdio({ command }) }",
      ),
    ),
    tokens: v.optional(v.strictObject({
      store: v.optional(v.pipe(
        plugin("a store plugin such as fileStore({ dir }) or memoryStore()"),
        v.check((x) => storeKind(x) !== undefined, "expected a store plugin: a key-value store { name, get, put, take, list, close } or a full token store with findByHash()"),
      )),
      defaultExpiresIn: v.optional(v.pipe(v.string("expected a duration such as 30d"), v.regex(/^\d{1,6}[smhdw]$/, "expected a duration such as 90m, 24h, 7d or 30d"))),
      maxExpiresIn: v.optional(v.pipe(v.string("expected a duration such as 365d"), v.regex(/^\d{1,6}[smhdw]$/, "expected a duration such as 90m, 24h, 7d or 365d"))),
      verifyCacheMs: v.optional(v.pipe(v.number("expected milliseconds from 0 to 60000"), v.integer("expected milliseconds from 0 to 60000"), v.minValue(0, "expected milliseconds from 0 to 60000"), v.maxValue(60_000, "expected milliseconds from 0 to 60000"))),
      maxLifetime: v.optional(perKind("maxLifetime")),
      rotateEvery: v.optional(perKind("rotateEvery")),
    }, oneOf(["store", "defaultExpiresIn", "maxExpiresIn", "verifyCacheMs", "maxLifetime", "rotateEvery"]))),
    roles: v.optional(v.record(
      v.string(),
      v.strictObject({
        servers: v.optional(v.array(v.string("expected a server name or glob"), "expected an array of server names or globs")),
        tools: v.optional(v.array(v.string("expected a tool name, glob, read or write"), "expected an array of tool names, globs, read or write")),
      }, oneOf(["servers", "tools"])),
      "expected an object of role names to { servers?, tools? }",
    )),
    authorize: v.optional(v.custom((x) => typeof x === "function", "expected a function (ctx) => boolean | undefined")),
    // `false` turns auditing off, default file included; anything else must be a list of sinks.
    audit: v.optional(v.lazy((input) =>
      input === false ? v.literal(false) : v.array(
        v.pipe(
          plugin("an audit sink plugin such as consoleAudit() or jsonlAudit({ path })"),
          v.check((x) => typeof (x as { write?: unknown }).write === "function", "expected an audit sink plugin with write()"),
        ),
        "expected an array of audit sinks, or false",
      )
    )),
    identity: v.optional(v.array(
      v.pipe(
        plugin("an identity mapper plugin such as identityHeaders() or jwtAssertion()"),
        v.check((x) => typeof (x as { map?: unknown }).map === "function", "expected an identity mapper plugin with map()"),
      ),
      "expected an array of identity mappers, e.g. [identityHeaders()]",
    )),
    secrets: v.optional(v.array(
      v.pipe(
        plugin("a secret source plugin such as envSecrets() or vault()"),
        v.check((x) => typeof (x as { get?: unknown }).get === "function", "expected a secret source plugin with get()"),
      ),
      "expected an array of secret sources, e.g. [envSecrets(), vault()]",
    )),
    keys: v.optional(v.strictObject({
      rotateEvery: v.optional(v.pipe(v.string("expected a duration such as 30d"), v.regex(/^\d{1,6}[smhdw]$/, "expected a duration such as 90m, 24h, 7d or 30d"))),
      retain: v.optional(v.pipe(v.string("expected a duration such as 1d"), v.regex(/^\d{1,6}[smhdw]$/, "expected a duration such as 90m, 24h, 7d or 30d"))),
      masterKey: v.optional(v.pipe(v.string("expected 32 random bytes as base64 or 64 hex digits"), v.minLength(1, "expected 32 random bytes as base64 or 64 hex digits"))),
    }, oneOf(["rotateEvery", "retain", "masterKey"]))),
    admin: v.optional(v.strictObject({
      // A `${VAR}` is judged by its value, in resolveConfig.
      token: v.optional(v.pipe(v.string("expected a string of at least 32 characters"), v.check((t) => t.includes("${") || t.length >= 32, "expected a string of at least 32 characters"))),
      bootstrap: v.optional(v.boolean("expected true or false")),
      onBootstrap: v.optional(v.custom((x) => typeof x === "function", "expected a function (secret, id) => void")),
    }, oneOf(["token", "bootstrap", "onBootstrap"]))),
    console: v.optional(v.strictObject({
      enabled: v.optional(v.boolean("expected true or false")),
      idleTimeout: v.optional(v.pipe(v.string("expected a duration such as 30m"), v.regex(/^\d{1,6}[smhdw]$/, "expected a duration such as 15m, 30m or 2h"))),
      absoluteTimeout: v.optional(v.pipe(v.string("expected a duration such as 12h"), v.regex(/^\d{1,6}[smhdw]$/, "expected a duration such as 8h, 12h or 1d"))),
    }, oneOf(["enabled", "idleTimeout", "absoluteTimeout"]))),
    metrics: v.optional(v.lazy((input) =>
      input === false ? v.literal(false) : v.strictObject({
        enabled: v.optional(v.boolean("expected true or false")),
        allowFrom: v.optional(v.array(v.string("expected an address or CIDR range such as 10.0.0.0/8"), "expected an array of addresses or CIDR ranges such as 10.0.0.0/8")),
      }, oneOf(["enabled", "allowFrom"]))
    )),
    tracing: v.optional(v.strictObject({
      otlp: v.optional(v.strictObject({
        url: v.pipe(v.string("expected the collector's OTLP/HTTP traces URL such as http://127.0.0.1:4318/v1/traces"), v.minLength(1, "expected the collector's OTLP/HTTP traces URL such as http://127.0.0.1:4318/v1/traces")),
        headers: v.optional(v.record(v.string(), v.string("expected a header value"), "expected an object of header names to values")),
      }, oneOf(["url", "headers"]))),
      serviceName: v.optional(v.pipe(v.string("expected a service name such as portcullis"), v.minLength(1, "expected a service name such as portcullis"), v.maxLength(256, "expected at most 256 characters"))),
      provider: v.optional(v.custom((x) => typeof x === "object" && x !== null && typeof (x as { getTracer?: unknown }).getTracer === "function", "expected an OpenTelemetry TracerProvider (with getTracer())")),
    }, oneOf(["otlp", "serviceName", "provider"]))),
    limits: v.optional(limitsSchema),
    alerts: v.optional(v.array(alertRule, "expected an array of alert rules such as { when: \"auth.failed\", count: 10, within: \"5m\" }")),
    logLevel: v.optional(v.picklist(["debug", "info", "warn", "error", "silent"], "expected one of debug, info, warn, error, silent")),
    logger: v.optional(v.custom((x) => typeof x === "object" && x !== null && typeof (x as { info?: unknown }).info === "function", "expected a logger with debug/info/warn/error")),
  },
  oneOf(TOP_KEYS),
);

/**
 * `v.strictObject` that also refuses arrays (valibot takes `[]` for an empty object): for request bodies
 * and nested option objects, where an array is always a mistake.
 *
 * @example
 * const Body = plainObject({ graceSeconds: v.optional(v.number()) }, "expected { graceSeconds? }");
 */
export function plainObject<const T extends v.ObjectEntries>(entries: T, message: string) {
  return v.pipe(v.custom<unknown>((x) => !Array.isArray(x), message), v.strictObject(entries, message));
}

function describe(value: unknown): string {
  if (typeof value === "function") return "a function";
  if (typeof value === "string") return JSON.stringify(value.length > 40 ? value.slice(0, 40) + "…" : value);
  if (Array.isArray(value)) return "an array";
  if (value === null) return "null";
  if (typeof value === "object") return "an object";
  return String(value);
}

/**
 * Formats valibot issues as `path: message, received X` lines; strict-object issues are told apart as
 * unknown key, missing key, or not an object at all.
 *
 * @example
 * formatIssues(result.issues);
 */
export function formatIssues(issues: readonly v.BaseIssue<unknown>[]): string[] {
  const lines = issues.map((issue) => {
    const path = pathOf(issue) || "config";
    if (issue.type === "strict_object" || issue.type === "object" || issue.type === "loose_object") {
      if (issue.expected === "never") return `${path}: ${issue.message}`;
      if (issue.input === undefined && (issue.path?.length ?? 0) > 0) return `${path}: required, but missing`;
      return `${path}: expected an object, received ${describe(issue.input)}`;
    }
    // Values at paths that may hold credentials are never echoed back.
    const shown = typeof issue.input === "string" && /token|secret|password|key|auth|header|env/i.test(path) ? "a string" : describe(issue.input);
    return `${path}: ${issue.message}, received ${shown}`;
  });
  return [...new Set(lines)];
}

/**
 * The dotted path of a valibot issue, e.g. `auth[1].issuer`.
 *
 * @example
 * pathOf(result.issues[0]); // "permissions.servers"
 */
export function pathOf(issue: v.BaseIssue<unknown>): string {
  let out = "";
  for (const item of issue.path ?? []) {
    const key = item.key as string | number;
    out += typeof key === "number" ? `[${key}]` : out === "" ? String(key) : `.${String(key)}`;
  }
  return out;
}

/**
 * Validates a config object, throwing one `ERR_CONFIG` error that lists every problem with its path.
 *
 * @example
 * validateConfig({ servers: { x: "oops" } }); // throws "servers.x: expected an upstream plugin ..."
 */
export function validateConfig(input: unknown): v.InferOutput<typeof GatewayConfigSchema> {
  // One strategy or a list: validated as a list so every error names its index.
  const auth = (input as { auth?: unknown } | null)?.auth;
  const normalized = auth !== undefined && !Array.isArray(auth) && typeof auth === "object" && auth !== null
    ? { ...(input as object), auth: [auth] }
    : input;
  const result = v.safeParse(GatewayConfigSchema, normalized);
  if (result.success) return result.output;
  throw new GatewayError("ERR_CONFIG", `invalid gateway config:\n  ${formatIssues(result.issues).join("\n  ")}`);
}
