import type { GatewayConfig } from "./types.ts";

/**
 * Declares a gateway configuration with full typing; returns its input unchanged. Validation happens
 * in `createGateway`, with errors that name the config path.
 *
 * @example
 * export default defineGateway({
 *   auth: [myStrategy()],
 *   servers: { everything: stdio({ command: "npx", args: ["mcp-server-everything"] }) },
 * });
 */
export function defineGateway<const T extends GatewayConfig>(config: T): T {
  return config;
}
