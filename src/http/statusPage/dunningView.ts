import type { DunningRecordRow } from "../../db/queries/dunning.js";
import type { Access } from "./access.js";
import { formatAmount, formatTime } from "./format.js";
import { type Html, html } from "./html.js";
import { page } from "./layout.js";
import type { Readiness } from "./model.js";
import { headerBar } from "./statusView.js";

/**
 * GET /dunning: today's dunning work list for a signed-in operator or viewer — the payments with a reminder step
 * due, oldest first, with their last contact and promise; the same rows as GET /api/v1/dunning?state=due.
 */

export interface DunningPageData {
  now: Date;
  version: string;
  commit: string;
  readiness: Readiness;
  access: Access;
  due: DunningRecordRow[];
  /** Open records with a promise running: not due, watched until the promised day passes. */
  promised: DunningRecordRow[];
}

const DAY_MS = 86_400_000;

function lastContact(row: DunningRecordRow): Html {
  const contact = row.contacts[row.contacts.length - 1];
  if (!contact) return html`<span class="muted">none</span>`;
  return html`${formatTime(new Date(contact.at))} · ${contact.channel}${contact.note ? html` · ${contact.note}` : ""}`;
}

function promiseCell(row: DunningRecordRow): Html {
  const promise = [...row.contacts].reverse().find((contact) => contact.promised_by !== null);
  if (!promise) return html`<span class="muted">—</span>`;
  const badge = promise.promise_state === "broken" ? "bad" : promise.promise_state === "kept" ? "ok" : "warn";
  return html`${promise.promised_by} <span class="badge ${badge}">${promise.promise_state ?? ""}</span>`;
}

function rows(list: DunningRecordRow[], now: Date): Html {
  return html`${list.map((row) => {
    const due = row.steps.filter((step) => step.state === "due").map((step) => step.step);
    const days = Math.max(0, Math.floor((now.getTime() - row.since.getTime()) / DAY_MS));
    const outstanding = Math.max(0, row.amount_minor - row.settled_amount_minor);
    return html`<tr data-payment="${row.payment_id}"><td><a href="/payments/${encodeURIComponent(row.payment_id)}">${row.payment_id}</a></td><td>${row.counterparty ?? "—"}</td><td>${row.direction === "collection" ? "they owe us" : "we owe them"} <span class="muted">${row.reason}</span></td><td class="num">${formatAmount(outstanding, row.currency)} ${row.currency}</td><td class="num">${days}</td><td>${due.length > 0 ? `step ${due.join(", ")} of ${row.steps.length}` : "—"}</td><td>${row.priority ?? "—"}${row.exception_id ? html` <span class="muted">#${row.exception_id}</span>` : ""}</td><td>${lastContact(row)}</td><td>${promiseCell(row)}</td></tr>`;
  })}`;
}

const HEAD = html`<thead><tr><th>payment</th><th>counterparty</th><th>owed</th><th class="num">outstanding</th><th class="num">days</th><th>reminder</th><th>priority</th><th>last contact</th><th>promise</th></tr></thead>`;

export function dunningPage(data: DunningPageData): Html {
  const body = html`<p><a href="/">← status</a></p>
<section id="dunning-due"><h2>Dunning: reminders due (${data.due.length})</h2>
<p class="note">Delayed collections and failed or held payouts whose reminder step is due, oldest first. Record a
contact with <code>POST /api/v1/exceptions/{id}/actions</code> <code>{"action": "contacted", "channel": "phone", "promised_by": "YYYY-MM-DD"}</code>.</p>
${data.due.length === 0 ? html`<p>Nothing is due.</p>` : html`<table>${HEAD}<tbody>${rows(data.due, data.now)}</tbody></table>`}
</section>
<section id="dunning-promised"><h2>Promises running (${data.promised.length})</h2>
<p class="note">A promise whose day passes unpaid raises the exception one priority and is notified.</p>
${data.promised.length === 0 ? html`<p>None.</p>` : html`<table>${HEAD}<tbody>${rows(data.promised, data.now)}</tbody></table>`}
</section>`;
  return page({ title: "dunning · payrecon", header: headerBar(data), body });
}
