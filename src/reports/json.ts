import { currencyExponent, formatMajor } from "../messages/currencies.js";
import {
  AGING_BUCKETS,
  type Bucket,
  type ReconciliationReport,
  type ReportRow,
  STATUS_BUCKET_NAMES,
  STATUS_BUCKETS,
} from "./reconciliation.js";

/**
 * The report as JSON: amounts as integer minor units (`amount_minor`) and as
 * exact major-unit text (`amount`, with the currency's decimals), beside the
 * currency's `exponent`.
 */

function money(bucket: Bucket, currency: string) {
  return { count: bucket.count, amount_minor: bucket.amountMinor, amount: formatMajor(bucket.amountMinor, currency) };
}

function minorAndMajor(minor: number, currency: string) {
  return { amount_minor: minor, amount: formatMajor(minor, currency) };
}

export function reportRowJson(row: ReportRow) {
  const { currency } = row;
  return {
    row_type: row.rowType,
    gateway: row.gateway,
    currency,
    exponent: currencyExponent(currency),
    direction: row.direction,
    expected: money(row.expected, currency),
    ...Object.fromEntries(STATUS_BUCKET_NAMES.map((name) => [name, money(row.statuses[name], currency)])),
    bank_settled: { amount_minor: row.bankSettledMinor, amount: formatMajor(row.bankSettledMinor, currency) },
    unmatched_bank_entries: money(row.unmatchedBankEntries, currency),
    overdue: Object.fromEntries(AGING_BUCKETS.map((name) => [name, money(row.overdue[name], currency)])),
    ...(row.batchFees
      ? {
          batch_fees: {
            batches: row.batchFees.batches,
            charged: minorAndMajor(row.batchFees.chargedMinor, currency),
            expected:
              row.batchFees.expectedMinor === null ? null : minorAndMajor(row.batchFees.expectedMinor, currency),
          },
        }
      : {}),
    // CONTRACT §8 "FX": per pair (line currency → the row's currency); the difference in the row's currency.
    ...(row.fxDifferences.length > 0
      ? {
          fx_differences: row.fxDifferences.map((fx) => ({
            pair: `${fx.lineCurrency}${currency}`,
            line_currency: fx.lineCurrency,
            payments: fx.payments,
            line_amount: minorAndMajor(fx.lineAmountMinor, fx.lineCurrency),
            difference: minorAndMajor(fx.differenceMinor, currency),
          })),
        }
      : {}),
  };
}

export function reportJson(report: ReconciliationReport) {
  return {
    report: "reconciliation",
    from: report.from.toISOString(),
    to: report.to.toISOString(),
    as_of: report.asOf.toISOString(),
    selection:
      "payments with created_at in [from, to); unmatched bank entries with value_date in [from, to); " +
      "batch fees of settlement batches with expected_arrival in [from, to)",
    buckets: STATUS_BUCKETS,
    rows: report.rows.map(reportRowJson),
  };
}
