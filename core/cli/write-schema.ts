// Writes core/config/gateway.config.schema.json from its one source, core/config/json-schema.ts:
//   node --import ./core/serve/node-ts-register.mjs core/cli/write-schema.ts   (or: deno run -A / bun run)
// tests/core/json-config.test.ts fails while the file and the source differ.
import { writeFile } from "node:fs/promises";
import process from "node:process";
import { GATEWAY_JSON_SCHEMA } from "../config/json-schema.ts";

const file = new URL("../config/gateway.config.schema.json", import.meta.url);
await writeFile(file, JSON.stringify(GATEWAY_JSON_SCHEMA, null, 2) + "\n");
process.stdout.write(`wrote ${file.pathname}\n`);
