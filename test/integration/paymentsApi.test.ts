import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestDatabase, type TestDatabase } from "../support/database.js";
import { api, startTestDaemon, type TestDaemon } from "../support/daemon.js";

/** The read API and the exception case trail, driven through HTTP ingest. */
describe("payments and exceptions API", () => {
  let db: TestDatabase;
  let daemon: TestDaemon;
  const day = 86_400_000;
  const iso = (ms: number) => new Date(ms).toISOString();
  const date = (ms: number) => iso(ms).slice(0, 10);
  const now = Date.now();

  beforeAll(async () => {
    db = await createTestDatabase();
    daemon = await startTestDaemon({ DATABASE_URL: db.url });
  });
  afterAll(async () => {
    await daemon?.stop();
    await db?.drop();
  });

  const ingest = async (topic: string, messages: object[]) => {
    const response = await api(daemon.baseUrl, "ingester")(`/api/v1/ingest/${topic}`, {
      method: "POST",
      body: messages.map((m) => JSON.stringify(m)).join("\n"),
    });
    expect(response.status).toBe(200);
    expect(response.body.rejected).toBe(0);
    return response.body;
  };
  const view = api("", "viewer");
  const get = (path: string) => api(daemon.baseUrl, "viewer")(path);
  void view;

  const payout = (id: string, amount: number, extra: object = {}) => ({
    id,
    direction: "payout",
    amount_minor: amount,
    currency: "USD",
    gateway: "stripe",
    reference: id.toUpperCase(),
    counterparty: "cust_9",
    created_at: iso(now - 3 * day),
    due_at: iso(now + 2 * day),
    ...extra,
  });

  it("shows a payout's whole story: timeline in time order, failure category and advice, then recovery", async () => {
    await ingest("payments.expected", [payout("wd_1", 5000)]);
    await ingest("gateway.events", [
      {
        event_id: "evt_1",
        gateway: "stripe",
        type: "payout.submitted",
        reference: "WD_1",
        amount_minor: 5000,
        currency: "USD",
        occurred_at: iso(now - 2 * day),
      },
      {
        event_id: "evt_2",
        gateway: "stripe",
        type: "payout.failed",
        reference: "WD_1",
        amount_minor: 5000,
        currency: "USD",
        occurred_at: iso(now - day),
        failure_code: "account_closed",
        failure_message: "The bank account has been closed",
      },
    ]);
    const failed = await get("/api/v1/payments/wd_1");
    expect(failed.status).toBe(200);
    expect(failed.body).toMatchObject({
      id: "wd_1",
      status: "failed",
      direction: "payout",
      gateway: "stripe",
      currency: "USD",
      amount_minor: 5000,
      settled_amount_minor: 0,
      failure_category: "account_closed",
      failure_code: "account_closed",
      retry_advice: "no",
      settled_late: false,
    });
    const times = failed.body.timeline.map((entry: { at: string }) => Date.parse(entry.at));
    expect(times).toEqual([...times].sort((a, b) => a - b));
    expect(failed.body.timeline.map((entry: { type: string }) => entry.type)).toEqual(
      expect.arrayContaining(["expected.created", "payout.submitted", "payout.failed", "status.failed"]),
    );
    for (const entry of failed.body.timeline) expect(entry.source).toBeTruthy();

    const open = await get("/api/v1/exceptions?state=open&kind=failed");
    const exception = open.body.items.find((item: { payment_id: string }) => item.payment_id === "wd_1");
    expect(exception).toMatchObject({ kind: "failed", state: "open", amount_minor: 5000, currency: "USD" });
    expect(exception.audit[0]).toMatchObject({ actor: "payrecon", action: "opened" });
    expect(exception.age_seconds).toBeGreaterThanOrEqual(0);

    // The gateway retries and the bank shows the money: the failure recovers, its exception auto-resolves.
    await ingest("gateway.events", [
      {
        event_id: "evt_3",
        gateway: "stripe",
        type: "payout.paid",
        reference: "WD_1",
        amount_minor: 5000,
        currency: "USD",
        occurred_at: iso(now - day / 2),
      },
    ]);
    await ingest("bank.settlements", [
      {
        entry_id: "DEBIT-1",
        bank: "bank_a",
        account: "US000111",
        direction: "debit",
        amount_minor: 5000,
        currency: "USD",
        booking_date: date(now),
        value_date: date(now),
        status: "booked",
        end_to_end_id: "WD_1",
      },
    ]);
    const settled = await get("/api/v1/payments/wd_1");
    expect(settled.body).toMatchObject({ status: "settled", settled_amount_minor: 5000, failure_category: null });
    // CONTRACT §7: the match explained, as the core wrote it when it matched.
    expect(settled.body.matches).toEqual([
      {
        entry_id: "DEBIT-1",
        bank: "bank_a",
        rule: "end_to_end_id",
        tentative: false,
        batch_id: null,
        explanation:
          "end-to-end id WD_1 equals the reference of payment wd_1 (reference WD_1, 50.00 USD); " +
          `debit 50.00 USD on ${date(now)}, the only payment or batch it names`,
      },
    ]);
    const resolved = await get(`/api/v1/exceptions/${exception.id}`);
    expect(resolved.body.state).toBe("resolved");
    expect(resolved.body.audit.map((entry: { action: string }) => entry.action)).toEqual(["opened", "auto_resolved"]);

    // A return regresses it: the exception re-opens, with the bank's reason.
    await ingest("bank.settlements", [
      {
        entry_id: "RETURN-1",
        bank: "bank_a",
        account: "US000111",
        direction: "credit",
        amount_minor: 5000,
        currency: "USD",
        booking_date: date(now),
        value_date: date(now),
        status: "returned",
        end_to_end_id: "WD_1",
        return_reason: "AC04",
      },
    ]);
    const returned = await get("/api/v1/payments/wd_1");
    expect(returned.body).toMatchObject({ status: "failed", failure_code: "AC04", failure_category: "account_closed" });
    const reopened = await get(`/api/v1/exceptions/${exception.id}`);
    expect(reopened.body.state).toBe("open");
    expect(reopened.body.audit.map((entry: { action: string }) => entry.action)).toEqual([
      "opened",
      "auto_resolved",
      "reopened",
    ]);
  });

  it("lets an operator acknowledge, note and resolve an exception, with actor and time, and refuses the rest", async () => {
    const list = await get("/api/v1/exceptions?state=open&payment_id=wd_1");
    const id = list.body.items[0].id;
    const operator = api(daemon.baseUrl, "operator");
    const viewer = api(daemon.baseUrl, "viewer");
    const post = (who: typeof operator, body: object) =>
      who(`/api/v1/exceptions/${id}/actions`, {
        method: "POST",
        body: JSON.stringify(body),
        headers: { "Content-Type": "application/json" },
      });
    expect((await post(viewer, { action: "acknowledge" })).status).toBe(403);
    expect((await post(operator, { action: "delete" })).status).toBe(400);
    expect((await post(operator, { action: "note" })).status).toBe(400);
    const acknowledged = await post(operator, { action: "acknowledge", note: "calling the customer" });
    expect(acknowledged.status).toBe(200);
    expect(acknowledged.body.state).toBe("acknowledged");
    expect((await post(operator, { action: "acknowledge" })).status).toBe(409);
    await post(operator, { action: "note", note: "new account details requested" });
    const done = await post(operator, { action: "resolve", note: "paid by cheque" });
    expect(done.body.state).toBe("resolved");
    const trail = done.body.audit.slice(-3);
    expect(trail.map((entry: { action: string }) => entry.action)).toEqual(["acknowledge", "note", "resolve"]);
    for (const entry of trail) {
      expect(entry.actor).toMatch(/^operator:[0-9a-f]{8}$/);
      expect(Date.now() - Date.parse(entry.at)).toBeLessThan(60_000);
    }
    expect((await post(operator, { action: "resolve" })).status).toBe(409);
    expect((await post(operator, { action: "note", note: "closing remark" })).status).toBe(200);
    expect((await operator("/api/v1/exceptions/999999/actions", { method: "POST", body: "{}" })).status).toBe(400);
    expect(
      (
        await operator("/api/v1/exceptions/999999/actions", {
          method: "POST",
          body: JSON.stringify({ action: "note", note: "x" }),
          headers: { "Content-Type": "application/json" },
        })
      ).status,
    ).toBe(404);
  });

  it("reports an ambiguous amount match as an exception and settles nothing", async () => {
    await ingest("payments.expected", [
      payout("amb_1", 7777, { direction: "collection", currency: "EUR", due_at: iso(now + day) }),
      payout("amb_2", 7777, { direction: "collection", currency: "EUR", due_at: iso(now + day) }),
    ]);
    await ingest("bank.settlements", [
      {
        entry_id: "CREDIT-AMB",
        bank: "bank_a",
        account: "DE00",
        direction: "credit",
        amount_minor: 7777,
        currency: "EUR",
        booking_date: date(now),
        value_date: date(now),
        status: "booked",
        remittance_info: "THANK YOU",
      },
    ]);
    const exceptions = await get("/api/v1/exceptions?kind=ambiguous");
    expect(exceptions.body.items).toHaveLength(1);
    expect(exceptions.body.items[0]).toMatchObject({ kind: "ambiguous", entry_id: "CREDIT-AMB", amount_minor: 7777 });
    const due = date(now + day);
    const candidate = (id: string) => ({
      payment_id: id,
      batch_id: null,
      gateway: null,
      entry_id: "CREDIT-AMB",
      bank: "bank_a",
      rule: "amount_date",
      tentative: false,
      explanation:
        `amount 77.77 EUR, value date ${date(now)} within 3d of due date ${due} of payment ${id} ` +
        `(reference ${id.toUpperCase()}, 77.77 EUR), one of 2 open candidates of 2`,
    });
    expect(exceptions.body.items[0].candidates).toEqual([candidate("amb_1"), candidate("amb_2")]);
    const one = await get(`/api/v1/exceptions/${exceptions.body.items[0].id}`);
    expect(one.body.candidates).toEqual([candidate("amb_1"), candidate("amb_2")]);
    for (const id of ["amb_1", "amb_2"]) expect((await get(`/api/v1/payments/${id}`)).body.status).toBe("pending");
  });

  it("lists payments newest first with filters and a cursor that pages through all of them", async () => {
    const many = Array.from({ length: 25 }, (_, i) =>
      payout(`list_${String(i).padStart(2, "0")}`, 100 + i, { created_at: iso(now - (i + 1) * 60_000) }),
    );
    await ingest("payments.expected", many);
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const query: string = `/api/v1/payments?direction=payout&gateway=stripe&limit=7${cursor ? `&cursor=${cursor}` : ""}`;
      const page = await get(query);
      expect(page.status).toBe(200);
      expect(page.body.items.length).toBeLessThanOrEqual(7);
      seen.push(...page.body.items.map((item: { id: string }) => item.id));
      cursor = page.body.next_cursor;
    } while (cursor);
    const listed = seen.filter((id) => id.startsWith("list_"));
    expect(listed).toEqual(many.map((m) => m.id));
    expect(new Set(seen).size).toBe(seen.length);
    const pending = await get("/api/v1/payments?status=pending&direction=payout&limit=500");
    for (const item of pending.body.items) expect(item.status).toBe("pending");
    expect((await get("/api/v1/payments?status=nope")).status).toBe(400);
    expect((await get("/api/v1/payments?cursor=garbage")).status).toBe(400);
    expect((await get("/api/v1/payments/does-not-exist")).status).toBe(404);
  });
});
