import { GatewayError } from "../errors.ts";
import { json } from "../http/responses.ts";
import type { SecretInfo } from "../secrets/types.ts";
import type { AuthContext, AuthStrategy, PublicToken, Route, TokenPolicy, TokenService } from "../types.ts";
import { formatDuration, rotateByOf, TOKEN_KINDS } from "./rotation-policy.ts";

/** What an access review looks for, in days. */
export interface ReviewParams {
  /** Active tokens not used for this many days (or never, and older than that); default 30. */
  unusedDays: number;
  /** Active tokens expiring within this many days; default 7. */
  expiringDays: number;
  /** Credentials (tokens, vault secrets) not replaced for this many days; default 90. */
  notRotatedDays: number;
}

/** The defaults of {@link ReviewParams}. */
export const REVIEW_DEFAULTS: ReviewParams = { unusedDays: 30, expiringDays: 7, notRotatedDays: 90 };

/** The problems a review reports, one finding per credential and problem. */
export type ReviewProblem =
  | "unused"
  | "expiring"
  | "lifetime-over-maximum"
  | "wildcard-permissions"
  | "admin-scope"
  | "unknown-user"
  | "not-rotated"
  | "rotation-due";

/** One thing a reviewer must look at. */
export interface ReviewFinding {
  problem: ReviewProblem;
  /** `token` (gateway tokens, API keys, certificate records), `secret` (a vault secret) or `master-key` (the vault's). */
  credential: "token" | "secret" | "master-key";
  /** The token id, the vault secret's name, or the master key's public id. */
  id: string;
  user?: string;
  name?: string;
  kind?: string;
  /** What is wrong, in words, with the numbers. */
  detail: string;
  createdAt?: string;
  lastUsedAt?: string;
  expiresAt?: string;
}

/** A whole review. */
export interface AccessReview {
  generatedAt: string;
  parameters: ReviewParams;
  /** The longest lifetime per kind the review judged against, seconds. */
  maxLifetimeSeconds: Record<string, number>;
  /**
   * Whether users the identity provider no longer knows could be found: `checked` (by the strategies
   * named), or `not-determinable` (no configured strategy can tell).
   */
  userDirectory: { status: "checked"; by: string[] } | { status: "not-determinable"; reason: string };
  findings: ReviewFinding[];
  /** Findings per problem. */
  counts: Partial<Record<ReviewProblem, number>>;
}

const DAY = 86_400_000;
const PARAMS = ["unusedDays", "expiringDays", "notRotatedDays"] as const;

/**
 * Reads review parameters from a query string; a bad value or an unknown name is a 400 naming the
 * parameter and what is expected. `format` is left to the caller.
 *
 * @example
 * parseReviewParams(new URLSearchParams("unusedDays=30&expiringDays=7")); // { unusedDays: 30, expiringDays: 7, notRotatedDays: 90 }
 */
export function parseReviewParams(query: URLSearchParams, allowed: readonly string[] = ["format"]): ReviewParams {
  const out: ReviewParams = { ...REVIEW_DEFAULTS };
  for (const [key, value] of query) {
    if ((PARAMS as readonly string[]).includes(key)) {
      if (!/^\d{1,4}$/.test(value) || Number(value) > 3650 || (key !== "expiringDays" && Number(value) === 0)) {
        throw new GatewayError("ERR_BAD_REQUEST", `${key}: expected a whole number of days from ${key === "expiringDays" ? 0 : 1} to 3650, received ${JSON.stringify(value.slice(0, 20))}`);
      }
      out[key as keyof ReviewParams] = Number(value);
    } else if (!allowed.includes(key)) {
      throw new GatewayError("ERR_BAD_REQUEST", `${key.slice(0, 40)}: unknown parameter; expected ${[...PARAMS, ...allowed].join(", ")}`);
    }
  }
  return out;
}

function ageDays(ms: number): number {
  return Math.floor(ms / DAY);
}

function wildcards(t: PublicToken): string[] {
  return [...(t.permissions?.servers ?? []), ...(t.permissions?.tools ?? [])].filter((e) => e.includes("*"));
}

async function askDirectory(strategies: readonly AuthStrategy[], user: string): Promise<boolean | undefined> {
  let answer: boolean | undefined;
  for (const s of strategies) {
    if (!s.knowsUser) continue;
    let known: boolean | undefined;
    try {
      known = await s.knowsUser(user);
    } catch {
      // A directory that cannot be asked tells nothing; it never makes a user unknown.
      known = undefined;
    }
    if (known === true) return true;
    if (known === false) answer = false;
  }
  return answer;
}

