import type pg from "pg";

/**
 * The reconciliation's time: `clock`, or 1 ms after the last reconciliation's time if that is not earlier
 * (000007), so no two reconciliations share a time. Call it only while holding the reconciliation lock,
 * so the order of times is the order of commits.
 */
export async function advanceReconcileClock(tx: pg.ClientBase, clock: Date): Promise<Date> {
  const result = await tx.query<{ at: Date }>(
    "update reconcile_clock set at = greatest(at + interval '1 millisecond', $1::timestamptz) returning at",
    [clock],
  );
  return result.rows[0]!.at;
}

/**
 * Sets the clock to a time chosen before the lock was taken (the memory engine's apply-ahead): only after reading,
 * under the lock, that the clock is still where that time was chosen after, so it is later than it.
 */
export async function setReconcileClock(tx: pg.ClientBase, at: Date): Promise<void> {
  await tx.query("update reconcile_clock set at = $1", [at]);
}

/** The last reconciliation's time (epoch ms): read under the reconciliation lock, it says who reconciled last. */
export async function reconcileClock(tx: pg.ClientBase): Promise<number> {
  const result = await tx.query<{ at: Date }>("select at from reconcile_clock");
  return result.rows[0]!.at.getTime();
}

/** The last reconciliation's time (epoch ms), or undefined when nothing was ever reconciled (the clock's -infinity). */
export async function storedReconcileClock(tx: pg.ClientBase): Promise<number | undefined> {
  const result = await tx.query<{ at: Date | null }>(
    "select case when isfinite(at) then at end as at from reconcile_clock",
  );
  return result.rows[0]?.at?.getTime();
}
