import * as v from "valibot";
import { GatewayError, isGatewayError } from "../errors.ts";
import type { GatewayConfig, IdentityMapper, Upstream } from "../types.ts";
import { interpolateDeep } from "./interpolate.ts";
import { formatIssues } from "./schema.ts";

/** The plugin factories a JSON config is turned into (passed in so core does not depend on plugins). */
export interface JsonPluginFactories {
  stdio(options: { command: string; args?: string[]; env?: Record<string, string>; cwd?: string }): Upstream;
  http(options: { url: string; headers?: Record<string, string> }): Upstream;
  identityHeaders(options: { fields?: Array<"subject" | "email" | "name" | "team" | "roles" | "org"> }): IdentityMapper;
}

const IDENTITY_FIELDS = ["subject", "email", "name", "team", "roles", "org"] as const;

const stringRecord = v.record(v.string(), v.string("expected a string"), "expected an object of strings");

const StdioServer = v.strictObject({
  command: v.pipe(v.string("expected a command"), v.minLength(1, "expected a command")),
  args: v.optional(v.array(v.string("expected a string"), "expected an array of strings")),
  env: v.optional(stringRecord),
  cwd: v.optional(v.string("expected a directory")),
}, "unknown key; expected one of command, args, env, cwd");

const HttpServer = v.strictObject({
  url: v.pipe(v.string("expected an http(s) URL"), v.minLength(1, "expected an http(s) URL")),
  headers: v.optional(stringRecord),
}, "unknown key; expected one of url, headers");

const JsonConfig = v.strictObject({
  $schema: v.optional(v.string()),
  server: v.optional(v.strictObject({
    port: v.optional(v.pipe(v.number("expected an integer between 0 and 65535"), v.integer("expected an integer between 0 and 65535"), v.minValue(0, "expected an integer between 0 and 65535"), v.maxValue(65535, "expected an integer between 0 and 65535"))),
    host: v.optional(v.string("expected a host name or IP address")),
    maxBodyBytes: v.optional(v.pipe(v.number("expected a positive integer"), v.integer("expected a positive integer"), v.minValue(1, "expected a positive integer"))),
    allowedOrigins: v.optional(v.array(v.string("expected an origin"))),
    separator: v.optional(v.string("expected a separator such as __")),
  }, "unknown key; expected one of port, host, maxBodyBytes, allowedOrigins, separator")),
  auth: v.optional(v.looseObject({ type: v.optional(v.string()), enabled: v.optional(v.boolean("expected true or false")) })),
  mcpServers: v.pipe(
    v.custom<Record<string, unknown>>((x) => typeof x === "object" && x !== null && !Array.isArray(x), "expected an object of servers by name"),
    v.record(v.string(), v.custom<Record<string, unknown>>((x) => typeof x === "object" && x !== null && !Array.isArray(x), "expected { command, args?, env?, cwd? } or { url, headers? }")),
  ),
  identityForwarding: v.optional(v.strictObject({
    enabled: v.optional(v.boolean("expected true or false")),
    headers: v.optional(v.array(v.picklist(IDENTITY_FIELDS, `expected one of ${IDENTITY_FIELDS.join(", ")}`), "expected an array of identity fields")),
  }, "unknown key; expected enabled or headers")),
  logLevel: v.optional(v.picklist(["debug", "info", "warn", "error", "silent"], "expected one of debug, info, warn, error, silent")),
}, "unknown key; expected one of server, auth, mcpServers, identityForwarding, logLevel");

/** The auth strategies a JSON config can select by `auth.type`. Filled by later plugins; empty means none. */
export type JsonAuthFactory = (auth: Record<string, unknown>, path: string) => GatewayConfig["auth"];

/**
 * Converts a Portkey-compatible JSON config (`server`, `auth`, `mcpServers`) into a gateway config.
 * `${VAR}` is interpolated everywhere first.
 *
 * @example
 * const config = fromJsonConfig(JSON.parse(text), { stdio, http }, {});
 */
export function fromJsonConfig(input: unknown, factories: JsonPluginFactories, auth: Record<string, JsonAuthFactory>): GatewayConfig {
  const fail = (lines: string[]) => new GatewayError("ERR_CONFIG", `invalid gateway config:\n  ${lines.join("\n  ")}`);
  const parsed = v.safeParse(JsonConfig, input);
  if (!parsed.success) throw fail(formatIssues(parsed.issues));
  const json = parsed.output;
  const servers: Record<string, Upstream> = {};
  const problems: string[] = [];
  for (const [name, entry] of Object.entries(json.mcpServers)) {
    // Which shape is meant is told by its keys, so errors name the field, not the whole entry.
    const schema = "url" in entry ? HttpServer : StdioServer;
    const one = v.safeParse(schema, entry);
    if (!one.success) {
      problems.push(...formatIssues(one.issues).map((l) => `mcpServers.${name}${l.startsWith("config:") ? l.slice(6) : `.${l}`}`));
      continue;
    }
    try {
      // The plugin factories interpolate `${VAR}` themselves, once; their errors are re-pathed here.
      servers[name] = "url" in one.output ? factories.http(one.output as v.InferOutput<typeof HttpServer>) : factories.stdio(one.output as v.InferOutput<typeof StdioServer>);
    } catch (err) {
      if (!isGatewayError(err)) throw err;
      problems.push(err.message.replace(/^(stdio|http)\b/, `mcpServers.${name}`));
    }
  }
  if (problems.length > 0) throw fail(problems);
  const config: GatewayConfig = { servers, server: json.server, logLevel: json.logLevel };
  const forwarding = json.identityForwarding;
  if (forwarding !== undefined) {
    config.identity = forwarding.enabled === false ? [] : [factories.identityHeaders({ fields: forwarding.headers })];
  }
  if (json.auth && json.auth.enabled !== false) {
    const type = json.auth.type;
    const make = type === undefined ? undefined : auth[type];
    if (!make) {
      const known = Object.keys(auth);
      throw new GatewayError("ERR_CONFIG", `auth.type: expected ${known.length ? `one of ${known.join(", ")}` : "no type (no built-in strategy is available in this version)"}, received ${JSON.stringify(type)}`);
    }
    config.auth = make(interpolateDeep(json.auth, "auth"), "auth");
  }
  return config;
}
