/** The gateway's version, reported to upstreams and clients. */
export const VERSION = "0.1.0";
