import type { Audit } from "../types.ts";
import { GatewayError } from "../errors.ts";
import type { SecretSource } from "../types.ts";
import { createRedactor, type Redactor } from "./redact.ts";

/** Resolves secret names across the configured sources, auditing every use. */
export interface SecretResolver {
  /** The value of `name` for a connection to `server` (on behalf of `subject` for per-user connections). */
  resolve(name: string, use: { server: string; subject?: string }): Promise<string>;
  /** Subscribes to changes of any source; returns the unsubscribe function. */
  onChange(listener: (name: string) => void): () => void;
  /** Holds every value this resolver handed out (and users' own credentials): apply it to what upstreams send back. */
  readonly redactor: Redactor;
}

/**
 * Asks each source in order; the first that has the secret answers. A secret no source has is a clear
 * error naming it (never a value), and every lookup is one `credential` audit event. Every value
 * handed out is registered with the redactor, so an upstream echoing it back cannot leak it.
 *
 * @example
 * const secrets = createSecretResolver([envSecrets()], audit);
 * const token = await secrets.resolve("GITHUB_TOKEN", { server: "github" });
 * const safe = secrets.redactor.redact(upstreamResult);
 */
export function createSecretResolver(sources: readonly SecretSource[], audit: Audit, redactor: Redactor = createRedactor()): SecretResolver {
  return {
    redactor,
    async resolve(name, use) {
      for (const source of sources) {
        let value: string | undefined;
        try {
          value = await source.get(name);
        } catch (err) {
          audit.emit({ type: "credential", action: "use", name, server: use.server, subject: use.subject, outcome: "error" });
          throw new GatewayError("ERR_CONFIG", `secret ${name}: ${source.name} failed: ${err instanceof Error ? err.message : String(err)}`);
        }
        if (value !== undefined) {
          redactor.add(value, name);
          audit.emit({ type: "credential", action: "use", name, server: use.server, subject: use.subject, outcome: "ok" });
          return value;
        }
      }
      audit.emit({ type: "credential", action: "use", name, server: use.server, subject: use.subject, outcome: "missing" });
      throw new GatewayError("ERR_CONFIG", `secret ${name} is not set in any secret source (${sources.map((s) => s.name).join(", ") || "none configured"})`);
    },
    onChange(listener) {
      const offs = sources.map((s) => s.onChange?.(listener));
      return () => offs.forEach((off) => off?.());
    },
  };
}
