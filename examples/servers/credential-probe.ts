/**
 * A stdio MCP server for trying per-user credentials and secrets: `env` answers with the value (and SHA-256) of one
 * of its environment variables and `pid` with its process id, so you can see which credential a server
 * was started with and that each user gets a process of their own. The gateway redacts known secret
 * values in its answers and in the stderr lines it logs, so `[REDACTED:NAME]` stands where the value would be.
 *
 * Run: node --import ./core/serve/node-ts-register.mjs examples/servers/credential-probe.ts
 */
import { fromJsonSchema, McpServer } from "@modelcontextprotocol/server";
import { StdioServerTransport } from "@modelcontextprotocol/server/stdio";

const proc = (globalThis as { process?: { pid: number; env: Record<string, string | undefined> } }).process;
const env = (name: string): string | undefined =>
  (globalThis as { Deno?: { env: { get(n: string): string | undefined } } }).Deno?.env.get(name) ?? proc?.env[name];

const server = new McpServer({ name: "credential-probe", version: "1.0.0" });
server.registerTool("env", {
  description: "The value of one environment variable of this server process.",
  annotations: { readOnlyHint: true },
  inputSchema: fromJsonSchema<{ name: string }>({ type: "object", properties: { name: { type: "string" } }, required: ["name"] }),
}, async ({ name }) => {
  const value = env(name);
  // A fingerprint survives the gateway's redaction of the value, so two processes can be told apart.
  const sha256 = value === undefined ? null : [...new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(value)))].map((b) => b.toString(16).padStart(2, "0")).join("");
  return { content: [{ type: "text", text: JSON.stringify({ name, value: value ?? null, sha256 }) }] };
});
server.registerTool("pid", {
  description: "This server's process id.",
  annotations: { readOnlyHint: true },
}, () => ({ content: [{ type: "text", text: JSON.stringify({ pid: proc?.pid ?? (globalThis as { Deno?: { pid: number } }).Deno?.pid }) }] }));

await server.connect(new StdioServerTransport());
// A careless log line, as real servers write them: the gateway logs stderr lines with known secrets redacted.
console.error(`credential-probe: started, GITHUB_TOKEN=${env("GITHUB_TOKEN") ?? "(unset)"}`);
