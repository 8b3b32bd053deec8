import { afterAll, describe, expect, it } from "vitest";
import { loadConfig } from "../../src/config.js";
import { generateScenario, seededRandom, shuffled } from "../../src/simulate/scenario.js";
import { createTestDatabase, type TestDatabase } from "../support/database.js";
import { api, metricSum, startTestDaemon, type TestDaemon, waitUntil } from "../support/daemon.js";
import { dateDaysFromNow, isoDaysFromNow } from "../support/clock.js";
import { bankEntry, expectedPayment } from "../support/facts.js";
import { differencesFromWorld } from "../support/worldCheck.js";

/**
 * Engine v2 in the daemon (RECONCILE_ENGINE=memory, docs/architecture.md §4 step 3): the working set in
 * memory gives the database exactly what a from-scratch reconciliation gives, whoever else writes to it,
 * and a transaction that does not commit never leaves its facts behind in memory.
 */
const MEMORY = { RECONCILE_ENGINE: "memory" };
const TOPIC = { expected: "payments.expected", gateway: "gateway.events", bank: "bank.settlements" } as const;

function scenarioMessages(seed: number, payments: number) {
  const scenario = generateScenario({ seed, now: Date.now(), payments, prefix: `ws${seed}` });
  const random = seededRandom(seed);
  const messages = [
    ...scenario.expected.map((value) => ({ topic: TOPIC.expected, value })),
    ...scenario.events.map((value) => ({ topic: TOPIC.gateway, value })),
    ...scenario.entries.map((value) => ({ topic: TOPIC.bank, value })),
  ];
  // Out of order, 5% delivered twice.
  return shuffled([...messages, ...messages.filter(() => random() < 0.05)], random);
}

async function post(daemon: TestDaemon, topic: string, values: unknown[]) {
  const response = await api(daemon.baseUrl, "ingester")(`/api/v1/ingest/${topic}`, {
    method: "POST",
    body: values.map((value) => JSON.stringify(value)).join("\n"),
  });
  if (response.status !== 200) console.log(topic, response.status, JSON.stringify(response.body).slice(0, 500));
  return response.status;
}

/** Posts the messages in small groups, each group to the next daemon, one topic per request. */
async function deliver(daemons: TestDaemon[], messages: Array<{ topic: string; value: unknown }>) {
  let turn = 0;
  for (let i = 0; i < messages.length; i += 40) {
    const group = messages.slice(i, i + 40);
    for (const topic of Object.values(TOPIC)) {
      const values = group.filter((m) => m.topic === topic).map((m) => m.value);
      if (values.length === 0) continue;
      expect(await post(daemons[turn++ % daemons.length]!, topic, values)).toBe(200);
    }
  }
}

async function loads(daemon: TestDaemon): Promise<Record<string, number>> {
  const text = await (await fetch(`${daemon.baseUrl}/metrics`)).text();
  return Object.fromEntries(
    [...text.matchAll(/^payrecon_working_set_loads_total\{reason="(\w+)"\} (\d+)/gm)].map((m) => [m[1]!, Number(m[2])]),
  );
}

/** A counter or gauge of /metrics, summed over the series whose labels contain `labels`. */
async function metric(daemon: TestDaemon, name: string, labels = ""): Promise<number> {
  return metricSum(daemon.baseUrl, name, labels);
}

