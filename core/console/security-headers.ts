/**
 * The console's Content-Security-Policy: its own script and stylesheet only (no inline code, no other
 * origin), API calls to itself, no framing, no plugins, forms only back to the gateway.
 */
export const CONSOLE_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "form-action 'self'",
  "frame-ancestors 'none'",
  "base-uri 'none'",
  "object-src 'none'",
].join("; ");

/**
 * Headers every console response carries: the CSP, no framing, no sniffing, no referrer, no caching.
 *
 * @example
 * return new Response(html, { headers: consoleHeaders("text/html; charset=utf-8") });
 */
export function consoleHeaders(contentType: string, extra?: HeadersInit): Headers {
  const h = new Headers(extra);
  h.set("content-type", contentType);
  h.set("content-security-policy", CONSOLE_CSP);
  h.set("x-frame-options", "DENY");
  h.set("x-content-type-options", "nosniff");
  h.set("referrer-policy", "no-referrer");
  h.set("cross-origin-opener-policy", "same-origin");
  h.set("cross-origin-resource-policy", "same-origin");
  h.set("cache-control", "no-store");
  return h;
}
