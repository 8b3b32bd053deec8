import { pushTo } from "../../grouping.js";
import type { ExpectedPayment } from "../../messages/schemas.js";
import { settlingDirection } from "../../reconcile/matching.js";
import type { BatchView, MatchedEntry, PaymentOutcome } from "../../reconcile/paymentStatus.js";
import type { ExpectedVersion, GatewayFact, MatchMethod, PaymentStatus } from "../../reconcile/types.js";
import { utcDate } from "../../reconcile/types.js";
import { createHash } from "node:crypto";
import { referenceKeySql } from "../../reconcile/references.js";
import type { Db } from "../pool.js";
import {
  type BankEntryDbRow,
  type GatewayEventDbRow,
  toBankFact,
  toGatewayFact,
  toVersion,
  type VersionRow,
} from "./factRows.js";

/** Queries of the status phase: the facts of a set of payments, and writing their derived rows. */

export async function loadVersions(db: Db, paymentIds: string[]): Promise<Map<string, ExpectedVersion[]>> {
  const out = new Map<string, ExpectedVersion[]>();
  if (paymentIds.length === 0) return out;
  const result = await db.query<VersionRow>(
    `select seq, payment_id, version, cancelled, body, received_at from expected_payment_versions
      where payment_id = any($1::text[]) order by seq`,
    [paymentIds],
  );
  for (const row of result.rows) {
    const version = toVersion(row);
    pushTo(out, row.payment_id, version);
  }
  return out;
}

export interface StoredPayment {
  id: string;
  referenceKey: string;
  status: PaymentStatus;
  direction: string;
  gateway: string;
  currency: string;
  atRiskMinor: number;
  statusReason: string;
  signature: string;
  identityHash: string | null;
}

// Both hashes are asked for several times per payment and reconciliation (compare, then write): memoized
// per object, which the reconciler never mutates.
const identityHashes = new WeakMap<ExpectedPayment, [string | undefined, string | undefined]>();
const signatures = new WeakMap<PaymentOutcome, string>();

/** Identifies the version in force: equal hashes, nothing to rewrite. */
export function identityHash(payment: ExpectedPayment, cancelled: boolean): string {
  const known = identityHashes.get(payment) ?? [undefined, undefined];
  const index = cancelled ? 1 : 0;
  const hash =
    known[index] ??
    createHash("sha1")
      .update(JSON.stringify(payment))
      .update(cancelled ? "1" : "0")
      .digest("base64");
  known[index] = hash;
  identityHashes.set(payment, known);
  return hash;
}

/**
 * What decides whether a payment row must be rewritten, in order: the signature hashes it (outcomeSignature) and
 * the memory engine compares it field by field (writer/writtenRows.ts sameOutcome), so both read this one list.
 */
export function signedFields(outcome: PaymentOutcome): unknown[] {
  return [
    outcome.payment,
    outcome.status,
    outcome.settledAmountMinor,
    outcome.failureCategory,
    outcome.failureCode,
    outcome.retryAdvice,
    outcome.holdReason,
    outcome.settledLate,
    outcome.settledOn,
    outcome.acceptedAt,
    outcome.overdueSince,
    outcome.flags,
    outcome.reason,
    outcome.nextDeadline,
    outcome.exception?.amountMinor ?? 0,
    // Only when lines in another currency settled it, so signatures stored before FX stay valid.
    ...(outcome.fx ? [outcome.fx] : []),
  ];
}

/** What a payment row says, reduced to a short hash of what decides whether it must be rewritten. */
export function outcomeSignature(outcome: PaymentOutcome): string {
  const known = signatures.get(outcome);
  if (known !== undefined) return known;
  const text = JSON.stringify(signedFields(outcome));
  const signature = createHash("sha1").update(text).digest("base64");
  signatures.set(outcome, signature);
  return signature;
}

export async function loadStoredPayments(db: Db, ids: string[]): Promise<Map<string, StoredPayment>> {
  const out = new Map<string, StoredPayment>();
  if (ids.length === 0) return out;
  const result = await db.query<{
    id: string;
    reference_key: string;
    status: PaymentStatus;
    direction: string;
    gateway: string;
    currency: string;
    at_risk_minor: number;
    status_reason: string;
    signature: string;
    identity_hash: string | null;
  }>(
    `select id, reference_key, status, direction, gateway, currency, at_risk_minor, status_reason,
            outcome_signature as signature, identity_hash
       from payments where id = any($1::text[])`,
    [ids],
  );
  for (const row of result.rows) {
    out.set(row.id, {
      id: row.id,
      referenceKey: row.reference_key,
      status: row.status,
      direction: row.direction,
      gateway: row.gateway,
      currency: row.currency,
      atRiskMinor: row.at_risk_minor,
      statusReason: row.status_reason,
      signature: row.signature,
      identityHash: row.identity_hash,
    });
  }
  return out;
}

