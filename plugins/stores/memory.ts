// The in-memory store is the runtime's own default, so it lives in core; this is its place among the
// built-in plugins.
export { memoryStore } from "../../core/mod.ts";
