// OpenTelemetry traces: a real local OTLP/HTTP receiver (a loopback server decoding the OTLP JSON the
// official exporter sends) gets the span tree of each MCP request: the request's server span (parented by
// the client's `traceparent`), its upstream call as a child, and the child's W3C context in what the
// upstream received (header and `_meta`). Both paths of a tool call: the direct path (a plain call in a
// session) and the SDK's (stateless requests, calls asking for progress). Untraced, nothing is loaded.
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { Client, StreamableHTTPClientTransport } from "@modelcontextprotocol/client";
import { createGateway, serve, type Gateway, type GatewayConfig } from "../../core/mod.ts";
import { tracingSdkLoads } from "../../core/observe/tracing.ts";
import { InMemorySpanExporter, SimpleSpanProcessor, TracerProvider } from "@opentelemetry/sdk-trace";
import { bearer, memoryStore } from "../../plugins/mod.ts";
import { inProcess } from "../../examples/custom-upstream.ts";
import { bearerAuth, echoServer, harness, type Harness, type Seen } from "../fixtures/in-process.ts";
import { everythingUpstream, quietLogger } from "../fixtures/helpers.ts";

interface OtlpSpan {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  kind: number;
  attributes: Array<{ key: string; value: { stringValue?: string } }>;
  status: { code?: number; message?: string };
}

const SERVER = 2;
const CLIENT = 3;
const OK = 1;
const ERROR = 2;

/** A local OTLP/HTTP receiver: decodes the JSON export requests, keeps their spans and what came with them. */
async function otlpReceiver(): Promise<{ url: string; spans: OtlpSpan[]; resources: Array<Record<string, string>>; headers: Headers[]; close(): Promise<void> }> {
  const spans: OtlpSpan[] = [];
  const resources: Array<Record<string, string>> = [];
  const headers: Headers[] = [];
  const receiver = {
    async fetch(request: Request): Promise<Response> {
      if (request.method !== "POST" || new URL(request.url).pathname !== "/v1/traces") return new Response("not found", { status: 404 });
      if (!request.headers.get("content-type")?.startsWith("application/json")) return new Response("expected OTLP JSON", { status: 415 });
      headers.push(request.headers);
      const body = await request.json() as { resourceSpans: Array<{ resource: { attributes: OtlpSpan["attributes"] }; scopeSpans: Array<{ spans: OtlpSpan[] }> }> };
      for (const rs of body.resourceSpans) {
        resources.push(Object.fromEntries(rs.resource.attributes.map((a) => [a.key, a.value.stringValue ?? ""])));
        for (const ss of rs.scopeSpans) spans.push(...ss.spans);
      }
      return Response.json({});
    },
    close: () => Promise.resolve(),
    config: { server: { host: "127.0.0.1", port: 0 }, logger: quietLogger },
  };
  const served = await serve(receiver, { port: 0, handleSignals: false });
  return { url: `${served.url}/v1/traces`, spans, resources, headers, close: () => served.close() };
}

const attr = (span: OtlpSpan, key: string): string | undefined => span.attributes.find((a) => a.key === key)?.value.stringValue;
const TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736";
const PARENT_ID = "00f067aa0ba902b7";

const echo = (name: string, via: "headers" | "meta") => inProcess({ label: name, identityVia: via, build: () => echoServer(name) });