describe("the memory engine (RECONCILE_ENGINE=memory)", () => {
  const cleanups: Array<() => Promise<void>> = [];
  afterAll(async () => {
    for (const cleanup of cleanups.reverse()) await cleanup().catch(() => {});
  });

  async function setUp(): Promise<TestDatabase> {
    const db = await createTestDatabase();
    cleanups.push(() => db.drop());
    return db;
  }

  async function daemon(env: Record<string, string>): Promise<TestDaemon> {
    const started = await startTestDaemon(env);
    cleanups.push(() => started.stop());
    return started;
  }

  it("beside another memory engine and a sql engine on one database, equals a from-scratch reconciliation, catching up on their facts from the journal", async () => {
    const db = await setUp();
    const first = await daemon({ DATABASE_URL: db.url, ...MEMORY });
    const second = await daemon({ DATABASE_URL: db.url, ...MEMORY });
    const sql = await daemon({ DATABASE_URL: db.url, RECONCILE_ENGINE: "sql" });
    await deliver([first, second, sql], scenarioMessages(11, 300));

    // An operator's decision on the second engine (an unmatch of a rule's match) reaches the first through the
    // journal: the first re-reconciles that entry with a later fact of its own and must not bring the match back.
    const matched = await db.pool.query<{ entry_id: string; bank: string; payment_id: string }>(
      `select e.entry_id, e.bank, m.payment_id from bank_entry_matches m join bank_entries e on e.seq = m.entry_seq
        where m.kind = 'payment' and m.method <> 'manual' order by e.seq limit 1`,
    );
    const line = matched.rows[0]!;
    const unmatch = await api(second.baseUrl, "operator")(`/api/v1/bank-entries/${line.entry_id}/unmatch`, {
      method: "POST",
      body: JSON.stringify({ bank: line.bank, note: "not this payment" }),
    });
    expect(unmatch.status).toBe(200);
    const journaled = await db.pool.query("select 1 from reconcile_journal where cardinality(recheck_entry_seqs) > 0");
    expect(journaled.rowCount).toBeGreaterThan(0);
    const [again] = scenarioMessages(11, 300).filter((m) => m.topic === TOPIC.bank);
    expect(await post(first, TOPIC.bank, [{ ...(again!.value as object), entry_id: "WS-LATE-1" }])).toBe(200);

    const policy = loadConfig({}).policy;
    expect((await differencesFromWorld(db.pool, policy, Date.now())).slice(0, 20)).toEqual([]);
    const after = await db.pool.query<{ payment_id: string | null }>(
      `select m.payment_id from bank_entry_matches m join bank_entries e on e.seq = m.entry_seq
        where e.bank = $1 and e.entry_id = $2`,
      [line.bank, line.entry_id],
    );
    expect(after.rows[0]?.payment_id ?? null).not.toBe(line.payment_id);
    // The leader loaded its working set once, at start; the other writers' facts came from the journal. The
    // second memory engine is a standby (it never won the writer lock): it reconciled with the sql engine.
    expect(await loads(first)).toEqual({ start: 1 });
    // The other writers' transactions between the leader's moved the clock under its stages applied ahead: redone by
    // applying the journaled facts after them, never by loading the working set again.
    expect(await metric(first, "payrecon_working_set_applied_ahead_total", 'result="redone"')).toBeGreaterThan(0);
    expect(await loads(second)).toEqual({});
    const journal = await db.pool.query<{ rows: number }>("select count(*)::int as rows from reconcile_journal");
    expect(journal.rows[0]!.rows).toBeGreaterThan(10);
  }, 180_000);

  it("evicts final payments and loads them back exactly for late facts: a bank return, a duplicate line, a batch listing one", async () => {
    const db = await setUp();
    // The late-truth window at its most aggressive: final payments leave memory at the next transaction.
    const engine = await daemon({
      DATABASE_URL: db.url,
      ...MEMORY,
      WORKING_SET_EVICT_AFTER: "0s",
      SWEEP_INTERVAL: "1s",
    });
    await deliver([engine], scenarioMessages(13, 300));
    await waitUntil(
      async () => (await metric(engine, "payrecon_working_set_items", 'kind="payment",state="evicted"')) >= 50,
      60_000,
      "final payments evicted",
    );
    expect(await metric(engine, "payrecon_working_set_evictions_total")).toBeGreaterThanOrEqual(50);
    const reloads = () => metric(engine, "payrecon_working_set_reloads_total");
    const settled = async (direction: string, skip: string[]) =>
      (
        await db.pool.query<{
          id: string;
          reference: string;
          gateway: string;
          amount_minor: string;
          currency: string;
          body: object;
        }>(
          `select p.id, p.reference, p.gateway, p.amount_minor, p.currency, e.body
             from payments p join bank_entry_matches m on m.payment_id = p.id join bank_entries e on e.seq = m.entry_seq
            where p.status = 'settled' and p.direction = $1 and not (p.id = any($2::text[]))
            order by p.id limit 1`,
          [direction, skip],
        )
      ).rows[0]!;

    // A late bank return for a settled payout, by its reference.
    const payout = await settled("payout", []);
    let before = await reloads();
    const returned = bankEntry(990_101, {
      entry_id: "WS-LATE-RETURN",
      direction: "credit",
      status: "returned",
      amount_minor: Number(payout.amount_minor),
      currency: payout.currency,
      end_to_end_id: payout.reference,
      remittance_info: `RETURN ${payout.reference}`,
      return_reason: "AC04",
    });
    expect(await post(engine, TOPIC.bank, [returned])).toBe(200);
    expect(await reloads()).toBeGreaterThan(before);

    // The same bank line again under another id: a duplicate of a settled collection's line.
    const collection = await settled("collection", [payout.id]);
    before = await reloads();
    expect(await post(engine, TOPIC.bank, [{ ...collection.body, entry_id: "WS-LATE-DUP" }])).toBe(200);
    expect(await reloads()).toBeGreaterThan(before);

    // A settlement batch listing another settled payment.
    const batched = await settled("collection", [payout.id, collection.id]);
    before = await reloads();
    const batch = {
      event_id: "ws-late-batch-1",
      gateway: batched.gateway,
      type: "settlement.batch",
      occurred_at: isoDaysFromNow(0),
      currency: batched.currency,
      batch_id: "po_ws_late_1",
      gross_minor: Number(batched.amount_minor),
      fee_minor: 0,
      amount_minor: Number(batched.amount_minor),
      expected_arrival: dateDaysFromNow(1),
      references: [batched.reference],
    };
    expect(await post(engine, TOPIC.gateway, [batch])).toBe(200);
    expect(await reloads()).toBeGreaterThan(before);

    const policy = loadConfig({}).policy;
    expect((await differencesFromWorld(db.pool, policy, Date.now())).slice(0, 20)).toEqual([]);
    // The late facts changed what they touched (so the reloads were needed), and nothing was loaded whole again.
    const statuses = await db.pool.query<{ id: string; status: string }>(
      "select id, status from payments where id = any($1::text[])",
      [[payout.id]],
    );
    expect(statuses.rows[0]!.status).not.toBe("settled");
    const late = await db.pool.query<{ entry_id: string; payment_id: string | null }>(
      `select e.entry_id, m.payment_id from bank_entries e join bank_entry_matches m on m.entry_seq = e.seq
        where e.entry_id like 'WS-LATE-%' order by e.entry_id`,
    );
    expect(late.rows).toEqual([
      { entry_id: "WS-LATE-DUP", payment_id: collection.id },
      { entry_id: "WS-LATE-RETURN", payment_id: payout.id },
    ]);
    expect(await loads(engine)).toEqual({ start: 1 });
  }, 180_000);

  it("loads its working set before it says ready, then brings the stored rows another engine left to it, in the background", async () => {
    const db = await setUp();
    const sql = await startTestDaemon({ DATABASE_URL: db.url, RECONCILE_ENGINE: "sql" });
    await deliver([sql], scenarioMessages(13, 150));
    await sql.stop();
    // A read model out of step with the facts (the sql engine applies deadlines only when it sweeps): one settled
    // payment stored as pending, one matched bank line's match gone.
    const stale = await db.pool.query<{ id: string }>(
      `update payments set status = 'pending', outcome_signature = 'stale'
        where id = (select min(id) from payments where status = 'settled') returning id`,
    );
    expect(stale.rowCount).toBe(1);
    await db.pool.query(
      "delete from bank_entry_matches where entry_seq = (select min(entry_seq) from bank_entry_matches where kind = 'payment')",
    );

    const engine = await daemon({ DATABASE_URL: db.url, ...MEMORY });
    const ready = await fetch(`${engine.baseUrl}/readyz`);
    expect(ready.status).toBe(200);
    expect(((await ready.json()) as { checks: Record<string, string> }).checks.working_set).toBe("ok");
    expect(await loads(engine)).toEqual({ start: 1 });
    await waitUntil(
      async () =>
        /^payrecon_working_set_unverified_keys 0$/m.test(await (await fetch(`${engine.baseUrl}/metrics`)).text()),
      60_000,
      "the loaded working set compared with the stored rows",
    );
    const policy = loadConfig({}).policy;
    expect((await differencesFromWorld(db.pool, policy, Date.now())).slice(0, 20)).toEqual([]);
    const repaired = await db.pool.query<{ status: string }>("select status from payments where id = $1", [
      stale.rows[0]!.id,
    ]);
    expect(repaired.rows[0]!.status).toBe("settled");
  }, 180_000);

  it("groups applied ahead while the one before them fails: applied again after one reload, exactly the committed facts", async () => {
    const db = await setUp();
    // Nothing evicted (whatever TEST_WORKING_SET_EVICT_AFTER says): facts that could reach evicted groups are not
    // applied ahead (their reload reads stored rows), and this is about the ones that are.
    const engine = await daemon({ DATABASE_URL: db.url, ...MEMORY, WORKING_SET_EVICT_AFTER: "24h" });
    expect(await post(engine, TOPIC.expected, [expectedPayment(1), expectedPayment(2)])).toBe(200);
    // Applied before the lock, and the lock found nothing else committed since: its rows were the ones written.
    expect(await metric(engine, "payrecon_working_set_applied_ahead_total", 'result="used"')).toBeGreaterThan(0);

    // The first group fails after its write phase, slowly (freshness is written last, under the lock): while it
    // sleeps two more groups store their facts and apply them ahead, on a working set holding the first one's.
    await db.pool.query(`
      create function refuse_boom() returns trigger language plpgsql as $$
        begin if new.source = 'boom_bank' then perform pg_sleep(2); raise exception 'injected failure'; end if;
        return new; end $$;
      create trigger refuse_boom before insert on source_freshness for each row execute function refuse_boom();`);
    const failing = post(engine, TOPIC.bank, [bankEntry(1, { bank: "boom_bank", entry_id: "BOOM-1" })]);
    await waitUntil(
      async () => {
        const sleeping = await db.pool.query("select 1 from pg_stat_activity where wait_event = 'PgSleep'");
        return (sleeping.rowCount ?? 0) > 0;
      },
      10_000,
      "the failing group sleeping under the lock",
    );
    const aheadBefore = await metric(engine, "payrecon_working_set_applied_ahead_total", 'result="redone"');
    // The same payment's line from the bank: in memory beside the failing group's, exp_1 was paid twice. The third
    // group, ahead on the same working set, is redone on the one the second loads (no second load).
    const next = post(engine, TOPIC.bank, [bankEntry(1)]);
    const third = post(engine, TOPIC.bank, [bankEntry(2)]);
    expect(await failing).not.toBe(200);
    expect(await next).toBe(200);
    expect(await third).toBe(200);

    expect((await db.pool.query("select 1 from bank_entries where bank = 'boom_bank'")).rowCount).toBe(0);
    const statuses = await db.pool.query<{ id: string; status: string }>("select id, status from payments order by id");
    expect(statuses.rows).toEqual([
      { id: "exp_1", status: "settled" },
      { id: "exp_2", status: "settled" },
    ]);
    const policy = loadConfig({}).policy;
    expect((await differencesFromWorld(db.pool, policy, Date.now())).slice(0, 20)).toEqual([]);
    // Both were applied ahead and redone: one on the working set loaded again, the other on that one.
    expect(await metric(engine, "payrecon_working_set_applied_ahead_total", 'result="redone"')).toBe(aheadBefore + 2);
    expect(await loads(engine)).toEqual({ start: 1, rolled_back: 1 });
  }, 120_000);

  it("drops its working set with a transaction that does not commit, and the next one loads it again exactly", async () => {
    const db = await setUp();
    const engine = await daemon({ DATABASE_URL: db.url, ...MEMORY });
    const messages = scenarioMessages(12, 150);
    const half = Math.floor(messages.length / 2);
    await deliver([engine], messages.slice(0, half));

    // Fails the transaction after the facts are stored and reconciled in memory (freshness is written last).
    await db.pool.query(`
      create function refuse_boom() returns trigger language plpgsql as $$
        begin if new.source = 'boom_bank' then raise exception 'injected failure'; end if; return new; end $$;
      create trigger refuse_boom before insert on source_freshness for each row execute function refuse_boom();`);
    const doomed = bankEntry(990_001, { bank: "boom_bank", entry_id: "BOOM-1" });
    expect(await post(engine, TOPIC.bank, [doomed])).not.toBe(200);
    const stored = await db.pool.query("select 1 from bank_entries where bank = 'boom_bank'");
    expect(stored.rowCount).toBe(0);
    // Dropped with the transaction, loaded again by the next: still ready meanwhile (readiness must not flap).
    expect((await fetch(`${engine.baseUrl}/readyz`)).status).toBe(200);

    await deliver([engine], messages.slice(half));
    expect(await loads(engine)).toEqual({ start: 1, rolled_back: 1 });
    const policy = loadConfig({}).policy;
    expect((await differencesFromWorld(db.pool, policy, Date.now())).slice(0, 20)).toEqual([]);
  }, 180_000);
});
