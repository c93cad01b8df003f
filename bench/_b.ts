import { createTokenService } from "../core/tokens/service.ts";
import { createAudit } from "../core/audit/bus.ts";
import { memoryStore } from "../plugins/stores/memory.ts";
import { hashSecretSync, wellFormed } from "../core/tokens/secret.ts";
const quiet = { debug() {}, info() {}, warn() {}, error() {} };
const tokens = createTokenService({ store: memoryStore(), audit: createAudit([], quiet), log: quiet, usageFlushMs: 3600000 });
const secrets: string[] = [];
for (let i = 0; i < 1000; i++) secrets.push((await tokens.create({ user: "u" + i }, "x")).secret);
async function t(name: string, fn: (i: number) => unknown) { for (let r = 0; r < 4; r++) { const t0 = performance.now(); for (let i = 0; i < 100000; i++) await fn(i); if (r === 3) console.log(name, ((performance.now() - t0) * 1e6 / 100000).toFixed(0), "ns"); } }
await t("verify", (i) => tokens.verify(secrets[i % 1000]!, "token"));
await t("wf+hash", (i) => { wellFormed(secrets[i % 1000]!, "pt_"); return hashSecretSync(secrets[i % 1000]!); });
await t("verify", (i) => tokens.verify(secrets[i % 1000]!, "token"));
await tokens.close();