{
  const test = suite("tracing: span tree at a real OTLP receiver");
  let receiver: Awaited<ReturnType<typeof otlpReceiver>>;
  let h: Harness;
  const seen: Record<string, Seen> = {};
  let closed = false;

  test.before(async () => {
    receiver = await otlpReceiver();
    h = await harness({
      auth: bearer(),
      tokens: { store: memoryStore() },
      servers: { echo: echo("echo", "headers"), meta: echo("meta", "meta") },
      tracing: { otlp: { url: receiver.url, headers: { "x-collector-key": "k-123" } }, serviceName: "portcullis-test" },
    });
    const t = await h.token({ user: "tracy" });
    const auth = bearerAuth(t.token);
    const session = await h.open(auth);
    // The direct path, with the caller's own trace as parent.
    seen.direct = await h.whoami(auth, "echo", { session, headers: { traceparent: `00-${TRACE_ID}-${PARENT_ID}-01` } });
    // The SDK's path: a stateless (2026-07-28) call, and a call in the session asking for progress.
    seen.stateless = await h.whoami(auth, "meta", { era: "2026-07-28" });
    seen.progress = await h.whoami(auth, "echo", { session, meta: { progressToken: "p1" } });
    // A stateless call that declares it can be asked things runs on a connection leased to it (input rounds).
    const era = "2026-07-28";
    const res = await h.gateway.fetch(new Request("http://gateway.test/mcp", {
      method: "POST",
      headers: { ...auth, "content-type": "application/json", accept: "application/json, text/event-stream", "mcp-protocol-version": era, "mcp-method": "tools/call", "mcp-name": "meta__whoami" },
      body: JSON.stringify({ jsonrpc: "2.0", id: 49, method: "tools/call", params: { name: "meta__whoami", arguments: {}, _meta: { "io.modelcontextprotocol/protocolVersion": era, "io.modelcontextprotocol/clientCapabilities": { sampling: {} } } } }),
    }));
    const text = await res.text();
    const answer = JSON.parse(text.split("\n").filter((l) => l.startsWith("data:")).map((l) => l.slice(5)).pop() ?? text);
    assert.ok(answer.result, text);
    seen.rounds = JSON.parse(answer.result.content[0].text) as Seen;
    await h.rpc(auth, { id: 50, method: "tools/list" }, { session });
    const unknown = await h.rpc(auth, { id: 51, method: "tools/call", params: { name: "echo__nope", arguments: {} } }, { session });
    assert.ok(unknown.body.error);
    // Closing the gateway exports what is buffered before it resolves.
    await h.gateway.close();
    closed = true;
  });
  test.after(async () => {
    if (!closed) await h.gateway.close();
    await receiver.close();
  });

  const serverSpanOf = (traceparent: string | undefined): { server: OtlpSpan; client: OtlpSpan } => {
    assert.ok(traceparent, "the upstream received a traceparent");
    const [, traceId, childId] = traceparent!.split("-");
    const client = receiver.spans.find((s) => s.spanId === childId);
    assert.ok(client, `the upstream call's span ${childId} was exported`);
    assert.is(client!.traceId, traceId);
    const server = receiver.spans.find((s) => s.spanId === client!.parentSpanId);
    assert.ok(server, "the upstream call's parent span was exported");
    return { server: server!, client: client! };
  };

  test("direct path: server span under the caller's traceparent, upstream call as its child, context in the header and _meta", () => {
    const traceparent = seen.direct!.headers.traceparent;
    const { server, client } = serverSpanOf(traceparent);
    assert.is(server.traceId, TRACE_ID);
    assert.is(server.parentSpanId, PARENT_ID);
    assert.is(server.kind, SERVER);
    assert.is(server.name, "tools/call echo__whoami");
    assert.is(attr(server, "mcp.method"), "tools/call");
    assert.is(attr(server, "mcp.server"), "echo");
    assert.is(attr(server, "mcp.tool"), "whoami");
    assert.is(server.status.code, OK);
    assert.is(client.kind, CLIENT);
    assert.is(client.name, "tools/call whoami");
    assert.is(attr(client, "mcp.server"), "echo");
    assert.is(attr(client, "mcp.tool"), "whoami");
    assert.is(client.status.code, OK);
    assert.is(seen.direct!.meta.traceparent, traceparent);
    assert.match(traceparent!, /^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/);
  });

  test("SDK path, stateless: a new trace, the stdio-style upstream gets it in _meta", () => {
    const { server, client } = serverSpanOf(seen.stateless!.meta.traceparent as string);
    assert.is.not(server.traceId, TRACE_ID);
    assert.not.ok(server.parentSpanId, "no incoming traceparent: the request's span is a root");
    assert.is(server.name, "tools/call meta__whoami");
    assert.is(attr(server, "mcp.server"), "meta");
    assert.is(client.kind, CLIENT);
  });

  test("a stateless call on a connection leased to it (input rounds): its upstream call is the child span too", () => {
    const { server, client } = serverSpanOf(seen.rounds!.meta.traceparent as string);
    assert.is(server.name, "tools/call meta__whoami");
    assert.is(client.parentSpanId, server.spanId);
    assert.is(client.kind, CLIENT);
  });

  test("SDK path in a session (progress asked): traced the same way", () => {
    const { server, client } = serverSpanOf(seen.progress!.headers.traceparent);
    assert.is(server.kind, SERVER);
    assert.is(attr(server, "mcp.tool"), "whoami");
    assert.is(client.parentSpanId, server.spanId);
  });

  test("every MCP request has a span: tools/list, and an unknown tool as an error", () => {
    const list = receiver.spans.find((s) => s.name === "tools/list");
    assert.ok(list, receiver.spans.map((s) => s.name).join(", "));
    assert.is(list!.kind, SERVER);
    assert.is(attr(list!, "mcp.method"), "tools/list");
    const failed = receiver.spans.find((s) => s.kind === SERVER && attr(s, "mcp.outcome") === "denied");
    assert.ok(failed, "the unknown tool's span");
    assert.is(failed!.status.code, ERROR);
    assert.is(failed!.name, "tools/call", "a tool name no server has never becomes a span name");
  });

  test("the export carries the service name and the configured headers", () => {
    assert.ok(receiver.resources.every((r) => r["service.name"] === "portcullis-test"));
    assert.ok(receiver.headers.length > 0 && receiver.headers.every((hd) => hd.get("x-collector-key") === "k-123"));
  });

  test.run();
}

