import { EXCEPTION_KINDS } from "../../reconcile/types.js";
import type { StatusExceptionRow } from "../../db/queries/statusPage.js";
import type { Access } from "./access.js";
import { ageSeconds, formatAge, formatAmount, formatRatio, formatTime } from "./format.js";
import { type Html, href, html } from "./html.js";
import { page } from "./layout.js";
import { TREND_WINDOWS, type Trends, trendsSection } from "./trends.js";
import {
  AT_RISK_STATUSES,
  type ExceptionSummaryRow,
  FAILURE_RATIO_FLAG,
  FAILURE_RATIO_MIN_OUTCOMES,
  type FreshnessRow,
  type FundsAtRiskRow,
  type GatewayFailureRow,
  type HeldRow,
  type LagRow,
  type Outcomes,
  type Readiness,
} from "./model.js";

const KIND_ORDER: readonly string[] = EXCEPTION_KINDS;

/** Column titles of funds at risk: what amount each status contributes. */
const AT_RISK_TITLES: Record<(typeof AT_RISK_STATUSES)[number], string> = {
  failed: "failed (unsettled)",
  held: "held (unsettled)",
  delayed: "delayed (unsettled)",
  mismatch: "mismatch (difference)",
};

/** GET / : the status page. Payment-level details only when `access` is granted. */

export interface StatusPageData {
  now: Date;
  version: string;
  commit: string;
  readiness: Readiness;
  access: Access;
  /** Set when the database could not be read: the sections below are then empty. */
  unavailable?: string;
  funds: FundsAtRiskRow[];
  ratios: GatewayFailureRow[];
  /** Payments held now, per gateway and direction. */
  held: HeldRow[];
  summary: ExceptionSummaryRow[];
  oldest?: StatusExceptionRow[];
  largest?: StatusExceptionRow[];
  freshness: FreshnessRow[];
  lag: LagRow[];
  kafkaConfigured: boolean;
  /** Funds at risk, payout failures and settlement delay over the chosen window (absent when unreadable). */
  trends?: Trends;
  /** The largest-exceptions list in one currency only (`?currency=`), or across all in major units. */
  largestCurrency?: string;
}

export function headerBar(options: {
  now: Date;
  version: string;
  commit: string;
  readiness: Readiness;
  access: Access;
}) {
  const { readiness, access } = options;
  const checks = `postgres ${readiness.checks.postgres}, migrations ${readiness.checks.migrations}, kafka ${readiness.checks.kafka}`;
  return html`<h1><a href="/">payrecon status</a></h1>
<span class="badge ${readiness.ready ? "ok" : "bad"}" id="readiness" title="${checks}">${readiness.ready ? "ready" : "not ready"}</span>
<span class="meta">${checks}</span>
<span class="meta" id="build">version ${options.version}${options.commit && options.commit !== "unknown" ? html` · commit ${options.commit}` : ""}</span>
<span class="meta">as of ${formatTime(options.now)}</span>
<span class="meta" id="access">${
    access.kind === "granted"
      ? html`signed in as <strong>${access.role}</strong> (${access.actor})`
      : html`public view · <a href="/login">sign in</a>`
  }</span>`;
}

export function accessNotices(access: Access): Html {
  const notices: Html[] = [];
  if (access.tokenInUrl) {
    notices.push(html`<div class="notice warning" id="token-in-url">A token in the URL (<code>?token=</code>) is not
accepted: URLs stay in browser history, proxy logs and screenshots. It was ignored and is not shown anywhere; consider
rotating it. <a href="/login">Sign in</a> instead, or send an <code>Authorization</code> header.</div>`);
  }
  if (access.kind === "invalid") {
    notices.push(html`<div class="notice warning">The token presented is not valid: showing the public view.
<a href="/login">Sign in again</a>.</div>`);
  } else if (access.kind === "forbidden") {
    notices.push(html`<div class="notice warning">The <strong>${access.role}</strong> role cannot see payment
details (viewer or operator can): showing the public view.</div>`);
  }
  if (access.kind !== "granted") {
    notices.push(html`<div class="notice" id="how-to-authenticate">Public view: totals, counts and freshness only.
Payment ids, counterparties and individual exceptions need a <strong>viewer</strong> or <strong>operator</strong>
token — in a browser, <a href="/login">sign in</a> and give the token as the password (any user name); from a script,
send <code>Authorization: Bearer &lt;token&gt;</code>.</div>`);
  }
  return html`${notices}`;
}

