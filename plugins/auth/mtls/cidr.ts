// IP address ranges for `mtls({ proxy: { trustedProxies } })`: the gateway's own parser, from the plugin kit.
export { inRanges, parseAddress, parseCidr } from "../../../core/mod.ts";
export type { Cidr } from "../../../core/mod.ts";
