import { type Html, html, trusted } from "./html.js";

/** The page shell: inline CSS only (the CSP allows no other source), readable without JavaScript. */

const STYLE = trusted(`
:root { color-scheme: light; --bad: #b42318; --bad-bg: #fef3f2; --warn: #b54708; --warn-bg: #fffaeb;
  --ok: #067647; --ok-bg: #ecfdf3; --muted: #667085; --line: #e4e7ec; }
* { box-sizing: border-box; }
body { margin: 0; font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: #101828; background: #f9fafb; }
header { background: #101828; color: #fff; padding: 12px 24px; display: flex; flex-wrap: wrap; gap: 8px 24px; align-items: center; }
header h1 { font-size: 18px; margin: 0; }
header h1 a { color: inherit; text-decoration: none; }
header a { color: #d0d5dd; }
header .meta { color: #d0d5dd; font-size: 13px; }
main { padding: 16px 24px 32px; max-width: 1400px; }
section { overflow-x: auto; background: #fff; border: 1px solid var(--line); border-radius: 8px; padding: 12px 16px; margin: 0 0 16px; }
h2 { font-size: 16px; margin: 0 0 8px; }
h3 { font-size: 14px; margin: 12px 0 6px; }
p.note { color: var(--muted); margin: 4px 0 8px; font-size: 13px; }
table { border-collapse: collapse; width: 100%; }
th, td { text-align: left; padding: 4px 8px; border-bottom: 1px solid var(--line); vertical-align: top; }
th { font-weight: 600; color: #344054; background: #f9fafb; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
td.count { color: var(--muted); font-size: 12px; }
.badge { display: inline-block; padding: 1px 8px; border-radius: 10px; font-size: 12px; font-weight: 600; }
.bad { color: var(--bad); background: var(--bad-bg); }
.warn { color: var(--warn); background: var(--warn-bg); }
.ok { color: var(--ok); background: var(--ok-bg); }
tr.flag td { background: var(--bad-bg); }
.muted { color: var(--muted); }
.grid { display: grid; grid-template-columns: repeat(auto-fit, minmax(min(100%, 480px), 1fr)); gap: 16px; }
.grid > section { margin: 0; }
.notice { border-left: 4px solid #2e90fa; background: #eff8ff; padding: 8px 12px; margin: 0 0 16px; border-radius: 4px; }
.notice.warning { border-color: var(--warn); background: var(--warn-bg); }
code { font: 12px ui-monospace, SFMono-Regular, Menlo, monospace; background: #f2f4f7; padding: 1px 4px; border-radius: 4px; word-break: break-all; }
dl.kv { display: grid; grid-template-columns: max-content 1fr; gap: 2px 16px; margin: 0; }
dl.kv dt { color: var(--muted); }
dl.kv dd { margin: 0; }
figure.chart { margin: 0 0 12px; }
figure.chart svg { display: block; max-width: 560px; height: auto; }
figure.chart figcaption { font-size: 13px; }
.legend-item { margin-right: 10px; white-space: nowrap; }
.swatch { display: inline-block; width: 10px; height: 10px; border-radius: 2px; margin-right: 4px; vertical-align: middle; }
.windows a, .windows strong { margin-left: 6px; }
footer { color: var(--muted); font-size: 12px; padding: 0 24px 24px; }
`);

export function page(options: { title: string; header: Html; body: Html; refreshSeconds?: number }): Html {
  return html`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
${options.refreshSeconds ? html`<meta http-equiv="refresh" content="${options.refreshSeconds}">` : ""}
<meta name="referrer" content="no-referrer">
<link rel="icon" href="data:,">
<title>${options.title}</title>
<style>${STYLE}</style>
</head>
<body>
<header>${options.header}</header>
<main>
${options.body}
</main>
<footer>payrecon · <a href="/">status</a> · <a href="/dunning">dunning</a> · <a href="/bank-entries">bank entries</a> · <a href="/readyz">readyz</a> · <a href="/metrics">metrics</a> · the API is under <code>/api/v1</code> (bearer tokens)</footer>
</body>
</html>
`;
}
