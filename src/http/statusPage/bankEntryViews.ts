import type { entryDetail, entryView } from "../routes/bankEntries.js";
import { formatMoney, formatTime } from "./format.js";
import { href, type Html, html } from "./html.js";
import { page } from "./layout.js";
import type { PageFrame } from "./model.js";
import { headerBar } from "./statusView.js";

/**
 * GET /bank-entries (search) and GET /bank-entries/{bank}/{entry_id} (one entry) on the status page: the data of
 * the bank-entries API as HTML, and for an operator the match/unmatch forms (CSRF-protected, see csrf.ts).
 */

export type EntryListItem = ReturnType<typeof entryView>;
export type EntryDetail = Awaited<ReturnType<typeof entryDetail>>;

export interface EntrySearch {
  q: string;
  amount: string;
  currency: string;
  from: string;
  to: string;
  state: string;
}

export const ENTRY_PAGE_STATES = ["matched", "tentative", "unmatched", "ambiguous", "duplicate", "conflict"] as const;

export function entryPath(bank: string, entryId: string): string {
  return href("bank-entries", bank, entryId);
}

const BADGE: Record<string, string> = {
  matched: "ok",
  tentative: "warn",
  ambiguous: "warn",
  unmatched: "bad",
  duplicate: "bad",
  conflict: "bad",
};

function stateBadge(state: string): Html {
  return html`<span class="badge ${BADGE[state] ?? "warn"}">${state}</span>`;
}

function matchTarget(match: { payment_id: string | null; batch_id: string | null; gateway: string | null }): Html {
  if (match.payment_id) return html`payment <a href="${href("payments", match.payment_id)}">${match.payment_id}</a>`;
  return html`batch ${match.batch_id ?? "?"}${match.gateway ? html` <span class="muted">${match.gateway}</span>` : ""}`;
}

export function entrySearchPage(
  data: PageFrame & { search: EntrySearch; items: EntryListItem[]; next: string | null; error?: string },
): Html {
  const s = data.search;
  const states = ["", ...ENTRY_PAGE_STATES].map(
    (state) => html`<option value="${state}"${state === s.state ? html` selected` : ""}>${state || "any"}</option>`,
  );
  const nextLink = data.next
    ? html`<p><a id="next-page" href="/bank-entries?${new URLSearchParams({ ...s, cursor: data.next }).toString()}">older entries →</a></p>`
    : "";
  const body = html`<p><a href="/">← status</a></p>
<section id="entry-search"><h2>Bank entries</h2>
<form method="get" action="/bank-entries">
<label>words <input name="q" value="${s.q}" placeholder="remittance text, end-to-end id"></label>
<label>amount <input name="amount" value="${s.amount}" size="10" placeholder="120.00"></label>
<label>currency <input name="currency" value="${s.currency}" size="4" maxlength="3" placeholder="EUR"></label>
<label>value date from <input type="date" name="from" value="${s.from}"></label>
<label>to <input type="date" name="to" value="${s.to}"></label>
<label>state <select name="state">${states}</select></label>
<button type="submit">search</button>
</form>
${data.error ? html`<div class="notice warning" id="search-error">${data.error}</div>` : ""}
<p class="note">Newest value date first. Words are matched whole against end-to-end ids and remittance text; an
amount is in major units (120.00), of any currency unless one is given.</p>
${
  data.items.length === 0
    ? html`<p id="no-entries">No bank entry matches.</p>`
    : html`<table id="entries"><thead><tr><th>entry</th><th>bank</th><th>value date</th><th>direction</th><th class="num">amount</th><th>state</th><th>remittance</th><th>counterparty</th><th>matched to</th></tr></thead>
<tbody>${data.items.map(
        (e) =>
          html`<tr data-entry="${e.entry_id}"><td><a href="${entryPath(e.bank, e.entry_id)}">${e.entry_id}</a></td><td>${e.bank}</td><td>${e.value_date}</td><td>${e.direction}</td><td class="num">${formatMoney(e.amount_minor, e.currency)}</td><td>${stateBadge(e.state)}</td><td>${e.remittance_info ?? "—"}</td><td>${e.counterparty_name ?? "—"}</td><td>${e.match ? matchTarget(e.match) : html`<span class="muted">—</span>`}</td></tr>`,
      )}</tbody></table>`
}
${nextLink}
</section>`;
  return page({ title: "bank entries · payrecon", header: headerBar(data), body });
}

export interface EntryPageData extends PageFrame {
  entry: EntryDetail;
  /** The CSRF token of this entry's forms; absent for anyone but an operator (no forms). */
  formToken?: string;
  notice?: { kind: "ok" | "warning"; text: string };
}

function noteInput(): Html {
  return html`<label>note <input name="note" size="40" maxlength="4000"></label>`;
}

