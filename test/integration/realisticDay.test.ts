import type { Admin } from "kafkajs";
import { afterAll, describe, expect, it } from "vitest";
import { loadConfig } from "../../src/config.js";
import { batchFeeTotals } from "../../src/db/queries/reports.js";
import {
  generateScenario,
  SIMULATED_FEE_SCHEDULE,
  type Scenario,
  seededRandom,
  shuffled,
} from "../../src/simulate/scenario.js";
import { createTestDatabase, type TestDatabase } from "../support/database.js";
import { startTestDaemon, type TestDaemon, waitUntil } from "../support/daemon.js";
import { connectedProducer, kafkaEnv, testKafka, uniqueTopics } from "../support/kafka.js";
import { differencesFromWorld } from "../support/worldCheck.js";

/**
 * Issue 3: a realistic day through Kafka — thousands of expected payments,
 * mixed outcomes, batches with fees, returns, duplicates, out-of-order
 * delivery. Every payment ends in the status its story says; totals balance
 * per currency; the incremental store equals a from-scratch reconciliation;
 * two instances in one consumer group give exactly the results of one.
 */
const PAYMENTS = Number(process.env.REALISTIC_DAY_PAYMENTS ?? 2_000);
// The simulated gateways' fees as their contract: only the overcharging one is a fee_variance.
const ENV = { UNMATCHED_GRACE: "2s", SWEEP_INTERVAL: "1s", FEE_SCHEDULE: SIMULATED_FEE_SCHEDULE };

async function produceScenario(scenario: Scenario, topics: ReturnType<typeof uniqueTopics>, seed: number) {
  const random = seededRandom(seed);
  const messages = [
    ...scenario.expected.map((m) => ({ topic: topics.expected, key: String(m.id), value: JSON.stringify(m) })),
    ...scenario.events.map((m) => ({
      topic: topics.gateway,
      key: String("reference" in m ? m.reference : m.batch_id),
      value: JSON.stringify(m),
    })),
    ...scenario.entries.map((m) => ({ topic: topics.bank, key: m.entry_id, value: JSON.stringify(m) })),
    ...scenario.statements.map((m) => ({ topic: topics.bank, key: m.statement_id, value: JSON.stringify(m) })),
  ];
  // Out of order across (and within) topics, and 5% delivered twice.
  const stream = shuffled([...messages, ...messages.filter(() => random() < 0.05)], random);
  const producer = await connectedProducer();
  for (let i = 0; i < stream.length; i += 500) {
    const chunk = stream.slice(i, i + 500);
    await producer.sendBatch({
      topicMessages: [topics.expected, topics.gateway, topics.bank].map((topic) => ({
        topic,
        messages: chunk.filter((m) => m.topic === topic).map(({ key, value }) => ({ key, value })),
      })),
    });
  }
  await producer.disconnect();
  return stream.length;
}

async function settledDown(admin: Admin, db: TestDatabase, topics: ReturnType<typeof uniqueTopics>) {
  await waitUntil(
    async () => {
      for (const topic of [topics.expected, topics.gateway, topics.bank]) {
        const ends = await admin.fetchTopicOffsets(topic);
        const committed = await admin.fetchOffsets({ groupId: topics.groupId, topics: [topic] });
        const done = new Map((committed[0]?.partitions ?? []).map((p) => [p.partition, p.offset]));
        if (ends.some((end) => end.high !== "0" && done.get(end.partition) !== end.high)) return false;
      }
      // And the sweeper has turned every expired grace into an exception.
      const pending = await db.pool.query(
        "select 1 from bank_entry_matches where unmatched_deadline is not null union all select 1 from gateway_event_orphans where deadline is not null limit 1",
      );
      return pending.rowCount === 0;
    },
    180_000,
    "the scenario consumed and swept",
  );
}

