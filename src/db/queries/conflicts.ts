import type { Db } from "../pool.js";

/** What the first version of a key says, for telling a conflict (same key, other content) from a duplicate. */

/** The stored bodies of bank entries, by `bank NUL entry_id`. */
export async function storedBankEntryBodies(
  db: Db,
  keys: Array<{ bank: string; entryId: string }>,
): Promise<Map<string, unknown>> {
  if (keys.length === 0) return new Map();
  const result = await db.query<{ bank: string; entry_id: string; body: unknown }>(
    `select b.bank, b.entry_id, b.body
       from bank_entries b
       join unnest($1::text[], $2::text[]) as k(bank, entry_id) on b.bank = k.bank and b.entry_id = k.entry_id`,
    [keys.map((key) => key.bank), keys.map((key) => key.entryId)],
  );
  return new Map(result.rows.map((row) => [`${row.bank}\u0000${row.entry_id}`, row.body]));
}

/** The stored bodies of statement summaries, by `bank NUL statement_id`. */
export async function storedStatementBodies(
  db: Db,
  keys: Array<{ bank: string; statementId: string }>,
): Promise<Map<string, unknown>> {
  if (keys.length === 0) return new Map();
  const result = await db.query<{ bank: string; statement_id: string; body: unknown }>(
    `select s.bank, s.statement_id, s.body
       from bank_statements s
       join unnest($1::text[], $2::text[]) as k(bank, statement_id) on s.bank = k.bank and s.statement_id = k.statement_id`,
    [keys.map((key) => key.bank), keys.map((key) => key.statementId)],
  );
  return new Map(result.rows.map((row) => [`${row.bank}\u0000${row.statement_id}`, row.body]));
}

/** The first stored (non-cancelled) body of each expected payment and explicit version, by `id NUL version`. */
export async function storedExpectedVersionBodies(
  db: Db,
  keys: Array<{ paymentId: string; version: number }>,
): Promise<Map<string, unknown>> {
  if (keys.length === 0) return new Map();
  const result = await db.query<{ payment_id: string; version: number; body: unknown }>(
    `select distinct on (v.payment_id, v.version) v.payment_id, v.version, v.body
       from expected_payment_versions v
       join unnest($1::text[], $2::int[]) as k(payment_id, version) on v.payment_id = k.payment_id and v.version = k.version
      where not v.cancelled
      order by v.payment_id, v.version, v.seq`,
    [keys.map((key) => key.paymentId), keys.map((key) => key.version)],
  );
  return new Map(result.rows.map((row) => [`${row.payment_id}\u0000${row.version}`, row.body]));
}

export interface InputConflictRow {
  topic: string;
  subjectKey: string;
  exceptionId: number | null;
  firstBody: unknown;
  receivedBody: unknown;
  receivedHash: Buffer;
  source: string;
}

export async function insertInputConflicts(db: Db, rows: InputConflictRow[]): Promise<void> {
  if (rows.length === 0) return;
  await db.query(
    `insert into input_conflicts (topic, subject_key, exception_id, first_body, received_body, received_hash, source)
     select t.topic, t.subject_key, t.exception_id, t.first_body, t.received_body, decode(t.received_hash, 'hex'), t.source
       from json_to_recordset($1::json)
         as t(topic text, subject_key text, exception_id bigint, first_body jsonb, received_body jsonb,
              received_hash text, source text)
     on conflict (subject_key, received_hash) do nothing`,
    [
      JSON.stringify(
        rows.map((row) => ({
          topic: row.topic,
          subject_key: row.subjectKey,
          exception_id: row.exceptionId,
          first_body: row.firstBody,
          received_body: row.receivedBody,
          received_hash: row.receivedHash.toString("hex"),
          source: row.source,
        })),
      ),
    ],
  );
}

/** Both contents of the conflicts an exception was raised for, oldest first. */
export async function conflictsOfException(
  db: Db,
  exceptionId: number,
): Promise<Array<{ topic: string; firstBody: unknown; receivedBody: unknown; receivedAt: Date }>> {
  const result = await db.query<{ topic: string; first_body: unknown; received_body: unknown; received_at: Date }>(
    `select topic, first_body, received_body, received_at from input_conflicts where exception_id = $1 order by id`,
    [exceptionId],
  );
  return result.rows.map((row) => ({
    topic: row.topic,
    firstBody: row.first_body,
    receivedBody: row.received_body,
    receivedAt: row.received_at,
  }));
}
