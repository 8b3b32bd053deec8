import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { findingsAfterCursor } from "../../src/db/queries/findings.js";
import { findingOf } from "../../src/kafka/findingsPublisher.js";
import { ingestMessages } from "../../src/consumers/ingest.js";
import { createIngestDeps } from "../../src/consumers/ingestDeps.js";
import { createTestDatabase, type TestDatabase } from "../support/database.js";
import { runNow } from "../support/clock.js";
import { expectedRaw, inProcessSetup } from "../support/inProcessIngest.js";
import { waitUntil } from "../support/daemon.js";

/**
 * A reconciliation's time orders its findings and status history: a batch that waited for another's lock must
 * not carry an earlier time than the one it waited for (consumers keep a payment's latest finding by `at`).
 */
describe("reconciliation time", () => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await createTestDatabase();
  });
  afterAll(async () => {
    await db?.drop();
  });

  const { config, reconcileDeps } = inProcessSetup("payrecon.findings");
  const { metrics } = reconcileDeps;
  let clock = new Date(runNow);
  const ingest = (n: number) => {
    const deps = { ...createIngestDeps(config, db.pool, reconcileDeps), now: () => clock };
    return ingestMessages(deps, [expectedRaw(config.topics.expected, n)]);
  };
  const timesOf = async (paymentId: string) => {
    const payment = await db.pool.query<{ status_since: Date }>("select status_since from payments where id = $1", [
      paymentId,
    ]);
    const change = await db.pool.query<{ at: Date }>("select at from status_changes where payment_id = $1", [
      paymentId,
    ]);
    // Nothing publishes here: every finding is still after the cursor.
    const finding = (await findingsAfterCursor(db.pool, 10_000)).map(findingOf).find((one) => one.key === paymentId);
    return {
      statusSince: payment.rows[0]?.status_since.toISOString(),
      statusChange: change.rows[0]?.at.toISOString(),
      finding: finding?.value.at,
    };
  };

  it("is read after the reconciliation lock is taken, not when the batch began", async () => {
    const holder = new pg.Client({ connectionString: db.url });
    await holder.connect();
    try {
      await holder.query("begin");
      await holder.query("select pg_advisory_xact_lock(7248263012)");
      const began = clock;
      const waiting = ingest(1);
      await waitUntil(
        async () =>
          (await db.pool.query("select 1 from pg_locks where locktype = 'advisory' and not granted")).rowCount === 1,
        10_000,
        "the batch waiting for the reconciliation lock",
      );
      clock = new Date(began.getTime() + 60_000);
      await holder.query("commit");
      expect((await waiting).accepted).toBe(1);
      const expected = clock.toISOString();
      expect(await timesOf("exp_1")).toEqual({ statusSince: expected, statusChange: expected, finding: expected });
    } finally {
      await holder.end();
    }
  });

  it("only goes forward, even when a clock goes back (another instance's, or this one's after a step)", async () => {
    const last = clock.getTime();
    clock = new Date(last - 3_600_000);
    expect((await ingest(2)).accepted).toBe(1);
    const next = new Date(last + 1).toISOString();
    expect(await timesOf("exp_2")).toEqual({ statusSince: next, statusChange: next, finding: next });
    clock = new Date(last + 1_000);
    expect((await ingest(3)).accepted).toBe(1);
    expect((await timesOf("exp_3")).finding).toBe(clock.toISOString());
  });

  it("counts the time each reconciliation held the lock, not the time it waited for it", async () => {
    const held = async () => (await metrics.reconcileLockHeld.get()).values;
    const sum = async () => (await held()).find((value) => value.metricName?.endsWith("_sum"))?.value ?? 0;
    const count = async () => (await held()).find((value) => value.metricName?.endsWith("_count"))?.value ?? 0;
    const before = { sum: await sum(), count: await count() };
    const holder = new pg.Client({ connectionString: db.url });
    await holder.connect();
    try {
      await holder.query("begin");
      await holder.query("select pg_advisory_xact_lock(7248263012)");
      const waiting = ingest(4);
      await new Promise((resolve) => setTimeout(resolve, 1_500)); // the batch waits 1.5 s for the lock
      await holder.query("commit");
      await waiting;
    } finally {
      await holder.end();
    }
    expect((await count()) - before.count).toBe(1);
    expect((await sum()) - before.sum).toBeGreaterThan(0);
    expect((await sum()) - before.sum).toBeLessThan(1);
  });
});
