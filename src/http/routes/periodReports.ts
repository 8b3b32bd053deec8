import { pipeline } from "node:stream/promises";
import express, { type Router } from "express";
import type pg from "pg";
import { z } from "zod";
import {
  type AdjustmentRow,
  adjustmentsOf,
  listPeriodReports,
  type PeriodReportRow,
  periodReport,
  signOffPeriodReport,
} from "../../db/queries/periodReports.js";
import { withTransaction } from "../../db/transaction.js";
import { currentRows, periodOf } from "../../followup/periodReports.js";
import { reportCsvStream, reportFilename } from "../../reports/csv.js";
import { reportJson } from "../../reports/json.js";
import { reportMarkdown } from "../../reports/markdown.js";
import type { ReconciliationReport } from "../../reports/reconciliation.js";
import { requireRole } from "../auth.js";
import { HttpError } from "../errors.js";
import { cursorSerial, cursorTime, decodeCursor, page } from "../pagination.js";
import { clientText, decimalInteger, parseInput } from "../query.js";

/**
 * Stored period reports (CONTRACT §9): the list, one report as JSON, CSV or Markdown (the figures as signed off,
 * else as generated, with the post-close adjustments found since), and an operator's sign-off.
 */

export const periodReportListQuery = z.object({
  schedule: z.enum(["daily", "weekly", "monthly"]).optional(),
  limit: z.coerce.number().int().min(1).max(500).default(50),
  cursor: z.string().max(500).optional(),
});

export const periodReportQuery = z.object({
  format: z.enum(["json", "csv", "md"]).default("json"),
  bom: z
    .enum(["true", "false", "1", "0"])
    .default("false")
    .transform((value) => value === "true" || value === "1"),
});

export const signoffBody = z.object({ note: clientText(4000).optional() }).default({});

const reportId = /^[1-9][0-9]{0,15}$/;

function summary(row: PeriodReportRow) {
  return {
    id: String(row.id),
    period: periodOf(row),
    generated_at: row.generated_at.toISOString(),
    signed_off: row.signed_off_at
      ? { at: row.signed_off_at.toISOString(), by: row.signed_off_by, note: row.signoff_note }
      : null,
    adjustments: row.adjustments,
  };
}

function reportOf(row: PeriodReportRow): ReconciliationReport {
  return { from: row.period_from, to: row.period_to, asOf: row.period_to, rows: row.signed_rows ?? row.rows };
}

function detail(row: PeriodReportRow, adjustments: AdjustmentRow[]) {
  return {
    ...summary(row),
    adjustments: adjustments.length,
    post_close_adjustments: adjustments.map((adjustment) => ({
      id: String(adjustment.id),
      detected_at: adjustment.detected_at.toISOString(),
      changes: adjustment.changes,
    })),
    report: reportJson(reportOf(row)),
  };
}

function adjustmentsMarkdown(adjustments: AdjustmentRow[]): string {
  if (adjustments.length === 0) return "";
  const lines = [
    "",
    "## Post-close adjustments",
    "",
    "| detected | row | field | before | after |",
    "|---|---|---|---|---|",
  ];
  for (const adjustment of adjustments) {
    for (const change of adjustment.changes as Array<{
      row: string;
      field: string;
      before: { count: number; amount_minor: number };
      after: { count: number; amount_minor: number };
    }>) {
      const cell = (bucket: { count: number; amount_minor: number }) => `${bucket.count} · ${bucket.amount_minor}`;
      lines.push(
        `| ${adjustment.detected_at.toISOString()} | ${change.row} | ${change.field} | ${cell(change.before)} | ${cell(change.after)} |`,
      );
    }
  }
  return `${lines.join("\n")}\n`;
}

export function periodReportsRouter(pool: pg.Pool, clock: () => Date = () => new Date()): Router {
  const router = express.Router();
  router.get("/reports", requireRole("viewer", "operator"), async (req, res) => {
    const query = parseInput(periodReportListQuery, req.query, "invalid_query");
    const after = decodeCursor(query.cursor, z.tuple([cursorTime, cursorSerial]));
    const rows = await listPeriodReports(pool, {
      schedule: query.schedule,
      after: after ? { to: new Date(after[0]), id: after[1] } : undefined,
      limit: query.limit + 1,
    });
    const { items, next } = page(rows, query.limit, (row) => [row.period_to.toISOString(), row.id]);
    res.json({ items: items.map(summary), next_cursor: next });
  });

  router.get("/reports/:id", requireRole("viewer", "operator"), async (req, res, next) => {
    // `/reports/reconciliation` (the on-demand report) belongs to the reports router.
    if (!reportId.test(String(req.params.id))) return next();
    const id = parseInput(decimalInteger, req.params.id, "invalid_id");
    const query = parseInput(periodReportQuery, req.query, "invalid_query");
    const row = await periodReport(pool, id);
    if (!row) throw new HttpError(404, "not_found", "no stored report with this id");
    const adjustments = await adjustmentsOf(pool, id);
    if (query.format === "json") return void res.json(detail(row, adjustments));
    const report = reportOf(row);
    if (query.format === "md") {
      const title = `- Scheduled: ${row.schedule} ${row.label} (${row.tz}); ${row.signed_off_at ? `signed off ${row.signed_off_at.toISOString()} by ${row.signed_off_by}` : "not signed off"}\n`;
      return void res
        .type("text/markdown; charset=utf-8")
        .send(`${reportMarkdown(report)}\n${title}${adjustmentsMarkdown(adjustments)}`);
    }
    res.setHeader("Content-Type", "text/csv; charset=utf-8; header=present");
    res.setHeader("Content-Disposition", `attachment; filename="${reportFilename(report, "csv")}"`);
    await pipeline(reportCsvStream(report, { bom: query.bom }), res);
  });

  router.post("/reports/:id/signoff", requireRole("operator"), express.json({ limit: "64kb" }), async (req, res) => {
    const id = parseInput(decimalInteger, req.params.id, "invalid_id");
    const body = parseInput(signoffBody, req.body ?? {}, "invalid_body");
    const now = clock();
    const result = await withTransaction(pool, async (tx) => {
      const row = await periodReport(tx, id, true);
      if (!row) throw new HttpError(404, "not_found", "no stored report with this id");
      if (row.signed_off_at) throw new HttpError(409, "invalid_state", "the period is signed off already");
      // The operator signs the figures as they stand now; a later change is a post-close adjustment.
      const rows = await currentRows(pool, row.period_from, row.period_to);
      await signOffPeriodReport(tx, id, { at: now, by: req.principal!.actor, note: body.note ?? null, rows });
      return detail((await periodReport(tx, id))!, await adjustmentsOf(tx, id));
    });
    res.json(result);
  });
  return router;
}
