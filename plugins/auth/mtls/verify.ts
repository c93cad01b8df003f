// Client certificate checks with @peculiar/x509: the chain to a configured CA (signatures verified),
// validity periods, key usages, revocation by CRLs.
import "reflect-metadata";
import * as x509 from "@peculiar/x509";

const CLIENT_AUTH = "1.3.6.1.5.5.7.3.2";
const ANY_EKU = "2.5.29.37.0";

/** What a verified client certificate says, as the identity mapping sees it. */
export interface ClientCertificate {
  /** The subject DN (`CN=alice, O=Acme`). */
  subject: string;
  /** The issuer DN. */
  issuer: string;
  /** Hex serial number. */
  serialNumber: string;
  /** SHA-256 of the DER certificate, lower-case hex. */
  fingerprint: string;
  notBefore: Date;
  notAfter: Date;
  /** The subject's first CN. */
  commonName?: string;
  /** The subject's first O. */
  organization?: string;
  /** The subject's OUs. */
  organizationalUnits: string[];
  /** SAN email addresses. */
  emails: string[];
  /** SAN URIs (SPIFFE IDs `spiffe://...`). */
  uris: string[];
  /** SAN DNS names. */
  dnsNames: string[];
  /** The subject DN of the configured CA the chain ends at. */
  trustAnchor: string;
  /** The DER certificate. */
  der: Uint8Array;
}

/** The outcome of checking one presented certificate. */
export type Verdict = { ok: true; certificate: ClientCertificate } | { ok: false; reason: string; fingerprint?: string };

function b64(bytes: ArrayBuffer | Uint8Array): string {
  let s = "";
  for (const b of new Uint8Array(bytes)) s += String.fromCharCode(b);
  return btoa(s);
}

function hex(bytes: ArrayBuffer): string {
  return Array.from(new Uint8Array(bytes), (b) => b.toString(16).padStart(2, "0")).join("");
}

/**
 * Parses every certificate of a PEM text, or one DER certificate. Throws on anything else.
 *
 * @example
 * const cas = parseCertificates(await readFile("ca.crt", "utf8"));
 */
export function parseCertificates(data: string | Uint8Array): x509.X509Certificate[] {
  const text = typeof data === "string" ? data : new TextDecoder().decode(data);
  if (text.includes("-----BEGIN")) {
    const blocks = x509.PemConverter.decodeWithHeaders(text).filter((b) => b.type === "CERTIFICATE");
    if (blocks.length === 0) throw new Error("no CERTIFICATE block in the PEM text");
    return blocks.map((b) => new x509.X509Certificate(b.rawData));
  }
  if (typeof data === "string") throw new Error("expected PEM text");
  return [new x509.X509Certificate(new Uint8Array(data))];
}

/**
 * Parses one CRL, PEM (`-----BEGIN X509 CRL-----`) or DER. Throws when it is neither.
 *
 * @example
 * const crl = parseCrl(await readFile("ca.crl"));
 */
export function parseCrl(data: Uint8Array): x509.X509Crl {
  const text = new TextDecoder().decode(data);
  if (text.includes("-----BEGIN")) {
    const block = x509.PemConverter.decodeWithHeaders(text).find((b) => b.type === "X509 CRL" || b.type === "CRL");
    if (!block) throw new Error("no X509 CRL block in the PEM text");
    return new x509.X509Crl(block.rawData);
  }
  return new x509.X509Crl(new Uint8Array(data));
}

/**
 * Whether a CRL is signed by one of the CAs. A CRL nobody configured vouches for is never used.
 *
 * @example
 * if (!(await crlSignedBy(crl, cas))) throw configError("mtls.crl", "not signed by a configured CA");
 */
export async function crlSignedBy(crl: x509.X509Crl, cas: readonly x509.X509Certificate[]): Promise<boolean> {
  for (const ca of cas) {
    if (ca.subject !== crl.issuer) continue;
    try {
      if (await crl.verify({ publicKey: ca })) return true;
    } catch {
      // Another key under the same name: try the next.
    }
  }
  return false;
}

/** The trusted CAs and the CRLs (already checked against them) a certificate is judged by. */
export interface TrustStore {
  cas: readonly x509.X509Certificate[];
  crls: readonly x509.X509Crl[];
}

function validity(cert: x509.X509Certificate, now: Date, what: string): string | undefined {
  if (now < cert.notBefore) return `${what} not yet valid`;
  if (now > cert.notAfter) return `${what} expired`;
  return undefined;
}

