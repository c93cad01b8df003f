// Environment secrets are the default source, so they live in core; this is their place among the
// built-in plugins.
export { envSecrets } from "../../core/mod.ts";
export type { EnvSecretsOptions } from "../../core/mod.ts";
