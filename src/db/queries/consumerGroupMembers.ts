import type pg from "pg";

/** This instance joined `groupId` as `memberId` (000125), no longer as `previous`. */
export async function recordGroupMember(
  db: pg.Pool,
  groupId: string,
  memberId: string,
  previous: string | undefined,
): Promise<void> {
  await db.query(
    `with gone as (delete from consumer_group_members where group_id = $1 and member_id = $3)
     insert into consumer_group_members (group_id, member_id) values ($1, $2) on conflict do nothing`,
    [groupId, memberId, previous ?? null],
  );
}

/** The recorded members of `groupId` other than `memberId`: dead, stopped or live instances'. */
export async function otherGroupMembers(db: pg.Pool, groupId: string, memberId: string | undefined): Promise<string[]> {
  const result = await db.query<{ member_id: string }>(
    "select member_id from consumer_group_members where group_id = $1 and member_id is distinct from $2",
    [groupId, memberId ?? null],
  );
  return result.rows.map((row) => row.member_id);
}

/** Forgets members removed from the group (the live ones record their new ids as they rejoin). */
export async function forgetGroupMembers(db: pg.Pool, groupId: string, memberIds: string[]): Promise<void> {
  await db.query("delete from consumer_group_members where group_id = $1 and member_id = any($2::text[])", [
    groupId,
    memberIds,
  ]);
}