function amountCell(amountMinor: number, count: number, currency: string, attrs: Html = html``) {
  if (count === 0 && amountMinor === 0) return html`<td class="num muted" ${attrs}>—</td>`;
  return html`<td class="num" ${attrs}>${formatAmount(amountMinor, currency)} <span class="muted">(${count})</span></td>`;
}

function attentionList(data: StatusPageData): Html {
  const items: Html[] = [];
  for (const row of data.ratios) {
    if (row.payout.flagged)
      items.push(
        html`<li><strong>${row.gateway}</strong>: ${formatRatio(row.payout.ratio)} of payouts failed (${row.payout.failed} of ${row.payout.failed + row.payout.settled})</li>`,
      );
    if (row.collection.flagged)
      items.push(
        html`<li><strong>${row.gateway}</strong>: ${formatRatio(row.collection.ratio)} of collections failed (${row.collection.failed} of ${row.collection.failed + row.collection.settled})</li>`,
      );
  }
  for (const row of data.trends?.fixFirst ?? [])
    items.push(
      html`<li data-attention="fix-first"><strong>${row.count} ${row.direction}s failed for ${row.category}</strong> ${
        data.trends ? TREND_WINDOWS[data.trends.range.window].label : ""
      }: the account data must be fixed before a retry</li>`,
    );
  for (const row of data.held)
    items.push(
      html`<li data-attention="held"><strong>${row.gateway}</strong>: ${row.count} ${row.direction}${row.count === 1 ? "" : "s"} held</li>`,
    );
  for (const kind of ["statement_gap", "statement_imbalance"] as const) {
    const rows = data.summary.filter((r) => r.kind === kind);
    const count = rows.reduce((sum, row) => sum + row.count, 0);
    if (count === 0) continue;
    items.push(
      html`<li data-attention="${kind}"><strong>${count} bank statement${count === 1 ? "" : "s"} ${
        kind === "statement_gap" ? "not continuing the previous one" : "not adding up"
      }</strong> (${kind}; ${rows.map((row) => row.currency).join(", ")}): ${
        kind === "statement_gap" ? "a statement is missing or a balance is wrong" : "a line is missing or wrong"
      }</li>`,
    );
  }
  for (const row of data.freshness.filter((r) => r.stale))
    items.push(html`<li>${row.kind} <strong>${row.source}</strong> silent for ${formatAge(row.ageSeconds)}</li>`);
  const unmatched = data.summary.filter((row) => row.kind === "unmatched");
  for (const row of unmatched)
    items.push(
      html`<li>${row.count} unmatched item${row.count === 1 ? "" : "s"}: ${formatAmount(row.amount_minor, row.currency)} ${row.currency}</li>`,
    );
  const lagTotal = data.lag.reduce((sum, row) => sum + row.total, 0);
  if (lagTotal > 0) items.push(html`<li>consumer lag: ${lagTotal} messages</li>`);
  if (items.length === 0) return html`<p class="note">Nothing flagged.</p>`;
  return html`<ul>${items}</ul>`;
}

function fundsSection(rows: FundsAtRiskRow[]): Html {
  return html`<section id="funds-at-risk"><h2>Funds at risk</h2>
<p class="note">Amount at risk, in major units of each currency (count of payments in brackets): for failed, held and
delayed payments what is not settled; for a mismatch the difference between the expected amount and what the bank
shows (the report's mismatch column holds those payments' expected amounts). Currencies are not converted.</p>
${
  rows.length === 0
    ? html`<p>No funds at risk.</p>`
    : html`<table><thead><tr><th>currency</th><th>direction</th>${AT_RISK_STATUSES.map((s) => html`<th class="num">${AT_RISK_TITLES[s]}</th>`)}<th class="num">total at risk</th></tr></thead>
<tbody>${rows.map(
        (row) =>
          html`<tr data-currency="${row.currency}" data-direction="${row.direction}"><td>${row.currency}</td><td>${row.direction}</td>${AT_RISK_STATUSES.map(
            (status) =>
              amountCell(
                row.byStatus[status].amountMinor,
                row.byStatus[status].count,
                row.currency,
                html`data-status="${status}"`,
              ),
          )}${amountCell(row.totalMinor, row.totalCount, row.currency, html`data-status="total"`)}</tr>`,
      )}</tbody></table>`
}
</section>`;
}

