// GET /metrics: the Prometheus text a scrape gets, checked by Prometheus's own parser (`promtool check
// metrics`, Debian's `prometheus` package); counters and histograms moving as requests are made; label
// values bounded (route patterns, listed tools, never ids); who may scrape (credentials with the metrics
// or admin scope, allow-listed addresses through a real socket).
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { spawn } from "node:child_process";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createGateway, type GatewayConfig } from "../../core/mod.ts";
import { bearer, memoryStore } from "../../plugins/mod.ts";
import { counter, histogram, observe } from "../../core/observe/prometheus-text.ts";
import { inProcess } from "../../examples/custom-upstream.ts";
import { ADMIN, BASE, bearerAuth, echoServer, harness, type Harness } from "../fixtures/in-process.ts";
import { quietLogger, startGateway } from "../fixtures/helpers.ts";

/** Runs `promtool check metrics` on `text`: Prometheus's own exposition-format parser and linter. */
async function promtool(text: string, args = ["check", "metrics"]): Promise<{ code: number; output: string }> {
  return await new Promise((resolve, reject) => {
    const child = spawn("promtool", args, { stdio: ["pipe", "pipe", "pipe"] });
    let output = "";
    child.stdout.on("data", (c) => (output += c));
    child.stderr.on("data", (c) => (output += c));
    child.on("error", (err) => reject(new Error(`promtool could not run (${err.message}): install Debian's prometheus package`)));
    child.on("close", (code) => resolve({ code: code ?? -1, output }));
    child.stdin.end(text);
  });
}

/** The samples of a valid exposition (promtool has checked the format): `name{labels}` -> value. */
function samples(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split("\n")) {
    if (line === "" || line.startsWith("#")) continue;
    const at = line.lastIndexOf(" ");
    out.set(line.slice(0, at), Number(line.slice(at + 1)));
  }
  return out;
}

const echo = (name: string) => inProcess({ label: name, build: () => echoServer(name) });

async function scrape(h: Harness, auth: Record<string, string> = bearerAuth(ADMIN)): Promise<{ status: number; type: string | null; text: string }> {
  const res = await h.gateway.fetch(new Request(`${BASE}/metrics`, { headers: auth }));
  return { status: res.status, type: res.headers.get("content-type"), text: await res.text() };
}

// --- the text format --------------------------------------------------------------------------------
{
  const test = suite("metrics: text format");

  test("escaped label values, cumulative buckets and +Inf pass promtool and read back", async () => {
    const c = counter({ name: "t_calls_total", help: "Calls, with a \\ and a\nnewline in the help.", labels: ["what"] });
    c.at('quote " backslash \\ newline \n end').value += 2;
    c.at("plain").value++;
    const h = histogram({ name: "t_seconds", help: "Latency.", labels: ["route"] }, [0.1, 1]);
    observe(h.at("/x"), 0.05);
    observe(h.at("/x"), 0.5);
    observe(h.at("/x"), 5);
    const text = c.render() + h.render();
    const check = await promtool(text);
    assert.is(check.code, 0, check.output);
    const s = samples(text);
    assert.is(s.get('t_calls_total{what="quote \\" backslash \\\\ newline \\n end"}'), 2);
    assert.is(s.get('t_seconds_bucket{route="/x",le="0.1"}'), 1);
    assert.is(s.get('t_seconds_bucket{route="/x",le="1"}'), 2);
    assert.is(s.get('t_seconds_bucket{route="/x",le="+Inf"}'), 3);
    assert.is(s.get('t_seconds_count{route="/x"}'), 3);
    assert.is(s.get('t_seconds_sum{route="/x"}'), 5.55);
  });

  test("past maxSeries, new label sets share one `other` series", () => {
    const c = counter({ name: "t_capped_total", help: "Capped.", labels: ["k"], maxSeries: 2 });
    for (const k of ["a", "b", "c", "d"]) c.at(k).value++;
    const s = samples(c.render());
    assert.equal([...s.keys()], ['t_capped_total{k="a"}', 't_capped_total{k="b"}', 't_capped_total{k="other"}']);
    assert.is(s.get('t_capped_total{k="other"}'), 2);
  });

  test.run();
}

