// The permission policy's globs and the namespacing rules behind them, in-process: what a grant reaches,
// that one server's grants never reach another's tools, that globs cost linear time, and that role
// lists forwarded upstream cannot be forged through a comma.
import { suite } from "uvu";
import * as assert from "uvu/assert";
import type { Identity, Permissions } from "../../core/mod.ts";
import { permissionPolicy } from "../../core/auth/permissions.ts";
import { checkServerNames, MAX_NAME_LENGTH, nameTooLong, splitName } from "../../core/mcp/namespacing.ts";
import { identityHeaders, IDENTITY_META_KEY } from "../../plugins/identity/headers.ts";

const test = suite("permissions");

function who(permissions?: Permissions, roles: string[] = []): Identity {
  return { subject: "u", roles, scopes: ["mcp:read", "mcp:write"], strategy: "test", permissions };
}

/** Whether a token limited to `servers: [pattern]` reaches `server`. */
function serverGlob(pattern: string, server: string): boolean {
  return permissionPolicy({ separator: "__" }).server(who({ servers: [pattern] }), server);
}

/** Whether a token limited to `tools: [pattern]` may call `tool` of `server`. */
function toolGrant(pattern: string, server: string, tool: string, separator = "__"): boolean {
  return permissionPolicy({ separator }).tool(who({ tools: [pattern] }), server, { name: tool }, true);
}

test("globs: exact names, prefixes, suffixes, middles and runs of stars", () => {
  assert.ok(serverGlob("notes", "notes"));
  assert.not.ok(serverGlob("notes", "notes2"));
  assert.not.ok(serverGlob("notes", "note"));

  assert.ok(serverGlob("docs-*", "docs-"));
  assert.ok(serverGlob("docs-*", "docs-eu"));
  assert.not.ok(serverGlob("docs-*", "xdocs-eu"));

  assert.ok(serverGlob("*-prod", "db-prod"));
  assert.not.ok(serverGlob("*-prod", "db-prod2"));

  assert.ok(serverGlob("a*b*c", "abc"));
  assert.ok(serverGlob("a*b*c", "a-b-b-c"));
  assert.not.ok(serverGlob("a*b*c", "acb"));
  assert.not.ok(serverGlob("a*b*c", "a-b-c-d"));
  // Pieces may not overlap: the middle `ab` and the suffix `b` need three characters after `x`.
  assert.not.ok(serverGlob("x*ab*b", "xab"));
  assert.ok(serverGlob("x*ab*b", "xabb"));

  assert.ok(serverGlob("*", "anything"));
  assert.ok(serverGlob("***", "anything"));
  assert.ok(serverGlob("a**b", "ab"));
  assert.ok(serverGlob("**x**", "x"));
  assert.ok(serverGlob("**x**", "axb"));
  assert.not.ok(serverGlob("**x**", "ab"));
  assert.ok(serverGlob("*a*a*", "aa"));
  assert.not.ok(serverGlob("*a*a*", "a"));
  // Regex syntax is literal.
  assert.ok(serverGlob("a.b+(c)", "a.b+(c)"));
  assert.not.ok(serverGlob("a.b", "axb"));
});

test("tool grants match the server and the tool each on its own", () => {
  assert.ok(toolGrant("notes__*", "notes", "add_note"));
  assert.not.ok(toolGrant("notes__*", "notes_", "add_note"), "the joined notes___add_note must not match notes__*");
  assert.not.ok(toolGrant("notes__*", "notes2", "add_note"));
  assert.ok(toolGrant("notes__add_*", "notes", "add_note"));
  assert.not.ok(toolGrant("notes__add_*", "notes", "list"));
  assert.ok(toolGrant("*__get_*", "github", "get_issue"));
  assert.not.ok(toolGrant("*__get_*", "github", "create_issue"));
  assert.ok(toolGrant("docs-*__search", "docs-eu", "search"));
  assert.not.ok(toolGrant("docs-*__search", "docs-eu", "search2"));
  // A tool name may hold the separator; only the first one in a grant divides it.
  assert.ok(toolGrant("notes__a__b", "notes", "a__b"));
  assert.not.ok(toolGrant("notes__a__b", "notes__a", "b"));
  // Another separator.
  assert.ok(toolGrant("notes--*", "notes", "add", "--"));
  assert.not.ok(toolGrant("notes__*", "notes", "add", "--"));
});

test("grants without the separator: `*` alone reaches every tool, anything else none", () => {
  assert.ok(toolGrant("*", "notes", "add_note"));
  assert.ok(toolGrant("**", "github", "get_issue"));
  assert.not.ok(toolGrant("notes", "notes", "add_note"));
  assert.not.ok(toolGrant("notes*", "notes", "add_note"), "a glob over the joined name is no longer read");
  assert.not.ok(toolGrant("*add_note", "notes", "add_note"));
  assert.not.ok(toolGrant("add_note", "notes", "add_note"));
});

