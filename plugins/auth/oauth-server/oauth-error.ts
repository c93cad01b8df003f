/**
 * An RFC 6749 error response (`{ error, error_description }`), thrown by the endpoint helpers and
 * returned as-is by the route handlers.
 *
 * @example
 * throw oauthError("invalid_grant", "authorization code is invalid or was already used");
 */
export function oauthError(error: string, description: string, status = 400, headers: Record<string, string> = {}): Response {
  return new Response(JSON.stringify({ error, error_description: description }), {
    status,
    headers: { "content-type": "application/json", "cache-control": "no-store", pragma: "no-cache", ...headers },
  });
}

/**
 * Runs an endpoint body and turns a thrown Response (an OAuth error or an error page) into the answer.
 *
 * @example
 * return await answering(async () => tokenEndpoint(request));
 */
export async function answering(run: () => Promise<Response>): Promise<Response> {
  try {
    return await run();
  } catch (err) {
    if (err instanceof Response) return err;
    throw err;
  }
}
