import type { Db } from "../pool.js";
import type { FeeRule } from "../../reconcile/fees.js";

/**
 * The reconciliation report's aggregates, computed by PostgreSQL: each query
 * returns a handful of grouped rows, never payments. All select payments by
 * `created_at` in [from, to), on the index payments_created (000006; delayed ones on payments_delayed).
 */

/**
 * count(*) and sum(…)::bigint arrive as strings unless the pool parses int8 (db/pool.ts does, as a side
 * effect of being imported): read them as numbers here, whoever holds the pool. A report built from strings
 * adds by concatenation ("0" + "10" + "7"), which the bench's two-instance comparison once showed.
 */
function withNumbers<T>(rows: T[], keys: ReadonlyArray<keyof T>): T[] {
  return rows.map((row) => {
    const out = { ...row };
    for (const key of keys) out[key] = Number(row[key]) as T[keyof T];
    return out;
  });
}

export interface ReportPeriod {
  from: Date;
  to: Date;
}

export interface StatusTotalRow {
  gateway: string;
  currency: string;
  direction: "collection" | "payout";
  status: string;
  count: number;
  /** Sum of the expected amounts. */
  amount_minor: number;
  /** Sum of what the bank showed for them (net of returns). */
  settled_minor: number;
}

/** Count, expected amount and bank-settled amount per gateway × currency × direction × status. */
export async function paymentTotalsByStatus(db: Db, period: ReportPeriod): Promise<StatusTotalRow[]> {
  const result = await db.query<StatusTotalRow>(
    `select gateway, currency, direction, status, count(*) as count,
            sum(amount_minor)::bigint as amount_minor, sum(settled_amount_minor)::bigint as settled_minor
       from payments
      where created_at >= $1 and created_at < $2
      group by gateway, currency, direction, status`,
    [period.from, period.to],
  );
  return withNumbers(result.rows, ["count", "amount_minor", "settled_minor"]);
}

export interface FxDifferenceRow {
  gateway: string;
  currency: string;
  direction: "collection" | "payout";
  line_currency: string;
  payments: number;
  line_amount_minor: number;
  difference_minor: number;
}

/**
 * CONTRACT §8 "FX": payments settled by bank lines in another currency, per gateway × currency × direction and
 * line currency (a currency pair): their count, the lines' amount and the FX difference in the payment's currency.
 */
export async function fxDifferenceTotals(db: Db, period: ReportPeriod): Promise<FxDifferenceRow[]> {
  const result = await db.query<FxDifferenceRow>(
    `select gateway, currency, direction, fx_line_currency as line_currency, count(*) as payments,
            sum(fx_line_amount_minor)::bigint as line_amount_minor, sum(fx_difference_minor)::bigint as difference_minor
       from payments
      where created_at >= $1 and created_at < $2 and fx_line_currency is not null
      group by gateway, currency, direction, fx_line_currency
      order by gateway, currency, direction, fx_line_currency`,
    [period.from, period.to],
  );
  return withNumbers(result.rows, ["payments", "line_amount_minor", "difference_minor"]);
}

export const AGING_BUCKETS = ["0-1d", "1-3d", "3-7d", "7d+"] as const;
export type AgingBucket = (typeof AGING_BUCKETS)[number];

export interface AgingRow {
  gateway: string;
  currency: string;
  direction: "collection" | "payout";
  bucket: AgingBucket;
  count: number;
  /** Expected amount not yet settled: amount − what the bank showed so far. */
  outstanding_minor: number;
}

/**
 * Delayed payments by how long they have been overdue at `asOf` (from
 * overdue_since, the first due date passed without settlement): [0, 1), [1, 3),
 * [3, 7) and 7 or more days.
 */
