// Single sign-on for MCP clients: the gateway is the OAuth authorization server Claude, VS Code, Cursor
// and mcp-remote sign in through, with your company IdP (Okta here) behind it. IdP groups become gateway
// roles, servers learn who is calling (headers and a signed assertion), and the GitHub server runs with
// each user's own token, which they store once with PUT /v1/me/credentials/github.
//
//   OKTA_ISSUER=https://acme.okta.com/oauth2/default OKTA_CLIENT_ID=0oa... OKTA_CLIENT_SECRET=... \
//   PORTCULLIS_MASTER_KEY=$(openssl rand -base64 32) node dist/cli.js start --config examples/oauth-sso.config.ts
//
// Register https://mcp.example.com/oauth/callback (or http://127.0.0.1:8787/oauth/callback) at the IdP.
import { defineGateway } from "portcullis";
import { bearer, fileStore, http, identityHeaders, jsonlAudit, jwtAssertion, oauthServer, stdio, vault } from "portcullis/plugins";

const here = (path: string): string => new URL(path, import.meta.url).pathname;

export default defineGateway({
  server: { port: 8787 /* , publicUrl: "https://mcp.example.com" */ },
  auth: [
    oauthServer({
      upstream: {
        provider: "okta",
        issuer: "${OKTA_ISSUER}",
        clientId: "${OKTA_CLIENT_ID}",
        clientSecret: "${OKTA_CLIENT_SECRET}",
        scopes: ["openid", "email", "profile", "groups"],
      },
      accessTokenTtl: "1h",
      refreshTokenTtl: "30d",
    }),
    bearer(), // gateway tokens still work, e.g. for the admin API and CI jobs
  ],
  roles: {
    engineering: { servers: ["*"] },
    support: { servers: ["notes"], tools: ["read"] },
  },
  identity: [identityHeaders(), jwtAssertion()],
  secrets: [vault()], // PORTCULLIS_MASTER_KEY; set values with `portcullis secrets set NAME`
  servers: {
    notes: stdio({ script: here("./servers/notes.ts") }),
    github: http({
      url: "https://api.githubcopilot.com/mcp/",
      userCredential: { header: "Authorization", format: "Bearer {credential}" },
    }),
  },
  tokens: { store: fileStore({ dir: ".portcullis" }) },
  audit: [jsonlAudit({ path: ".portcullis/audit.jsonl" })],
});
