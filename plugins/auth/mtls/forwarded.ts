// The client certificate as a TLS-terminating proxy forwards it in a header.

/** How the proxy writes the certificate: Envoy's `X-Forwarded-Client-Cert`, or a URL-encoded PEM (nginx, Traefik). */
export type ForwardedFormat = "xfcc" | "pem-urlencoded";

/** Splits `text` at `sep` outside double quotes. */
function splitOutsideQuotes(text: string, sep: string): string[] {
  const out: string[] = [];
  let current = "";
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (c === "\\" && quoted && i + 1 < text.length) {
      current += c + text[++i];
      continue;
    }
    if (c === '"') quoted = !quoted;
    if (c === sep && !quoted) {
      out.push(current);
      current = "";
    } else current += c;
  }
  out.push(current);
  return out;
}

function unquote(value: string): string {
  const v = value.trim();
  return v.length >= 2 && v.startsWith('"') && v.endsWith('"') ? v.slice(1, -1).replace(/\\(.)/g, "$1") : v;
}

/**
 * The `Cert` (and `Chain`) of the first element of an Envoy `X-Forwarded-Client-Cert` header
 * (`By=...;Hash=...;Cert="<url-encoded PEM>";Chain="...";Subject="..."`), still URL-encoded, or
 * `undefined` when the first element carries none.
 *
 * @example
 * xfccCertificate('By=spiffe://gw;Cert="-----BEGIN%20CERTIFICATE-----..."')
 */
export function xfccCertificate(header: string): { cert: string; chain?: string } | undefined {
  const first = splitOutsideQuotes(header, ",")[0] ?? "";
  let cert: string | undefined;
  let chain: string | undefined;
  for (const pair of splitOutsideQuotes(first, ";")) {
    const eq = pair.indexOf("=");
    if (eq < 0) continue;
    const key = pair.slice(0, eq).trim().toLowerCase();
    if (key === "cert") cert = unquote(pair.slice(eq + 1));
    else if (key === "chain") chain = unquote(pair.slice(eq + 1));
  }
  return cert ? { cert, ...(chain ? { chain } : {}) } : undefined;
}

/**
 * The DER certificates a proxy forwarded, leaf first, or a reason they cannot be read. A URL-encoded PEM
 * may hold several certificates (the leaf, then intermediates); one without its `BEGIN`/`END` lines
 * (Traefik) is read as base64 DER.
 *
 * @example
 * const certs = forwardedCertificates(request.headers.get("x-ssl-client-cert")!, "pem-urlencoded");
 */
export function forwardedCertificates(header: string, format: ForwardedFormat): Uint8Array[] | string {
  let encoded: string[];
  if (format === "xfcc") {
    const found = xfccCertificate(header);
    if (!found) return "the forwarded client certificate header has no Cert";
    encoded = found.chain ? [found.cert, found.chain] : [found.cert];
  } else {
    encoded = [header.trim()];
  }
  const out: Uint8Array[] = [];
  for (const e of encoded) {
    let pem: string;
    try {
      pem = decodeURIComponent(e);
    } catch {
      return "the forwarded client certificate is not URL-encoded";
    }
    const blocks = [...pem.matchAll(/-----BEGIN CERTIFICATE-----([\s\S]*?)-----END CERTIFICATE-----/g)].map((m) => m[1]!);
    if (blocks.length === 0) blocks.push(...pem.split(","));
    for (const b64 of blocks) {
      const der = base64Der(b64);
      if (!der) return "the forwarded client certificate is not a PEM certificate";
      out.push(der);
    }
  }
  return out.length > 0 ? out : "the forwarded client certificate header is empty";
}

function base64Der(text: string): Uint8Array | undefined {
  const clean = text.replace(/\s+/g, "");
  if (clean === "" || !/^[A-Za-z0-9+/]+={0,2}$/.test(clean)) return undefined;
  try {
    return Uint8Array.from(atob(clean), (c) => c.charCodeAt(0));
  } catch {
    return undefined;
  }
}
