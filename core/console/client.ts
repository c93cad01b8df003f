// The console page's script. It is served as `(${consoleApp})()` from /console/app.js, so the function
// must stand alone: no imports, nothing from this module's scope. It builds every element with DOM calls
// (never innerHTML with data), talks only to the public /v1 API with the session cookie, and sends the
// CSRF token from the page's meta tag in X-CSRF-Token on every state-changing call.

/**
 * The console page's whole client: sign-in form, navigation, and one view per task (tokens, credentials,
 * sessions; for admins all tokens, sessions, vault, audit, usage, review). Runs in the browser only.
 *
 * @example
 * const script = `(${consoleApp.toString()})();`;
 */
export function consoleApp(): void {
  type Json = any; // eslint-disable-line @typescript-eslint/no-explicit-any
  type Child = Node | string | null | undefined | false;
  type Props = Record<string, string | boolean | number | ((e: Event) => void) | undefined>;

  const $ = (id: string): HTMLElement | null => document.getElementById(id);

  function h(tag: string, props: Props = {}, ...children: Child[]): HTMLElement {
    const el = document.createElement(tag);
    for (const [k, v] of Object.entries(props)) {
      if (v === undefined || v === false) continue;
      if (typeof v === "function") el.addEventListener(k.slice(2).toLowerCase(), v);
      else if (k === "text") el.textContent = String(v);
      else el.setAttribute(k, v === true ? "" : String(v));
    }
    for (const c of children) if (c !== null && c !== undefined && c !== false) el.append(c);
    return el;
  }

  const SVG = "http://www.w3.org/2000/svg";
  function s(tag: string, attrs: Record<string, string | number> = {}, text?: string): SVGElement {
    const el = document.createElementNS(SVG, tag);
    for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, String(v));
    if (text !== undefined) el.textContent = text;
    return el;
  }

  const csrf = (document.querySelector('meta[name="portcullis-csrf"]') as HTMLMetaElement | null)?.content ?? "";

  class ApiError extends Error {
    status: number;
    code: string;
    constructor(status: number, code: string, message: string) {
      super(message);
      this.status = status;
      this.code = code;
    }
  }

  async function api(method: string, path: string, body?: unknown): Promise<Json> {
    const headers: Record<string, string> = { accept: "application/json" };
    if (method !== "GET") headers["x-csrf-token"] = csrf;
    if (body !== undefined) headers["content-type"] = "application/json";
    const res = await fetch(path, { method, headers, credentials: "same-origin", body: body === undefined ? undefined : JSON.stringify(body) });
    const text = await res.text();
    let data: Json = undefined;
    try {
      data = text ? JSON.parse(text) : undefined;
    } catch {
      data = undefined;
    }
    if (!res.ok) {
      if (res.status === 401 && !path.startsWith("/console/")) {
        location.assign("/console");
      }
      throw new ApiError(res.status, data?.error?.code ?? String(res.status), data?.error?.message ?? `request failed (${res.status})`);
    }
    return data;
  }

  function say(message: string, error = false): void {
    const el = $("status");
    if (!el) return;
    el.textContent = message;
    el.className = error ? "error" : "ok";
  }

  function failed(err: unknown): void {
    say(err instanceof Error ? err.message : String(err), true);
  }

  const when = (iso?: string): string => (iso ? new Date(iso).toLocaleString() : "never");
  const list = (xs?: string[]): string => (xs && xs.length > 0 ? xs.join(", ") : "all");

  async function copy(text: string, button: HTMLElement): Promise<void> {
    try {
      await navigator.clipboard.writeText(text);
      button.textContent = "Copied";
    } catch {
      button.textContent = "Copy failed: select and copy by hand";
    }
  }

  // ---------- sign-in page ----------

  const form = $("token-sign-in") as HTMLFormElement | null;
  if (form) {
    form.addEventListener("submit", async (e) => {
      e.preventDefault();
      const input = $("token") as HTMLInputElement;
      const error = $("sign-in-error")!;
      try {
        await api("POST", "/console/sign-in", { token: input.value });
        input.value = "";
        location.assign("/console");
      } catch (err) {
        input.value = "";
        error.hidden = false;
        error.textContent = err instanceof Error ? err.message : String(err);
        input.focus();
      }
    });
    return;
  }
  if (!$("view")) return;

  // ---------- the signed-in page ----------

  let me: Json = {};
  const isAdmin = (): boolean => Array.isArray(me.scopes) && me.scopes.includes("admin");

  function secretBox(created: Json, title: string): HTMLElement {
    const url = `${location.origin}/mcp`;
    const header = created.type === "api-key" ? "X-API-Key" : "Authorization";
    const value = created.type === "api-key" ? created.token : `Bearer ${created.token}`;
    const snippet = JSON.stringify({ mcpServers: { portcullis: { type: "http", url, headers: { [header]: value } } } }, null, 2);
    const copySecret = h("button", { type: "button", id: "copy-secret", onclick: () => void copy(created.token, copySecret) }, "Copy token");
    const copySnippet = h("button", { type: "button", id: "copy-snippet", onclick: () => void copy(snippet, copySnippet) }, "Copy snippet");
    return h("section", { class: "secret", "aria-labelledby": "secret-title", id: "new-secret" },
      h("h2", { id: "secret-title" }, title),
      h("p", {}, "Shown once: copy it now. The gateway keeps only its hash."),
      h("label", { for: "secret-value" }, "Token"),
      h("input", { id: "secret-value", readonly: true, value: created.token, spellcheck: "false" }),
      h("div", { class: "row" }, copySecret),
      h("label", { for: "secret-snippet" }, "mcpServers entry for Claude, VS Code or Cursor"),
      h("pre", { id: "secret-snippet", tabindex: 0 }, snippet),
      h("div", { class: "row" }, copySnippet),
    );
  }

  function stateCell(state: string): HTMLElement {
    return h("td", { class: `state-${state}` }, state);
  }

  function tokenTable(tokens: Json[], o: { select?: Set<string>; refresh: () => void; holder: HTMLElement }): HTMLElement {
    const head = ["", "Name", "Id", "User", "Type", "Scopes", "Servers", "Expires", "Last used", "State", "Actions"];
    if (!o.select) head.shift();
    const rows = tokens.map((t) => {
      const rotate = h("button", {
        type: "button", "aria-label": `Rotate ${t.id}`,
        onclick: async () => {
          try {
            const created = await api("POST", `/v1/auth/tokens/${t.id}/rotate`, {});
            o.refresh();
            o.holder.replaceChildren(secretBox(created, `New secret for ${created.id}`));
            say(`Rotated ${t.id}`);
          } catch (err) {
            failed(err);
          }
        },
      }, "Rotate");
      const revoke = h("button", {
        type: "button", class: "danger", "aria-label": `Revoke ${t.id}`,
        onclick: async () => {
          try {
            await api("DELETE", `/v1/auth/tokens/${t.id}`);
            say(`Revoked ${t.id}`);
            o.refresh();
          } catch (err) {
            failed(err);
          }
        },
      }, "Revoke");
      const box = o.select
        ? h("td", {}, h("input", { type: "checkbox", "aria-label": `Select ${t.id}`, "data-id": t.id, onchange: (e: Event) => ((e.target as HTMLInputElement).checked ? o.select!.add(t.id) : o.select!.delete(t.id)) }))
        : null;
      return h("tr", { "data-token": t.id }, box,
        h("td", {}, t.description ?? t.name ?? ""), h("td", {}, h("code", {}, t.id)), h("td", {}, t.user), h("td", {}, t.type),
        h("td", {}, (t.scopes ?? []).join(" ")), h("td", {}, list(t.permissions?.servers)), h("td", {}, when(t.expiresAt)),
        h("td", {}, when(t.lastUsedAt)), stateCell(t.state),
        h("td", { class: "actions" }, t.state === "active" ? rotate : null, t.state === "active" ? revoke : null));
    });
    return h("table", {}, h("thead", {}, h("tr", {}, ...head.map((c) => h("th", { scope: "col" }, c)))), h("tbody", {}, ...rows));
  }

  async function myTokens(view: HTMLElement): Promise<void> {
    const holder = h("div", {});
    const tableHolder = h("div", {});
    const refresh = async (): Promise<void> => {
      const { tokens } = await api("GET", "/v1/auth/tokens?mine=1");
      tableHolder.replaceChildren(tokens.length === 0 ? h("p", {}, "No tokens yet.") : tokenTable(tokens, { refresh: () => void refresh().catch(failed), holder }));
    };
    const scopes = (me.scopes as string[]).filter((x) => x === "mcp:read" || x === "mcp:write");
    const servers = (me.servers ?? []) as string[];
    // Only lifetimes within the caller's own: a credential cannot hand out more time than it has left.
    const left = typeof me.expiresAt === "number" ? me.expiresAt - Date.now() : Infinity;
    const durations = [["1d", "1 day", 1], ["7d", "7 days", 7], ["30d", "30 days", 30], ["90d", "90 days", 90]].filter(([, , d]) => (d as number) * 86400e3 < left).map(([v, l]) => [v as string, l as string]);
    durations.push(["", "As long as allowed"]);
    const preferred = durations.some(([v]) => v === "30d") ? "30d" : "";
    const createForm = h("form", { id: "create-token" },
      h("fieldset", {}, h("legend", {}, "New token"),
        h("div", { class: "grid" },
          h("div", {}, h("label", { for: "t-desc" }, "Name"), h("input", { id: "t-desc", required: true, maxlength: 500, placeholder: "laptop: Claude Desktop" })),
          h("div", {}, h("label", { for: "t-type" }, "Kind"), h("select", { id: "t-type" }, h("option", { value: "token" }, "Bearer token"), h("option", { value: "api-key" }, "API key"))),
          h("div", {}, h("label", { for: "t-exp" }, "Expires in"), h("select", { id: "t-exp" }, ...durations.map(([v, l]) => h("option", { value: v!, selected: v === preferred }, l!)))),
        ),
        h("fieldset", {}, h("legend", {}, "Scopes"), ...scopes.map((sc) => h("label", {}, h("input", { type: "checkbox", name: "scope", value: sc, checked: true }), ` ${sc}`))),
        h("div", { class: "grid" },
          h("div", {}, h("label", { for: "t-servers" }, "Servers (none selected: all you may use)"),
            h("select", { id: "t-servers", multiple: true, size: Math.min(6, Math.max(2, servers.length)) }, ...servers.map((n) => h("option", { value: n }, n)))),
          h("div", {}, h("label", { for: "t-tools" }, "Tools (optional)"), h("input", { id: "t-tools", placeholder: "notes__search, read", "aria-describedby": "t-tools-help" }),
            h("p", { class: "help", id: "t-tools-help" }, "Comma-separated: server__tool names, globs, or the words read / write.")),
        ),
        h("button", { type: "submit", class: "primary" }, "Create token"),
      ),
    );
    createForm.addEventListener("submit", async (e) => {
      e.preventDefault();
      const picked = [...($("t-servers") as HTMLSelectElement).selectedOptions].map((o) => o.value);
      const tools = ($("t-tools") as HTMLInputElement).value.split(",").map((x) => x.trim()).filter(Boolean);
      const body: Json = {
        user: me.subject,
        description: ($("t-desc") as HTMLInputElement).value,
        type: ($("t-type") as HTMLSelectElement).value,
        ...(($("t-exp") as HTMLSelectElement).value ? { expiresIn: ($("t-exp") as HTMLSelectElement).value } : {}),
        scopes: [...createForm.querySelectorAll<HTMLInputElement>('input[name="scope"]:checked')].map((i) => i.value),
      };
      if (picked.length > 0 || tools.length > 0) body.permissions = { ...(picked.length > 0 ? { servers: picked } : {}), ...(tools.length > 0 ? { tools } : {}) };
      try {
        const created = await api("POST", "/v1/auth/tokens", body);
        holder.replaceChildren(secretBox(created, `Your new token ${created.id}`));
        ($("secret-value") as HTMLInputElement).focus();
        say(`Created ${created.id}`);
        await refresh();
      } catch (err) {
        failed(err);
      }
    });
    view.append(h("h1", {}, "My tokens"), createForm, holder, h("h2", {}, "Tokens you created"), tableHolder);
    await refresh();
  }

  async function myCredentials(view: HTMLElement): Promise<void> {
    const tableHolder = h("div", {});
    const refresh = async (): Promise<void> => {
      try {
        const { credentials } = await api("GET", "/v1/me/credentials");
        tableHolder.replaceChildren(credentials.length === 0 ? h("p", {}, "No credentials stored.") : h("table", {},
          h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "Server"), h("th", { scope: "col" }, "Updated"), h("th", { scope: "col" }, "Actions"))),
          h("tbody", {}, ...credentials.map((c: Json) => h("tr", {}, h("td", {}, c.server), h("td", {}, when(c.updatedAt ?? c.createdAt)),
            h("td", { class: "actions" }, h("button", { type: "button", class: "danger", "aria-label": `Delete credential for ${c.server}`, onclick: async () => {
              try {
                await api("DELETE", `/v1/me/credentials/${encodeURIComponent(c.server)}`);
                say(`Deleted your credential for ${c.server}`);
                await refresh();
              } catch (err) {
                failed(err);
              }
            } }, "Delete")))))));
      } catch (err) {
        tableHolder.replaceChildren(h("p", { class: "error" }, err instanceof Error ? err.message : String(err)));
      }
    };
    const f = h("form", { id: "set-credential" }, h("fieldset", {}, h("legend", {}, "Set a credential"),
      h("div", { class: "grid" },
        h("div", {}, h("label", { for: "c-server" }, "Server"), h("input", { id: "c-server", required: true, list: "c-servers" }),
          h("datalist", { id: "c-servers" }, ...((me.servers ?? []) as string[]).map((n) => h("option", { value: n })))),
        h("div", {}, h("label", { for: "c-value" }, "Value"), h("input", { id: "c-value", type: "password", required: true, autocomplete: "off" })),
      ),
      h("p", { class: "help" }, "Stored encrypted; never shown back."),
      h("button", { type: "submit", class: "primary" }, "Save")));
    f.addEventListener("submit", async (e) => {
      e.preventDefault();
      const server = ($("c-server") as HTMLInputElement).value;
      const value = $("c-value") as HTMLInputElement;
      try {
        await api("PUT", `/v1/me/credentials/${encodeURIComponent(server)}`, { value: value.value });
        value.value = "";
        say(`Saved your credential for ${server}`);
        await refresh();
      } catch (err) {
        failed(err);
      }
    });
    view.append(h("h1", {}, "My upstream credentials"), f, tableHolder);
    await refresh();
  }

  function sessionTable(sessions: Json[], kind: "oauth" | "console", refresh: () => Promise<void>): HTMLElement {
    const base = kind === "oauth" ? "/v1/auth/sessions/" : "/v1/auth/console-sessions/";
    const cols = kind === "oauth" ? ["User", "Client", "Started", "Expires", "State", ""] : ["User", "Signed in with", "Started", "Expires", "State", ""];
    return h("table", { "data-sessions": kind },
      h("thead", {}, h("tr", {}, ...cols.map((c) => h("th", { scope: "col" }, c)))),
      h("tbody", {}, ...sessions.map((x) => h("tr", {},
        h("td", {}, x.user), h("td", {}, kind === "oauth" ? x.clientName ?? x.clientId : `${x.method}${x.current ? " (this session)" : ""}`),
        h("td", {}, when(x.createdAt)), h("td", {}, when(x.expiresAt)), stateCell(x.state),
        h("td", { class: "actions" }, x.state === "active" ? h("button", { type: "button", class: "danger", "aria-label": `End session ${x.id}`, onclick: async () => {
          try {
            await api("DELETE", base + encodeURIComponent(x.id));
            say(`Ended ${x.id}`);
            if (x.current) location.assign("/console");
            else await refresh();
          } catch (err) {
            failed(err);
          }
        } }, "End") : null)))));
  }

  async function sessionsView(view: HTMLElement, all: boolean): Promise<void> {
    const oauth = h("div", {});
    const consoles = h("div", {});
    const mineOnly = all ? "" : `?user=${encodeURIComponent(me.subject)}`;
    const refresh = async (): Promise<void> => {
      try {
        // An admin's own view asks for their sessions only; the API shows admins everyone's otherwise.
        const { sessions } = await api("GET", `/v1/auth/sessions${mineOnly}`);
        oauth.replaceChildren(sessions.length === 0 ? h("p", {}, "No active OAuth sessions.") : sessionTable(sessions, "oauth", refresh));
      } catch (err) {
        oauth.replaceChildren(h("p", {}, err instanceof ApiError && err.status === 404 ? "This gateway is not an OAuth server: there are no OAuth sessions." : String((err as Error).message)));
      }
      const { sessions } = await api("GET", `/v1/auth/console-sessions${mineOnly}`);
      consoles.replaceChildren(sessions.length === 0 ? h("p", {}, "No console sessions.") : sessionTable(sessions, "console", refresh));
    };
    view.append(h("h1", {}, all ? "All sessions" : "My sessions"), h("h2", {}, "OAuth sessions (MCP clients)"), oauth, h("h2", {}, "Console sessions"), consoles);
    await refresh();
  }

  async function allTokens(view: HTMLElement): Promise<void> {
    const selected = new Set<string>();
    const holder = h("div", {});
    const tableHolder = h("div", {});
    const field = (id: string, label: string, control: HTMLElement): HTMLElement => h("div", {}, h("label", { for: id }, label), control);
    const opts = (id: string, values: string[][]): HTMLElement => h("select", { id }, ...values.map(([v, l]) => h("option", { value: v! }, l!)));
    const filters = h("form", { id: "token-filters" }, h("fieldset", {}, h("legend", {}, "Filters"), h("div", { class: "grid" },
      field("f-user", "User", h("input", { id: "f-user" })),
      field("f-team", "Team", h("input", { id: "f-team" })),
      field("f-type", "Type", opts("f-type", [["", "any"], ["token", "token"], ["api-key", "API key"], ["certificate", "certificate"]])),
      field("f-state", "State", opts("f-state", [["active", "active"], ["", "any"], ["expired", "expired"], ["revoked", "revoked"]])),
      field("f-exp", "Expiring within", opts("f-exp", [["", "any time"], ["1", "1 day"], ["7", "7 days"], ["30", "30 days"]])),
    ), h("div", { class: "row" }, h("button", { type: "submit" }, "Apply"),
      h("button", { type: "button", class: "danger", id: "bulk-revoke", onclick: async () => {
        if (selected.size === 0) return say("Select tokens to revoke first.", true);
        const ids = [...selected];
        let done = 0;
        for (const id of ids) {
          try {
            await api("DELETE", `/v1/auth/tokens/${id}`);
            done++;
          } catch (err) {
            failed(err);
          }
        }
        selected.clear();
        say(`Revoked ${done} of ${ids.length} tokens`);
        await refresh();
      } }, "Revoke selected"))));
    const refresh = async (): Promise<void> => {
      const q = new URLSearchParams();
      for (const [id, key] of [["f-user", "user"], ["f-team", "team"], ["f-type", "type"], ["f-state", "state"]]) {
        const v = ($(id!) as HTMLInputElement).value.trim();
        if (v) q.set(key!, v);
      }
      let { tokens } = await api("GET", `/v1/auth/tokens?${q}`);
      const days = Number(($("f-exp") as HTMLSelectElement).value);
      if (days > 0) tokens = tokens.filter((t: Json) => t.expiresAt && Date.parse(t.expiresAt) - Date.now() < days * 86400e3 && Date.parse(t.expiresAt) > Date.now());
      selected.clear();
      tableHolder.replaceChildren(h("p", {}, `${tokens.length} tokens`), tokenTable(tokens, { select: selected, refresh: () => void refresh().catch(failed), holder }));
    };
    filters.addEventListener("submit", (e) => {
      e.preventDefault();
      refresh().catch(failed);
    });
    view.append(h("h1", {}, "All tokens"), filters, holder, tableHolder);
    await refresh();
  }

  async function vaultView(view: HTMLElement): Promise<void> {
    const tableHolder = h("div", {});
    const refresh = async (): Promise<void> => {
      try {
        const { credentials } = await api("GET", "/v1/credentials");
        tableHolder.replaceChildren(credentials.length === 0 ? h("p", {}, "The vault is empty.") : h("table", {},
          h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "Name"), h("th", { scope: "col" }, "Updated"), h("th", { scope: "col" }, "Actions"))),
          h("tbody", {}, ...credentials.map((c: Json) => h("tr", {}, h("td", {}, h("code", {}, c.name)), h("td", {}, when(c.updatedAt ?? c.createdAt)),
            h("td", { class: "actions" }, h("button", { type: "button", class: "danger", "aria-label": `Delete ${c.name}`, onclick: async () => {
              try {
                await api("DELETE", `/v1/credentials/${encodeURIComponent(c.name)}`);
                say(`Deleted ${c.name}`);
                await refresh();
              } catch (err) {
                failed(err);
              }
            } }, "Delete")))))));
      } catch (err) {
        tableHolder.replaceChildren(h("p", { class: "error" }, err instanceof Error ? err.message : String(err)));
      }
    };
    const setForm = h("form", { id: "vault-set" }, h("fieldset", {}, h("legend", {}, "Set a secret"), h("div", { class: "grid" },
      h("div", {}, h("label", { for: "v-name" }, "Name"), h("input", { id: "v-name", required: true, placeholder: "GITHUB_TOKEN" })),
      h("div", {}, h("label", { for: "v-value" }, "Value"), h("input", { id: "v-value", type: "password", required: true, autocomplete: "off" }))),
      h("p", { class: "help" }, "Encrypted under the master key; never shown back."), h("button", { type: "submit", class: "primary" }, "Save")));
    setForm.addEventListener("submit", async (e) => {
      e.preventDefault();
      const name = ($("v-name") as HTMLInputElement).value;
      const value = $("v-value") as HTMLInputElement;
      try {
        await api("PUT", `/v1/credentials/${encodeURIComponent(name)}`, { value: value.value });
        value.value = "";
        say(`Saved ${name}`);
        await refresh();
      } catch (err) {
        failed(err);
      }
    });
    const rotateForm = h("form", { id: "vault-rotate" }, h("fieldset", {}, h("legend", {}, "Rotate the master key"),
      h("label", { for: "v-key" }, "New master key (32 bytes, base64 or hex)"), h("input", { id: "v-key", type: "password", required: true, autocomplete: "off" }),
      h("p", { class: "help" }, "Every secret is re-encrypted; set the new key in the gateway's environment before its next start."),
      h("button", { type: "submit" }, "Rotate key")));
    rotateForm.addEventListener("submit", async (e) => {
      e.preventDefault();
      const key = $("v-key") as HTMLInputElement;
      try {
        await api("POST", "/v1/credentials/rotate-key", { newKey: key.value });
        key.value = "";
        say("Master key rotated");
      } catch (err) {
        failed(err);
      }
    });
    view.append(h("h1", {}, "Vault"), setForm, tableHolder, rotateForm);
    await refresh();
  }

  const PALETTE = ["#0b57d0", "#b3261e", "#146c2e", "#8a4f00", "#6b3fa0", "#00696f", "#5c5f62"];

  /** Stacked bars, one per label, one colour per series; with axis labels, a legend and a text alternative. */
  function barChart(title: string, labels: string[], series: Array<{ name: string; values: number[] }>): HTMLElement {
    const W = 720;
    const H = 220;
    const left = 40;
    const bottom = 40;
    const totals = labels.map((_, i) => series.reduce((a, x) => a + (x.values[i] ?? 0), 0));
    const max = Math.max(1, ...totals);
    const bw = Math.max(4, Math.min(40, (W - left - 10) / Math.max(1, labels.length) - 4));
    const summary = `${title}: ${labels.map((l, i) => `${l} ${totals[i]}`).join(", ") || "no data"}`;
    const svg = s("svg", { viewBox: `0 0 ${W} ${H + 30}`, role: "img", "aria-label": summary, width: W, height: H + 30 });
    svg.append(s("title", {}, title));
    svg.append(s("line", { x1: left, y1: H - bottom, x2: W - 5, y2: H - bottom, stroke: "#4a4a4a" }));
    svg.append(s("text", { x: 4, y: 14, "font-size": 11, fill: "#1a1a1a" }, String(max)));
    svg.append(s("text", { x: 4, y: H - bottom, "font-size": 11, fill: "#1a1a1a" }, "0"));
    labels.forEach((label, i) => {
      const x = left + 4 + i * (bw + 4);
      let y = H - bottom;
      series.forEach((x2, k) => {
        const v = x2.values[i] ?? 0;
        if (v <= 0) return;
        const bh = ((H - bottom - 20) * v) / max;
        y -= bh;
        const r = s("rect", { x, y, width: bw, height: bh, fill: PALETTE[k % PALETTE.length]! });
        r.append(s("title", {}, `${label} ${x2.name}: ${v}`));
        svg.append(r);
      });
      if (labels.length <= 16 || i % Math.ceil(labels.length / 16) === 0) {
        svg.append(s("text", { x, y: H - bottom + 14, "font-size": 10, fill: "#1a1a1a" }, label.length > 10 ? label.slice(5) : label));
      }
    });
    series.forEach((x2, k) => {
      svg.append(s("rect", { x: left + k * 130, y: H + 6, width: 10, height: 10, fill: PALETTE[k % PALETTE.length]! }));
      svg.append(s("text", { x: left + 14 + k * 130, y: H + 15, "font-size": 11, fill: "#1a1a1a" }, x2.name.slice(0, 18)));
    });
    return h("figure", { class: "chart" }, svg, h("figcaption", { class: "help" }, title));
  }

  async function auditView(view: HTMLElement): Promise<void> {
    let last = 0;
    let rows: Json[] = [];
    let timer: ReturnType<typeof setInterval> | undefined;
    const tableHolder = h("div", {});
    const chartHolder = h("div", {});
    const field = (id: string, label: string, control: HTMLElement): HTMLElement => h("div", {}, h("label", { for: id }, label), control);
    const filters = h("form", { id: "audit-filters" }, h("fieldset", {}, h("legend", {}, "Filters"), h("div", { class: "grid" },
      field("a-type", "Type", h("select", { id: "a-type" }, ...["", "auth", "token", "tool_call", "credential", "oauth", "console", "server_request", "plugin"].map((t) => h("option", { value: t }, t || "any")))),
      field("a-outcome", "Outcome", h("select", { id: "a-outcome" }, ...["", "success", "failure", "ok", "refused", "error", "denied"].map((t) => h("option", { value: t }, t || "any")))),
      field("a-subject", "Subject", h("input", { id: "a-subject" })),
    ), h("div", { class: "row" }, h("button", { type: "submit" }, "Apply"),
      h("label", {}, h("input", { type: "checkbox", id: "a-live" }), " Live tail (every 2 s)"))));
    const render = (): void => {
      tableHolder.replaceChildren(h("table", { id: "audit-table" },
        h("thead", {}, h("tr", {}, ...["Time", "Type", "Action / outcome", "Subject", "Detail"].map((c) => h("th", { scope: "col" }, c)))),
        h("tbody", {}, ...rows.slice().reverse().slice(0, 300).map((e) => h("tr", {},
          h("td", {}, new Date(e.time).toLocaleTimeString()), h("td", {}, e.type), h("td", {}, [e.action, e.outcome].filter(Boolean).join(" / ")),
          h("td", {}, e.subject ?? e.user ?? e.actor ?? ""),
          h("td", {}, [e.server && `${e.server}${e.tool ? `/${e.tool}` : ""}`, e.tokenId, e.code, e.reason, e.path].filter(Boolean).join(" · ")))))));
      // Failed sign-in attempts per minute over the last hour, from the events in view.
      const now = Date.now();
      const minutes = Array.from({ length: 60 }, (_, i) => new Date(now - (59 - i) * 60_000).toISOString().slice(11, 16));
      const failures = minutes.map(() => 0);
      for (const e of rows) {
        if (e.type !== "auth" || e.outcome !== "failure") continue;
        const i = 59 - Math.floor((now - Date.parse(e.time)) / 60_000);
        if (i >= 0 && i < 60) failures[i]!++;
      }
      chartHolder.replaceChildren(barChart("Failed authentication attempts per minute, last hour", minutes, [{ name: "failures", values: failures }]));
    };
    const query = (): string => {
      const q = new URLSearchParams();
      for (const [id, key] of [["a-type", "type"], ["a-outcome", "outcome"], ["a-subject", "subject"]]) {
        const v = ($(id!) as HTMLInputElement).value.trim();
        if (v) q.set(key!, v);
      }
      return q.toString();
    };
    const load = async (): Promise<void> => {
      const { events, last: l } = await api("GET", `/v1/audit?limit=1000&${query()}`);
      rows = events;
      last = l;
      render();
    };
    const tail = async (): Promise<void> => {
      if (!document.body.contains(tableHolder)) return void clearInterval(timer);
      const { events, last: l } = await api("GET", `/v1/audit?after=${last}&${query()}`);
      last = l;
      if (events.length > 0) {
        rows = rows.concat(events).slice(-2000);
        render();
      }
    };
    filters.addEventListener("submit", (e) => {
      e.preventDefault();
      load().catch(failed);
    });
    filters.querySelector("#a-live")!.addEventListener("change", (e) => {
      clearInterval(timer);
      if ((e.target as HTMLInputElement).checked) timer = setInterval(() => void tail().catch(failed), 2000);
    });
    view.append(h("h1", {}, "Audit trail"), h("p", { class: "help" }, "The newest events this gateway process saw; the full trail is in the configured audit sinks."), filters, chartHolder, tableHolder);
    await load();
  }

  async function usageView(view: HTMLElement): Promise<void> {
    const out = h("div", {});
    const f = h("form", { id: "usage-form" }, h("div", { class: "row" }, h("label", { for: "u-user" }, "User"), h("input", { id: "u-user", required: true, value: me.subject }), h("button", { type: "submit" }, "Show")));
    const show = async (): Promise<void> => {
      const user = ($("u-user") as HTMLInputElement).value.trim();
      const r = await api("GET", `/v1/auth/usage?user=${encodeURIComponent(user)}`);
      const days: string[] = [...new Set<string>((r.byDay ?? []).map((d: Json) => d.day))].sort();
      const servers: string[] = [...new Set<string>((r.byDay ?? []).map((d: Json) => d.server))];
      const series = servers.map((server) => ({ name: server, values: days.map((day) => (r.byDay as Json[]).filter((d) => d.day === day && d.server === server).reduce((a, d) => a + d.calls, 0)) }));
      out.replaceChildren(
        h("p", {}, `${r.totals.calls} call${r.totals.calls === 1 ? "" : "s"}, ${r.totals.errors} errors, ${r.totals.denied} denied; last used ${when(r.lastUsedAt)}${r.lastUsedFrom ? ` from ${r.lastUsedFrom}` : ""}.`),
        barChart(`Calls per day per server for ${user}`, days, series),
        h("table", {}, h("thead", {}, h("tr", {}, ...["Server", "Tool", "Calls", "Errors", "Denied", "Last day"].map((c) => h("th", { scope: "col" }, c)))),
          h("tbody", {}, ...(r.tools ?? []).map((t: Json) => h("tr", {}, h("td", {}, t.server), h("td", {}, t.tool), h("td", {}, String(t.calls)), h("td", {}, String(t.errors)), h("td", {}, String(t.denied)), h("td", {}, t.lastDay))))));
    };
    f.addEventListener("submit", (e) => {
      e.preventDefault();
      show().catch(failed);
    });
    view.append(h("h1", {}, "Usage"), f, out);
    await show();
  }

  async function reviewView(view: HTMLElement): Promise<void> {
    const r = await api("GET", "/v1/auth/review");
    const counts = Object.entries(r.counts ?? {}) as Array<[string, number]>;
    view.append(h("h1", {}, "Access review"), h("p", { class: "help" }, `Generated ${when(r.generatedAt)}.`),
      counts.length > 0 ? barChart("Findings per problem", counts.map(([k]) => k), [{ name: "findings", values: counts.map(([, v]) => v) }]) : h("p", {}, "Nothing to review."),
      h("table", {}, h("thead", {}, h("tr", {}, ...["Problem", "Id", "User", "Kind", "Detail"].map((c) => h("th", { scope: "col" }, c)))),
        h("tbody", {}, ...(r.findings ?? []).map((x: Json) => h("tr", {}, h("td", {}, x.problem), h("td", {}, h("code", {}, x.id)), h("td", {}, x.user ?? ""), h("td", {}, x.kind ?? x.credential ?? ""), h("td", {}, x.detail))))));
  }

  const views: Array<{ id: string; label: string; admin: boolean; show: (v: HTMLElement) => Promise<void> }> = [
    { id: "tokens", label: "My tokens", admin: false, show: myTokens },
    { id: "credentials", label: "My credentials", admin: false, show: myCredentials },
    { id: "sessions", label: "My sessions", admin: false, show: (v) => sessionsView(v, false) },
    { id: "all-tokens", label: "All tokens", admin: true, show: allTokens },
    { id: "all-sessions", label: "All sessions", admin: true, show: (v) => sessionsView(v, true) },
    { id: "vault", label: "Vault", admin: true, show: vaultView },
    { id: "audit", label: "Audit", admin: true, show: auditView },
    { id: "usage", label: "Usage", admin: true, show: usageView },
    { id: "review", label: "Review", admin: true, show: reviewView },
  ];

  async function open(id: string, focus = false): Promise<void> {
    const v = views.find((x) => x.id === id && (!x.admin || isAdmin())) ?? views[0]!;
    for (const b of document.querySelectorAll("#nav button")) {
      if ((b as HTMLElement).dataset.view === v.id) b.setAttribute("aria-current", "page");
      else b.removeAttribute("aria-current");
    }
    const view = $("view")!;
    view.replaceChildren();
    say("");
    if (location.hash !== `#${v.id}`) history.replaceState(null, "", `#${v.id}`);
    try {
      await v.show(view);
    } catch (err) {
      failed(err);
    }
    // Keyboard and screen-reader users land on the new view's heading, not back at the top of the page.
    const heading = view.querySelector("h1") as HTMLElement | null;
    if (focus && heading) {
      heading.tabIndex = -1;
      heading.focus();
    }
  }

  async function start(): Promise<void> {
    me = await api("GET", "/v1/auth/whoami");
    $("who")!.textContent = `Signed in as ${me.name ?? me.subject}${isAdmin() ? " (admin)" : ""}`;
    const nav = $("nav")!;
    for (const v of views) {
      if (v.admin && !isAdmin()) continue;
      if (v.admin && v.id === "all-tokens") nav.append(h("li", { class: "sep", "aria-hidden": "true" }));
      nav.append(h("li", {}, h("button", { type: "button", "data-view": v.id, onclick: () => void open(v.id, true) }, v.label)));
    }
    $("sign-out")!.addEventListener("click", async () => {
      try {
        await api("POST", "/console/sign-out");
      } finally {
        location.assign("/console");
      }
    });
    await open(location.hash.slice(1) || "tokens");
  }

  start().catch(failed);
}
