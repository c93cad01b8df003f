// Self-service tokens: any caller may make tokens for themselves within their own rights, and a token a
// gateway token made for itself dies with it (revoked directly, or through the token it was rotated into).
import { suite } from "uvu";
import * as assert from "uvu/assert";
import type { AuditEvent } from "../../core/mod.ts";
import { bearer } from "../../plugins/mod.ts";
import { inProcess } from "../../examples/custom-upstream.ts";
import { bearerAuth, echoServer, harness, type Harness } from "../fixtures/in-process.ts";

const test = suite("self-service tokens");

async function world(): Promise<{ h: Harness; events: AuditEvent[] }> {
  const events: AuditEvent[] = [];
  const h = await harness({
    auth: [bearer()],
    audit: [{ name: "memory", write: (e) => void events.push(e) }],
    servers: { echo: inProcess({ label: "echo", build: () => echoServer("echo") }) },
  });
  return { h, events };
}

const whoami = (h: Harness, secret: string) => h.api("GET", "/v1/auth/whoami", undefined, bearerAuth(secret));

test("a user makes tokens for themselves within their rights, never for others, never with more", async () => {
  const { h } = await world();
  try {
    const alice = await h.token({ user: "alice", team: "platform", scopes: ["mcp:read"], permissions: { servers: ["echo"] }, expiresIn: "7d" });
    const own = await h.api("POST", "/v1/auth/tokens", { user: "alice", expiresIn: "1d" }, bearerAuth(alice.token));
    assert.is(own.status, 201, JSON.stringify(own.body));
    assert.is(own.body.team, "platform", "who the token is comes from the caller");
    assert.equal([own.body.scopes, own.body.permissions], [["mcp:read"], { servers: ["echo"] }], "left out, the caller's own rights");
    assert.is(own.body.parentId, alice.id);
    const refusals: Array<[Record<string, unknown>, RegExp]> = [
      [{ user: "bob" }, /^user: a token for someone else needs the admin scope/],
      [{ user: "alice", team: "finance" }, /^team: set from your identity/],
      [{ user: "alice", scopes: ["mcp:write"] }, /mcp:write/],
      [{ user: "alice", scopes: ["mcp:read"], expiresIn: "30d" }, /expir|lifetime|outlive/i],
    ];
    for (const [body, message] of refusals) {
      const r = await h.api("POST", "/v1/auth/tokens", body, bearerAuth(alice.token));
      assert.is(r.status, 403, `${JSON.stringify(body)}: ${JSON.stringify(r.body)}`);
      assert.match(r.body.error.message, message);
    }
    // Listing everything stays admin; `?mine=1` shows the caller's own.
    assert.is((await h.api("GET", "/v1/auth/tokens", undefined, bearerAuth(alice.token))).status, 403);
    const mine = await h.api("GET", "/v1/auth/tokens?mine=1", undefined, bearerAuth(alice.token));
    assert.equal(mine.body.tokens.map((t: { id: string }) => t.id).sort(), [alice.id, own.body.id].sort());
  } finally {
    await h.gateway.close();
  }
});

test("revoking a token revokes what it made for itself, and theirs; rotation keeps the family", async () => {
  const { h, events } = await world();
  try {
    const parent = await h.token({ user: "alice", scopes: ["mcp:read", "mcp:write"], expiresIn: "7d" });
    const child = (await h.api("POST", "/v1/auth/tokens", { user: "alice", expiresIn: "1d" }, bearerAuth(parent.token))).body;
    const grandchild = (await h.api("POST", "/v1/auth/tokens", { user: "alice", expiresIn: "1h" }, bearerAuth(child.token))).body;
    // An admin's token for someone else is no copy of the admin's credential: it is left alone.
    const bobs = await h.token({ user: "bob" });
    for (const t of [parent, child, grandchild, bobs]) assert.is((await whoami(h, t.token)).status, 200);

    assert.is((await h.api("DELETE", `/v1/auth/tokens/${parent.id}`)).status, 200);
    for (const t of [parent, child, grandchild]) {
      const r = await whoami(h, t.token);
      assert.is(r.status, 401, t.id);
      assert.is(r.body.error.code, "ERR_TOKEN_REVOKED");
    }
    assert.is((await whoami(h, bobs.token)).status, 200);
    const revokes = events.filter((e) => e.type === "token" && e.action === "revoke").map((e) => e.type === "token" ? [e.tokenId, e.actor] : []);
    assert.equal(revokes.map((r) => r[0]), [parent.id, child.id, grandchild.id]);
    assert.match(String(revokes[1]![1]), new RegExp(`with ${parent.id}$`), "the audit says why");

    // A child made before its parent was rotated dies when the rotated-into token is revoked.
    const p1 = await h.token({ user: "carol", expiresIn: "7d" });
    const c1 = (await h.api("POST", "/v1/auth/tokens", { user: "carol", expiresIn: "1d" }, bearerAuth(p1.token))).body;
    const p2 = (await h.api("POST", `/v1/auth/tokens/${p1.id}/rotate`, {})).body;
    assert.is((await whoami(h, c1.token)).status, 200, "rotating the parent keeps its children");
    assert.is((await h.api("DELETE", `/v1/auth/tokens/${p2.id}`)).status, 200);
    assert.is((await whoami(h, c1.token)).status, 401);
  } finally {
    await h.gateway.close();
  }
});

test.run();
