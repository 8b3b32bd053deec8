import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadMigrations, migrate } from "../../src/db/migrate.js";
import { isoDaysFromNow } from "../support/clock.js";
import { createTestDatabase, emptyDatabase, type TestDatabase } from "../support/database.js";
import { api, startTestDaemon, type TestDaemon, waitUntil } from "../support/daemon.js";
import { ingestAll } from "../support/ingest.js";
import { bankEntry, expectedPayment, gatewayEvent } from "../support/facts.js";

/**
 * Issue 15 (WAL per message): narrower rows. A payment row keeps its version's installments, not the whole body
 * (000130); a status change keeps only the detail fields that differ from their defaults. What the API and the
 * findings say is unchanged.
 */
describe("narrower payment and status change rows", () => {
  let db: TestDatabase;
  let daemon: TestDaemon;
  beforeAll(async () => {
    db = await createTestDatabase();
    daemon = await startTestDaemon({ DATABASE_URL: db.url });
  });
  afterAll(async () => {
    await daemon?.stop();
    await db?.drop();
  });

  const ingest = (topic: string, messages: object[]) => ingestAll(daemon.baseUrl, topic, messages);
  const get = (path: string) => api(daemon.baseUrl, "viewer")(path);

  it("keeps a payment's installments in its row and shows them as before; no copy of the body", async () => {
    const installments = [
      { amount_minor: 600, due_at: isoDaysFromNow(7) },
      { amount_minor: 414, due_at: isoDaysFromNow(37) },
    ];
    await ingest("payments.expected", [expectedPayment(2, { installments }), expectedPayment(4)]);
    await waitUntil(
      async () => (await db.pool.query("select 1 from payments where id in ('exp_2', 'exp_4')")).rowCount === 2,
      10_000,
      "both payments stored",
    );
    const rows = await db.pool.query<{ id: string; installments: unknown }>(
      "select id, installments from payments where id in ('exp_2', 'exp_4') order by id",
    );
    expect(rows.rows).toEqual([
      { id: "exp_2", installments },
      { id: "exp_4", installments: null },
    ]);
    const columns = await db.pool.query(
      "select attname from pg_attribute where attrelid = 'payments'::regclass and attname = 'body' and not attisdropped",
    );
    expect(columns.rowCount).toBe(0);
    expect((await get("/api/v1/payments/exp_2")).body.installments).toEqual(installments);
    expect((await get("/api/v1/payments/exp_4")).body.installments).toBeNull();
    const listed = (await get("/api/v1/payments?gateway=stripe&limit=10")).body.items as Array<{
      id: string;
      installments: unknown;
    }>;
    expect(listed.find((item) => item.id === "exp_2")?.installments).toEqual(installments);

    // An amendment without installments clears them.
    await ingest("payments.expected", [expectedPayment(2, { version: 2, amount_minor: 1_414 })]);
    await waitUntil(
      async () => (await get("/api/v1/payments/exp_2")).body.installments === null,
      10_000,
      "the amendment's installments (none) in force",
    );
  });

  it("stores a status change's detail without its defaults; the timeline shows every field", async () => {
    // exp_8: captured (a change with the default detail), then settled by its bank line (a settled amount).
    // exp_10: failed at the gateway (a failure category and code).
    await ingest("payments.expected", [expectedPayment(8), expectedPayment(10)]);
    await ingest("gateway.events", [
      gatewayEvent(8),
      gatewayEvent(10, { type: "payment.failed", failure_code: "card_declined", gateway_payment_id: null }),
    ]);
    await ingest("bank.settlements", [bankEntry(8)]);
    await waitUntil(
      async () =>
        (await db.pool.query("select 1 from payments where id = 'exp_8' and status = 'settled'")).rowCount === 1 &&
        (await db.pool.query("select 1 from payments where id = 'exp_10' and status = 'failed'")).rowCount === 1,
      10_000,
      "exp_8 settled and exp_10 failed",
    );
    const stored = await db.pool.query<{ payment_id: string; to_status: string; detail: Record<string, unknown> }>(
      "select payment_id, to_status, detail from status_changes where payment_id in ('exp_8', 'exp_10') order by id",
    );
    const detailOf = (id: string, status: string) =>
      stored.rows.find((row) => row.payment_id === id && row.to_status === status)?.detail;
    expect(detailOf("exp_8", "pending")).toEqual({});
    expect(detailOf("exp_8", "settled")).toEqual({ settled_amount_minor: 1_056 });
    expect(detailOf("exp_10", "failed")).toMatchObject({ failure_code: "card_declined" });
    expect(detailOf("exp_10", "failed")).not.toHaveProperty("settled_late");

    const timeline = async (id: string) =>
      ((await get(`/api/v1/payments/${id}`)).body.timeline as Array<Record<string, unknown>>).filter((entry) =>
        String(entry.type).startsWith("status."),
      );
    const settled = await timeline("exp_8");
    expect(settled[0]).toMatchObject({
      type: "status.pending",
      failure_category: null,
      failure_code: null,
      settled_amount_minor: 0,
      settled_late: false,
    });
    expect(settled.at(-1)).toMatchObject({
      type: "status.settled",
      failure_category: null,
      failure_code: null,
      settled_amount_minor: 1_056,
      settled_late: false,
    });
    expect((await timeline("exp_10")).at(-1)).toMatchObject({
      type: "status.failed",
      failure_code: "card_declined",
      settled_amount_minor: 0,
      settled_late: false,
    });
  });
});

describe("migration 000130 on a database with payments", () => {
  it("moves each payment's installments out of its body, and drops the body", async () => {
    const db = await emptyDatabase();
    const pool = db.pool();
    try {
      const all = loadMigrations();
      await migrate(
        pool,
        all.filter((migration) => migration.id < 130),
      );
      const installments = [
        { amount_minor: 500, due_at: isoDaysFromNow(3) },
        { amount_minor: 500, due_at: isoDaysFromNow(33) },
      ];
      await pool.query(
        `insert into payments (id, reference, reference_key, gateway, direction, currency, amount_minor, created_at,
                               due_at, cancelled, status, status_since, body, updated_at)
         select id, id, upper(id), 'stripe', 'collection', 'EUR', 1000, now(), now(), false, 'pending', now(), body, now()
           from (values ('a', $1::jsonb), ('b', '{"id": "b"}'::jsonb), ('c', '{"id": "c", "installments": null}'::jsonb))
             as v(id, body)`,
        [JSON.stringify({ id: "a", installments })],
      );
      await migrate(pool, all);
      const rows = await pool.query("select id, installments from payments order by id");
      expect(rows.rows).toEqual([
        { id: "a", installments },
        { id: "b", installments: null },
        { id: "c", installments: null },
      ]);
      const body = await pool.query(
        "select 1 from pg_attribute where attrelid = 'payments'::regclass and attname = 'body' and not attisdropped",
      );
      expect(body.rowCount).toBe(0);
    } finally {
      await db.drop();
    }
  });
});
