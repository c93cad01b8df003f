// Store types live with the other contracts (core/contracts/store.ts).
export type * from "../contracts/store.ts";
