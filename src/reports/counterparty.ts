import type { CounterpartyStatusRow, LastFailureRow } from "../db/queries/counterparties.js";
import { currencyExponent, formatMajor } from "../messages/currencies.js";
import { PAYMENT_STATUSES } from "../reconcile/types.js";

/**
 * A counterparty's history from its grouped rows. Pure.
 * - late rate: settled late among settled (payments currently `settled`);
 * - failure rate: failed among ended, ended = settled + failed (reversed or
 *   cancelled payments are neither a success nor a failure of delivery);
 * - a rate is null when nothing counts towards it yet.
 */

const STATUS_ORDER = new Map(PAYMENT_STATUSES.map((status, index) => [status as string, index]));

function rate(numerator: number, denominator: number): number | null {
  return denominator === 0 ? null : numerator / denominator;
}

export function counterpartyHistory(
  counterparty: string,
  rows: CounterpartyStatusRow[],
  lastFailure: LastFailureRow | undefined,
  openExceptions: number,
) {
  const sorted = [...rows].sort(
    (a, b) =>
      a.currency.localeCompare(b.currency) || (STATUS_ORDER.get(a.status) ?? 99) - (STATUS_ORDER.get(b.status) ?? 99),
  );
  const count = (status: string) => rows.filter((row) => row.status === status).reduce((n, row) => n + row.count, 0);
  const settled = count("settled");
  const failed = count("failed");
  const settledLate = rows.reduce((n, row) => n + row.settled_late, 0);
  const currencies = new Map<string, { count: number; amountMinor: number; settledMinor: number }>();
  for (const row of sorted) {
    const total = currencies.get(row.currency) ?? { count: 0, amountMinor: 0, settledMinor: 0 };
    total.count += row.count;
    total.amountMinor += row.amount_minor;
    total.settledMinor += row.settled_minor;
    currencies.set(row.currency, total);
  }
  const first = rows.reduce<Date | null>((at, row) => (at === null || row.first_at < at ? row.first_at : at), null);
  const last = rows.reduce<Date | null>((at, row) => (at === null || row.last_at > at ? row.last_at : at), null);
  return {
    counterparty,
    payments: rows.reduce((n, row) => n + row.count, 0),
    first_payment_at: first?.toISOString() ?? null,
    last_payment_at: last?.toISOString() ?? null,
    by_currency: [...currencies].map(([currency, total]) => ({
      currency,
      exponent: currencyExponent(currency),
      count: total.count,
      amount_minor: total.amountMinor,
      amount: formatMajor(total.amountMinor, currency),
      settled_amount_minor: total.settledMinor,
      settled_amount: formatMajor(total.settledMinor, currency),
    })),
    by_status: sorted.map((row) => ({
      status: row.status,
      currency: row.currency,
      exponent: currencyExponent(row.currency),
      count: row.count,
      amount_minor: row.amount_minor,
      amount: formatMajor(row.amount_minor, row.currency),
      settled_amount_minor: row.settled_minor,
      settled_amount: formatMajor(row.settled_minor, row.currency),
    })),
    late_rate: { rate: rate(settledLate, settled), settled_late: settledLate, settled },
    failure_rate: { rate: rate(failed, settled + failed), failed, ended: settled + failed },
    last_failure: lastFailure
      ? {
          payment_id: lastFailure.id,
          at: lastFailure.status_since.toISOString(),
          failure_category: lastFailure.failure_category,
          failure_code: lastFailure.failure_code,
          currency: lastFailure.currency,
          amount_minor: lastFailure.amount_minor,
          amount: formatMajor(lastFailure.amount_minor, lastFailure.currency),
        }
      : null,
    open_exceptions: openExceptions,
  };
}