export async function paymentIdsByReference(db: Db, referenceKeys: string[]): Promise<string[]> {
  if (referenceKeys.length === 0) return [];
  const result = await db.query<{ id: string }>("select id from payments where reference_key = any($1::text[])", [
    referenceKeys,
  ]);
  return result.rows.map((row) => row.id);
}

/**
 * Payments listed in these batches, and payments named by these remittance tokens (of new entries).
 * Driven from the keys, one index probe each (see matching.ts).
 */
export async function paymentIdsRelated(
  db: Db,
  input: { batches: Array<{ gateway: string; batchId: string }>; tokens: string[] },
): Promise<string[]> {
  if (input.batches.length === 0 && input.tokens.length === 0) return [];
  const result = await db.query<{ id: string }>(
    `select p.id from unnest($1::text[], $2::text[]) as k(gateway, batch_id)
       cross join lateral (select reference_key from batch_references br
                            where br.gateway = k.gateway and br.batch_id = k.batch_id offset 0) br
       cross join lateral (select id from payments p where p.reference_key = br.reference_key offset 0) p
     union
     select p.id from unnest($3::text[]) as k(token)
       cross join lateral (select id from payments p where p.reference_key = k.token offset 0) p`,
    [input.batches.map((ref) => ref.gateway), input.batches.map((ref) => ref.batchId), [...new Set(input.tokens)]],
  );
  return result.rows.map((row) => row.id);
}

export interface PaymentInstallment {
  id: string;
  idx: number;
  amount: number;
  currency: string;
  direction: "credit" | "debit";
  due: string;
}

/**
 * Amount-match rows of a payment: each installment (or the whole amount, idx 0), and with installments the
 * whole amount (idx -1) at its last due date. Without installments that row would repeat idx 0's amount and
 * date, so it is not written (issue 15): every reader matches any row of a payment, or reads idx >= 0.
 */
export function installmentRows(id: string, payment: ExpectedPayment): PaymentInstallment[] {
  const parts = payment.installments ?? [];
  const direction = settlingDirection(payment.direction);
  const lastDue = [payment.due_at, ...parts.map((part) => part.due_at)]
    .map(Date.parse)
    .reduce((a, b) => Math.max(a, b));
  const whole = {
    id,
    idx: -1,
    amount: payment.amount_minor,
    currency: payment.currency,
    direction,
    due: utcDate(lastDue),
  };
  const each = (parts.length ? parts : [{ amount_minor: payment.amount_minor, due_at: payment.due_at }]).map(
    (part, idx) => ({
      id,
      idx,
      amount: part.amount_minor,
      currency: payment.currency,
      direction,
      due: utcDate(Date.parse(part.due_at)),
    }),
  );
  return parts.length ? [whole, ...each] : each;
}

/** Replaces the installments of payments whose identity changed (`existing`: those that had a row before). */
export async function replaceInstallments(
  db: Db,
  rows: Array<{ id: string; payment: ExpectedPayment }>,
  existing: string[],
): Promise<void> {
  if (rows.length === 0) return;
  const installments = rows.flatMap(({ id, payment }) => installmentRows(id, payment));
  if (existing.length > 0) {
    await db.query("delete from payment_installments where payment_id = any($1::text[])", [existing]);
  }
  await db.query(
    `insert into payment_installments (payment_id, idx, amount_minor, currency, settle_direction, due_date)
     select * from json_to_recordset($1::json)
       as t(id text, idx int, amount bigint, currency text, direction text, due date)`,
    [JSON.stringify(installments)],
  );
}

/**
 * What a payment row keeps of its version's body (000130): the installments, for the API; the version itself is in
 * expected_payment_versions, its other fields in the row's columns.
 */
const INSTALLMENTS_SQL = `case when jsonb_typeof(t.body->'installments') = 'array' then t.body->'installments' end`;

/**
 * Rewrites the identity columns (amount, dates, body…) of existing payments whose version in force changed.
 * Their status changes not yet published read that identity from this row (writer/findings.ts
 * paymentIdentityFields): the same statement first copies the identity they were committed with into them
 * (every part of a statement reads the rows as they were before it).
 */
