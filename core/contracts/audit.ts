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
export type AuditEvent = AuthEvent | TokenEvent | ToolCallEvent | CredentialEvent | OauthEvent | ServerRequestEvent | PluginEvent;

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
  close?(): Promise<void>;
}

/** The gateway's audit fan-out. */
export interface Audit {
  emit(event: AuditInput): void;
  flush(): Promise<void>;
  close(): Promise<void>;
}
