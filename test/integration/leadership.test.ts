import { afterAll, describe, expect, it } from "vitest";
import { loadConfig } from "../../src/config.js";
import { generateScenario, seededRandom, shuffled } from "../../src/simulate/scenario.js";
import { clockShifted, runNow } from "../support/clock.js";
import { createTestDatabase, type TestDatabase } from "../support/database.js";
import {
  api,
  type ChildDaemon,
  roleOf,
  spawnDaemon,
  startTestDaemon,
  type TestDaemon,
  waitReady,
  waitUntil,
} from "../support/daemon.js";
import { bankEntry } from "../support/facts.js";
import { connectedProducer, groupCaughtUp, kafkaEnv, sendOne, testKafka, uniqueTopics } from "../support/kafka.js";
import { storeOpenPayments } from "../support/openPayments.js";
import { differencesFromWorld } from "../support/worldCheck.js";

/**
 * Engine v2 step 5 (docs/architecture.md §3 "Leadership and fencing"): with RECONCILE_ENGINE=memory one
 * instance holds the writer lock and the others wait as hot standbys; a standby takes over within seconds of
 * a kill -9 of the leader; a leader whose epoch was superseded cannot commit. CHAOS_KILLS raises the kills.
 */
const KILLS = Number(process.env.CHAOS_KILLS ?? 3);
const MEMORY = { RECONCILE_ENGINE: "memory" };
const policy = loadConfig({}).policy;

/** A metric's value (without labels) from an instance's /metrics; 0 when absent. */
async function metric(baseUrl: string, name: string): Promise<number> {
  const text = await (await fetch(`${baseUrl}/metrics`)).text();
  return Number(new RegExp(`^${name} (\\S+)$`, "m").exec(text)?.[1] ?? 0);
}

async function epoch(db: TestDatabase): Promise<number> {
  return (await db.pool.query<{ epoch: number }>("select epoch from writer_epoch")).rows[0]!.epoch;
}

