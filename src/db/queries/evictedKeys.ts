import type { AmountOn, ReloadQuery } from "../../reconcile/evicted.js";
import type { Db } from "../pool.js";

/** A list of amounts on dates as three parallel arrays (currency, amount, date) for unnest. */
function amountColumns(amounts: AmountOn[]): [string[], string[], string[]] {
  const columns: [string[], string[], string[]] = [[], [], []];
  const seen = new Set<string>();
  for (const [key, date] of amounts) {
    const at = `${key}|${date}`;
    if (seen.has(at)) continue;
    seen.add(at);
    // An amount key is `currency|amount` (currencies hold no `|`).
    const bar = key.lastIndexOf("|");
    columns[0].push(key.slice(0, bar));
    columns[1].push(key.slice(bar + 1));
    columns[2].push(date);
  }
  return columns;
}

/**
 * The reference keys of stored groups a reload query names (docs/architecture.md §4 step 4): payments by reference
 * key and id; bank entries by (bank, entry_id), by the tokens a changed target names and by amount within the
 * match window of its amounts, each to the payment it is matched to; payments with an installment an arriving
 * entry's amount fits within the window. Each probe is an index lookup (`offset 0` keeps the planner from turning
 * the lists into hash joins over whole tables). Direction is not compared: a superset is enough. Groups in memory
 * are among the answers; the caller leaves them out. The rows this transaction wrote are not written yet when it
 * asks (payments, matches and installments are written after `apply`).
 */
export async function findStoredGroups(db: Db, query: ReloadQuery, windowDays: number): Promise<string[]> {
  const result = await db.query<{ reference_key: string }>(storedGroupsStatement(query, windowDays));
  return result.rows.map((row) => row.reference_key);
}

/** The statement `findStoredGroups` runs (its plan is tested: every probe an index scan). */
export function storedGroupsStatement(query: ReloadQuery, windowDays: number): { text: string; values: unknown[] } {
  const entries = [...query.entries.values()];
  const targetRefs = [...new Set(query.entriesFitting.flatMap((shape) => shape.refs))];
  const entryRefs = [...new Set([...query.refs, ...query.targetsFitting.flatMap((shape) => shape.refs)])];
  const [targetCurrencies, targetAmounts, targetDates] = amountColumns(
    query.entriesFitting.flatMap((shape) => shape.amounts),
  );
  const [entryCurrencies, entryAmounts, entryDates] = amountColumns(
    query.targetsFitting.flatMap((shape) => shape.amounts),
  );
  return {
    text: `with named as (
       select m.payment_id from unnest($3::text[], $4::text[]) as k(bank, entry_id)
         cross join lateral (select seq from bank_entries e
                              where e.bank = k.bank and e.entry_id = k.entry_id offset 0) e
         join bank_entry_matches m on m.entry_seq = e.seq
       union all
       select m.payment_id from unnest($5::text[]) as k(token)
         cross join lateral (select entry_seq from bank_entry_tokens t where t.token = k.token offset 0) t
         join bank_entry_matches m on m.entry_seq = t.entry_seq
       union all
       select m.payment_id from unnest($6::text[], $7::bigint[], $8::date[]) as s(currency, amount, on_date)
         cross join lateral (select seq from bank_entries e
                              where e.currency = s.currency and e.direction in ('credit', 'debit')
                                and e.amount_minor = s.amount
                                and e.value_date between s.on_date - $12::int and s.on_date + $12::int
                             union all
                             select seq from bank_entries e
                              where e.instructed_currency = s.currency and e.instructed_currency is not null
                                and e.direction in ('credit', 'debit') and e.instructed_amount_minor = s.amount
                                and e.value_date between s.on_date - $12::int and s.on_date + $12::int
                             offset 0) e
         join bank_entry_matches m on m.entry_seq = e.seq
       union all
       select i.payment_id from unnest($9::text[], $10::bigint[], $11::date[]) as s(currency, amount, on_date)
         cross join lateral (select payment_id from payment_installments i
                              where i.currency = s.currency and i.settle_direction in ('credit', 'debit')
                                and i.amount_minor = s.amount
                                and i.due_date between s.on_date - $12::int and s.on_date + $12::int offset 0) i
       union all
       select id from unnest($2::text[]) as id
     )
     select reference_key from payments where reference_key = any($1::text[])
     union
     select p.reference_key from (select distinct payment_id from named where payment_id is not null) n
       join payments p on p.id = n.payment_id`,
    values: [
      entryRefs,
      [...query.paymentIds],
      entries.map((entry) => entry.bank),
      entries.map((entry) => entry.entryId),
      targetRefs,
      targetCurrencies,
      targetAmounts,
      targetDates,
      entryCurrencies,
      entryAmounts,
      entryDates,
      windowDays,
    ],
  };
}
