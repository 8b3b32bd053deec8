import type { Db } from "../pool.js";

/**
 * Outbound notifications (CONTRACT §9): stored once per dedupe key, one delivery row per webhook URL,
 * every attempt in the delivery log. Claiming follows the job-queue pattern (`for update skip locked`
 * plus a lease in `next_attempt_at`), so several instances deliver without sending twice at once, and a
 * killed instance's claimed rows come due again when the lease passes.
 */

export type NotificationKind =
  | "reminder_due"
  | "promise_broken"
  | "exception_opened"
  | "retry_suggested"
  | "report_ready"
  | "post_close_adjustment";

export const NOTIFICATION_KINDS: readonly NotificationKind[] = [
  "reminder_due",
  "promise_broken",
  "exception_opened",
  "retry_suggested",
  "report_ready",
  "post_close_adjustment",
];

export interface NewNotification {
  kind: NotificationKind;
  dedupeKey: string;
  /** Delivered in order per key: the payment, else the exception's subject. */
  orderKey: string;
  paymentId: string | null;
  payload: Record<string, unknown>;
}

export interface StoredNotification {
  id: number;
  kind: NotificationKind;
  payment_id: string | null;
  order_key: string;
  payload: Record<string, unknown>;
  created_at: Date;
}

/** The JSON a receiver gets: the same bytes on every attempt (the signature covers them with its time). */
export function notificationBody(row: Pick<StoredNotification, "id" | "kind" | "created_at" | "payload">): string {
  return JSON.stringify({
    id: String(row.id),
    kind: row.kind,
    created_at: row.created_at.toISOString(),
    ...row.payload,
  });
}

/** Inserts the notifications not stored before (by dedupe key), in input order, with their deliveries. */
export async function insertNotifications(
  db: Db,
  items: NewNotification[],
  now: Date,
  destinations: string[],
  giveUpAt: Date,
): Promise<StoredNotification[]> {
  if (items.length === 0) return [];
  const result = await db.query<StoredNotification>(
    `insert into notifications (kind, dedupe_key, order_key, payment_id, payload, created_at)
     select t.item ->> 'kind', t.item ->> 'dedupe_key', t.item ->> 'order_key', t.item ->> 'payment_id',
            t.item -> 'payload', $2
       from jsonb_array_elements($1::jsonb) with ordinality as t(item, ord)
      order by t.ord
     on conflict (dedupe_key) do nothing
     returning id, kind, payment_id, order_key, payload, created_at`,
    [
      JSON.stringify(
        items.map((item) => ({
          kind: item.kind,
          dedupe_key: item.dedupeKey,
          order_key: item.orderKey,
          payment_id: item.paymentId,
          payload: item.payload,
        })),
      ),
      now,
    ],
  );
  const stored = result.rows.sort((a, b) => a.id - b.id);
  if (stored.length > 0 && destinations.length > 0) {
    await db.query(
      `insert into notification_deliveries (notification_id, destination, order_key, next_attempt_at, give_up_at)
       select n.id, d.destination, n.order_key, $3, $4
         from unnest($1::bigint[], $2::text[]) as n(id, order_key)
        cross join unnest($5::text[]) as d(destination)`,
      [stored.map((row) => row.id), stored.map((row) => row.order_key), now, giveUpAt, destinations],
    );
  }
  return stored;
}

export interface ClaimedDelivery {
  id: number;
  destination: string;
  attempts: number;
  give_up_at: Date;
  notification_id: number;
  kind: NotificationKind;
  payload: Record<string, unknown>;
  created_at: Date;
}

/**
 * Claims deliveries that are due, to these destinations, and first in line for their (destination, order
 * key): an earlier one not yet delivered (nor given up) holds the later ones back. The claim is a lease:
 * `next_attempt_at` moves to `leaseUntil`, so a crash mid-request lets another attempt happen after it.
 */
