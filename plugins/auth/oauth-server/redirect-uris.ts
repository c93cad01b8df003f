const LOOPBACK = new Set(["localhost", "127.0.0.1", "[::1]"]);
// Schemes that run code or read local files when "redirected" to: never a client's callback.
const FORBIDDEN_SCHEMES = new Set(["javascript:", "data:", "vbscript:", "file:", "blob:", "about:", "ftp:", "ws:", "wss:"]);

/**
 * Whether a redirect URI may be registered: https anywhere, http only on loopback (native apps, RFC
 * 8252), or a private-use scheme (`cursor://`, `vscode://`); never with a fragment or credentials.
 *
 * @example
 * redirectUriProblem("http://127.0.0.1:33418/callback"); // undefined: fine
 * redirectUriProblem("http://evil.example/cb"); // "http is only allowed on loopback"
 */
export function redirectUriProblem(uri: unknown): string | undefined {
  if (typeof uri !== "string" || uri === "" || uri.length > 2000) return "expected a URI string";
  if (uri.includes("#")) return "must not contain a fragment";
  let url: URL;
  try {
    url = new URL(uri);
  } catch {
    return "is not an absolute URI";
  }
  if (url.username || url.password) return "must not contain credentials";
  if (FORBIDDEN_SCHEMES.has(url.protocol)) return `scheme ${url.protocol} is not allowed`;
  if (url.protocol === "http:" && !LOOPBACK.has(url.hostname)) return "http is only allowed on loopback";
  return undefined;
}

/**
 * Whether a string names a loopback http(s) URL (used to allow plain-http client metadata in tests).
 *
 * @example
 * isLoopbackUrl(new URL("http://127.0.0.1:9/x")); // true
 */
export function isLoopbackUrl(url: URL): boolean {
  return LOOPBACK.has(url.hostname);
}
