import type { Db } from "../pool.js";

/**
 * Retention of rejected_messages: older than `before`, or beyond the newest `maxTotalBytes` of stored
 * keys and values. Deleted rows are counted by the rule that removed them (age first).
 */
export async function pruneRejectedMessages(
  db: Db,
  before: Date,
  maxTotalBytes: number,
): Promise<{ age: number; size: number }> {
  const byAge = await db.query("delete from rejected_messages where received_at < $1", [before]);
  const bySize = await db.query(
    `delete from rejected_messages where id in (
       select id from (
         select id, sum(octet_length(value) + coalesce(octet_length(message_key), 0))
                      over (order by received_at desc, id desc) as newer_bytes
           from rejected_messages) ranked
        where newer_bytes > $1)`,
    [maxTotalBytes],
  );
  return { age: byAge.rowCount ?? 0, size: bySize.rowCount ?? 0 };
}
