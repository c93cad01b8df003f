import { hashSecretSync, wellFormed, newSecret, constantTimeEqual } from "../core/tokens/secret.ts";
const secs = Array.from({ length: 1000 }, () => newSecret("pt_"));
function t(name: string, fn: (i: number) => unknown) { for (let r = 0; r < 3; r++) { const t0 = performance.now(); for (let i = 0; i < 200000; i++) fn(i); const ns = (performance.now() - t0) * 1e6 / 200000; if (r === 2) console.log(name, ns.toFixed(0), "ns"); } }
t("wellFormed", (i) => wellFormed(secs[i % 1000]!, "pt_"));
t("hash", (i) => hashSecretSync(secs[i % 1000]!));
const h = secs.map(hashSecretSync);
t("cte", (i) => constantTimeEqual(h[i % 1000]!, h[(i + 1) % 1000]!));
const d = new Date().toISOString();
t("Date.parse", () => Date.parse(d));
t("toISOString", () => new Date().toISOString());
const m = new Map(h.map((x, i) => [x, i])); t("map", (i) => m.get(h[i % 1000]!));
t("noop", (i) => i);
import { sha256Words } from "../core/tokens/sha256.ts";
t("sha words only", (i) => sha256Words(secs[i % 1000]!));
