import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { dateDaysFromNow, isoDaysFromNow } from "../support/clock.js";
import { createTestDatabase, type TestDatabase } from "../support/database.js";
import { api, startTestDaemon, type TestDaemon } from "../support/daemon.js";

/** CONTRACT §7: bank entries and settlement batches as first-class resources, searched and paged. */
describe("bank entries and batches API", () => {
  let db: TestDatabase;
  let daemon: TestDaemon;

  beforeAll(async () => {
    db = await createTestDatabase();
    daemon = await startTestDaemon({ DATABASE_URL: db.url });
    const ingest = async (topic: string, messages: object[]) => {
      const response = await api(daemon.baseUrl, "ingester")(`/api/v1/ingest/${topic}`, {
        method: "POST",
        body: messages.map((m) => JSON.stringify(m)).join("\n"),
      });
      expect(response.body.rejected).toBe(0);
    };
    await ingest("payments.expected", [
      {
        id: "inv_42",
        direction: "collection",
        amount_minor: 12_000,
        currency: "EUR",
        gateway: "stripe",
        reference: "INV-42",
        created_at: isoDaysFromNow(-5),
        due_at: isoDaysFromNow(-1),
      },
      {
        id: "batched_1",
        direction: "collection",
        amount_minor: 50_000,
        currency: "EUR",
        gateway: "stripe",
        reference: "ORD-B1",
        created_at: isoDaysFromNow(-5),
        due_at: isoDaysFromNow(1),
      },
    ]);
    await ingest("gateway.events", [
      {
        event_id: "evt_batch",
        gateway: "stripe",
        type: "settlement.batch",
        batch_id: "po_777",
        references: ["ORD-B1"],
        gross_minor: 50_000,
        fee_minor: 1_450,
        amount_minor: 48_550,
        currency: "EUR",
        occurred_at: isoDaysFromNow(-2),
        expected_arrival: dateDaysFromNow(0),
      },
    ]);
    const line = (entryId: string, amount: number, day: number, remittance: string, extra: object = {}) => ({
      entry_id: entryId,
      bank: "bank_a",
      account: "DE00",
      direction: "credit",
      amount_minor: amount,
      currency: "EUR",
      booking_date: dateDaysFromNow(day),
      value_date: dateDaysFromNow(day),
      status: "booked",
      remittance_info: remittance,
      ...extra,
    });
    await ingest("bank.settlements", [
      line("L-INV", 12_000, -1, "Invoice INV-42 Tuesday groceries"),
      line("L-BATCH", 48_550, 0, "STRIPE PAYOUT po_777"),
      line("L-OTHER-1", 777, -10, "rent october"),
      line("L-OTHER-2", 12_000, -20, "mystery transfer", { counterparty_name: "ACME GmbH" }),
    ]);
  }, 120_000);
  afterAll(async () => {
    await daemon?.stop();
    await db?.drop();
  });

  const get = (path: string) => api(daemon.baseUrl, "viewer")(path);
  const ids = async (query: string) => {
    const response = await get(`/api/v1/bank-entries?${query}`);
    expect(response.status, JSON.stringify(response.body)).toBe(200);
    return response.body.items.map((item: { entry_id: string }) => item.entry_id);
  };

  it("searches by amount, by date range and by a word of the remittance text", async () => {
    expect(await ids("amount_minor=12000&bank=bank_a")).toEqual(["L-INV", "L-OTHER-2"]);
    expect(await ids(`from=${dateDaysFromNow(-11)}&to=${dateDaysFromNow(-1)}&bank=bank_a`)).toEqual([
      "L-INV",
      "L-OTHER-1",
    ]);
    expect(await ids("q=groceries")).toEqual(["L-INV"]);
    expect(await ids("q=inv-42")).toEqual(["L-INV"]);
    expect(await ids("q=tuesday%20INVOICE")).toEqual(["L-INV"]);
    expect(await ids("q=groceries%20rent")).toEqual([]);
    expect(await ids("q=po_777")).toEqual(["L-BATCH"]);
    expect(await ids("state=matched&bank=bank_a")).toEqual(["L-BATCH", "L-INV"]);
    expect(await ids("state=unmatched&direction=credit&currency=EUR&bank=bank_a")).toEqual(["L-OTHER-1", "L-OTHER-2"]);
    expect((await get("/api/v1/bank-entries?state=lost")).status).toBe(400);
  });

  it("matches a pending line tentatively: in flight until the booked line confirms it", async () => {
    const post = api(daemon.baseUrl, "ingester");
    const send = (topic: string, message: object) =>
      post(`/api/v1/ingest/${topic}`, { method: "POST", body: JSON.stringify(message) });
    await send("payments.expected", {
      id: "tent_1",
      direction: "collection",
      amount_minor: 3_333,
      currency: "EUR",
      gateway: "stripe",
      reference: "TENT-1",
      created_at: isoDaysFromNow(-2),
      due_at: isoDaysFromNow(1),
    });
    const line = { bank: "bank_b", account: "DE01", direction: "credit", amount_minor: 3_333, currency: "EUR" };
    const day = dateDaysFromNow(0);
    await send("bank.settlements", {
      ...line,
      entry_id: "T-PENDING",
      booking_date: day,
      value_date: day,
      status: "pending",
    });
    const tentative = (await get("/api/v1/payments/tent_1")).body;
    expect(tentative).toMatchObject({ status: "in_flight", status_reason: "pending at the bank" });
    expect(tentative.matches).toEqual([
      expect.objectContaining({ entry_id: "T-PENDING", rule: "amount_date", tentative: true }),
    ]);
    expect(await ids("state=tentative")).toEqual(["T-PENDING"]);

    await send("bank.settlements", {
      ...line,
      entry_id: "T-BOOKED",
      booking_date: day,
      value_date: day,
      status: "booked",
    });
    const confirmed = (await get("/api/v1/payments/tent_1")).body;
    expect(confirmed.status).toBe("settled");
    expect(
      confirmed.matches.map((m: { entry_id: string; tentative: boolean }) => [m.entry_id, m.tentative]).sort(),
    ).toEqual([
      ["T-BOOKED", false],
      ["T-PENDING", true],
    ]);
  });

  it("pages newest value date first with a cursor", async () => {
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const response: { body: { items: Array<{ entry_id: string }>; next_cursor: string | null } } = await get(
        `/api/v1/bank-entries?limit=1${cursor ? `&cursor=${cursor}` : ""}`,
      );
      seen.push(...response.body.items.map((item) => item.entry_id));
      cursor = response.body.next_cursor;
    } while (cursor);
    expect(seen.filter((id) => id.startsWith("L-"))).toEqual(["L-BATCH", "L-INV", "L-OTHER-1", "L-OTHER-2"]);
  });

  it("shows one entry with its match explained, and a batch with its payments and the entry that paid it", async () => {
    const entry = (await get("/api/v1/bank-entries/L-INV")).body;
    expect(entry).toMatchObject({
      entry_id: "L-INV",
      state: "matched",
      amount_minor: 12_000,
      match: { payment_id: "inv_42", rule: "reference_token", tentative: false },
      candidates: [],
      audit: [],
    });
    expect(entry.matches[0].explanation).toBe(
      "remittance text names reference INV-42 of payment inv_42 (reference INV-42, 120.00 EUR); " +
        `credit 120.00 EUR on ${dateDaysFromNow(-1)}, the only payment or batch it names`,
    );
    expect((await get("/api/v1/bank-entries/NOPE")).status).toBe(404);

    const batch = (await get("/api/v1/batches/po_777")).body;
    expect(batch).toMatchObject({
      batch_id: "po_777",
      gateway: "stripe",
      gross_minor: 50_000,
      fee_minor: 1_450,
      net_minor: 48_550,
      state: "settled",
      payments: [{ reference: "ORD-B1", payment_id: "batched_1", status: "settled", amount_minor: 50_000 }],
      bank_entries: [{ entry_id: "L-BATCH", match: { rule: "batch" } }],
    });
    const payment = (await get("/api/v1/payments/batched_1")).body;
    expect(payment.matches).toEqual([
      expect.objectContaining({ entry_id: "L-BATCH", rule: "batch", batch_id: "po_777" }),
    ]);
    expect((await get("/api/v1/batches/po_none")).status).toBe(404);
  });
});
