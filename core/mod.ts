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
export { VERSION } from "./version.ts";

// The contracts of every plugin kind (core/contracts/): what a plugin of each kind is, and what it is handed.
export type * from "./types.ts";
export type { GatewayErrorCode } from "./errors.ts";

// The plugin kit: everything a plugin of any kind needs besides its contract. Built-in plugins use this
// surface and nothing else (tests/core/layering.test.ts holds them to it).
// Errors and config.
export { configError, GatewayError, isGatewayError } from "./errors.ts";
export { interpolate, interpolateDeep, readEnv } from "./config/interpolate.ts";
export { pathOf, plainObject } from "./config/schema.ts";
export { parseDuration } from "./tokens/duration.ts";
// HTTP.
export { readBearer } from "./http/bearer.ts";
export { BODY_TIMEOUT_MS, readBodyText, readJsonBody } from "./http/body.ts";
export { decodePathSegment } from "./http/path.ts";
// Client addresses: CIDR ranges (`10.0.0.0/8`, `2001:db8::/32`) parsed once at config time.
export { inRanges, parseAddress, parseCidr } from "./observe/cidr.ts";
export type { Cidr } from "./observe/cidr.ts";
export { errorResponse, json, oauthErrorResponse } from "./http/responses.ts";
// Identities and credentials.
export { credentialOf, principalOf } from "./auth/principal.ts";
export { API_KEY_PREFIX, constantTimeEqual, hashSecret, newId, newSecret, TOKEN_PREFIX } from "./tokens/secret.ts";
export { identityOf, stateOf } from "./tokens/service.ts";
// Stores: a key-value store (`KeyValueStore`) made into the full store the gateway uses.
export { deriveStore } from "./tokens/derive-store.ts";
export { tokenStrategy } from "./tokens/strategy.ts";
// Secrets: `secret("NAME")` templating, redaction, the master key.
export { isSecretRef, parseSecretTemplate, renderSecretTemplate, secret, SECRET_NAME } from "./secrets/refs.ts";
export type { SecretRef, SecretTemplate, SecretValue } from "./secrets/refs.ts";
export { createRedactor } from "./secrets/redact.ts";
export type { Redactor } from "./secrets/redact.ts";
export { decodeMasterKey, MASTER_KEY_ENV } from "./secrets/crypto.ts";
export type { Keyring } from "./secrets/crypto.ts";
export { openKeyring, rotateMasterKey } from "./secrets/master-key.ts";
export type { RotationResult, StoredSealed } from "./secrets/master-key.ts";
export type { SecretInfo, UserCredentialInfo, UserCredentials, VaultAdmin } from "./secrets/types.ts";
// The runtime's own defaults, which are plugins like any other.
export { memoryStore } from "./tokens/memory-store.ts";
export { headerValue, IDENTITY_META_KEY, identityHeaders } from "./mcp/identity-headers.ts";
export type { IdentityField, IdentityHeadersOptions } from "./mcp/identity-headers.ts";
export { envSecrets } from "./secrets/env.ts";
export type { EnvSecretsOptions } from "./secrets/env.ts";
