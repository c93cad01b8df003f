/**
 * Portcullis: an MCP gateway configured as code.
 *
 * @example
 * import { createGateway, defineGateway, serve } from "portcullis";
 * import { stdio } from "portcullis/plugins";
 * const gateway = createGateway(defineGateway({ auth: [], servers: { everything: stdio({ command: "mcp-server-everything" }) } }));
 * await serve(gateway);
 * @module
 */
export { defineGateway } from "./define.ts";
export { createGateway } from "./gateway.ts";
export { serve } from "./serve/mod.ts";
export type { Served, ServeOptions } from "./serve/mod.ts";
export { configError, GatewayError, isGatewayError } from "./errors.ts";
export type { GatewayErrorCode } from "./errors.ts";
export { interpolate } from "./config/interpolate.ts";
export { credentialOf, principalOf } from "./auth/principal.ts";
export { decodePathSegment } from "./http/path.ts";
export { readBearer } from "./http/bearer.ts";
export type { AccessPolicy, ToolInfo } from "./auth/policy.ts";
export type { AuthorizeContext, AuthorizeHook } from "./auth/permissions.ts";
export type { AuditEvent, AuditSink, AuthEvent, CredentialEvent, TokenEvent, ToolCallEvent } from "./audit/events.ts";
export type { SignOptions, SigningKeys, VerifyOptions } from "./tokens/signing-keys.ts";
export { secret } from "./secrets/refs.ts";
export type { SecretRef, SecretValue } from "./secrets/refs.ts";
export { createRedactor } from "./secrets/redact.ts";
export type { Redactor } from "./secrets/redact.ts";
export type { SecretInfo, UserCredentialInfo, UserCredentials, VaultAdmin } from "./secrets/types.ts";
export type { PublicToken, TokenRecord, TokenStore, TokenType, UsageUpdate } from "./tokens/types.ts";
export type { CreateTokenInput, TokenFilter, TokenService, VerifyResult } from "./tokens/service.ts";
export type {
  AuthContext,
  AuthOutcome,
  AdminSettings,
  AuthStrategy,
  Gateway,
  GatewayConfig,
  Identity,
  ForwardedIdentity,
  IdentityMapper,
  Logger,
  Permissions,
  PluginContext,
  RequestInfo,
  ResolvedConfig,
  Route,
  SecretSource,
  ServerSettings,
  TokenSettings,
  TransportContext,
  Upstream,
} from "./types.ts";
export { VERSION } from "./version.ts";
