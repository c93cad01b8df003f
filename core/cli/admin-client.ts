import { GatewayError } from "../errors.ts";

/** Calls one admin endpoint of a running gateway and returns its JSON body. */
export type AdminCall = (method: string, path: string, body?: unknown) => Promise<Record<string, unknown>>;

/**
 * A client for a running gateway's admin API, used by the CLI's `--url` mode: every call carries the admin
 * token, and an error answer becomes a GatewayError with its status and code (never the token).
 *
 * @example
 * const call = adminClient("http://127.0.0.1:8787", undefined);
 * const { tokens } = await call("GET", "/v1/auth/tokens");
 */
export function adminClient(url: string, adminToken: string | undefined): AdminCall {
  const token = adminToken ?? (globalThis as { process?: { env: Record<string, string | undefined> } }).process?.env.PORTCULLIS_ADMIN_TOKEN;
  if (!token) throw new GatewayError("ERR_AUTH_REQUIRED", "--admin-token or PORTCULLIS_ADMIN_TOKEN is required with --url");
  const base = url.replace(/\/+$/, "");
  return async (method, path, body) => {
    const res = await fetch(base + path, {
      method,
      headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { "content-type": "application/json" }) },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const data = await res.json().catch(() => ({})) as Record<string, unknown>;
    if (!res.ok) {
      const e = data.error as { code?: string; message?: string } | undefined;
      throw new GatewayError("ERR_BAD_REQUEST", `${res.status} ${e?.code ?? ""}: ${e?.message ?? res.statusText}`);
    }
    return data;
  };
}
