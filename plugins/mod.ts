/**
 * Built-in Portcullis plugins.
 *
 * @example
 * import { http, stdio } from "portcullis/plugins";
 * @module
 */
export { stdio } from "./upstreams/stdio.ts";
export type { StdioOptions } from "./upstreams/stdio.ts";
export { http } from "./upstreams/http.ts";
export type { HttpOptions } from "./upstreams/http.ts";
