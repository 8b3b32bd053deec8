import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import {
  advanceConsumerPositions,
  consumerPosition,
  type PositionAdvance,
  PositionMovedError,
} from "../../src/db/queries/consumerPositions.js";
import { withTransaction } from "../../src/db/transaction.js";
import { createTestDatabase, type TestDatabase } from "../support/database.js";
import { type ChildDaemon, spawnDaemon, waitReady, waitUntil } from "../support/daemon.js";
import {
  allCommitted,
  committedOffsets,
  type FaultRig,
  FaultStream,
  inputTopics,
  joinSecondInstance,
  lossAndDuplication,
  metricSum,
  startFaultRig,
  stopFaultRig,
  storedCounts,
} from "../support/faults.js";
import { expectedPayment } from "../support/facts.js";
import { readerConsumer, uniqueTopics } from "../support/kafka.js";

/**
 * Issue 15: the Kafka offsets are stored in the transaction that stores the facts (consumer_positions), and
 * that stored position, not Kafka's committed offset, is where a partition resumes. The window the old design
 * left open is forced here: OffsetCommit requests fail (retriable errors the daemon keeps retrying) while the
 * facts commit, and the daemon is killed -9 in between. On its own mock cluster (errors are per broker).
 */

const COORDINATOR_LOAD_IN_PROGRESS = 14;
const OFFSET_COMMIT = 8;
const BROKER = 1;

describe("stored consumer positions", () => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await createTestDatabase();
  });
  afterAll(async () => {
    await db?.drop();
  });
  const at = (partition: number, from: string | null, next: string): PositionAdvance => ({
    topic: "t",
    partition,
    from,
    next,
  });
  const advance = (...advances: PositionAdvance[]) =>
    withTransaction(db.pool, (tx) => advanceConsumerPositions(tx, "g", advances));
  const position = (partition: number) => consumerPosition(db.pool, "g", "t", partition);

  it("move only forward from where they stand, all of a transaction's partitions or none", async () => {
    await advance(at(0, null, "10"), at(1, null, "5"));
    expect([await position(0), await position(1)]).toEqual(["10", "5"]);
    // Stored already, stored elsewhere, backwards: refused.
    await expect(advance(at(0, null, "20"))).rejects.toBeInstanceOf(PositionMovedError);
    await expect(advance(at(0, "5", "20"))).rejects.toBeInstanceOf(PositionMovedError);
    await expect(advance(at(0, "10", "8"))).rejects.toBeInstanceOf(PositionMovedError);
    // One partition moved: the other partitions of the transaction stay too.
    await expect(advance(at(1, "5", "9"), at(0, "3", "12"))).rejects.toBeInstanceOf(PositionMovedError);
    expect([await position(0), await position(1)]).toEqual(["10", "5"]);
    await advance(at(1, "5", "9"), at(0, "10", "12"));
    expect([await position(0), await position(1)]).toEqual(["12", "9"]);
    expect(await consumerPosition(db.pool, "another group", "t", 0)).toBeNull();
  });

  it("of two transactions moving a partition from the same position, only the first commits", async () => {
    await advance(at(2, null, "20"));
    const first = await db.pool.connect();
    const second = await db.pool.connect();
    try {
      await first.query("begin");
      await second.query("begin");
      await advanceConsumerPositions(first, "g", [at(2, "20", "30")]);
      // Waits for the first's row lock, then finds the position moved.
      const racing = advanceConsumerPositions(second, "g", [at(2, "20", "25")]).then(
        () => "moved",
        (error: unknown) => error,
      );
      await first.query("commit");
      expect(await racing).toBeInstanceOf(PositionMovedError);
      await second.query("rollback");
    } finally {
      first.release();
      second.release();
    }
    expect(await position(2)).toBe("30");
  });
});

