import type { Db } from "../pool.js";

/**
 * Dunning records (CONTRACT §9): every delayed collection and every failed or held payout has one open
 * record with its reminder steps and the contacts operators record. Written by the follow-up loop and the
 * `contacted` action from committed payment state; a status is never changed here.
 */

/** Which payments are owed follow-up: they owe us (delayed collection) or we owe them (failed or held payout). */
export const DUNNING_CONDITION = `((p.direction = 'collection' and p.status = 'delayed')
  or (p.direction = 'payout' and p.status in ('failed', 'held')))`;

/** Opens a record, with its steps, for each payment owed follow-up that has none open. */
export async function openDunningRecords(
  db: Db,
  now: Date,
  scheduleMs: number[],
  options: { paymentId?: string; limit?: number } = {},
): Promise<number> {
  const result = await db.query(
    `with qualifying as (
       select p.id, p.status,
              case when p.status = 'delayed' then coalesce(p.overdue_since, p.status_since) else p.status_since end as since
         from payments p
        where ${DUNNING_CONDITION} and ($3::text is null or p.id = $3)
          and not exists (select 1 from dunning_records r where r.payment_id = p.id and r.closed_at is null)
        order by p.id
        limit $4),
     opened as (
       insert into dunning_records (payment_id, reason, since, opened_at)
       select id, status, since, $1 from qualifying
       on conflict (payment_id) where closed_at is null do nothing
       returning id, since)
     insert into dunning_steps (record_id, step, due_at)
     select o.id, s.step, o.since + s.ms * interval '1 millisecond'
       from opened o cross join unnest($2::bigint[]) with ordinality as s(ms, step)`,
    [now, scheduleMs, options.paymentId ?? null, options.limit ?? 1_000],
  );
  return Math.floor((result.rowCount ?? 0) / Math.max(1, scheduleMs.length));
}

/**
 * Closes the records whose payment no longer owes follow-up (paid, released, retried, written off…): their
 * remaining steps are skipped, their pending promises kept.
 */
export async function closeDunningRecords(db: Db, now: Date): Promise<number> {
  const result = await db.query(
    `with closing as (
       update dunning_records r set closed_at = $1, closed_status = p.status
         from payments p
        where r.closed_at is null and p.id = r.payment_id and not ${DUNNING_CONDITION}
       returning r.id),
     skipped as (
       update dunning_steps s set state = 'skipped', changed_at = $1
         from closing c where s.record_id = c.id and s.state in ('scheduled', 'due')),
     kept as (
       update dunning_contacts k set promise_state = 'kept', promise_settled_at = $1
         from closing c where k.record_id = c.id and k.promise_state = 'pending')
     select count(*)::int as count from closing`,
    [now],
  );
  return result.rows[0]?.count ?? 0;
}

export interface DueStep {
  record_id: number;
  step: number;
  steps: number;
  due_at: Date;
  state: "due" | "skipped";
  since: Date;
  reason: string;
  payment_id: string;
  counterparty: string | null;
  gateway: string;
  direction: string;
  currency: string;
  amount_minor: number;
  settled_amount_minor: number;
  reference: string;
  exception_id: number | null;
}

/**
 * Steps whose time has come: the latest of each record becomes `due` (or `skipped` while a promise is
 * running); earlier steps not yet acted on are `skipped` — one reminder for the step that is current, not a
 * burst for every step a late record passed.
 */
