import * as v from "valibot";
import { credentialInHeader } from "../auth/authenticate.ts";
import { pathOf } from "../config/schema.ts";
import { GatewayError } from "../errors.ts";
import { readBodyText } from "./body.ts";

/** Largest body the `/v1` APIs accept, in bytes. */
export const API_BODY_LIMIT = 64 * 1024;

const JSON_TYPE = /^application\/json\s*(;|$)/i;

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
 * Reads an optional JSON body of a `/v1` API request, after the request was authenticated. No body, or
 * an empty one, is `{}` ("no options"); malformed JSON is 400 `ERR_BAD_REQUEST` without quoting the body
 * (which may carry a secret). A request authenticated by a credential in a header (`Authorization:
 * Bearer`, an API-key header) may send its JSON under any Content-Type (`curl -d` says
 * `application/x-www-form-urlencoded`); any other request must say `application/json` (415 otherwise),
 * because a cross-site form post carries only what a browser attaches by itself, such as cookies.
 *
 * @example
 * const body = await readApiBody(request, config.server.bodyTimeoutMs);
 */
export async function readApiBody(request: Request, timeoutMs: number): Promise<unknown> {
  if (!request.body || request.headers.get("content-length") === "0") return {};
  const type = request.headers.get("content-type");
  const strict = (type === null || !JSON_TYPE.test(type)) && !credentialInHeader(request);
  const refuse = () => new GatewayError("ERR_UNSUPPORTED_MEDIA_TYPE", "Content-Type must be application/json");
  if (strict && type !== null) throw refuse();
  const text = await readBodyText(request, API_BODY_LIMIT, timeoutMs);
  if (text.trim() === "") return {};
  if (strict) throw refuse();
  try {
    return JSON.parse(text);
  } catch {
    throw new GatewayError("ERR_BAD_REQUEST", "body: expected a JSON object");
  }
}
