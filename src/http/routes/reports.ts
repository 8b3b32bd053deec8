import { pipeline } from "node:stream/promises";
import express, { type Router } from "express";
import type pg from "pg";
import { z } from "zod";
import { isSpreadsheetLocale, reportCsvStream, reportFilename } from "../../reports/csv.js";
import { reportJson } from "../../reports/json.js";
import { loadReconciliationReport } from "../../reports/loadReconciliation.js";
import type { FeeRule } from "../../reconcile/fees.js";
import { reportMarkdown } from "../../reports/markdown.js";
import { PeriodError, resolvePeriod } from "../../reports/period.js";
import { requireRole } from "../auth.js";
import { HttpError } from "../errors.js";
import { parseInput } from "../query.js";

/**
 * GET /api/v1/reports/reconciliation?from=&to=&format=json|csv|md (CONTRACT §3):
 * payments created in [from, to) (dates or RFC 3339; default the last 30 days)
 * per gateway × currency × direction. CSV is streamed as an attachment;
 * `bom=true` starts it with a UTF-8 byte order mark for Excel; `locale=de-DE` gives the spreadsheet form
 * for that locale (byte order mark, its decimal mark, `;` where the decimal mark is `,`).
 */

export const reportQuery = z.object({
  from: z.string().max(64).optional(),
  to: z.string().max(64).optional(),
  format: z.enum(["json", "csv", "md"]).default("json"),
  bom: z
    .enum(["true", "false", "1", "0"])
    .default("false")
    .transform((value) => value === "true" || value === "1"),
  locale: z
    .string()
    .max(35)
    .refine(isSpreadsheetLocale, { message: "must be a locale such as de-DE, fr-FR or en-US" })
    .optional(),
});

export function reportsRouter(pool: pg.Pool, feeSchedule: readonly FeeRule[] = []): Router {
  const router = express.Router();
  router.get("/reports/reconciliation", requireRole("viewer", "operator"), async (req, res) => {
    const query = parseInput(reportQuery, req.query, "invalid_query");
    const now = new Date();
    let period: ReturnType<typeof resolvePeriod>;
    try {
      period = resolvePeriod(query, now);
    } catch (error) {
      if (error instanceof PeriodError) throw new HttpError(400, "invalid_query", error.message);
      throw error;
    }
    const report = await loadReconciliationReport(pool, period, now, feeSchedule);
    if (query.format === "json") {
      res.json(reportJson(report));
    } else if (query.format === "md") {
      res.type("text/markdown; charset=utf-8").send(reportMarkdown(report));
    } else {
      res.setHeader("Content-Type", "text/csv; charset=utf-8; header=present");
      res.setHeader("Content-Disposition", `attachment; filename="${reportFilename(report, "csv")}"`);
      await pipeline(reportCsvStream(report, { bom: query.bom, locale: query.locale }), res);
    }
  });
  return router;
}
