import type { Admin } from "kafkajs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { countUnpublishedFindings } from "../../src/db/queries/findings.js";
import { countPendingOutbox } from "../../src/db/queries/outbox.js";
import { createTestDatabase, type TestDatabase } from "../support/database.js";
import { startTestDaemon, type TestDaemon, waitUntil } from "../support/daemon.js";
import { bankEntry, expectedPayment, gatewayEvent, invalidSamples, reserialized } from "../support/facts.js";
import { connectedProducer, kafkaEnv, readTopic, testKafka, uniqueTopics } from "../support/kafka.js";

/**
 * Issue 2: N valid and M invalid messages, with duplicates and re-deliveries,
 * across the three topics → exactly the N distinct facts stored, M dead
 * letters each with its reason, offsets committed; a restart stores nothing twice.
 */

async function counts(db: TestDatabase) {
  const result = await db.pool.query<{
    expected: number;
    events: number;
    entries: number;
    rejected: number;
  }>(
    `select (select count(*)::int from expected_payment_versions) as expected,
            (select count(*)::int from gateway_events) as events,
            (select count(*)::int from bank_entries) as entries,
            (select count(*)::int from rejected_messages) as rejected`,
  );
  // Dead letters in the outbox, findings after their cursor: neither yet in Kafka.
  return {
    ...result.rows[0]!,
    pending: (await countPendingOutbox(db.pool)) + (await countUnpublishedFindings(db.pool)),
  };
}

async function committedEverything(admin: Admin, groupId: string, topics: string[]): Promise<boolean> {
  for (const topic of topics) {
    const [ends, committed] = await Promise.all([
      admin.fetchTopicOffsets(topic),
      admin.fetchOffsets({ groupId, topics: [topic] }),
    ]);
    const byPartition = new Map((committed[0]?.partitions ?? []).map((p) => [p.partition, p.offset]));
    for (const end of ends) {
      if (end.high === "0") continue;
      if (byPartition.get(end.partition) !== end.high) return false;
    }
  }
  return true;
}

