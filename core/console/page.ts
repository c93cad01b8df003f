// The console's HTML: rendered on the server, with no inline script or style (the CSP forbids both).

function escape(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

function shell(title: string, body: string, meta = ""): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
${meta}<title>${escape(title)} · Portcullis</title>
<link rel="stylesheet" href="/console/app.css">
<script src="/console/app.js" defer></script>
</head>
<body>
<a class="skip" href="#main">Skip to content</a>
${body}
</body>
</html>
`;
}

/**
 * The sign-in page: the identity provider (when the gateway is an OAuth server) and a form for pasting
 * an admin or user token, which the script posts as JSON (never in a URL).
 *
 * @example
 * new Response(signInPage({ oauth: true }), { headers });
 */
export function signInPage(o: { oauth: boolean; error?: string }): string {
  const idp = o.oauth
    ? `<p><a class="button primary" id="idp-sign-in" href="/console/sign-in/idp">Sign in with your identity provider</a></p>
<p class="or">or</p>`
    : "";
  const error = o.error ? `<p class="error" role="alert" id="sign-in-error">${escape(o.error)}</p>` : `<p class="error" role="alert" id="sign-in-error" hidden></p>`;
  return shell("Sign in", `<main id="main" class="narrow" data-view="sign-in">
<h1>Portcullis console</h1>
${error}
${idp}
<form id="token-sign-in" method="post" action="/console/sign-in">
<label for="token">Admin or user token</label>
<input id="token" name="token" type="password" autocomplete="off" spellcheck="false" required aria-describedby="token-help">
<p id="token-help" class="help">Pasted once and exchanged for a console session; the page never keeps it.</p>
<button type="submit" class="primary">Sign in</button>
</form>
</main>`);
}

/**
 * The signed-in page: a frame the script fills from the `/v1` API. The CSRF token travels in a meta tag
 * and goes back in the `X-CSRF-Token` header of every state-changing call.
 *
 * @example
 * new Response(appPage({ csrf }), { headers });
 */
export function appPage(o: { csrf: string }): string {
  return shell("Console", `<header class="top">
<span class="brand">Portcullis</span>
<span id="who" aria-live="polite"></span>
<button type="button" id="sign-out">Sign out</button>
</header>
<nav aria-label="Views"><ul id="nav" role="list"></ul></nav>
<main id="main" tabindex="-1" data-view="app">
<p id="status" role="status" aria-live="polite"></p>
<div id="view"></div>
</main>`, `<meta name="portcullis-csrf" content="${escape(o.csrf)}">\n`);
}