export async function advanceDunningSteps(db: Db, now: Date): Promise<DueStep[]> {
  const result = await db.query<DueStep>(
    `with reached as (
       select s.record_id, max(s.step) as step
         from dunning_steps s join dunning_records r on r.id = s.record_id
        where s.state = 'scheduled' and s.due_at <= $1 and r.closed_at is null
        group by s.record_id),
     superseded as (
       update dunning_steps s set state = 'skipped', changed_at = $1
         from reached
        where s.record_id = reached.record_id and s.step < reached.step and s.state in ('scheduled', 'due')),
     current as (
       update dunning_steps s
          set state = case when exists (select 1 from dunning_contacts k
                                         where k.record_id = s.record_id and k.promise_state = 'pending')
                           then 'skipped' else 'due' end,
              changed_at = $1
         from reached where s.record_id = reached.record_id and s.step = reached.step
       returning s.record_id, s.step, s.due_at, s.state)
     select c.record_id, c.step, (select count(*)::int from dunning_steps a where a.record_id = c.record_id) as steps,
            c.due_at, c.state, r.since, r.reason, p.id as payment_id, p.counterparty, p.gateway, p.direction,
            p.currency, p.amount_minor, p.settled_amount_minor, p.reference,
            (select x.id from exceptions x where x.payment_id = p.id and x.state <> 'resolved'
              order by x.opened_at desc, x.id desc limit 1) as exception_id
       from current c join dunning_records r on r.id = c.record_id join payments p on p.id = r.payment_id
      order by r.since, c.record_id`,
    [now],
  );
  return result.rows;
}

export interface BrokenPromise {
  contact_id: number;
  record_id: number;
  payment_id: string;
  exception_id: number | null;
  promised_by: string;
  contacted_at: Date;
  channel: string;
  actor: string;
  amount_minor: number;
  currency: string;
  gateway: string;
  direction: string;
  counterparty: string | null;
}

/** Promises whose day has passed (UTC) with the record still open: broken. */
export async function breakPassedPromises(db: Db, now: Date): Promise<BrokenPromise[]> {
  const result = await db.query<BrokenPromise>(
    `with broken as (
       update dunning_contacts k set promise_state = 'broken', promise_settled_at = $1
         from dunning_records r
        where k.promise_state = 'pending' and k.promised_by < ($1::timestamptz at time zone 'UTC')::date
          and r.id = k.record_id and r.closed_at is null
       returning k.id, k.record_id, k.exception_id, k.promised_by, k.at, k.channel, k.actor)
     select b.id as contact_id, b.record_id, r.payment_id, b.exception_id, b.promised_by, b.at as contacted_at,
            b.channel, b.actor, p.amount_minor, p.currency, p.gateway, p.direction, p.counterparty
       from broken b join dunning_records r on r.id = b.record_id join payments p on p.id = r.payment_id
      order by b.id`,
    [now],
  );
  return result.rows;
}

/**
 * One priority up (p3 → p2 → p1), with the deadline of the new tier brought forward (never pushed back).
 * Returns the new priority, or null when the exception is resolved or already p1.
 */
export async function raiseExceptionPriority(
  db: Db,
  exceptionId: number,
  now: Date,
  resolveWithinMs: Record<string, number>,
): Promise<string | null> {
  const result = await db.query<{ priority: string }>(
    `update exceptions x
        set priority = t.raised,
            due_by = least(coalesce(x.due_by, $2::timestamptz + t.within * interval '1 millisecond'),
                           $2::timestamptz + t.within * interval '1 millisecond'),
            updated_at = $2
       from (select case priority when 'p3' then 'p2' when 'p2' then 'p1' end as raised,
                    ($3::jsonb ->> case priority when 'p3' then 'p2' when 'p2' then 'p1' end)::bigint as within
               from exceptions where id = $1) t
      where x.id = $1 and x.state <> 'resolved' and t.raised is not null
     returning x.priority`,
    [exceptionId, now, JSON.stringify(resolveWithinMs)],
  );
  return result.rows[0]?.priority ?? null;
}

export interface DunningRecordRow {
  id: number;
  payment_id: string;
  reason: string;
  since: Date;
  opened_at: Date;
  closed_at: Date | null;
  closed_status: string | null;
  status: string;
  direction: string;
  gateway: string;
  currency: string;
  amount_minor: number;
  settled_amount_minor: number;
  counterparty: string | null;
  reference: string;
  exception_id: number | null;
  priority: string | null;
  steps: Array<{ step: number; due_at: string; state: string; changed_at: string | null }>;
  contacts: Array<{
    id: number;
    at: string;
    actor: string;
    channel: string;
    note: string | null;
    promised_by: string | null;
    promise_state: string | null;
  }>;
}

