// Plain fetch() MCP requests, for opening many sessions cheaply and for polling a process that is
// starting up (the SDK client would add its own connect steps to what is being timed).

const ACCEPT = "application/json, text/event-stream";

function headers(token: string | undefined, session?: string): Record<string, string> {
  const h: Record<string, string> = { "content-type": "application/json", accept: ACCEPT };
  if (token) h.authorization = `Bearer ${token}`;
  if (session) {
    h["mcp-session-id"] = session;
    h["mcp-protocol-version"] = "2025-11-25";
  }
  return h;
}

/** The JSON-RPC message in a response body that is either JSON or an SSE stream. */
function messageOf(text: string): { result?: unknown; error?: { message: string } } | undefined {
  const t = text.trimStart();
  if (t.startsWith("{")) return JSON.parse(t);
  for (const line of text.split("\n")) {
    if (line.startsWith("data:")) {
      const data = line.slice(5).trim();
      if (data.startsWith("{")) return JSON.parse(data);
    }
  }
  return undefined;
}

/**
 * Opens one 2025-11-25 session (initialize, then notifications/initialized) and returns its id.
 *
 * @example
 * const session = await openSession("http://127.0.0.1:8787/mcp", token);
 */
export async function openSession(url: string, token: string | undefined, signal?: AbortSignal): Promise<string> {
  const res = await fetch(url, {
    method: "POST",
    headers: headers(token),
    signal,
    body: JSON.stringify({
      jsonrpc: "2.0",
      id: 1,
      method: "initialize",
      params: { protocolVersion: "2025-11-25", capabilities: {}, clientInfo: { name: "portcullis-bench", version: "1.0.0" } },
    }),
  });
  const text = await res.text();
  const session = res.headers.get("mcp-session-id");
  if (!res.ok || !session) throw new Error(`initialize: HTTP ${res.status} ${text.slice(0, 200)}`);
  const ack = await fetch(url, { method: "POST", headers: headers(token, session), signal, body: JSON.stringify({ jsonrpc: "2.0", method: "notifications/initialized" }) });
  await ack.arrayBuffer();
  if (!ack.ok) throw new Error(`notifications/initialized: HTTP ${ack.status}`);
  return session;
}

/**
 * One `tools/call` in an open session; throws unless it succeeded.
 *
 * @example
 * await callTool(url, token, session, "echo1__echo", { message: "hi" });
 */
export async function callTool(url: string, token: string | undefined, session: string, name: string, args: Record<string, unknown>, signal?: AbortSignal): Promise<unknown> {
  const res = await fetch(url, {
    method: "POST",
    headers: headers(token, session),
    signal,
    body: JSON.stringify({ jsonrpc: "2.0", id: 2, method: "tools/call", params: { name, arguments: args } }),
  });
  const text = await res.text();
  const msg = res.ok ? messageOf(text) : undefined;
  if (!msg || msg.error || msg.result === undefined) throw new Error(`tools/call: HTTP ${res.status} ${text.slice(0, 200)}`);
  return msg.result;
}

/**
 * Ends a session with DELETE, ignoring failures.
 *
 * @example
 * await closeSession(url, token, session);
 */
export async function closeSession(url: string, token: string | undefined, session: string): Promise<void> {
  try {
    const res = await fetch(url, { method: "DELETE", headers: headers(token, session) });
    await res.arrayBuffer();
  } catch {
    // the process may already be stopping
  }
}
