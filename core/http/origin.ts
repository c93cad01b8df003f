const LOOPBACK = new Set(["localhost", "127.0.0.1", "[::1]"]);

/**
 * Whether a browser Origin may call the gateway: no Origin (not a browser), a loopback origin, or one
 * of the configured origins. The Host header is never used to decide, so DNS rebinding cannot pass.
 *
 * @example
 * originAllowed(request.headers.get("origin"), ["https://console.example.com"]);
 */
export function originAllowed(origin: string | null, allowed: readonly string[]): boolean {
  if (origin === null) return true;
  if (allowed.includes(origin)) return true;
  try {
    const url = new URL(origin);
    return (url.protocol === "http:" || url.protocol === "https:") && LOOPBACK.has(url.hostname);
  } catch {
    return false;
  }
}