export async function saveIdentities(
  db: Db,
  rows: Array<{ id: string; payment: ExpectedPayment; cancelled: boolean }>,
  now: Date,
): Promise<void> {
  if (rows.length === 0) return;
  await db.query(
    `with unpublished as (
       update status_changes s
          set finding = jsonb_build_object('reference', p.reference, 'gateway', p.gateway, 'direction', p.direction,
                'currency', p.currency, 'amount_minor', p.amount_minor, 'counterparty', p.counterparty,
                'retry_advice', coalesce(s.finding -> 'retry_advice', 'null'),
                'hold_reason', coalesce(s.finding -> 'hold_reason', 'null'),
                'flags', coalesce(s.finding -> 'flags', '[]'))
         from payments p, findings_cursor c
        where p.id = any($1::text[]) and s.payment_id = p.id
          and s.finding is not null and not s.finding ? 'reference'
          and (s.at, s.id) > (c.status_change_at, c.status_change_id))
     insert into payments (id, reference, reference_key, gateway, direction, currency, amount_minor, counterparty,
                           counterparty_name, created_at, due_at, cancelled, status, status_since, installments,
                           updated_at, identity_hash)
     select t.id, t.body->>'reference', ${referenceKeySql("t.body->>'reference'")}, t.body->>'gateway', t.body->>'direction',
            t.body->>'currency', (t.body->>'amount_minor')::bigint, t.body->>'counterparty',
            t.body->'metadata'->>'counterparty_name', (t.body->>'created_at')::timestamptz,
            (t.body->>'due_at')::timestamptz, t.cancelled, 'pending', $4, ${INSTALLMENTS_SQL}, $4, t.identity_hash
       from unnest($1::text[], $2::jsonb[], $3::bool[], $5::text[]) as t(id, body, cancelled, identity_hash)
     on conflict (id) do update set reference = excluded.reference, reference_key = excluded.reference_key,
       gateway = excluded.gateway, direction = excluded.direction, currency = excluded.currency,
       amount_minor = excluded.amount_minor, counterparty = excluded.counterparty,
       counterparty_name = excluded.counterparty_name, created_at = excluded.created_at, due_at = excluded.due_at,
       cancelled = excluded.cancelled, installments = excluded.installments, identity_hash = excluded.identity_hash`,
    [
      rows.map((row) => row.id),
      rows.map((row) => JSON.stringify(row.payment)),
      rows.map((row) => row.cancelled),
      now,
      rows.map((row) => identityHash(row.payment, row.cancelled)),
    ],
  );
}

export async function loadEventsByReference(db: Db, referenceKeys: string[]): Promise<Map<string, GatewayFact[]>> {
  const out = new Map<string, GatewayFact[]>();
  if (referenceKeys.length === 0) return out;
  const result = await db.query<GatewayEventDbRow>(
    `select seq, body, reference_key, received_at from gateway_events
      where reference_key = any($1::text[]) and type <> 'settlement.batch'`,
    [referenceKeys],
  );
  for (const row of result.rows) {
    const fact = toGatewayFact(row);
    pushTo(out, fact.referenceKey, fact);
  }
  return out;
}

export async function loadMatchedEntries(db: Db, paymentIds: string[]): Promise<Map<string, MatchedEntry[]>> {
  const out = new Map<string, MatchedEntry[]>();
  if (paymentIds.length === 0) return out;
  const result = await db.query<BankEntryDbRow & { payment_id: string; method: MatchMethod }>(
    `select e.seq, e.body, e.received_at, m.payment_id, m.method
       from unnest($1::text[]) as k(id)
       cross join lateral (select * from bank_entry_matches m where m.payment_id = k.id and m.kind = 'payment' offset 0) m
       cross join lateral (select * from bank_entries e where e.seq = m.entry_seq offset 0) e`,
    [[...new Set(paymentIds)]],
  );
  for (const row of result.rows) {
    pushTo(out, row.payment_id, { entry: toBankFact(row), method: row.method });
  }
  return out;
}

