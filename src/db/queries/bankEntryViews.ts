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

/** An entry's state for the list (CONTRACT §7): its open conflict or duplicate exception first, then its match. */
const ENTRY_STATE = `case
  when exists (select 1 from exceptions x where x.subject_key = 'bank_entry:' || e.bank || '/' || e.entry_id
                 and x.kind = 'conflict' and x.state <> 'resolved') then 'conflict'
  when exists (select 1 from exceptions x where x.subject_key = 'bank_entry:' || e.bank || '/' || e.entry_id
                 and x.kind = 'duplicate' and x.state <> 'resolved') then 'duplicate'
  when m.kind = 'ambiguous' then 'ambiguous'
  when m.kind in ('payment', 'batch') and e.status = 'pending' then 'tentative'
  when m.kind in ('payment', 'batch') then 'matched'
  else 'unmatched' end`;

export interface EntryFilters {
  state?: string;
  bank?: string;
  account?: string;
  currency?: string;
  direction?: string;
  amountMinor?: number;
  from?: string;
  to?: string;
  /** Upper-cased tokens every one of which the entry's end-to-end id or remittance text holds. */
  tokens: string[];
  limit: number;
  after?: { valueDate: string; seq: number };
}

/**
 * Newest value date first, keyset-paginated on (value_date, seq). `q` is answered from bank_entry_tokens (the
 * tokens matching already keeps, primary key (token, entry_seq)): no trigram extension needed.
 */
export async function listEntries(db: Db, filters: EntryFilters): Promise<Array<EntryRow & { state: string }>> {
  const result = await db.query<EntryRow & { state: string }>(
    `select * from (
       select ${ENTRY_COLUMNS}, ${ENTRY_STATE} as state
         from bank_entries e left join bank_entry_matches m on m.entry_seq = e.seq
        where ($1::text is null or e.bank = $1) and ($2::text is null or e.account = $2)
          and ($3::text is null or e.currency = $3) and ($4::text is null or e.direction = $4)
          and ($5::bigint is null or e.amount_minor = $5)
          and ($6::date is null or e.value_date >= $6) and ($7::date is null or e.value_date <= $7)
          and (cardinality($8::text[]) = 0 or e.seq in (
                select t.entry_seq from bank_entry_tokens t where t.token = any($8::text[])
                 group by t.entry_seq having count(distinct t.token) = cardinality($8::text[])))
          and ($9::date is null or (e.value_date, e.seq) < ($9::date, $10::bigint))) x
      where ($11::text is null or x.state = $11)
      order by x.value_date desc, x.seq desc
      limit $12`,
    [
      filters.bank ?? null,
      filters.account ?? null,
      filters.currency ?? null,
      filters.direction ?? null,
      filters.amountMinor ?? null,
      filters.from ?? null,
      filters.to ?? null,
      filters.tokens,
      filters.after?.valueDate ?? null,
      filters.after?.seq ?? null,
      filters.state ?? null,
      filters.limit,
    ],
  );
  return result.rows;
}

export async function entryState(db: Db, seq: number): Promise<string> {
  const result = await db.query<{ state: string }>(
    `select ${ENTRY_STATE} as state from bank_entries e left join bank_entry_matches m on m.entry_seq = e.seq
      where e.seq = $1`,
    [seq],
  );
  return result.rows[0]?.state ?? "unmatched";
}

export interface BatchRow {
  gateway: string;
  batch_id: string;
  event_id: string;
  gross_minor: number;
  fee_minor: number;
  net_minor: number;
  currency: string;
  expected_arrival: string;
  occurred_at: Date;
  state: string;
  settled_on: string | null;
  difference_minor: number | null;
}

export async function findBatches(db: Db, batchId: string, gateway: string | undefined): Promise<BatchRow[]> {
  const result = await db.query<BatchRow>(
    `select gateway, batch_id, event_id, gross_minor, fee_minor, net_minor, currency,
            to_char(expected_arrival, 'YYYY-MM-DD') as expected_arrival, occurred_at, state,
            to_char(settled_on, 'YYYY-MM-DD') as settled_on, difference_minor
       from settlement_batches where batch_id = $1 and ($2::text is null or gateway = $2) order by gateway limit 10`,
    [batchId, gateway ?? null],
  );
  return result.rows;
}

/** The payments a batch lists (by reference, of its gateway) with their statuses; references naming none kept. */
export async function paymentsOfBatch(db: Db, gateway: string, batchId: string) {
  const result = await db.query<{
    reference_key: string;
    payment_id: string | null;
    status: string | null;
    amount_minor: number | null;
  }>(
    `select br.reference_key, p.id as payment_id, p.status, p.amount_minor
       from batch_references br left join payments p on p.reference_key = br.reference_key and p.gateway = br.gateway
      where br.gateway = $1 and br.batch_id = $2 order by br.reference_key, p.id`,
    [gateway, batchId],
  );
  return result.rows;
}

/** The bank entries matched to a batch, with the explanation of each match. */
export async function entriesPayingBatch(db: Db, gateway: string, batchId: string): Promise<EntryRow[]> {
  const result = await db.query<EntryRow>(
    `select ${ENTRY_COLUMNS} from bank_entry_matches m join bank_entries e on e.seq = m.entry_seq
      where m.kind = 'batch' and m.batch_gateway = $1 and m.batch_id = $2 order by e.value_date, e.seq`,
    [gateway, batchId],
  );
  return result.rows;
}

export async function exceptionsOfEntry(db: Db, bank: string, entryId: string) {
  const result = await db.query<{ id: number; kind: string; state: string; detail: string; opened_at: Date }>(
    "select id, kind, state, detail, opened_at from exceptions where subject_key = $1 order by id",
    [`bank_entry:${bank}/${entryId}`],
  );
  return result.rows;
}
