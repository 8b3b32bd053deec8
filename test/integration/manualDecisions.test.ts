import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadConfig } from "../../src/config.js";
import { dateDaysFromNow, isoDaysFromNow } from "../support/clock.js";
import { createTestDatabase, type TestDatabase } from "../support/database.js";
import { api, type ChildDaemon, spawnDaemon, waitReady } from "../support/daemon.js";
import { differencesFromWorld } from "../support/worldCheck.js";

/**
 * CONTRACT §7, manual match and unmatch: an operator's decision is a fact the writer applies. A manual match of
 * an ambiguous line and an unmatch of a rule match both survive a kill -9 of the daemon and equal a from-scratch
 * reconciliation of every stored fact.
 */
describe("manual match and unmatch", () => {
  let db: TestDatabase;
  let daemon: ChildDaemon;

  const start = async () => {
    daemon = await spawnDaemon({ DATABASE_URL: db.url, SWEEP_INTERVAL: "1h" });
    await waitReady(daemon.baseUrl);
  };
  beforeAll(async () => {
    db = await createTestDatabase();
    await start();
  }, 120_000);
  afterAll(async () => {
    daemon?.process.kill("SIGKILL");
    await daemon?.exited;
    await db?.drop();
  });

  const ingest = async (topic: string, messages: object[]) => {
    const response = await api(daemon.baseUrl, "ingester")(`/api/v1/ingest/${topic}`, {
      method: "POST",
      body: messages.map((m) => JSON.stringify(m)).join("\n"),
    });
    expect(response.status).toBe(200);
    expect(response.body.rejected).toBe(0);
  };
  const get = (path: string) => api(daemon.baseUrl, "viewer")(path);
  const post = (role: "viewer" | "operator", path: string, body: object) =>
    api(daemon.baseUrl, role)(path, {
      method: "POST",
      body: JSON.stringify(body),
      headers: { "Content-Type": "application/json" },
    });
  const collection = (id: string, amount: number, currency = "EUR") => ({
    id,
    direction: "collection",
    amount_minor: amount,
    currency,
    gateway: "stripe",
    reference: id.toUpperCase(),
    created_at: isoDaysFromNow(-3),
    due_at: isoDaysFromNow(1),
  });
  const credit = (entryId: string, amount: number, extra: object = {}) => ({
    entry_id: entryId,
    bank: "bank_a",
    account: "DE00",
    direction: "credit",
    amount_minor: amount,
    currency: "EUR",
    booking_date: dateDaysFromNow(0),
    value_date: dateDaysFromNow(0),
    status: "booked",
    remittance_info: "THANK YOU",
    ...extra,
  });
  const noDifferences = async () =>
    expect(await differencesFromWorld(db.pool, loadConfig({}).policy, Date.now())).toEqual([]);

  it("matches an ambiguous line by hand: the payment settles, the exception resolves, audited", async () => {
    await ingest("payments.expected", [
      collection("amb_1", 4242),
      collection("amb_2", 4242),
      collection("usd_1", 4242, "USD"),
    ]);
    await ingest("bank.settlements", [credit("AMB-LINE", 4242)]);
    const ambiguous = (await get("/api/v1/exceptions?kind=ambiguous")).body.items[0];
    expect(ambiguous).toMatchObject({ entry_id: "AMB-LINE", state: "open" });
    expect(ambiguous.candidates.map((c: { payment_id: string }) => c.payment_id)).toEqual(["amb_1", "amb_2"]);

    const path = "/api/v1/bank-entries/AMB-LINE/match";
    expect((await post("viewer", path, { payment_id: "amb_2" })).status).toBe(403);
    expect((await post("operator", path, {})).status).toBe(400);
    expect((await post("operator", path, { payment_id: "nope" })).status).toBe(404);
    expect((await post("operator", "/api/v1/bank-entries/NOPE/match", { payment_id: "amb_2" })).status).toBe(404);
    const wrongCurrency = await post("operator", path, { payment_id: "usd_1" });
    expect(wrongCurrency.status).toBe(409);
    expect(wrongCurrency.body.error.code).toBe("cannot_fit");

    const matched = await post("operator", path, { payment_id: "amb_2", note: "customer sent the invoice number" });
    expect(matched.status).toBe(200);
    expect(matched.body).toMatchObject({
      entry_id: "AMB-LINE",
      state: "payment",
      decision: { action: "match", target: "payment:amb_2", note: "customer sent the invoice number" },
      match: { payment_id: "amb_2", method: "manual" },
    });
    expect(matched.body.decision.actor).toMatch(/^operator:[0-9a-f]{8}$/);
    const payment = (await get("/api/v1/payments/amb_2")).body;
    expect(payment.status).toBe("settled");
    expect(payment.matches).toEqual([
      expect.objectContaining({ entry_id: "AMB-LINE", rule: "manual", tentative: false }),
    ]);
    expect(payment.matches[0].explanation).toMatch(
      /^matched by hand by operator:[0-9a-f]{8} at \S+: customer sent the invoice number$/,
    );
    expect((await get("/api/v1/payments/amb_1")).body.status).toBe("pending");
    const exception = (await get(`/api/v1/exceptions/${ambiguous.id}`)).body;
    expect(exception.state).toBe("resolved");
    expect(exception.audit.map((entry: { action: string }) => entry.action)).toEqual([
      "opened",
      "manual_match",
      "auto_resolved",
    ]);
    await noDifferences();
  });

  it("unmatches a rule match: the payment loses the money and the rules never pair them again", async () => {
    await ingest("payments.expected", [collection("rule_1", 9900)]);
    await ingest("bank.settlements", [credit("RULE-LINE", 9900, { end_to_end_id: "RULE_1" })]);
    const before = (await get("/api/v1/payments/rule_1")).body;
    expect(before.status).toBe("settled");
    expect(before.matches[0]).toMatchObject({ entry_id: "RULE-LINE", rule: "end_to_end_id" });

    const unmatched = await post("operator", "/api/v1/bank-entries/RULE-LINE/unmatch", {
      note: "a refund, not this order",
    });
    expect(unmatched.status).toBe(200);
    expect(unmatched.body).toMatchObject({
      state: "none",
      match: null,
      decision: { action: "unmatch", target: "payment:rule_1" },
    });
    const after = (await get("/api/v1/payments/rule_1")).body;
    expect(after.status).toBe("pending");
    expect(after.matches).toEqual([]);
    expect((await post("operator", "/api/v1/bank-entries/RULE-LINE/unmatch", {})).status).toBe(409);

    // An amendment of the payment makes the writer match the line again: the rule still may not.
    await ingest("payments.expected", [{ ...collection("rule_1", 9900), version: 2, due_at: isoDaysFromNow(2) }]);
    expect((await get("/api/v1/payments/rule_1")).body.matches).toEqual([]);
    await noDifferences();
  });

  it("keeps both decisions across a kill -9, equal to a from-scratch reconciliation", async () => {
    daemon.process.kill("SIGKILL");
    await daemon.exited;
    await start();
    expect((await get("/api/v1/payments/amb_2")).body).toMatchObject({
      status: "settled",
      matches: [{ rule: "manual" }],
    });
    expect((await get("/api/v1/payments/rule_1")).body).toMatchObject({ status: "pending", matches: [] });
    // New facts after the restart re-match both lines: the decisions still hold.
    await ingest("payments.expected", [collection("amb_3", 4242), { ...collection("amb_2", 4242), version: 2 }]);
    await ingest("bank.settlements", [credit("OTHER-LINE", 1)]);
    expect((await get("/api/v1/payments/amb_2")).body).toMatchObject({
      status: "settled",
      matches: [{ rule: "manual" }],
    });
    expect((await get("/api/v1/payments/rule_1")).body.matches).toEqual([]);
    await noDifferences();
  });
});
