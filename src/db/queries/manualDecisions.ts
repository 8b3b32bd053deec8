import { pushTo } from "../../grouping.js";
import type { ManualDecision, PaymentDecision } from "../../reconcile/types.js";
import type { Db } from "../pool.js";

/** Operators' decisions on bank entries (000031): stored as facts, read by the reconciler and the API. */

export interface DecisionRow {
  seq: number;
  bank: string;
  entry_id: string;
  action: "match" | "unmatch";
  target: string;
  actor: string;
  note: string | null;
  decided_at: Date;
}

export function toDecision(row: DecisionRow): ManualDecision {
  return {
    seq: Number(row.seq),
    bank: row.bank,
    entryId: row.entry_id,
    action: row.action,
    target: row.target,
    actor: row.actor,
    note: row.note,
    decidedAt: row.decided_at.getTime(),
  };
}

export async function insertDecision(db: Db, decision: Omit<ManualDecision, "seq">): Promise<ManualDecision> {
  const result = await db.query<DecisionRow>(
    `insert into manual_decisions (bank, entry_id, action, target, actor, note, decided_at)
     values ($1, $2, $3, $4, $5, $6, $7) returning *`,
    [
      decision.bank,
      decision.entryId,
      decision.action,
      decision.target,
      decision.actor,
      decision.note,
      new Date(decision.decidedAt),
    ],
  );
  return toDecision(result.rows[0]!);
}

/** The decisions on these entries, keyed `bank/entry_id`, in arrival order. */
export async function decisionsOfEntries(
  db: Db,
  entries: Array<{ bank: string; entryId: string }>,
): Promise<Map<string, ManualDecision[]>> {
  const out = new Map<string, ManualDecision[]>();
  if (entries.length === 0) return out;
  const result = await db.query<DecisionRow>(
    `select d.* from unnest($1::text[], $2::text[]) as k(bank, entry_id)
       cross join lateral (select * from manual_decisions d
                            where d.bank = k.bank and d.entry_id = k.entry_id offset 0) d
      order by d.seq`,
    [entries.map((entry) => entry.bank), entries.map((entry) => entry.entryId)],
  );
  for (const row of result.rows) pushTo(out, `${row.bank}/${row.entry_id}`, toDecision(row));
  return out;
}

/** The decisions on the bank entries with these seqs, in arrival order. */
export async function decisionsOfEntrySeqs(db: Db, entrySeqs: number[]): Promise<ManualDecision[]> {
  if (entrySeqs.length === 0) return [];
  const result = await db.query<DecisionRow>(
    `select d.* from bank_entries e join manual_decisions d on d.bank = e.bank and d.entry_id = e.entry_id
      where e.seq = any($1::bigint[]) order by d.seq`,
    [entrySeqs],
  );
  return result.rows.map(toDecision);
}

export async function allDecisions(db: Db): Promise<ManualDecision[]> {
  const result = await db.query<DecisionRow>("select * from manual_decisions order by seq");
  return result.rows.map(toDecision);
}

export interface PaymentDecisionRow {
  seq: number;
  payment_id: string;
  action: "write_off" | "reopen";
  actor: string;
  note: string | null;
  decided_at: Date;
}

export function toPaymentDecision(row: PaymentDecisionRow): PaymentDecision {
  return {
    seq: Number(row.seq),
    paymentId: row.payment_id,
    action: row.action,
    actor: row.actor,
    note: row.note,
    decidedAt: row.decided_at.getTime(),
  };
}

export async function insertPaymentDecision(db: Db, decision: Omit<PaymentDecision, "seq">): Promise<PaymentDecision> {
  const result = await db.query<PaymentDecisionRow>(
    `insert into payment_decisions (payment_id, action, actor, note, decided_at)
     values ($1, $2, $3, $4, $5) returning *`,
    [decision.paymentId, decision.action, decision.actor, decision.note, new Date(decision.decidedAt)],
  );
  return toPaymentDecision(result.rows[0]!);
}

/** Write-off / reopen decisions of these payments, in arrival order. */
export async function decisionsOfPayments(db: Db, paymentIds: string[]): Promise<Map<string, PaymentDecision[]>> {
  const out = new Map<string, PaymentDecision[]>();
  if (paymentIds.length === 0) return out;
  const result = await db.query<PaymentDecisionRow>(
    "select * from payment_decisions where payment_id = any($1::text[]) order by seq",
    [[...new Set(paymentIds)]],
  );
  for (const row of result.rows) pushTo(out, row.payment_id, toPaymentDecision(row));
  return out;
}

export async function allPaymentDecisions(db: Db): Promise<PaymentDecision[]> {
  const result = await db.query<PaymentDecisionRow>("select * from payment_decisions order by seq");
  return result.rows.map(toPaymentDecision);
}
