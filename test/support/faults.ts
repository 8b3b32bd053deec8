import type { Admin, Kafka, Producer } from "kafkajs";
import type pg from "pg";
import { loadConfig } from "../../src/config.js";
import { countUnpublishedFindings } from "../../src/db/queries/findings.js";
import { countPendingOutbox } from "../../src/db/queries/outbox.js";
import { createTestDatabase, type TestDatabase } from "./database.js";
import { api, type ChildDaemon, spawnDaemon, startTestDaemon, waitReady, waitUntil } from "./daemon.js";
import { isoDaysFromNow } from "./clock.js";
import { bankEntry, expectedPayment, gatewayEvent, invalidSamples } from "./facts.js";
import {
  connectedProducer,
  kafkaEnv,
  type ReadMessage,
  readerConsumer,
  readMessage,
  type TestTopics,
  testKafka,
} from "./kafka.js";
import { type KafkaMock, startKafkaMock } from "./kafkaMock.js";

/**
 * What the fault tests share: a stream of blocks of realistic messages (with
 * duplicates and invalid ones) that knows what it sent, the counts stored,
 * committed offsets, the outbox as read back from Kafka, and the outcome of a
 * clean run over the same facts to compare with.
 */

export interface ProducerBatch {
  topic: string;
  messages: Array<{ key: string; value: string | Buffer }>;
}

export interface Sent {
  /** Messages produced, duplicates and invalid ones included. */
  messages: number;
  /** Distinct facts. */
  expected: number;
  events: number;
  entries: number;
  /** Invalid messages (each its own offset, so each a dead letter). */
  invalid: number;
}

/**
 * Blocks of `perBlock` payments: their expected payments (every seventh overdue), gateway events (every
 * fourth block twice), bank entries for every other block, and one invalid message.
 */
export class FaultStream {
  readonly sent: Sent = { messages: 0, expected: 0, events: 0, entries: 0, invalid: 0 };
  /** Each distinct valid message once, by input topic kind: what a clean run ingests. */
  readonly distinct = { expected: [] as object[], gateway: [] as object[], bank: [] as object[] };
  private block = 0;
  private readonly invalid = invalidSamples();

  constructor(
    private readonly topics: TestTopics,
    readonly perBlock = 25,
  ) {}

  /** Blocks produced so far (each holds one invalid message, keyed `bad-<block>`). */
  get blocks(): number {
    return this.block;
  }

  /** The producer batches of the next `blocks` blocks. */
  next(blocks: number): ProducerBatch[] {
    const batches: ProducerBatch[] = [];
    const json = (value: object) => JSON.stringify(value);
    for (let b = 0; b < blocks; b++, this.block++) {
      const n = this.block * this.perBlock;
      // Every seventh payment is already overdue, so late settlement (delayed, then settled) is part of the run.
      const expected = Array.from({ length: this.perBlock }, (_, i) =>
        expectedPayment(n + i, (n + i) % 7 === 3 ? { due_at: isoDaysFromNow(-1) } : {}),
      );
      batches.push({ topic: this.topics.expected, messages: expected.map((m) => ({ key: m.id, value: json(m) })) });
      this.distinct.expected.push(...expected);
      const events = Array.from({ length: this.perBlock }, (_, i) => gatewayEvent(n + i));
      const eventBatch = {
        topic: this.topics.gateway,
        messages: events.map((m) => ({ key: m.reference, value: json(m) })),
      };
      batches.push(eventBatch);
      if (this.block % 4 === 0) batches.push(eventBatch);
      this.distinct.gateway.push(...events);
      if (this.block % 2 === 0) {
        const entries = Array.from({ length: this.perBlock }, (_, i) => bankEntry(n + i));
        batches.push({ topic: this.topics.bank, messages: entries.map((m) => ({ key: m.entry_id, value: json(m) })) });
        this.distinct.bank.push(...entries);
      }
      const bad = this.invalid[this.block % this.invalid.length]!;
      const topic = { expected: this.topics.expected, gateway: this.topics.gateway, bank: this.topics.bank }[bad.kind];
      batches.push({ topic, messages: [{ key: `bad-${this.block}`, value: bad.value }] });
      this.sent.invalid++;
    }
    this.sent.messages += batches.reduce((sum, batch) => sum + batch.messages.length, 0);
    this.sent.expected = this.distinct.expected.length;
    this.sent.events = this.distinct.gateway.length;
    this.sent.entries = this.distinct.bank.length;
    return batches;
  }

