/**
 * The credential of an `Authorization: Bearer <token>` header (RFC 6750 §2.1; the scheme in any letter
 * case), or undefined when the request carries none. The one Bearer parser of the gateway and its plugins.
 *
 * @example
 * readBearer(new Request("http://x", { headers: { authorization: "Bearer pt_abc" } })); // "pt_abc"
 */
export function readBearer(request: Request): string | undefined {
  const header = request.headers.get("authorization");
  if (header === null) return undefined;
  const m = /^Bearer\s+(\S+)\s*$/i.exec(header);
  return m ? m[1] : undefined;
}
