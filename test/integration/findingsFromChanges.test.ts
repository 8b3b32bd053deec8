import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ingestMessages } from "../../src/consumers/ingest.js";
import { createIngestDeps } from "../../src/consumers/ingestDeps.js";
import { countUnpublishedFindings, oldestUnpublishedFinding } from "../../src/db/queries/findings.js";
import type { ExpectedPayment } from "../../src/messages/schemas.js";
import { advanceReconcileClock } from "../../src/db/queries/reconcileClock.js";
import { FindingsPublisher } from "../../src/kafka/findingsPublisher.js";
import { RECONCILE_LOCK } from "../../src/writer/reconcileTouched.js";
import { paymentIdentityFields } from "../../src/writer/findings.js";
import { WorkingSetReconciler } from "../../src/writer/workingSetReconciler.js";
import { runNow } from "../support/clock.js";
import { expectedRaw, inProcessSetup } from "../support/inProcessIngest.js";
import { createTestDatabase, type TestDatabase } from "../support/database.js";
import { api, type ChildDaemon, spawnDaemon, startTestDaemon, waitReady, waitUntil } from "../support/daemon.js";
import { bankEntry, expectedPayment, gatewayEvent } from "../support/facts.js";
import { metricSum } from "../support/faults.js";
import { connectedProducer, kafkaEnv, type ReadMessage, readTopic, uniqueTopics } from "../support/kafka.js";

/**
 * Issue 15: findings are published from the committed status changes and exception changes, after a durable
 * cursor, with no outbox row per finding.
 */

interface FindingValue {
  type: string;
  at: string;
  payment_id?: string;
  status?: string;
  previous_status?: string | null;
}

const findingValue = (message: ReadMessage) => JSON.parse(message.value?.toString() ?? "{}") as FindingValue;

/** Every committed finding in commit order (reconciliation time, then status changes before exception changes). */
async function committedFindings(pool: pg.Pool): Promise<Array<{ key: string; type: string; at: string }>> {
  const result = await pool.query<{ key: string; type: string; at: Date }>(
    `select payment_id as key, 'payment.status_changed' as type, at, 0 as source, id from status_changes
      where finding is not null
     union all
     select finding ->> 'key', case action when 'auto_resolved' then 'exception.resolved' else 'exception.' || action end,
            at, 1, id from exception_audit where finding is not null
     order by at, source, id`,
  );
  return result.rows.map((row) => ({ key: row.key, type: row.type, at: row.at.toISOString() }));
}

/** Per key, the findings in the order Kafka holds them, each counted at its first copy (re-sends are at-least-once). */
function firstCopiesByKey(messages: ReadMessage[]): Map<string, string[]> {
  const byKey = new Map<string, string[]>();
  const seen = new Set<string>();
  for (const message of messages) {
    const value = findingValue(message);
    const id = `${message.key}\u0000${value.type}\u0000${value.at}`;
    if (seen.has(id)) continue;
    seen.add(id);
    const list = byKey.get(message.key ?? "") ?? [];
    list.push(`${value.type}@${value.at}`);
    byKey.set(message.key ?? "", list);
  }
  return byKey;
}

/** Ingest in the test's process, findings published to `findingsTopic`, with the engine the run asks for. */
function inProcessIngest(db: TestDatabase, findingsTopic: string) {
  const { config, reconcileDeps } = inProcessSetup(findingsTopic);
  const workingSet =
    process.env.TEST_RECONCILE_ENGINE === "memory" ? { workingSet: new WorkingSetReconciler(reconcileDeps) } : {};
  const deps = { ...createIngestDeps(config, db.pool, reconcileDeps, workingSet), now: () => new Date(runNow) };
  return { config, deps };
}

