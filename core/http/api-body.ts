import * as v from "valibot";
import { pathOf } from "../config/schema.ts";
import { GatewayError } from "../errors.ts";
import { readJsonBody } from "./body.ts";

/** Largest body the `/v1` APIs accept, in bytes. */
export const API_BODY_LIMIT = 64 * 1024;

/**
 * Validates an API body; the error names the field and the rule, never the input (which may be a secret).
 *
 * @example
 * const { graceSeconds } = parseBody(RotateBody, await readApiBody(request, 30_000));
 */
export function parseBody<T extends v.GenericSchema>(schema: T, input: unknown): v.InferOutput<T> {
  const r = v.safeParse(schema, input);
  if (r.success) return r.output;
  const issue = r.issues[0];
  throw new GatewayError("ERR_BAD_REQUEST", `${pathOf(issue) || "body"}: ${issue.message}`);
}

/**
 * Reads an optional JSON body of a `/v1` API request: no body is `{}` ("no options"), malformed JSON is
 * 400 `ERR_BAD_REQUEST` without quoting the body (which may carry a secret).
 *
 * @example
 * const body = await readApiBody(request, config.server.bodyTimeoutMs);
 */
export async function readApiBody(request: Request, timeoutMs: number): Promise<unknown> {
  if (!request.body || request.headers.get("content-length") === "0") return {};
  try {
    return await readJsonBody(request, API_BODY_LIMIT, timeoutMs);
  } catch (err) {
    if (err instanceof GatewayError && err.code === "ERR_PARSE") throw new GatewayError("ERR_BAD_REQUEST", "body: expected a JSON object");
    throw err;
  }
}
