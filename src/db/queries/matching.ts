import { pushTo } from "../../grouping.js";
import type { BatchTarget, EntryMatch, MatchTarget, PaymentTarget } from "../../reconcile/matching.js";
import type { BankFact, BatchFact, MatchMethod } from "../../reconcile/types.js";
import { batchKey, parseBatchKey } from "../../reconcile/touched.js";
import { referenceKeySql } from "../../reconcile/references.js";
import type { Db } from "../pool.js";
import { type BankEntryDbRow, type GatewayEventDbRow, toBankFact, toBatchFact } from "./factRows.js";

/**
 * Queries of the matching phase: which entries to re-match, their candidates, and the stored matches.
 *
 * Lookups by a batch's keys are driven from the keys (`unnest … cross join lateral (… offset 0)`): one
 * index probe per key, whatever the planner estimates for an array of a thousand keys. Left to itself it
 * picks hash joins over whole tables for such arrays, which grow with the tables.
 */

export interface BatchRef {
  gateway: string;
  batchId: string;
}

const DAY_MS = 86_400_000;

export async function loadEntries(db: Db, seqs: number[]): Promise<BankFact[]> {
  if (seqs.length === 0) return [];
  const result = await db.query<BankEntryDbRow>(
    "select seq, body, received_at from bank_entries where seq = any($1::bigint[])",
    [seqs],
  );
  return result.rows.map(toBankFact);
}

/**
 * Upserts settlement batches from their events. Two events for one batch id:
 * the earliest (occurred_at, event_id) is the batch, whatever arrived first.
 */
export async function upsertBatchesFromEvents(db: Db, eventSeqs: number[]): Promise<BatchRef[]> {
  if (eventSeqs.length === 0) return [];
  const result = await db.query<{ gateway: string; batch_id: string }>(
    `insert into settlement_batches (gateway, batch_id, batch_key, event_id, gross_minor, fee_minor, net_minor, currency,
                                     expected_arrival, occurred_at, received_at, carried_forward_minor)
     select distinct on (gateway, batch_id) gateway, batch_id, ${referenceKeySql("batch_id")}, event_id,
            (body->>'gross_minor')::bigint, (body->>'fee_minor')::bigint, amount_minor, currency,
            (body->>'expected_arrival')::date, occurred_at, received_at,
            coalesce((body->>'carried_forward_minor')::bigint, 0)
       from gateway_events where seq = any($1::bigint[]) and type = 'settlement.batch'
      order by gateway, batch_id, occurred_at, event_id
     on conflict (gateway, batch_id) do update set
       event_id = excluded.event_id, gross_minor = excluded.gross_minor, fee_minor = excluded.fee_minor,
       net_minor = excluded.net_minor, currency = excluded.currency, expected_arrival = excluded.expected_arrival,
       carried_forward_minor = excluded.carried_forward_minor,
       occurred_at = excluded.occurred_at, received_at = excluded.received_at
       where (excluded.occurred_at, excluded.event_id) < (settlement_batches.occurred_at, settlement_batches.event_id)
     returning gateway, batch_id`,
    [eventSeqs],
  );
  return result.rows.map((row) => ({ gateway: row.gateway, batchId: row.batch_id }));
}

export async function loadBatches(db: Db, refs: BatchRef[]): Promise<Array<BatchFact & { storedState: string }>> {
  if (refs.length === 0) return [];
  const result = await db.query<GatewayEventDbRow & { state: string }>(
    `select g.seq, g.body, g.reference_key, g.received_at, b.state
       from settlement_batches b
       join gateway_events g on g.gateway = b.gateway and g.event_id = b.event_id
      where (b.gateway, b.batch_id) in (select * from unnest($1::text[], $2::text[]))`,
    [refs.map((ref) => ref.gateway), refs.map((ref) => ref.batchId)],
  );
  return result.rows.map((row) => ({ ...toBatchFact(row), storedState: row.state }));
}

export async function saveBatchStates(
  db: Db,
  rows: Array<BatchRef & { state: string; settledOn: string | null; differenceMinor: number | null }>,
): Promise<void> {
  if (rows.length === 0) return;
  await db.query(
    `update settlement_batches b set state = t.state, settled_on = t.settled_on, difference_minor = t.difference
       from unnest($1::text[], $2::text[], $3::text[], $4::date[], $5::bigint[]) as t(gateway, batch_id, state, settled_on, difference)
      where b.gateway = t.gateway and b.batch_id = t.batch_id`,
    [
      rows.map((row) => row.gateway),
      rows.map((row) => row.batchId),
      rows.map((row) => row.state),
      rows.map((row) => row.settledOn),
      rows.map((row) => row.differenceMinor),
    ],
  );
}

