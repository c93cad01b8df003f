/**
 * Built-in Portcullis plugins: auth strategies, token stores, audit sinks and upstreams.
 *
 * @example
 * import { bearer, fileStore, jsonlAudit, stdio } from "portcullis/plugins";
 * @module
 */
export { bearer } from "./auth/bearer.ts";
export type { BearerOptions } from "./auth/bearer.ts";
export { apiKey } from "./auth/api-key.ts";
export type { ApiKeyOptions } from "./auth/api-key.ts";
export { memoryStore } from "./stores/memory.ts";
export { fileStore } from "./stores/file.ts";
export type { FileStoreOptions } from "./stores/file.ts";
export { consoleAudit } from "./audit/console.ts";
export { jsonlAudit } from "./audit/jsonl.ts";
export type { JsonlAuditOptions } from "./audit/jsonl.ts";
export { stdio } from "./upstreams/stdio.ts";
export type { StdioOptions } from "./upstreams/stdio.ts";
export { http } from "./upstreams/http.ts";
export type { HttpOptions } from "./upstreams/http.ts";
