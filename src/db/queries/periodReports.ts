import type { ReportRow } from "../../reports/reconciliation.js";
import type { Db } from "../pool.js";

/** Stored period reports, their sign-off and post-close adjustments (CONTRACT §9). */

export interface PeriodReportRow {
  id: number;
  schedule: string;
  period_from: Date;
  period_to: Date;
  label: string;
  tz: string;
  generated_at: Date;
  rows: ReportRow[];
  signed_off_at: Date | null;
  signed_off_by: string | null;
  signoff_note: string | null;
  signed_rows: ReportRow[] | null;
  adjustments: number;
}

const SELECT = `select r.*, (select count(*)::int from period_report_adjustments a where a.report_id = r.id) as adjustments
  from period_reports r`;

export async function periodReportExists(db: Db, schedule: string, from: Date): Promise<boolean> {
  const result = await db.query("select 1 from period_reports where schedule = $1 and period_from = $2", [
    schedule,
    from,
  ]);
  return (result.rowCount ?? 0) > 0;
}

/** Stores a report unless its period is stored already (another instance, a repeated run); its id when stored. */
export async function insertPeriodReport(
  db: Db,
  report: { schedule: string; from: Date; to: Date; label: string; tz: string; generatedAt: Date; rows: ReportRow[] },
): Promise<number | undefined> {
  const result = await db.query<{ id: number }>(
    `insert into period_reports (schedule, period_from, period_to, label, tz, generated_at, rows)
     values ($1, $2, $3, $4, $5, $6, $7) on conflict (schedule, period_from) do nothing returning id`,
    [report.schedule, report.from, report.to, report.label, report.tz, report.generatedAt, JSON.stringify(report.rows)],
  );
  return result.rows[0]?.id;
}

export async function listPeriodReports(
  db: Db,
  filter: { schedule?: string; after?: { to: Date; id: number }; limit: number },
): Promise<PeriodReportRow[]> {
  const result = await db.query<PeriodReportRow>(
    `${SELECT}
      where ($1::text is null or r.schedule = $1)
        and ($2::timestamptz is null or (r.period_to, r.id) < ($2::timestamptz, $3::bigint))
      order by r.period_to desc, r.id desc
      limit $4`,
    [filter.schedule ?? null, filter.after?.to ?? null, filter.after?.id ?? null, filter.limit],
  );
  return result.rows;
}

export async function periodReport(db: Db, id: number, lock = false): Promise<PeriodReportRow | undefined> {
  const result = await db.query<PeriodReportRow>(`${SELECT} where r.id = $1${lock ? " for update of r" : ""}`, [id]);
  return result.rows[0];
}

export async function signOffPeriodReport(
  db: Db,
  id: number,
  signoff: { at: Date; by: string; note: string | null; rows: ReportRow[] },
): Promise<void> {
  await db.query(
    "update period_reports set signed_off_at = $2, signed_off_by = $3, signoff_note = $4, signed_rows = $5 where id = $1",
    [id, signoff.at, signoff.by, signoff.note, JSON.stringify(signoff.rows)],
  );
}

/** Signed-off reports with the rows later figures are compared to: the last adjustment's, else those signed. */
export async function signedOffReports(db: Db): Promise<Array<PeriodReportRow & { baseline: ReportRow[] }>> {
  const result = await db.query<PeriodReportRow & { baseline: ReportRow[] }>(
    `select r.*, 0 as adjustments,
            coalesce((select a.rows from period_report_adjustments a where a.report_id = r.id
                       order by a.id desc limit 1), r.signed_rows) as baseline
       from period_reports r
      where r.signed_off_at is not null
      order by r.id`,
  );
  return result.rows;
}

export interface AdjustmentRow {
  id: number;
  report_id: number;
  detected_at: Date;
  changes: unknown[];
}

export async function insertAdjustment(
  db: Db,
  adjustment: { reportId: number; detectedAt: Date; changes: unknown[]; rows: ReportRow[] },
): Promise<number> {
  const result = await db.query<{ id: number }>(
    `insert into period_report_adjustments (report_id, detected_at, changes, rows) values ($1, $2, $3, $4)
     returning id`,
    [adjustment.reportId, adjustment.detectedAt, JSON.stringify(adjustment.changes), JSON.stringify(adjustment.rows)],
  );
  return result.rows[0]!.id;
}

export async function adjustmentsOf(db: Db, reportId: number): Promise<AdjustmentRow[]> {
  const result = await db.query<AdjustmentRow>(
    "select id, report_id, detected_at, changes from period_report_adjustments where report_id = $1 order by id",
    [reportId],
  );
  return result.rows;
}
