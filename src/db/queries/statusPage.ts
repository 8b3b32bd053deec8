import type { Db } from "../pool.js";
import type { ExceptionViewRow } from "./exceptionViews.js";

/**
 * Reads behind the status page. Everything walks small tables (payment_totals,
 * source_freshness) or the exceptions_open partial index (unresolved
 * exceptions only), so a page load every 10 seconds stays cheap.
 */

/** Unresolved exceptions by kind and currency: counts, amounts and the oldest, for the public view. */
export async function openExceptionSummary(db: Db) {
  const result = await db.query<{
    kind: string;
    currency: string;
    count: number;
    amount_minor: number;
    oldest: Date;
  }>(
    `select kind, currency, count(*)::int as count, sum(amount_minor)::bigint as amount_minor, min(opened_at) as oldest
       from exceptions where state <> 'resolved'
      group by kind, currency
      order by kind, currency`,
  );
  return result.rows;
}

export interface StatusExceptionRow extends ExceptionViewRow {
  reference: string | null;
  counterparty: string | null;
  payment_status: string | null;
}

const EXCEPTION_COLUMNS = `e.*, p.reference, coalesce(p.counterparty, b.counterparty_name) as counterparty,
       p.status as payment_status`;
const EXCEPTION_JOINS = `left join payments p on p.id = e.payment_id
       left join bank_entries b on b.bank = e.bank and b.entry_id = e.entry_id`;

/** The oldest unresolved exceptions (the work-queue order). */
export async function oldestOpenExceptions(db: Db, limit: number): Promise<StatusExceptionRow[]> {
  const result = await db.query<StatusExceptionRow>(
    `select ${EXCEPTION_COLUMNS}
       from (select * from exceptions where state <> 'resolved' order by opened_at, id limit $1) e
       ${EXCEPTION_JOINS}
      order by e.opened_at, e.id`,
    [limit],
  );
  return result.rows;
}

/**
 * The largest unresolved exceptions of each currency (`perCurrency` each). Amounts
 * of different currencies only compare in major units, so the caller orders
 * across currencies.
 */
export async function largestOpenExceptionsPerCurrency(
  db: Db,
  perCurrency: number,
  currency?: string,
): Promise<StatusExceptionRow[]> {
  const result = await db.query<StatusExceptionRow>(
    `select ${EXCEPTION_COLUMNS}
       from (select *, row_number() over (partition by currency order by amount_minor desc, opened_at, id) as rank
               from exceptions where state <> 'resolved' and ($2::text is null or currency = $2)) e
       ${EXCEPTION_JOINS}
      where e.rank <= $1`,
    [perCurrency, currency ?? null],
  );
  return result.rows;
}

export async function sourceFreshness(db: Db) {
  const result = await db.query<{ topic: string; source: string; last_event: Date }>(
    "select topic, source, last_event from source_freshness order by topic, source",
  );
  return result.rows;
}

/** Every exception (any state) of one payment, for its page. */
export async function exceptionsOfPayment(db: Db, paymentId: string) {
  const result = await db.query<{
    id: number;
    kind: string;
    state: string;
    priority: string;
    amount_minor: number;
    currency: string;
    detail: string;
    opened_at: Date;
    resolved_at: Date | null;
  }>(
    `select id, kind, state, priority, amount_minor, currency, detail, opened_at, resolved_at
       from exceptions where payment_id = $1 order by id`,
    [paymentId],
  );
  return result.rows;
}
