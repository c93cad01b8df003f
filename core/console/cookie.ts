/** The header the console page sends its CSRF token in, on every state-changing request. */
export const CSRF_HEADER = "x-csrf-token";

/**
 * The name of the console's session cookie: `__Host-` prefixed when served over TLS (the browser then
 * insists on Secure, Path=/ and no Domain, so no sibling host can plant or widen it).
 *
 * @example
 * sessionCookieName(true); // "__Host-portcullis-console"
 */
export function sessionCookieName(secure: boolean): string {
  return secure ? "__Host-portcullis-console" : "portcullis-console";
}

/** The cookie binding an IdP sign-in in progress to the browser that started it. */
export const LOGIN_COOKIE = "portcullis-console-login";

/**
 * One cookie's value from a request's `Cookie` header, or undefined.
 *
 * @example
 * readCookie(request, "portcullis-console");
 */
export function readCookie(request: Request, name: string): string | undefined {
  const header = request.headers.get("cookie");
  if (!header) return undefined;
  for (const part of header.split(";")) {
    const eq = part.indexOf("=");
    if (eq < 0) continue;
    if (part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim() || undefined;
  }
  return undefined;
}

/**
 * A `Set-Cookie` value: always HttpOnly; Secure when served over TLS; SameSite as asked (Strict for the
 * session, Lax for the short sign-in binding that must survive the IdP's redirect back).
 *
 * @example
 * setCookie("portcullis-console", secret, { secure: false, maxAge: 43200, sameSite: "Strict", path: "/" });
 */
export function setCookie(name: string, value: string, o: { secure: boolean; maxAge: number; sameSite: "Strict" | "Lax"; path: string }): string {
  return `${name}=${value}; Path=${o.path}; Max-Age=${Math.max(0, Math.floor(o.maxAge))}; HttpOnly; SameSite=${o.sameSite}${o.secure ? "; Secure" : ""}`;
}
