import { GatewayError } from "../errors.ts";
import { type AccessReview, accessReview, parseReviewParams, reviewCsv, reviewTable } from "../tokens/review.ts";
import type { GatewayConfig } from "../types.ts";
import { adminClient } from "./admin-client.ts";
import { openLocalStore } from "./local-store.ts";

/** Parsed options of `portcullis review`. */
export interface ReviewCliOptions {
  url?: string;
  adminToken?: string;
  /** `table` (default), `json` or `csv`. */
  format?: string;
  /** `--json`, the same as `--format json`. */
  json?: boolean;
  unusedDays?: string;
  expiringDays?: string;
  notRotatedDays?: string;
}

function query(o: ReviewCliOptions): URLSearchParams {
  const q = new URLSearchParams();
  if (o.unusedDays !== undefined) q.set("unusedDays", o.unusedDays);
  if (o.expiringDays !== undefined) q.set("expiringDays", o.expiringDays);
  if (o.notRotatedDays !== undefined) q.set("notRotatedDays", o.notRotatedDays);
  return q;
}

const FLAGS: Record<string, string> = { unusedDays: "--unused-days", expiringDays: "--expiring-days", notRotatedDays: "--not-rotated-days" };

async function local(o: ReviewCliOptions, config: GatewayConfig): Promise<AccessReview> {
  const { resolved, tokens, close } = await openLocalStore(config);
  try {
    // Strategies are not set up here: one whose `knowsUser` needs the running gateway answers nothing.
    return await accessReview({ tokens: await tokens.list(), strategies: resolved.auth, policy: resolved.tokens.policy, params: parseReviewParams(query(o), []) });
  } finally {
    await close();
  }
}

/**
 * `portcullis review [--unused-days N] [--expiring-days N] [--not-rotated-days N] [--format table|json|csv]`:
 * the access review of a running gateway (`--url` and an admin token), or of the configured store.
 *
 * @example
 * await reviewCommand({ url: "http://127.0.0.1:8787", adminToken, format: "csv" }, async () => config);
 */
export async function reviewCommand(o: ReviewCliOptions, config: () => Promise<GatewayConfig>): Promise<string> {
  const format = o.json ? "json" : o.format ?? "table";
  if (!["table", "json", "csv"].includes(format)) throw new GatewayError("ERR_BAD_REQUEST", `--format: expected table, json or csv, received ${JSON.stringify(format)}`);
  let review: AccessReview;
  try {
    if (o.url) {
      const q = query(o);
      review = await adminClient(o.url, o.adminToken)("GET", `/v1/auth/review${q.size ? `?${q}` : ""}`) as unknown as AccessReview;
    } else {
      review = await local(o, await config());
    }
  } catch (err) {
    // The API names its query parameter; the command line names its flag.
    if (err instanceof GatewayError) {
      const message = err.message.replace(/\b(unusedDays|expiringDays|notRotatedDays)\b/, (p) => FLAGS[p]!);
      throw new GatewayError(err.code, message);
    }
    throw err;
  }
  if (format === "json") return JSON.stringify(review, null, 2);
  if (format === "csv") return reviewCsv(review).trimEnd();
  return reviewTable(review);
}
