/** The console's stylesheet, served as `/console/app.css` (the CSP allows no inline style). Colours keep a 4.5:1 contrast or more. */
export const CONSOLE_CSS = `
:root { --fg: #1a1a1a; --muted: #4a4a4a; --bg: #ffffff; --panel: #f4f5f7; --line: #c9ccd1; --accent: #0b57d0; --accent-fg: #ffffff; --danger: #a50e0e; --ok: #0f6b2f; font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; }
* { box-sizing: border-box; }
body { margin: 0; color: var(--fg); background: var(--bg); font-size: 15px; line-height: 1.45; }
.skip { position: absolute; left: -999px; } .skip:focus { left: 8px; top: 8px; background: var(--bg); padding: 4px 8px; z-index: 10; }
header.top { display: flex; align-items: center; gap: 16px; padding: 10px 20px; background: #13233f; color: #fff; }
header.top .brand { font-weight: 700; font-size: 17px; } header.top #who { flex: 1; }
header.top button { background: transparent; color: #fff; border-color: #fff; }
nav ul { list-style: none; display: flex; flex-wrap: wrap; gap: 4px; margin: 0; padding: 8px 20px; border-bottom: 1px solid var(--line); background: var(--panel); }
nav button[aria-current="page"] { background: var(--accent); color: var(--accent-fg); border-color: var(--accent); }
nav .sep { border-left: 1px solid var(--line); margin: 0 8px; }
main { padding: 16px 20px 40px; max-width: 1200px; } main.narrow { max-width: 460px; margin: 60px auto; }
h1 { font-size: 22px; margin: 0 0 16px; } h2 { font-size: 18px; margin: 24px 0 8px; }
label { display: block; font-weight: 600; margin: 10px 0 4px; }
input, select, textarea { font: inherit; padding: 6px 8px; border: 1px solid #6b6f76; border-radius: 4px; width: 100%; max-width: 420px; background: #fff; color: var(--fg); }
input[type=checkbox] { width: auto; }
button, .button { font: inherit; display: inline-block; padding: 6px 14px; border: 1px solid #6b6f76; border-radius: 4px; background: #fff; color: var(--fg); cursor: pointer; text-decoration: none; }
button.primary, .button.primary { background: var(--accent); color: var(--accent-fg); border-color: var(--accent); }
button.danger { color: var(--danger); border-color: var(--danger); }
button:focus-visible, .button:focus-visible, input:focus-visible, select:focus-visible, a:focus-visible { outline: 3px solid #f9ab00; outline-offset: 2px; }
.help { color: var(--muted); font-size: 13px; margin: 4px 0; } .or { color: var(--muted); text-align: center; }
.error { color: var(--danger); font-weight: 600; } .ok { color: var(--ok); }
table { border-collapse: collapse; width: 100%; margin: 8px 0; font-size: 14px; }
th, td { text-align: left; padding: 6px 8px; border-bottom: 1px solid var(--line); vertical-align: top; }
th { background: var(--panel); } td.actions { white-space: nowrap; } td.actions button { margin-right: 4px; }
.grid { display: grid; grid-template-columns: repeat(auto-fill, minmax(200px, 1fr)); gap: 8px 16px; align-items: end; }
fieldset { border: 1px solid var(--line); border-radius: 6px; padding: 8px 14px 14px; margin: 12px 0; } legend { font-weight: 600; padding: 0 4px; }
.secret { background: #fff8e1; border: 1px solid #b28704; border-radius: 6px; padding: 12px; margin: 12px 0; }
pre, code { font-family: ui-monospace, Menlo, Consolas, monospace; font-size: 13px; } pre { background: var(--panel); padding: 8px; overflow-x: auto; border-radius: 4px; }
.state-active { color: var(--ok); } .state-revoked, .state-ended { color: var(--danger); } .state-expired { color: var(--muted); }
.chart { margin: 8px 0 16px; } .chart svg { max-width: 100%; height: auto; border: 1px solid var(--line); background: #fff; }
.row { display: flex; gap: 8px; align-items: center; flex-wrap: wrap; margin: 8px 0; }
`;
