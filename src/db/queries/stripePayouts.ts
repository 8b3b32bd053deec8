import type { Db } from "../pool.js";

/** The state of our own Stripe payouts waiting for their balance transactions (migration 000005). */

export interface StripePayoutRow {
  payoutId: string;
  payout: unknown;
  paidAtSeconds: number;
}

export interface StripeBalanceTransactionRow {
  transactionId: string;
  payoutId: string;
  body: unknown;
}

export interface WaitingStripePayout {
  payoutId: string;
  payout: unknown;
  paidAtSeconds: number;
  transactions: unknown[];
}

/** Idempotent: a payout.paid delivered twice is one payout. Returns the ids that are new. */
export async function insertStripePayouts(db: Db, rows: StripePayoutRow[], now: Date): Promise<string[]> {
  if (rows.length === 0) return [];
  const result = await db.query<{ payout_id: string }>(
    `insert into stripe_payouts (payout_id, payout, paid_at_seconds, received_at)
     select p.id, p.payout, p.paid_at, $4 from unnest($1::text[], $2::jsonb[], $3::bigint[]) as p(id, payout, paid_at)
     on conflict (payout_id) do nothing
     returning payout_id`,
    [
      rows.map((row) => row.payoutId),
      rows.map((row) => JSON.stringify(row.payout)),
      rows.map((row) => row.paidAtSeconds),
      now,
    ],
  );
  return result.rows.map((row) => row.payout_id);
}

/** Idempotent by Stripe's transaction id. Returns the ids that are new. */
export async function insertStripeBalanceTransactions(
  db: Db,
  rows: StripeBalanceTransactionRow[],
  now: Date,
): Promise<string[]> {
  if (rows.length === 0) return [];
  const result = await db.query<{ transaction_id: string }>(
    `insert into stripe_balance_transactions (transaction_id, payout_id, body, received_at)
     select t.id, t.payout_id, t.body, $4 from unnest($1::text[], $2::text[], $3::jsonb[]) as t(id, payout_id, body)
     on conflict (transaction_id) do nothing
     returning transaction_id`,
    [
      rows.map((row) => row.transactionId),
      rows.map((row) => row.payoutId),
      rows.map((row) => JSON.stringify(row.body)),
      now,
    ],
  );
  return result.rows.map((row) => row.transaction_id);
}

/** Of these payouts, the ones still waiting, each with every transaction stored for it (locked: one composer at a time). */
export async function loadWaitingStripePayouts(db: Db, payoutIds: string[]): Promise<WaitingStripePayout[]> {
  if (payoutIds.length === 0) return [];
  const result = await db.query<{
    payout_id: string;
    payout: unknown;
    paid_at_seconds: string;
    transactions: unknown[];
  }>(
    `select p.payout_id, p.payout, p.paid_at_seconds,
            coalesce((select jsonb_agg(t.body order by t.transaction_id)
                        from stripe_balance_transactions t where t.payout_id = p.payout_id), '[]'::jsonb) as transactions
       from stripe_payouts p
      where p.payout_id = any($1::text[]) and p.composed_at is null
      order by p.payout_id
      for update of p`,
    [payoutIds],
  );
  return result.rows.map((row) => ({
    payoutId: row.payout_id,
    payout: row.payout,
    paidAtSeconds: Number(row.paid_at_seconds),
    transactions: row.transactions,
  }));
}

export async function markStripePayoutsComposed(db: Db, payoutIds: string[], now: Date): Promise<void> {
  if (payoutIds.length === 0) return;
  await db.query(
    `update stripe_payouts set composed_at = $2, waiting_reason = null where payout_id = any($1::text[])`,
    [payoutIds, now],
  );
}

export async function recordStripePayoutsWaiting(
  db: Db,
  waiting: { payoutId: string; reason: string }[],
): Promise<void> {
  if (waiting.length === 0) return;
  await db.query(
    `update stripe_payouts p set waiting_reason = w.reason
       from unnest($1::text[], $2::text[]) as w(id, reason) where p.payout_id = w.id`,
    [waiting.map((row) => row.payoutId), waiting.map((row) => row.reason)],
  );
}

/** Waiting payouts: how many, and since when the oldest (for the gauge and the API). */
export async function stripePayoutsWaitingSummary(db: Db): Promise<{ count: number; oldestReceivedAt: Date | null }> {
  const result = await db.query<{ count: string; oldest: Date | null }>(
    `select count(*) as count, min(received_at) as oldest from stripe_payouts where composed_at is null`,
  );
  return { count: Number(result.rows[0]?.count ?? 0), oldestReceivedAt: result.rows[0]?.oldest ?? null };
}

/**
 * Waiting payouts for the Stripe API fetcher, least recently fetched first (so one that never
 * adds up does not hold the others back), marked as fetched now.
 */
export async function takeStripePayoutsToFetch(db: Db, limit: number, now: Date): Promise<string[]> {
  const result = await db.query<{ payout_id: string }>(
    `update stripe_payouts set fetched_at = $2
      where payout_id in (select payout_id from stripe_payouts where composed_at is null
                           order by fetched_at nulls first, received_at limit $1 for update skip locked)
      returning payout_id`,
    [limit, now],
  );
  return result.rows.map((row) => row.payout_id);
}