/** Batches named (by id) among these remittance tokens (the tokens of new entries, known in memory). */
export async function batchesNamedByTokens(db: Db, tokens: string[]): Promise<BatchRef[]> {
  if (tokens.length === 0) return [];
  const result = await db.query<{ gateway: string; batch_id: string }>(
    `select distinct b.gateway, b.batch_id from unnest($1::text[]) as k(token)
       cross join lateral (select gateway, batch_id from settlement_batches b where b.batch_key = k.token offset 0) b`,
    [[...new Set(tokens)]],
  );
  return result.rows.map((row) => ({ gateway: row.gateway, batchId: row.batch_id }));
}

/** An amount-match row of a payment: one per installment, plus the whole amount at its last due date (idx -1). */
export interface InstallmentRow {
  currency: string;
  direction: string;
  amountMinor: number;
  dueDate: string;
}

/**
 * Entries whose match may change because these payments or batches changed:
 * those naming them, those matched to them (or ambiguous between them), and
 * those in their amount window that are not matched by reference.
 */
export async function entriesToRematch(
  db: Db,
  input: {
    paymentIds: string[];
    referenceKeys: string[];
    batches: BatchRef[];
    windowMs: number;
    /** Payments whose stored installments are current (the others' are not written yet). */
    storedInstallmentsOf: string[];
    /** The installments of the payments whose identity changes in this transaction. */
    installments: InstallmentRow[];
  },
): Promise<number[]> {
  const days = Math.floor(input.windowMs / DAY_MS);
  const candidateIds = [
    ...input.paymentIds.map((id) => `payment:${id}`),
    ...input.batches.map((ref) => `batch:${batchKey(ref.gateway, ref.batchId)}`),
  ];
  const result = await db.query<{ seq: number }>(
    `with batches as materialized (
       select b.* from unnest($3::text[], $4::text[]) as k(gateway, batch_id)
         cross join lateral (select * from settlement_batches b
                              where b.gateway = k.gateway and b.batch_id = k.batch_id offset 0) b),
     installments as (
       select i.currency, i.settle_direction, i.amount_minor, i.due_date from unnest($7::text[]) as k(id)
         cross join lateral (select * from payment_installments i where i.payment_id = k.id offset 0) i
       union all
       select * from unnest($8::text[], $9::text[], $10::bigint[], $11::date[]))
     select t.entry_seq as seq from unnest($2::text[]) as k(token)
       cross join lateral (select entry_seq from bank_entry_tokens t where t.token = k.token offset 0) t
     union
     select t.entry_seq from batches b
       cross join lateral (select entry_seq from bank_entry_tokens t where t.token = b.batch_key offset 0) t
     union
     select m.entry_seq from unnest($1::text[]) as k(id)
       cross join lateral (select entry_seq from bank_entry_matches m where m.payment_id = k.id offset 0) m
     union
     select m.entry_seq from batches b
       cross join lateral (select entry_seq from bank_entry_matches m
                            where m.batch_gateway = b.gateway and m.batch_id = b.batch_id offset 0) m
     union
     select m.entry_seq from (select entry_seq, candidates from bank_entry_matches
                               where kind = 'ambiguous' offset 0) m, unnest(m.candidates) as c(id)
      where c.id = any($5::text[])
     union
     select e.seq from installments i
       cross join lateral (select seq from bank_entries e
                            where e.currency = i.currency and e.direction = i.settle_direction
                              and e.amount_minor = i.amount_minor
                              and e.value_date between i.due_date - $6::int and i.due_date + $6::int
                              and e.status <> 'returned' offset 0) e
     union
     -- A line in another currency whose instructed amount fits (CONTRACT §8 "FX").
     select e.seq from installments i
       cross join lateral (select seq from bank_entries e
                            where e.instructed_currency = i.currency and e.direction = i.settle_direction
                              and e.instructed_amount_minor = i.amount_minor and e.currency <> i.currency
                              and e.value_date between i.due_date - $6::int and i.due_date + $6::int
                              and e.status <> 'returned' offset 0) e
     union
     select e.seq from batches b
       cross join lateral (select seq from bank_entries e
                            where e.currency = b.currency and e.amount_minor = abs(b.net_minor)
                              and e.direction = case when b.net_minor < 0 then 'debit' else 'credit' end
                              and e.value_date between b.expected_arrival - $6::int and b.expected_arrival + $6::int
                              and e.status <> 'returned' offset 0) e`,
    [
      input.paymentIds,
      input.referenceKeys,
      input.batches.map((ref) => ref.gateway),
      input.batches.map((ref) => ref.batchId),
      candidateIds,
      days,
      input.storedInstallmentsOf,
      input.installments.map((row) => row.currency),
      input.installments.map((row) => row.direction),
      input.installments.map((row) => row.amountMinor),
      input.installments.map((row) => row.dueDate),
    ],
  );
  return result.rows.map((row) => row.seq);
}

