// MCP sessions with several instances on one Redis: what was built is sticky sessions (see
// examples/redis-cluster.md). A 2025-11-25 session lives in the instance that opened it; another
// instance answers its id with 404 (the client's cue to initialize again, per the spec), never with
// another caller's session. 2026-07-28 stateless requests work on any instance.
import { suite } from "uvu";
import { Client, StreamableHTTPClientTransport } from "@modelcontextprotocol/client";
import { createClient } from "redis";
import * as assert from "uvu/assert";
import { inProcess } from "../../../examples/custom-upstream.ts";
import { serve } from "../../../core/mod.ts";
import { verifyIdentityHandler } from "../../../examples/servers/verify-identity.ts";
import { bearer, http, redisStore, vault } from "../../../plugins/mod.ts";
import { ALICE_KEY, connectClient, quietLogger, startGateway, testAuth } from "../../fixtures/helpers.ts";
import { BASE, bearerAuth, echoServer, harness, type Harness } from "../../fixtures/in-process.ts";
import { type RedisServer, redisMissing, startRedis, stopAllRedis } from "../../fixtures/redis-server.ts";

const test = suite("redis sessions");
const MASTER = btoa(String.fromCharCode(...crypto.getRandomValues(new Uint8Array(32))));
let redis: RedisServer;
let a: Harness;
let b: Harness;
let c: Harness;

/**
 * A load balancer as examples/redis-cluster.md configures HAProxy: round robin for requests without a
 * session id, and the instance that answered an initialize with `Mcp-Session-Id` for every request
 * carrying that id afterwards (learned from the response). `sticky: false` is plain round robin.
 */
function balancer(instances: Harness[], sticky: boolean): { fetch: (url: string | URL, init?: RequestInit) => Promise<Response>; hits: number[] } {
  const learned = new Map<string, number>();
  const hits = instances.map(() => 0);
  let next = 0;
  return {
    hits,
    async fetch(url, init) {
      const request = new Request(url, init);
      const id = request.headers.get("mcp-session-id");
      const pick = sticky && id !== null && learned.has(id) ? learned.get(id)! : next++ % instances.length;
      hits[pick]!++;
      const response = await instances[pick]!.gateway.fetch(request);
      const given = response.headers.get("mcp-session-id");
      if (sticky && given) learned.set(given, pick);
      return response;
    },
  };
}

test.before(async () => {
  if (redisMissing) return;
  redis = await startRedis();
  const make = () => harness({
    auth: [bearer()],
    tokens: { store: redisStore({ url: redis.url, prefix: "sessions:" }) },
    keys: { masterKey: MASTER },
    audit: false,
    servers: { echo: inProcess({ label: "echo", build: () => echoServer("echo") }) },
  });
  [a, b, c] = await Promise.all([make(), make(), make()]);
});

test.after(async () => {
  await a?.gateway.close();
  await b?.gateway.close();
  await c?.gateway.close();
  await redis?.close();
  stopAllRedis();
});

if (redisMissing) {
  test(`skipped: ${redisMissing}`, () => console.warn(`redis session tests skipped: ${redisMissing}`));
} else {
  test("a session opened on A is unknown on B (404, so the client initializes again there); a stateless request works on both", async () => {
    const { token } = await a.token({ user: "erin" });
    const auth = bearerAuth(token);
    const session = await a.open(auth);
    assert.is((await a.whoami(auth, "echo", { session })).server, "echo");
    const elsewhere = await b.rpc(auth, { id: 7, method: "tools/list" }, { session });
    assert.is(elsewhere.status, 404, JSON.stringify(elsewhere.body));
    // The client starts over on B and carries on.
    const again = await b.open(auth);
    assert.is((await b.whoami(auth, "echo", { session: again })).server, "echo");
    for (const h of [a, b]) assert.is((await h.whoami(auth, "echo", { era: "2026-07-28" })).server, "echo");
  });

  test("a real SDK client (2025-11-25) through a balancer with learned stickiness works across three instances; without it, it does not", async () => {
    const { token } = await a.token({ user: "heidi" });
    const run = async (lb: ReturnType<typeof balancer>): Promise<{ ok: number; failed: number; hits: number[] }> => {
      const client = new Client({ name: "behind-a-balancer", version: "1.0.0" });
      const transport = new StreamableHTTPClientTransport(new URL(`${BASE}/mcp`), { fetch: lb.fetch, requestInit: { headers: { authorization: `Bearer ${token}` } } });
      let ok = 0;
      let failed = 0;
      try {
        try {
          await client.connect(transport);
        } catch {
          return { ok, failed: failed + 1, hits: lb.hits };
        }
        for (let i = 0; i < 9; i++) {
          try {
            const r = await client.callTool({ name: "echo__shout", arguments: { message: `m${i}` } });
            if (!r.isError) ok++;
            else failed++;
          } catch {
            failed++;
          }
        }
      } finally {
        await client.close().catch(() => undefined);
      }
      return { ok, failed, hits: lb.hits };
    };
    const lb = balancer([a, b, c], true);
    const sticky = await run(lb);
    assert.is(sticky.ok, 9, JSON.stringify(sticky));
    // More clients through the same balancer: sessions open on every instance, and each keeps working.
    const clients = await Promise.all([run(lb), run(lb), run(lb)]);
    assert.ok(clients.every((r) => r.ok === 9), JSON.stringify(clients));
    assert.ok(lb.hits.every((h) => h > 0), `every instance served: ${lb.hits}`);
    const plain = await run(balancer([a, b, c], false));
    assert.ok(plain.failed > 0, `plain round robin breaks 2025-11-25 sessions: ${JSON.stringify(plain)}`);
  });

  test("a credential revoked on B ends its session on A at once", async () => {
    const { id, token } = await a.token({ user: "frank" });
    const auth = bearerAuth(token);
    const session = await a.open(auth);
    assert.is((await a.rpc(auth, { id: 8, method: "tools/list" }, { session })).status, 200);
    assert.is((await b.api("DELETE", `/v1/auth/tokens/${id}`)).status, 200);
    const t0 = Date.now();
    let status = 200;
    while (status === 200 && Date.now() - t0 < 1000) {
      status = (await a.rpc(auth, { id: 9, method: "tools/list" }, { session })).status;
      if (status === 200) await new Promise((r) => setTimeout(r, 20));
    }
    assert.ok(status === 401 || status === 404, `refused on A within 1 s, got ${status}`);
    // A fresh token of another user cannot reach that session either.
    const other = await b.token({ user: "grace" });
    assert.is((await a.rpc(bearerAuth(other.token), { id: 10, method: "tools/list" }, { session })).status, 404);
  });
}