function ratioCell(outcome: Outcomes, kind: string): Html {
  if (outcome.ratio === null) return html`<td class="num muted" data-kind="${kind}">—</td>`;
  return html`<td class="num" data-kind="${kind}">${
    outcome.flagged ? html`<span class="badge bad">${formatRatio(outcome.ratio)}</span>` : formatRatio(outcome.ratio)
  } <span class="muted">(${outcome.failed}/${outcome.failed + outcome.settled})</span></td>`;
}

function ratiosSection(rows: GatewayFailureRow[]): Html {
  return html`<section id="failure-ratios"><h2>Failure ratio by gateway</h2>
<p class="note">failed / (settled + failed), from the current status of every payment. Flagged from
${formatRatio(FAILURE_RATIO_FLAG)} with at least ${FAILURE_RATIO_MIN_OUTCOMES} outcomes.</p>
${
  rows.length === 0
    ? html`<p>No settled or failed payments yet.</p>`
    : html`<table><thead><tr><th>gateway</th><th class="num">payouts</th><th class="num">collections</th><th class="num">all</th></tr></thead>
<tbody>${rows.map(
        (row) =>
          html`<tr data-gateway="${row.gateway}"${row.payout.flagged || row.collection.flagged ? html` class="flag"` : ""}><td>${row.gateway}</td>${ratioCell(row.payout, "payout")}${ratioCell(row.collection, "collection")}${ratioCell(row.all, "all")}</tr>`,
      )}</tbody></table>`
}
</section>`;
}

function summarySection(rows: ExceptionSummaryRow[], now: Date): Html {
  const sorted = [...rows].sort(
    (a, b) => KIND_ORDER.indexOf(a.kind) - KIND_ORDER.indexOf(b.kind) || a.currency.localeCompare(b.currency),
  );
  const total = rows.reduce((sum, row) => sum + row.count, 0);
  return html`<h3>By kind <span class="muted">(${total} unresolved)</span></h3>
${
  sorted.length === 0
    ? html`<p>No open exceptions.</p>`
    : html`<table id="exception-summary"><thead><tr><th>kind</th><th>currency</th><th class="num">count</th><th class="num">amount at risk</th><th class="num">oldest</th></tr></thead>
<tbody>${sorted.map(
        (row) =>
          html`<tr data-kind="${row.kind}" data-currency="${row.currency}"><td>${row.kind}</td><td>${row.currency}</td><td class="num">${row.count}</td><td class="num">${formatAmount(row.amount_minor, row.currency)}</td><td class="num">${formatAge(ageSeconds(row.oldest, now))}</td></tr>`,
      )}</tbody></table>`
}`;
}

function subjectCell(row: StatusExceptionRow): Html {
  if (row.payment_id)
    return html`<a class="payment-link" href="${href("payments", row.payment_id)}">${row.payment_id}</a>${
      row.reference ? html`<br><span class="muted">${row.reference}</span>` : ""
    }`;
  if (row.entry_id) return html`bank entry ${row.entry_id}<br><span class="muted">${row.bank}</span>`;
  if (row.batch_id) return html`batch ${row.batch_id}`;
  if (row.event_id) return html`gateway event ${row.event_id}`;
  return html`${row.subject_key}`;
}

function exceptionTable(id: string, rows: StatusExceptionRow[], now: Date): Html {
  if (rows.length === 0) return html`<p>None.</p>`;
  return html`<table id="${id}"><thead><tr><th>#</th><th>kind</th><th>state</th><th>payment / entry</th><th>gateway / bank</th><th>counterparty</th><th class="num">amount at risk</th><th class="num">age</th><th>detail</th></tr></thead>
<tbody>${rows.map(
    (row) =>
      html`<tr data-exception="${row.id}"><td>${row.id}</td><td>${row.kind}</td><td>${row.state} <span class="muted">${row.priority}</span></td><td>${subjectCell(row)}</td><td>${row.gateway ?? row.bank ?? "—"}</td><td>${row.counterparty ?? "—"}</td><td class="num">${formatAmount(row.amount_minor, row.currency)} ${row.currency}</td><td class="num">${formatAge(ageSeconds(row.opened_at, now))}</td><td>${row.detail}</td></tr>`,
  )}</tbody></table>`;
}

