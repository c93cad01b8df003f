// The gateway `npm start` runs. It works on a fresh clone with no account: the notes MCP server from
// examples/servers is started over stdio with the gateway's own runtime, callers use gateway-issued
// bearer tokens or API keys, and every auth attempt, token operation and tool call is audited to
// audit.jsonl in the data directory (the CLI's default; `audit: false` would turn it off). On the first
// start an admin token is created and printed once.
import { defineGateway } from "portcullis";
import { apiKey, bearer, stdio } from "portcullis/plugins";

const here = (path: string): string => new URL(path, import.meta.url).pathname;

export default defineGateway({
  server: { port: 8787 },
  auth: [bearer(), apiKey({ header: "X-API-Key" })],
  servers: {
    notes: stdio({ script: here("./examples/servers/notes.ts") }),
  },
  // With `roles` set, an identity reaches only what its roles grant, e.g.
  // roles: { engineer: { servers: ["*"] }, support: { servers: ["notes"], tools: ["read"] } },
});
