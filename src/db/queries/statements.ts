import type { StatementFacts } from "../../reconcile/statements.js";
import type { Db } from "../pool.js";

/** Bank statement summaries (CONTRACT §8 "Statements") and what their checks need. */

export interface StatementRow extends Omit<StatementFacts, "linesNetMinor"> {
  entryIds: string[];
  body: unknown;
  source: string;
}

/** Inserts the statements not stored yet and the lines they wait for; returns the new ones' seqs. */
export async function insertStatements(
  db: Db,
  rows: StatementRow[],
): Promise<Array<{ seq: number; bank: string; statementId: string }>> {
  if (rows.length === 0) return [];
  const result = await db.query<{ seq: string; bank: string; statement_id: string }>(
    `insert into bank_statements (bank, statement_id, account, currency, from_date, to_date, opening_booked_minor,
                                  closing_booked_minor, entry_ids, body, source)
     select t.bank, t.statement_id, t.account, t.currency, t.from_date, t.to_date, t.opening, t.closing,
            array(select json_array_elements_text(t.entry_ids)), t.body, t.source
       from json_to_recordset($1::json)
         as t(bank text, statement_id text, account text, currency text, from_date date, to_date date, opening bigint,
              closing bigint, entry_ids json, body jsonb, source text)
     on conflict (bank, statement_id) do nothing
     returning seq, bank, statement_id`,
    [
      JSON.stringify(
        rows.map((row) => ({
          bank: row.bank,
          statement_id: row.statementId,
          account: row.account,
          currency: row.currency,
          from_date: row.fromDate,
          to_date: row.toDate,
          opening: row.openingMinor,
          closing: row.closingMinor,
          entry_ids: row.entryIds,
          body: row.body,
          source: row.source,
        })),
      ),
    ],
  );
  const inserted = result.rows.map((row) => ({ seq: Number(row.seq), bank: row.bank, statementId: row.statement_id }));
  const seqs = inserted.map((row) => row.seq);
  if (seqs.length > 0) {
    await db.query(
      `insert into bank_statement_lines (bank, entry_id, statement_seq)
       select s.bank, unnest(s.entry_ids), s.seq from bank_statements s where s.seq = any($1::bigint[])
       on conflict do nothing`,
      [seqs],
    );
  }
  return inserted;
}

/** Statements not checked yet that list one of these lines. */
export async function statementsAwaitingLines(
  db: Db,
  keys: Array<{ bank: string; entryId: string }>,
): Promise<number[]> {
  if (keys.length === 0) return [];
  const result = await db.query<{ seq: string }>(
    `select distinct l.statement_seq as seq
       from bank_statement_lines l
       join unnest($1::text[], $2::text[]) as k(bank, entry_id) on l.bank = k.bank and l.entry_id = k.entry_id
       join bank_statements s on s.seq = l.statement_seq
      where s.balance_result is null`,
    [keys.map((key) => key.bank), keys.map((key) => key.entryId)],
  );
  return result.rows.map((row) => Number(row.seq));
}

/**
 * For each unchecked statement whose lines are all stored: stores Σ lines and the result, returns the seqs.
 * Pending lines count as stored but add nothing: only booked money moves a booked balance.
 */
export async function completeStatements(db: Db, seqs: number[]): Promise<number[]> {
  if (seqs.length === 0) return [];
  const result = await db.query<{ seq: string }>(
    `with sums as (
       select s.seq, cardinality(s.entry_ids) as wanted, count(b.seq) as stored,
              coalesce(sum(case when b.status = 'pending' then 0
                                when b.direction = 'credit' then b.amount_minor else -b.amount_minor end), 0) as net
         from bank_statements s
         left join bank_entries b on b.bank = s.bank and b.entry_id = any(s.entry_ids)
        where s.seq = any($1::bigint[]) and s.balance_result is null
        group by s.seq)
     update bank_statements s
        set lines_net_minor = sums.net,
            balance_result = case when s.opening_booked_minor + sums.net = s.closing_booked_minor
                                  then 'balanced' else 'imbalanced' end
       from sums
      where s.seq = sums.seq and sums.stored = sums.wanted
     returning s.seq`,
    [seqs],
  );
  return result.rows.map((row) => Number(row.seq));
}

interface FactsRow {
  seq: string;
  bank: string;
  statement_id: string;
  account: string;
  currency: string;
  from_date: string;
  to_date: string;
  opening_booked_minor: string;
  closing_booked_minor: string;
  lines_net_minor: string | null;
}

const COLUMNS = `seq, bank, statement_id, account, currency, to_char(from_date, 'YYYY-MM-DD') as from_date,
  to_char(to_date, 'YYYY-MM-DD') as to_date, opening_booked_minor, closing_booked_minor, lines_net_minor`;

export interface StoredStatement extends StatementFacts {
  seq: number;
}

function toFacts(row: FactsRow): StoredStatement {
  return {
    seq: Number(row.seq),
    bank: row.bank,
    statementId: row.statement_id,
    account: row.account,
    currency: row.currency,
    fromDate: row.from_date,
    toDate: row.to_date,
    openingMinor: Number(row.opening_booked_minor),
    closingMinor: Number(row.closing_booked_minor),
    linesNetMinor: row.lines_net_minor === null ? null : Number(row.lines_net_minor),
  };
}

export async function statementsBySeq(db: Db, seqs: number[]): Promise<StoredStatement[]> {
  if (seqs.length === 0) return [];
  const result = await db.query<FactsRow>(`select ${COLUMNS} from bank_statements where seq = any($1::bigint[])`, [
    seqs,
  ]);
  return result.rows.map(toFacts);
}

/** The account's statement ending latest before this one starts (ties: the one starting latest, then arrival). */
export async function previousStatement(db: Db, statement: StoredStatement): Promise<StoredStatement | undefined> {
  const result = await db.query<FactsRow>(
    `select ${COLUMNS} from bank_statements
      where bank = $1 and account = $2 and currency = $3 and to_date < $4::date
      order by to_date desc, from_date desc, seq desc limit 1`,
    [statement.bank, statement.account, statement.currency, statement.fromDate],
  );
  return result.rows[0] ? toFacts(result.rows[0]) : undefined;
}

/** The account's statements starting first after this one ends: their predecessor may now be this one. */
export async function nextStatements(db: Db, statement: StoredStatement): Promise<StoredStatement[]> {
  const result = await db.query<FactsRow>(
    `select ${COLUMNS} from bank_statements
      where bank = $1 and account = $2 and currency = $3
        and from_date = (select min(from_date) from bank_statements
                          where bank = $1 and account = $2 and currency = $3 and from_date > $4::date)`,
    [statement.bank, statement.account, statement.currency, statement.toDate],
  );
  return result.rows.map(toFacts);
}

/** Statement checks of one bank run one transaction at a time (held until commit), banks in a fixed order. */
export async function lockBanks(db: Db, banks: string[]): Promise<void> {
  const sorted = [...new Set(banks)].sort();
  if (sorted.length === 0) return;
  await db.query("select pg_advisory_xact_lock(7248263, hashtext(bank)) from unnest($1::text[]) as t(bank)", [sorted]);
}
