/**
 * Escapes text for HTML element content and quoted attribute values: client names, URIs and anything
 * else a client chose must never become markup on a gateway page.
 *
 * @example
 * escapeHtml('<script>"x"</script>'); // "&lt;script&gt;&quot;x&quot;&lt;/script&gt;"
 */
export function escapeHtml(value: string): string {
  return value.replace(/[&<>"'`]/g, (c) => `&#${c.charCodeAt(0)};`);
}

const STYLE = "body{font-family:system-ui,sans-serif;max-width:34rem;margin:3rem auto;padding:0 1rem;color:#1d1d1f}" +
  "code{background:#f2f2f2;padding:0 .2rem}button{font-size:1rem;padding:.5rem 1.2rem;margin-right:.5rem}";

// Gateway pages load nothing and may not be framed: no clickjacking of the consent button.
const PAGE_HEADERS = {
  "content-type": "text/html; charset=utf-8",
  "cache-control": "no-store",
  "content-security-policy": "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'",
  "x-frame-options": "DENY",
  // Not `no-referrer`: with it a browser posts the consent form with `Origin: null`, which the consent
  // endpoint must refuse. `same-origin` still sends nothing (no code-bearing URL) to any other site.
  "referrer-policy": "same-origin",
};

function page(title: string, body: string, status: number, headers: Record<string, string> = {}): Response {
  const html = `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>${escapeHtml(title)}</title>` +
    `<meta name="viewport" content="width=device-width"><style>${STYLE}</style></head><body>${body}</body></html>`;
  return new Response(html, { status, headers: { ...PAGE_HEADERS, ...headers } });
}

/**
 * The page shown when the gateway cannot safely send the user back to the client (unknown client, a
 * redirect URI that was not registered): it never redirects, so it can't be used as an open redirect.
 *
 * @example
 * return errorPage("invalid_request", "redirect_uri is not registered for this client");
 */
export function errorPage(error: string, description: string, status = 400, headers?: Record<string, string>): Response {
  return page("Sign-in failed", `<h1>Sign-in failed</h1><p><code>${escapeHtml(error)}</code></p><p>${escapeHtml(description)}</p>`, status, headers);
}

/** What the consent page shows. */
export interface ConsentView {
  clientName: string;
  clientId: string;
  redirectUri: string;
  user: string;
  scopes: string[];
  servers: string[];
  action: string;
  consentId: string;
  csrf: string;
}

/**
 * The consent page: names the client, where it will be sent back, and the servers it will reach. The
 * form carries a CSRF token that must match the browser's login cookie.
 *
 * @example
 * return consentPage({ clientName: "Claude", clientId, redirectUri, user: "alice@example.com", scopes, servers, action: "/oauth/consent", consentId, csrf });
 */
export function consentPage(v: ConsentView, headers?: Record<string, string>): Response {
  const servers = v.servers.length === 0
    ? "<li>Every server your roles allow.</li>"
    : v.servers.map((s) => `<li><code>${escapeHtml(s)}</code></li>`).join("");
  const body = `<h1>Allow access?</h1>` +
    `<p><strong>${escapeHtml(v.clientName)}</strong> (<code>${escapeHtml(v.clientId)}</code>) wants to use the MCP gateway as ` +
    `<strong>${escapeHtml(v.user)}</strong>.</p>` +
    `<p>It asks for: ${v.scopes.map((s) => `<code>${escapeHtml(s)}</code>`).join(" ")}</p>` +
    `<p>It will reach these servers, within your permissions:</p><ul>${servers}</ul>` +
    `<p>You will be sent back to <code>${escapeHtml(v.redirectUri)}</code>.</p>` +
    `<form method="post" action="${escapeHtml(v.action)}">` +
    `<input type="hidden" name="consent" value="${escapeHtml(v.consentId)}">` +
    `<input type="hidden" name="csrf" value="${escapeHtml(v.csrf)}">` +
    `<button type="submit" name="decision" value="approve">Allow</button>` +
    `<button type="submit" name="decision" value="deny">Deny</button></form>`;
  return page("Allow access?", body, 200, headers);
}
