import type pg from "pg";

/** A new epoch (000100): the caller holds the writer lock. Waits for transactions that read the old one `for share`. */
export async function bumpWriterEpoch(db: pg.ClientBase): Promise<number> {
  const result = await db.query<{ epoch: number }>("update writer_epoch set epoch = epoch + 1 returning epoch");
  return result.rows[0]!.epoch;
}

/** The current epoch, share-locked until `tx` ends, so no takeover commits in between. */
export async function sharedWriterEpoch(tx: pg.ClientBase): Promise<number> {
  const result = await tx.query<{ epoch: number }>("select epoch from writer_epoch for share");
  return result.rows[0]!.epoch;
}
