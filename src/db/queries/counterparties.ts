import type { Db } from "../pool.js";

/** A counterparty's payment history, aggregated in SQL on payments_counterparty (counterparty, created_at). */

export interface CounterpartyStatusRow {
  currency: string;
  status: string;
  count: number;
  amount_minor: number;
  settled_minor: number;
  settled_late: number;
  first_at: Date;
  last_at: Date;
}

/** Count, expected and bank-settled amounts, late settlements and first/last creation per currency × status. */
export async function counterpartyStatusTotals(db: Db, counterparty: string): Promise<CounterpartyStatusRow[]> {
  const result = await db.query<CounterpartyStatusRow>(
    `select currency, status, count(*) as count, sum(amount_minor)::bigint as amount_minor,
            sum(settled_amount_minor)::bigint as settled_minor,
            count(*) filter (where status = 'settled' and settled_late) as settled_late,
            min(created_at) as first_at, max(created_at) as last_at
       from payments
      where counterparty = $1
      group by currency, status`,
    [counterparty],
  );
  return result.rows;
}

export interface LastFailureRow {
  id: string;
  status_since: Date;
  failure_category: string | null;
  failure_code: string | null;
  currency: string;
  amount_minor: number;
}

/** The payment that most recently became `failed` (by when payrecon concluded it), if any. */
export async function counterpartyLastFailure(db: Db, counterparty: string): Promise<LastFailureRow | undefined> {
  const result = await db.query<LastFailureRow>(
    `select id, status_since, failure_category, failure_code, currency, amount_minor
       from payments
      where counterparty = $1 and status = 'failed'
      order by status_since desc, id desc
      limit 1`,
    [counterparty],
  );
  return result.rows[0];
}

/** Unresolved (open or acknowledged) exceptions on the counterparty's payments. */
export async function counterpartyOpenExceptions(db: Db, counterparty: string): Promise<number> {
  const result = await db.query<{ count: number }>(
    `select count(*) as count
       from exceptions
      where state <> 'resolved'
        and payment_id in (select id from payments where counterparty = $1)`,
    [counterparty],
  );
  return result.rows[0]?.count ?? 0;
}