function operatorForms(data: EntryPageData): Html {
  const e = data.entry;
  if (!data.formToken) return html``;
  const action = (verb: string) => `${entryPath(e.bank, e.entry_id)}/${verb}`;
  const csrf = html`<input type="hidden" name="csrf" value="${data.formToken}">`;
  const unmatch = e.match
    ? html`<form method="post" action="${action("unmatch")}" id="unmatch-form">${csrf}${noteInput()}
<button type="submit">unmatch</button></form>`
    : "";
  return html`<section id="decide"><h2>Decide by hand</h2>
<p class="note">A manual match wins over every rule; an unmatch keeps the rules from pairing this entry with its
current payment or batch again. Both are recorded with your role, token fingerprint, time and note.</p>
<form method="post" action="${action("match")}" id="match-form">${csrf}
<label>payment id <input name="payment_id" required maxlength="200"></label> ${noteInput()}
<button type="submit">match</button></form>
${unmatch}
</section>`;
}

export function entryPage(data: EntryPageData): Html {
  const e = data.entry;
  const fields: Array<[string, Html | string]> = [
    ["state", stateBadge(e.state)],
    ["bank", e.bank],
    ["account", e.account],
    ["direction", e.direction],
    ["amount", formatMoney(e.amount_minor, e.currency)],
    ["booking date", e.booking_date],
    ["value date", e.value_date],
    ["status at the bank", e.status],
    ["end-to-end id", e.end_to_end_id ?? "—"],
    ["remittance", e.remittance_info ?? "—"],
    ["counterparty", e.counterparty_name ?? "—"],
    ["return reason", e.return_reason ?? "—"],
    ["received", formatTime(new Date(e.received_at))],
  ];
  const candidateAction = `${entryPath(e.bank, e.entry_id)}/match`;
  const body = html`<p><a href="/bank-entries">← bank entries</a></p>
${data.notice ? html`<div class="notice ${data.notice.kind === "warning" ? "warning" : ""}" id="decision-notice">${data.notice.text}</div>` : ""}
<section id="entry"><h2>Bank entry ${e.entry_id}</h2>
<dl class="kv">${fields.map(([name, value]) => html`<dt>${name}</dt><dd>${value}</dd>`)}</dl>
</section>
<section id="entry-matches"><h2>Match</h2>
${
  e.matches.length === 0
    ? html`<p>Matched to nothing.</p>`
    : html`<table><thead><tr><th>matched to</th><th>rule</th><th>tentative</th><th>explanation</th></tr></thead>
<tbody>${e.matches.map(
        (m) =>
          html`<tr data-rule="${m.rule}"><td>${matchTarget(m)}</td><td>${m.rule}</td><td>${m.tentative ? "yes (pending at the bank)" : "no"}</td><td class="explanation">${m.explanation}</td></tr>`,
      )}</tbody></table>`
}
</section>
${
  e.candidates.length === 0
    ? ""
    : html`<section id="entry-candidates"><h2>Candidates (ambiguous)</h2>
<p class="note">The entry fits more than one payment or batch equally well; the rules leave it to a person.</p>
<table><thead><tr><th>candidate</th><th>rule</th><th>explanation</th>${data.formToken ? html`<th></th>` : ""}</tr></thead>
<tbody>${e.candidates.map(
        (c) =>
          html`<tr data-candidate="${c.payment_id ?? c.batch_id ?? ""}"><td>${matchTarget(c)}</td><td>${c.rule}</td><td class="explanation">${c.explanation}</td>${
            data.formToken
              ? html`<td>${
                  c.payment_id
                    ? html`<form method="post" action="${candidateAction}"><input type="hidden" name="csrf" value="${data.formToken}"><input type="hidden" name="payment_id" value="${c.payment_id}">${noteInput()} <button type="submit">match to ${c.payment_id}</button></form>`
                    : ""
                }</td>`
              : ""
          }</tr>`,
      )}</tbody></table></section>`
}
${operatorForms(data)}
<section id="entry-exceptions"><h2>Exceptions</h2>
${
  e.exceptions.length === 0
    ? html`<p>None.</p>`
    : html`<table><thead><tr><th>#</th><th>kind</th><th>state</th><th>opened</th><th>detail</th></tr></thead>
<tbody>${e.exceptions.map(
        (x) =>
          html`<tr><td>${x.id}</td><td>${x.kind}</td><td>${x.state}</td><td>${formatTime(new Date(x.opened_at))}</td><td>${x.detail}</td></tr>`,
      )}</tbody></table>`
}
</section>
<section id="entry-audit"><h2>Operators' decisions</h2>
${
  e.audit.length === 0
    ? html`<p>None.</p>`
    : html`<table><thead><tr><th>at</th><th>actor</th><th>action</th><th>target</th><th>note</th></tr></thead>
<tbody>${e.audit.map(
        (a) =>
          html`<tr><td>${formatTime(new Date(a.at))}</td><td>${a.actor}</td><td>${a.action}</td><td>${a.target}</td><td>${a.note ?? "—"}</td></tr>`,
      )}</tbody></table>`
}
</section>`;
  return page({ title: `bank entry ${e.entry_id} · payrecon`, header: headerBar(data), body });
}
