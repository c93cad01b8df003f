// webhookAudit (plugins/audit/webhook.ts) against real HTTP receivers in the test: signed deliveries, the
// filter, retries with exponential backoff, a bounded queue that drops and counts, the Slack format, and a
// gateway request that never waits for any of it.
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { createGateway, type AuditEvent, type Logger } from "../../../core/mod.ts";
import { bearer, memoryStore, webhookAudit } from "../../../plugins/mod.ts";
import { quietLogger, waitFor } from "../../fixtures/helpers.ts";
import { hmacHex, webhookReceiver } from "../../fixtures/webhook-receiver.ts";

const test = suite("webhook audit");
const SECRET = "webhook-signing-secret-0123456789";

// The receiver-side check the README documents, as written there.
async function verifyPortcullisSignature(secret: string, rawBody: string, header: string | null): Promise<boolean> {
  if (!header?.startsWith("sha256=")) return false;
  const hex = header.slice("sha256=".length);
  if (!/^[0-9a-f]{64}$/.test(hex)) return false;
  const key = await crypto.subtle.importKey("raw", new TextEncoder().encode(secret), { name: "HMAC", hash: "SHA-256" }, false, ["verify"]);
  const signature = new Uint8Array(hex.match(/../g)!.map((b) => parseInt(b, 16)));
  return await crypto.subtle.verify("HMAC", key, signature, new TextEncoder().encode(rawBody));
}

const at = (n: number): string => new Date(Date.UTC(2026, 0, 1, 0, 0, n)).toISOString();
const auth = (n: number, outcome: "success" | "failure"): AuditEvent => ({ type: "auth", outcome, path: `/mcp/${n}`, time: at(n) });

function recordingLogger(): Logger & { warnings: string[] } {
  const warnings: string[] = [];
  return { ...quietLogger, warnings, warn: (message: string) => void warnings.push(message) };
}

test("delivers the filtered events in order, each signed with HMAC-SHA256 of its exact body", async () => {
  const hook = await webhookReceiver();
  const sink = webhookAudit({ url: hook.url, secret: SECRET, filter: ["alert", "auth.failure"], headers: { "X-Receiver-Key": "k-123" }, logger: quietLogger });
  const alert: AuditEvent = { type: "alert", rule: "spray", when: "auth.failed", severity: "warning", message: "spray: 10 events", time: at(3) };
  sink.write(auth(1, "success"));
  sink.write(auth(2, "failure"));
  sink.write(alert);
  await waitFor(() => hook.posts.length === 2, 5000);
  await sink.close();
  assert.equal(hook.posts.map((p) => JSON.parse(p.body).time), [at(2), at(3)], "the success was filtered out; order kept");
  assert.equal(JSON.parse(hook.posts[1]!.body), alert, "the body is the audit event");
  for (const p of hook.posts) {
    assert.is(p.headers.get("portcullis-signature"), `sha256=${await hmacHex(SECRET, p.body)}`);
    assert.ok(await verifyPortcullisSignature(SECRET, p.body, p.headers.get("portcullis-signature")));
    assert.not.ok(await verifyPortcullisSignature(SECRET, p.body.replace("auth", "AUTH"), p.headers.get("portcullis-signature")), "an altered body fails");
    assert.not.ok(await verifyPortcullisSignature("another-secret-0123456789", p.body, p.headers.get("portcullis-signature")), "another key fails");
    assert.is(p.headers.get("content-type"), "application/json");
    assert.is(p.headers.get("x-receiver-key"), "k-123");
    assert.match(p.headers.get("portcullis-delivery")!, /^[0-9a-f-]{36}$/);
  }
  assert.equal(hook.posts.map((p) => p.headers.get("portcullis-event")), ["auth", "alert"]);
  assert.is.not(hook.posts[0]!.headers.get("portcullis-delivery"), hook.posts[1]!.headers.get("portcullis-delivery"));
  // A signature over anything else does not match: receivers can tell a forged or altered body.
  assert.is.not(hook.posts[0]!.headers.get("portcullis-signature"), `sha256=${await hmacHex(SECRET, hook.posts[0]!.body + " ")}`);
  assert.equal(sink.stats(), { sent: 2, failed: 0, dropped: 0, retries: 0, queued: 0 });
  await hook.close();
});

test("a failing receiver is retried with exponential backoff, same delivery id; a 4xx is given up at once", async () => {
  const hook = await webhookReceiver((_post, n) => n <= 3 ? new Response("busy", { status: 503 }) : new Response(null, { status: 204 }));
  const log = recordingLogger();
  const sink = webhookAudit({ url: hook.url, secret: SECRET, backoffMs: 100, logger: log });
  sink.write(auth(1, "failure"));
  await waitFor(() => hook.posts.length === 4, 8000);
  const gaps = hook.posts.slice(1).map((p, i) => p.at - hook.posts[i]!.at);
  // 100, 200, 400 ms, each with 75-125 % jitter.
  assert.ok(gaps[0]! >= 70, `first retry after ~100 ms (${gaps.map(Math.round)})`);
  assert.ok(gaps[1]! >= 145, `second after ~200 ms (${gaps.map(Math.round)})`);
  assert.ok(gaps[2]! >= 295, `third after ~400 ms (${gaps.map(Math.round)})`);
  assert.ok(gaps[2]! > gaps[0]!, "the waits grow");
  assert.is(new Set(hook.posts.map((p) => p.headers.get("portcullis-delivery"))).size, 1, "one delivery, retried");
  await sink.flush();
  assert.equal(sink.stats(), { sent: 1, failed: 0, dropped: 0, retries: 3, queued: 0 });
  await sink.close();
  await hook.close();

  const refusing = await webhookReceiver(() => new Response("no", { status: 400 }));
  const log2 = recordingLogger();
  const sink2 = webhookAudit({ url: refusing.url, backoffMs: 50, logger: log2 });
  sink2.write(auth(2, "failure"));
  await waitFor(() => sink2.stats().failed === 1, 5000);
  await new Promise((r) => setTimeout(r, 150));
  assert.is(refusing.posts.length, 1, "a 400 is not retried");
  assert.equal(log2.warnings, ["audit webhook delivery failed"]);
  await sink2.close();
  await refusing.close();
});

