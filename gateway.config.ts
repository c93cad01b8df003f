// The gateway `npm start` runs. It works on a fresh clone: the notes server in examples/servers is
// started over stdio with the gateway's own runtime, and callers authenticate with a team key.
//
// Set PORTCULLIS_DEV_KEY to choose the key; otherwise a random one is made at start and printed once.
import { defineGateway } from "portcullis";
import { stdio } from "portcullis/plugins";
import { sha256Hex, teamKeys } from "./examples/custom-auth-plugin.ts";

const given = (globalThis as { process?: { env: Record<string, string | undefined> } }).process?.env.PORTCULLIS_DEV_KEY;
const key = given ?? Array.from(crypto.getRandomValues(new Uint8Array(24)), (b) => b.toString(16).padStart(2, "0")).join("");
if (given === undefined) console.error(`[portcullis] dev key for this run (send it as X-Team-Key): ${key}`);

export default defineGateway({
  server: { port: 8787 },
  auth: [teamKeys({ keys: [{ sha256: await sha256Hex(key), user: "developer", email: "dev@localhost", roles: ["developer"] }] })],
  servers: {
    notes: stdio({ script: "./examples/servers/notes.ts" }),
  },
});
