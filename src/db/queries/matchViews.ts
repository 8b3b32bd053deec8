import { pushTo } from "../../grouping.js";
import { type MatchRule, ruleOf } from "../../reconcile/explain.js";
import type { MatchMethod } from "../../reconcile/types.js";
import { parseBatchKey } from "../../reconcile/touched.js";
import type { Db } from "../pool.js";

/**
 * Read models of explained matches (CONTRACT §7): the bank entries a payment is matched to, directly or
 * through a settlement batch listing it, and the candidates of an ambiguous entry, each with the rule and the
 * sentence the core stored with the match.
 */

export interface MatchView {
  entry_id: string;
  bank: string;
  rule: MatchRule;
  tentative: boolean;
  explanation: string;
  /** Set when the entry paid a settlement batch listing the payment. */
  batch_id: string | null;
}

interface MatchRow {
  owner: string;
  bank: string;
  entry_id: string;
  status: string;
  kind: "payment" | "batch";
  method: MatchMethod;
  explanation: string | null;
  batch_id: string | null;
}

function toView(row: MatchRow): MatchView {
  return {
    entry_id: row.entry_id,
    bank: row.bank,
    rule: ruleOf(row.kind, row.method),
    tentative: row.status === "pending",
    explanation: row.explanation ?? "",
    batch_id: row.batch_id,
  };
}

/** Matches of these payments, each in value-date order. */
export async function matchesOfPayments(db: Db, paymentIds: string[]): Promise<Map<string, MatchView[]>> {
  const out = new Map<string, MatchView[]>();
  if (paymentIds.length === 0) return out;
  const result = await db.query<MatchRow>(
    `select * from (
       select m.payment_id as owner, e.bank, e.entry_id, e.status, e.value_date, m.kind, m.method, m.explanation,
              null::text as batch_id
         from bank_entry_matches m join bank_entries e on e.seq = m.entry_seq
        where m.kind = 'payment' and m.payment_id = any($1::text[])
       union all
       select p.id, e.bank, e.entry_id, e.status, e.value_date, m.kind, m.method, m.explanation, m.batch_id
         from payments p
         join batch_references br on br.reference_key = p.reference_key and br.gateway = p.gateway
         join bank_entry_matches m on m.kind = 'batch' and m.batch_gateway = br.gateway and m.batch_id = br.batch_id
         join bank_entries e on e.seq = m.entry_seq
        where p.id = any($1::text[])) x
      order by owner, value_date, bank, entry_id`,
    [[...new Set(paymentIds)]],
  );
  for (const row of result.rows) pushTo(out, row.owner, toView(row));
  return out;
}

export interface CandidateView {
  payment_id: string | null;
  batch_id: string | null;
  gateway: string | null;
  entry_id: string;
  bank: string;
  rule: MatchRule;
  tentative: boolean;
  explanation: string;
}

/** The candidates an ambiguous entry was found to fit, keyed `bank/entry_id`. */
export async function candidatesOfEntries(
  db: Db,
  entries: Array<{ bank: string; entryId: string }>,
): Promise<Map<string, CandidateView[]>> {
  const out = new Map<string, CandidateView[]>();
  if (entries.length === 0) return out;
  const result = await db.query<{
    bank: string;
    entry_id: string;
    status: string;
    method: MatchMethod;
    candidates: string[];
    candidate_explanations: string[];
  }>(
    `select e.bank, e.entry_id, e.status, m.method, m.candidates, m.candidate_explanations
       from unnest($1::text[], $2::text[]) as k(bank, entry_id)
       join bank_entries e on e.bank = k.bank and e.entry_id = k.entry_id
       join bank_entry_matches m on m.entry_seq = e.seq and m.kind = 'ambiguous'`,
    [entries.map((entry) => entry.bank), entries.map((entry) => entry.entryId)],
  );
  for (const row of result.rows) {
    out.set(
      `${row.bank}/${row.entry_id}`,
      row.candidates.map((candidate, k) => {
        const isPayment = candidate.startsWith("payment:");
        const batch = isPayment ? undefined : parseBatchKey(candidate.slice("batch:".length));
        return {
          payment_id: isPayment ? candidate.slice("payment:".length) : null,
          batch_id: batch?.batchId ?? null,
          gateway: batch?.gateway ?? null,
          entry_id: row.entry_id,
          bank: row.bank,
          rule: ruleOf(isPayment ? "payment" : "batch", row.method),
          tentative: row.status === "pending",
          explanation: row.candidate_explanations[k] ?? "",
        };
      }),
    );
  }
  return out;
}
