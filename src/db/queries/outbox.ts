import type { Db } from "../pool.js";

export interface OutboxMessage {
  topic: string;
  key: Buffer | string | null;
  value: Buffer | string;
  headers: Record<string, string>;
}

export async function enqueueOutbox(db: Db, messages: OutboxMessage[]): Promise<void> {
  if (messages.length === 0) return;
  await db.query(
    `insert into outbox (topic, message_key, value, headers)
     select * from unnest($1::text[], $2::bytea[], $3::bytea[], $4::jsonb[])`,
    [
      messages.map((message) => message.topic),
      messages.map((message) => (message.key === null ? null : Buffer.from(message.key))),
      messages.map((message) => Buffer.from(message.value)),
      messages.map((message) => JSON.stringify(message.headers)),
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

export async function markOutboxPublished(db: Db, ids: number[]): Promise<void> {
  if (ids.length === 0) return;
  await db.query("update outbox set published_at = now() where id = any($1::bigint[])", [ids]);
}

export async function countPendingOutbox(db: Db): Promise<number> {
  const result = await db.query<{ count: number }>(
    "select count(*)::int as count from outbox where published_at is null",
  );
  return result.rows[0]?.count ?? 0;
}
