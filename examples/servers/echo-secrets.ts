/**
 * An MCP server that shows which credentials it was given, for trying `secret()` references: `env`
 * answers with one of its environment variables (stdio) and `headers` with the request headers it
 * received (Streamable HTTP), each value with its SHA-256 so a test can tell values apart even after the
 * gateway has redacted them to `[REDACTED:NAME]`.
 *
 * Run: node --import ./core/serve/node-ts-register.mjs examples/servers/echo-secrets.ts [--http 8792]
 *      deno run -A examples/servers/echo-secrets.ts | bun run examples/servers/echo-secrets.ts
 */
import { createMcpHandler, fromJsonSchema, McpServer } from "@modelcontextprotocol/server";
import { args, isMain, serveHttp } from "./serve-http.ts";

const proc = (globalThis as { process?: { pid: number; env: Record<string, string | undefined> } }).process;
const readEnv = (name: string): string | undefined =>
  (globalThis as { Deno?: { env: { get(n: string): string | undefined } } }).Deno?.env.get(name) ?? proc?.env[name];
const pid = (): number | undefined => proc?.pid ?? (globalThis as { Deno?: { pid: number } }).Deno?.pid;

async function sha256(text: string): Promise<string> {
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text)));
  return [...digest].map((b) => b.toString(16).padStart(2, "0")).join("");
}

/**
 * Builds one echo server instance.
 *
 * @example
 * await createEchoSecretsServer().connect(new StdioServerTransport());
 */
export function createEchoSecretsServer(): McpServer {
  const server = new McpServer({ name: "echo-secrets", version: "1.0.0" });
  server.registerTool("env", {
    description: "One environment variable of this server process, its SHA-256 and the process id.",
    annotations: { readOnlyHint: true },
    inputSchema: fromJsonSchema<{ name: string }>({ type: "object", properties: { name: { type: "string" } }, required: ["name"] }),
  }, async ({ name }) => {
    const value = readEnv(name);
    return { content: [{ type: "text", text: JSON.stringify({ name, value: value ?? null, sha256: value === undefined ? null : await sha256(value), pid: pid() }) }] };
  });
  server.registerTool("headers", {
    description: "The headers of the HTTP request carrying this call, each with its SHA-256.",
    annotations: { readOnlyHint: true },
  }, async (ctx) => {
    const headers: Record<string, string> = {};
    const hashes: Record<string, string> = {};
    const req = (ctx as { http?: { req?: Request } }).http?.req;
    for (const [name, value] of req?.headers ?? []) {
      headers[name] = value;
      hashes[name] = await sha256(value);
    }
    return { content: [{ type: "text", text: JSON.stringify({ headers, sha256: hashes }) }] };
  });
  server.registerTool("fail", {
    description: "Fails with the given message (to see what the gateway does with an upstream's error).",
    inputSchema: fromJsonSchema<{ message: string }>({ type: "object", properties: { message: { type: "string" } }, required: ["message"] }),
  }, ({ message }) => {
    throw new Error(message.replace(/\$(\w+)/g, (_, n: string) => readEnv(n) ?? ""));
  });
  return server;
}

/**
 * The echo server as a web-standard HTTP handler.
 *
 * @example
 * Deno.serve({ port: 8792 }, echoSecretsHttpHandler().fetch);
 */
export function echoSecretsHttpHandler(): { fetch(request: Request): Promise<Response>; close(): Promise<void> } {
  return createMcpHandler(() => createEchoSecretsServer());
}

async function main(args: string[]): Promise<void> {
  const at = args.indexOf("--http");
  if (at === -1) {
    const { StdioServerTransport } = await import("@modelcontextprotocol/server/stdio");
    await createEchoSecretsServer().connect(new StdioServerTransport());
    // A careless log line, as real servers write them: the gateway logs stderr lines with known secrets redacted.
    if (readEnv("GITHUB_TOKEN") !== undefined) console.error(`echo-secrets: started, GITHUB_TOKEN=${readEnv("GITHUB_TOKEN")}`);
    return;
  }
  const port = Number(args[at + 1] ?? 8792);
  const handler = echoSecretsHttpHandler();
  await serveHttp("echo-secrets", port, handler.fetch);
}

if (isMain(import.meta)) await main(args());
