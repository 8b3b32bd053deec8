import type { Db } from "../pool.js";

export interface AtRiskPayment {
  id: string;
  status: string;
  direction: string;
  gateway: string;
  currency: string;
  failure_category: string | null;
  failure_code: string | null;
  hold_reason: string | null;
  counterparty: string | null;
  at_risk_minor: number;
  status_since: Date;
  status_reason: string;
}

/**
 * Failed, held or delayed payments with at least `minMinor` at risk (the
 * smallest threshold of any currency; the caller applies each currency's own).
 * Reads the payments_at_risk partial index: only payments in these statuses.
 */
export async function largePaymentsAtRisk(db: Db, minMinor: number, limit: number): Promise<AtRiskPayment[]> {
  const result = await db.query<AtRiskPayment>(
    `select id, status, direction, gateway, currency, failure_category, failure_code, hold_reason, counterparty,
            at_risk_minor, status_since, status_reason
       from payments
      where status in ('failed', 'held', 'delayed') and at_risk_minor >= $1
      order by at_risk_minor desc
      limit $2`,
    [minMinor, limit],
  );
  return result.rows;
}