export async function claimDeliveries(
  db: Db,
  destinations: string[],
  now: Date,
  leaseUntil: Date,
  limit: number,
): Promise<ClaimedDelivery[]> {
  const result = await db.query<ClaimedDelivery>(
    `with claimable as (
       select d.id from notification_deliveries d
        where d.next_attempt_at <= $2 and d.destination = any($1::text[])
          and not exists (
            select 1 from notification_deliveries earlier
             where earlier.destination = d.destination and earlier.order_key = d.order_key
               and earlier.notification_id < d.notification_id and earlier.next_attempt_at is not null)
        order by d.notification_id
        limit $4
        for update skip locked)
     update notification_deliveries d set next_attempt_at = $3, attempts = d.attempts + 1
       from claimable c, notifications n
      where d.id = c.id and n.id = d.notification_id
     returning d.id, d.destination, d.attempts, d.give_up_at, n.id as notification_id, n.kind, n.payload, n.created_at`,
    [destinations, now, leaseUntil, limit],
  );
  return result.rows.sort((a, b) => a.notification_id - b.notification_id);
}

export interface AttemptOutcome {
  deliveryId: number;
  at: Date;
  delivered: boolean;
  httpStatus: number | null;
  error: string | null;
  durationMs: number;
  /** When to try again after a failure; null: given up. */
  nextAttemptAt: Date | null;
}

export async function recordAttempt(db: Db, outcome: AttemptOutcome): Promise<void> {
  await db.query(
    `with attempt as (
       insert into notification_attempts (delivery_id, at, result, http_status, error, duration_ms)
       values ($1, $2, $3, $4, $5, $6))
     update notification_deliveries
        set state = $3, last_error = $5,
            delivered_at = case when $3 = 'delivered' then $2::timestamptz end,
            next_attempt_at = $7
      where id = $1`,
    [
      outcome.deliveryId,
      outcome.at,
      outcome.delivered ? "delivered" : "failed",
      outcome.httpStatus,
      outcome.error,
      Math.round(outcome.durationMs),
      outcome.delivered ? null : outcome.nextAttemptAt,
    ],
  );
}

/** When the earliest delivery to these destinations comes due (to sleep until then). */
export async function nextDeliveryDue(db: Db, destinations: string[]): Promise<Date | null> {
  const result = await db.query<{ at: Date | null }>(
    "select min(next_attempt_at) as at from notification_deliveries where destination = any($1::text[])",
    [destinations],
  );
  return result.rows[0]?.at ?? null;
}

export type NotificationState = "pending" | "failed" | "delivered" | "stored";

export interface NotificationListRow extends StoredNotification {
  state: NotificationState;
}

const STATE_SQL = `case
  when not exists (select 1 from notification_deliveries d where d.notification_id = n.id) then 'stored'
  when exists (select 1 from notification_deliveries d where d.notification_id = n.id and d.state = 'failed') then 'failed'
  when exists (select 1 from notification_deliveries d where d.notification_id = n.id and d.state = 'pending') then 'pending'
  else 'delivered' end`;

/** Newest first, keyed by id. */
export async function listNotifications(
  db: Db,
  filter: {
    state?: NotificationState;
    kind?: string;
    paymentId?: string;
    beforeId?: number;
    id?: number;
    limit: number;
  },
): Promise<NotificationListRow[]> {
  const result = await db.query<NotificationListRow>(
    `select * from (
       select n.id, n.kind, n.payment_id, n.order_key, n.payload, n.created_at, ${STATE_SQL} as state
         from notifications n
        where ($2::text is null or n.kind = $2) and ($3::text is null or n.payment_id = $3)
          and ($4::bigint is null or n.id < $4) and ($6::bigint is null or n.id = $6)
          -- failed, the usual question, from its partial index rather than every notification's state
          and ($1::text is distinct from 'failed'
               or exists (select 1 from notification_deliveries d where d.notification_id = n.id and d.state = 'failed'))
     ) listed
      where $1::text is null or listed.state = $1
      order by listed.id desc
      limit $5`,
    [
      filter.state ?? null,
      filter.kind ?? null,
      filter.paymentId ?? null,
      filter.beforeId ?? null,
      filter.limit,
      filter.id ?? null,
    ],
  );
  return result.rows;
}