  /** Produces the next `blocks` blocks, one batch after another. */
  async produce(producer: Producer, blocks: number): Promise<void> {
    for (const batch of this.next(blocks)) await producer.send(batch);
  }
}

export interface Stored {
  expected: number;
  events: number;
  entries: number;
  rejected: number;
  payments: number;
  /** Outbox messages and findings not yet in Kafka. */
  pending: number;
}

export async function storedCounts(pool: pg.Pool): Promise<Stored> {
  const result = await pool.query<Omit<Stored, "pending">>(
    `select (select count(*)::int from expected_payment_versions) as expected,
            (select count(*)::int from gateway_events) as events,
            (select count(*)::int from bank_entries) as entries,
            (select count(*)::int from rejected_messages) as rejected,
            (select count(*)::int from payments) as payments`,
  );
  return { ...result.rows[0]!, pending: (await countPendingOutbox(pool)) + (await countUnpublishedFindings(pool)) };
}

export function inputTopics(topics: TestTopics): string[] {
  return [topics.expected, topics.gateway, topics.bank];
}

/** The group's committed offset per `topic/partition` ("-1": none yet). */
export async function committedOffsets(admin: Admin, groupId: string, topics: string[]): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  for (const topic of topics) {
    const [committed] = await admin.fetchOffsets({ groupId, topics: [topic] });
    for (const partition of committed?.partitions ?? []) out.set(`${topic}/${partition.partition}`, partition.offset);
  }
  return out;
}

/** Every partition's committed offset at its high watermark: the group has consumed (and stored) everything. */
export async function allCommitted(admin: Admin, groupId: string, topics: string[]): Promise<boolean> {
  const committed = await committedOffsets(admin, groupId, topics);
  for (const topic of topics) {
    for (const end of await admin.fetchTopicOffsets(topic)) {
      if (end.high !== "0" && committed.get(`${topic}/${end.partition}`) !== end.high) return false;
    }
  }
  return true;
}

/**
 * What a reconciliation concluded, which must be equal whatever the batching and timing: every payment's
 * status, settled amount and lateness, and every unresolved exception with its subject and amount.
 */
export async function outcomes(pool: pg.Pool): Promise<Record<string, number>> {
  const result = await pool.query<{ key: string; count: number }>(
    `select 'payment:' || status || case when settled_late then ':late' else '' end as key, count(*)::int as count
       from payments group by 1
     union all
     select 'payment:' || status || ':settled_minor', sum(settled_amount_minor)::float8 from payments group by status
     union all
     select 'exception:' || kind || ':' || state || ':' || subject_key || ':' || amount_minor, 1
       from exceptions where state <> 'resolved'
     order by key`,
  );
  return Object.fromEntries(result.rows.map((row) => [row.key, row.count]));
}

/**
 * The exception history, compared as what it is: which exceptions were opened and later auto-resolved depends
 * on which intermediate states a run saw (a payment overdue when its expected payment arrived alone is
 * `delayed` until its bank entry comes; in one batch with that entry it never is), so two correct runs can
 * differ. What every correct run holds: an exception resolved by the facts is one whose condition no longer
 * holds (its payment is in another status now), and a `delayed` one belongs to a payment whose due time
 * has passed (it could have been overdue when it was raised).
 * Returns the exceptions for which it does not hold.
 */
