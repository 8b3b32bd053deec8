import type pg from "pg";
import { afterAll, describe, expect, it } from "vitest";
import { loadConfig } from "../../src/config.js";
import { dateDaysFromNow, isoDaysFromNow } from "../support/clock.js";
import { createTestDatabase, type TestDatabase } from "../support/database.js";
import { api, metricSum, startTestDaemon, type TestDaemon, waitUntil } from "../support/daemon.js";
import { bankEntry, expectedPayment } from "../support/facts.js";
import { advanceReconcileClock } from "../../src/db/queries/reconcileClock.js";
import { RECONCILE_LOCK } from "../../src/writer/reconcileTouched.js";
import { differencesFromWorld } from "../support/worldCheck.js";

/**
 * The memory engine compares its write phase with the rows it last wrote instead of reading them back
 * (src/writer/writtenRows.ts). What it remembers must be what PostgreSQL holds: a transaction that rolls back after
 * the write phase, an operator's decision between two groups, and a standby's write journaled between two of the
 * leader's transactions must each leave the read model equal to a from-scratch reconciliation — the rows, the
 * totals (kept by deltas from the previous row) and the status timeline (from the previous status).
 */
const MEMORY = { RECONCILE_ENGINE: "memory" };
const policy = loadConfig({}).policy;

const cleanups: Array<() => Promise<unknown>> = [];
afterAll(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
});

async function setUp(): Promise<TestDatabase> {
  const db = await createTestDatabase();
  cleanups.push(() => db.drop());
  return db;
}

async function daemon(db: TestDatabase): Promise<TestDaemon> {
  const started = await startTestDaemon({ DATABASE_URL: db.url, ...MEMORY });
  cleanups.push(() => started.stop());
  return started;
}

async function post(target: TestDaemon, topic: string, values: unknown[]): Promise<number> {
  const response = await api(target.baseUrl, "ingester")(`/api/v1/ingest/${topic}`, {
    method: "POST",
    body: values.map((value) => JSON.stringify(value)).join("\n"),
  });
  return response.status;
}

async function roleOf(target: TestDaemon): Promise<string | undefined> {
  return ((await (await fetch(`${target.baseUrl}/healthz`)).json()) as { role?: string }).role;
}

/**
 * Where the read model disagrees with itself: the totals with the payment rows they count, and each payment's
 * status timeline with its row (each change from the status before it, the last one to the row's status). A write
 * phase that took a stale row for the stored one moves totals and records changes from a status the row never had.
 */
async function readModelInconsistencies(pool: pg.Pool): Promise<string[]> {
  const out: string[] = [];
  const counted = await pool.query<{ key: string; count: string; at_risk: string }>(
    `select status || '/' || direction || '/' || gateway || '/' || currency as key, count(*)::text as count,
            sum(at_risk_minor)::text as at_risk
       from payments group by 1`,
  );
  const totals = await pool.query<{ key: string; count: string; at_risk: string }>(
    `select status || '/' || direction || '/' || gateway || '/' || currency as key, count::text, at_risk_minor::text as at_risk
       from payment_totals where count <> 0 or at_risk_minor <> 0`,
  );
  const want = new Map(counted.rows.map((row) => [row.key, `${row.count}/${row.at_risk}`]));
  const got = new Map(totals.rows.map((row) => [row.key, `${row.count}/${row.at_risk}`]));
  for (const key of new Set([...want.keys(), ...got.keys()])) {
    if (want.get(key) !== got.get(key)) out.push(`totals ${key}: rows ${want.get(key)}, totals ${got.get(key)}`);
  }
  const timeline = await pool.query<{ payment_id: string; from_status: string | null; to_status: string }>(
    "select payment_id, from_status, to_status from status_changes order by payment_id, id",
  );
  const last = new Map<string, string>();
  for (const row of timeline.rows) {
    const before = last.get(row.payment_id) ?? null;
    if (row.from_status !== before) out.push(`timeline ${row.payment_id}: from ${row.from_status} after ${before}`);
    last.set(row.payment_id, row.to_status);
  }
  const rows = await pool.query<{ id: string; status: string }>("select id, status from payments");
  for (const row of rows.rows) {
    if (last.get(row.id) !== row.status) out.push(`timeline ${row.id}: ends ${last.get(row.id)}, row ${row.status}`);
  }
  return out;
}