export async function overdueAging(db: Db, period: ReportPeriod, asOf: Date): Promise<AgingRow[]> {
  const result = await db.query<AgingRow>(
    `select gateway, currency, direction, bucket, count(*) as count, sum(outstanding)::bigint as outstanding_minor
       from (select gateway, currency, direction,
                    greatest(0, amount_minor - greatest(0, settled_amount_minor)) as outstanding,
                    case when $3 - coalesce(overdue_since, due_at) < interval '1 day' then '0-1d'
                         when $3 - coalesce(overdue_since, due_at) < interval '3 days' then '1-3d'
                         when $3 - coalesce(overdue_since, due_at) < interval '7 days' then '3-7d'
                         else '7d+' end as bucket
               from payments
              where created_at >= $1 and created_at < $2 and status = 'delayed') overdue
      group by gateway, currency, direction, bucket`,
    [period.from, period.to, asOf],
  );
  return withNumbers(result.rows, ["count", "outstanding_minor"]);
}

export interface UnmatchedEntryRow {
  currency: string;
  direction: "credit" | "debit";
  count: number;
  amount_minor: number;
}

/**
 * Bank entries with an unresolved (open or acknowledged) `unmatched`
 * exception, by currency and bank direction. A bank entry has no created_at
 * of a payment: it is in the period when its value date (midnight UTC) is.
 */
export async function unmatchedBankEntries(db: Db, period: ReportPeriod): Promise<UnmatchedEntryRow[]> {
  const result = await db.query<UnmatchedEntryRow>(
    `select b.currency, b.direction, count(*) as count, sum(b.amount_minor)::bigint as amount_minor
       from exceptions e
       join bank_entries b on b.bank = e.bank and b.entry_id = e.entry_id
      where e.kind = 'unmatched' and e.subject_type = 'bank_entry' and e.state <> 'resolved'
        and b.value_date::timestamp at time zone 'UTC' >= $1 and b.value_date::timestamp at time zone 'UTC' < $2
      group by b.currency, b.direction`,
    [period.from, period.to],
  );
  return withNumbers(result.rows, ["count", "amount_minor"]);
}

export interface BatchFeeRow {
  gateway: string;
  currency: string;
  batches: number;
  /** Σ fee_minor of the batches. */
  charged_minor: number;
  /** Σ of each batch's FEE_SCHEDULE fee (src/reconcile/fees.ts), null where the schedule has no rule. */
  expected_minor: number | null;
}

/**
 * Fees charged and expected per gateway × currency (CONTRACT §8), of the batches expected to arrive in the
 * period (all batches without one). The expected fee is reconcile/fees.ts's expectedBatchFee, per batch: percent
 * of max(0, gross), rounded half up to a minor unit, plus the fixed fee per listed reference.
 */
export async function batchFeeTotals(
  db: Db,
  schedule: readonly FeeRule[],
  period?: ReportPeriod,
): Promise<BatchFeeRow[]> {
  const result = await db.query<BatchFeeRow>(
    `with rules as (
       select * from unnest($1::text[], $2::text[], $3::bigint[], $4::bigint[]) as r(gateway, currency, ppm, fixed))
     select b.gateway, b.currency, count(*)::int as batches, sum(b.fee_minor)::bigint as charged_minor,
            sum(floor(greatest(b.gross_minor, 0) * r.ppm / 1000000.0 + 0.5)
                + r.fixed * (select count(*) from batch_references br
                              where br.gateway = b.gateway and br.batch_id = b.batch_id))::bigint as expected_minor
       from settlement_batches b
       left join lateral (select ppm, fixed from rules r
                           where r.gateway = b.gateway and r.currency in (b.currency, '*')
                           order by r.currency = '*' limit 1) r on true
      where ($5::date is null or b.expected_arrival >= $5::date) and ($6::date is null or b.expected_arrival < $6::date)
      group by b.gateway, b.currency
      order by b.gateway, b.currency`,
    [
      schedule.map((rule) => rule.gateway),
      schedule.map((rule) => rule.currency),
      schedule.map((rule) => rule.percentPpm),
      schedule.map((rule) => rule.fixedMinor),
      period ? period.from.toISOString().slice(0, 10) : null,
      period ? period.to.toISOString().slice(0, 10) : null,
    ],
  );
  return result.rows.map((row) => ({
    ...withNumbers([row], ["batches", "charged_minor"])[0]!,
    expected_minor: row.expected_minor === null ? null : Number(row.expected_minor),
  }));
}
