import type { Db } from "../pool.js";

/** Read models of bank entries for the API and the operator's decisions on them. */

export interface EntryRow {
  seq: number;
  bank: string;
  entry_id: string;
  account: string;
  direction: "credit" | "debit";
  amount_minor: number;
  currency: string;
  booking_date: string;
  value_date: string;
  status: string;
  end_to_end_id: string | null;
  remittance_info: string | null;
  counterparty_name: string | null;
  return_reason: string | null;
  received_at: Date;
  match_kind: string | null;
  match_method: string | null;
  payment_id: string | null;
  batch_gateway: string | null;
  batch_id: string | null;
  explanation: string | null;
}

const ENTRY_COLUMNS = `e.seq, e.bank, e.entry_id, e.account, e.direction, e.amount_minor, e.currency,
  to_char(e.booking_date, 'YYYY-MM-DD') as booking_date, to_char(e.value_date, 'YYYY-MM-DD') as value_date, e.status,
  e.end_to_end_id, e.remittance_info, e.counterparty_name, e.return_reason, e.received_at,
  m.kind as match_kind, m.method as match_method, m.payment_id, m.batch_gateway, m.batch_id, m.explanation`;

/** The entries with this id (one per bank that has it), with their current match; `bank` narrows to one. */
export async function findEntries(db: Db, entryId: string, bank: string | undefined): Promise<EntryRow[]> {
  const result = await db.query<EntryRow>(
    `select ${ENTRY_COLUMNS} from bank_entries e left join bank_entry_matches m on m.entry_seq = e.seq
      where e.entry_id = $1 and ($2::text is null or e.bank = $2) order by e.bank limit 10`,
    [entryId, bank ?? null],
  );
  return result.rows;
}

/** The open exceptions about this entry (their audit gets the operator's decision). */
export async function openExceptionsOfEntry(db: Db, bank: string, entryId: string): Promise<number[]> {
  const result = await db.query<{ id: number }>(
    "select id from exceptions where subject_key = $1 and state <> 'resolved'",
    [`bank_entry:${bank}/${entryId}`],
  );
  return result.rows.map((row) => Number(row.id));
}
