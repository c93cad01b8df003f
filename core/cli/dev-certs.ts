// Development certificates: a private CA, server certificates and client certificates, made with
// @peculiar/x509 over WebCrypto (ECDSA P-256, SHA-256). For trying TLS and mTLS locally and for tests;
// a production deployment uses certificates from its own PKI.
import "reflect-metadata";
import * as x509 from "@peculiar/x509";

/** A certificate and its private key, both PEM. */
export interface PemPair {
  /** The certificate, `-----BEGIN CERTIFICATE-----`. */
  cert: string;
  /** The PKCS#8 private key, `-----BEGIN PRIVATE KEY-----`. */
  key: string;
}

/** Options of `createClientCert`. */
export interface ClientCertOptions {
  /** The user: the certificate's CN, and its SAN email when it looks like an address. */
  user: string;
  /** A team, put in the subject's OU. */
  team?: string;
  /** Days of validity; default 365. */
  days?: number;
  /** Validity start; default one minute ago (small clock skews must not matter). */
  notBefore?: Date;
}

const ALG: EcKeyGenParams & EcdsaParams = { name: "ECDSA", namedCurve: "P-256", hash: "SHA-256" };
const DAY_MS = 86_400_000;

async function keyPair(): Promise<CryptoKeyPair> {
  return await crypto.subtle.generateKey(ALG, true, ["sign", "verify"]) as CryptoKeyPair;
}

async function keyPem(key: CryptoKey): Promise<string> {
  const der = await crypto.subtle.exportKey("pkcs8", key);
  return x509.PemConverter.encode(der, "PRIVATE KEY");
}

async function importCa(ca: PemPair): Promise<{ cert: x509.X509Certificate; key: CryptoKey }> {
  const cert = new x509.X509Certificate(ca.cert);
  const der = x509.PemConverter.decodeFirst(ca.key);
  const key = await crypto.subtle.importKey("pkcs8", der, ALG, false, ["sign"]);
  return { cert, key };
}

// A distinguished-name value may not carry the characters that separate RDNs.
function dnValue(value: string): string {
  return value.replace(/[,+="\\<>;#]/g, (c) => `\\${c}`);
}

function validity(days: number | undefined, notBefore: Date | undefined): { notBefore: Date; notAfter: Date } {
  const start = notBefore ?? new Date(Date.now() - 60_000);
  return { notBefore: start, notAfter: new Date(start.getTime() + (days ?? 365) * DAY_MS) };
}

async function leaf(
  ca: PemPair,
  subject: string,
  sans: x509.JsonGeneralName[],
  usage: x509.ExtendedKeyUsage,
  days: number | undefined,
  notBefore: Date | undefined,
): Promise<PemPair> {
  const issuer = await importCa(ca);
  const keys = await keyPair();
  const extensions: x509.Extension[] = [
    new x509.BasicConstraintsExtension(false, undefined, true),
    new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyEncipherment, true),
    new x509.ExtendedKeyUsageExtension([usage]),
    await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
    await x509.AuthorityKeyIdentifierExtension.create(issuer.cert.publicKey),
  ];
  if (sans.length > 0) extensions.push(new x509.SubjectAlternativeNameExtension(sans));
  const cert = await x509.X509CertificateGenerator.create({
    subject,
    issuer: issuer.cert.subject,
    publicKey: keys.publicKey,
    signingKey: issuer.key,
    signingAlgorithm: ALG,
    ...validity(days, notBefore),
    extensions,
  });
  return { cert: cert.toString("pem"), key: await keyPem(keys.privateKey) };
}

/**
 * Makes a private certificate authority (self-signed, CA:true, may sign certificates only).
 *
 * @example
 * const ca = await createCa({ name: "Portcullis dev CA" });
 */
export async function createCa(options: { name?: string; days?: number } = {}): Promise<PemPair> {
  const keys = await keyPair();
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    name: `CN=${dnValue(options.name ?? "Portcullis development CA")}`,
    keys,
    signingAlgorithm: ALG,
    ...validity(options.days ?? 3650, undefined),
    extensions: [
      new x509.BasicConstraintsExtension(true, 0, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
    ],
  });
  return { cert: cert.toString("pem"), key: await keyPem(keys.privateKey) };
}

/**
 * Makes a server certificate (serverAuth) for the given host names and IP addresses, signed by `ca`.
 *
 * @example
 * const server = await createServerCert(ca, { hosts: ["localhost", "127.0.0.1"] });
 */
export async function createServerCert(ca: PemPair, options: { hosts: string[]; days?: number; notBefore?: Date }): Promise<PemPair> {
  if (options.hosts.length === 0) throw new Error("expected at least one host name or IP address");
  const sans = options.hosts.map((h): x509.JsonGeneralName => ({ type: isIp(h) ? "ip" : "dns", value: h }));
  return await leaf(ca, `CN=${dnValue(options.hosts[0]!)}`, sans, x509.ExtendedKeyUsage.serverAuth, options.days, options.notBefore);
}

/**
 * Makes a client certificate (clientAuth) for a user, signed by `ca`: the user is the CN and, when it
 * is an email address, the SAN email too; a team goes in OU.
 *
 * @example
 * const alice = await createClientCert(ca, { user: "alice@example.com", team: "platform" });
 */
export async function createClientCert(ca: PemPair, options: ClientCertOptions): Promise<PemPair> {
  if (options.user.trim() === "") throw new Error("expected a user");
  const subject = `CN=${dnValue(options.user)}${options.team ? `, OU=${dnValue(options.team)}` : ""}`;
  const sans: x509.JsonGeneralName[] = /^[^@\s]+@[^@\s]+$/.test(options.user) ? [{ type: "email", value: options.user }] : [];
  return await leaf(ca, subject, sans, x509.ExtendedKeyUsage.clientAuth, options.days, options.notBefore);
}

function isIp(host: string): boolean {
  return /^\d{1,3}(\.\d{1,3}){3}$/.test(host) || host.includes(":");
}