/** What {@link accessReview} judges. */
export interface ReviewInput {
  tokens: readonly PublicToken[];
  /** The vault's secrets (names and dates only), when there is a vault. */
  secrets?: readonly SecretInfo[];
  /** The master key the vault's records are under, and since when. */
  masterKey?: { keyId: string; since?: string };
  /** The configured auth strategies: those with `knowsUser` are asked about each token's user. */
  strategies: readonly AuthStrategy[];
  policy: TokenPolicy;
  params: ReviewParams;
  now?: number;
}

/**
 * An access review: every active credential a reviewer must look at, one finding per problem. Revoked
 * and expired tokens are not listed (they grant nothing).
 *
 * @example
 * const review = await accessReview({ tokens: await tokens.list(), strategies: config.auth, policy: config.tokens.policy, params: REVIEW_DEFAULTS });
 */
export async function accessReview(input: ReviewInput): Promise<AccessReview> {
  const now = input.now ?? Date.now();
  const { params, policy } = input;
  const findings: ReviewFinding[] = [];
  const directory = input.strategies.filter((s) => typeof s.knowsUser === "function").map((s) => s.name);
  const users = new Map<string, Promise<boolean | undefined>>();
  for (const t of input.tokens) {
    if (t.state !== "active") continue;
    const base = {
      credential: "token" as const,
      id: t.id,
      user: t.user,
      ...(t.name === undefined ? {} : { name: t.name }),
      ...(t.kind === undefined ? {} : { kind: t.kind }),
      createdAt: t.createdAt,
      ...(t.lastUsedAt === undefined ? {} : { lastUsedAt: t.lastUsedAt }),
      ...(t.expiresAt === undefined ? {} : { expiresAt: t.expiresAt }),
    };
    const add = (problem: ReviewProblem, detail: string): void => void findings.push({ problem, ...base, detail });
    const created = Date.parse(t.createdAt);
    const lastUsed = t.lastUsedAt === undefined ? undefined : Date.parse(t.lastUsedAt);
    if (lastUsed === undefined ? now - created >= params.unusedDays * DAY : now - lastUsed >= params.unusedDays * DAY) {
      add("unused", lastUsed === undefined ? `never used in the ${ageDays(now - created)} days since it was created` : `last used ${ageDays(now - lastUsed)} days ago`);
    }
    if (t.expiresAt !== undefined) {
      const left = Date.parse(t.expiresAt) - now;
      if (left <= params.expiringDays * DAY) add("expiring", `expires in ${left < 2 * DAY ? `${Math.max(0, Math.round(left / 3_600_000))} hours` : `${Math.round(left / DAY)} days`}`);
    }
    if (t.kind !== undefined) {
      const max = policy.maxLifetimeSeconds[t.kind];
      const lifetime = t.expiresAt === undefined ? Infinity : (Date.parse(t.expiresAt) - created) / 1000;
      if (lifetime > max) {
        add("lifetime-over-maximum", `lifetime ${Number.isFinite(lifetime) ? formatDuration(Math.round(lifetime / 3600) * 3600) : "unlimited"} is over the ${formatDuration(max)} recommended for ${t.kind} tokens (tokens.maxLifetime.${t.kind})`);
      }
      const rotateBy = rotateByOf(t, policy);
      if (rotateBy !== undefined && rotateBy <= now) add("rotation-due", `due for rotation since ${new Date(rotateBy).toISOString()} (tokens.rotateEvery.${t.kind})`);
    }
    const wild = wildcards(t);
    if (wild.length > 0) add("wildcard-permissions", `permissions with wildcards: ${wild.join(", ")}`);
    if (t.scopes.includes("admin")) add("admin-scope", "carries the admin scope");
    if (now - created >= params.notRotatedDays * DAY) add("not-rotated", `not rotated for ${ageDays(now - created)} days`);
    if (directory.length > 0) {
      let known = users.get(t.user);
      if (!known) users.set(t.user, known = askDirectory(input.strategies, t.user));
      if ((await known) === false) add("unknown-user", `the user is no longer known to ${directory.join(", ")}`);
    }
  }
  for (const s of input.secrets ?? []) {
    const updated = Date.parse(s.updatedAt);
    if (Number.isFinite(updated) && now - updated >= params.notRotatedDays * DAY) {
      findings.push({ problem: "not-rotated", credential: "secret", id: s.name, detail: `vault secret not changed for ${ageDays(now - updated)} days`, createdAt: s.createdAt });
    }
  }
  const since = input.masterKey?.since === undefined ? NaN : Date.parse(input.masterKey.since);
  if (Number.isFinite(since) && now - since >= params.notRotatedDays * DAY) {
    findings.push({ problem: "not-rotated", credential: "master-key", id: input.masterKey!.keyId, detail: `vault master key in use for ${ageDays(now - since)} days (portcullis secrets rotate-key)`, createdAt: input.masterKey!.since });
  }
  const counts: AccessReview["counts"] = {};
  for (const f of findings) counts[f.problem] = (counts[f.problem] ?? 0) + 1;
  return {
    generatedAt: new Date(now).toISOString(),
    parameters: params,
    maxLifetimeSeconds: Object.fromEntries(TOKEN_KINDS.map((k) => [k, policy.maxLifetimeSeconds[k]])),
    userDirectory: directory.length > 0
      ? { status: "checked", by: directory }
      : { status: "not-determinable", reason: "no configured auth strategy implements knowsUser, so none can tell whether a user still exists" },
    findings,
    counts,
  };
}

