import type pg from "pg";
import { emptyTouched, type TouchedFacts } from "../../reconcile/touched.js";

/** reconcile_journal (000010): the facts each reconciling transaction stored, by its reconcile time. */

export async function journalTouched(tx: pg.ClientBase, at: Date, touched: TouchedFacts): Promise<void> {
  const { paymentIds, gatewayEventSeqs, entrySeqs, recheckEntrySeqs } = touched;
  if (paymentIds.size + gatewayEventSeqs.size + entrySeqs.size + recheckEntrySeqs.size === 0) return;
  await tx.query(
    `insert into reconcile_journal (at, payment_ids, event_seqs, entry_seqs, recheck_entry_seqs)
     values ($1, $2, $3, $4, $5)`,
    [at, [...paymentIds], [...gatewayEventSeqs], [...entrySeqs], [...recheckEntrySeqs]],
  );
}

/**
 * The facts journaled after `after` (epoch ms), merged; undefined when the journal no longer reaches back that
 * far (pruned), so the caller must load everything.
 */
export async function touchedSince(tx: pg.ClientBase, after: number): Promise<TouchedFacts | undefined> {
  const pruned = await tx.query<{ missed: boolean }>("select through >= $1 as missed from reconcile_journal_pruned", [
    new Date(after),
  ]);
  if (pruned.rows[0]!.missed) return undefined;
  const rows = await tx.query<{
    payment_ids: string[];
    event_seqs: string[];
    entry_seqs: string[];
    recheck_entry_seqs: string[];
  }>(
    "select payment_ids, event_seqs, entry_seqs, recheck_entry_seqs from reconcile_journal where at > $1 order by at",
    [new Date(after)],
  );
  const touched = emptyTouched();
  for (const row of rows.rows) {
    for (const id of row.payment_ids) touched.paymentIds.add(id);
    for (const seq of row.event_seqs) touched.gatewayEventSeqs.add(Number(seq));
    for (const seq of row.entry_seqs) touched.entrySeqs.add(Number(seq));
    for (const seq of row.recheck_entry_seqs) touched.recheckEntrySeqs.add(Number(seq));
  }
  return touched;
}

/** Drops rows older than `before`, remembering how far it dropped; returns how many. */
export async function pruneJournal(db: pg.Pool, before: Date): Promise<number> {
  const result = await db.query<{ dropped: string }>(
    `with dropped as (delete from reconcile_journal where at < $1 returning at),
          moved as (update reconcile_journal_pruned set through = greatest(through, (select max(at) from dropped))
                     where exists (select 1 from dropped))
     select count(*) as dropped from dropped`,
    [before],
  );
  return Number(result.rows[0]!.dropped);
}