if (!redisMissing) {
  test("a user's credential changed on A is used at once by the upstream connection B already had open", async () => {
    const handler = verifyIdentityHandler({ jwksUrl: "http://127.0.0.1:9/unused", audience: "who" });
    const served = await serve({ fetch: (req: Request) => handler.fetch(req), close: () => handler.close(), config: { server: { host: "127.0.0.1", port: 0 }, logger: quietLogger } }, { port: 0, handleSignals: false });
    const make = async () => startGateway({
      logger: quietLogger,
      auth: [await testAuth()],
      tokens: { store: redisStore({ url: redis.url, prefix: "creds:" }) },
      secrets: [vault({ masterKey: MASTER })],
      audit: false,
      servers: { who: http({ url: `${served.url}/mcp`, userCredential: { header: "Authorization", format: "Bearer {credential}", required: true } }) },
    });
    const [ga, gb] = [await make(), await make()];
    const put = (url: string, value: string) =>
      fetch(`${url}/v1/me/credentials/who`, { method: "PUT", headers: { "x-team-key": ALICE_KEY, "content-type": "application/json" }, body: JSON.stringify({ value }) });
    try {
      assert.is((await put(ga.url, "ghp_first000000000000000000000000000001")).status, 200);
      const { client } = await connectClient(`${gb.url}/mcp`, ALICE_KEY);
      try {
        await client.callTool({ name: "who__whoami", arguments: {} });
        assert.is(handler.seen.at(-1)?.headers.authorization, "Bearer ghp_first000000000000000000000000000001", "B reached the upstream with the stored credential");
        assert.is((await put(ga.url, "ghp_second00000000000000000000000000002")).status, 200);
        const t0 = Date.now();
        let auth: string | undefined;
        while (Date.now() - t0 < 1000) {
          await client.callTool({ name: "who__whoami", arguments: {} }).catch(() => undefined);
          auth = handler.seen.at(-1)?.headers.authorization;
          if (auth === "Bearer ghp_second00000000000000000000000000002") break;
          await new Promise((r) => setTimeout(r, 50));
        }
        assert.is(auth, "Bearer ghp_second00000000000000000000000000002", "B dropped its connection with the old credential within 1 s");
        // Nothing of either credential (nor the master key) is in Redis: they are sealed before they get there.
        const raw = createClient({ url: redis.url });
        raw.on("error", () => undefined);
        await raw.connect();
        try {
          let everything = "";
          for (const key of await raw.keys("creds:*")) everything += key + ((await raw.type(key)) === "hash" ? JSON.stringify(await raw.hGetAll(key)) : String(await raw.get(key)));
          assert.match(everything, "user-credential", "the credential records are there");
          for (const secret of ["ghp_first", "ghp_second", MASTER]) assert.not.ok(everything.includes(secret), `${secret.slice(0, 9)} is in Redis`);
        } finally {
          await raw.close();
        }
      } finally {
        await client.close();
      }
    } finally {
      await ga.close();
      await gb.close();
      await served.close();
    }
  });
}

test.run();