interface TargetRow {
  id: string;
  reference_key: string;
  direction: "collection" | "payout";
  currency: string;
  amount_minor: number;
  counterparty_name: string | null;
  cancelled: boolean;
  settles_by_reference: boolean;
  installments: Array<{ amount_minor: number; due_date: string }>;
}

// Scalar sub-selects, not EXISTS: the planner may turn an EXISTS into a hash of the whole tokens table.
const SETTLES_BY_REFERENCE = (column: string) => `
  (coalesce((select true from bank_entry_tokens t where t.token = ${column} limit 1), false)
   or coalesce((select true from batch_references br where br.reference_key = ${column} limit 1), false))`;

const PAYMENT_TARGET_COLUMNS = `
  p.id, p.reference_key, p.direction, p.currency, p.amount_minor, p.counterparty_name, p.cancelled,
  ${SETTLES_BY_REFERENCE("p.reference_key")} as settles_by_reference,
  (select coalesce(json_agg(json_build_object('amount_minor', i.amount_minor, 'due_date', i.due_date) order by i.due_date, i.idx), '[]')
     from payment_installments i where i.payment_id = p.id and i.idx >= 0) as installments`;

const BATCH_TARGET_COLUMNS = `
  b.gateway, b.batch_id, b.batch_key, b.currency, b.net_minor, b.expected_arrival,
  coalesce((select true from bank_entry_tokens t where t.token = b.batch_key limit 1), false) as settles_by_reference`;

interface BatchTargetRow {
  gateway: string;
  batch_id: string;
  batch_key: string;
  currency: string;
  net_minor: number;
  expected_arrival: string;
  settles_by_reference: boolean;
}

function toPaymentTarget(row: TargetRow): PaymentTarget {
  return {
    kind: "payment",
    paymentId: row.id,
    referenceKey: row.reference_key,
    direction: row.direction,
    currency: row.currency,
    amountMinor: row.amount_minor,
    installments: row.installments.map((part) => ({ amountMinor: Number(part.amount_minor), dueDate: part.due_date })),
    counterpartyName: row.counterparty_name,
    cancelled: row.cancelled,
    settlesByReference: row.settles_by_reference,
  };
}

function toBatchTarget(row: BatchTargetRow): BatchTarget {
  return {
    kind: "batch",
    key: batchKey(row.gateway, row.batch_id),
    batchIdKey: row.batch_key,
    currency: row.currency,
    netMinor: row.net_minor,
    expectedArrival: row.expected_arrival,
    settlesByReference: row.settles_by_reference,
  };
}

/**
 * Payments and batches whose reference / batch id key is one of these. Payments in `exceptIds` are left
 * out: their identity changes in this transaction and the caller knows it (the stored row is the old one).
 */
export async function targetsByReference(db: Db, keys: string[], exceptIds: string[] = []): Promise<MatchTarget[]> {
  if (keys.length === 0) return [];
  const [payments, batches] = [
    await db.query<TargetRow>(
      `select ${PAYMENT_TARGET_COLUMNS} from unnest($1::text[]) as k(key)
         cross join lateral (select * from payments p where p.reference_key = k.key offset 0) p
        where p.id <> all($2::text[])`,
      [[...new Set(keys)], exceptIds],
    ),
    await db.query<BatchTargetRow>(
      `select ${BATCH_TARGET_COLUMNS} from unnest($1::text[]) as k(key)
         cross join lateral (select * from settlement_batches b where b.batch_key = k.key offset 0) b`,
      [[...new Set(keys)]],
    ),
  ];
  return [...payments.rows.map(toPaymentTarget), ...batches.rows.map(toBatchTarget)];
}

/** Which of these reference keys a bank entry names or a batch lists (such a payment is no amount candidate). */
export async function referencesSettlingByReference(db: Db, keys: string[]): Promise<Set<string>> {
  if (keys.length === 0) return new Set();
  const result = await db.query<{ key: string }>(
    `select k.key from unnest($1::text[]) as k(key) where ${SETTLES_BY_REFERENCE("k.key")}`,
    [[...new Set(keys)]],
  );
  return new Set(result.rows.map((row) => row.key));
}