export interface DeliveryLogRow {
  id: number;
  notification_id: number;
  destination: string;
  state: string;
  attempts: number;
  next_attempt_at: Date | null;
  give_up_at: Date;
  last_error: string | null;
  delivered_at: Date | null;
  log: Array<{ at: string; result: string; http_status: number | null; error: string | null; duration_ms: number }>;
}

export async function deliveriesOf(db: Db, notificationIds: number[]): Promise<Map<number, DeliveryLogRow[]>> {
  const result = await db.query<DeliveryLogRow>(
    `select d.id, d.notification_id, d.destination, d.state, d.attempts, d.next_attempt_at, d.give_up_at, d.last_error,
            d.delivered_at,
            coalesce((select json_agg(json_build_object('at', a.at, 'result', a.result, 'http_status', a.http_status,
                                                        'error', a.error, 'duration_ms', a.duration_ms) order by a.id)
                        from notification_attempts a where a.delivery_id = d.id), '[]') as log
       from notification_deliveries d where d.notification_id = any($1::bigint[]) order by d.id`,
    [notificationIds],
  );
  const out = new Map<number, DeliveryLogRow[]>();
  for (const row of result.rows) {
    const list = out.get(row.notification_id) ?? [];
    list.push(row);
    out.set(row.notification_id, list);
  }
  return out;
}

export interface ExceptionToNotify {
  id: number;
  kind: string;
  priority: string;
  payment_id: string | null;
  entry_id: string | null;
  bank: string | null;
  gateway: string | null;
  subject_key: string;
  amount_minor: number;
  currency: string;
  direction: string | null;
  detail: string;
  opened_at: Date;
  due_by: Date | null;
  /** The audit entry that opened (or re-opened) it: one notification per episode. */
  episode: number;
}

/** Unresolved exceptions at or above the priority (p1 highest) not yet notified for their current episode. */
export async function exceptionsToNotify(db: Db, priorities: string[], limit: number): Promise<ExceptionToNotify[]> {
  const result = await db.query<ExceptionToNotify>(
    `select x.id, x.kind, x.priority, x.payment_id, x.entry_id, x.bank, x.gateway, x.subject_key, x.amount_minor,
            x.currency, x.direction, x.detail, x.opened_at, x.due_by, e.episode
       from exceptions x
       cross join lateral (select coalesce(max(a.id), 0) as episode from exception_audit a
                            where a.exception_id = x.id and a.action in ('opened', 'reopened')) e
      where x.state <> 'resolved' and x.priority = any($1::text[])
        and not exists (select 1 from notifications n where n.dedupe_key = 'exception_opened:' || x.id || ':' || e.episode)
      order by x.id
      limit $2`,
    [priorities, limit],
  );
  return result.rows;
}

export interface RetryToSuggest {
  payment_id: string;
  gateway: string;
  direction: string;
  currency: string;
  amount_minor: number;
  reference: string;
  counterparty: string | null;
  failure_category: string | null;
  failure_code: string | null;
  failure_message: string | null;
  failed_at: Date;
  /** The status change into `failed`: one suggestion per failure. */
  failure: number;
}

/** Failed payouts whose failure advises a retry and that have no suggestion for this failure yet. */
export async function retriesToSuggest(db: Db, limit: number): Promise<RetryToSuggest[]> {
  const result = await db.query<RetryToSuggest>(
    `select p.id as payment_id, p.gateway, p.direction, p.currency, p.amount_minor, p.reference, p.counterparty,
            p.failure_category, p.failure_code, p.failure_message, p.status_since as failed_at, f.failure
       from payments p
       cross join lateral (select coalesce(max(c.id), 0) as failure from status_changes c
                            where c.payment_id = p.id and c.to_status = 'failed') f
      where p.status = 'failed' and p.direction = 'payout' and p.retry_advice = 'retry'
        and not exists (select 1 from notifications n where n.dedupe_key = 'retry_suggested:' || p.id || ':' || f.failure)
      order by f.failure
      limit $1`,
    [limit],
  );
  return result.rows;
}
