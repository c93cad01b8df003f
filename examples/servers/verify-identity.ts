/**
 * An MCP server that checks who is calling: it verifies the gateway's identity assertion
 * (`X-Portcullis-Assertion`, a JWT signed by the gateway) with jose against the gateway's JWKS, and shows
 * the identity headers it received. Its `whoami` tool answers with both, as JSON.
 *
 * Run behind a gateway on http://127.0.0.1:8787:
 *   node --import ./core/serve/node-ts-register.mjs examples/servers/verify-identity.ts --http 8791 \
 *     --jwks http://127.0.0.1:8787/.well-known/jwks.json --audience whoami
 * and add `whoami: http({ url: "http://127.0.0.1:8791/mcp" })` with `identity: [identityHeaders(), jwtAssertion()]`.
 */
import { createMcpHandler, McpServer } from "@modelcontextprotocol/server";
import { createRemoteJWKSet, jwtVerify } from "jose";
import { args, isMain, serveHttp } from "./serve-http.ts";

/** Settings of the verifying server. */
export interface VerifyIdentityOptions {
  /** The gateway's JWKS URL, e.g. `http://127.0.0.1:8787/.well-known/jwks.json`. */
  jwksUrl: string;
  /** The `aud` to expect: this server's name in the gateway config. */
  audience: string;
  /** The `iss` to expect; default `portcullis` (the gateway's `server.publicUrl` when it has one). */
  issuer?: string;
  /** Header carrying the assertion; default `X-Portcullis-Assertion`. */
  header?: string;
}

/** What one request carried, as the server saw it (kept for tests and for a look in the logs). */
export interface SeenRequest {
  headers: Record<string, string>;
  assertion?: Record<string, unknown>;
  assertionError?: string;
}

/**
 * The verifying server as a web-standard HTTP handler; `seen` holds every tool call's view, newest last.
 *
 * @example
 * const server = verifyIdentityHandler({ jwksUrl: "http://127.0.0.1:8787/.well-known/jwks.json", audience: "whoami" });
 * Deno.serve({ port: 8791 }, server.fetch);
 */
export function verifyIdentityHandler(options: VerifyIdentityOptions): { fetch(request: Request): Promise<Response>; close(): Promise<void>; seen: SeenRequest[] } {
  // An unknown `kid` (the gateway rotated its key) refetches the set, at most once a second.
  const jwks = createRemoteJWKSet(new URL(options.jwksUrl), { cooldownDuration: 1_000 });
  const header = (options.header ?? "X-Portcullis-Assertion").toLowerCase();
  const seen: SeenRequest[] = [];

  async function inspect(req: Request | undefined): Promise<SeenRequest> {
    const headers: Record<string, string> = {};
    req?.headers.forEach((value, name) => {
      if (name.startsWith("x-") || name === "authorization" || name === "cookie") headers[name] = value;
    });
    const view: SeenRequest = { headers };
    const jwt = req?.headers.get(header);
    if (jwt) {
      try {
        const { payload } = await jwtVerify(jwt, jwks, {
          algorithms: ["ES256"],
          audience: options.audience,
          issuer: options.issuer ?? "portcullis",
          typ: "identity+jwt",
        });
        view.assertion = payload as Record<string, unknown>;
      } catch (err) {
        view.assertionError = err instanceof Error ? err.message : String(err);
      }
    }
    seen.push(view);
    if (seen.length > 1000) seen.shift();
    return view;
  }

  const handler = createMcpHandler(() => {
    const server = new McpServer({ name: "verify-identity", version: "1.0.0" });
    server.registerTool("whoami", {
      description: "Who the gateway says is calling: the verified assertion and the identity headers.",
      annotations: { readOnlyHint: true },
    }, async (ctx) => {
      const view = await inspect(ctx.http?.req);
      return { content: [{ type: "text", text: JSON.stringify(view) }] };
    });
    return server;
  });
  return { fetch: (request) => handler.fetch(request), close: () => handler.close(), seen };
}

async function main(args: string[]): Promise<void> {
  const arg = (name: string): string | undefined => {
    const i = args.indexOf(name);
    return i === -1 ? undefined : args[i + 1];
  };
  const port = Number(arg("--http") ?? 8791);
  const handler = verifyIdentityHandler({
    jwksUrl: arg("--jwks") ?? "http://127.0.0.1:8787/.well-known/jwks.json",
    audience: arg("--audience") ?? "whoami",
    issuer: arg("--issuer"),
  });
  await serveHttp("verify-identity", port, handler.fetch);
}

if (isMain(import.meta)) await main(args());