function revoked(cert: x509.X509Certificate, crls: readonly x509.X509Crl[]): boolean {
  return crls.some((crl) => crl.issuer === cert.issuer && crl.findRevoked(cert) !== null);
}

/**
 * Checks a presented certificate: it chains (signatures verified) to a configured CA, through CA
 * certificates only (`extra` are untrusted intermediates a proxy forwarded, used only to build the chain);
 * every certificate of the chain is within its validity period and not revoked by a CRL; the leaf may
 * be used for client authentication (extended key usage clientAuth, key usage digitalSignature, when
 * those extensions are present).
 *
 * @example
 * const verdict = await verifyClientCertificate(der, [], trust);
 */
export async function verifyClientCertificate(der: Uint8Array, extra: readonly Uint8Array[], trust: TrustStore, now = new Date()): Promise<Verdict> {
  let leaf: x509.X509Certificate;
  try {
    leaf = new x509.X509Certificate(new Uint8Array(der));
  } catch {
    return { ok: false, reason: "client certificate cannot be parsed" };
  }
  const fingerprint = hex(await crypto.subtle.digest("SHA-256", new Uint8Array(der)));
  const refuse = (reason: string): Verdict => ({ ok: false, reason, fingerprint });

  const intermediates: x509.X509Certificate[] = [];
  for (const e of extra) {
    try {
      intermediates.push(new x509.X509Certificate(new Uint8Array(e)));
    } catch {
      return refuse("a forwarded chain certificate cannot be parsed");
    }
  }
  const anchors = new Set(trust.cas.map((c) => b64(c.rawData)));
  let chain: x509.X509Certificate[];
  try {
    chain = [...await new x509.X509ChainBuilder({ certificates: [...trust.cas, ...intermediates] }).build(leaf)];
  } catch {
    return refuse("client certificate not signed by a trusted CA");
  }
  const anchor = chain.findIndex((c, i) => i > 0 && anchors.has(b64(c.rawData)));
  if (anchor < 0) return refuse("client certificate not signed by a trusted CA");
  chain = chain.slice(0, anchor + 1);
  for (let i = 1; i < chain.length; i++) {
    const ca = chain[i]!;
    const basic = ca.getExtension(x509.BasicConstraintsExtension);
    if (!basic?.ca && !anchors.has(b64(ca.rawData))) return refuse("client certificate not signed by a trusted CA: an issuer of the chain is not a CA");
    const usage = ca.getExtension(x509.KeyUsagesExtension);
    if (usage && (usage.usages & x509.KeyUsageFlags.keyCertSign) === 0) return refuse("client certificate not signed by a trusted CA: an issuer of the chain may not sign certificates");
  }

  const expired = validity(leaf, now, "client certificate");
  if (expired) return refuse(expired);
  for (let i = 1; i < chain.length; i++) {
    const bad = validity(chain[i]!, now, "a CA certificate of the chain");
    if (bad) return refuse(bad);
  }

  const eku = leaf.getExtension(x509.ExtendedKeyUsageExtension);
  if (eku && !eku.usages.some((u) => u === CLIENT_AUTH || u === ANY_EKU)) return refuse("client certificate not for client authentication (extended key usage)");
  const ku = leaf.getExtension(x509.KeyUsagesExtension);
  if (ku && (ku.usages & x509.KeyUsageFlags.digitalSignature) === 0) return refuse("client certificate not for client authentication (key usage lacks digitalSignature)");

  if (revoked(leaf, trust.crls)) return refuse("client certificate revoked");
  for (let i = 1; i < chain.length; i++) if (revoked(chain[i]!, trust.crls)) return refuse("a CA certificate of the chain revoked");

  const names = leaf.getExtension(x509.SubjectAlternativeNameExtension)?.names.items ?? [];
  const of = (type: string): string[] => names.filter((n) => n.type === type).map((n) => n.value);
  const field = (name: string): string[] => leaf.subjectName.getField(name);
  return {
    ok: true,
    certificate: {
      subject: leaf.subject,
      issuer: leaf.issuer,
      serialNumber: leaf.serialNumber,
      fingerprint,
      notBefore: leaf.notBefore,
      notAfter: leaf.notAfter,
      commonName: field("CN")[0],
      organization: field("O")[0],
      organizationalUnits: field("OU"),
      emails: of("email"),
      uris: of("url"),
      dnsNames: of("dns"),
      trustAnchor: chain[chain.length - 1]!.subject,
      der,
    },
  };
}