const RECORD_SELECT = `
  select r.id, r.payment_id, r.reason, r.since, r.opened_at, r.closed_at, r.closed_status, p.status, p.direction,
         p.gateway, p.currency, p.amount_minor, p.settled_amount_minor, p.counterparty, p.reference,
         x.id as exception_id, x.priority,
         (select json_agg(json_build_object('step', s.step, 'due_at', s.due_at, 'state', s.state,
                                            'changed_at', s.changed_at) order by s.step)
            from dunning_steps s where s.record_id = r.id) as steps,
         coalesce((select json_agg(json_build_object('id', k.id, 'at', k.at, 'actor', k.actor, 'channel', k.channel,
                                                     'note', k.note, 'promised_by', k.promised_by,
                                                     'promise_state', k.promise_state) order by k.id)
                     from dunning_contacts k where k.record_id = r.id), '[]') as contacts
    from dunning_records r
    join payments p on p.id = r.payment_id
    left join lateral (select e.id, e.priority from exceptions e
                        where e.payment_id = r.payment_id and e.state <> 'resolved'
                        order by e.opened_at desc, e.id desc limit 1) x on true`;

export type DunningListState = "due" | "promised" | "open" | "closed" | "all";

/** Oldest first (by when the payment became due or failed), keyed by (since, id). */
export async function listDunningRecords(
  db: Db,
  filter: {
    state: DunningListState;
    gateway?: string;
    currency?: string;
    after?: { since: Date; id: number };
    limit: number;
  },
): Promise<DunningRecordRow[]> {
  const result = await db.query<DunningRecordRow>(
    `${RECORD_SELECT}
      where ($1 = 'all'
             or ($1 = 'open' and r.closed_at is null)
             or ($1 = 'closed' and r.closed_at is not null)
             or ($1 = 'due' and r.closed_at is null
                 and exists (select 1 from dunning_steps s where s.record_id = r.id and s.state = 'due'))
             or ($1 = 'promised' and r.closed_at is null
                 and exists (select 1 from dunning_contacts k where k.record_id = r.id and k.promise_state = 'pending')))
        and ($2::text is null or p.gateway = $2) and ($3::text is null or p.currency = $3)
        and ($4::timestamptz is null or (r.since, r.id) > ($4::timestamptz, $5::bigint))
      order by r.since, r.id
      limit $6`,
    [
      filter.state,
      filter.gateway ?? null,
      filter.currency ?? null,
      filter.after?.since ?? null,
      filter.after?.id ?? null,
      filter.limit,
    ],
  );
  return result.rows;
}

export async function dunningRecord(db: Db, id: number): Promise<DunningRecordRow | undefined> {
  const result = await db.query<DunningRecordRow>(`${RECORD_SELECT} where r.id = $1`, [id]);
  return result.rows[0];
}

export async function openDunningRecordOf(db: Db, paymentId: string): Promise<{ id: number } | undefined> {
  const result = await db.query<{ id: number }>(
    "select id from dunning_records where payment_id = $1 and closed_at is null for update",
    [paymentId],
  );
  return result.rows[0];
}

/** Records a contact; the steps that were due count as sent (the reminder went out through this contact). */
export async function insertDunningContact(
  db: Db,
  contact: {
    recordId: number;
    exceptionId: number;
    at: Date;
    actor: string;
    channel: string;
    note: string | null;
    promisedBy: string | null;
  },
): Promise<number> {
  const result = await db.query<{ id: number }>(
    `with sent as (
       update dunning_steps set state = 'sent', changed_at = $3 where record_id = $1 and state = 'due')
     insert into dunning_contacts (record_id, exception_id, at, actor, channel, note, promised_by, promise_state)
     values ($1, $2, $3, $4, $5, $6, $7::date, case when $7::date is null then null else 'pending' end)
     returning id`,
    [
      contact.recordId,
      contact.exceptionId,
      contact.at,
      contact.actor,
      contact.channel,
      contact.note,
      contact.promisedBy,
    ],
  );
  return result.rows[0]!.id;
}
