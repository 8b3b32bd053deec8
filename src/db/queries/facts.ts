import { createHash } from "node:crypto";
import type { Db } from "../pool.js";

/**
 * Set-based, idempotent inserts of facts: one statement per table per batch,
 * `on conflict do nothing` on the natural key, returning only what is new.
 *
 * The large ones take their rows as one JSON document (json_to_recordset, rows
 * in document order): node-postgres escapes every element of an array
 * parameter character by character, which cost more than the JSON encoding.
 */

export interface ExpectedVersionRow {
  paymentId: string;
  contentHash: Buffer;
  version: number | null;
  cancelled: boolean;
  body: unknown;
  source: string;
}

/** Returns the versions that are new, with their content hash in hex. */
export async function insertExpectedVersions(
  db: Db,
  rows: ExpectedVersionRow[],
): Promise<{ paymentId: string; contentHash: string; seq: number; receivedAt: Date }[]> {
  if (rows.length === 0) return [];
  const result = await db.query<{ seq: number; payment_id: string; content_hash: Buffer; received_at: Date }>(
    `insert into expected_payment_versions (payment_id, content_hash, version, cancelled, body, source)
     select t.payment_id, decode(t.content_hash, 'hex'), t.version, t.cancelled, t.body, t.source
       from json_to_recordset($1::json)
         as t(payment_id text, content_hash text, version int, cancelled bool, body jsonb, source text)
     on conflict (payment_id, content_hash) do nothing
     returning seq, payment_id, content_hash, received_at`,
    [
      JSON.stringify(
        rows.map((row) => ({
          payment_id: row.paymentId,
          content_hash: row.contentHash.toString("hex"),
          version: row.version,
          cancelled: row.cancelled,
          body: row.body,
          source: row.source,
        })),
      ),
    ],
  );
  return result.rows.map((row) => ({
    paymentId: row.payment_id,
    contentHash: row.content_hash.toString("hex"),
    seq: row.seq,
    receivedAt: row.received_at,
  }));
}

export interface GatewayEventRow {
  gateway: string;
  eventId: string;
  type: string;
  reference: string | null;
  referenceKey: string | null;
  batchId: string | null;
  gatewayPaymentId: string | null;
  amountMinor: number;
  currency: string;
  occurredAt: string;
  failureCode: string | null;
  holdReason: string | null;
  body: unknown;
  source: string;
}

export interface InsertedGatewayEvent {
  seq: number;
  gateway: string;
  eventId: string;
  type: string;
  referenceKey: string | null;
  batchId: string | null;
  receivedAt: Date;
}

export async function insertGatewayEvents(db: Db, rows: GatewayEventRow[]): Promise<InsertedGatewayEvent[]> {
  if (rows.length === 0) return [];
  const result = await db.query<{
    seq: number;
    gateway: string;
    event_id: string;
    type: string;
    reference_key: string | null;
    batch_id: string | null;
    received_at: Date;
  }>(
    `insert into gateway_events (gateway, event_id, type, reference, reference_key, batch_id, gateway_payment_id,
                                 amount_minor, currency, occurred_at, failure_code, hold_reason, body, source)
     select * from json_to_recordset($1::json)
       as t(gateway text, event_id text, type text, reference text, reference_key text, batch_id text,
            gateway_payment_id text, amount_minor bigint, currency text, occurred_at timestamptz, failure_code text,
            hold_reason text, body jsonb, source text)
     on conflict (gateway, event_id) do nothing
     returning seq, gateway, event_id, type, reference_key, batch_id, received_at`,
    [
      JSON.stringify(
        rows.map((row) => ({
          gateway: row.gateway,
          event_id: row.eventId,
          type: row.type,
          reference: row.reference,
          reference_key: row.referenceKey,
          batch_id: row.batchId,
          gateway_payment_id: row.gatewayPaymentId,
          amount_minor: row.amountMinor,
          currency: row.currency,
          occurred_at: row.occurredAt,
          failure_code: row.failureCode,
          hold_reason: row.holdReason,
          body: row.body,
          source: row.source,
        })),
      ),
    ],
  );
  return result.rows.map((row) => ({
    seq: row.seq,
    gateway: row.gateway,
    eventId: row.event_id,
    type: row.type,
    referenceKey: row.reference_key,
    batchId: row.batch_id,
    receivedAt: row.received_at,
  }));
}

/** The stored bodies of gateway events, by `gateway NUL event_id`. */
export async function storedGatewayEventBodies(
  db: Db,
  keys: Array<{ gateway: string; eventId: string }>,
): Promise<Map<string, unknown>> {
  const result = await db.query<{ gateway: string; event_id: string; body: unknown }>(
    `select g.gateway, g.event_id, g.body
       from gateway_events g
       join unnest($1::text[], $2::text[]) as k(gateway, event_id) on g.gateway = k.gateway and g.event_id = k.event_id`,
    [keys.map((key) => key.gateway), keys.map((key) => key.eventId)],
  );
  return new Map(result.rows.map((row) => [`${row.gateway}\u0000${row.event_id}`, row.body]));
}

export async function insertBatchReferences(
  db: Db,
  rows: { gateway: string; batchId: string; referenceKey: string }[],
): Promise<void> {
  if (rows.length === 0) return;
  await db.query(
    `insert into batch_references (gateway, batch_id, reference_key)
     select * from unnest($1::text[], $2::text[], $3::text[])
     on conflict do nothing`,
    [rows.map((row) => row.gateway), rows.map((row) => row.batchId), rows.map((row) => row.referenceKey)],
  );
}

