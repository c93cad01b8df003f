// Identity headers are on by default, so the mapper lives in core; this is its place among the built-in
// plugins.
export { headerValue, IDENTITY_META_KEY, identityHeaders } from "../../core/mod.ts";
export type { IdentityField, IdentityHeadersOptions } from "../../core/mod.ts";
