import type pg from "pg";
import {
  batchFeeTotals,
  fxDifferenceTotals,
  overdueAging,
  paymentTotalsByStatus,
  type ReportPeriod,
  unmatchedBankEntries,
} from "../db/queries/reports.js";
import type { FeeRule } from "../reconcile/fees.js";
import { buildReconciliationReport, type ReconciliationReport } from "./reconciliation.js";

/**
 * Runs the report's queries in one read-only REPEATABLE READ transaction, so
 * its parts are one snapshot: a payment that settles while the report runs is
 * counted once, in one bucket, and the totals add up.
 */
export async function loadReconciliationReport(
  pool: pg.Pool,
  period: ReportPeriod,
  asOf: Date,
  /** FEE_SCHEDULE: the expected batch fees. */
  feeSchedule: readonly FeeRule[] = [],
): Promise<ReconciliationReport> {
  const client = await pool.connect();
  let broken = false;
  try {
    await client.query("begin isolation level repeatable read read only");
    try {
      const statusTotals = await paymentTotalsByStatus(client, period);
      const aging = await overdueAging(client, period, asOf);
      const unmatched = await unmatchedBankEntries(client, period);
      const batchFees = await batchFeeTotals(client, feeSchedule, period);
      const fxDifferences = await fxDifferenceTotals(client, period);
      await client.query("commit");
      return buildReconciliationReport({ ...period, asOf, statusTotals, aging, unmatched, batchFees, fxDifferences });
    } catch (error) {
      await client.query("rollback").catch(() => {
        broken = true;
      });
      throw error;
    }
  } finally {
    client.release(broken);
  }
}