export interface BankEntryRow {
  bank: string;
  entryId: string;
  account: string;
  direction: string;
  amountMinor: number;
  currency: string;
  bookingDate: string;
  valueDate: string;
  status: string;
  endToEndId: string | null;
  remittanceInfo: string | null;
  counterpartyName: string | null;
  returnReason: string | null;
  body: unknown;
  source: string;
  tokens: string[];
}

export interface InsertedBankEntry {
  seq: number;
  bank: string;
  entryId: string;
  receivedAt: Date;
}

export async function insertBankEntries(db: Db, rows: BankEntryRow[]): Promise<InsertedBankEntry[]> {
  if (rows.length === 0) return [];
  const result = await db.query<{ seq: number; bank: string; entry_id: string; received_at: Date }>(
    `insert into bank_entries (bank, entry_id, account, direction, amount_minor, currency, booking_date, value_date,
                               status, end_to_end_id, remittance_info, counterparty_name, return_reason, body, source)
     select * from json_to_recordset($1::json)
       as t(bank text, entry_id text, account text, direction text, amount_minor bigint, currency text,
            booking_date date, value_date date, status text, end_to_end_id text, remittance_info text,
            counterparty_name text, return_reason text, body jsonb, source text)
     on conflict (bank, entry_id) do nothing
     returning seq, bank, entry_id, received_at`,
    [
      JSON.stringify(
        rows.map((row) => ({
          bank: row.bank,
          entry_id: row.entryId,
          account: row.account,
          direction: row.direction,
          amount_minor: row.amountMinor,
          currency: row.currency,
          booking_date: row.bookingDate,
          value_date: row.valueDate,
          status: row.status,
          end_to_end_id: row.endToEndId,
          remittance_info: row.remittanceInfo,
          counterparty_name: row.counterpartyName,
          return_reason: row.returnReason,
          body: row.body,
          source: row.source,
        })),
      ),
    ],
  );
  const inserted = result.rows.map((row) => ({
    seq: row.seq,
    bank: row.bank,
    entryId: row.entry_id,
    receivedAt: row.received_at,
  }));
  const tokensByKey = new Map(rows.map((row) => [`${row.bank}\u0000${row.entryId}`, row.tokens]));
  const tokenRows = inserted.flatMap((entry) =>
    (tokensByKey.get(`${entry.bank}\u0000${entry.entryId}`) ?? []).map((token) => ({ token, seq: entry.seq })),
  );
  if (tokenRows.length > 0) {
    // Distinct tokens (remittanceTokens) of entries this statement created: no row can exist, and a plain insert
    // writes no speculative-insertion confirmation per row (`on conflict` did: ~48 bytes of WAL each, issue 15).
    await db.query(
      `insert into bank_entry_tokens (token, entry_seq)
       select * from json_to_recordset($1::json) as t(token text, entry_seq bigint)`,
      [JSON.stringify(tokenRows.map((row) => ({ token: row.token, entry_seq: row.seq })))],
    );
  }
  return inserted;
}

export interface RejectedRow {
  source: string;
  topic: string;
  partition: number | null;
  offset: string | null;
  key: Buffer | null;
  value: Buffer;
  reason: string;
  detail: string;
}

/**
 * Records rejected messages; returns the indexes of those not recorded before:
 * a re-delivered Kafka poison message (same topic, partition, offset) is one row
 * and one dead letter. HTTP lines have no offset and are always new. Key and value
 * are stored cut to `maxBytes`; a cut value keeps its original size and SHA-256.
 */
export async function insertRejected(db: Db, rows: RejectedRow[], maxBytes: number): Promise<number[]> {
  if (rows.length === 0) return [];
  const cut = (bytes: Buffer | null) => (bytes && bytes.length > maxBytes ? bytes.subarray(0, maxBytes) : bytes);
  const long = (row: RejectedRow) => row.value.length > maxBytes;
  const result = await db.query<{ topic: string; partition: number | null; offset: number | null }>(
    `insert into rejected_messages (source, topic, partition, "offset", message_key, value, reason, detail,
                                    original_bytes, original_sha256)
     select * from unnest($1::text[], $2::text[], $3::int[], $4::bigint[], $5::bytea[], $6::bytea[], $7::text[],
                          $8::text[], $9::int[], $10::bytea[])
     on conflict (topic, partition, "offset") do nothing
     returning topic, partition, "offset"`,
    [
      rows.map((row) => row.source),
      rows.map((row) => row.topic),
      rows.map((row) => row.partition),
      rows.map((row) => row.offset),
      rows.map((row) => cut(row.key)),
      rows.map((row) => cut(row.value)),
      rows.map((row) => row.reason),
      rows.map((row) => row.detail),
      rows.map((row) => (long(row) ? row.value.length : null)),
      rows.map((row) => (long(row) ? createHash("sha256").update(row.value).digest() : null)),
    ],
  );
  const fresh = new Set(result.rows.map((row) => `${row.topic}\u0000${row.partition}\u0000${row.offset}`));
  return rows.flatMap((row, index) =>
    row.partition === null || fresh.has(`${row.topic}\u0000${row.partition}\u0000${row.offset}`) ? [index] : [],
  );
}

export async function recordFreshness(
  db: Db,
  rows: { topic: string; source: string; lastEvent: string }[],
): Promise<void> {
  if (rows.length === 0) return;
  await db.query(
    `insert into source_freshness (topic, source, last_event)
     select topic, source, max(last_event) from unnest($1::text[], $2::text[], $3::timestamptz[]) as t(topic, source, last_event)
     group by topic, source
     on conflict (topic, source) do update set last_event = greatest(source_freshness.last_event, excluded.last_event)`,
    [rows.map((row) => row.topic), rows.map((row) => row.source), rows.map((row) => row.lastEvent)],
  );
}
