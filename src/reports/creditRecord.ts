import type { CreditGroupRow } from "../db/queries/creditRecords.js";
import { CREDIT_WINDOWS_DAYS } from "../db/queries/creditRecords.js";
import { formatMajor } from "../messages/currencies.js";

/**
 * A counterparty's credit record (CONTRACT §9) from its payments that came due in the last 30, 90 and 365 days
 * (cancelled ones left out). Pure.
 *
 * Per window:
 *  - on-time rate: settled by the due date, among payments due in the window;
 *  - average days late: over the late ones — settled late (days from due date to the bank's settlement date) or
 *    still delayed (days overdue so far);
 *  - failure rate: failed among payments due, in all and per failure category;
 *  - open amount per currency: what is not settled of those still open (pending, in flight, partially settled,
 *    delayed, held, failed, mismatch).
 *
 * Risk band, from the 90-day window (the 365-day one when fewer than 3 payments came due in 90 days); the first
 * rule that holds decides:
 *  - D: a promise to pay broken in the last 90 days, on-time rate below 50 %, failure rate 20 % or more, or money
 *       delayed more than 30 days;
 *  - C: on-time rate below 75 %, failure rate 10 % or more, or on average more than 14 days late;
 *  - B: on-time rate below 95 %, failure rate 2 % or more, on average more than 3 days late, or fewer than 3
 *       payments due in 365 days (too little history to call it A);
 *  - A: otherwise.
 */

export type RiskBand = "A" | "B" | "C" | "D";
export const RISK_ORDER: Record<RiskBand, number> = { D: 0, C: 1, B: 2, A: 3 };

const OPEN_STATUSES = new Set(["pending", "in_flight", "partially_settled", "delayed", "held", "failed", "mismatch"]);

export interface CreditWindow {
  days: number;
  due: number;
  on_time: number;
  on_time_rate: number | null;
  late: number;
  average_days_late: number | null;
  /** The longest a still-delayed payment has been overdue, in days. */
  max_days_delayed: number;
  failed: number;
  failure_rate: number | null;
  failures_by_category: Array<{ category: string; count: number; rate: number }>;
  open_by_currency: Array<{ currency: string; amount_minor: number; amount: string }>;
}

const round = (value: number) => Math.round(value * 10_000) / 10_000;

function window(days: number, rows: CreditGroupRow[]): CreditWindow {
  const mine = rows.filter((row) => row.days === days);
  const sum = (pick: (row: CreditGroupRow) => number, where: (row: CreditGroupRow) => boolean = () => true) =>
    mine.filter(where).reduce((n, row) => n + pick(row), 0);
  const due = sum((row) => row.count);
  const onTime = sum(
    (row) => row.count,
    (row) => row.status === "settled" && !row.settled_late,
  );
  const isLate = (row: CreditGroupRow) => (row.status === "settled" && row.settled_late) || row.status === "delayed";
  const late = sum((row) => row.count, isLate);
  const daysLate = sum((row) => row.days_late, isLate);
  const failed = sum(
    (row) => row.count,
    (row) => row.status === "failed",
  );
  const categories = new Map<string, number>();
  for (const row of mine.filter((r) => r.status === "failed")) {
    const category = row.failure_category ?? "unknown";
    categories.set(category, (categories.get(category) ?? 0) + row.count);
  }
  const open = new Map<string, number>();
  for (const row of mine.filter((r) => OPEN_STATUSES.has(r.status))) {
    open.set(row.currency, (open.get(row.currency) ?? 0) + row.unsettled_minor);
  }
  const delayed = mine.filter((row) => row.status === "delayed");
  return {
    days,
    due,
    on_time: onTime,
    on_time_rate: due === 0 ? null : round(onTime / due),
    late,
    average_days_late: late === 0 ? null : round(daysLate / late),
    max_days_delayed: round(delayed.reduce((max, row) => Math.max(max, row.max_days_delayed), 0)),
    failed,
    failure_rate: due === 0 ? null : round(failed / due),
    failures_by_category: [...categories]
      .sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]))
      .map(([category, count]) => ({ category, count, rate: round(count / due) })),
    open_by_currency: [...open]
      .filter(([, amount]) => amount > 0)
      .sort((a, b) => a[0].localeCompare(b[0]))
      .map(([currency, amount]) => ({ currency, amount_minor: amount, amount: formatMajor(amount, currency) })),
  };
}

export function riskBand(windows: CreditWindow[], brokenPromises: number): { band: RiskBand; reasons: string[] } {
  const w90 = windows.find((w) => w.days === 90)!;
  const w365 = windows.find((w) => w.days === 365)!;
  const basis = w90.due >= 3 ? w90 : w365;
  const pct = (rate: number | null) => `${Math.round((rate ?? 0) * 100)} %`;
  const onTime = basis.on_time_rate ?? 1;
  const failure = basis.failure_rate ?? 0;
  const daysLate = basis.average_days_late ?? 0;
  const window = `${basis.days} days`;
  const check = (rules: Array<[boolean, string]>) => rules.filter(([holds]) => holds).map(([, reason]) => reason);
  const d = check([
    [brokenPromises > 0, `${brokenPromises} promise(s) to pay broken in 90 days`],
    [onTime < 0.5, `on time ${pct(onTime)} < 50 % (${window})`],
    [failure >= 0.2, `failure rate ${pct(failure)} ≥ 20 % (${window})`],
    [basis.max_days_delayed > 30, `money delayed more than 30 days`],
  ]);
  if (d.length > 0) return { band: "D", reasons: d };
  const c = check([
    [onTime < 0.75, `on time ${pct(onTime)} < 75 % (${window})`],
    [failure >= 0.1, `failure rate ${pct(failure)} ≥ 10 % (${window})`],
    [daysLate > 14, `on average ${daysLate.toFixed(1)} days late > 14 (${window})`],
  ]);
  if (c.length > 0) return { band: "C", reasons: c };
  const b = check([
    [onTime < 0.95, `on time ${pct(onTime)} < 95 % (${window})`],
    [failure >= 0.02, `failure rate ${pct(failure)} ≥ 2 % (${window})`],
    [daysLate > 3, `on average ${daysLate.toFixed(1)} days late > 3 (${window})`],
    [w365.due < 3, `${w365.due} payment(s) due in 365 days: too little history`],
  ]);
  if (b.length > 0) return { band: "B", reasons: b };
  return { band: "A", reasons: [`on time ${pct(onTime)}, failure rate ${pct(failure)} (${window})`] };
}

export function creditRecord(rows: CreditGroupRow[], brokenPromises: number) {
  const windows = CREDIT_WINDOWS_DAYS.map((days) => window(days, rows));
  const { band, reasons } = riskBand(windows, brokenPromises);
  return {
    windows: Object.fromEntries(windows.map((w) => [`${w.days}d`, w])) as Record<string, CreditWindow>,
    broken_promises_90d: brokenPromises,
    risk: band,
    risk_reasons: reasons,
  };
}
