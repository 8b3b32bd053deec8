import type pg from "pg";

/** The writer of `epoch` consumes the group as `memberId` (000125); an older epoch's record never replaces a newer one. */
export async function recordWriterMember(db: pg.Pool, groupId: string, epoch: number, memberId: string): Promise<void> {
  await db.query(
    `insert into writer_group_member (group_id, epoch, member_id) values ($1, $2, $3)
     on conflict (group_id) do update set epoch = excluded.epoch, member_id = excluded.member_id
     where writer_group_member.epoch <= excluded.epoch`,
    [groupId, epoch, memberId],
  );
}

/** The member a writer of an epoch before `epoch` consumed the group as, if one was recorded. */
export async function previousWriterMember(db: pg.Pool, groupId: string, epoch: number): Promise<string | undefined> {
  const result = await db.query<{ member_id: string }>(
    "select member_id from writer_group_member where group_id = $1 and epoch < $2",
    [groupId, epoch],
  );
  return result.rows[0]?.member_id;
}