export async function resolvedExceptionsStillCalledFor(pool: pg.Pool): Promise<string[]> {
  const result = await pool.query<{ id: string; kind: string; status: string }>(
    `select e.id::text, e.kind, p.status
       from exceptions e join payments p on p.id = e.payment_id
      where e.state = 'resolved' and (p.status = e.kind or (e.kind = 'delayed' and p.due_at > e.opened_at))`,
  );
  return result.rows.map((row) => `exception ${row.id} (${row.kind}) resolved, payment ${row.status}`);
}

/** Resolved exceptions by kind (reported beside the comparison, not compared: see above). */
export async function resolvedExceptionCounts(pool: pg.Pool): Promise<Record<string, number>> {
  const result = await pool.query<{ kind: string; count: number }>(
    "select kind, count(*)::int as count from exceptions where state = 'resolved' group by kind order by kind",
  );
  return Object.fromEntries(result.rows.map((row) => [row.kind, row.count]));
}

/** The same distinct facts ingested once, in topic order, by a daemon without Kafka on a fresh database. */
export async function cleanRunOutcomes(
  stream: FaultStream,
): Promise<{ outcomes: Record<string, number>; resolved: Record<string, number>; unexplained: string[] }> {
  const db = await createTestDatabase();
  const daemon = await startTestDaemon({ DATABASE_URL: db.url });
  try {
    const post = api(daemon.baseUrl, "ingester");
    for (const [topic, messages] of [
      ["payments.expected", stream.distinct.expected],
      ["gateway.events", stream.distinct.gateway],
      ["bank.settlements", stream.distinct.bank],
    ] as const) {
      const response = await post(`/api/v1/ingest/${topic}`, {
        method: "POST",
        body: messages.map((message) => JSON.stringify(message)).join("\n"),
      });
      if (response.status !== 200 || response.body.accepted !== messages.length) {
        throw new Error(
          `clean run: ${topic} answered ${response.status} ${JSON.stringify(response.body).slice(0, 300)}`,
        );
      }
    }
    return {
      outcomes: await outcomes(db.pool),
      resolved: await resolvedExceptionCounts(db.pool),
      unexplained: await resolvedExceptionsStillCalledFor(db.pool),
    };
  } finally {
    await daemon.stop();
    await db.drop();
  }
}

/** Every message of a topic up to its high watermarks now (its own group, nothing committed). */
export async function readToEnd(kafka: Kafka, topic: string, timeoutMs = 60_000): Promise<ReadMessage[]> {
  const admin = kafka.admin();
  await admin.connect();
  const highs = new Map((await admin.fetchTopicOffsets(topic)).map((end) => [end.partition, BigInt(end.high)]));
  await admin.disconnect();
  const remaining = new Set([...highs].filter(([, high]) => high > 0n).map(([partition]) => partition));
  const messages: ReadMessage[] = [];
  if (remaining.size === 0) return messages;
  const consumer = readerConsumer(kafka);
  await consumer.connect();
  try {
    await consumer.subscribe({ topic, fromBeginning: true });
    let resolveDone: () => void = () => {};
    const done = new Promise<void>((resolve) => {
      resolveDone = resolve;
    });
    await consumer.run({
      autoCommit: false,
      eachMessage: async ({ message, partition }) => {
        const high = highs.get(partition) ?? 0n;
        if (BigInt(message.offset) >= high) return;
        messages.push(readMessage(message, partition));
        if (BigInt(message.offset) === high - 1n) remaining.delete(partition);
        if (remaining.size === 0) resolveDone();
      },
    });
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        reject(
          new Error(`read ${messages.length} messages of ${topic}; partitions ${[...remaining]} not read to the end`),
        );
      }, timeoutMs);
    });
    await Promise.race([done, timeout]).finally(() => clearTimeout(timer));
  } finally {
    await consumer.disconnect();
  }
  return messages;
}

/** Dead letters by the source offset they carry: distinct, and how many were sent more than once. */
export function deadLetterSources(dlq: ReadMessage[]): { distinct: number; duplicates: number } {
  const sources = new Set(
    dlq.map(
      (m) =>
        `${m.headers["x-payrecon-source-topic"]}/${m.headers["x-payrecon-source-partition"]}/${m.headers["x-payrecon-source-offset"]}`,
    ),
  );
  return { distinct: sources.size, duplicates: dlq.length - sources.size };
}

