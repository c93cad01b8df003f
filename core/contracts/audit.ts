// Audit events and sinks: the contract of an audit sink plugin. Type-only: imports no implementation.

/** Fields every audit event carries. */
interface Base {
  /** ISO timestamp. */
  time: string;
}

type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;

/** One authentication attempt on a protected endpoint. */
export interface AuthEvent extends Base {
  type: "auth";
  outcome: "success" | "failure";
  strategy?: string;
  subject?: string;
  tokenId?: string;
  /** The credential itself when it is not the record `tokenId` names: a client certificate (`cert:<fingerprint>`). */
  credentialId?: string;
  /** Failure code such as ERR_TOKEN_EXPIRED, and a reason without secrets. */
  code?: string;
  reason?: string;
  remoteAddress?: string;
  path: string;
}

/** One token operation through the API, the CLI or the first-start bootstrap. */
export interface TokenEvent extends Base {
  type: "token";
  action: "create" | "revoke" | "rotate" | "bootstrap";
  /** Who did it: a subject, "admin-token", or "cli". */
  actor: string;
  tokenId: string;
  user: string;
  tokenType: string;
  /** For rotate: the new token's id. */
  newTokenId?: string;
}

/** One tool call through `/mcp`. */
export interface ToolCallEvent extends Base {
  type: "tool_call";
  subject: string;
  tokenId?: string;
  strategy: string;
  server: string;
  tool: string;
  allowed: boolean;
  outcome: "ok" | "tool_error" | "error" | "denied";
  durationMs: number;
  error?: string;
}

/** One use or change of an upstream credential: its name, never its value. */
export interface CredentialEvent extends Base {
  type: "credential";
  /** `use`: resolved for an upstream connection; the rest: changes through the API or CLI. */
  action: "use" | "set" | "delete" | "rotate-key";
  /** The secret's name (`GITHUB_TOKEN`), or `user:<server>` for a user's own credential. */
  name: string;
  /** The upstream server the credential was used for. */
  server?: string;
  /** The user whose call or whose own credential it was. */
  subject?: string;
  /** Who changed it (for set, delete, rotate-key). */
  actor?: string;
  outcome: "ok" | "missing" | "error";
}

/** One step of the gateway's OAuth authorization server: grants, token issues, refreshes, revocations, session ends. */
export interface OauthEvent extends Base {
  type: "oauth";
  action: "register" | "grant" | "deny" | "token" | "refresh" | "refresh_reuse" | "code_replay" | "revoke" | "session_end" | "login_failed";
  outcome: "ok" | "refused";
  clientId?: string;
  subject?: string;
  sessionId?: string;
  grantType?: string;
  /** Who did it, for revocations and session ends. */
  actor?: string;
  reason?: string;
}

/** Everything the gateway audits. Events never contain secrets. */
export type AuditEvent = AuthEvent | TokenEvent | ToolCallEvent | CredentialEvent | OauthEvent | ServerRequestEvent | PluginEvent | ConsoleEvent | LockoutEvent | RateLimitEvent | AlertEvent;

/** A console session started (sign-in) or ended (sign-out, the sessions API, its credential ending): never its cookie. */
export interface ConsoleEvent extends Base {
  type: "console";
  action: "sign_in" | "sign_out" | "session_end" | "sign_in_failed";
  /** The console session's public id (`cs_...`). */
  sessionId?: string;
  subject?: string;
  strategy?: string;
  /** How the user signed in: a pasted credential (`token`) or the IdP (`oauth`). */
  method?: "token" | "oauth";
  /** Who ended it, for session ends. */
  actor?: string;
  reason?: string;
}

/**
 * An address or a presented credential locked out after too many failed authentications (`limits.failedAuth`):
 * refused with 429 until `until`. One event per lock, whichever process started it.
 */
export interface LockoutEvent extends Base {
  type: "lockout";
  by: "address" | "credential";
  /** The locked client address (`by: "address"`). */
  remoteAddress?: string;
  /** The locked credential's name, `sha256:` and a prefix of its hash (`by: "credential"`): never the secret. */
  credential?: string;
  /** The token record the credential belongs to, when the failures found one (revoked, expired). */
  tokenId?: string;
  /** Failures counted in the window when the lock started. */
  failures: number;
  windowSeconds: number;
  /** When the lock ends (ISO). */
  until: string;
  /** The path of the attempt that started the lock. */
  path: string;
}

/** A caller went over a rate limit (`limits`, or a token's `rateLimit`): the first refusal of each window. */
export interface RateLimitEvent extends Base {
  type: "rate_limit";
  /** Whose budget ran out: the credential's, the user's, or the server's. */
  scope: "token" | "user" | "server";
  /** The rate as configured (`100/m`). */
  limit: string;
  subject: string;
  tokenId?: string;
  server?: string;
  /** When the window ends and calls go through again (ISO). */
  until: string;
}

/** An alert rule (`alerts` in the config) fired. Delivered to every audit sink; `webhookAudit` can notify on it. */
export interface AlertEvent extends Base {
  type: "alert";
  /** The rule's name (default: its `when`). */
  rule: string;
  when: string;
  severity: "info" | "warning" | "critical";
  /** One line for people: what happened, without secrets. */
  message: string;
  /** For counting rules: how many matching events, within how long, grouped by what, and the group's key. */
  count?: number;
  withinSeconds?: number;
  by?: "address" | "user" | "token";
  key?: string;
  subject?: string;
  tokenId?: string;
  remoteAddress?: string;
  /** The event that fired the rule (absent for `token.used_from_new_address`, which the usage tracker tells). */
  event?: Exclude<AuditEvent, AlertEvent>;
}

/** A request an upstream server sent to the caller (sampling, elicitation, roots): who and what, never the content. */
export interface ServerRequestEvent extends Base {
  type: "server_request";
  server: string;
  subject: string;
  strategy: string;
  kind: "sampling" | "elicitation" | "roots";
  /** `refused`: no request of the caller was in progress for it to belong to. */
  outcome: "ok" | "refused" | "error";
}

/**
 * An event of a custom plugin's own kind, emitted with `ctx.audit.emit({ type: "plugin", plugin, action, ... })`:
 * `plugin` names the plugin, `action` what happened. Never put a secret in it.
 */
export interface PluginEvent extends Base {
  type: "plugin";
  plugin: string;
  action: string;
  outcome?: "ok" | "refused" | "error";
  subject?: string;
  /** Anything else worth keeping (small, and never secret). */
  detail?: Record<string, unknown>;
}

/** An event before the gateway stamps its time. */
export type AuditInput = DistributiveOmit<AuditEvent, "time">;

/**
 * A destination for audit events. `write` must not block: a slow or failing sink never delays or fails
 * a request (the gateway does not await it, and catches what it throws).
 */
export interface AuditSink {
  name: string;
  write(event: AuditEvent): void | Promise<void>;
  /** Writes what is buffered. */
  flush?(): Promise<void>;
  /** Events dropped so far (a full buffer, a receiver that stayed down), shown on `/metrics`. */
  dropped?(): number;
  close?(): Promise<void>;
}

/** The gateway's audit fan-out. */
export interface Audit {
  emit(event: AuditInput): void;
  flush(): Promise<void>;
  close(): Promise<void>;
}
