import { readBearer } from "../http/bearer.ts";
import { hashSecretSync } from "../tokens/secret.ts";
import type { AuthStrategy } from "../types.ts";

/**
 * The headers a presented credential may travel in: `Authorization: Bearer`, then the API-key headers the
 * strategies announce in their challenge (`ApiKey header="X-API-Key"`), `X-API-Key` always among them.
 *
 * @example
 * const headers = credentialHeaders(config.auth); // ["x-api-key"]
 */
export function credentialHeaders(strategies: readonly AuthStrategy[]): string[] {
  const names = new Set(["x-api-key"]);
  for (const s of strategies) {
    const challenge = typeof s.challenge === "string" ? s.challenge : "";
    for (const m of challenge.matchAll(/ApiKey header="([A-Za-z0-9-]+)"/g)) names.add(m[1]!.toLowerCase());
  }
  return [...names];
}

/**
 * A name for the credential a request presents, safe to count, log and audit: `sha256:` and the first 16
 * characters of the SHA-256 of the secret (gateway secrets carry no id of their own), never the secret.
 * Undefined when the request carries none in `headers` (see {@link credentialHeaders}) or a bearer.
 *
 * @example
 * credentialKey(request, ["x-api-key"]); // "sha256:Qm9fX2R1bW15X2hh"
 */
export function credentialKey(request: Request, headers: readonly string[]): string | undefined {
  let secret = readBearer(request);
  for (let i = 0; secret === undefined && i < headers.length; i++) secret = request.headers.get(headers[i]!)?.trim() || undefined;
  // Anything longer is not a credential anyone issued; its hash would still be a fine name, but bounded work is better.
  if (secret === undefined || secret.length > 8192) return undefined;
  return `sha256:${hashSecretSync(secret).slice(0, 16)}`;
}
