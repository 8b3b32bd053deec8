import { writeFileSync } from "node:fs";
import type { Admin, Kafka, Producer } from "kafkajs";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { loadConfig } from "../../src/config.js";
import { createTestDatabase, type TestDatabase } from "../support/database.js";
import { type ChildDaemon, spawnDaemon, waitReady, waitUntil } from "../support/daemon.js";
import {
  allCommitted,
  cleanRunOutcomes,
  deadLetterSources,
  distinctFindings,
  FaultStream,
  inputTopics,
  lossAndDuplication,
  metricSum,
  outcomes,
  paymentsWithoutTheirLatestFinding,
  resolvedExceptionCounts,
  resolvedExceptionsStillCalledFor,
  readToEnd,
  readiness,
  sleep,
  storedCounts,
} from "../support/faults.js";
import { connectedProducer, kafkaEnv, testKafka, uniqueTopics } from "../support/kafka.js";
import { type KafkaMock, startKafkaMock } from "../support/kafkaMock.js";
import { differencesFromWorld } from "../support/worldCheck.js";

/**
 * Issue 8, broker faults, on a mock cluster of its own (injected errors are
 * cluster-wide): every broker down for 30 s mid-stream, errors injected on
 * Fetch, Produce (the daemon's dead letters and findings) and OffsetCommit,
 * and a second instance joining and leaving the group mid-stream. Throughout,
 * nothing is lost or stored twice, /readyz follows the outage, and the result
 * equals a clean run over the same facts. Mock-only: skipped with KAFKA_BROKERS.
 */

// Kafka error codes (retriable ones a real cluster answers during failovers and overload).
const NOT_LEADER_OR_FOLLOWER = 6;
const REQUEST_TIMED_OUT = 7;
const COORDINATOR_LOAD_IN_PROGRESS = 14;
const COORDINATOR_NOT_AVAILABLE = 15;
const NOT_COORDINATOR = 16;
const NOT_ENOUGH_REPLICAS = 19;
const API = { produce: 0, fetch: 1, offsetCommit: 8 };

const INPUT_BROKER = 1;
/** Leads the dead-letter and findings partitions: Produce errors pushed here hit only the daemon's outbox. */
const OUTPUT_BROKER = 2;
const OUTAGE_MS = 30_000;