/**
 * For each booked entry, the payments and batches of the same currency, direction and amount within the
 * window (payments in `exceptIds` left out, as in targetsByReference).
 */
export async function amountCandidates(
  db: Db,
  entrySeqs: number[],
  windowMs: number,
  exceptIds: string[] = [],
): Promise<Map<number, MatchTarget[]>> {
  const out = new Map<number, MatchTarget[]>();
  if (entrySeqs.length === 0) return out;
  const days = Math.floor(windowMs / DAY_MS);
  const [payments, batches] = [
    await db.query<TargetRow & { entry_seq: number }>(
      `select e.seq as entry_seq, ${PAYMENT_TARGET_COLUMNS}
         from bank_entries e
         cross join lateral (select distinct i.payment_id from payment_installments i
                              where i.currency = e.currency and i.settle_direction = e.direction
                                and i.amount_minor = e.amount_minor
                                and i.due_date between e.value_date - $2::int and e.value_date + $2::int
                             union
                             -- By the instructed amount in its currency (CONTRACT §8 "FX").
                             select i.payment_id from payment_installments i
                              where i.currency = e.instructed_currency and i.settle_direction = e.direction
                                and i.amount_minor = e.instructed_amount_minor and e.currency <> i.currency
                                and i.due_date between e.value_date - $2::int and e.value_date + $2::int
                             offset 0) i
         cross join lateral (select * from payments p where p.id = i.payment_id offset 0) p
        where e.seq = any($1::bigint[]) and e.status <> 'returned' and p.id <> all($3::text[])`,
      [entrySeqs, days, exceptIds],
    ),
    await db.query<BatchTargetRow & { entry_seq: number }>(
      `select e.seq as entry_seq, ${BATCH_TARGET_COLUMNS}
         from bank_entries e
         cross join lateral (select * from settlement_batches b
                              where b.currency = e.currency
                                -- A negative net is paid by a debit of its absolute value (CONTRACT §8).
                                and b.net_minor = case when e.direction = 'debit' then -e.amount_minor else e.amount_minor end
                                and b.expected_arrival between e.value_date - $2::int and e.value_date + $2::int
                             offset 0) b
        where e.seq = any($1::bigint[]) and e.status <> 'returned'`,
      [entrySeqs, days],
    ),
  ];
  for (const row of payments.rows) pushTo(out, row.entry_seq, toPaymentTarget(row));
  for (const row of batches.rows) pushTo(out, row.entry_seq, toBatchTarget(row));
  return out;
}

export interface StoredMatch {
  entrySeq: number;
  match: EntryMatch;
  unmatchedDeadline: number | null;
}

function encodeMatch(match: EntryMatch) {
  const batch = match.kind === "batch" ? parseBatchKey(match.batchKey) : undefined;
  return {
    kind: match.kind,
    method: match.kind === "none" ? null : match.method,
    paymentId: match.kind === "payment" ? match.paymentId : null,
    batchGateway: batch?.gateway ?? null,
    batchId: batch?.batchId ?? null,
    candidates: match.kind === "ambiguous" ? match.candidates : [],
    explanation: match.kind === "payment" || match.kind === "batch" ? match.explanation : null,
    explanations: match.kind === "ambiguous" ? match.explanations : [],
  };
}

export function sameMatch(a: EntryMatch | undefined, b: EntryMatch): boolean {
  return a !== undefined && JSON.stringify(encodeMatch(a)) === JSON.stringify(encodeMatch(b));
}

export async function loadMatches(db: Db, seqs: number[]): Promise<Map<number, StoredMatch>> {
  const out = new Map<number, StoredMatch>();
  if (seqs.length === 0) return out;
  const result = await db.query<{
    entry_seq: number;
    kind: string;
    method: string | null;
    payment_id: string | null;
    batch_gateway: string | null;
    batch_id: string | null;
    candidates: string[];
    explanation: string | null;
    candidate_explanations: string[];
    unmatched_deadline: Date | null;
  }>("select * from bank_entry_matches where entry_seq = any($1::bigint[])", [seqs]);
  for (const row of result.rows) {
    const method = row.method as MatchMethod;
    const explanation = row.explanation ?? "";
    const match: EntryMatch =
      row.kind === "payment"
        ? { kind: "payment", paymentId: row.payment_id!, method, explanation }
        : row.kind === "batch"
          ? { kind: "batch", batchKey: batchKey(row.batch_gateway!, row.batch_id!), method, explanation }
          : row.kind === "ambiguous"
            ? { kind: "ambiguous", method, candidates: row.candidates, explanations: row.candidate_explanations }
            : { kind: "none" };
    out.set(row.entry_seq, {
      entrySeq: row.entry_seq,
      match,
      unmatchedDeadline: row.unmatched_deadline?.getTime() ?? null,
    });
  }
  return out;
}