{
  const test = suite("tracing: a real client and a stdio upstream end to end");

  test("an SDK client's call over HTTP to server-everything over stdio: client span under the server span", async () => {
    const receiver = await otlpReceiver();
    const store = memoryStore();
    const gateway: Gateway = createGateway({
      logger: quietLogger,
      admin: { bootstrap: false },
      auth: bearer(),
      tokens: { store },
      servers: { everything: everythingUpstream() },
      tracing: { otlp: { url: receiver.url } },
    });
    try {
      await gateway.ready();
      const { secret } = await gateway.tokens.create({ user: "e2e" }, "test");
      const served = await serve(gateway, { port: 0, handleSignals: false });
      const client = new Client({ name: "trace-test", version: "1.0.0" }, { versionNegotiation: { mode: "legacy" } });
      await client.connect(new StreamableHTTPClientTransport(new URL(`${served.url}/mcp`), {
        requestInit: { headers: { authorization: `Bearer ${secret}`, traceparent: `00-${TRACE_ID}-${PARENT_ID}-01` } },
      }));
      const result = await client.callTool({ name: "everything__echo", arguments: { message: "traced" } });
      assert.ok(JSON.stringify(result).includes("traced"));
      await client.close();
      await served.close();
      await gateway.close();
      const server = receiver.spans.find((s) => s.name === "tools/call everything__echo");
      assert.ok(server, receiver.spans.map((s) => s.name).join(", "));
      assert.is(server!.traceId, TRACE_ID);
      assert.is(server!.parentSpanId, PARENT_ID);
      const child = receiver.spans.find((s) => s.parentSpanId === server!.spanId);
      assert.ok(child, "the stdio upstream call is a child span");
      assert.is(child!.name, "tools/call echo");
      assert.is(attr(child!, "mcp.server"), "everything");
      assert.ok(receiver.resources.every((r) => r["service.name"] === "portcullis"));
    } finally {
      await gateway.close();
      await receiver.close();
    }
  });

  test.run();
}

{
  const test = suite("tracing: an embedding application's own provider");

  test("tracing.provider: spans go to the application's SDK, nothing is exported by the gateway", async () => {
    const exporter = new InMemorySpanExporter();
    const provider = new TracerProvider({ spanProcessors: [new SimpleSpanProcessor({ exporter })] });
    const h = await harness({ auth: bearer(), tokens: { store: memoryStore() }, servers: { echo: echo("echo", "headers") }, tracing: { provider } });
    try {
      const t = await h.token({ user: "embedded" });
      const seenBy = await h.whoami(bearerAuth(t.token), "echo", { era: "2026-07-28" });
      const spans = exporter.getFinishedSpans();
      const server = spans.find((s) => s.name === "tools/call echo__whoami");
      assert.ok(server, spans.map((s) => s.name).join(", "));
      const client = spans.find((s) => s.parentSpanContext?.spanId === server!.spanContext().spanId);
      assert.ok(client);
      assert.is(seenBy.headers.traceparent, `00-${client!.spanContext().traceId}-${client!.spanContext().spanId}-01`);
    } finally {
      await h.gateway.close();
      await provider.shutdown();
    }
  });

  test.run();
}

{
  const test = suite("tracing: off unless configured");

  test("untraced: no SDK loaded, nothing sent upstream, the caller's traceparent not passed on", async () => {
    const loads = tracingSdkLoads();
    const h = await harness({ auth: bearer(), tokens: { store: memoryStore() }, servers: { echo: echo("echo", "headers") } });
    try {
      const t = await h.token({ user: "plain" });
      const session = await h.open(bearerAuth(t.token));
      const direct = await h.whoami(bearerAuth(t.token), "echo", { session, headers: { traceparent: `00-${TRACE_ID}-${PARENT_ID}-01` } });
      const stateless = await h.whoami(bearerAuth(t.token), "echo", { era: "2026-07-28" });
      for (const s of [direct, stateless]) {
        assert.is(s.headers.traceparent, undefined);
        assert.is(s.meta.traceparent, undefined);
      }
      assert.is(tracingSdkLoads(), loads, "no tracing SDK was loaded");
    } finally {
      await h.gateway.close();
    }
  });

  test("config errors name the path", () => {
    const config = (tracing: GatewayConfig["tracing"]): GatewayConfig => ({ logger: quietLogger, servers: {}, tracing });
    const refused = (tracing: GatewayConfig["tracing"], path: RegExp) => {
      try {
        createGateway(config(tracing));
      } catch (err) {
        assert.match((err as Error).message, path);
        return;
      }
      assert.unreachable("the config must be refused");
    };
    refused({ otlp: { url: "ftp://collector/v1/traces" } }, /tracing\.otlp\.url/);
    refused({}, /tracing\.otlp/);
    refused({ otlp: { url: "http://127.0.0.1:4318/v1/traces", extra: 1 } as never }, /tracing\.otlp/);
  });

  test.run();
}
