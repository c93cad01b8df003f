import { ProtocolError, ProtocolErrorCode } from "@modelcontextprotocol/server";
import type { Audit, Identity, Upstream } from "../types.ts";

/** The requests a server may send its client, by the client capability each needs. */
export const SERVER_REQUEST_KINDS: Record<string, "sampling" | "elicitation" | "roots"> = {
  "sampling/createMessage": "sampling",
  "elicitation/create": "elicitation",
  "roots/list": "roots",
};

/** The caller's client capabilities a server may use: sampling, elicitation and roots, as declared, never more. */
export function askableCapabilities(declared: Record<string, unknown> | undefined): Record<string, unknown> {
  return Object.fromEntries(Object.keys(SERVER_REQUEST_KINDS).map((m) => SERVER_REQUEST_KINDS[m]!).filter((k) => declared !== undefined && k in declared).map((k) => [k, declared![k]]));
}

/** Records how one server request ended. */
export type ServerRequestRecord = (outcome: "ok" | "refused" | "error") => void;

/**
 * The gateway's policy for one request a server sends a caller: audited (server, user, kind; never the
 * content) and refused when the server is not allowed to send it (`allowSampling`/`allowElicitation`)
 * or when no request of the caller is in progress for it to belong to (SEP-2260).
 * Throws the refusal as a JSON-RPC error; otherwise returns how to record the outcome.
 *
 * @example
 * const record = gateServerRequest(audit, "everything", registry.get("everything")?.upstream, identity, "sampling/createMessage", true);
 * try { const r = await ask(); record("ok"); } catch (e) { record("error"); throw e; }
 */
export function gateServerRequest(
  audit: Audit,
  server: string,
  upstream: Pick<Upstream, "allowSampling" | "allowElicitation"> | undefined,
  identity: Identity,
  method: string,
  inProgress: boolean,
): ServerRequestRecord {
  const kind = SERVER_REQUEST_KINDS[method] ?? "roots";
  const record: ServerRequestRecord = (outcome) =>
    audit.emit({ type: "server_request", server, subject: identity.subject, strategy: identity.strategy, kind, outcome });
  if (!inProgress) {
    record("refused");
    throw new ProtocolError(ProtocolErrorCode.InvalidRequest, `${method} must be sent while a request of the client is in progress`);
  }
  if ((kind === "sampling" && upstream?.allowSampling === false) || (kind === "elicitation" && upstream?.allowElicitation === false)) {
    record("refused");
    throw new ProtocolError(ProtocolErrorCode.InvalidRequest, `the gateway does not let server '${server}' send ${method}`);
  }
  return record;
}
