import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ITEM_ALERT_NAME } from "../../src/alerts/itemAlerts.js";
import { clockShifted } from "../support/clock.js";
import { createTestDatabase, type TestDatabase } from "../support/database.js";
import { api, startTestDaemon, type TestDaemon, waitUntil } from "../support/daemon.js";
import { alertmanagerAlerts, SINK_ALERTMANAGER_CONFIG, type Server, startAlertmanager } from "../support/monitoring.js";

/** A large payout that fails reaches a real Alertmanager with its id and amount, and resolves when it recovers. */
describe("item-level alerts", () => {
  let db: TestDatabase;
  let daemon: TestDaemon;
  let alertmanager: Server;
  const now = Date.now();
  const iso = (ms: number) => new Date(ms).toISOString();

  beforeAll(async () => {
    db = await createTestDatabase();
    alertmanager = await startAlertmanager(SINK_ALERTMANAGER_CONFIG);
    daemon = await startTestDaemon({
      DATABASE_URL: db.url,
      ALERTMANAGER_URL: alertmanager.url,
      ITEM_ALERT_MIN_AMOUNT: "USD:1000,*:500",
      ITEM_ALERT_INTERVAL: "1s",
    });
  });
  afterAll(async () => {
    await daemon?.stop();
    await alertmanager?.stop();
    await db?.drop();
  });

  const ingest = (topic: string, messages: object[]) =>
    api(daemon.baseUrl, "ingester")(`/api/v1/ingest/${topic}`, {
      method: "POST",
      body: messages.map((m) => JSON.stringify(m)).join("\n"),
    });
  const payout = (id: string, amount: number) => ({
    id,
    direction: "payout",
    amount_minor: amount,
    currency: "USD",
    gateway: "adyen",
    reference: id,
    counterparty: `cp_${id}`,
    created_at: iso(now - 86_400_000),
    due_at: iso(now + 86_400_000),
  });
  const failure = (id: string, amount: number) => ({
    event_id: `evt_${id}`,
    gateway: "adyen",
    type: "payout.failed",
    reference: id,
    amount_minor: amount,
    currency: "USD",
    occurred_at: iso(now - 3_600_000),
    failure_code: "counterpartyAccountClosed",
  });

  it("pushes large failures with bounded labels and the payments in annotations; small ones stay quiet", async () => {
    // 2,500.00 and 1,500.00 USD are over the 1,000 USD threshold; 900.00 is not.
    await ingest("payments.expected", [payout("big_1", 250_000), payout("big_2", 150_000), payout("small_1", 90_000)]);
    await ingest("gateway.events", [failure("big_1", 250_000), failure("big_2", 150_000), failure("small_1", 90_000)]);
    const alert = await waitUntil(
      async () => (await alertmanagerAlerts(alertmanager.url)).find((a) => a.labels.alertname === ITEM_ALERT_NAME),
      20_000,
      "the item alert in Alertmanager",
    );
    expect(alert.labels).toEqual({
      alertname: ITEM_ALERT_NAME,
      severity: "critical",
      status: "failed",
      direction: "payout",
      gateway: "adyen",
      currency: "USD",
      failure_category: "account_closed",
    });
    expect(alert.annotations.count).toBe("2");
    expect(alert.annotations.amount).toBe("4000.00 USD");
    expect(alert.annotations.payments).toContain("big_1 (counterparty cp_big_1): 2500.00 USD");
    expect(alert.annotations.payments).toContain("big_2");
    expect(alert.annotations.payments).not.toContain("small_1");
    expect(alert.annotations.runbook_url).toMatch(/docs\/runbooks\/PayreconLargePaymentAtRisk\.md$/);
  });

  it("resolves when the payments recover", async () => {
    const paid = (id: string, amount: number) => ({
      event_id: `evt_paid_${id}`,
      gateway: "adyen",
      type: "payout.paid",
      reference: id,
      amount_minor: amount,
      currency: "USD",
      occurred_at: iso(now - 1_000),
    });
    await ingest("gateway.events", [paid("big_1", 250_000), paid("big_2", 150_000)]);
    // Resolved means payrecon sent the alert again ending now. Alertmanager then drops it, unless its clock
    // is behind payrecon's (a shifted test clock: see clockShifted), where it keeps it until that end.
    const sentBack = Date.now();
    await waitUntil(
      async () =>
        (await alertmanagerAlerts(alertmanager.url)).every(
          (a) =>
            a.labels.alertname !== ITEM_ALERT_NAME ||
            (clockShifted && Date.parse(a.endsAt) >= sentBack && Date.parse(a.endsAt) <= Date.now()),
        ),
      20_000,
      "the item alert resolved",
    );
  });
});