test("a stuck receiver never delays a request; the queue bound drops the oldest events and counts them", async () => {
  let release!: () => void;
  const gate = new Promise<void>((r) => (release = r));
  const hook = await webhookReceiver(async () => {
    await gate;
    return new Response(null, { status: 204 });
  });
  const log = recordingLogger();
  const sink = webhookAudit({ url: hook.url, maxQueue: 3, logger: log, timeoutMs: 20_000 });
  const gateway = createGateway({ logger: quietLogger, auth: [bearer()], servers: {}, tokens: { store: memoryStore() }, admin: { bootstrap: false }, limits: false, audit: [sink] });
  try {
    // Each refused request is an audit event for the stuck receiver; none of them waits for it.
    const times: number[] = [];
    for (let i = 0; i < 10; i++) {
      const started = performance.now();
      const res = await gateway.fetch(new Request(`http://gateway.test/v1/auth/whoami`, { headers: { authorization: `Bearer pt_not-a-token-${i}` } }), { remoteAddress: `203.0.113.${i}` });
      assert.is(res.status, 401);
      times.push(performance.now() - started);
    }
    assert.ok(Math.max(...times) < 1000, `requests did not wait for the webhook (${times.map(Math.round)})`);
    await waitFor(() => hook.posts.length === 1, 5000);
    // One event in flight, three queued, six dropped (the oldest first).
    assert.equal(sink.stats(), { sent: 0, failed: 0, dropped: 6, retries: 0, queued: 3 });
    assert.is(sink.dropped(), 6);
    assert.equal(log.warnings, ["audit webhook queue full: dropping the oldest events"], "logged, once a minute at most");
    release();
    await waitFor(() => hook.posts.length === 4, 5000);
    // The first (in flight when the queue filled) and the newest three arrive; the six between were dropped.
    assert.equal(hook.posts.map((p) => JSON.parse(p.body).remoteAddress), ["203.0.113.0", "203.0.113.7", "203.0.113.8", "203.0.113.9"]);
    assert.equal(sink.stats(), { sent: 4, failed: 0, dropped: 6, retries: 0, queued: 0 });
  } finally {
    release();
    await gateway.close();
    await hook.close();
  }
});

test("the Slack format posts a message { text }", async () => {
  const hook = await webhookReceiver();
  const sink = webhookAudit({ url: hook.url, format: "slack", filter: ["alert"], logger: quietLogger });
  sink.write({ type: "alert", rule: "lockouts", when: "lockout", severity: "critical", message: "lockouts: address 203.0.113.9 locked out", time: at(9) });
  await waitFor(() => hook.posts.length === 1, 5000);
  const body = JSON.parse(hook.posts[0]!.body);
  assert.equal(Object.keys(body), ["text"]);
  assert.match(body.text, /\*critical\* alert `lockouts`: lockouts: address 203\.0\.113\.9 locked out/);
  assert.is(hook.posts[0]!.headers.get("portcullis-signature"), null, "no secret, no signature");
  await sink.close();
  await hook.close();
});

test("bad options are config errors naming the option", () => {
  const cases: Array<[unknown, RegExp]> = [
    [{ url: "ftp://example.com/hook" }, /webhookAudit\.url: expected an http\(s\) URL/],
    [{ url: "not a url" }, /webhookAudit\.url: expected an http\(s\) URL/],
    [{ url: "https://example.com/hook", secret: "short" }, /webhookAudit\.secret: expected at least 16 characters/],
    [{ url: "https://example.com/hook", headers: { "Portcullis-Signature": "x" } }, /webhookAudit\.headers\.Portcullis-Signature: expected a header name the sink does not set itself/],
    [{ url: "https://example.com/hook", filter: "alert" }, /webhookAudit\.filter: expected an array of event types/],
    [{ url: "https://example.com/hook", format: "teams" }, /webhookAudit\.format: expected "json" or "slack"/],
    [{ url: "https://example.com/hook", maxQueue: 0 }, /webhookAudit\.maxQueue: expected an integer from 1/],
    [{ url: "${PORTCULLIS_TEST_NO_SUCH_WEBHOOK_URL}" }, /PORTCULLIS_TEST_NO_SUCH_WEBHOOK_URL/],
  ];
  for (const [options, message] of cases) {
    try {
      webhookAudit(options as never);
      assert.unreachable(`accepted ${JSON.stringify(options)}`);
    } catch (err) {
      assert.is((err as { code?: string }).code, "ERR_CONFIG", String(err));
      assert.match((err as Error).message, message);
    }
  }
});

test.run();
