import type { Db } from "../pool.js";

/**
 * The aggregates behind the gauges. Each reads a small table or walks a
 * partial index: nothing here scans all payments, so a scrape stays cheap at
 * millions of rows.
 */

export async function paymentTotals(db: Db) {
  const result = await db.query<{
    status: string;
    direction: string;
    gateway: string;
    currency: string;
    count: number;
    at_risk_minor: number;
  }>(
    "select status, direction, gateway, currency, count, at_risk_minor from payment_totals where count <> 0 or at_risk_minor <> 0",
  );
  return result.rows;
}

/** Oldest unsettled payment per gateway × direction: one index probe per pair (payments_unsettled). */
export async function oldestUnsettled(db: Db, pairs: Array<{ gateway: string; direction: string }>) {
  if (pairs.length === 0) return [];
  const result = await db.query<{ gateway: string; direction: string; created_at: Date | null }>(
    `select t.gateway, t.direction,
            (select p.created_at from payments p
              where p.gateway = t.gateway and p.direction = t.direction
                and p.status in ('pending', 'in_flight', 'partially_settled', 'delayed', 'held')
              order by p.created_at limit 1) as created_at
       from unnest($1::text[], $2::text[]) as t(gateway, direction)`,
    [pairs.map((pair) => pair.gateway), pairs.map((pair) => pair.direction)],
  );
  return result.rows;
}

/** Unresolved exceptions grouped for the gauges (the exceptions_open partial index holds only these). */
export async function exceptionAggregates(db: Db, now: Date) {
  const result = await db.query<{
    kind: string;
    priority: string;
    subject_type: string;
    bank: string | null;
    currency: string;
    count: number;
    overdue: number;
  }>(
    `select kind, priority, subject_type, bank, currency, count(*)::int as count,
            count(*) filter (where due_by < $1)::int as overdue
       from exceptions where state <> 'resolved'
      group by kind, priority, subject_type, bank, currency`,
    [now],
  );
  return result.rows;
}

export async function sourceFreshness(db: Db) {
  const result = await db.query<{ topic: string; source: string; last_event: Date }>(
    "select topic, source, last_event from source_freshness",
  );
  return result.rows;
}