/** Findings are distinct by key and value (each carries its subject, the change and when it was made). */
export function distinctFindings(findings: ReadMessage[]): { distinct: number; duplicates: number } {
  const seen = new Set(findings.map((m) => `${m.key}\u0000${m.value?.toString("base64")}`));
  return { distinct: seen.size, duplicates: findings.length - seen.size };
}

/**
 * Every payment's latest status finding (by the time it was made) says the status and settled amount the
 * database holds: no status change was lost on its way to Kafka. Returns the payments it does not hold for.
 */
export async function paymentsWithoutTheirLatestFinding(pool: pg.Pool, findings: ReadMessage[]): Promise<string[]> {
  const latest = new Map<string, { at: string; status: string; settled: number }>();
  for (const message of findings) {
    const value = JSON.parse(message.value?.toString() ?? "{}") as {
      type?: string;
      at: string;
      payment_id: string;
      status: string;
      settled_amount_minor: number;
    };
    if (value.type !== "payment.status_changed") continue;
    const seen = latest.get(value.payment_id);
    if (!seen || value.at >= seen.at) {
      latest.set(value.payment_id, { at: value.at, status: value.status, settled: value.settled_amount_minor });
    }
  }
  const payments = await pool.query<{ id: string; status: string; settled_amount_minor: number }>(
    "select id, status, settled_amount_minor from payments",
  );
  return payments.rows
    .filter((row) => {
      const finding = latest.get(row.id);
      return finding?.status !== row.status || finding.settled !== row.settled_amount_minor;
    })
    .map(
      (row) => `${row.id}: ${row.status}/${row.settled_amount_minor}, finding ${JSON.stringify(latest.get(row.id))}`,
    );
}

/** Facts sent but not stored, and stored beyond what was sent (0 and 0 when nothing was lost or double-counted). */
export function lossAndDuplication(sent: Sent, stored: Stored): { lost: number; duplicated: number } {
  const pairs: Array<[number, number]> = [
    [sent.expected, stored.expected],
    [sent.events, stored.events],
    [sent.entries, stored.entries],
    [sent.invalid, stored.rejected],
    [sent.expected, stored.payments],
  ];
  return {
    lost: pairs.reduce((sum, [want, got]) => sum + Math.max(0, want - got), 0),
    duplicated: pairs.reduce((sum, [want, got]) => sum + Math.max(0, got - want), 0),
  };
}

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** The sum of every sample of a metric on a daemon's /metrics. */
export async function metricSum(baseUrl: string, name: string): Promise<number> {
  const text = await (await fetch(`${baseUrl}/metrics`, { signal: AbortSignal.timeout(10_000) })).text();
  let sum = 0;
  for (const line of text.split("\n")) {
    if (line.startsWith(`${name} `) || line.startsWith(`${name}{`))
      sum += Number(line.slice(line.lastIndexOf(" ") + 1));
  }
  return sum;
}

/** /readyz as status and body. */
export async function readiness(baseUrl: string): Promise<{ status: number; checks: Record<string, string> }> {
  const response = await fetch(`${baseUrl}/readyz`, { signal: AbortSignal.timeout(10_000) });
  const body = (await response.json()) as { checks: Record<string, string> };
  return { status: response.status, checks: body.checks };
}

/** A mock cluster of a test's own (injected errors reach only its clients), a database, and a daemon on them. */
export interface FaultRig {
  mock: KafkaMock;
  kafka: Kafka;
  admin: Admin;
  producer: Producer;
  db: TestDatabase;
  /** The env of a daemon on this cluster and database. */
  env: Record<string, string>;
  daemon: ChildDaemon;
}

/**
 * Starts the rig: the input, dead-letter and findings topics with 4 partitions each, `arrange` (leaders,
 * coordinator) before any client connects, then the daemon, ready.
 */
