/**
 * Built-in Portcullis plugins: auth strategies, token stores, audit sinks and upstreams.
 *
 * @example
 * import { bearer, fileStore, jsonlAudit, stdio } from "portcullis/plugins";
 * @module
 */
export { bearer } from "./auth/bearer.ts";
export type { BearerOptions } from "./auth/bearer.ts";
export { apiKey } from "./auth/api-key.ts";
export type { ApiKeyOptions } from "./auth/api-key.ts";
export { oauthServer } from "./auth/oauth-server.ts";
export type { ClaimMapping as OauthClaimMapping, OauthServerExtras, OauthServerOptions, StaticClient, UpstreamIdp } from "./auth/oauth-server.ts";
export { mtls } from "./auth/mtls.ts";
export type { ClientCertificate, ForwardedFormat, MtlsIdentityMapping, MtlsOptions, MtlsStrategy } from "./auth/mtls.ts";
export { oidc } from "./auth/oidc.ts";
export type { OidcClaimMapping, OidcClaimPath, OidcOptions, OidcProvider } from "./auth/oidc.ts";
export { memoryStore } from "./stores/memory.ts";
export { fileStore } from "./stores/file.ts";
export type { FileStoreOptions } from "./stores/file.ts";
export { redisStore } from "./stores/redis.ts";
export type { RedisStoreOptions, RedisTlsOptions } from "./stores/redis.ts";
export { consoleAudit } from "./audit/console.ts";
export { jsonlAudit } from "./audit/jsonl.ts";
export type { JsonlAuditOptions } from "./audit/jsonl.ts";
export { webhookAudit } from "./audit/webhook.ts";
export type { WebhookAuditOptions, WebhookAuditSink, WebhookStats } from "./audit/webhook.ts";
export { stdio } from "./upstreams/stdio.ts";
export type { StdioOptions } from "./upstreams/stdio.ts";
export { http } from "./upstreams/http.ts";
export type { HttpOptions } from "./upstreams/http.ts";
export { headerValue, IDENTITY_META_KEY, identityHeaders } from "./identity/headers.ts";
export type { IdentityField, IdentityHeadersOptions } from "./identity/headers.ts";
export { ASSERTION_META_KEY, jwtAssertion } from "./identity/jwt-assertion.ts";
export type { JwtAssertionOptions } from "./identity/jwt-assertion.ts";
export { envSecrets } from "./secrets/env.ts";
export type { EnvSecretsOptions } from "./secrets/env.ts";
export { vault } from "./secrets/vault.ts";
export type { Vault, VaultOptions } from "./secrets/vault.ts";
export { secret } from "../core/mod.ts";
export type { SecretRef, SecretValue } from "../core/mod.ts";