// --- what the series say ----------------------------------------------------------------------------
{
  const test = suite("metrics: series");
  let h: Harness;

  test.before(async () => {
    h = await harness({ auth: bearer(), tokens: { store: memoryStore() }, servers: { echo: echo("echo"), other: echo("other") } });
  });
  test.after(() => h.gateway.close());

  test("requests, auth attempts, tool calls and their latency move as calls are made; promtool accepts every scrape", async () => {
    const t = await h.token({ user: "carol" });
    const before = await scrape(h);
    assert.is(before.status, 200);
    assert.is(before.type, "text/plain; version=0.0.4; charset=utf-8");
    const check0 = await promtool(before.text);
    assert.is(check0.code, 0, check0.output);
    const s0 = samples(before.text);

    const session = await h.open(bearerAuth(t.token));
    for (let i = 0; i < 3; i++) await h.call(bearerAuth(t.token), "echo__shout", { message: "hi" }, { session });
    await h.call(bearerAuth(t.token), "echo__shout", { message: "hi" }, { era: "2026-07-28" });
    // An unknown tool, a bad token, no token at all.
    const unknown = await h.rpc(bearerAuth(t.token), { id: 9, method: "tools/call", params: { name: "echo__no_such_tool_xyz", arguments: {} } }, { session });
    assert.ok(unknown.body.error, JSON.stringify(unknown.body));
    assert.is((await h.rpc(bearerAuth("pt_not-a-real-token"), { id: 10, method: "tools/list" })).status, 401);
    assert.is((await h.rpc({}, { id: 11, method: "tools/list" })).status, 401);

    const after = await scrape(h);
    const check = await promtool(after.text);
    assert.is(check.code, 0, check.output);
    const s = samples(after.text);
    const delta = (key: string) => (s.get(key) ?? 0) - (s0.get(key) ?? 0);

    assert.is(delta('portcullis_tool_calls_total{server="echo",tool="shout",outcome="ok"}'), 4);
    assert.is(delta('portcullis_tool_call_duration_seconds_count{server="echo",tool="shout"}'), 4);
    assert.ok(delta('portcullis_tool_call_duration_seconds_sum{server="echo",tool="shout"}') > 0);
    assert.is(delta('portcullis_tool_call_duration_seconds_bucket{server="echo",tool="shout",le="+Inf"}'), 4);
    // A tool the upstream never listed is `other`: a client cannot make series by naming tools.
    assert.is(delta('portcullis_tool_calls_total{server="echo",tool="other",outcome="denied"}'), 1);
    assert.not.ok(after.text.includes("no_such_tool_xyz"));
    assert.is(delta('portcullis_auth_attempts_total{strategy="auth:bearer",outcome="failure",code="ERR_INVALID_CREDENTIAL"}'), 1);
    assert.is(delta('portcullis_auth_attempts_total{strategy="none",outcome="failure",code="ERR_AUTH_REQUIRED"}'), 1);
    assert.ok(delta('portcullis_auth_attempts_total{strategy="auth:bearer",outcome="success",code=""}') >= 6);
    assert.ok(delta('portcullis_http_requests_total{route="/mcp",method="POST",status="200"}') >= 5);
    assert.is(delta('portcullis_http_requests_total{route="/mcp",method="POST",status="401"}'), 2);
    assert.ok(delta('portcullis_http_request_duration_seconds_count{route="/mcp",method="POST"}') >= 7);
    // The scrape before this one was counted too, under its route.
    assert.ok(delta('portcullis_http_requests_total{route="/metrics",method="GET",status="200"}') >= 1);

    assert.is(s.get('portcullis_upstream_up{server="echo"}'), 1);
    assert.is(s.get('portcullis_upstream_state{server="other",state="ready"}'), 1);
    assert.is(s.get('portcullis_upstream_state{server="other",state="down"}'), 0);
    assert.is(s.get('portcullis_upstream_restarts_total{server="echo"}'), 0);
    assert.is(s.get('portcullis_sessions_open{transport="streamable-http"}'), 1);
    assert.is(s.get('portcullis_tokens{state="active",type="token"}'), 1);
    assert.is(delta('portcullis_token_operations_total{action="create"}'), 0);
    assert.is(s.get('portcullis_token_operations_total{action="create"}'), 1);
  });

  test("routes are labelled by pattern: no token id, no raw path reaches a label", async () => {
    const t = await h.token({ user: "dave" });
    assert.is((await h.api("GET", `/v1/auth/tokens/${t.id}`)).status, 200);
    assert.is((await h.api("GET", "/no/such/path/at-all")).status, 404);
    // Bun's Request turns a method it does not know into GET: there, only the known ones can be sent.
    const inventedMethods = new Request(BASE, { method: "FOO" }).method === "FOO";
    for (const method of inventedMethods ? ["FOO", "BAR", "BAZ"] : []) assert.is((await h.gateway.fetch(new Request(`${BASE}/healthz`, { method }))).status, 405);
    assert.is((await h.gateway.fetch(new Request(`${BASE}/healthz`, { method: "PUT" }))).status, 405);
    const { text } = await scrape(h);
    assert.not.ok(text.includes(t.id), "a token id is never a label value");
    assert.not.ok(text.includes("dave"), "a user is never a label value");
    assert.not.ok(text.includes("at-all"));
    assert.ok(samples(text).get('portcullis_http_requests_total{route="unmatched",method="GET",status="404"}')! >= 1);
    // Methods a client invents are one label value.
    if (inventedMethods) assert.is(samples(text).get('portcullis_http_requests_total{route="unmatched",method="other",status="405"}'), 3);
    assert.is(samples(text).get('portcullis_http_requests_total{route="unmatched",method="PUT",status="405"}'), 1);
    assert.not.ok(text.includes("FOO"));
    // Counted at most every few seconds, but a token operation counts again at once.
    assert.is(samples(text).get('portcullis_tokens{state="active",type="token"}'), 2);
    assert.is((await h.api("DELETE", `/v1/auth/tokens/${t.id}`)).status, 200);
    const s = samples((await scrape(h)).text);
    assert.is(s.get('portcullis_tokens{state="revoked",type="token"}'), 1);
    assert.is(s.get('portcullis_tokens{state="active",type="token"}'), 1);
  });

  test("audit sinks: failed writes counted per sink, drops shown for sinks that count them", async () => {
    let dropped = 0;
    const counting = { name: "counting", write: () => void dropped++, dropped: () => dropped };
    const failing = { name: "failing", write: (): void => { throw new Error("disk full"); } };
    const g = await harness({ auth: bearer(), tokens: { store: memoryStore() }, servers: {}, audit: [counting, failing] });
    try {
      await g.token({ user: "sinks" });
      const text = (await scrape(g)).text;
      assert.is((await promtool(text)).code, 0);
      const s = samples(text);
      // Every event so far (the admin's two authentications, the token create) went to both sinks.
      assert.is(dropped, 3);
      assert.is(s.get('portcullis_audit_sink_dropped_total{sink="counting"}'), 3);
      assert.is(s.get('portcullis_audit_sink_dropped_total{sink="failing"}'), undefined);
      assert.is(s.get('portcullis_audit_sink_failures_total{sink="failing"}'), 3);
      assert.is(s.get('portcullis_audit_sink_failures_total{sink="counting"}'), 0);
    } finally {
      await g.gateway.close();
    }
  });

  test("examples/grafana-dashboard.json: every query parses (promtool) and names only series the gateway exports", async () => {
    const dashboard = JSON.parse(await readFile(new URL("../../examples/grafana-dashboard.json", import.meta.url), "utf8")) as { panels: Array<{ title: string; targets: Array<{ expr: string }> }> };
    const exprs = dashboard.panels.flatMap((p) => p.targets.map((t) => t.expr));
    assert.ok(exprs.length >= 8);
    const { text } = await scrape(h);
    const exported = new Set([...text.matchAll(/^# TYPE (\S+) (\S+)$/gm)].flatMap((m) => m[2] === "histogram" ? [`${m[1]}_bucket`, `${m[1]}_sum`, `${m[1]}_count`] : [m[1]!]));
    // Families whose series exist only once something happened (a sink that drops) are declared all the same.
    for (const name of ["portcullis_audit_sink_dropped_total", "portcullis_audit_sink_failures_total"]) exported.add(name);
    for (const expr of exprs) {
      for (const [name] of expr.matchAll(/portcullis_[a-z_]+/g)) assert.ok(exported.has(name), `${name} (in ${expr}) is not exported`);
    }
    // PromQL checked by Prometheus itself: the queries as recording rules.
    const dir = await mkdtemp(join(tmpdir(), "portcullis-dashboard-"));
    try {
      const rules = exprs.map((e, i) => `      - record: dashboard:q${i}\n        expr: ${JSON.stringify(e)}`).join("\n");
      await writeFile(join(dir, "rules.yml"), `groups:\n  - name: dashboard\n    rules:\n${rules}\n`);
      const check = await promtool("", ["check", "rules", join(dir, "rules.yml")]);
      assert.is(check.code, 0, check.output);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  test.run();
}

// --- who may scrape ---------------------------------------------------------------------------------
{
  const test = suite("metrics: access");
  let h: Harness;

  test.before(async () => {
    h = await harness({ auth: bearer(), tokens: { store: memoryStore() }, servers: { echo: echo("echo") }, metrics: { allowFrom: ["10.0.0.0/8", "2001:db8::/32"] } });
  });
  test.after(() => h.gateway.close());

  test("without a credential 401; a token without the metrics or admin scope 403; metrics or admin scope 200", async () => {
    const none = await scrape(h, {});
    assert.is(none.status, 401);
    assert.is(JSON.parse(none.text).error.code, "ERR_AUTH_REQUIRED");
    const user = await h.token({ user: "u", scopes: ["mcp:read", "mcp:write"] });
    const refused = await scrape(h, bearerAuth(user.token));
    assert.is(refused.status, 403);
    assert.is(JSON.parse(refused.text).error.code, "ERR_FORBIDDEN");
    const scraper = await h.token({ user: "prometheus", scopes: ["metrics"] });
    assert.is((await scrape(h, bearerAuth(scraper.token))).status, 200);
    assert.is((await scrape(h, bearerAuth(ADMIN))).status, 200);
    // A metrics token is for /metrics only: not the MCP endpoint, not the admin API.
    assert.is((await h.rpc(bearerAuth(scraper.token), { id: 1, method: "tools/list" })).status, 403);
    assert.is((await h.api("POST", "/v1/auth/tokens", { user: "x" }, bearerAuth(scraper.token))).status, 403);
  });

  test("an allow-listed peer address scrapes without a credential; others do not, whatever headers they send", async () => {
    const get = (remoteAddress: string, headers: Record<string, string> = {}) =>
      h.gateway.fetch(new Request(`${BASE}/metrics`, { headers }), { remoteAddress });
    assert.is((await get("10.20.30.40")).status, 200);
    assert.is((await get("::ffff:10.1.1.1")).status, 200);
    assert.is((await get("2001:db8::7")).status, 200);
    assert.is((await get("192.168.1.1")).status, 401);
    assert.is((await get("11.0.0.1", { "x-forwarded-for": "10.0.0.1" })).status, 401);
  });

  test("a metrics token works where bearer() is not configured", async () => {
    const g = createGateway({ logger: quietLogger, admin: { token: ADMIN, bootstrap: false }, auth: [], tokens: { store: memoryStore() }, servers: { echo: echo("echo") } });
    try {
      await g.ready();
      const made = await g.fetch(new Request(`${BASE}/v1/auth/tokens`, { method: "POST", headers: { ...bearerAuth(ADMIN), "content-type": "application/json" }, body: JSON.stringify({ user: "prom", scopes: ["metrics"] }) }));
      assert.is(made.status, 201);
      const { token } = await made.json() as { token: string };
      assert.is((await g.fetch(new Request(`${BASE}/metrics`, { headers: bearerAuth(token) }))).status, 200);
      assert.is((await g.fetch(new Request(`${BASE}/metrics`, { headers: bearerAuth("pt_wrong") }))).status, 401);
    } finally {
      await g.close();
    }
  });

  test("config: a bad allowFrom entry names its path; metrics: false serves no /metrics", async () => {
    const config = (metrics: GatewayConfig["metrics"]): GatewayConfig => ({ logger: quietLogger, admin: { token: ADMIN, bootstrap: false }, servers: {}, metrics });
    try {
      createGateway(config({ allowFrom: ["10.0.0.0/33"] }));
      assert.unreachable("a bad CIDR must be refused");
    } catch (err) {
      assert.match((err as Error).message, /metrics\.allowFrom\[0\]/);
    }
    const off = createGateway(config(false));
    try {
      assert.is((await off.fetch(new Request(`${BASE}/metrics`, { headers: bearerAuth(ADMIN) }))).status, 404);
    } finally {
      await off.close();
    }
  });

  test("over a real socket: the serving adapter's peer address (loopback) is what allowFrom matches", async () => {
    const open = await startGateway({ auth: [], servers: {}, metrics: { allowFrom: ["127.0.0.1", "::1"] } });
    const closed = await startGateway({ auth: [], servers: {}, metrics: { allowFrom: ["10.0.0.0/8"] } });
    try {
      const res = await fetch(`${open.url}/metrics`);
      assert.is(res.status, 200);
      const check = await promtool(await res.text());
      assert.is(check.code, 0, check.output);
      const refused = await fetch(`${closed.url}/metrics`);
      assert.is(refused.status, 401);
      await refused.body?.cancel();
    } finally {
      await open.close();
      await closed.close();
      await open.gateway.close();
      await closed.gateway.close();
    }
  });

  test.run();
}
