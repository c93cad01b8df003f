import { readFileSync } from "node:fs";
import { readFile, stat } from "node:fs/promises";
import { configError, identityOf, type Audit, type AuthContext, type AuthOutcome, type AuthStrategy, type Identity, type Logger, type TokenService } from "../../core/mod.ts";
import { inRanges, parseCidr, type Cidr } from "./mtls/cidr.ts";
import { forwardedCertificates, type ForwardedFormat } from "./mtls/forwarded.ts";
import { crlSignedBy, parseCertificates, parseCrl, verifyClientCertificate, type ClientCertificate } from "./mtls/verify.ts";
import type * as x509 from "@peculiar/x509";

export type { ClientCertificate } from "./mtls/verify.ts";
export type { ForwardedFormat } from "./mtls/forwarded.ts";

/** The strategy `mtls()` returns: an auth strategy that can also say which verified certificate a request presents. */
export interface MtlsStrategy extends AuthStrategy {
  /**
   * The client certificate the request presents (on the TLS connection, or from a trusted proxy's
   * header), verified exactly as for authentication (chain, validity, clientAuth, CRL); `undefined` when
   * there is none or it is refused. Used by `oauthServer({ mtls })` to bind tokens to certificates.
   */
  certificateOf(ctx: Pick<AuthContext, "info">): Promise<ClientCertificate | undefined>;
}

/** Which certificate fields become which identity fields. */
export interface MtlsIdentityMapping {
  /** The subject: the CN, the first SAN email, or the first SAN URI (a SPIFFE ID). Default: SAN email, else CN. */
  user?: "cn" | "email" | "uri";
  /** The team: the subject's O or first OU. */
  team?: "o" | "ou";
  /** The organization: the subject's O. */
  org?: "o";
}

/** Options of the mTLS strategy. */
export interface MtlsOptions {
  /** The trusted CA certificates (roots and intermediates): PEM file path(s), or PEM text. Read once, at config time. */
  ca: string | string[];
  /** Refuse (401) a request without a client certificate; with false such a request is left to the next strategy. Default true. */
  requireClientCert?: boolean;
  /** How the certificate becomes an identity: field choices, or a function whose result is laid over the default mapping. */
  identity?: MtlsIdentityMapping | ((cert: ClientCertificate) => Partial<Identity>);
  /** Subjects (after mapping) that may authenticate: exact, or globs with `*` (`*@acme.com`, `spiffe://acme.com/*`). Default: any. */
  allowedSubjects?: string[];
  /** CRL file path(s), PEM or DER, signed by a configured CA: read at config time and again when a file changes. */
  crl?: string | string[];
  /** Scopes a certificate identity gets; default `mcp:read`, `mcp:write`. */
  scopes?: string[];
  /**
   * Gateway records for certificates (`type: "certificate"` in `/v1/auth/tokens`), found by the
   * certificate's fingerprint, else by its mapped subject: `optional` (default) gives a certificate with
   * an active record that record's user, roles, scopes and permissions and refuses one whose record is
   * revoked or expired, and maps a certificate without one as usual; `required` refuses a certificate
   * without an active record; `off` never looks.
   */
  records?: "optional" | "required" | "off";
  /** Take the certificate from a header a TLS-terminating proxy sets, when the request comes from it. */
  proxy?: {
    /** Default `X-Forwarded-Client-Cert`. */
    header?: string;
    /** `xfcc` (Envoy, default) or `pem-urlencoded` (nginx `$ssl_client_escaped_cert`, Traefik). */
    format?: ForwardedFormat;
    /** CIDRs of the proxies whose header is believed (`10.0.0.0/8`, `fd00::/8`, `127.0.0.1`). */
    trustedProxies: string[];
  };
}

const CRL_RECHECK_MS = 5_000;

