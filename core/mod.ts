/**
 * Portcullis: an MCP gateway configured as code.
 *
 * @example
 * import { createGateway, defineGateway, serve } from "portcullis";
 * import { stdio } from "portcullis/plugins";
 * const gateway = createGateway(defineGateway({ auth: [], servers: { everything: stdio({ command: "mcp-server-everything" }) } }));
 * await serve(gateway);
 * @module
 */
export { defineGateway } from "./define.ts";
export { createGateway } from "./gateway.ts";
export { serve } from "./serve/mod.ts";
export type { Served, ServeOptions } from "./serve/mod.ts";
export { configError, GatewayError, isGatewayError } from "./errors.ts";
export type { GatewayErrorCode } from "./errors.ts";
export { interpolate } from "./config/interpolate.ts";
export type { AccessPolicy, ToolInfo } from "./auth/policy.ts";
export type {
  AuthContext,
  AuthOutcome,
  AuthStrategy,
  Gateway,
  GatewayConfig,
  Identity,
  Logger,
  Permissions,
  RequestInfo,
  ResolvedConfig,
  Route,
  ServerSettings,
  Upstream,
} from "./types.ts";
export { VERSION } from "./version.ts";