describe("findings from committed changes", () => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await createTestDatabase();
  });
  afterAll(async () => {
    await db?.drop();
  });

  it("a status change whose transaction took a lower sequence number and commits after a higher one was published is still published", async () => {
    const topics = uniqueTopics();
    const { config, deps } = inProcessIngest(db, topics.findings);
    const raw = (n: number) => expectedRaw(config.topics.expected, n);
    const producer = await connectedProducer();
    const publisher = new FindingsPublisher(db.pool, producer, topics.findings, undefined);
    const late = new pg.Client({ connectionString: db.url });
    await late.connect();
    try {
      // A writer takes its status change's number (sequences hand numbers out when asked, not at commit)...
      await late.query("begin");
      const taken = await late.query<{ id: string }>("select nextval('status_changes_id_seq')::text as id");
      const lowerId = Number(taken.rows[0]!.id);

      // ...another reconciliation commits a status change with a higher number, and it is published.
      expect((await ingestMessages(deps, [raw(1)])).accepted).toBe(1);
      const first = await db.pool.query<{ id: number }>("select id from status_changes where payment_id = 'exp_1'");
      expect(first.rows[0]!.id).toBeGreaterThan(lowerId);
      await publisher.drain();
      expect(await countUnpublishedFindings(db.pool)).toBe(0);

      // The first writer reconciles (under the lock, at the next reconciliation time) and commits its lower number.
      await late.query("select pg_advisory_xact_lock($1)", [RECONCILE_LOCK]);
      const at = await advanceReconcileClock(late, new Date(runNow));
      await late.query(
        `insert into status_changes (id, payment_id, at, from_status, to_status, reason, detail, finding)
         values ($1, 'late_1', $2, null, 'pending', 'expected, nothing seen yet', $3, $4)`,
        [
          lowerId,
          at,
          { failure_category: null, failure_code: null, settled_amount_minor: 0, settled_late: false },
          {
            reference: "ORD-late",
            gateway: "stripe",
            direction: "collection",
            currency: "EUR",
            amount_minor: 500,
            counterparty: null,
            retry_advice: null,
            hold_reason: null,
            flags: [],
          },
        ],
      );
      await late.query("commit");
      expect(await countUnpublishedFindings(db.pool)).toBe(1);
      expect((await oldestUnpublishedFinding(db.pool))?.toISOString()).toBe(at.toISOString());
      await publisher.drain();
      expect(await countUnpublishedFindings(db.pool)).toBe(0);
      expect(await oldestUnpublishedFinding(db.pool)).toBeNull();

      const messages = await readTopic(topics.findings, (read) => read.length >= 2, 20_000);
      // Two keys, maybe two partitions: what matters is that each was sent once, the lower-numbered one too.
      messages.sort((a, b) => (a.key ?? "").localeCompare(b.key ?? ""));
      expect(messages.map((m) => m.key)).toEqual(["exp_1", "late_1"]);
      // The message is built from the committed row: what the status change and the payment were then.
      expect(findingValue(messages[0]!)).toEqual({
        type: "payment.status_changed",
        at: expect.any(String),
        payment_id: "exp_1",
        reference: "ORD-1",
        gateway: "adyen",
        direction: "collection",
        currency: "EUR",
        amount_minor: 1_007,
        settled_amount_minor: 0,
        counterparty: "cust_1",
        previous_status: null,
        status: expect.any(String),
        reason: expect.any(String),
        failure_category: null,
        failure_code: null,
        retry_advice: null,
        hold_reason: null,
        settled_late: false,
        flags: [],
      });
      expect(findingValue(messages[1]!)).toMatchObject({
        payment_id: "late_1",
        at: at.toISOString(),
        status: "pending",
      });
    } finally {
      await late.end();
      await producer.disconnect();
    }
  });

  it("a finding says the payment's identity and outcome as they were at its change, even when an amendment rewrote the payment before it was published", async () => {
    const topics = uniqueTopics();
    const { config, deps } = inProcessIngest(db, topics.findings);
    let offset = 0;
    const raw = (kind: "expected" | "gateway", value: Record<string, unknown>) => ({
      kind,
      topic: config.topics[kind],
      partition: 0,
      offset: String(offset++),
      key: null,
      value: Buffer.from(JSON.stringify(value)),
      source: "kafka" as const,
    });
    const producer = await connectedProducer();
    const publisher = new FindingsPublisher(db.pool, producer, topics.findings, undefined);
    try {
      const first = expectedPayment(61, { version: 1, counterparty: "cust_first" });
      const ingest = async (message: ReturnType<typeof raw>) =>
        expect((await ingestMessages(deps, [message])).accepted).toBe(1);
      await ingest(raw("expected", first));
      await ingest(raw("gateway", gatewayEvent(61, { type: "payment.failed", failure_code: "insufficient_funds" })));
      // Nothing published yet: the amendment rewrites the payment's row before its first two findings leave
      // (their rows keep the identity they were committed with; the third's is read from the payment's row).
      const amended = { ...first, version: 2, amount_minor: 2_500, counterparty: undefined };
      await ingest(raw("expected", amended));
      await ingest(raw("gateway", gatewayEvent(61, { event_id: "evt_61b", amount_minor: 2_500 })));
      await publisher.drain();

      const messages = (await readTopic(topics.findings, (read) => read.length >= 3, 20_000)).filter(
        (message) => message.key === "exp_61",
      );
      // The identity a finding gives is the version's (paymentIdentityFields): what the old rows stored whole.
      const identity = (payment: Record<string, unknown>) => ({
        payment_id: "exp_61",
        ...paymentIdentityFields(payment as ExpectedPayment),
      });
      const values = messages.map(findingValue) as unknown as Array<Record<string, unknown>>;
      expect(values.map((value) => [value.previous_status, value.status])).toEqual([
        [null, "pending"],
        ["pending", "failed"],
        ["failed", "in_flight"],
      ]);
      // Field by field and in the contract's order, as the publisher sent them before status changes stopped
      // keeping the identity (000110).
      expect(values.map((value) => Object.keys(value))).toEqual(
        values.map(() => [
          "type",
          "at",
          "payment_id",
          "reference",
          "gateway",
          "direction",
          "currency",
          "amount_minor",
          "settled_amount_minor",
          "counterparty",
          "previous_status",
          "status",
          "reason",
          "failure_category",
          "failure_code",
          "retry_advice",
          "hold_reason",
          "settled_late",
          "flags",
        ]),
      );
      expect(values[0]).toMatchObject({ ...identity(first), retry_advice: null, hold_reason: null, flags: [] });
      expect(values[1]).toMatchObject({
        ...identity(first),
        reason: "payment.failed insufficient_funds",
        failure_code: "insufficient_funds",
        failure_category: "insufficient_funds",
        retry_advice: "retry",
        hold_reason: null,
        flags: [],
      });
      expect(values[2]).toMatchObject({ ...identity(amended), counterparty: null, retry_advice: null, flags: [] });
    } finally {
      await producer.disconnect();
    }
  });

  it("without Kafka no finding is kept for publication: status changes carry none, the outbox stays empty", async () => {
    const quietDb = await createTestDatabase();
    const daemon = await startTestDaemon({ DATABASE_URL: quietDb.url });
    try {
      const post = api(daemon.baseUrl, "ingester");
      const response = await post("/api/v1/ingest/payments.expected", {
        method: "POST",
        body: Array.from({ length: 10 }, (_, n) => JSON.stringify(expectedPayment(n))).join("\n"),
      });
      expect(response.status).toBe(200);
      const rows = await quietDb.pool.query<{ changes: number; with_finding: number; outbox: number }>(
        `select (select count(*)::int from status_changes) as changes,
                (select count(*)::int from status_changes where finding is not null)
                  + (select count(*)::int from exception_audit where finding is not null) as with_finding,
                (select count(*)::int from outbox) as outbox`,
      );
      expect(rows.rows[0]).toEqual({ changes: 10, with_finding: 0, outbox: 0 });
      expect(await countUnpublishedFindings(quietDb.pool)).toBe(0);
    } finally {
      await daemon.stop();
      await quietDb.drop();
    }
  });

  it("kill -9 after findings are committed and before they are published: a restart publishes every one, in order per key", {
    timeout: 180_000,
  }, async () => {
    const topics = uniqueTopics();
    const crashDb = await createTestDatabase();
    // Findings reach Kafka from the publisher's 1 s tick after HTTP ingest: a kill right after the answer lands
    // between their commit and their publication.
    const env = { DATABASE_URL: crashDb.url, ...kafkaEnv(topics), LOG_LEVEL: "warn", SWEEP_INTERVAL: "1h" };
    let daemon: ChildDaemon | undefined;
    const unpublishedAtKill: number[] = [];
    try {
      const count = 40;
      const phases = [
        [topics.expected, Array.from({ length: count }, (_, n) => expectedPayment(n))],
        [topics.gateway, Array.from({ length: count }, (_, n) => gatewayEvent(n))],
        [topics.bank, Array.from({ length: count }, (_, n) => bankEntry(n))],
      ] as const;
      for (const [topic, messages] of phases) {
        daemon = await spawnDaemon(env);
        await waitReady(daemon.baseUrl);
        const response = await api(daemon.baseUrl, "ingester")(`/api/v1/ingest/${topic}`, {
          method: "POST",
          body: messages.map((message) => JSON.stringify(message)).join("\n"),
        });
        expect(response.status).toBe(200);
        daemon.process.kill("SIGKILL");
        await daemon.exited;
        unpublishedAtKill.push(await countUnpublishedFindings(crashDb.pool));
      }
      // At least one kill came between a commit and its findings' publication (the tick is 1 s; a kill takes ms).
      expect(Math.max(...unpublishedAtKill)).toBeGreaterThan(0);

      daemon = await spawnDaemon(env);
      await waitReady(daemon.baseUrl);
      await waitUntil(
        async () => (await countUnpublishedFindings(crashDb.pool)) === 0,
        60_000,
        "the findings published after the restart",
      );
      // The restarted daemon sent the findings its predecessors committed; its gauge says none waits.
      expect(await metricSum(daemon.baseUrl, "payrecon_findings_published_total")).toBeGreaterThanOrEqual(
        unpublishedAtKill.at(-1)!,
      );
      await waitUntil(
        async () => (await metricSum(daemon!.baseUrl, "payrecon_findings_oldest_unpublished_age_seconds")) === 0,
        10_000,
        "the oldest unpublished finding's age back to 0",
      );
      const committed = await committedFindings(crashDb.pool);
      // Each payment went through more than one status: the order per key is tested on real sequences.
      expect(new Set(committed.filter((f) => f.type === "payment.status_changed").map((f) => f.key)).size).toBe(count);
      expect(committed.length).toBeGreaterThan(count * 2);
      const messages = await readTopic(
        topics.findings,
        (read) =>
          firstCopiesByKey(read).size >= new Set(committed.map((f) => f.key)).size && read.length >= committed.length,
        30_000,
      );
      const expectedByKey = new Map<string, string[]>();
      for (const finding of committed) {
        const list = expectedByKey.get(finding.key) ?? [];
        list.push(`${finding.type}@${finding.at}`);
        expectedByKey.set(finding.key, list);
      }
      // Every committed finding is in Kafka, each key's in the order they were committed.
      expect(firstCopiesByKey(messages)).toEqual(expectedByKey);
    } finally {
      daemon?.process.kill("SIGKILL");
      await daemon?.exited;
      await crashDb.drop();
    }
  });
});