describe.skipIf(!inject("kafkaIsMock"))("consumer positions stored with the facts", () => {
  const topics = uniqueTopics();
  const stream = new FaultStream(topics);
  /** The cluster, database and clients; `daemon` is the first instance while it lives. */
  let rig: FaultRig;
  let daemon: ChildDaemon | undefined;
  let second: ChildDaemon | undefined;
  /** Expected payments sent outside the stream (each window's), numbered apart from the stream's. */
  let windowPayments = 0;

  const consumedEverything = (what: string) =>
    waitUntil(() => allCommitted(rig.admin, topics.groupId, inputTopics(topics)), 90_000, what);
  const sent = () => ({ ...stream.sent, expected: stream.sent.expected + windowPayments });

  /** A burst of new expected payments while every OffsetCommit fails; resolves once their facts are committed. */
  async function windowWithoutOffsetCommits(count: number): Promise<void> {
    await rig.mock.pushBrokerRequestErrors(BROKER, OFFSET_COMMIT, Array(40).fill(COORDINATOR_LOAD_IN_PROGRESS));
    const before = (await storedCounts(rig.db.pool)).expected;
    const payments = Array.from({ length: count }, (_, i) => expectedPayment(100_000 + windowPayments + i));
    windowPayments += count;
    await rig.producer.send({
      topic: topics.expected,
      messages: payments.map((m) => ({ key: m.id, value: JSON.stringify(m) })),
    });
    await waitUntil(
      async () => (await storedCounts(rig.db.pool)).expected === before + count,
      60_000,
      "the window's facts committed",
    );
  }

  /** Lets the rest of the pushed errors go to a consumer group of the test's own, so the daemons' commits succeed again. */
  async function drainOffsetCommitErrors(): Promise<void> {
    const drain = readerConsumer(rig.kafka);
    const joined = new Promise<void>((resolve) => drain.on(drain.events.GROUP_JOIN, () => resolve()));
    await drain.connect();
    try {
      await drain.subscribe({ topic: topics.dlq, fromBeginning: true });
      await drain.run({ autoCommit: false, eachBatch: async () => {} });
      await joined;
      await waitUntil(
        async () => {
          await drain.commitOffsets([{ topic: topics.dlq, partition: 0, offset: "0" }]).catch(() => {});
          return (await rig.mock.pendingBrokerRequestErrors(BROKER, OFFSET_COMMIT)) === 0;
        },
        90_000,
        "the pushed OffsetCommit errors used up",
      );
    } finally {
      await drain.disconnect();
    }
  }

  async function storedPositions(): Promise<Map<string, string>> {
    const rows = await rig.db.pool.query<{ topic: string; partition: number; next_offset: string }>(
      "select topic, partition, next_offset::text as next_offset from consumer_positions where group_id = $1",
      [topics.groupId],
    );
    return new Map(rows.rows.map((row) => [`${row.topic}/${row.partition}`, row.next_offset]));
  }

  async function partitionEnds(topic: string): Promise<Map<string, string>> {
    const ends = await rig.admin.fetchTopicOffsets(topic);
    return new Map(ends.filter((end) => end.high !== "0").map((end) => [`${topic}/${end.partition}`, end.high]));
  }

  /** Every stored position of the window's topic at its end, and Kafka's committed offset of some partition behind. */
  async function expectOffsetsBehindPositions(): Promise<void> {
    const ends = await partitionEnds(topics.expected);
    const committed = await committedOffsets(rig.admin, topics.groupId, [topics.expected]);
    expect([...ends].some(([key, high]) => committed.get(key) !== high)).toBe(true);
    const positions = await storedPositions();
    for (const [key, high] of ends) expect(positions.get(key)).toBe(high);
  }

  const ingestedOf = (baseUrl: string) => metricSum(baseUrl, "payrecon_events_ingested_total");
  const duplicatesOf = (baseUrl: string) => metricSum(baseUrl, "payrecon_events_duplicate_total");

  beforeAll(async () => {
    rig = await startFaultRig(topics, { brokers: 1, logLevel: "info" });
    daemon = rig.daemon;
  });

  afterAll(async () => {
    await stopFaultRig(rig, [second, daemon]);
  });

  it("kill -9 after the facts' commit and before the offset commit: the restart re-reads nothing and resumes exactly", {
    timeout: 240_000,
  }, async () => {
    await stream.produce(rig.producer, 2);
    await consumedEverything("the stream before the window");
    // Each transaction left its partitions' positions where Kafka's committed offsets are now.
    const ends = new Map<string, string>();
    for (const topic of inputTopics(topics)) for (const [key, high] of await partitionEnds(topic)) ends.set(key, high);
    expect(await storedPositions()).toEqual(ends);

    await windowWithoutOffsetCommits(40);
    daemon!.process.kill("SIGKILL");
    await daemon!.exited;
    // The window is real: the facts and their positions are committed, Kafka's offsets are not.
    await expectOffsetsBehindPositions();
    await drainOffsetCommitErrors();

    daemon = await spawnDaemon(rig.env);
    await waitReady(daemon.baseUrl);
    await consumedEverything("Kafka's offsets moved to the stored positions");
    // Nothing the killed daemon stored was read again (the old design stored the window a second time).
    expect({
      ingested: await ingestedOf(daemon.baseUrl),
      duplicates: await duplicatesOf(daemon.baseUrl),
    }).toEqual({ ingested: 0, duplicates: 0 });
    expect(await metricSum(daemon.baseUrl, "payrecon_kafka_consumer_position_seeks_total")).toBeGreaterThan(0);

    // It resumes exactly: every later message read once, nothing skipped.
    const messagesBefore = stream.sent.messages - stream.sent.invalid;
    await stream.produce(rig.producer, 3);
    await consumedEverything("the stream after the restart");
    await waitUntil(
      async () => (await ingestedOf(daemon!.baseUrl)) === stream.sent.messages - stream.sent.invalid - messagesBefore,
      30_000,
      "the restarted daemon's count of the messages sent after it started",
    );
    expect(lossAndDuplication(sent(), await storedCounts(rig.db.pool))).toEqual({ lost: 0, duplicated: 0 });
  });

  it("two instances: partitions of one killed -9 in the window resume at the stored position on the other", {
    timeout: 240_000,
  }, async () => {
    // Joining rebalances the group: the second instance holds partitions of its own.
    second = await joinSecondInstance(rig, stream);
    const joining = second;
    await consumedEverything("the stream with two instances");

    const firstBefore = await ingestedOf(daemon!.baseUrl);
    const secondBefore = await ingestedOf(joining.baseUrl);
    await windowWithoutOffsetCommits(40);
    // Both instances held partitions of the window.
    expect(await ingestedOf(daemon!.baseUrl)).toBeGreaterThan(firstBefore);
    const secondStored = await ingestedOf(joining.baseUrl);
    expect(secondStored).toBeGreaterThan(secondBefore);
    const duplicatesBefore = await duplicatesOf(joining.baseUrl);
    daemon!.process.kill("SIGKILL");
    await daemon!.exited;
    daemon = undefined;
    await expectOffsetsBehindPositions();
    await drainOffsetCommitErrors();

    // The survivor takes the killed instance's partitions (after its session times out) and reads none of
    // their stored messages again.
    await consumedEverything("the killed instance's partitions taken over");
    expect(await duplicatesOf(joining.baseUrl)).toBe(duplicatesBefore);
    expect(await ingestedOf(joining.baseUrl)).toBe(secondStored);

    const ingestedBefore = await ingestedOf(joining.baseUrl);
    const messagesBefore = stream.sent.messages - stream.sent.invalid;
    await stream.produce(rig.producer, 2);
    await consumedEverything("the stream on the survivor");
    await waitUntil(
      async () =>
        (await ingestedOf(joining.baseUrl)) - ingestedBefore ===
        stream.sent.messages - stream.sent.invalid - messagesBefore,
      30_000,
      "the survivor's count of the messages sent after the kill",
    );
    expect(lossAndDuplication(sent(), await storedCounts(rig.db.pool))).toEqual({ lost: 0, duplicated: 0 });
  });
});