/** Batches listing these references, with their current settlement state. */
export async function loadBatchViews(db: Db, referenceKeys: string[]): Promise<Map<string, BatchView[]>> {
  const out = new Map<string, BatchView[]>();
  if (referenceKeys.length === 0) return out;
  // Only the batch's own columns: its event body lists up to 10,000 references and would be
  // copied once per listed payment.
  const result = await db.query<{
    listed: string;
    gateway: string;
    batch_id: string;
    currency: string;
    occurred_at: Date;
    state: BatchView["state"];
    settled_on: string | null;
  }>(
    `select br.reference_key as listed, b.gateway, b.batch_id, b.currency, b.occurred_at, b.state, b.settled_on
       from batch_references br
       join settlement_batches b on b.gateway = br.gateway and b.batch_id = br.batch_id
      where br.reference_key = any($1::text[])`,
    [referenceKeys],
  );
  for (const row of result.rows) {
    const view: BatchView = {
      batch: {
        gateway: row.gateway,
        batchId: row.batch_id,
        currency: row.currency,
        occurredAt: row.occurred_at.getTime(),
      },
      state: row.state,
      settledOn: row.settled_on,
    };
    pushTo(out, row.listed, view);
  }
  return out;
}

/** The status columns of a payment row, as a json_to_recordset() row (see STATUS_RECORD). */
function statusRecord(o: PaymentOutcome, statusSince: Map<string, Date>) {
  const time = (value: number | null) => (value === null ? null : new Date(value).toISOString());
  return {
    id: o.paymentId,
    status: o.status,
    settled: o.settledAmountMinor,
    at_risk: o.exception?.amountMinor ?? 0,
    failure_category: o.failureCategory,
    failure_code: o.failureCode,
    failure_message: o.failureMessage,
    retry_advice: o.retryAdvice,
    hold_reason: o.holdReason,
    settled_late: o.settledLate,
    settled_on: o.settledOn,
    accepted_at: time(o.acceptedAt),
    overdue_since: time(o.overdueSince),
    flags: o.flags,
    reason: o.reason,
    status_since: statusSince.get(o.paymentId)?.toISOString() ?? null,
    next_deadline: time(o.nextDeadline),
    signature: outcomeSignature(o),
    fx_line_currency: o.fx?.lineCurrency ?? null,
    fx_line_amount: o.fx?.lineAmountMinor ?? null,
    fx_difference: o.fx?.differenceMinor ?? null,
  };
}

// Rows as one JSON document: node-postgres encodes array parameters element by element, slowly.
const STATUS_RECORD = `id text, status text, settled bigint, at_risk bigint, failure_category text, failure_code text,
  failure_message text, retry_advice text, hold_reason text, settled_late bool, settled_on date, accepted_at timestamptz,
  overdue_since timestamptz, flags text[], reason text, status_since timestamptz, next_deadline timestamptz,
  signature text, fx_line_currency text, fx_line_amount bigint, fx_difference bigint`;

/** Status columns of existing payments whose outcome changed. */
export async function savePayments(db: Db, outcomes: PaymentOutcome[], statusSince: Map<string, Date>, now: Date) {
  if (outcomes.length === 0) return;
  await db.query(
    `update payments p set status = t.status, settled_amount_minor = t.settled, at_risk_minor = t.at_risk,
            failure_category = t.failure_category, failure_code = t.failure_code, failure_message = t.failure_message,
            retry_advice = t.retry_advice, hold_reason = t.hold_reason, settled_late = t.settled_late,
            settled_on = t.settled_on, accepted_at = t.accepted_at, overdue_since = t.overdue_since,
            flags = coalesce(t.flags, '{}'), status_reason = t.reason,
            status_since = coalesce(t.status_since, p.status_since),
            next_deadline = t.next_deadline, outcome_signature = t.signature, updated_at = $2,
            fx_line_currency = t.fx_line_currency, fx_line_amount_minor = t.fx_line_amount,
            fx_difference_minor = t.fx_difference
       from json_to_recordset($1::json) as t(${STATUS_RECORD})
      where p.id = t.id`,
    [JSON.stringify(outcomes.map((outcome) => statusRecord(outcome, statusSince))), now],
  );
}

/**
 * New payments, identity and status in one row write (an insert, then an update of the same row in the
 * same transaction, would write every payment and its index entries twice).
 */
