import { createAudit } from "../audit/bus.ts";
import { resolveConfig } from "../config/resolve.ts";
import { createLogger } from "../log.ts";
import { createTokenService } from "../tokens/service.ts";
import type { Audit, GatewayConfig, Logger, ResolvedConfig, TokenService, TokenStore } from "../types.ts";

/** The configured store opened by a CLI command without a running gateway, with a token service over it. */
export interface LocalStore {
  resolved: ResolvedConfig;
  store: TokenStore;
  tokens: TokenService;
  log: Logger;
  audit: Audit;
  /** Writes what is pending (usage, audit) and closes the store. */
  close(): Promise<void>;
}

/**
 * Opens the store `config` names for a command run on this machine (`tokens`, `usage`, `review`): the
 * token service has the config's lifetimes and policy, and audits to the config's sinks when `audited`.
 *
 * @example
 * const local = await openLocalStore(config, { audited: true });
 * try { await local.tokens.list(); } finally { await local.close(); }
 */
export async function openLocalStore(config: GatewayConfig, options: { audited?: boolean } = {}): Promise<LocalStore> {
  const resolved = resolveConfig(config);
  const log = createLogger("warn");
  const audit = createAudit(options.audited ? resolved.audit : [], log);
  const store = resolved.tokens.store;
  await store.open?.();
  const tokens = createTokenService({
    store,
    audit,
    log,
    defaultLifetimeSeconds: resolved.tokens.defaultLifetimeSeconds,
    maxLifetimeSeconds: resolved.tokens.maxLifetimeSeconds,
    policy: resolved.tokens.policy,
  });
  return {
    resolved,
    store,
    tokens,
    log,
    audit,
    async close() {
      await tokens.close();
      await store.close();
      await audit.close();
    },
  };
}