/** Amounts of different currencies do not compare without FX rates: the list can be narrowed to one currency. */
function largestChooser(data: StatusPageData): Html {
  const currencies = [...new Set(data.summary.map((row) => row.currency))].sort();
  const choice = (label: string, target: string, current: boolean) =>
    current ? html`<strong>${label}</strong>` : html`<a href="${target}">${label}</a>`;
  return html`<p class="note" id="largest-currencies">${
    data.largestCurrency
      ? `In ${data.largestCurrency}.`
      : "By amount in major units across currencies (not converted: 1 JPY counts as much as 1 EUR)."
  } Show: ${choice("all currencies", "/#largest", data.largestCurrency === undefined)}${currencies.map(
    (currency) =>
      html` · ${choice(currency, `/?currency=${encodeURIComponent(currency)}#largest`, currency === data.largestCurrency)}`,
  )}</p>`;
}

function exceptionsSection(data: StatusPageData): Html {
  return html`<section id="exceptions"><h2>Open exceptions</h2>
${summarySection(data.summary, data.now)}
${
  data.oldest && data.largest
    ? html`<h3>Oldest (top 10)</h3>${exceptionTable("oldest-exceptions", data.oldest, data.now)}
<h3 id="largest">Largest (top 10)</h3>${largestChooser(data)}${exceptionTable("largest-exceptions", data.largest, data.now)}`
    : html`<p class="note">The oldest and largest exceptions, with their payments, are listed once you
<a href="/login">sign in</a>.</p>`
}
</section>`;
}

function freshnessSection(rows: FreshnessRow[]): Html {
  return html`<section id="freshness"><h2>Source freshness</h2>
<p class="note">When payrecon last received a message from each gateway and bank (source_freshness). Stale after the
thresholds the freshness alerts use (STALE_GATEWAY_AFTER, STALE_BANK_AFTER, longer Sunday to Tuesday UTC); expected payments (order and payout systems) are shown without a threshold.</p>
${
  rows.length === 0
    ? html`<p>No events received yet.</p>`
    : html`<table><thead><tr><th>source</th><th>kind</th><th>topic</th><th>last event</th><th class="num">age</th><th>state</th></tr></thead>
<tbody>${rows.map(
        (row) =>
          html`<tr data-source="${row.source}" data-kind="${row.kind}"${row.stale ? html` class="flag"` : ""}><td>${row.source}</td><td>${row.kind}</td><td>${row.topic}</td><td>${formatTime(row.lastEvent)}</td><td class="num">${formatAge(row.ageSeconds)}</td><td>${
            row.staleAfterSeconds === undefined
              ? html`<span class="muted">—</span>`
              : row.stale
                ? html`<span class="badge bad">stale</span> <span class="muted">&gt; ${formatAge(row.staleAfterSeconds)}</span>`
                : html`<span class="badge ok">fresh</span>`
          }</td></tr>`,
      )}</tbody></table>`
}
</section>`;
}

function lagSection(rows: LagRow[], kafkaConfigured: boolean): Html {
  return html`<section id="consumer-lag"><h2>Consumer lag</h2>
${
  rows.length === 0
    ? html`<p class="note">${
        kafkaConfigured
          ? "No lag measured yet by this instance."
          : "No Kafka consumers in this instance: events arrive over POST /api/v1/ingest."
      }</p>`
    : html`<p class="note">Messages not yet processed, as last measured by this instance (payrecon_consumer_lag).</p>
<table><thead><tr><th>topic</th><th class="num">total</th><th>partitions</th></tr></thead>
<tbody>${rows.map(
        (row) =>
          html`<tr data-topic="${row.topic}"><td>${row.topic}</td><td class="num">${row.total}</td><td>${row.partitions.map(
            (p, i) => html`${i > 0 ? ", " : ""}${p.partition}: ${p.lag}`,
          )}</td></tr>`,
      )}</tbody></table>`
}
</section>`;
}

export function statusPage(data: StatusPageData): Html {
  const body = html`${accessNotices(data.access)}
${data.unavailable ? html`<div class="notice warning" id="unavailable">${data.unavailable}</div>` : ""}
<section id="attention"><h2>Attention</h2>${attentionList(data)}</section>
${fundsSection(data.funds)}
${trendsSection(data.trends)}
<div class="grid">
${ratiosSection(data.ratios)}
${lagSection(data.lag, data.kafkaConfigured)}
</div>
${exceptionsSection(data)}
${freshnessSection(data.freshness)}`;
  return page({ title: "payrecon status", header: headerBar(data), body, refreshSeconds: 10 });
}
