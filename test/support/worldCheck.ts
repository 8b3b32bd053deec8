import type pg from "pg";
import type { BankEntryDbRow } from "../../src/db/queries/factRows.js";
import { loadWorldFacts } from "../../src/db/queries/worldFacts.js";
import { parseBatchKey } from "../../src/reconcile/touched.js";
import type { Policy } from "../../src/reconcile/types.js";
import { entryKey, reconcileWorld } from "../../src/reconcile/world.js";
import { exceptionKey } from "../../src/reconcile/exceptions.js";
import { type StatementFacts, statementExceptions } from "../../src/reconcile/statements.js";

/**
 * Recomputes everything from the stored facts with the pure reconcileWorld
 * and lists every difference from what the incremental store wrote. An empty
 * list means the database says exactly what a from-scratch reconciliation says.
 */
export async function differencesFromWorld(pool: pg.Pool, policy: Policy, now: number): Promise<string[]> {
  const world = reconcileWorld(await loadWorldFacts(pool), now, policy);
  const differences: string[] = [];
  const payments = await pool.query<{
    id: string;
    status: string;
    settled_amount_minor: number;
    failure_category: string | null;
    fx: string | null;
  }>(
    `select id, status, settled_amount_minor, failure_category,
            fx_line_currency || '/' || fx_line_amount_minor || '/' || fx_difference_minor as fx from payments`,
  );
  const stored = new Map(payments.rows.map((row) => [row.id, row]));
  for (const [id, outcome] of world.payments) {
    const row = stored.get(id);
    // CONTRACT §8 "FX": the line currency, its amount and the FX difference, as the payment records them.
    const fx = outcome.fx && `${outcome.fx.lineCurrency}/${outcome.fx.lineAmountMinor}/${outcome.fx.differenceMinor}`;
    const want = `${outcome.status}/${outcome.settledAmountMinor}/${outcome.failureCategory}/${fx}`;
    const got = row ? `${row.status}/${row.settled_amount_minor}/${row.failure_category}/${row.fx}` : "missing";
    if (want !== got) differences.push(`payment ${id}: world ${want}, store ${got}`);
  }
  if (stored.size !== world.payments.size)
    differences.push(`payments: world ${world.payments.size}, store ${stored.size}`);

  const matches = await pool.query<{
    bank: string;
    entry_id: string;
    kind: string;
    payment_id: string | null;
    batch_id: string | null;
    explanation: string | null;
    candidate_explanations: string[] | null;
  }>(
    `select e.bank, e.entry_id, coalesce(m.kind, 'missing') as kind, m.payment_id, m.batch_id, m.explanation,
            m.candidate_explanations
       from bank_entries e left join bank_entry_matches m on m.entry_seq = e.seq`,
  );
  for (const row of matches.rows) {
    const match = world.entryMatches.get(entryKey({ bank: row.bank, entryId: row.entry_id }));
    const want =
      match?.kind === "payment"
        ? `payment:${match.paymentId}`
        : match?.kind === "batch"
          ? `batch:${parseBatchKey(match.batchKey).batchId}`
          : match?.kind;
    const got =
      row.kind === "payment" ? `payment:${row.payment_id}` : row.kind === "batch" ? `batch:${row.batch_id}` : row.kind;
    if (want !== got) differences.push(`entry ${row.bank}/${row.entry_id}: world ${want}, store ${got}`);
    // The explanation is the core's, stored with the match: the same sentence from scratch.
    const wantText =
      match?.kind === "payment" || match?.kind === "batch"
        ? match.explanation
        : match?.kind === "ambiguous"
          ? match.explanations.join(" | ")
          : "";
    const gotText = row.kind === "ambiguous" ? (row.candidate_explanations ?? []).join(" | ") : (row.explanation ?? "");
    if (wantText !== gotText) {
      differences.push(`entry ${row.bank}/${row.entry_id} explanation: world "${wantText}", store "${gotText}"`);
    }
  }

  const open = await pool.query<{ kind: string; subject_key: string }>(
    "select kind, subject_key from exceptions where state <> 'resolved'",
  );
  const storedKeys = new Set(open.rows.map((row) => `${row.kind}|${row.subject_key}`));
  const worldKeys = new Set([...world.exceptions.values(), ...(await statementsFromScratch(pool))].map(exceptionKey));
  for (const key of worldKeys)
    if (!storedKeys.has(key)) differences.push(`exception ${key}: open in world, not in store`);
  for (const key of storedKeys)
    if (!worldKeys.has(key)) differences.push(`exception ${key}: open in store, not in world`);
  return differences;
}

/**
 * CONTRACT §8 statement checks recomputed from the stored summaries and lines (outside reconcileWorld: they
 * concern accounts, not payments): Σ of a statement's lines once all are stored, and its predecessor.
 */
async function statementsFromScratch(pool: pg.Pool) {
  const rows = await pool.query<{
    bank: string;
    statement_id: string;
    account: string;
    currency: string;
    from_date: string;
    to_date: string;
    opening: string;
    closing: string;
    entry_ids: string[];
  }>(
    `select bank, statement_id, account, currency, to_char(from_date, 'YYYY-MM-DD') as from_date,
            to_char(to_date, 'YYYY-MM-DD') as to_date, opening_booked_minor as opening,
            closing_booked_minor as closing, entry_ids from bank_statements`,
  );
  const entries = await pool.query<BankEntryDbRow>("select seq, body, received_at from bank_entries");
  const lines = new Map(entries.rows.map((row) => [`${row.body.bank}/${row.body.entry_id}`, row.body]));
  const statements: StatementFacts[] = rows.rows.map((row) => {
    const found = row.entry_ids.map((id) => lines.get(`${row.bank}/${id}`));
    const complete = found.every((line) => line !== undefined);
    return {
      bank: row.bank,
      statementId: row.statement_id,
      account: row.account,
      currency: row.currency,
      fromDate: row.from_date,
      toDate: row.to_date,
      openingMinor: Number(row.opening),
      closingMinor: Number(row.closing),
      linesNetMinor: complete
        ? found.reduce(
            (sum, line) =>
              sum +
              (line!.status === "pending"
                ? 0
                : line!.direction === "credit"
                  ? line!.amount_minor
                  : -line!.amount_minor),
            0,
          )
        : null,
    };
  });
  return statements.flatMap((statement) => {
    const previous = statements
      .filter(
        (other) =>
          other.bank === statement.bank &&
          other.account === statement.account &&
          other.currency === statement.currency &&
          other.toDate < statement.fromDate,
      )
      .sort((a, b) => b.toDate.localeCompare(a.toDate) || b.fromDate.localeCompare(a.fromDate))[0];
    return statementExceptions(statement, previous);
  });
}