async function expectConsistent(db: TestDatabase) {
  expect((await differencesFromWorld(db.pool, policy, Date.now())).slice(0, 20)).toEqual([]);
  expect((await readModelInconsistencies(db.pool)).slice(0, 20)).toEqual([]);
}

describe("the memory engine's rows last written (compared instead of read back)", () => {
  it("a transaction that rolls back after its write phase leaves nothing remembered: the same line again settles the payment", async () => {
    const db = await setUp();
    const engine = await daemon(db);
    expect(await post(engine, "payments.expected", [expectedPayment(1), expectedPayment(2)])).toBe(200);
    expect((await db.pool.query("select status from payments where id = 'exp_1'")).rows[0]?.status).toBe("pending");

    // Fails the transaction after the write phase (freshness is written last): the line settled exp_1 in memory.
    await db.pool.query(`
      create function refuse_boom() returns trigger language plpgsql as $$
        begin if new.source = 'boom_bank' then raise exception 'injected failure'; end if; return new; end $$;
      create trigger refuse_boom before insert on source_freshness for each row execute function refuse_boom();`);
    const line = bankEntry(1, { bank: "boom_bank" });
    expect(await post(engine, "bank.settlements", [line])).not.toBe(200);
    expect((await db.pool.query("select status from payments where id = 'exp_1'")).rows[0]?.status).toBe("pending");

    await db.pool.query("drop trigger refuse_boom on source_freshness");
    expect(await post(engine, "bank.settlements", [line])).toBe(200);
    expect((await db.pool.query("select status from payments where id = 'exp_1'")).rows[0]?.status).toBe("settled");
    await expectConsistent(db);
  }, 120_000);

  it("an operator's resolution and match by hand between two groups: the next group compares with them", async () => {
    const db = await setUp();
    const engine = await daemon(db);
    const collection = (id: string, extra: object = {}) => ({
      id,
      direction: "collection",
      amount_minor: 4242,
      currency: "EUR",
      gateway: "stripe",
      reference: id.toUpperCase(),
      created_at: isoDaysFromNow(-3),
      due_at: isoDaysFromNow(1),
      ...extra,
    });
    const credit = {
      entry_id: "AMB-LINE",
      bank: "bank_a",
      account: "DE00",
      direction: "credit",
      amount_minor: 4242,
      currency: "EUR",
      booking_date: dateDaysFromNow(0),
      value_date: dateDaysFromNow(0),
      status: "booked",
      remittance_info: "THANK YOU",
    };
    const operator = (path: string, body: object) =>
      api(engine.baseUrl, "operator")(path, {
        method: "POST",
        body: JSON.stringify(body),
        headers: { "Content-Type": "application/json" },
      });
    expect(await post(engine, "payments.expected", [collection("amb_1"), collection("amb_2")])).toBe(200);
    expect(await post(engine, "bank.settlements", [credit])).toBe(200);
    const ambiguous = (await api(engine.baseUrl, "viewer")("/api/v1/exceptions?kind=ambiguous")).body.items[0];
    expect(ambiguous).toMatchObject({ entry_id: "AMB-LINE", state: "open" });

    // The operator resolves it (a row written beside the writer), then the next group touches the line again.
    expect((await operator(`/api/v1/exceptions/${ambiguous.id}/actions`, { action: "resolve" })).status).toBe(200);
    expect(
      await post(engine, "payments.expected", [collection("amb_1", { version: 2, due_at: isoDaysFromNow(2) })]),
    ).toBe(200);
    // The operator's resolution stands (the facts say nothing new about the line): the one difference from scratch.
    expect((await api(engine.baseUrl, "viewer")(`/api/v1/exceptions/${ambiguous.id}`)).body.state).toBe("resolved");
    expect(await differencesFromWorld(db.pool, policy, Date.now())).toEqual([
      "exception ambiguous|bank_entry:bank_a/AMB-LINE: open in world, not in store",
    ]);
    expect(await readModelInconsistencies(db.pool)).toEqual([]);

    // A match by hand (the operator's decision, reconciled by the writer), then a group touching both payments.
    expect((await operator("/api/v1/bank-entries/AMB-LINE/match", { payment_id: "amb_2" })).status).toBe(200);
    expect((await db.pool.query("select status from payments where id = 'amb_2'")).rows[0]?.status).toBe("settled");
    expect(
      await post(engine, "payments.expected", [
        collection("amb_1", { version: 3, due_at: isoDaysFromNow(3) }),
        collection("amb_2", { version: 2, due_at: isoDaysFromNow(2) }),
      ]),
    ).toBe(200);
    await expectConsistent(db);
  }, 120_000);

  it("a standby's write, journaled between two of the leader's transactions, is not taken for the row the leader wrote", async () => {
    const db = await setUp();
    const leader = await daemon(db);
    await waitUntil(async () => (await roleOf(leader)) === "leader", 10_000, "the first instance to lead");
    const standby = await daemon(db);
    expect(await roleOf(standby)).toBe("standby");

    expect(await post(leader, "payments.expected", [expectedPayment(1), expectedPayment(2)])).toBe(200);
    // The standby reconciles with the sql engine: exp_1 settles there, pending → settled, totals moved; exp_3 is
    // created there (its row exists although the leader never saw a fact of it).
    expect(await post(standby, "bank.settlements", [bankEntry(1)])).toBe(200);
    expect(await post(standby, "payments.expected", [expectedPayment(3)])).toBe(200);
    expect((await db.pool.query("select status from payments where id = 'exp_1'")).rows[0]?.status).toBe("settled");
    // The leader applies the journal, then re-evaluates exp_1 with its new version.
    expect(
      await post(leader, "payments.expected", [
        { ...expectedPayment(1), version: 2, due_at: isoDaysFromNow(8) },
        { ...expectedPayment(3), version: 2, due_at: isoDaysFromNow(8) },
      ]),
    ).toBe(200);
    await expectConsistent(db);
  }, 120_000);

  it("writes a group's payment rows before it waits for the lock, and undoes them when another writer moved the clock meanwhile", async () => {
    const db = await setUp();
    const engine = await daemon(db);
    expect(await post(engine, "payments.expected", [expectedPayment(1), expectedPayment(2)])).toBe(200);

    // Another writer holds the reconciliation lock: the next group applies ahead, writes its rows, then waits.
    const holder = await db.pool.connect();
    try {
      await holder.query("begin");
      await holder.query("select pg_advisory_xact_lock($1)", [RECONCILE_LOCK]);
      const posted = post(engine, "payments.expected", [expectedPayment(3), { ...expectedPayment(1), version: 2 }]);
      const locksOfWaiter = async () =>
        (
          await db.pool.query<{ relation: string }>(
            `select c.relname as relation
               from pg_stat_activity a
               join pg_locks l on l.pid = a.pid and l.mode = 'RowExclusiveLock' and l.granted
               join pg_class c on c.oid = l.relation
              where a.wait_event_type = 'Lock' and a.wait_event = 'advisory' and a.pid <> pg_backend_pid()`,
          )
        ).rows.map((row) => row.relation);
      await waitUntil(
        async () => (await locksOfWaiter()).includes("status_changes"),
        20_000,
        "the group waiting for the lock with its status changes written",
      );
      // The new payment's row and the amended one's: written, not committed, before the lock.
      expect(await locksOfWaiter()).toEqual(expect.arrayContaining(["payments", "status_changes"]));
      // The holder moves the reconcile clock, as any writer does: the waiting group's stage is stale and is redone
      // from the rows as stored — its rows written ahead undone first, or it would take them for stored ones.
      await advanceReconcileClock(holder, new Date());
      await holder.query("commit");
      expect(await posted).toBe(200);
    } finally {
      holder.release();
    }
    expect(await metricSum(engine.baseUrl, "payrecon_working_set_applied_ahead_total", 'result="redone"')).toBe(1);
    await expectConsistent(db);
  }, 120_000);
});
