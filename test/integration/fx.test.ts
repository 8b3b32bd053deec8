import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadConfig } from "../../src/config.js";
import { dateDaysFromNow, isoDaysFromNow } from "../support/clock.js";
import { createTestDatabase, type TestDatabase } from "../support/database.js";
import { api, startTestDaemon, type TestDaemon } from "../support/daemon.js";
import { ingestAll } from "../support/ingest.js";
import { differencesFromWorld } from "../support/worldCheck.js";

/**
 * CONTRACT §8 "FX" through HTTP ingest: USD collections paid into a EUR account. Runs on the engine the
 * suite selects (TEST_RECONCILE_ENGINE=memory: engine v2), and the store must equal reconcileWorld.
 */
const ENV = { FX_REFERENCE_RATES: "EURUSD=1.0842" };

describe("FX: USD collections paid in EUR", () => {
  let db: TestDatabase;
  let daemon: TestDaemon;

  beforeAll(async () => {
    db = await createTestDatabase();
    daemon = await startTestDaemon({ DATABASE_URL: db.url, ...ENV });
  }, 120_000);
  afterAll(async () => {
    await daemon?.stop();
    await db?.drop();
  });

  const ingest = (topic: string, messages: object[]) => ingestAll(daemon.baseUrl, topic, messages);
  const get = async (path: string) => (await api(daemon.baseUrl, "viewer")(path)).body;
  const expected = (id: string, amount: number) => ({
    id,
    direction: "collection",
    amount_minor: amount,
    currency: "USD",
    gateway: "stripe",
    reference: id.toUpperCase(),
    created_at: isoDaysFromNow(-2),
    due_at: isoDaysFromNow(1),
  });
  const eurLine = (entryId: string, amount: number, extra: object) => ({
    entry_id: entryId,
    bank: "bank_eu",
    account: "DE89370400440532013000",
    direction: "credit",
    amount_minor: amount,
    currency: "EUR",
    booking_date: dateDaysFromNow(0),
    value_date: dateDaysFromNow(0),
    status: "booked",
    ...extra,
  });

  it("settles by instructed amount (by amount alone, either order), by rate within FX_TOLERANCE; beyond it a mismatch", async () => {
    // A line with an instructed amount arriving before its payment: found again by the instructed amount.
    await ingest("bank.settlements", [
      eurLine("FX-EARLY", 460_000, {
        remittance_info: "INCOMING TRANSFER",
        instructed_amount_minor: 500_000,
        instructed_currency: "USD",
      }),
    ]);
    await ingest("payments.expected", [
      expected("fx_1", 1_000_000),
      expected("fx_2", 1_000_000),
      expected("fx_3", 1_000_000),
      expected("fx_4", 500_000),
    ]);
    await ingest("bank.settlements", [
      eurLine("FX-INSTRUCTED", 922_300, {
        remittance_info: "INCOMING TRANSFER 2",
        instructed_amount_minor: 1_000_000,
        instructed_currency: "USD",
        fx_rate: 1.0842,
      }),
      // 9,200.00 EUR × 1.0842 = 9,974.64 USD: 0.25% short, within FX_TOLERANCE (1%).
      eurLine("FX-RATE", 920_000, { end_to_end_id: "FX_2" }),
      // 9,000.00 EUR × 1.0842 = 9,757.80 USD: 2.4% short.
      eurLine("FX-FAR", 900_000, { end_to_end_id: "FX_3" }),
    ]);

    const fx1 = await get("/api/v1/payments/fx_1");
    expect(fx1).toMatchObject({
      status: "settled",
      settled_amount_minor: 1_000_000,
      fx: { line_currency: "EUR", line_amount_minor: 922_300, difference_minor: 0 },
    });
    expect(await get("/api/v1/payments/fx_2")).toMatchObject({
      status: "settled",
      settled_amount_minor: 997_464,
      fx: { line_currency: "EUR", line_amount_minor: 920_000, difference_minor: -2_536 },
    });
    const fx3 = await get("/api/v1/payments/fx_3");
    expect(fx3).toMatchObject({ status: "mismatch", settled_amount_minor: 0, fx: null });
    expect(fx3.flags).toContain("entry_in_other_currency");
    expect(await get("/api/v1/payments/fx_4")).toMatchObject({
      status: "settled",
      settled_amount_minor: 500_000,
      fx: { line_currency: "EUR", line_amount_minor: 460_000, difference_minor: 0 },
    });
    expect(await differencesFromWorld(db.pool, loadConfig(ENV).policy, Date.now())).toEqual([]);

    // The report totals the FX differences per pair (EUR → USD), in the payment's currency.
    const report = await get(
      `/api/v1/reports/reconciliation?from=${dateDaysFromNow(-30)}&to=${dateDaysFromNow(30)}&format=json`,
    );
    const total = report.rows.find((row: { row_type: string; currency: string }) => row.row_type === "total");
    expect(total.fx_differences).toEqual([
      {
        pair: "EURUSD",
        line_currency: "EUR",
        payments: 3,
        line_amount: { amount_minor: 922_300 + 920_000 + 460_000, amount: "23023.00" },
        difference: { amount_minor: -2_536, amount: "-25.36" },
      },
    ]);
  });
});
