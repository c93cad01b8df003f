// server.trustedProxies: behind a reverse proxy the client's address comes from X-Forwarded-For (and only
// from the configured proxies), so audit, lockout and usage see clients, not the proxy; checks of the proxy
// itself (the metrics allow-list) keep using the connection's own address.
import { suite } from "uvu";
import * as assert from "uvu/assert";
import type { AuditEvent } from "../../core/mod.ts";
import { parseCidr } from "../../core/mod.ts";
import { clientAddress } from "../../core/http/client-address.ts";
import { bearer } from "../../plugins/mod.ts";
import { inProcess } from "../../examples/custom-upstream.ts";
import { bearerAuth, echoServer, harness } from "../fixtures/in-process.ts";

const test = suite("client address");
const TRUSTED = ["10.0.0.0/8", "::1"].map((c) => parseCidr(c)!);

test("the rightmost untrusted X-Forwarded-For entry, only when the connection is a trusted proxy", () => {
  const cases: Array<[string | undefined, string | null, string | undefined]> = [
    ["10.0.0.5", "203.0.113.9", "203.0.113.9"],
    ["10.0.0.5", "198.51.100.1, 203.0.113.9, 10.0.0.7", "203.0.113.9"], // a chain of trusted proxies
    ["10.0.0.5", "6.6.6.6, 203.0.113.9", "203.0.113.9"], // what the client wrote itself (6.6.6.6) is not believed
    ["192.0.2.1", "203.0.113.9", "192.0.2.1"], // not from a trusted proxy: the header means nothing
    ["10.0.0.5", null, "10.0.0.5"],
    ["10.0.0.5", "not-an-address", "10.0.0.5"],
    ["10.0.0.5", "203.0.113.9, garbage", "10.0.0.5"], // a malformed hop ends the walk at the proxy that added it
    ["::1", "2001:db8::7", "2001:db8::7"],
    [undefined, "203.0.113.9", undefined],
  ];
  for (const [peer, xff, expected] of cases) assert.is(clientAddress(peer, xff, TRUSTED), expected, `${peer} ${xff}`);
});

test("audit and lockout count clients behind the proxy apart; the metrics allow-list sees the proxy", async () => {
  const events: AuditEvent[] = [];
  const h = await harness({
    auth: [bearer()],
    server: { trustedProxies: ["10.0.0.0/8"] },
    limits: { failedAuth: { slowAfter: 100, lockAfter: 3, lockFor: "1m" } },
    metrics: { allowFrom: ["203.0.113.0/24"] },
    audit: [{ name: "memory", write: (e) => void events.push(e) }],
    servers: { echo: inProcess({ label: "echo", build: () => echoServer("echo") }) },
  });
  const call = async (client: string, secret: string, path = "/v1/auth/whoami") => {
    const res = await h.gateway.fetch(new Request(`http://gateway.test${path}`, { headers: { ...bearerAuth(secret), "x-forwarded-for": client } }), { remoteAddress: "10.0.0.5" });
    await res.body?.cancel();
    return res.status;
  };
  try {
    const good = await h.token({ user: "alice" });
    // Mallory, behind the proxy, tries three bad tokens: she is locked out, Alice behind the same proxy is not.
    const bad = () => `pt_${crypto.randomUUID().replace(/-/g, "")}bad`;
    for (let i = 0; i < 3; i++) assert.is(await call("203.0.113.66", bad()), 401);
    assert.is(await call("203.0.113.66", bad()), 429, "past lockAfter the client address is locked");
    assert.is(await call("203.0.113.66", good.token), 429, "even with a good token");
    assert.is(await call("198.51.100.20", good.token), 200, "another client of the same proxy is not");
    const failures = events.filter((e) => e.type === "auth" && e.outcome === "failure");
    assert.ok(failures.every((e) => e.type === "auth" && e.remoteAddress === "203.0.113.66"), JSON.stringify(failures));
    // A client that is not a trusted proxy cannot name another address: its own is used.
    const direct = await h.gateway.fetch(new Request("http://gateway.test/v1/auth/whoami", { headers: { ...bearerAuth(good.token), "x-forwarded-for": "198.51.100.20" } }), { remoteAddress: "192.0.2.44" });
    assert.is(direct.status, 200);
    const last = events.filter((e) => e.type === "auth").pop();
    assert.is(last?.type === "auth" ? last.remoteAddress : undefined, "192.0.2.44");
    // The metrics allow-list is about the connection: a forwarded allowed address does not open it.
    const scrape = await h.gateway.fetch(new Request("http://gateway.test/metrics", { headers: { "x-forwarded-for": "203.0.113.5" } }), { remoteAddress: "10.0.0.5" });
    assert.is(scrape.status, 401);
    await scrape.body?.cancel();
  } finally {
    await h.gateway.close();
  }
});

test.run();
