import type { PaymentRow, TimelineRow } from "../../db/queries/paymentViews.js";
import type { Access } from "./access.js";
import { humanizeInstantText } from "../../messages/display.js";
import { formatAmount, formatMoney, formatTime } from "./format.js";
import { type Html, html } from "./html.js";
import { page } from "./layout.js";
import type { Readiness } from "./model.js";
import { headerBar } from "./statusView.js";

/** GET /payments/{id}: the data of GET /api/v1/payments/{id} as HTML — summary, exceptions, timeline. */

export interface PaymentPageData {
  now: Date;
  version: string;
  commit: string;
  readiness: Readiness;
  access: Access;
  payment: PaymentRow;
  exceptions: Array<{
    id: number;
    kind: string;
    state: string;
    priority: string;
    amount_minor: number;
    currency: string;
    detail: string;
    opened_at: Date;
    resolved_at: Date | null;
  }>;
  timeline: TimelineRow[];
}

const BAD = new Set(["failed", "held", "delayed", "mismatch", "charged_back"]);
const GOOD = new Set(["settled"]);

function statusBadge(status: string): Html {
  return html`<span class="badge ${BAD.has(status) ? "bad" : GOOD.has(status) ? "ok" : "warn"}">${status}</span>`;
}

/** For people: a `*_minor` amount in major units with its currency, an ISO instant in the page's date format. */
function detailEntry(key: string, value: unknown, currency: string): [string, string] {
  if (key.endsWith("_minor") && typeof value === "number" && Number.isSafeInteger(value))
    return [key.slice(0, -"_minor".length), formatMoney(value, currency)];
  if (typeof value === "string") return [key, humanizeInstantText(value)];
  return [key, JSON.stringify(value)];
}

function timelineDetail(detail: Record<string, unknown>, paymentCurrency: string): Html {
  // A gateway event or bank line names its own currency; the expected versions and batches are the payment's.
  const currency = typeof detail?.currency === "string" ? detail.currency : paymentCurrency;
  const entries = Object.entries(detail ?? {})
    .filter(([, value]) => value !== null && value !== undefined)
    .map(([key, value]) => detailEntry(key, value, currency));
  if (entries.length === 0) return html`<span class="muted">—</span>`;
  return html`${entries.map(([key, value], i) => html`${i > 0 ? html`<br>` : ""}<span class="muted">${key}</span> ${value}`)}`;
}

export function paymentPage(data: PaymentPageData): Html {
  const p = data.payment;
  const amount = (minor: number) => `${formatAmount(minor, p.currency)} ${p.currency}`;
  const fields: Array<[string, Html | string]> = [
    ["status", statusBadge(p.status)],
    ["status reason", p.status_reason || "—"],
    ["status since", formatTime(p.status_since)],
    ["reference", p.reference],
    ["direction", p.direction],
    ["gateway", p.gateway],
    ["counterparty", p.counterparty ?? "—"],
    ["amount", amount(p.amount_minor)],
    ["settled", amount(p.settled_amount_minor)],
    ["at risk", amount(p.at_risk_minor)],
    ["failure category", p.failure_category ?? "—"],
    ["failure code", p.failure_code ?? "—"],
    ["failure message", p.failure_message ?? "—"],
    ["retry advice", p.retry_advice ?? "—"],
    ["hold reason", p.hold_reason ?? "—"],
    ["settled late", p.settled_late ? "yes" : "no"],
    ["settled on", p.settled_on ?? "—"],
    ["created", formatTime(p.created_at)],
    ["due", formatTime(p.due_at)],
    ["accepted by gateway", formatTime(p.accepted_at)],
    ["overdue since", formatTime(p.overdue_since)],
    ["flags", p.flags.length > 0 ? p.flags.join(", ") : "—"],
  ];
  const body = html`<p><a href="/">← status</a></p>
<section id="payment"><h2>Payment ${p.id}</h2>
<dl class="kv">${fields.map(([name, value]) => html`<dt>${name}</dt><dd>${value}</dd>`)}</dl>
</section>
<section id="payment-exceptions"><h2>Exceptions</h2>
${
  data.exceptions.length === 0
    ? html`<p>None.</p>`
    : html`<table><thead><tr><th>#</th><th>kind</th><th>state</th><th class="num">amount at risk</th><th>opened</th><th>resolved</th><th>detail</th></tr></thead>
<tbody>${data.exceptions.map(
        (e) =>
          html`<tr><td>${e.id}</td><td>${e.kind}</td><td>${e.state} <span class="muted">${e.priority}</span></td><td class="num">${formatAmount(e.amount_minor, e.currency)} ${e.currency}</td><td>${formatTime(e.opened_at)}</td><td>${formatTime(e.resolved_at)}</td><td>${e.detail}</td></tr>`,
      )}</tbody></table>`
}
</section>
<section id="timeline"><h2>Timeline</h2>
<p class="note">Every fact about this payment and every status change, in time order.</p>
<table><thead><tr><th>at</th><th>source</th><th>type</th><th>detail</th></tr></thead>
<tbody>${data.timeline.map(
    (entry) =>
      html`<tr data-type="${entry.type}"><td>${formatTime(entry.at)}</td><td>${entry.source}</td><td>${entry.type}</td><td>${timelineDetail(entry.detail, p.currency)}</td></tr>`,
  )}</tbody></table>
</section>`;
  return page({ title: `payment ${p.id} · payrecon`, header: headerBar(data), body });
}

/** A short page for 401 / 404 on the HTML views. */
export function messagePage(data: {
  now: Date;
  version: string;
  commit: string;
  readiness: Readiness;
  access: Access;
  title: string;
  message: Html;
}) {
  const body = html`<p><a href="/">← status</a></p><section id="message"><h2>${data.title}</h2><p>${data.message}</p></section>`;
  return page({ title: `${data.title} · payrecon`, header: headerBar(data), body });
}
