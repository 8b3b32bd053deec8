import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestDatabase, type TestDatabase } from "../support/database.js";
import { type ChildDaemon, spawnDaemon, waitReady, waitUntil } from "../support/daemon.js";
import { bankEntry, expectedPayment, gatewayEvent, invalidSamples } from "../support/facts.js";
import { connectedProducer, kafkaEnv, readTopic, testKafka, uniqueTopics } from "../support/kafka.js";

/**
 * kill -9 of the daemon at random points while a stream is produced, then a
 * restart each time: the stored facts equal the distinct messages sent, the
 * rejected ones are recorded once each. CHAOS_KILLS raises the count (npm run test:chaos).
 */
const KILLS = Number(process.env.CHAOS_KILLS ?? 3);

describe("crash safety", () => {
  const topics = uniqueTopics();
  let db: TestDatabase;
  let daemon: ChildDaemon | undefined;
  beforeAll(async () => {
    db = await createTestDatabase();
  });
  afterAll(async () => {
    daemon?.process.kill("SIGKILL");
    await db?.drop();
  });

  it(`loses and duplicates nothing across ${KILLS} kill -9 restarts`, {
    timeout: 60_000 + KILLS * 40_000,
  }, async () => {
    const env = { DATABASE_URL: db.url, ...kafkaEnv(topics), LOG_LEVEL: "warn", SWEEP_INTERVAL: "1h" };
    const distinct = { expected: 1_500, events: 1_500, entries: 600 };
    const invalid = invalidSamples();
    const json = (value: object) => JSON.stringify(value);
    const batches: Array<{ topic: string; messages: Array<{ key: string; value: string | Buffer }> }> = [];
    for (let n = 0; n < distinct.expected; n += 50) {
      const slice = Array.from({ length: 50 }, (_, i) => expectedPayment(n + i));
      batches.push({ topic: topics.expected, messages: slice.map((m) => ({ key: m.id, value: json(m) })) });
      const events = Array.from({ length: 50 }, (_, i) => gatewayEvent(n + i));
      // Every fourth batch is sent twice: duplicates interleaved with new data.
      const eventBatch = { topic: topics.gateway, messages: events.map((m) => ({ key: m.reference, value: json(m) })) };
      batches.push(eventBatch);
      if ((n / 50) % 4 === 0) batches.push(eventBatch);
      if (n < distinct.entries) {
        const entries = Array.from({ length: 50 }, (_, i) => bankEntry(n + i));
        batches.push({ topic: topics.bank, messages: entries.map((m) => ({ key: m.entry_id, value: json(m) })) });
      }
      const bad = invalid[(n / 50) % invalid.length]!;
      const topic = { expected: topics.expected, gateway: topics.gateway, bank: topics.bank }[bad.kind];
      batches.push({ topic, messages: [{ key: `bad-${n}`, value: bad.value }] });
    }
    const invalidSent = batches.filter((batch) => batch.messages[0]!.key.startsWith("bad-")).length;

    daemon = await spawnDaemon(env);
    const readyMs = await waitReady(daemon.baseUrl);
    const producer = await connectedProducer();
    const killAt = new Set(
      Array.from(
        { length: KILLS },
        (_, k) => Math.floor(((k + 1) * batches.length) / (KILLS + 1)) + Math.floor(Math.random() * 5),
      ),
    );
    let kills = 0;
    for (const [index, batch] of batches.entries()) {
      await producer.send(batch);
      if (killAt.has(index)) {
        daemon.process.kill("SIGKILL");
        await daemon.exited;
        kills++;
        daemon = await spawnDaemon(env);
        await waitReady(daemon.baseUrl);
      }
    }
    await producer.disconnect();

    const admin = testKafka().admin();
    await admin.connect();
    try {
      await waitUntil(
        async () => {
          for (const topic of [topics.expected, topics.gateway, topics.bank]) {
            const [ends, committed] = [
              await admin.fetchTopicOffsets(topic),
              await admin.fetchOffsets({ groupId: topics.groupId, topics: [topic] }),
            ];
            const done = new Map((committed[0]?.partitions ?? []).map((p) => [p.partition, p.offset]));
            if (ends.some((end) => end.high !== "0" && done.get(end.partition) !== end.high)) return false;
          }
          return true;
        },
        120_000,
        "the stream consumed after the last restart",
      );
    } finally {
      await admin.disconnect();
    }
    const stored = (
      await db.pool.query<{ expected: number; events: number; entries: number; rejected: number; payments: number }>(
        `select (select count(*)::int from expected_payment_versions) as expected,
                (select count(*)::int from gateway_events) as events,
                (select count(*)::int from bank_entries) as entries,
                (select count(*)::int from rejected_messages) as rejected,
                (select count(*)::int from payments) as payments`,
      )
    ).rows[0]!;
    expect(kills).toBe(KILLS);
    expect(stored).toEqual({
      expected: distinct.expected,
      events: distinct.events,
      entries: distinct.entries,
      rejected: invalidSent,
      payments: distinct.expected,
    });
    // Dead letters are published at least once: a kill between publishing and marking one published sends it
    // again, so wait for every distinct source, not for a count of messages.
    const sourcesOf = (read: Array<{ headers: Record<string, string | undefined> }>) =>
      new Set(
        read.map(
          (m) =>
            `${m.headers["x-payrecon-source-topic"]}/${m.headers["x-payrecon-source-partition"]}/${m.headers["x-payrecon-source-offset"]}`,
        ),
      );
    const dlq = await readTopic(topics.dlq, (read) => sourcesOf(read).size >= invalidSent, 30_000);
    const sources = sourcesOf(dlq);
    expect(sources.size).toBe(invalidSent);
    console.log(
      JSON.stringify({
        kills,
        firstReadyMs: readyMs,
        sentBatches: batches.length,
        stored,
        deadLetters: dlq.length,
        distinctDeadLetters: sources.size,
      }),
    );
  });
});