const CSV_COLUMNS = ["problem", "credential", "id", "user", "name", "kind", "detail", "createdAt", "lastUsedAt", "expiresAt"] as const;

function csvCell(value: string | undefined): string {
  let v = value ?? "";
  // A cell a spreadsheet would run as a formula is kept as text.
  if (/^[=+\-@\t\r]/.test(v)) v = `'${v}`;
  return /[",\r\n]/.test(v) ? `"${v.replace(/"/g, '""')}"` : v;
}

/**
 * The findings as CSV (RFC 4180, CRLF line ends, a header row), for auditors' spreadsheets; cells that a
 * spreadsheet would read as a formula are prefixed with `'`.
 *
 * @example
 * const text = reviewCsv(review);
 */
export function reviewCsv(review: AccessReview): string {
  const rows = [CSV_COLUMNS.join(","), ...review.findings.map((f) => CSV_COLUMNS.map((c) => csvCell(f[c])).join(","))];
  return rows.join("\r\n") + "\r\n";
}

/**
 * The findings as an aligned text table, with the parameters and the user-directory status above it.
 *
 * @example
 * console.log(reviewTable(review));
 */
export function reviewTable(review: AccessReview): string {
  const p = review.parameters;
  const head = [
    `access review ${review.generatedAt}: unused ${p.unusedDays}d, expiring within ${p.expiringDays}d, not rotated ${p.notRotatedDays}d`,
    review.userDirectory.status === "checked" ? `users checked against: ${review.userDirectory.by.join(", ")}` : `users the IdP no longer knows: not determinable (${review.userDirectory.reason})`,
    "",
  ];
  if (review.findings.length === 0) return [...head, "nothing to review"].join("\n");
  const cols = ["PROBLEM", "ID", "USER", "KIND", "DETAIL"];
  const rows = review.findings.map((f) => [f.problem, f.id, f.user ?? "-", f.kind ?? "-", f.detail]);
  const widths = cols.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  return [...head, ...[cols, ...rows].map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]!))).join("  "))].join("\n");
}

/** What the review route needs from the gateway. */
export interface ReviewRouteOptions {
  tokens: Pick<TokenService, "list">;
  strategies: readonly AuthStrategy[];
  policy: TokenPolicy;
  /** The vault's secrets, when there is a vault. */
  secrets?: () => Promise<SecretInfo[]>;
  /** The vault's master key and since when it is in use, when there is a vault. */
  masterKey?: () => Promise<{ keyId: string; since?: string } | undefined>;
}

/**
 * `GET /v1/auth/review` (admin): the access review as JSON, or CSV with `?format=csv`; parameters in the
 * query string (`?unusedDays=30&expiringDays=7&notRotatedDays=90`).
 *
 * @example
 * const routes = reviewRoutes({ tokens, strategies: config.auth, policy: config.tokens.policy });
 */
export function reviewRoutes(opts: ReviewRouteOptions): Route[] {
  const handler = async (_request: Request, ctx: AuthContext): Promise<Response> => {
    const params = parseReviewParams(ctx.url.searchParams);
    const format = ctx.url.searchParams.get("format") ?? "json";
    if (format !== "json" && format !== "csv") throw new GatewayError("ERR_BAD_REQUEST", `format: expected json or csv, received ${JSON.stringify(format.slice(0, 20))}`);
    const review = await accessReview({ tokens: await opts.tokens.list(), secrets: opts.secrets ? await opts.secrets() : undefined, masterKey: await opts.masterKey?.(), strategies: opts.strategies, policy: opts.policy, params });
    if (format === "json") return json(review);
    return new Response(reviewCsv(review), {
      headers: { "content-type": "text/csv; charset=utf-8", "content-disposition": `attachment; filename="access-review-${review.generatedAt.slice(0, 10)}.csv"`, "cache-control": "no-store" },
    });
  };
  return [{ method: "GET", path: "/v1/auth/review", auth: "admin", origin: true, handler }];
}
