import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { dateDaysFromNow, isoDaysFromNow } from "../support/clock.js";
import { ingestAll } from "../support/ingest.js";
import { createTestDatabase, type TestDatabase } from "../support/database.js";
import { api, startTestDaemon, type TestDaemon } from "../support/daemon.js";

/**
 * Credit records (CONTRACT §9): 30/90/365-day windows and the risk band on GET /counterparties/{id}, and
 * GET /counterparties?sort=risk riskiest first, for a counterparty that pays on time (A), one that pays half its
 * invoices ten days late (C), and one whose payouts fail and whose collection is 40 days overdue (D).
 */

describe("credit records", () => {
  let db: TestDatabase;
  let daemon: TestDaemon;
  beforeAll(async () => {
    db = await createTestDatabase();
    daemon = await startTestDaemon({ DATABASE_URL: db.url });
    const payments: object[] = [];
    const entries: object[] = [];
    const events: object[] = [];
    const collection = (id: string, counterparty: string, dueDays: number, paidDays?: number) => {
      payments.push({
        id,
        direction: "collection",
        amount_minor: 10_000,
        currency: "EUR",
        gateway: "stripe",
        reference: `REF-${id}`,
        counterparty,
        created_at: isoDaysFromNow(dueDays - 30),
        due_at: `${dateDaysFromNow(dueDays)}T12:00:00Z`,
      });
      if (paidDays === undefined) return;
      entries.push({
        entry_id: `E-${id}`,
        bank: "bank_a",
        account: "DE89370400440532013000",
        direction: "credit",
        amount_minor: 10_000,
        currency: "EUR",
        booking_date: dateDaysFromNow(paidDays),
        value_date: dateDaysFromNow(paidDays),
        status: "booked",
        end_to_end_id: `REF-${id}`,
        remittance_info: `REF-${id}`,
        counterparty_name: counterparty,
      });
    };
    for (const [k, due] of [-20, -15, -10, -5].entries()) collection(`good_${k}`, "cust_good", due, due - 1);
    collection("late_0", "cust_late", -20, -21);
    collection("late_1", "cust_late", -15, -16);
    collection("late_2", "cust_late", -25, -15);
    collection("late_3", "cust_late", -20, -10);
    collection("bad_0", "cust_bad", -40);
    for (const k of [1, 2]) {
      payments.push({
        id: `bad_${k}`,
        direction: "payout",
        amount_minor: 5_000,
        currency: "USD",
        gateway: "stripe",
        reference: `REF-bad_${k}`,
        counterparty: "cust_bad",
        created_at: isoDaysFromNow(-10),
        due_at: isoDaysFromNow(-3),
      });
      events.push({
        event_id: `evt-bad-${k}`,
        gateway: "stripe",
        type: "payout.failed",
        reference: `REF-bad_${k}`,
        gateway_payment_id: `po_bad_${k}`,
        amount_minor: 5_000,
        currency: "USD",
        occurred_at: isoDaysFromNow(-4),
        failure_code: "insufficient_funds",
      });
    }
    collection("new_0", "cust_new", 10);
    const ingest = (topic: string, messages: object[]) => ingestAll(daemon.baseUrl, topic, messages);
    await ingest("payments.expected", payments);
    await ingest("bank.settlements", entries);
    await ingest("gateway.events", events);
  });
  afterAll(async () => {
    await daemon?.stop();
    await db?.drop();
  });
  const get = (path: string) => api(daemon.baseUrl, "viewer")(path);

  it("gives each counterparty its windows and risk band", async () => {
    const good = (await get("/api/v1/counterparties/cust_good")).body;
    expect(good.windows["30d"]).toMatchObject({
      due: 4,
      on_time: 4,
      on_time_rate: 1,
      late: 0,
      average_days_late: null,
    });
    expect(good.risk).toBe("A");

    const late = (await get("/api/v1/counterparties/cust_late")).body;
    expect(late.payments).toBe(4);
    expect(late.windows["30d"]).toMatchObject({
      due: 4,
      on_time: 2,
      on_time_rate: 0.5,
      late: 2,
      average_days_late: 10,
      failure_rate: 0,
      open_by_currency: [],
    });
    expect(late.risk).toBe("C");
    expect(late.risk_reasons).toEqual(["on time 50 % < 75 % (90 days)"]);

    const bad = (await get("/api/v1/counterparties/cust_bad")).body;
    // The payouts failed in the last 30 days; the collection came due 40 days ago: only in the 90-day window.
    expect(bad.windows["30d"]).toMatchObject({
      due: 2,
      failed: 2,
      failure_rate: 1,
      failures_by_category: [{ category: "insufficient_funds", count: 2, rate: 1 }],
      open_by_currency: [{ currency: "USD", amount_minor: 10_000, amount: "100.00" }],
    });
    expect(bad.windows["90d"]).toMatchObject({ due: 3, late: 1 });
    expect(bad.windows["90d"].max_days_delayed).toBeGreaterThan(39);
    expect(bad.windows["90d"].open_by_currency).toEqual([
      { currency: "EUR", amount_minor: 10_000, amount: "100.00" },
      { currency: "USD", amount_minor: 10_000, amount: "100.00" },
    ]);
    expect(bad.risk).toBe("D");

    const young = (await get("/api/v1/counterparties/cust_new")).body;
    expect(young.windows["365d"].due).toBe(0);
    expect(young.risk).toBe("B");
    expect(young.risk_reasons).toEqual(["0 payment(s) due in 365 days: too little history"]);
  });

  it("lists counterparties riskiest first, page by page", async () => {
    const all = (await get("/api/v1/counterparties?sort=risk")).body.items;
    expect(all.map((item: { counterparty: string; risk: string }) => `${item.counterparty}:${item.risk}`)).toEqual([
      "cust_bad:D",
      "cust_late:C",
      "cust_good:A",
    ]);
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const response = await get(`/api/v1/counterparties?sort=risk&limit=1${cursor ? `&cursor=${cursor}` : ""}`);
      expect(response.status).toBe(200);
      seen.push(...response.body.items.map((item: { counterparty: string }) => item.counterparty));
      cursor = response.body.next_cursor;
    } while (cursor);
    expect(seen).toEqual(["cust_bad", "cust_late", "cust_good"]);
    expect((await get("/api/v1/counterparties?sort=name")).status).toBe(400);
  });
});