function asList(value: unknown, path: string): string[] {
  const list = typeof value === "string" ? [value] : value;
  if (!Array.isArray(list) || list.length === 0 || !list.every((v) => typeof v === "string" && v !== "")) {
    throw configError(path, "expected a PEM file path, PEM text, or an array of them");
  }
  return list as string[];
}

function reason(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

function readCas(sources: string[]): x509.X509Certificate[] {
  const out: x509.X509Certificate[] = [];
  for (const [i, source] of sources.entries()) {
    const path = sources.length > 1 ? `mtls.ca[${i}]` : "mtls.ca";
    let text = source;
    if (!source.includes("-----BEGIN")) {
      try {
        text = readFileSync(source, "utf8");
      } catch (err) {
        throw configError(path, `cannot read ${source}: ${(err as { code?: string }).code ?? reason(err)}`);
      }
    }
    try {
      out.push(...parseCertificates(text));
    } catch (err) {
      throw configError(path, `expected PEM CA certificates: ${reason(err)}`);
    }
  }
  return out;
}

function globMatch(pattern: string, value: string): boolean {
  if (!pattern.includes("*")) return pattern === value;
  const re = new RegExp(`^${pattern.split("*").map((p) => p.replace(/[.+?^${}()|[\]\\]/g, "\\$&")).join(".*")}$`);
  return re.test(value);
}

/**
 * Client certificates (mutual TLS): a certificate that chains to a configured CA, is within its validity
 * period, may be used for client authentication (extended key usage clientAuth) and is not revoked by a
 * configured CRL becomes an identity. It comes from the TLS connection when the gateway terminates TLS
 * (`info.tls.peerCertificate`), or, with `proxy`, from the header a TLS-terminating proxy sets, believed
 * only from `trustedProxies` and verified exactly like a direct one. Every refusal is a 401 with a
 * reason in the audit trail; the certificate's SHA-256 fingerprint is the identity's credential
 * (`tokenId` and `credentialId` `cert:<fingerprint>`, shown in the audit events).
 *
 * @example
 * defineGateway({ auth: [mtls({ ca: "./certs/ca.crt", identity: { user: "uri" } })], servers: { ... } })
 */
export function mtls(options: MtlsOptions): MtlsStrategy {
  if (typeof options !== "object" || options === null) throw configError("mtls", "expected { ca, ... }");
  const cas = readCas(asList(options.ca, "mtls.ca"));
  const requireCert = options.requireClientCert ?? true;
  if (typeof requireCert !== "boolean") throw configError("mtls.requireClientCert", "expected true or false");

  const mapping = options.identity ?? {};
  if (typeof mapping !== "function") {
    if (typeof mapping !== "object" || mapping === null) throw configError("mtls.identity", "expected { user?, team?, org? } or a function");
    if (mapping.user !== undefined && !["cn", "email", "uri"].includes(mapping.user)) throw configError("mtls.identity.user", 'expected "cn", "email" or "uri"', JSON.stringify(mapping.user));
    if (mapping.team !== undefined && !["o", "ou"].includes(mapping.team)) throw configError("mtls.identity.team", 'expected "o" or "ou"', JSON.stringify(mapping.team));
    if (mapping.org !== undefined && mapping.org !== "o") throw configError("mtls.identity.org", 'expected "o"', JSON.stringify(mapping.org));
  }
  const allowed = options.allowedSubjects;
  if (allowed !== undefined && (!Array.isArray(allowed) || !allowed.every((s) => typeof s === "string" && s !== ""))) {
    throw configError("mtls.allowedSubjects", "expected an array of subjects or globs");
  }
  const records = options.records ?? "optional";
  if (!["optional", "required", "off"].includes(records)) throw configError("mtls.records", 'expected "optional", "required" or "off"', JSON.stringify(records));
  const scopes = options.scopes ?? ["mcp:read", "mcp:write"];
  if (!Array.isArray(scopes) || !scopes.every((s) => typeof s === "string" && s !== "")) throw configError("mtls.scopes", "expected an array of scope names");

  let proxy: { header: string; format: ForwardedFormat; ranges: Cidr[] } | undefined;
  if (options.proxy !== undefined) {
    const p = options.proxy;
    if (typeof p !== "object" || p === null) throw configError("mtls.proxy", "expected { header?, format?, trustedProxies }");
    const header = p.header ?? "X-Forwarded-Client-Cert";
    if (typeof header !== "string" || !/^[A-Za-z0-9-]+$/.test(header) || /^(authorization|cookie|host|content-type|content-length)$/i.test(header)) {
      throw configError("mtls.proxy.header", "expected a header name such as X-Forwarded-Client-Cert", JSON.stringify(header));
    }
    const format = p.format ?? "xfcc";
    if (format !== "xfcc" && format !== "pem-urlencoded") throw configError("mtls.proxy.format", 'expected "xfcc" or "pem-urlencoded"', JSON.stringify(format));
    if (!Array.isArray(p.trustedProxies) || p.trustedProxies.length === 0) throw configError("mtls.proxy.trustedProxies", "expected a non-empty array of CIDRs such as 10.0.0.0/8");
    const ranges = p.trustedProxies.map((c, i) => {
      const range = typeof c === "string" ? parseCidr(c) : undefined;
      if (!range) throw configError(`mtls.proxy.trustedProxies[${i}]`, "expected an IPv4 or IPv6 address or CIDR such as 10.0.0.0/8", JSON.stringify(c));
      return range;
    });
    proxy = { header: header.toLowerCase(), format, ranges };
  }

  // CRLs: parsed now (a broken file is a config error), signatures checked before the first request,
  // re-read when a file changes.
  const crlPaths = options.crl === undefined ? [] : asList(options.crl, "mtls.crl");
  const crlFiles = crlPaths.map((path, i) => {
    const where = crlPaths.length > 1 ? `mtls.crl[${i}]` : "mtls.crl";
    let bytes: Uint8Array;
    try {
      bytes = readFileSync(path);
    } catch (err) {
      throw configError(where, `cannot read ${path}: ${(err as { code?: string }).code ?? reason(err)}`);
    }
    let crl: x509.X509Crl;
    try {
      crl = parseCrl(bytes);
    } catch (err) {
      throw configError(where, `expected a PEM or DER CRL: ${reason(err)}`);
    }
    return { path, where, crl, version: "", verified: false };
  });
  let lastCheck = 0;
  let checking: Promise<void> | undefined;
  let log: Logger | undefined;
  let audit: Audit | undefined;
  let tokens: TokenService | undefined;
  // Which certificates were let in on which record, so that revoking the record ends their MCP sessions
  // (they are bound to the certificate). Bounded: the oldest record is forgotten first.
  const onRecord = new Map<string, Set<string>>();
  let endSessions: ((credentialId: string) => void) | undefined;

  async function verifyCrls(): Promise<void> {
    for (const f of crlFiles) {
      if (f.verified) continue;
      if (!(await crlSignedBy(f.crl, cas))) throw configError(f.where, `${f.path} is not signed by a configured CA`);
      f.verified = true;
    }
  }

  async function refreshCrls(): Promise<void> {
    for (const f of crlFiles) {
      try {
        const s = await stat(f.path);
        const version = `${s.mtimeMs}:${s.size}`;
        if (f.version === "") f.version = version;
        if (version === f.version) continue;
        const crl = parseCrl(await readFile(f.path));
        if (!(await crlSignedBy(crl, cas))) throw new Error("not signed by a configured CA");
        f.crl = crl;
        f.version = version;
      } catch (err) {
        // The last good CRL stays in force: a half-written or bad file never un-revokes anything.
        log?.warn("mtls: CRL not reloaded", { path: f.path, error: reason(err) });
      }
    }
  }

  async function currentCrls(): Promise<x509.X509Crl[]> {
    if (crlFiles.length === 0) return [];
    if (Date.now() - lastCheck > CRL_RECHECK_MS) {
      lastCheck = Date.now();
      checking ??= refreshCrls().finally(() => (checking = undefined));
    }
    await verifyCrls();
    if (checking) await checking;
    return crlFiles.map((f) => f.crl);
  }

  function toIdentity(cert: ClientCertificate): Identity | string {
    const m = typeof mapping === "function" ? {} : mapping;
    let subject: string | undefined;
    if (m.user === "cn") subject = cert.commonName;
    else if (m.user === "email") subject = cert.emails[0];
    else if (m.user === "uri") subject = cert.uris[0];
    else subject = cert.emails[0] ?? cert.commonName;
    const team = m.team === "o" ? cert.organization : m.team === "ou" ? cert.organizationalUnits[0] : undefined;
    const org = m.org === "o" ? cert.organization : undefined;
    const credential = `cert:${cert.fingerprint}`;
    let identity: Identity = {
      subject: subject ?? "",
      ...(cert.emails[0] ? { email: cert.emails[0] } : {}),
      ...(cert.commonName ? { name: cert.commonName } : {}),
      ...(team ? { team } : {}),
      ...(org ? { org } : {}),
      roles: [],
      scopes: [...scopes],
      strategy: "auth:mtls",
      tokenId: credential,
      issuer: `mtls:${cert.trustAnchor}`,
      credentialId: credential,
      expiresAt: cert.notAfter.getTime(),
      claims: { certificate: { subject: cert.subject, issuer: cert.issuer, serialNumber: cert.serialNumber, fingerprint: cert.fingerprint, uris: cert.uris } },
    };
    if (typeof mapping === "function") {
      const extra = mapping(cert);
      identity = { ...identity, ...extra, strategy: "auth:mtls", tokenId: credential, credentialId: credential };
    }
    if (!identity.subject) return `client certificate has no ${m.user === "uri" ? "SAN URI" : m.user === "email" ? "SAN email" : "CN or SAN email"} to name the user`;
    if (allowed && !allowed.some((p) => globMatch(p, identity.subject))) return "client certificate subject not allowed";
    return identity;
  }

  const refuse = (code: "ERR_AUTH_REQUIRED" | "ERR_INVALID_CREDENTIAL" | "ERR_TOKEN_REVOKED" | "ERR_TOKEN_EXPIRED", why: string, fingerprint?: string, tokenId?: string): AuthOutcome => ({
    error: { code, reason: why, ...(tokenId ? { tokenId } : fingerprint ? { tokenId: `cert:${fingerprint}` } : {}) },
  });

  /** The identity a certificate's gateway record gives it, a refusal, or the mapped identity when it has none. */
  async function withRecord(cert: ClientCertificate, mapped: Identity): Promise<AuthOutcome> {
    if (records === "off" || !tokens) return { identity: mapped };
    const found = await tokens.findCertificate(cert.fingerprint, mapped.subject);
    if (found === undefined) {
      return records === "required" ? refuse("ERR_INVALID_CREDENTIAL", "client certificate has no gateway record", cert.fingerprint) : { identity: mapped };
    }
    if (!found.ok) return refuse(found.code, found.reason, cert.fingerprint, found.tokenId);
    const record = found.record;
    let seen = onRecord.get(record.id);
    if (!seen) {
      if (onRecord.size >= 10_000) onRecord.delete(onRecord.keys().next().value!);
      onRecord.set(record.id, seen = new Set());
    }
    if (seen.size < 100) seen.add(cert.fingerprint);
    const credential = `cert:${cert.fingerprint}`;
    const base = identityOf(record, "auth:mtls");
    return {
      identity: {
        ...base,
        // The record's rights, bounded by the certificate's own lifetime; the session is bound to the certificate.
        credentialId: credential,
        expiresAt: Math.min(base.expiresAt ?? Infinity, cert.notAfter.getTime()),
        claims: mapped.claims,
      },
    };
  }

  /** The client certificate a request presents, verified; or why there is none, or why it is refused. */
  async function check(info: AuthContext["info"]): Promise<{ cert: ClientCertificate } | { refused: AuthOutcome } | { none: string; ignored: boolean }> {
    let presented: { der: Uint8Array; chain: Uint8Array[]; via: "tls" | "proxy" } | undefined;
    let ignored = false;
    const forwarded = proxy ? info.proxyHeaders?.[proxy.header] : undefined;
    if (proxy && forwarded !== undefined) {
      // The proxy itself must be the connection's peer (not a client address named by X-Forwarded-For).
      if (inRanges(info.peerAddress ?? info.remoteAddress, proxy.ranges)) {
        const certs = forwardedCertificates(forwarded, proxy.format);
        if (typeof certs === "string") return { refused: refuse("ERR_INVALID_CREDENTIAL", certs) };
        presented = { der: certs[0]!, chain: certs.slice(1), via: "proxy" };
      } else {
        ignored = true;
      }
    }
    if (!presented && info.tls?.peerCertificate && info.tls.peerCertificate.length > 0) {
      presented = { der: info.tls.peerCertificate, chain: [], via: "tls" };
    }
    if (!presented) {
      return { none: ignored ? `client certificate required: the ${proxy!.header} header is only believed from a trusted proxy` : "client certificate required", ignored };
    }
    const verdict = await verifyClientCertificate(presented.der, presented.chain, { cas, crls: await currentCrls() });
    if (!verdict.ok) return { refused: refuse("ERR_INVALID_CREDENTIAL", verdict.reason, verdict.fingerprint) };
    // The TLS layer judged the same certificate by its own CA list: either refusing is enough.
    if (presented.via === "tls" && info.tls?.authorized === false) {
      return { refused: refuse("ERR_INVALID_CREDENTIAL", "client certificate not verified by the TLS layer", verdict.certificate.fingerprint) };
    }
    return { cert: verdict.certificate };
  }

  return {
    name: "auth:mtls",
    ...(proxy ? { headerNames: () => [proxy.header] } : {}),
    async setup(ctx) {
      log = ctx.log;
      audit = ctx.audit;
      tokens = ctx.tokens;
      endSessions = ctx.endSessions;
      // A revoked record ends, at once, the sessions of every certificate it let in.
      ctx.tokens.onInvalidate((recordId) => {
        const seen = onRecord.get(recordId);
        if (!seen) return;
        onRecord.delete(recordId);
        for (const fp of seen) endSessions?.(`cert:${fp}`);
      });
      await verifyCrls();
      for (const f of crlFiles) {
        try {
          const s = await stat(f.path);
          f.version = `${s.mtimeMs}:${s.size}`;
        } catch {
          // Read at config time; a file gone since is reported on the next reload.
        }
      }
      lastCheck = Date.now();
    },
    async authenticate(_request: Request, ctx: AuthContext): Promise<AuthOutcome> {
      const checked = await check(ctx.info);
      if ("none" in checked) {
        if (requireCert) return refuse("ERR_AUTH_REQUIRED", checked.none);
        if (checked.ignored) {
          audit?.emit({ type: "plugin", plugin: "auth:mtls", action: "untrusted_proxy_header", outcome: "refused", detail: { header: proxy!.header, remoteAddress: ctx.info.remoteAddress ?? null } });
        }
        return undefined;
      }
      if ("refused" in checked) return checked.refused;
      const identity = toIdentity(checked.cert);
      if (typeof identity === "string") return refuse("ERR_INVALID_CREDENTIAL", identity, checked.cert.fingerprint);
      return await withRecord(checked.cert, identity);
    },
    async certificateOf(ctx) {
      const checked = await check(ctx.info);
      return "cert" in checked ? checked.cert : undefined;
    },
  };
}
