import type { Db } from "../pool.js";

/**
 * The status page's trends, rebuilt from status_changes (every status change of every payment, with its
 * time) and payments. A window is given as sample instants (funds at risk is a level: its value at each
 * instant) or as buckets [start, start + step) (failures and settlements are events: counted per bucket).
 */

const AT_RISK = "('failed', 'held', 'delayed', 'mismatch')";

/**
 * Amount at risk by status and currency at each instant. A payment counts from the change that put it in an
 * at-risk status until the change that took it out: spans still open are today's at-risk payments (their
 * amount as stored), spans that ended in the window take the amount from the settled amount recorded with
 * the change that opened them (the payment's expected amount is today's: an amendment is not replayed).
 */
export async function fundsAtRiskTrend(db: Db, instants: Date[]) {
  if (instants.length === 0) return [];
  const result = await db.query<{
    at: Date;
    status: string;
    currency: string;
    count: number;
    at_risk_minor: number;
  }>(
    `with samples as (select unnest($1::timestamptz[]) as at),
          ended as (
            select p.currency, sc.from_status as status, opened.at as since, sc.at as until,
                   case when sc.from_status = 'mismatch' then abs(p.amount_minor - opened.settled)
                        else greatest(0, p.amount_minor - greatest(0, opened.settled)) end as at_risk
              from status_changes sc
              join payments p on p.id = sc.payment_id
              cross join lateral (
                select s.at, coalesce((s.detail->>'settled_amount_minor')::bigint, 0) as settled
                  from status_changes s
                 where s.payment_id = sc.payment_id and s.id < sc.id
                 order by s.id desc limit 1) opened
             where sc.from_status in ${AT_RISK} and sc.at > $2),
          open as (
            select currency, status, status_since as since, null::timestamptz as until, at_risk_minor as at_risk
              from payments where status in ${AT_RISK} and status_since <= $3),
          spans as (select * from ended union all select * from open)
     select s.at, sp.status, sp.currency, count(*)::int as count, sum(sp.at_risk)::bigint as at_risk_minor
       from samples s join spans sp on sp.since <= s.at and (sp.until is null or sp.until > s.at)
      group by s.at, sp.status, sp.currency
      order by s.at, sp.status, sp.currency`,
    [instants, instants[0], instants[instants.length - 1]],
  );
  return result.rows;
}

export interface Buckets {
  /** Start of the first bucket. */
  from: Date;
  /** End of the last bucket (exclusive). */
  to: Date;
  stepSeconds: number;
}

const BUCKET = `$1::timestamptz + make_interval(secs => floor(extract(epoch from sc.at - $1::timestamptz) / $3) * $3)`;

/** Payouts that turned failed, per bucket and gateway. */
export async function payoutFailuresTrend(db: Db, buckets: Buckets) {
  const result = await db.query<{ bucket: Date; gateway: string; failures: number }>(
    `select ${BUCKET} as bucket, p.gateway, count(*)::int as failures
       from status_changes sc join payments p on p.id = sc.payment_id
      where sc.to_status = 'failed' and sc.at >= $1 and sc.at < $2 and p.direction = 'payout'
      group by 1, 2
      order by 1, 2`,
    [buckets.from, buckets.to, buckets.stepSeconds],
  );
  return result.rows;
}

/**
 * Time from the gateway accepting a payment to payrecon seeing it settled (the change to `settled`), for
 * the payments settled in each bucket: how many, the median and the 90th percentile, in seconds.
 */
export async function settlementDelayTrend(db: Db, buckets: Buckets) {
  const result = await db.query<{ bucket: Date; settled: number; median_seconds: number; p90_seconds: number }>(
    `select ${BUCKET} as bucket, count(*)::int as settled,
            percentile_cont(0.5) within group (order by delay) as median_seconds,
            percentile_cont(0.9) within group (order by delay) as p90_seconds
       from (select sc.at, greatest(0, extract(epoch from sc.at - p.accepted_at))::float8 as delay
               from status_changes sc join payments p on p.id = sc.payment_id
              where sc.to_status = 'settled' and sc.at >= $1 and sc.at < $2 and p.accepted_at is not null) sc
      group by 1
      order by 1`,
    [buckets.from, buckets.to, buckets.stepSeconds],
  );
  return result.rows;
}

/** Payments that turned failed in the window, by direction and failure category (recorded with the change). */
export async function failureCategoriesTrend(db: Db, buckets: Buckets) {
  const result = await db.query<{ direction: string; category: string; count: number }>(
    `select p.direction, coalesce(sc.detail->>'failure_category', 'unknown') as category, count(*)::int as count
       from status_changes sc join payments p on p.id = sc.payment_id
      where sc.to_status = 'failed' and sc.at >= $1 and sc.at < $2
      group by 1, 2
      order by 3 desc, 1, 2`,
    [buckets.from, buckets.to],
  );
  return result.rows;
}
