import type { Db } from "../pool.js";

/**
 * Counterparties' credit records (CONTRACT §9): their payments that came due in the last 30, 90 and 365 days,
 * grouped so the pure rule (reports/creditRecord.ts) can compute rates and the risk band.
 */

export const CREDIT_WINDOWS_DAYS = [30, 90, 365] as const;

export interface CreditGroupRow {
  counterparty: string;
  days: number;
  status: string;
  settled_late: boolean;
  failure_category: string | null;
  currency: string;
  count: number;
  unsettled_minor: number;
  /** Σ days late: settled late (settled_on − due date), or still delayed (now − due). */
  days_late: number;
  /** The longest a still-delayed payment of the group has been overdue, in days. */
  max_days_delayed: number;
}

export async function creditGroups(db: Db, now: Date, counterparty?: string): Promise<CreditGroupRow[]> {
  const result = await db.query<CreditGroupRow>(
    `select p.counterparty, w.days, p.status, p.settled_late, p.failure_category, p.currency, count(*)::int as count,
            sum(greatest(p.amount_minor - p.settled_amount_minor, 0))::bigint as unsettled_minor,
            sum(case
                  when p.status = 'settled' and p.settled_late and p.settled_on is not null
                    then greatest(p.settled_on - (p.due_at at time zone 'UTC')::date, 0)
                  when p.status = 'delayed' then extract(epoch from ($1::timestamptz - p.due_at)) / 86400
                  else 0 end)::float8 as days_late,
            coalesce(max(extract(epoch from ($1::timestamptz - p.due_at)) / 86400)
                       filter (where p.status = 'delayed'), 0)::float8 as max_days_delayed
       from payments p
       join unnest($3::int[]) as w(days)
         on p.due_at > $1::timestamptz - w.days * interval '1 day' and p.due_at <= $1::timestamptz
      where p.counterparty is not null and ($2::text is null or p.counterparty = $2) and p.status <> 'cancelled'
      group by 1, 2, 3, 4, 5, 6`,
    [now, counterparty ?? null, [...CREDIT_WINDOWS_DAYS]],
  );
  return result.rows;
}

/** Promises broken in the last 90 days, per counterparty. */
export async function brokenPromises(db: Db, now: Date, counterparty?: string): Promise<Map<string, number>> {
  const result = await db.query<{ counterparty: string; count: number }>(
    `select p.counterparty, count(*)::int as count
       from dunning_contacts k
       join dunning_records r on r.id = k.record_id
       join payments p on p.id = r.payment_id
      where k.promise_state = 'broken' and k.promise_settled_at > $1::timestamptz - interval '90 days'
        and p.counterparty is not null and ($2::text is null or p.counterparty = $2)
      group by 1`,
    [now, counterparty ?? null],
  );
  return new Map(result.rows.map((row) => [row.counterparty, row.count]));
}
