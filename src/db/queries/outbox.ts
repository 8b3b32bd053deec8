import type { Db } from "../pool.js";

export interface OutboxMessage {
  topic: string;
  key: Buffer | string | null;
  value: Buffer | string;
  headers: Record<string, string>;
}

export async function enqueueOutbox(db: Db, messages: OutboxMessage[]): Promise<void> {
  if (messages.length === 0) return;
  // One JSON document, bytes as hex (see facts.ts: array parameters are costly to encode).
  const hex = (value: Buffer | string) => (typeof value === "string" ? Buffer.from(value) : value).toString("hex");
  await db.query(
    `insert into outbox (topic, message_key, value, headers)
     select t.topic, decode(t.message_key, 'hex'), decode(t.value, 'hex'), t.headers
       from json_to_recordset($1::json) as t(topic text, message_key text, value text, headers jsonb)`,
    [
      JSON.stringify(
        messages.map((message) => ({
          topic: message.topic,
          message_key: message.key === null ? null : hex(message.key),
          value: hex(message.value),
          headers: message.headers,
        })),
      ),
    ],
  );
}

export interface PendingOutboxMessage {
  id: number;
  topic: string;
  key: Buffer | null;
  value: Buffer;
  headers: Record<string, string>;
}

/** Locks the oldest unpublished messages; another publisher skips them (no double send). */
export async function lockPendingOutbox(db: Db, limit: number): Promise<PendingOutboxMessage[]> {
  const result = await db.query<{
    id: number;
    topic: string;
    message_key: Buffer | null;
    value: Buffer;
    headers: Record<string, string>;
  }>(
    `select id, topic, message_key, value, headers from outbox
     where published_at is null order by id limit $1 for update skip locked`,
    [limit],
  );
  return result.rows.map((row) => ({
    id: row.id,
    topic: row.topic,
    key: row.message_key,
    value: row.value,
    headers: row.headers,
  }));
}

/**
 * Removes published messages. A delete, not `set published_at`: that update wrote each message (and its
 * index entries) a second time and left the table growing with every finding ever sent.
 */
export async function markOutboxPublished(db: Db, ids: number[]): Promise<void> {
  if (ids.length === 0) return;
  await db.query("delete from outbox where id = any($1::bigint[])", [ids]);
}

export async function countPendingOutbox(db: Db): Promise<number> {
  const result = await db.query<{ count: number }>(
    "select count(*)::int as count from outbox where published_at is null",
  );
  return result.rows[0]?.count ?? 0;
}
