import { GatewayError, type GatewayErrorCode } from "../../../core/mod.ts";

/** The RFC 6749 / 7591 / 8707 error codes this server answers with (plus RFC 6585's 429 for registration). */
export type OauthErrorCode =
  | "invalid_request"
  | "invalid_client"
  | "invalid_grant"
  | "unauthorized_client"
  | "unsupported_grant_type"
  | "unsupported_response_type"
  | "invalid_scope"
  | "invalid_target"
  | "access_denied"
  | "temporarily_unavailable"
  | "too_many_requests"
  | "invalid_redirect_uri"
  | "invalid_client_metadata";

// The gateway code each OAuth error travels under: what logs, audits and the JSON API shape would see.
const CODE: Record<OauthErrorCode, GatewayErrorCode> = {
  invalid_request: "ERR_BAD_REQUEST",
  invalid_client: "ERR_INVALID_CREDENTIAL",
  invalid_grant: "ERR_BAD_REQUEST",
  unauthorized_client: "ERR_FORBIDDEN",
  unsupported_grant_type: "ERR_BAD_REQUEST",
  unsupported_response_type: "ERR_BAD_REQUEST",
  invalid_scope: "ERR_BAD_REQUEST",
  invalid_target: "ERR_BAD_REQUEST",
  access_denied: "ERR_FORBIDDEN",
  temporarily_unavailable: "ERR_OVERLOADED",
  too_many_requests: "ERR_OVERLOADED",
  invalid_redirect_uri: "ERR_BAD_REQUEST",
  invalid_client_metadata: "ERR_BAD_REQUEST",
};

/** What an OAuth error carries besides its code and description. */
export interface OauthErrorOptions {
  /** Default 400, as RFC 6749 §5.2 has it, whatever the gateway code's own status. */
  status?: number;
  headers?: Record<string, string>;
  /** When the OAuth code alone would file it under the wrong gateway code (a 403 `invalid_request`). */
  code?: GatewayErrorCode;
  cause?: unknown;
}

/**
 * A GatewayError that answers as an RFC 6749 error (`{ error, error_description }`) on the protocol
 * endpoints and as an error page or a redirect with `error=` on the browser ones.
 *
 * @example
 * throw oauthError("invalid_grant", "authorization code is invalid or was already used");
 * throw oauthError("invalid_client", "unknown client", { status: 401 });
 */
export function oauthError(error: OauthErrorCode, description: string, options: OauthErrorOptions = {}): GatewayError {
  return new GatewayError(options.code ?? CODE[error], description, { oauth: error, status: options.status ?? 400, headers: options.headers, cause: options.cause });
}
