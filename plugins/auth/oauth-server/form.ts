import { BODY_TIMEOUT_MS, isGatewayError, readBodyText } from "../../../core/mod.ts";
import { oauthError } from "./oauth-error.ts";

const LIMIT = 64 * 1024;

/**
 * Reads an `application/x-www-form-urlencoded` body (token, revoke and consent endpoints) under a small
 * size limit and a read deadline; every failure is an OAuth `invalid_request`.
 *
 * @example
 * const form = await readForm(request);
 * form.get("grant_type");
 */
export async function readForm(request: Request, timeoutMs: number = BODY_TIMEOUT_MS): Promise<URLSearchParams> {
  const type = request.headers.get("content-type") ?? "";
  if (!/^application\/x-www-form-urlencoded\s*(;|$)/i.test(type)) {
    throw oauthError("invalid_request", "expected an application/x-www-form-urlencoded body");
  }
  const form = new URLSearchParams(await readOauthBody(request, LIMIT, timeoutMs));
  // RFC 6749 §3.1: parameters must not be repeated; a repeated one is ambiguous, so refuse it.
  const seen = new Set<string>();
  for (const key of form.keys()) {
    if (seen.has(key)) throw oauthError("invalid_request", `parameter ${key} is repeated`);
    seen.add(key);
  }
  return form;
}

/**
 * Reads a request body as text for an OAuth endpoint: a body too large (413), too slow (408) or
 * abandoned by the client becomes an OAuth `invalid_request` with the same status and headers.
 *
 * @example
 * const text = await readOauthBody(request, 64 * 1024);
 */
export async function readOauthBody(request: Request, limit: number, timeoutMs: number = BODY_TIMEOUT_MS): Promise<string> {
  try {
    return await readBodyText(request, limit, timeoutMs);
  } catch (err) {
    // Kept: the status, and the `Connection: close` that says the rest of the body will not be read.
    if (isGatewayError(err)) throw oauthError("invalid_request", err.message, { code: err.code, status: err.status, headers: err.headers, cause: err });
    throw err;
  }
}
