import type {
  AgingBucket,
  AgingRow,
  BatchFeeRow,
  FxDifferenceRow,
  StatusTotalRow,
  UnmatchedEntryRow,
} from "../db/queries/reports.js";
import { AGING_BUCKETS } from "../db/queries/reports.js";

/**
 * The reconciliation report (CONTRACT §3, §5) as data: one row per gateway ×
 * currency × direction, built from the grouped rows the database returns.
 * Pure: the formats (JSON, CSV, Markdown) render this model.
 *
 * Decisions, as the people reading the report need them:
 * - Period: payments whose `created_at` is in [from, to). Statuses and
 *   amounts are as known at `as_of` (the time the report was made), not as
 *   they were at `to`.
 * - Buckets: every payment is in exactly one, so expected = the sum of them.
 *   `in_flight` is pending + in_flight + partially_settled (not ended, not
 *   overdue, no problem known); `reversed` is refunded + charged_back;
 *   `written_off` what an operator wrote off.
 *   A bucket's amount is the sum of the payments' expected amounts.
 * - `bank_settled`: what the bank actually showed for the row's payments
 *   (net of returns), whatever their status — a short payment's real amount.
 * - Unmatched bank entries have no gateway: they are rows of their own with
 *   gateway "(bank)", per currency, a credit (money in) as `collection`, a
 *   debit (money out) as `payout`; an entry is in the period by its value date.
 * - Aging: payments currently `delayed`, by days overdue at `as_of` since the
 *   first due date passed without settlement — [0,1), [1,3), [3,7), 7+ —
 *   with the amount still outstanding (expected − settled so far).
 * - Totals: one row per currency and direction, gateway "(total)": money in
 *   and money out are not added together.
 */

export interface Bucket {
  count: number;
  amountMinor: number;
}

export const STATUS_BUCKETS = {
  settled: ["settled"],
  in_flight: ["pending", "in_flight", "partially_settled"],
  failed: ["failed"],
  held: ["held"],
  delayed: ["delayed"],
  mismatch: ["mismatch"],
  reversed: ["refunded", "charged_back"],
  cancelled: ["cancelled"],
  // Its own column (CONTRACT §7): an operator's decision, not money at risk nor money received.
  written_off: ["written_off"],
} as const;
export type StatusBucket = keyof typeof STATUS_BUCKETS;
export const STATUS_BUCKET_NAMES = Object.keys(STATUS_BUCKETS) as StatusBucket[];

const BUCKET_OF_STATUS = new Map<string, StatusBucket>(
  STATUS_BUCKET_NAMES.flatMap((bucket) => STATUS_BUCKETS[bucket].map((status) => [status, bucket] as const)),
);

export { AGING_BUCKETS, type AgingBucket };

export type RowType = "gateway" | "bank" | "total";
export const BANK_GATEWAY = "(bank)";
export const TOTAL_GATEWAY = "(total)";

export interface ReportRow {
  rowType: RowType;
  gateway: string;
  currency: string;
  direction: "collection" | "payout";
  expected: Bucket;
  statuses: Record<StatusBucket, Bucket>;
  bankSettledMinor: number;
  unmatchedBankEntries: Bucket;
  overdue: Record<AgingBucket, Bucket>;
  /**
   * Settlement batch fees (CONTRACT §8) on the gateway's collection row, of the batches expected to arrive in the
   * period: charged as the gateway reported them, expected from FEE_SCHEDULE (null: no rule for it).
   */
  batchFees: { batches: number; chargedMinor: number; expectedMinor: number | null } | null;
  /**
   * CONTRACT §8 "FX": the row's payments settled by lines in another currency, per line currency (the pair is
   * line currency → the row's), by line currency: payments, the lines' amount, the FX difference (row currency).
   */
  fxDifferences: FxPairTotal[];
}

export interface FxPairTotal {
  lineCurrency: string;
  payments: number;
  lineAmountMinor: number;
  differenceMinor: number;
}

export interface ReconciliationReport {
  from: Date;
  to: Date;
  asOf: Date;
  /** Gateway and bank rows, then the row of totals, for each currency and direction in order. */
  rows: ReportRow[];
}

const zero = (): Bucket => ({ count: 0, amountMinor: 0 });

function emptyRow(rowType: RowType, gateway: string, currency: string, direction: ReportRow["direction"]): ReportRow {
  return {
    rowType,
    gateway,
    currency,
    direction,
    expected: zero(),
    statuses: Object.fromEntries(STATUS_BUCKET_NAMES.map((name) => [name, zero()])) as Record<StatusBucket, Bucket>,
    bankSettledMinor: 0,
    unmatchedBankEntries: zero(),
    overdue: Object.fromEntries(AGING_BUCKETS.map((name) => [name, zero()])) as Record<AgingBucket, Bucket>,
    batchFees: null,
    fxDifferences: [],
  };
}

function addTo(bucket: Bucket, count: number, amountMinor: number): void {
  bucket.count += count;
  bucket.amountMinor += amountMinor;
}

/** A status the report does not know is a bug upstream; failing loudly beats a report that does not add up. */
function bucketOf(status: string): StatusBucket {
  const bucket = BUCKET_OF_STATUS.get(status);
  if (!bucket) throw new RangeError(`status ${status} belongs to no report bucket`);
  return bucket;
}