test("a role granting notes__* reaches nothing of a server notes_", () => {
  const policy = permissionPolicy({ separator: "__", roles: { editor: { tools: ["notes__*"] } } });
  const editor = who(undefined, ["editor"]);
  assert.ok(policy.tool(editor, "notes", { name: "add_note" }, true));
  assert.not.ok(policy.tool(editor, "notes_", { name: "add_note" }, true));
  assert.not.ok(policy.tool(editor, "notes_", { name: "add_note" }, false));
  // The words keep their meaning next to globs.
  const reader = permissionPolicy({ separator: "__", roles: { r: { servers: ["notes"], tools: ["read"] } } });
  assert.ok(reader.tool(who(undefined, ["r"]), "notes", { name: "list", annotations: { readOnlyHint: true } }, true));
  assert.not.ok(reader.tool(who(undefined, ["r"]), "notes", { name: "add" }, true));
});

test("globs take linear time: ****z-style grants against a 10,000-character name", () => {
  const long = "a".repeat(10_000);
  const policy = permissionPolicy({ separator: "__" });
  const stars = who({ tools: ["****z__*", "x__****z", "*a*a*a*a*a*a*a*a*a*a*z__*"] });
  const serverStars = who({ servers: ["****z", "*a*a*a*a*a*a*a*a*a*a*z"] });
  let allowed = 0;
  for (let i = 0; i < 1_000; i++) {
    if (policy.tool(stars, long, { name: "t" }, true)) allowed++;
    if (policy.tool(stars, "x", { name: long }, true)) allowed++;
    if (policy.server(serverStars, long)) allowed++;
  }
  assert.is(allowed, 0);
  assert.ok(policy.tool(stars, long + "z", { name: "t" }, true));
  assert.ok(policy.tool(stars, "x", { name: long + "z" }, true));
  assert.ok(policy.server(serverStars, long + "z"));
});

test("checkServerNames refuses names that would make routing or grants ambiguous", () => {
  assert.is(checkServerNames([], "__"), undefined);
  assert.is(checkServerNames(["github", "notes", "everything", "a_b", "_x"], "__"), undefined);
  assert.is(checkServerNames(["notes", "notes2", "notes-eu"], "__"), undefined);
  assert.type(checkServerNames(["notes", "notes_"], "__"), "string");
  assert.type(checkServerNames(["notes_", "notes"], "__"), "string");
  assert.type(checkServerNames(["a__b"], "__"), "string");
  assert.type(checkServerNames(["a--b"], "--"), "string");
  assert.is(checkServerNames(["a__b"], "--"), undefined);
  assert.type(checkServerNames([""], "__"), "string");
  // Alone, a name ending in part of the separator is refused too: `notes___*` could not be read.
  assert.type(checkServerNames(["notes_"], "__"), "string");
  assert.type(checkServerNames(["x-_"], "-_-"), "string");
  assert.is(checkServerNames(["x-"], "-_-"), undefined);
});

test("splitName picks the one server a name can belong to", () => {
  assert.equal(splitName("github__create_issue", "__", ["github", "notes"]), { server: "github", name: "create_issue" });
  assert.equal(splitName("notes__a__b", "__", ["notes"]), { server: "notes", name: "a__b" });
  assert.is(splitName("notes__", "__", ["notes"]), undefined);
  assert.is(splitName("__x", "__", ["notes"]), undefined);
  assert.is(splitName("other__x", "__", ["notes"]), undefined);
  assert.is(splitName("notes", "__", ["notes"]), undefined);
  assert.equal(splitName("notes___add", "__", ["notes_"]), { server: "notes_", name: "add" });
  assert.is(splitName("notes___add", "__", ["notes", "notes_"]), undefined, "ambiguous: refused, never guessed");
});

test("names longer than MAX_NAME_LENGTH are too long", () => {
  assert.is(MAX_NAME_LENGTH, 256);
  assert.not.ok(nameTooLong("create_issue"));
  assert.not.ok(nameTooLong("x".repeat(MAX_NAME_LENGTH)));
  assert.ok(nameTooLong("x".repeat(MAX_NAME_LENGTH + 1)));
});

test("X-User-Roles: a comma inside a role stays inside it", async () => {
  const mapper = identityHeaders({ fields: ["roles"] });
  const decode = (value: string): string[] => value.split(",").map(decodeURIComponent);
  const rolesOf = async (roles: string[]): Promise<string | undefined> => {
    const out = await mapper.map({ subject: "u", roles, scopes: [], strategy: "test" }, "srv", "headers");
    return out.headers?.["X-User-Roles"];
  };

  const forged = await rolesOf(["viewer,admin"]);
  assert.is(forged, "viewer%2Cadmin");
  assert.equal(decode(forged!), ["viewer,admin"]);

  assert.is(await rolesOf(["admin", "support"]), "admin,support");
  const mixed = ["viewer,admin", "support", "50%2C", "José", "a\r\nX-Evil: 1"];
  const header = await rolesOf(mixed);
  assert.not.match(header!, /[\r\n]/);
  assert.equal(decode(header!), mixed);
  assert.is(await rolesOf([]), undefined);

  // stdio upstreams get the roles as a JSON array, which needs no encoding.
  const meta = await mapper.map({ subject: "u", roles: ["viewer,admin"], scopes: [], strategy: "test" }, "srv", "meta");
  assert.equal((meta.meta?.[IDENTITY_META_KEY] as { roles: string[] }).roles, ["viewer,admin"]);
});

test.run();