describe.skipIf(!inject("kafkaIsMock"))("broker faults", () => {
  const topics = uniqueTopics();
  const stream = new FaultStream(topics);
  let mock: KafkaMock;
  let kafka: Kafka;
  let admin: Admin;
  let producer: Producer;
  let db: TestDatabase;
  let env: Record<string, string>;
  let daemon: ChildDaemon | undefined;
  let second: ChildDaemon | undefined;
  const report: Record<string, unknown> = {};
  let secondLog = "";

  const consumedEverything = (what: string, timeoutMs = 90_000) =>
    waitUntil(() => allCommitted(admin, topics.groupId, inputTopics(topics)), timeoutMs, what);

  beforeAll(async () => {
    mock = await startKafkaMock({ brokers: 2 });
    for (const topic of [...inputTopics(topics), topics.dlq, topics.findings]) {
      await mock.createTopic(topic, 4);
      const leader = topic === topics.dlq || topic === topics.findings ? OUTPUT_BROKER : INPUT_BROKER;
      for (let partition = 0; partition < 4; partition++) await mock.setPartitionLeader(topic, partition, leader);
    }
    // The group's OffsetCommit requests go to the input broker too: errors pushed there reach only the daemon.
    await mock.setGroupCoordinator(topics.groupId, INPUT_BROKER);
    kafka = testKafka(mock.brokers);
    admin = kafka.admin();
    await admin.connect();
    producer = await connectedProducer(kafka);
    db = await createTestDatabase();
    env = {
      ...kafkaEnv(topics),
      KAFKA_BROKERS: mock.bootstrap,
      DATABASE_URL: db.url,
      LOG_LEVEL: "warn",
      SWEEP_INTERVAL: "1h",
    };
    daemon = await spawnDaemon(env);
    await waitReady(daemon.baseUrl);
  });

  afterAll(async () => {
    if (process.env.FAULT_TEST_LOGS) {
      writeFileSync(`${process.env.FAULT_TEST_LOGS}/broker-first.log`, daemon?.output() ?? "");
      writeFileSync(`${process.env.FAULT_TEST_LOGS}/broker-second.log`, second?.output() ?? secondLog);
    }
    second?.process.kill("SIGKILL");
    daemon?.process.kill("SIGKILL");
    await producer?.disconnect().catch(() => {});
    await admin?.disconnect().catch(() => {});
    await mock?.stop();
    await db?.drop();
  });

  it("every broker down for 30 s mid-stream: /readyz answers 503 during the outage and 200 after; consumption resumes", {
    timeout: 180_000,
  }, async () => {
    const began = Date.now();
    await stream.produce(producer, 4);
    await consumedEverything("the stream before the outage");

    // A burst, then the outage while the daemon is working through it.
    await stream.produce(producer, 8);
    await mock.setBrokerDown(-1);
    const downAt = Date.now();
    const during: Array<{ at: number; status: number; kafka?: string }> = [];
    while (Date.now() - downAt < OUTAGE_MS) {
      const probe = await readiness(daemon!.baseUrl).catch(() => undefined);
      during.push({ at: Date.now() - downAt, status: probe?.status ?? 0, kafka: probe?.checks.kafka });
      await sleep(500);
    }
    await mock.setBrokerUp(-1);
    const upAt = Date.now();
    const readyAgainMs = await waitReady(daemon!.baseUrl, 90_000);
    await stream.produce(producer, 4);
    await consumedEverything("the stream after the outage");

    const notReady = during.filter((probe) => probe.status === 503);
    expect(daemon!.process.exitCode).toBeNull();
    expect(notReady.length).toBeGreaterThan(0);
    expect(notReady.every((probe) => probe.kafka === "unreachable")).toBe(true);
    // Once unready it stays unready until the brokers are back.
    expect(during.slice(during.indexOf(notReady[0]!)).every((probe) => probe.status === 503)).toBe(true);
    expect((await readiness(daemon!.baseUrl)).status).toBe(200);
    const stored = await storedCounts(db.pool);
    expect(lossAndDuplication(stream.sent, stored)).toEqual({ lost: 0, duplicated: 0 });
    report.outage = {
      outageMs: upAt - downAt,
      firstNotReadyAfterMs: notReady[0]!.at,
      readyAgainAfterUpMs: readyAgainMs,
      ms: Date.now() - began,
    };
  });

  it("errors injected on Fetch, on the daemon's Produce of dead letters and findings, and on OffsetCommit", {
    timeout: 180_000,
  }, async () => {
    const began = Date.now();

    // Errors pushed for one broker only, and only the daemon sends it these requests: each one it got
    // is one the daemon met (the mock says how many are left).
    const fetchErrors = [NOT_LEADER_OR_FOLLOWER, REQUEST_TIMED_OUT, NOT_LEADER_OR_FOLLOWER];
    await mock.pushBrokerRequestErrors(INPUT_BROKER, API.fetch, fetchErrors);
    await stream.produce(producer, 3);
    await consumedEverything("the stream after Fetch errors");
    expect(await mock.pendingBrokerRequestErrors(INPUT_BROKER, API.fetch)).toBe(0);

    // The daemon's producer retries these (the test's own producer writes to the other broker).
    const produceErrors = [
      NOT_LEADER_OR_FOLLOWER,
      REQUEST_TIMED_OUT,
      NOT_ENOUGH_REPLICAS,
      NOT_LEADER_OR_FOLLOWER,
      REQUEST_TIMED_OUT,
    ];
    await mock.pushBrokerRequestErrors(OUTPUT_BROKER, API.produce, produceErrors);
    const fromBlock = stream.blocks;
    await stream.produce(producer, 3);
    const toBlock = stream.blocks;
    await consumedEverything("the stream after Produce errors");
    await waitUntil(async () => (await storedCounts(db.pool)).pending === 0, 60_000, "the outbox published");
    expect(await mock.pendingBrokerRequestErrors(OUTPUT_BROKER, API.produce)).toBe(0);

    const offsetCommitErrors = [
      REQUEST_TIMED_OUT,
      COORDINATOR_NOT_AVAILABLE,
      NOT_COORDINATOR,
      COORDINATOR_LOAD_IN_PROGRESS,
      REQUEST_TIMED_OUT,
    ];
    await mock.pushBrokerRequestErrors(INPUT_BROKER, API.offsetCommit, offsetCommitErrors);
    await stream.produce(producer, 3);
    await consumedEverything("the stream after OffsetCommit errors");
    expect(await mock.pendingBrokerRequestErrors(INPUT_BROKER, API.offsetCommit)).toBe(0);

    const stored = await storedCounts(db.pool);
    expect(daemon!.process.exitCode).toBeNull();
    expect(lossAndDuplication(stream.sent, stored)).toEqual({ lost: 0, duplicated: 0 });
    expect(stored.pending).toBe(0);
    // What the daemon published while its Produce requests failed: this phase's dead letters and findings.
    const dlqKeys = new Set((await readToEnd(kafka, topics.dlq)).map((m) => m.key));
    const findingKeys = new Set((await readToEnd(kafka, topics.findings)).map((m) => m.key));
    for (let block = fromBlock; block < toBlock; block++) {
      expect(dlqKeys).toContain(`bad-${block}`);
      expect(findingKeys).toContain(`exp_${block * stream.perBlock}`);
    }
    report.injectedErrors = {
      fetch: fetchErrors.length,
      produce: produceErrors.length,
      offsetCommit: offsetCommitErrors.length,
      ms: Date.now() - began,
    };
  });

  it("a second instance joins and leaves the group mid-stream", { timeout: 180_000 }, async () => {
    const began = Date.now();
    await stream.produce(producer, 6);
    // A second memory engine would wait as a standby and never join (test/integration/leadership.test.ts): the
    // scale-out of a consumer group is the sql engine's, beside whichever engine the first runs.
    second = await spawnDaemon({ ...env, RECONCILE_ENGINE: "sql" });
    const joining = second;
    // Keep the stream flowing while the second instance starts, joins and takes partitions.
    await waitUntil(
      async () => {
        if (joining.process.exitCode !== null)
          throw new Error(`second instance exited: ${joining.output().slice(-2_000)}`);
        await stream.produce(producer, 1);
        await sleep(1_000);
        return (await metricSum(joining.baseUrl, "payrecon_events_ingested_total").catch(() => 0)) > 0;
      },
      90_000,
      "the second instance storing facts from its partitions",
    );
    await stream.produce(producer, 4);
    const secondIngested = await metricSum(joining.baseUrl, "payrecon_events_ingested_total");
    // The mock answers a follower's SyncGroup sent after the leader's with INVALID_REQUEST, which kafkajs
    // deems fatal: the consumer is then replaced (see KafkaIngest.restartLater), counted here.
    const secondCrashes = await metricSum(joining.baseUrl, "payrecon_kafka_consumer_crashes_total");
    joining.process.kill("SIGTERM");
    await stream.produce(producer, 2);
    const exitCode = await joining.exited;
    secondLog = joining.output();
    second = undefined;
    await stream.produce(producer, 2);
    await consumedEverything("the stream after the second instance left");

    expect(exitCode).toBe(0);
    expect(daemon!.process.exitCode).toBeNull();
    const stored = await storedCounts(db.pool);
    expect(lossAndDuplication(stream.sent, stored)).toEqual({ lost: 0, duplicated: 0 });
    report.rebalance = {
      secondInstanceIngested: secondIngested,
      secondInstanceConsumerCrashes: secondCrashes,
      secondInstanceExit: exitCode,
      firstInstanceRebalances: await metricSum(daemon!.baseUrl, "payrecon_kafka_consumer_rebalances_total"),
      ms: Date.now() - began,
    };
  });

  it("in the end: every fact stored once, every dead letter and finding in Kafka once, the same result as a clean run", async () => {
    await waitUntil(async () => (await storedCounts(db.pool)).pending === 0, 60_000, "the outbox published");
    const stored = await storedCounts(db.pool);
    const dlq = await readToEnd(kafka, topics.dlq);
    const findings = await readToEnd(kafka, topics.findings);
    const deadLetters = deadLetterSources(dlq);
    const findingCopies = distinctFindings(findings);
    const unannounced = await paymentsWithoutTheirLatestFinding(db.pool, findings);
    const policy = loadConfig({}).policy;
    const differences = await differencesFromWorld(db.pool, policy, Date.now());
    const faulted = await outcomes(db.pool);
    const faultedHistory = await resolvedExceptionsStillCalledFor(db.pool);
    const faultedResolved = await resolvedExceptionCounts(db.pool);
    const clean = await cleanRunOutcomes(stream);

    expect(lossAndDuplication(stream.sent, stored)).toEqual({ lost: 0, duplicated: 0 });
    expect(deadLetters).toEqual({ distinct: stream.sent.invalid, duplicates: 0 });
    expect(findingCopies.duplicates).toBe(0);
    expect(unannounced).toEqual([]);
    expect(differences).toEqual([]);
    // Final state must be equal; the exception history may differ with batching and is checked for
    // consistency in each run instead (see resolvedExceptionsStillCalledFor).
    expect(faulted).toEqual(clean.outcomes);
    expect(faultedHistory).toEqual([]);
    expect(clean.unexplained).toEqual([]);
    const { lost, duplicated } = lossAndDuplication(stream.sent, stored);
    report.consumerCrashes = await metricSum(daemon!.baseUrl, "payrecon_kafka_consumer_crashes_total");
    console.log(
      JSON.stringify({
        test: "broker faults",
        sent: stream.sent,
        stored,
        lost,
        duplicated,
        deadLettersInKafka: dlq.length,
        deadLetterDuplicates: deadLetters.duplicates,
        findingsInKafka: findings.length,
        findingDuplicates: findingCopies.duplicates,
        sameAsCleanRun: true,
        resolvedExceptions: { faulted: faultedResolved, clean: clean.resolved },
        ...report,
      }),
    );
  });
});
