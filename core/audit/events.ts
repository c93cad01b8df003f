// Audit event types live with the other contracts (core/contracts/audit.ts).
export type * from "../contracts/audit.ts";
