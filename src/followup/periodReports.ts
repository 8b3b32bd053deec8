import type pg from "pg";
import type { FollowUpConfig } from "../config.js";
import type { NewNotification } from "../db/queries/notifications.js";
import {
  insertAdjustment,
  insertPeriodReport,
  periodReportExists,
  signedOffReports,
} from "../db/queries/periodReports.js";
import type { Db } from "../db/pool.js";
import { loadReconciliationReport } from "../reports/loadReconciliation.js";
import { type Bucket, type ReportRow, STATUS_BUCKET_NAMES } from "../reports/reconciliation.js";
import { AGING_BUCKETS } from "../db/queries/reports.js";
import { latestClosedPeriod } from "./reportSchedule.js";

/**
 * Periodic review (CONTRACT §9): when a schedule comes due, the reconciliation report of the period that closed
 * is stored (as of the period's end) and `report_ready` notified; once an operator has signed a period off, a
 * later fact that changes its figures is a post-close adjustment, stored with what changed and notified.
 */

export interface ReportChange {
  /** `gateway|currency|direction` (gateway `(bank)` or `(total)` for those rows). */
  row: string;
  field: string;
  before: { count: number; amount_minor: number };
  after: { count: number; amount_minor: number };
}

const rowKey = (row: ReportRow) => `${row.gateway}|${row.currency}|${row.direction}`;

function buckets(row: ReportRow | undefined): Map<string, Bucket> {
  const out = new Map<string, Bucket>();
  if (!row) return out;
  out.set("expected", row.expected);
  for (const name of STATUS_BUCKET_NAMES) out.set(name, row.statuses[name]);
  out.set("bank_settled", { count: 0, amountMinor: row.bankSettledMinor });
  out.set("unmatched_bank_entries", row.unmatchedBankEntries);
  for (const name of AGING_BUCKETS) out.set(`overdue_${name}`, row.overdue[name]);
  return out;
}

/** What differs between two versions of a period's rows, field by field (a row missing on one side counts as zeros). */
export function reportChanges(before: ReportRow[], after: ReportRow[]): ReportChange[] {
  const beforeByKey = new Map(before.map((row) => [rowKey(row), row]));
  const afterByKey = new Map(after.map((row) => [rowKey(row), row]));
  const keys = [...new Set([...beforeByKey.keys(), ...afterByKey.keys()])].sort();
  const changes: ReportChange[] = [];
  const zero = { count: 0, amountMinor: 0 };
  for (const key of keys) {
    const was = buckets(beforeByKey.get(key));
    const now = buckets(afterByKey.get(key));
    for (const field of new Set([...was.keys(), ...now.keys()])) {
      const a = was.get(field) ?? zero;
      const b = now.get(field) ?? zero;
      if (a.count === b.count && a.amountMinor === b.amountMinor) continue;
      changes.push({
        row: key,
        field,
        before: { count: a.count, amount_minor: a.amountMinor },
        after: { count: b.count, amount_minor: b.amountMinor },
      });
    }
  }
  return changes;
}

export function periodOf(report: { schedule: string; label: string; tz: string; period_from: Date; period_to: Date }) {
  return {
    schedule: report.schedule,
    label: report.label,
    tz: report.tz,
    from: report.period_from.toISOString(),
    to: report.period_to.toISOString(),
  };
}

/** The report rows of a period as they stand now, as of its end (aging measured at the close). */
export async function currentRows(pool: pg.Pool, from: Date, to: Date): Promise<ReportRow[]> {
  return (await loadReconciliationReport(pool, { from, to }, to)).rows;
}

export class PeriodReports {
  /** Status changes and bank lines seen at the last adjustment check: nothing new, nothing to recompute. */
  private checkedAt: string | undefined;

  constructor(
    private readonly pool: pg.Pool,
    private readonly config: FollowUpConfig["reports"],
  ) {}

  /** Stores the reports that came due and the adjustments found; returns their notifications. */
  async run(tx: Db, now: Date): Promise<NewNotification[]> {
    const items: NewNotification[] = [];
    for (const schedule of this.config.schedules) {
      const period = latestClosedPeriod(schedule, now, this.config.tz);
      if (await periodReportExists(tx, period.kind, period.from)) continue;
      const rows = await currentRows(this.pool, period.from, period.to);
      const id = await insertPeriodReport(tx, {
        schedule: period.kind,
        from: period.from,
        to: period.to,
        label: period.label,
        tz: this.config.tz,
        generatedAt: now,
        rows,
      });
      if (id === undefined) continue;
      items.push({
        kind: "report_ready",
        dedupeKey: `report_ready:${id}`,
        orderKey: `report:${id}`,
        paymentId: null,
        payload: {
          report_id: String(id),
          period: {
            schedule: period.kind,
            label: period.label,
            tz: this.config.tz,
            from: period.from.toISOString(),
            to: period.to.toISOString(),
          },
          url: `/api/v1/reports/${id}`,
          totals: rows
            .filter((row) => row.rowType === "total")
            .map((row) => ({
              currency: row.currency,
              direction: row.direction,
              expected: { count: row.expected.count, amount_minor: row.expected.amountMinor },
              settled: { count: row.statuses.settled.count, amount_minor: row.statuses.settled.amountMinor },
            })),
        },
      });
    }
    // A signed-off period can only change with a new status change or bank line: skip the recomputation otherwise.
    const { rows: marks } = await tx.query<{ mark: string }>(
      `select coalesce((select max(id) from status_changes), 0) || '/' ||
              coalesce((select max(seq) from bank_entries), 0) as mark`,
    );
    const mark = marks[0]!.mark;
    if (mark === this.checkedAt) return items;
    for (const report of await signedOffReports(tx)) {
      const rows = await currentRows(this.pool, report.period_from, report.period_to);
      const changes = reportChanges(report.baseline, rows);
      if (changes.length === 0) continue;
      const adjustmentId = await insertAdjustment(tx, { reportId: report.id, detectedAt: now, changes, rows });
      items.push({
        kind: "post_close_adjustment",
        dedupeKey: `post_close_adjustment:${adjustmentId}`,
        orderKey: `report:${report.id}`,
        paymentId: null,
        payload: {
          report_id: String(report.id),
          adjustment_id: String(adjustmentId),
          period: periodOf(report),
          signed_off_at: report.signed_off_at?.toISOString() ?? null,
          signed_off_by: report.signed_off_by,
          url: `/api/v1/reports/${report.id}`,
          changes,
        },
      });
    }
    this.checkedAt = mark;
    return items;
  }
}
