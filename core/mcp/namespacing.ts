/**
 * The longest tool, prompt or resource name the gateway accepts, from upstream listings and in client
 * requests. MCP recommends tool names of at most 128 characters; twice that leaves room for servers
 * that stretch it while keeping every name-matching and logging cost bounded.
 *
 * @example
 * if (name.length > MAX_NAME_LENGTH) skip(name);
 */
export const MAX_NAME_LENGTH = 256;

/**
 * Whether a name is longer than `MAX_NAME_LENGTH`: such a name is dropped from upstream listings and
 * treated as unknown in client requests.
 *
 * @example
 * nameTooLong("create_issue"); // false
 * nameTooLong("x".repeat(10_000)); // true
 */
export function nameTooLong(name: string): boolean {
  return name.length > MAX_NAME_LENGTH;
}

/**
 * Checks that namespaced names can always be split back into one server and one name: returns a
 * description of the first problem, or undefined when the names are fine. A name is refused when it is
 * empty, contains the separator, or when `<name><sep>` holds the separator anywhere but at its end
 * (`notes_` with `__` gives `notes___`). That last rule covers every pair where `<a><sep>` is a prefix
 * of `<b><sep>` (`notes` and `notes_`), so the first separator in a joined name always ends the server.
 *
 * @example
 * checkServerNames(["github", "notes"], "__"); // undefined
 * checkServerNames(["notes", "notes_"], "__"); // 'servers "notes" and "notes_" ...'
 * checkServerNames(["a__b"], "__"); // 'server name "a__b" contains the separator "__"'
 */
export function checkServerNames(names: string[], separator: string): string | undefined {
  for (const name of names) {
    if (name === "") return "a server name must not be empty";
    if (name.includes(separator)) return `server name ${JSON.stringify(name)} contains the separator ${JSON.stringify(separator)}`;
    const joined = name + separator;
    if (joined.indexOf(separator) === name.length) continue;
    // Name the other server when there is one: that pair is what would make routing ambiguous.
    const other = names.find((o) => o !== name && o !== "" && joined.startsWith(o + separator));
    if (other !== undefined) {
      return `servers ${JSON.stringify(other)} and ${JSON.stringify(name)} cannot both be used with the separator ${JSON.stringify(separator)}: ${JSON.stringify(joined + "x")} would name a tool of either`;
    }
    return `server name ${JSON.stringify(name)} must not end with part of the separator ${JSON.stringify(separator)}: namespaced names and tool grants could not be split unambiguously`;
  }
  return undefined;
}

/**
 * Splits a namespaced name `<server><sep><name>` into its parts, choosing the server among `servers`.
 * Returns undefined when no configured server matches, or when more than one could (possible only
 * with names `checkServerNames` refuses), so a name is never routed to a server it was not meant for.
 *
 * @example
 * splitName("github__create_issue", "__", ["github"]); // { server: "github", name: "create_issue" }
 */
export function splitName(full: string, separator: string, servers: readonly string[]): { server: string; name: string } | undefined {
  let found: string | undefined;
  for (const server of servers) {
    if (server === "" || full.length <= server.length + separator.length) continue;
    if (!full.startsWith(server) || !full.startsWith(separator, server.length)) continue;
    if (found !== undefined) return undefined;
    found = server;
  }
  if (found === undefined) return undefined;
  return { server: found, name: full.slice(found.length + separator.length) };
}

/**
 * Joins a server name and an item name with the separator.
 *
 * @example
 * joinName("github", "__", "create_issue"); // "github__create_issue"
 */
export function joinName(server: string, separator: string, name: string): string {
  return `${server}${separator}${name}`;
}