export async function insertPayments(
  db: Db,
  rows: Array<{ outcome: PaymentOutcome; cancelled: boolean }>,
  statusSince: Map<string, Date>,
  now: Date,
): Promise<void> {
  if (rows.length === 0) return;
  await db.query(
    `insert into payments (id, reference, reference_key, gateway, direction, currency, amount_minor, counterparty,
                           counterparty_name, created_at, due_at, cancelled, installments, identity_hash, status,
                           settled_amount_minor, at_risk_minor, failure_category, failure_code, failure_message,
                           retry_advice, hold_reason, settled_late, settled_on, accepted_at, overdue_since, flags,
                           status_reason, status_since, next_deadline, outcome_signature, updated_at,
                           fx_line_currency, fx_line_amount_minor, fx_difference_minor)
     select t.id, t.body->>'reference', ${referenceKeySql("t.body->>'reference'")}, t.body->>'gateway', t.body->>'direction',
            t.body->>'currency', (t.body->>'amount_minor')::bigint, t.body->>'counterparty',
            t.body->'metadata'->>'counterparty_name', (t.body->>'created_at')::timestamptz,
            (t.body->>'due_at')::timestamptz, t.cancelled, ${INSTALLMENTS_SQL}, t.identity_hash, t.status, t.settled,
            t.at_risk,
            t.failure_category, t.failure_code, t.failure_message, t.retry_advice, t.hold_reason, t.settled_late,
            t.settled_on, t.accepted_at, t.overdue_since, coalesce(t.flags, '{}'), t.reason,
            coalesce(t.status_since, $2), t.next_deadline, t.signature, $2,
            t.fx_line_currency, t.fx_line_amount, t.fx_difference
       from json_to_recordset($1::json) as t(${STATUS_RECORD}, body jsonb, cancelled bool, identity_hash text)`,
    [
      JSON.stringify(
        rows.map((row) => ({
          ...statusRecord(row.outcome, statusSince),
          body: row.outcome.payment,
          cancelled: row.cancelled,
          identity_hash: identityHash(row.outcome.payment, row.cancelled),
        })),
      ),
      now,
    ],
  );
}

export interface StatusChangeRow {
  paymentId: string;
  fromStatus: string | null;
  toStatus: string;
  reason: string;
  detail: Record<string, unknown>;
  /** What the change's finding says beyond this row (writer/findings.ts); null when findings are not published. */
  finding: Record<string, unknown> | null;
}

/**
 * A status change's timeline detail (writer/findings.ts statusChangeDetail) as most changes have it: a row keeps only
 * the fields that differ (000130, issue 15: ~100 of a row's ~200 bytes were these four defaults), and its readers (the
 * timeline, the findings publisher, the trends) put them back. Rows written before keep every field: the same.
 */
export const STATUS_CHANGE_DETAIL_DEFAULTS: Readonly<Record<string, unknown>> = Object.freeze({
  failure_category: null,
  failure_code: null,
  settled_amount_minor: 0,
  settled_late: false,
});

/** The fields of a status change's detail that differ from STATUS_CHANGE_DETAIL_DEFAULTS. */
export function storedStatusChangeDetail(detail: Record<string, unknown>): Record<string, unknown> {
  const kept: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(detail)) {
    if (!(key in STATUS_CHANGE_DETAIL_DEFAULTS) || STATUS_CHANGE_DETAIL_DEFAULTS[key] !== value) kept[key] = value;
  }
  return kept;
}

/** A stored status change's detail with the defaults storedStatusChangeDetail left out. */
export function fullStatusChangeDetail(stored: Record<string, unknown> | null): Record<string, unknown> {
  return { ...STATUS_CHANGE_DETAIL_DEFAULTS, ...stored };
}

export async function insertStatusChanges(db: Db, rows: StatusChangeRow[], at: Date): Promise<void> {
  if (rows.length === 0) return;
  await db.query(
    `insert into status_changes (payment_id, at, from_status, to_status, reason, detail, finding)
     select t.payment_id, $2, t.from_status, t.to_status, t.reason, t.detail, t.finding
       from json_to_recordset($1::json)
            as t(payment_id text, from_status text, to_status text, reason text, detail jsonb, finding jsonb)`,
    [
      JSON.stringify(
        rows.map((row) => ({
          payment_id: row.paymentId,
          from_status: row.fromStatus,
          to_status: row.toStatus,
          reason: row.reason,
          detail: storedStatusChangeDetail(row.detail),
          finding: row.finding,
        })),
      ),
      at,
    ],
  );
}

export interface TotalsDelta {
  status: string;
  direction: string;
  gateway: string;
  currency: string;
  count: number;
  atRiskMinor: number;
}

