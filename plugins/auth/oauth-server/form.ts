import { readRequestBody } from "@modelcontextprotocol/server";
import { oauthError } from "./oauth-error.ts";

const LIMIT = 64 * 1024;

/**
 * Reads an `application/x-www-form-urlencoded` body (token, revoke and consent endpoints) under a small
 * size limit; anything else is an OAuth `invalid_request`.
 *
 * @example
 * const form = await readForm(request);
 * form.get("grant_type");
 */
export async function readForm(request: Request): Promise<URLSearchParams> {
  const type = request.headers.get("content-type") ?? "";
  if (!/^application\/x-www-form-urlencoded\s*(;|$)/i.test(type)) {
    throw oauthError("invalid_request", "expected an application/x-www-form-urlencoded body");
  }
  const read = await readRequestBody(request, LIMIT);
  if (read.tooLarge) throw oauthError("invalid_request", "request body too large", 413);
  const form = new URLSearchParams(read.text);
  // RFC 6749 §3.1: parameters must not be repeated; a repeated one is ambiguous, so refuse it.
  const seen = new Set<string>();
  for (const key of form.keys()) {
    if (seen.has(key)) throw oauthError("invalid_request", `parameter ${key} is repeated`);
    seen.add(key);
  }
  return form;
}
