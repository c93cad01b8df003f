// Every contract of the gateway, by plugin kind (core/contracts/), in one place for core's own files.
// Type-only: the contracts import no implementation, so nothing here can form an import loop.
export type * from "./contracts/audit.ts";
export type * from "./contracts/auth.ts";
export type * from "./contracts/config.ts";
export type * from "./contracts/identity.ts";
export type * from "./contracts/identity-mapper.ts";
export type * from "./contracts/logger.ts";
export type * from "./contracts/plugin-context.ts";
export type * from "./contracts/policy.ts";
export type * from "./contracts/secrets.ts";
export type * from "./contracts/store.ts";
export type * from "./contracts/tokens.ts";
export type * from "./contracts/upstream.ts";
