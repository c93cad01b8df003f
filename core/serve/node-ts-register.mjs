// `node --import <this file> app.ts` runs TypeScript on Node through esbuild (see node-ts-hooks.mjs).
import { register } from "node:module";

register("./node-ts-hooks.mjs", import.meta.url);