describe("writer leadership (RECONCILE_ENGINE=memory)", () => {
  const cleanups: Array<() => Promise<unknown>> = [];
  afterAll(async () => {
    for (const cleanup of cleanups.reverse()) await cleanup().catch(() => {});
  });

  it(`a standby takes over after each of ${KILLS} kill -9s of the leader (one during a takeover); the result equals a from-scratch reconciliation`, {
    timeout: 120_000 + KILLS * 60_000,
  }, async () => {
    const db = await createTestDatabase();
    cleanups.push(() => db.drop());
    const topics = uniqueTopics();
    const env = { DATABASE_URL: db.url, ...kafkaEnv(topics), ...MEMORY, LOG_LEVEL: "warn", SWEEP_INTERVAL: "1h" };
    const daemons: ChildDaemon[] = [];
    cleanups.push(async () => {
      for (const daemon of daemons) daemon.process.kill("SIGKILL");
    });
    const spawn = async () => {
      const daemon = await spawnDaemon(env);
      daemons.push(daemon);
      await waitReady(daemon.baseUrl).catch((error) => {
        throw new Error(`${error}\n${daemon.output().slice(-3000)}`);
      });
      return daemon;
    };

    const scenario = generateScenario({ seed: 15, now: runNow, payments: 600, prefix: "lead" });
    const random = seededRandom(15);
    const all = [
      ...scenario.expected.map((value) => ({ topic: topics.expected, value })),
      ...scenario.events.map((value) => ({ topic: topics.gateway, value })),
      ...scenario.entries.map((value) => ({ topic: topics.bank, value })),
    ];
    // Out of order, 5% delivered twice.
    const messages = shuffled([...all, ...all.filter(() => random() < 0.05)], random);

    let leader = await spawn();
    expect(await roleOf(leader.baseUrl)).toBe("leader");
    let standby = await spawn();
    expect(await roleOf(standby.baseUrl)).toBe("standby");
    const standbyMetrics = await (await fetch(`${standby.baseUrl}/metrics`)).text();
    expect(standbyMetrics).toMatch(/^payrecon_writer_leader 0$/m);

    const producer = await connectedProducer();
    const slices = KILLS + 1;
    const takeovers: number[] = [];
    for (let slice = 0; slice < slices; slice++) {
      const part = messages.slice(
        Math.floor((slice * messages.length) / slices),
        Math.floor(((slice + 1) * messages.length) / slices),
      );
      for (const topic of [topics.expected, topics.gateway, topics.bank]) {
        const values = part.filter((m) => m.topic === topic).map((m) => ({ value: JSON.stringify(m.value) }));
        for (let i = 0; i < values.length; i += 50) await producer.send({ topic, messages: values.slice(i, i + 50) });
      }
      if (slice === slices - 1) break;
      const epochBefore = await epoch(db);
      const killedAt = Date.now();
      leader.process.kill("SIGKILL");
      await leader.exited;
      await waitUntil(async () => (await roleOf(standby.baseUrl)) === "leader", 30_000, "the standby to take over");
      takeovers.push(Date.now() - killedAt);
      expect(await epoch(db)).toBeGreaterThan(epochBefore);
      leader = standby;
      if (slice === 1) {
        // A kill -9 during a takeover: the new leader dies while it loads and joins the consumer group.
        const next = await spawn();
        leader.process.kill("SIGKILL");
        await leader.exited;
        await waitUntil(async () => (await roleOf(next.baseUrl)) === "leader", 30_000, "the next standby to take over");
        leader = next;
      }
      standby = await spawn();
      expect(await roleOf(standby.baseUrl)).toBe("standby");
    }
    await producer.disconnect();

    const admin = testKafka().admin();
    await admin.connect();
    try {
      await waitUntil(
        () => groupCaughtUp(admin, topics.groupId, [topics.expected, topics.gateway, topics.bank]),
        120_000,
        "the stream consumed by the last leader",
      );
    } finally {
      await admin.disconnect();
    }
    const stored = await db.pool.query<{ payments: number; entries: number }>(
      `select (select count(*)::int from payments) as payments, (select count(*)::int from bank_entries) as entries`,
    );
    const payments = new Set(scenario.expected.map((value) => (value as { id: string }).id)).size;
    expect(stored.rows[0]).toEqual({ payments, entries: scenario.entries.length });
    expect((await differencesFromWorld(db.pool, policy, Date.now())).slice(0, 20)).toEqual([]);
    // Figures belong to the bench; this only says a takeover is a matter of seconds (Kafka's session is 6 s here).
    console.log(JSON.stringify({ kills: KILLS + 1, takeoverMs: takeovers }));
    for (const ms of takeovers) expect(ms).toBeLessThan(30_000);
  });

  it("a standby is a consumer group member assigned nothing; after a kill -9 of the leader it removes the dead member from the group and is assigned every partition", async () => {
    const db = await createTestDatabase();
    cleanups.push(() => db.drop());
    const topics = uniqueTopics();
    const env = { DATABASE_URL: db.url, ...kafkaEnv(topics), ...MEMORY, LOG_LEVEL: "info", SWEEP_INTERVAL: "1h" };
    const leader = await spawnDaemon(env);
    cleanups.push(async () => leader.process.kill("SIGKILL"));
    await waitReady(leader.baseUrl);
    const standby = await spawnDaemon(env);
    cleanups.push(async () => standby.process.kill("SIGKILL"));
    await waitReady(standby.baseUrl);
    expect(await roleOf(standby.baseUrl)).toBe("standby");
    const assigned = "payrecon_kafka_assigned_partitions";
    // Ready means joined: the standby is a member, and the rebalance its join caused left everything with the leader.
    expect(await metric(standby.baseUrl, "payrecon_kafka_consumer_rebalances_total")).toBeGreaterThanOrEqual(1);
    expect(await metric(standby.baseUrl, assigned)).toBe(0);
    await waitUntil(
      async () => (await metric(leader.baseUrl, assigned)) > 0,
      30_000,
      "the leader to hold the partitions",
    );
    const partitions = await metric(leader.baseUrl, assigned);
    expect(await metric(standby.baseUrl, assigned)).toBe(0);

    leader.process.kill("SIGKILL");
    await leader.exited;
    await waitUntil(
      async () => (await metric(standby.baseUrl, assigned)) === partitions,
      30_000,
      "the standby to be assigned every partition",
    );
    expect(await roleOf(standby.baseUrl)).toBe("leader");
    // Not by waiting for the dead member's session to expire: the new writer removed it from the group.
    expect(standby.output()).toContain("member removed from the consumer group for the takeover");
    // And it consumes.
    await sendOne(topics.bank, bankEntry(1));
    await waitUntil(
      async () => (await db.pool.query("select 1 from bank_entries")).rowCount === 1,
      30_000,
      "the new writer to store a message",
    );
  }, 120_000);

  // libfaketime stops PostgreSQL's timeouts from firing (see databaseFaults' statement timeout), idle_session_timeout
  // too: under `faketime -f +400d` the hung leader's session is never ended (checked: the test fails the same way
  // with or without the load's guard). It involves no calendar date; the unshifted run covers it.
  it.skipIf(clockShifted)(
    "a hung leader (SIGSTOP) loses the lock after WRITER_LOCK_TIMEOUT; resumed, it finds itself a standby",
    async () => {
      const db = await createTestDatabase();
      cleanups.push(() => db.drop());
      const env = {
        DATABASE_URL: db.url,
        ...MEMORY,
        LOG_LEVEL: "warn",
        SWEEP_INTERVAL: "1h",
        WRITER_LOCK_TIMEOUT: "2s",
      };
      const hung = await spawnDaemon(env);
      cleanups.push(async () => hung.process.kill("SIGKILL"));
      await waitReady(hung.baseUrl);
      const standby = await spawnDaemon(env);
      cleanups.push(async () => standby.process.kill("SIGKILL"));
      await waitReady(standby.baseUrl);
      expect(await roleOf(hung.baseUrl)).toBe("leader");
      expect(await roleOf(standby.baseUrl)).toBe("standby");
      const before = await epoch(db);

      // The process stops answering, its sockets stay open: only the lock connection's silence can free the lock.
      hung.process.kill("SIGSTOP");
      const stoppedAt = Date.now();
      await waitUntil(async () => (await roleOf(standby.baseUrl)) === "leader", 15_000, "the standby to take over");
      const tookMs = Date.now() - stoppedAt;
      expect(await epoch(db)).toBe(before + 1);
      hung.process.kill("SIGCONT");
      await waitUntil(
        async () => (await roleOf(hung.baseUrl)) === "standby",
        15_000,
        "the resumed leader to stand down",
      );
      const ingest = (baseUrl: string, n: number) =>
        api(baseUrl, "ingester")("/api/v1/ingest/bank.settlements", {
          method: "POST",
          body: JSON.stringify(bankEntry(n)),
        });
      expect((await ingest(hung.baseUrl, 1)).status).toBe(200);
      expect((await ingest(standby.baseUrl, 2)).status).toBe(200);
      expect(await epoch(db)).toBe(before + 1);
      expect((await differencesFromWorld(db.pool, policy, Date.now())).slice(0, 20)).toEqual([]);
      console.log(JSON.stringify({ hungLeaderTakeoverMs: tookMs }));
      // 2 s of silence plus the standby's next try; generous for a loaded machine.
      expect(tookMs).toBeGreaterThanOrEqual(1_000);
      expect(tookMs).toBeLessThan(12_000);
    },
    90_000,
  );

  it("keeps the writer lock through a working-set load that blocks its pings for longer than WRITER_LOCK_TIMEOUT", async () => {
    const db = await createTestDatabase();
    cleanups.push(() => db.drop());
    // Enough open payments that loading them (indexed and matched, synchronous; evaluated later in slices) takes
    // longer than the lock's 1 s timeout.
    await storeOpenPayments(db.pool, 300_000);
    const leader = await spawnDaemon({
      DATABASE_URL: db.url,
      ...MEMORY,
      SWEEP_INTERVAL: "1h",
      WRITER_LOCK_TIMEOUT: "1s",
    });
    cleanups.push(async () => leader.process.kill("SIGKILL"));
    await waitReady(leader.baseUrl, 180_000);
    const loaded = leader
      .output()
      .split("\n")
      .flatMap((line) => (line.includes('"working set loaded"') ? [JSON.parse(line) as { applyMs: number }] : []));
    expect(loaded).toHaveLength(1);
    // Not a test of anything unless the load outlasted the timeout.
    expect(loaded[0]!.applyMs).toBeGreaterThan(1_000);
    // It goes on writing as the same leader: a fact reconciled, the epoch still the first.
    const response = await api(leader.baseUrl, "ingester")("/api/v1/ingest/bank.settlements", {
      method: "POST",
      body: JSON.stringify(bankEntry(7)),
    });
    expect(response.status).toBe(200);
    expect(await roleOf(leader.baseUrl)).toBe("leader");
    expect(await epoch(db)).toBe(1);
    expect(leader.output()).not.toContain("writer standing down");
  }, 300_000);

  it("a leader whose epoch was superseded cannot commit; a standby serves reads and HTTP ingest, and takes over on a graceful stop", async () => {
    const db = await createTestDatabase();
    cleanups.push(() => db.drop());
    const leader: TestDaemon = await startTestDaemon({ DATABASE_URL: db.url, ...MEMORY });
    cleanups.push(() => leader.stop());
    const post = (daemon: TestDaemon, values: unknown[]) =>
      api(daemon.baseUrl, "ingester")("/api/v1/ingest/bank.settlements", {
        method: "POST",
        body: values.map((value) => JSON.stringify(value)).join("\n"),
      });
    expect(await roleOf(leader.baseUrl)).toBe("leader");
    expect((await post(leader, [bankEntry(1), bankEntry(2)])).status).toBe(200);

    // Another instance took over meanwhile (as after a pause longer than the lock session): the old leader's
    // next transaction fails its fence, and nothing it tried to write is stored.
    const superseded = await epoch(db);
    await db.pool.query("update writer_epoch set epoch = epoch + 1");
    const refused = await post(leader, [bankEntry(3)]);
    expect(refused.status).toBe(503);
    const entry3 = bankEntry(3) as { entry_id: string };
    const stale = await db.pool.query("select 1 from bank_entries where entry_id = $1", [entry3.entry_id]);
    expect(stale.rowCount).toBe(0);
    // It stood down, released the lock, and (alone) won it again with an epoch of its own.
    await waitUntil(async () => (await epoch(db)) === superseded + 2, 10_000, "the leader to win the lock again");
    await waitUntil(async () => (await roleOf(leader.baseUrl)) === "leader", 10_000, "the leader to lead again");
    expect((await post(leader, [bankEntry(3)])).status).toBe(200);

    // A standby: ready, says so, and stores and reconciles what it is sent over HTTP (the sql engine, journaled).
    const standby = await startTestDaemon({ DATABASE_URL: db.url, ...MEMORY });
    cleanups.push(() => standby.stop());
    const ready = await fetch(`${standby.baseUrl}/readyz`);
    expect(ready.status).toBe(200);
    expect(((await ready.json()) as { role: string }).role).toBe("standby");
    expect((await post(standby, [bankEntry(4)])).status).toBe(200);
    expect((await post(leader, [bankEntry(5)])).status).toBe(200);

    // A graceful stop hands over at once.
    await leader.stop();
    await waitUntil(async () => (await roleOf(standby.baseUrl)) === "leader", 10_000, "the standby to take over");
    expect((await post(standby, [bankEntry(6)])).status).toBe(200);
    const entries = await db.pool.query("select 1 from bank_entries");
    expect(entries.rowCount).toBe(6);
    expect((await differencesFromWorld(db.pool, policy, Date.now())).slice(0, 20)).toEqual([]);
  }, 120_000);
});
