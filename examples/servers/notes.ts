/**
 * A small MCP server built with the official SDK (v2): notes kept in memory, a prompt, a resource and a
 * resource template. Runs over stdio (default) or Streamable HTTP (`--http PORT`), so the gateway's
 * `npm start` has something to serve on a fresh clone and the tests have a second, SDK-built upstream.
 *
 * Run: node --import ./core/serve/node-ts-register.mjs examples/servers/notes.ts [--http 8790]
 *      deno run -A examples/servers/notes.ts | bun run examples/servers/notes.ts
 */
import { createMcpHandler, fromJsonSchema, McpServer, ResourceTemplate } from "@modelcontextprotocol/server";
import { args, isMain, serveHttp } from "./serve-http.ts";

const notes = new Map<string, string>([["welcome", "Portcullis forwards this note from the notes server."]]);

/**
 * Builds one notes server instance. `crashable` adds a `crash` tool that kills the process mid-call
 * (only offered over stdio, where the gateway restarts the process).
 *
 * @example
 * const server = createNotesServer({ crashable: false });
 */
export function createNotesServer(options: { crashable: boolean }): McpServer {
  const server = new McpServer({ name: "notes", version: "1.0.0" }, { capabilities: { tools: { listChanged: true } } });

  server.registerTool("add_note", {
    description: "Store a note under a title.",
    inputSchema: fromJsonSchema<{ title: string; text: string }>({
      type: "object",
      properties: { title: { type: "string", minLength: 1 }, text: { type: "string" } },
      required: ["title", "text"],
    }),
  }, ({ title, text }) => {
    notes.set(title, text);
    return { content: [{ type: "text", text: `saved ${title}` }] };
  });

  server.registerTool("list_notes", {
    description: "List the titles of all notes.",
    annotations: { readOnlyHint: true },
  }, () => ({ content: [{ type: "text", text: [...notes.keys()].join("\n") }] }));

  server.registerTool("echo", {
    description: "Echo the message back.",
    annotations: { readOnlyHint: true },
    inputSchema: fromJsonSchema<{ message: string }>({ type: "object", properties: { message: { type: "string" } }, required: ["message"] }),
  }, ({ message }) => ({ content: [{ type: "text", text: message }] }));

  // Stdio servers have no headers: the gateway puts the caller's identity in the request's `_meta`.
  server.registerTool("whoami", {
    description: "Who the gateway says is calling (the identity the gateway put in the request's _meta).",
    annotations: { readOnlyHint: true },
  }, (ctx) => {
    const meta = (ctx.mcpReq._meta ?? {}) as Record<string, unknown>;
    return { content: [{ type: "text", text: JSON.stringify({ identity: meta["io.portcullis/identity"] ?? null, assertion: meta["io.portcullis/assertion"] ?? null }) }] };
  });

  let shout: ReturnType<McpServer["registerTool"]> | undefined;
  server.registerTool("toggle_shout", {
    description: "Add or remove the `shout` tool (sends notifications/tools/list_changed).",
  }, () => {
    if (shout) {
      shout.remove();
      shout = undefined;
    } else {
      shout = server.registerTool("shout", {
        description: "Upper-case the message.",
        inputSchema: fromJsonSchema<{ message: string }>({ type: "object", properties: { message: { type: "string" } }, required: ["message"] }),
      }, ({ message }) => ({ content: [{ type: "text", text: message.toUpperCase() }] }));
    }
    return { content: [{ type: "text", text: shout ? "shout enabled" : "shout disabled" }] };
  });

  if (options.crashable) {
    server.registerTool("crash", { description: "Exit the server process in the middle of the call." }, () => {
      setTimeout(() => (globalThis as { process?: { exit(c: number): void } }).process?.exit(3), 5);
      return new Promise(() => undefined);
    });
  }

  server.registerPrompt("summarize", {
    description: "Ask for a summary of one note.",
    argsSchema: fromJsonSchema<{ title: string }>({ type: "object", properties: { title: { type: "string" } }, required: ["title"] }),
  }, ({ title }) => ({
    messages: [{ role: "user", content: { type: "text", text: `Summarize: ${notes.get(title) ?? "(no such note)"}` } }],
  }));

  server.registerResource("all-notes", "notes://all", { mimeType: "text/plain" }, (uri) => ({
    contents: [{ uri: uri.href, text: [...notes].map(([t, x]) => `${t}: ${x}`).join("\n") }],
  }));

  server.registerResource("note", new ResourceTemplate("notes://note/{title}", { list: undefined }), { mimeType: "text/plain" }, (uri, vars) => ({
    contents: [{ uri: uri.href, text: notes.get(String(vars.title)) ?? "" }],
  }));

  return server;
}

/**
 * The notes server as a web-standard HTTP handler (2026-07-28 and stateless 2025-era clients).
 *
 * @example
 * Deno.serve({ port: 8790 }, notesHttpHandler().fetch);
 */
export function notesHttpHandler(): { fetch(request: Request): Promise<Response>; close(): Promise<void> } {
  return createMcpHandler(() => createNotesServer({ crashable: false }));
}

async function main(args: string[]): Promise<void> {
  const at = args.indexOf("--http");
  if (at === -1) {
    const { StdioServerTransport } = await import("@modelcontextprotocol/server/stdio");
    await createNotesServer({ crashable: true }).connect(new StdioServerTransport());
    return;
  }
  const port = Number(args[at + 1] ?? 8790);
  const handler = notesHttpHandler();
  await serveHttp("notes", port, handler.fetch);
}

if (isMain(import.meta)) await main(args());
