/**
 * Splits a namespaced name `<server><sep><name>` into its parts, choosing the server among `servers`.
 * Returns undefined when no configured server matches.
 *
 * @example
 * splitName("github__create_issue", "__", ["github"]); // { server: "github", name: "create_issue" }
 */
export function splitName(full: string, separator: string, servers: readonly string[]): { server: string; name: string } | undefined {
  const at = full.indexOf(separator);
  if (at <= 0) return undefined;
  const server = full.slice(0, at);
  const name = full.slice(at + separator.length);
  if (name === "" || !servers.includes(server)) return undefined;
  return { server, name };
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
