// `metrics` and `tracing` of defineGateway, checked and given their defaults (called by resolveConfig).
import { interpolate } from "../config/interpolate.ts";
import { configError } from "../errors.ts";
import type { GatewayConfig, ResolvedConfig } from "../types.ts";
import { parseCidr } from "./cidr.ts";

/**
 * `metrics` with its defaults: on, no address allowed without a credential. Every `allowFrom` entry must
 * be an address or a CIDR range.
 *
 * @example
 * resolveMetrics({ allowFrom: ["10.0.0.0/8"] }); // { enabled: true, allowFrom: ["10.0.0.0/8"] }
 */
export function resolveMetrics(input: GatewayConfig["metrics"]): NonNullable<ResolvedConfig["metrics"]> {
  if (input === false) return { enabled: false, allowFrom: [] };
  const allowFrom = (input?.allowFrom ?? []).map((entry, i) => {
    const value = interpolate(entry, `metrics.allowFrom[${i}]`);
    if (parseCidr(value) === undefined) throw configError(`metrics.allowFrom[${i}]`, "expected an IP address or CIDR range such as 10.0.0.0/8 or ::1", JSON.stringify(value));
    return value;
  });
  return { enabled: input?.enabled ?? true, allowFrom };
}

/**
 * `tracing` with its defaults: `serviceName` `portcullis`; the OTLP URL must be http(s), and `otlp` and
 * `provider` exclude each other (one of them is needed).
 *
 * @example
 * resolveTracing({ otlp: { url: "http://127.0.0.1:4318/v1/traces" } });
 */
export function resolveTracing(input: NonNullable<GatewayConfig["tracing"]>): NonNullable<ResolvedConfig["tracing"]> {
  if (input.otlp && input.provider) throw configError("tracing.provider", "expected either tracing.otlp or tracing.provider, not both");
  if (!input.otlp && !input.provider) throw configError("tracing.otlp", "expected { url } of an OTLP/HTTP collector (or tracing.provider)");
  const serviceName = input.serviceName ?? "portcullis";
  if (input.provider) return { serviceName, provider: input.provider };
  const url = interpolate(input.otlp!.url, "tracing.otlp.url");
  let parsed: URL | undefined;
  try {
    parsed = new URL(url);
  } catch {
    parsed = undefined;
  }
  if (!parsed || (parsed.protocol !== "http:" && parsed.protocol !== "https:")) {
    throw configError("tracing.otlp.url", "expected an http(s) URL such as http://127.0.0.1:4318/v1/traces", JSON.stringify(url));
  }
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(input.otlp!.headers ?? {})) headers[name] = interpolate(value, `tracing.otlp.headers.${name}`);
  return { serviceName, otlp: { url, headers } };
}