async function checkAgainstTruth(db: TestDatabase, scenario: Scenario) {
  const rows = await db.pool.query<{
    id: string;
    status: string;
    settled_amount_minor: number;
    failure_code: string | null;
  }>("select id, status, settled_amount_minor, failure_code from payments");
  const wrong: string[] = [];
  for (const row of rows.rows) {
    const truth = scenario.truth.get(row.id);
    if (!truth) {
      wrong.push(`${row.id}: not in the scenario`);
      continue;
    }
    if (truth.status !== row.status || truth.settledMinor !== row.settled_amount_minor) {
      wrong.push(
        `${row.id} (${truth.story}): want ${truth.status}/${truth.settledMinor}, got ${row.status}/${row.settled_amount_minor}`,
      );
    }
    if (truth.failureCode && truth.failureCode !== row.failure_code) {
      wrong.push(`${row.id}: failure code ${row.failure_code}, want ${truth.failureCode}`);
    }
  }
  const stored = new Set(rows.rows.map((row) => row.id));
  for (const [id, truth] of scenario.truth) if (!stored.has(id)) wrong.push(`${id} (${truth.story}): not stored`);
  expect(wrong.slice(0, 20)).toEqual([]);

  // Totals per currency: expected = settled + in flight + failed + held + delayed + mismatch + reversed + cancelled.
  const byCurrency = await db.pool.query<{ currency: string; status: string; count: number; amount: string }>(
    "select currency, status, count(*)::int as count, sum(amount_minor)::text as amount from payments group by currency, status",
  );
  const want = new Map<string, number>();
  for (const truth of scenario.truth.values()) {
    const key = `${truth.currency}|${truth.status}`;
    want.set(key, (want.get(key) ?? 0) + truth.amountMinor);
  }
  const got = new Map(byCurrency.rows.map((row) => [`${row.currency}|${row.status}`, Number(row.amount)]));
  expect(got).toEqual(want);
  const totals: Record<string, Record<string, number>> = {};
  for (const [key, amount] of got) {
    const [currency, status] = key.split("|") as [string, string];
    totals[currency] ??= { expected: 0 };
    totals[currency]![status] = amount;
    totals[currency]!.expected! += amount;
  }
  const expectedByCurrency = new Map<string, number>();
  for (const truth of scenario.truth.values()) {
    expectedByCurrency.set(truth.currency, (expectedByCurrency.get(truth.currency) ?? 0) + truth.amountMinor);
  }
  for (const [currency, amount] of expectedByCurrency) expect(totals[currency]!.expected).toBe(amount);

  const exceptions = await db.pool.query<{ kind: string; entry_id: string | null; batch_id: string | null }>(
    "select kind, entry_id, batch_id from exceptions where state <> 'resolved' and subject_type <> 'payment'",
  );
  const of = (kind: string) =>
    exceptions.rows
      .filter((row) => row.kind === kind)
      .map((row) => row.entry_id ?? row.batch_id)
      .sort();
  expect(of("unmatched")).toEqual([...scenario.unmatchedEntries].sort());
  expect(of("duplicate")).toEqual([...scenario.duplicateEntries].sort());
  expect(of("mismatch")).toEqual([...scenario.mismatchedBatches].sort());
  expect(of("fee_variance")).toEqual([...scenario.overchargedBatches].sort());
  // CONTRACT §8: the missing statement is a gap; the negative Adyen batch carried forward nets to zero.
  const gaps = await db.pool.query<{ subject_key: string }>(
    "select subject_key from exceptions where state <> 'resolved' and kind in ('statement_gap', 'statement_imbalance')",
  );
  expect(gaps.rows.map((row) => row.subject_key).sort()).toEqual(
    scenario.gapStatements.map((id) => `statement:bank_a/${id}`).sort(),
  );
  const netted = await db.pool.query<{ batch_id: string }>(
    "select batch_id from settlement_batches where netted and state = 'settled' order by batch_id",
  );
  expect(netted.rows.map((row) => row.batch_id)).toEqual([...scenario.nettedBatches].sort());
  return totals;
}

describe("a realistic day through Kafka", () => {
  const cleanups: Array<() => Promise<void>> = [];
  afterAll(async () => {
    for (const cleanup of cleanups.reverse()) await cleanup().catch(() => {});
  });

  async function run(instances: number, seed: number) {
    const db = await createTestDatabase();
    const topics = uniqueTopics();
    const daemons: TestDaemon[] = [];
    cleanups.push(async () => {
      for (const daemon of daemons) await daemon.stop();
      await db.drop();
    });
    const env = { DATABASE_URL: db.url, ...kafkaEnv(topics), ...ENV };
    for (let i = 0; i < instances; i++) daemons.push(await startTestDaemon(env));
    const now = Date.now();
    const scenario = generateScenario({ seed, now, payments: PAYMENTS, prefix: `d${seed}` });
    const sent = await produceScenario(scenario, topics, seed);
    const admin = testKafka().admin();
    await admin.connect();
    try {
      await settledDown(admin, db, topics);
    } finally {
      await admin.disconnect();
    }
    const totals = await checkAgainstTruth(db, scenario);
    const policy = loadConfig(ENV).policy;
    expect((await differencesFromWorld(db.pool, policy, Date.now())).slice(0, 20)).toEqual([]);
    // The gauges agree with the table.
    const metrics = await (await fetch(`${daemons[0]!.baseUrl}/metrics`)).text();
    const gauge = [...metrics.matchAll(/^payrecon_payments\{[^}]*\} (\d+)/gm)].reduce(
      (sum, m) => sum + Number(m[1]),
      0,
    );
    await waitUntil(
      async () => {
        const text = await (await fetch(`${daemons[0]!.baseUrl}/metrics`)).text();
        const sum = [...text.matchAll(/^payrecon_payments\{[^}]*\} (\d+)/gm)].reduce(
          (total, m) => total + Number(m[1]),
          0,
        );
        return sum === scenario.truth.size;
      },
      10_000,
      `payrecon_payments to sum to ${scenario.truth.size} (was ${gauge})`,
    );
    // Fees charged vs expected per gateway × currency (CONTRACT §8), as the report shows them.
    const fees = Object.fromEntries(
      (await batchFeeTotals(db.pool, policy.feeSchedule ?? [])).map((row) => [
        `${row.gateway} ${row.currency}`,
        { batches: row.batches, charged: row.charged_minor, expected: row.expected_minor },
      ]),
    );
    console.log(JSON.stringify({ instances, payments: scenario.truth.size, messagesSent: sent, totals, fees }));
    return totals;
  }

  it("reconciles every payment to its story, balances per currency, and equals a from-scratch reconciliation", async () => {
    await run(1, 42);
  }, 300_000);

  it("gives the same results with two instances in one consumer group", async () => {
    const one = await run(1, 7);
    const two = await run(2, 7);
    expect(two).toEqual(one);
  }, 400_000);
});