const DIRECTION_ORDER = { collection: 0, payout: 1 } as const;
const ROW_TYPE_ORDER: Record<RowType, number> = { gateway: 0, bank: 1, total: 2 };

function compareRows(a: ReportRow, b: ReportRow): number {
  return (
    a.currency.localeCompare(b.currency) ||
    DIRECTION_ORDER[a.direction] - DIRECTION_ORDER[b.direction] ||
    ROW_TYPE_ORDER[a.rowType] - ROW_TYPE_ORDER[b.rowType] ||
    (a.gateway < b.gateway ? -1 : a.gateway > b.gateway ? 1 : 0)
  );
}

export interface ReportInput {
  from: Date;
  to: Date;
  asOf: Date;
  statusTotals: StatusTotalRow[];
  aging: AgingRow[];
  unmatched: UnmatchedEntryRow[];
  batchFees?: BatchFeeRow[];
  fxDifferences?: FxDifferenceRow[];
}

export function buildReconciliationReport(input: ReportInput): ReconciliationReport {
  const rows = new Map<string, ReportRow>();
  const rowFor = (rowType: RowType, gateway: string, currency: string, direction: ReportRow["direction"]) => {
    const key = `${rowType}\u0000${gateway}\u0000${currency}\u0000${direction}`;
    let row = rows.get(key);
    if (!row) {
      row = emptyRow(rowType, gateway, currency, direction);
      rows.set(key, row);
    }
    return row;
  };
  for (const total of input.statusTotals) {
    const row = rowFor("gateway", total.gateway, total.currency, total.direction);
    addTo(row.expected, total.count, total.amount_minor);
    addTo(row.statuses[bucketOf(total.status)], total.count, total.amount_minor);
    row.bankSettledMinor += total.settled_minor;
  }
  for (const aged of input.aging) {
    const row = rowFor("gateway", aged.gateway, aged.currency, aged.direction);
    addTo(row.overdue[aged.bucket], aged.count, aged.outstanding_minor);
  }
  for (const fees of input.batchFees ?? []) {
    const row = rowFor("gateway", fees.gateway, fees.currency, "collection");
    addFees(row, { batches: fees.batches, chargedMinor: fees.charged_minor, expectedMinor: fees.expected_minor });
  }
  for (const fx of input.fxDifferences ?? []) {
    addFx(rowFor("gateway", fx.gateway, fx.currency, fx.direction), {
      lineCurrency: fx.line_currency,
      payments: fx.payments,
      lineAmountMinor: fx.line_amount_minor,
      differenceMinor: fx.difference_minor,
    });
  }
  for (const entry of input.unmatched) {
    const row = rowFor("bank", BANK_GATEWAY, entry.currency, entry.direction === "credit" ? "collection" : "payout");
    addTo(row.unmatchedBankEntries, entry.count, entry.amount_minor);
  }
  const detail = [...rows.values()];
  const totals = new Map<string, ReportRow>();
  for (const row of detail) {
    const key = `${row.currency}\u0000${row.direction}`;
    let total = totals.get(key);
    if (!total) {
      total = emptyRow("total", TOTAL_GATEWAY, row.currency, row.direction);
      totals.set(key, total);
    }
    addRow(total, row);
  }
  return { from: input.from, to: input.to, asOf: input.asOf, rows: [...detail, ...totals.values()].sort(compareRows) };
}

function addRow(into: ReportRow, row: ReportRow): void {
  addTo(into.expected, row.expected.count, row.expected.amountMinor);
  for (const name of STATUS_BUCKET_NAMES)
    addTo(into.statuses[name], row.statuses[name].count, row.statuses[name].amountMinor);
  into.bankSettledMinor += row.bankSettledMinor;
  addTo(into.unmatchedBankEntries, row.unmatchedBankEntries.count, row.unmatchedBankEntries.amountMinor);
  for (const name of AGING_BUCKETS) addTo(into.overdue[name], row.overdue[name].count, row.overdue[name].amountMinor);
  if (row.batchFees) addFees(into, row.batchFees);
  for (const fx of row.fxDifferences) addFx(into, fx);
}

function addFx(into: ReportRow, fx: FxPairTotal): void {
  const known = into.fxDifferences.find((pair) => pair.lineCurrency === fx.lineCurrency);
  if (!known) {
    into.fxDifferences = [...into.fxDifferences, { ...fx }].sort((a, b) =>
      a.lineCurrency.localeCompare(b.lineCurrency),
    );
    return;
  }
  known.payments += fx.payments;
  known.lineAmountMinor += fx.lineAmountMinor;
  known.differenceMinor += fx.differenceMinor;
}

/** Expected fees add up only where every batch has one: a total with an unknown part is unknown. */
function addFees(into: ReportRow, fees: NonNullable<ReportRow["batchFees"]>): void {
  const sum = into.batchFees ?? { batches: 0, chargedMinor: 0, expectedMinor: 0 };
  into.batchFees = {
    batches: sum.batches + fees.batches,
    chargedMinor: sum.chargedMinor + fees.chargedMinor,
    expectedMinor:
      sum.expectedMinor === null || fees.expectedMinor === null ? null : sum.expectedMinor + fees.expectedMinor,
  };
}