export async function startFaultRig(
  topics: TestTopics,
  options: { brokers: number; logLevel: string; arrange?: (mock: KafkaMock) => Promise<void> },
): Promise<FaultRig> {
  const mock = await startKafkaMock({ brokers: options.brokers });
  for (const topic of [...inputTopics(topics), topics.dlq, topics.findings]) await mock.createTopic(topic, 4);
  await options.arrange?.(mock);
  const kafka = testKafka(mock.brokers);
  const admin = kafka.admin();
  await admin.connect();
  const producer = await connectedProducer(kafka);
  const db = await createTestDatabase();
  const env = {
    ...kafkaEnv(topics),
    KAFKA_BROKERS: mock.bootstrap,
    DATABASE_URL: db.url,
    LOG_LEVEL: options.logLevel,
    SWEEP_INTERVAL: "1h",
  };
  const daemon = await spawnDaemon(env);
  await waitReady(daemon.baseUrl);
  return { mock, kafka, admin, producer, db, env, daemon };
}

/** Kills the daemons still running, then closes the clients, the mock and the database. */
export async function stopFaultRig(rig: FaultRig | undefined, daemons: Array<ChildDaemon | undefined>): Promise<void> {
  for (const daemon of daemons) daemon?.process.kill("SIGKILL");
  await rig?.producer.disconnect().catch(() => {});
  await rig?.admin.disconnect().catch(() => {});
  await rig?.mock.stop();
  await rig?.db.drop();
}

/**
 * How many group joins joinSecondInstance allows the second instance. The mock cluster sends the leader its
 * assignment as soon as the leader's SyncGroup arrives and refuses a follower's SyncGroup that comes after it
 * (INVALID_REQUEST; a Kafka broker would answer with the assignment). The leader's often comes first: measured
 * with 4 copies of consumerPositions.test.ts at once, the second instance lost its first join in 22 of 25 runs
 * (it is still starting) and 5 of 26 later ones. Each lost join stops its consumer, and a fresh one joins
 * after the session timeout (restartPause). Losing 10 in a row: 0.88 × 0.19^9, about 3 runs in 10 million;
 * 1 in 1,000 were every join a coin toss.
 */
const JOIN_ATTEMPTS = 10;
/** Starting the second instance, until its first JoinGroup (measured: up to 7 s with 4 copies at once). */
const SPAWN_ALLOWANCE_MS = 20_000;

/**
 * Starts a second instance in the group, keeping the stream flowing until it stores facts from partitions of
 * its own. Each join may take a session timeout (the pause after a refused one) and a rebalance timeout (the
 * coordinator waits up to that long for the members to rejoin; the mock, the session timeout less 1 s).
 */
export async function joinSecondInstance(rig: FaultRig, stream: FaultStream): Promise<ChildDaemon> {
  const { sessionTimeoutMs, rebalanceTimeoutMs } = loadConfig(rig.env).kafka!;
  const deadlineMs = SPAWN_ALLOWANCE_MS + JOIN_ATTEMPTS * (sessionTimeoutMs + rebalanceTimeoutMs);
  // A second memory engine would wait as a standby and never join (test/integration/leadership.test.ts): the
  // scale-out of a consumer group is the sql engine's, beside whichever engine the first runs.
  const joining = await spawnDaemon({ ...rig.env, RECONCILE_ENGINE: "sql" });
  try {
    await waitUntil(
      async () => {
        if (joining.process.exitCode !== null) throw new Error("second instance exited");
        await stream.produce(rig.producer, 1);
        await sleep(1_000);
        return (await metricSum(joining.baseUrl, "payrecon_events_ingested_total").catch(() => 0)) > 0;
      },
      deadlineMs,
      "the second instance storing facts from its partitions",
    );
  } catch (error) {
    const output = joining.output();
    const consumerStops = output.split("kafka consumer stopped for good").length - 1;
    throw new Error(`${String(error)} (its consumer stopped ${consumerStops} times): ${output.slice(-3_000)}`);
  }
  return joining;
}