/**
 * Writes entries' matches: an update of the rows that exist, an insert of the others. Only the reconciliation writes
 * matches, under its lock (writer/reconcileTouched.ts RECONCILE_LOCK), so no row can appear between the two parts; an
 * upsert (`on conflict do update`) wrote a lock record per updated row and a speculative-insertion confirmation per
 * inserted one (~100 bytes of WAL per entry, issue 15).
 */
export async function saveMatches(
  db: Db,
  rows: Array<{ entrySeq: number; match: EntryMatch; unmatchedDeadline: number | null }>,
  now: Date,
): Promise<void> {
  if (rows.length === 0) return;
  const encoded = rows.map((row) => ({ ...encodeMatch(row.match), row }));
  await db.query(
    `with t as materialized (
       select t.seq, t.kind, t.method, t.payment_id, t.batch_gateway, t.batch_id,
              coalesce((select array_agg(c) from jsonb_array_elements_text(t.candidates) c), '{}') as candidates,
              t.deadline, t.explanation,
              coalesce((select array_agg(c) from jsonb_array_elements_text(t.explanations) c), '{}') as explanations
         from unnest($1::bigint[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::jsonb[],
                     $8::timestamptz[], $10::text[], $11::jsonb[])
           as t(seq, kind, method, payment_id, batch_gateway, batch_id, candidates, deadline, explanation, explanations)),
     updated as (
       update bank_entry_matches m set kind = t.kind, method = t.method, payment_id = t.payment_id,
              batch_gateway = t.batch_gateway, batch_id = t.batch_id, candidates = t.candidates,
              unmatched_deadline = t.deadline, updated_at = $9, explanation = t.explanation,
              candidate_explanations = t.explanations
         from t where m.entry_seq = t.seq
       returning m.entry_seq)
     insert into bank_entry_matches (entry_seq, kind, method, payment_id, batch_gateway, batch_id, candidates,
                                     unmatched_deadline, updated_at, explanation, candidate_explanations)
     select t.seq, t.kind, t.method, t.payment_id, t.batch_gateway, t.batch_id, t.candidates, t.deadline, $9,
            t.explanation, t.explanations
       from t where t.seq not in (select entry_seq from updated)`,
    [
      encoded.map((item) => item.row.entrySeq),
      encoded.map((item) => item.kind),
      encoded.map((item) => item.method),
      encoded.map((item) => item.paymentId),
      encoded.map((item) => item.batchGateway),
      encoded.map((item) => item.batchId),
      encoded.map((item) => JSON.stringify(item.candidates)),
      encoded.map((item) => (item.row.unmatchedDeadline === null ? null : new Date(item.row.unmatchedDeadline))),
      now,
      encoded.map((item) => item.explanation),
      encoded.map((item) => JSON.stringify(item.explanations)),
    ],
  );
}

/** Entries matched to these batches. */
export async function entriesOfBatches(db: Db, refs: BatchRef[]): Promise<Map<string, BankFact[]>> {
  const out = new Map<string, BankFact[]>();
  if (refs.length === 0) return out;
  // Each batch once: a batch listed twice would list its entries twice.
  const unique = [...new Map(refs.map((ref) => [batchKey(ref.gateway, ref.batchId), ref])).values()];
  const result = await db.query<BankEntryDbRow & { batch_gateway: string; batch_id: string }>(
    `select e.seq, e.body, e.received_at, m.batch_gateway, m.batch_id
       from unnest($1::text[], $2::text[]) as k(gateway, batch_id)
       cross join lateral (select * from bank_entry_matches m
                            where m.batch_gateway = k.gateway and m.batch_id = k.batch_id and m.kind = 'batch' offset 0) m
       cross join lateral (select * from bank_entries e where e.seq = m.entry_seq offset 0) e`,
    [unique.map((ref) => ref.gateway), unique.map((ref) => ref.batchId)],
  );
  for (const row of result.rows) {
    const key = batchKey(row.batch_gateway, row.batch_id);
    pushTo(out, key, toBankFact(row));
  }
  return out;
}