describe("Kafka ingestion", () => {
  const topics = uniqueTopics();
  let db: TestDatabase;
  let daemon: TestDaemon | undefined;
  const admin = testKafka().admin();

  const expected = Array.from({ length: 60 }, (_, n) => expectedPayment(n));
  const events = Array.from({ length: 80 }, (_, n) => gatewayEvent(n));
  const entries = Array.from({ length: 40 }, (_, n) => bankEntry(n));
  const invalid = invalidSamples();
  const topicOf = { expected: topics.expected, gateway: topics.gateway, bank: topics.bank };

  beforeAll(async () => {
    db = await createTestDatabase();
    await admin.connect();
  });
  afterAll(async () => {
    await daemon?.stop();
    await admin.disconnect();
    await db.drop();
  });

  it("stores each distinct fact once, dead-letters each invalid message with its reason, commits every offset", async () => {
    daemon = await startTestDaemon({ DATABASE_URL: db.url, ...kafkaEnv(topics) });
    const producer = await connectedProducer();
    const json = (value: object) => Buffer.from(JSON.stringify(value));
    // Each valid fact once, then duplicates: the same bytes again, and the same message re-serialized.
    const messages: Array<{ topic: string; key: string; value: Buffer }> = [
      ...expected.map((m) => ({ topic: topics.expected, key: m.id, value: json(m) })),
      ...events.map((m) => ({ topic: topics.gateway, key: m.reference, value: json(m) })),
      ...entries.map((m) => ({ topic: topics.bank, key: m.entry_id, value: json(m) })),
      ...invalid.map((m, i) => ({ topic: topicOf[m.kind], key: `bad-${i}`, value: m.value })),
      ...expected.slice(0, 20).map((m) => ({ topic: topics.expected, key: m.id, value: json(m) })),
      ...events.slice(0, 20).map((m) => ({ topic: topics.gateway, key: m.reference, value: reserialized(m) })),
      ...entries.slice(0, 20).map((m) => ({ topic: topics.bank, key: m.entry_id, value: json(m) })),
    ];
    // Interleave so poison messages sit between valid ones in the same partitions.
    messages.sort((a, b) => a.key.localeCompare(b.key));
    for (let i = 0; i < messages.length; i += 50) {
      const chunk = messages.slice(i, i + 50);
      await producer.sendBatch({
        topicMessages: Object.values(topicOf).map((topic) => ({
          topic,
          messages: chunk.filter((m) => m.topic === topic).map(({ key, value }) => ({ key, value })),
        })),
      });
    }
    await producer.disconnect();

    const stored = await waitUntil(
      async () => {
        const c = await counts(db);
        return c.expected + c.events + c.entries === expected.length + events.length + entries.length &&
          c.rejected === invalid.length &&
          c.pending === 0
          ? c
          : undefined;
      },
      60_000,
      "all messages stored",
    );
    expect(stored).toMatchObject({
      expected: expected.length,
      events: events.length,
      entries: entries.length,
      rejected: invalid.length,
    });

    const dlq = await readTopic(topics.dlq, (read) => read.length >= invalid.length);
    expect(dlq).toHaveLength(invalid.length);
    for (const letter of dlq) {
      const sample = invalid.find((m) => m.value.equals(letter.value ?? Buffer.alloc(0)));
      expect(sample, "a dead letter carries the original bytes").toBeDefined();
      expect(letter.headers["x-payrecon-error"]).toMatch(new RegExp(`^${sample!.reason}: .+`));
      expect(letter.headers["x-payrecon-source-topic"]).toBe(topicOf[sample!.kind]);
      expect(Number(letter.headers["x-payrecon-source-partition"])).toBeGreaterThanOrEqual(0);
      expect(Number(letter.headers["x-payrecon-source-offset"])).toBeGreaterThanOrEqual(0);
    }
    await waitUntil(
      () => committedEverything(admin, topics.groupId, Object.values(topicOf)),
      30_000,
      "offsets committed to the end of every partition",
    );

    const metrics = await (await fetch(`${daemon.baseUrl}/metrics`)).text();
    const ingested = [...metrics.matchAll(/^payrecon_events_ingested_total\{topic="[^"]+"\} (\d+)/gm)].reduce(
      (sum, match) => sum + Number(match[1]),
      0,
    );
    expect(ingested).toBe(messages.length - invalid.length);
    const rejectedByReason = new Map<string, number>();
    for (const match of metrics.matchAll(/^payrecon_events_rejected_total\{topic="[^"]+",reason="([^"]+)"\} (\d+)/gm)) {
      rejectedByReason.set(match[1]!, (rejectedByReason.get(match[1]!) ?? 0) + Number(match[2]));
    }
    const wanted = new Map<string, number>();
    for (const sample of invalid) wanted.set(sample.reason, (wanted.get(sample.reason) ?? 0) + 1);
    expect(rejectedByReason).toEqual(wanted);
  });

  it("after a restart, re-delivered messages store nothing twice", async () => {
    await daemon?.stop();
    daemon = await startTestDaemon({ DATABASE_URL: db.url, ...kafkaEnv(topics) });
    const before = await counts(db);
    const producer = await connectedProducer();
    await producer.sendBatch({
      topicMessages: [
        { topic: topics.expected, messages: expected.map((m) => ({ key: m.id, value: JSON.stringify(m) })) },
        { topic: topics.bank, messages: entries.map((m) => ({ key: m.entry_id, value: JSON.stringify(m) })) },
      ],
    });
    await producer.disconnect();
    await waitUntil(
      () => committedEverything(admin, topics.groupId, [topics.expected, topics.bank]),
      60_000,
      "re-deliveries consumed",
    );
    expect(await counts(db)).toEqual(before);
  });
});
