// The caller as the gateway knows it. Type-only: imports no implementation.

/** What the serving adapter knows about the connection a request came in on. */
export interface RequestInfo {
  /**
   * The client's IP address: the connection's, or, when it comes from one of `server.trustedProxies`, the
   * client address their `X-Forwarded-For` names.
   */
  remoteAddress?: string;
  /** The connection's own address, when `server.trustedProxies` is set (the proxy's, for a proxied request). */
  peerAddress?: string;
  /** TLS details when the gateway terminates TLS itself (mTLS). */
  tls?: {
    /** Whether the runtime verified the peer certificate against the configured CA. */
    authorized?: boolean;
    /** The peer's certificate, DER-encoded. */
    peerCertificate?: Uint8Array;
  };
  /**
   * The headers auth strategies declared with `headerNames()` (lower-cased name to value), as the
   * request carried them: `gateway.fetch` takes them off the request and puts them here, so no handler
   * or upstream reads them. Whoever sent them is not vouched for: a strategy checks `remoteAddress`.
   */
  proxyHeaders?: Record<string, string>;
}

/** Who is calling, as established by an auth strategy. Never built from client-supplied identity headers. */
export interface Identity {
  /** Stable subject identifier (user id, email or token owner). */
  subject: string;
  email?: string;
  name?: string;
  team?: string;
  roles: string[];
  org?: string;
  /** Granted scopes such as `mcp:read`, `mcp:write`, `admin`. */
  scopes: string[];
  /** The name of the strategy that authenticated the request. */
  strategy: string;
  /** The gateway token or key id, when the credential was one. */
  tokenId?: string;
  /**
   * Who vouches for `subject`: `gateway` for the gateway's own tokens and keys, `oidc:<iss>` for an
   * identity provider, `oauth:<issuer>` for the gateway's OAuth server. Subjects are only ever compared
   * together with their issuer (`principalOf`), so `bob` of one issuer is never `bob` of another.
   * Default: the strategy's name.
   */
  issuer?: string;
  /**
   * The credential that presented this identity: a token id, an OAuth grant, a certificate fingerprint.
   * An MCP session is bound to it; another credential cannot use the session. Default: the principal.
   */
  credentialId?: string;
  /** When the presenting credential stops being valid, ms since the epoch; a session bound to it ends then. */
  expiresAt?: number;
  /** Server and tool restrictions carried by the credential itself. */
  permissions?: Permissions;
  /** Extra claims a strategy wants to keep (never secrets). */
  claims?: Record<string, unknown>;
}

/** Which servers and tools a credential or role may reach. Entries are names or globs (`github__*`). */
export interface Permissions {
  servers?: string[];
  tools?: string[];
}
