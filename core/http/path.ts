import { GatewayError } from "../errors.ts";

/**
 * Decodes one percent-encoded path segment. A malformed escape (`%ff`, `%E0%A4%A`, a lone `%`) is the
 * client's mistake: `ERR_BAD_REQUEST` (400), never an unhandled `URIError`.
 *
 * @example
 * decodePathSegment("my%20server"); // "my server"
 * decodePathSegment("%ff"); // throws GatewayError ERR_BAD_REQUEST
 */
export function decodePathSegment(raw: string): string {
  try {
    return decodeURIComponent(raw);
  } catch {
    throw new GatewayError("ERR_BAD_REQUEST", "malformed percent-escape in the request path");
  }
}