/** Deltas summed per key (one statement may not update a totals row twice). */
export function sumTotals(deltas: TotalsDelta[]): TotalsDelta[] {
  const summed = new Map<string, TotalsDelta>();
  for (const delta of deltas) {
    const key = [delta.status, delta.direction, delta.gateway, delta.currency].join("\u0000");
    const current = summed.get(key);
    if (current) {
      current.count += delta.count;
      current.atRiskMinor += delta.atRiskMinor;
    } else summed.set(key, { ...delta });
  }
  return [...summed.values()];
}

/** Applies count / amount deltas, already summed per key by the caller. */
export async function applyTotals(db: Db, deltas: TotalsDelta[]): Promise<void> {
  const nonZero = deltas.filter((delta) => delta.count !== 0 || delta.atRiskMinor !== 0);
  if (nonZero.length === 0) return;
  await db.query(
    `insert into payment_totals as p (status, direction, gateway, currency, count, at_risk_minor)
     select * from unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::bigint[], $6::bigint[])
     on conflict (status, direction, gateway, currency) do update
       set count = p.count + excluded.count, at_risk_minor = p.at_risk_minor + excluded.at_risk_minor`,
    [
      nonZero.map((delta) => delta.status),
      nonZero.map((delta) => delta.direction),
      nonZero.map((delta) => delta.gateway),
      nonZero.map((delta) => delta.currency),
      nonZero.map((delta) => delta.count),
      nonZero.map((delta) => delta.atRiskMinor),
    ],
  );
}

/** Orphans: gateway events naming no expected payment of their gateway. */
export async function recordOrphanEvents(db: Db, eventSeqs: number[], graceMs: number): Promise<void> {
  if (eventSeqs.length === 0) return;
  await db.query(
    `insert into gateway_event_orphans (event_seq, gateway, reference_key, deadline)
     select g.seq, g.gateway, g.reference_key, g.received_at + ($2::bigint * interval '1 millisecond')
       from gateway_events g
      where g.seq = any($1::bigint[]) and g.type <> 'settlement.batch'
        and not exists (select 1 from payments p where p.reference_key = g.reference_key and p.gateway = g.gateway)
     on conflict (event_seq) do nothing`,
    [eventSeqs, graceMs],
  );
}

/** Removes orphans now claimed by a payment; returns the events they were, for resolving their exceptions. */
export async function claimOrphans(db: Db, paymentIds: string[]): Promise<Array<{ gateway: string; eventId: string }>> {
  if (paymentIds.length === 0) return [];
  const result = await db.query<{ gateway: string; event_id: string }>(
    `delete from gateway_event_orphans o using payments p, gateway_events g
      where p.id = any($1::text[]) and o.reference_key = p.reference_key and o.gateway = p.gateway
        and g.seq = o.event_seq
      returning g.gateway, g.event_id`,
    [paymentIds],
  );
  return result.rows.map((row) => ({ gateway: row.gateway, eventId: row.event_id }));
}

/** Orphans whose grace has run out: their deadline is cleared and their events returned, to open `unmatched`. */
export async function expireOrphans(db: Db, eventSeqs: number[], now: Date): Promise<GatewayFact[]> {
  if (eventSeqs.length === 0) return [];
  const result = await db.query<GatewayEventDbRow>(
    `with expired as (
       update gateway_event_orphans set deadline = null
        where event_seq = any($1::bigint[]) and deadline <= $2 returning event_seq)
     select g.seq, g.body, g.reference_key, g.received_at from gateway_events g join expired e on e.event_seq = g.seq`,
    [eventSeqs, now],
  );
  return result.rows.map(toGatewayFact);
}

export interface DueWork {
  paymentIds: string[];
  entrySeqs: number[];
  orphanSeqs: number[];
}

/** What time alone may have changed: rows whose deadline passed, from their deadline indexes. */
export async function dueWork(db: Db, now: Date, limit: number): Promise<DueWork> {
  const [payments, entries, orphans] = [
    await db.query<{ id: string }>(
      "select id from payments where next_deadline <= $1 order by next_deadline limit $2",
      [now, limit],
    ),
    await db.query<{ entry_seq: number }>(
      "select entry_seq from bank_entry_matches where unmatched_deadline <= $1 order by unmatched_deadline limit $2",
      [now, limit],
    ),
    await db.query<{ event_seq: number }>(
      "select event_seq from gateway_event_orphans where deadline <= $1 order by deadline limit $2",
      [now, limit],
    ),
  ];
  return {
    paymentIds: payments.rows.map((row) => row.id),
    entrySeqs: entries.rows.map((row) => row.entry_seq),
    orphanSeqs: orphans.rows.map((row) => row.event_seq),
  };
}
