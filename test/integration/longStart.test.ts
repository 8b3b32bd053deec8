import { afterAll, describe, expect, it } from "vitest";
import { createTestDatabase } from "../support/database.js";
import { api, type ChildDaemon, roleOf, spawnDaemon, waitReady, waitUntil } from "../support/daemon.js";
import { bankEntry } from "../support/facts.js";
import { kafkaEnv, sendOne, uniqueTopics } from "../support/kafka.js";

/**
 * Issue 15: a memory-engine daemon restarting on a large database loaded its working set for 91 s; afterwards the
 * batches that had waited for the load held the pool's connections, the start's first follow-up run waited past the
 * pool's connect timeout, and the process exited (`payrecon start failed`). What a start or a takeover does besides
 * loading and joining — the first follow-up run, the first sweep, the consumer group bookkeeping — is best-effort:
 * a failure is logged and retried, never fatal. The failures are made here by a table the step needs being
 * renamed away (immediate, and independent of PostgreSQL's timeouts, which libfaketime stops).
 */
const MEMORY = { RECONCILE_ENGINE: "memory" };

/** Ready, or the daemon's exit (with its output) as the failure. */
async function readyOrExited(daemon: ChildDaemon): Promise<void> {
  const exited = daemon.exited.then((code) => {
    throw new Error(`daemon exited (${code}) before ready:\n${daemon.output().slice(-3_000)}`);
  });
  await Promise.race([waitReady(daemon.baseUrl), exited]);
}

describe("a long start or takeover does not crash the daemon (RECONCILE_ENGINE=memory)", () => {
  const cleanups: Array<() => Promise<unknown>> = [];
  afterAll(async () => {
    for (const cleanup of cleanups.reverse()) await cleanup().catch(() => {});
  });

  it("a start whose first follow-up run fails is ready all the same and keeps ingesting", async () => {
    const db = await createTestDatabase();
    cleanups.push(() => db.drop());
    const env = { DATABASE_URL: db.url, ...MEMORY, LOG_LEVEL: "info", SWEEP_INTERVAL: "1h" };
    await db.pool.query("alter table dunning_records rename to dunning_records_away");
    const daemon = await spawnDaemon(env);
    cleanups.push(async () => daemon.process.kill("SIGKILL"));
    await readyOrExited(daemon);
    expect(await roleOf(daemon.baseUrl)).toBe("leader");
    expect(daemon.output()).toContain("follow-up failed; will retry");

    await db.pool.query("alter table dunning_records_away rename to dunning_records");
    const response = await api(daemon.baseUrl, "ingester")("/api/v1/ingest/bank.settlements", {
      method: "POST",
      body: JSON.stringify(bankEntry(1)),
    });
    expect(response.status).toBe(200);
    await waitUntil(
      async () => (await db.pool.query("select 1 from bank_entries")).rowCount === 1,
      30_000,
      "the bank entry to be stored",
    );
    expect((await fetch(`${daemon.baseUrl}/readyz`)).status).toBe(200);
    expect(daemon.process.exitCode).toBeNull();
  }, 120_000);

  it("a standby whose consumer group bookkeeping fails takes over by a rejoin and consumes", async () => {
    const db = await createTestDatabase();
    cleanups.push(() => db.drop());
    const topics = uniqueTopics();
    const env = { DATABASE_URL: db.url, ...kafkaEnv(topics), ...MEMORY, LOG_LEVEL: "info", SWEEP_INTERVAL: "1h" };
    const leader = await spawnDaemon(env);
    cleanups.push(async () => leader.process.kill("SIGKILL"));
    await readyOrExited(leader);
    const standby = await spawnDaemon(env);
    cleanups.push(async () => standby.process.kill("SIGKILL"));
    await readyOrExited(standby);
    expect(await roleOf(standby.baseUrl)).toBe("standby");
    await waitUntil(
      async () => (await db.pool.query("select 1 from consumer_group_members")).rowCount === 2,
      30_000,
      "both members to be recorded",
    );

    // The recorded members cannot be read: the new writer cannot remove the dead one from the group at once.
    await db.pool.query("alter table consumer_group_members rename to consumer_group_members_away");
    leader.process.kill("SIGKILL");
    await leader.exited;
    await sendOne(topics.bank, bankEntry(1));
    // The dead member's partitions move once its session (6 s here) times out.
    await waitUntil(
      async () => (await db.pool.query("select 1 from bank_entries")).rowCount === 1,
      30_000,
      "the new writer to store a message",
    );
    expect(await roleOf(standby.baseUrl)).toBe("leader");
    expect(standby.output()).toContain("reading the recorded consumer group members failed");
    expect(standby.process.exitCode).toBeNull();
  }, 120_000);
});
