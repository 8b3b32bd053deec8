import type pg from "pg";

/** A partition's stored position moved from `from` (null: none stored yet) to `next`, the next offset to read. */
export interface PositionAdvance {
  topic: string;
  partition: number;
  from: string | null;
  next: string;
}

/**
 * Another writer moved one of these partitions' stored positions (a partition taken over by another instance,
 * or a commit this consumer did not see): the transaction must not commit, its messages are read again from
 * the stored position.
 */
export class PositionMovedError extends Error {
  constructor(readonly groupId: string) {
    super(`consumer group ${groupId}: a partition's stored position moved under this transaction`);
    this.name = "PositionMovedError";
  }
}

/**
 * Moves each partition's position from `from` to `next` in the caller's transaction, only where it still stands
 * at `from` (a compare-and-set: it never moves backwards, and of two instances holding the same partition across
 * a rebalance only the first commits). Two instances only ever share a partition across a rebalance; should their
 * transactions deadlock on two such rows, withTransaction retries the loser, which then finds its position moved.
 */
export async function advanceConsumerPositions(
  tx: pg.ClientBase,
  groupId: string,
  advances: PositionAdvance[],
): Promise<void> {
  if (advances.length === 0) return;
  const result = await tx.query<{ moved: number }>(
    `with wanted as (
       select * from unnest($2::text[], $3::int[], $4::bigint[], $5::bigint[]) as w(topic, partition, from_offset, next_offset)
     ),
     moved as (
       update consumer_positions p set next_offset = w.next_offset, updated_at = now()
       from wanted w
       where p.group_id = $1 and p.topic = w.topic and p.partition = w.partition
         and p.next_offset = w.from_offset and w.next_offset > w.from_offset
       returning 1
     ),
     added as (
       insert into consumer_positions (group_id, topic, partition, next_offset)
       select $1, w.topic, w.partition, w.next_offset from wanted w where w.from_offset is null
       on conflict do nothing
       returning 1
     )
     select (select count(*) from moved)::int + (select count(*) from added)::int as moved`,
    [
      groupId,
      advances.map((a) => a.topic),
      advances.map((a) => a.partition),
      advances.map((a) => a.from),
      advances.map((a) => a.next),
    ],
  );
  if (result.rows[0]!.moved !== advances.length) throw new PositionMovedError(groupId);
}

/** The next offset to read of a partition as stored with the facts; null when this group never stored one. */
export async function consumerPosition(
  db: pg.Pool | pg.ClientBase,
  groupId: string,
  topic: string,
  partition: number,
): Promise<string | null> {
  const result = await db.query<{ next_offset: string }>(
    "select next_offset::text as next_offset from consumer_positions where group_id = $1 and topic = $2 and partition = $3",
    [groupId, topic, partition],
  );
  return result.rows[0]?.next_offset ?? null;
}
