import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ITEM_ALERT_NAME } from "../../src/alerts/itemAlerts.js";
import { loadConfig } from "../../src/config.js";
import { clockShifted, dateDaysFromNow, isoDaysFromNow } from "../support/clock.js";
import { createTestDatabase, type TestDatabase } from "../support/database.js";
import { api, startTestDaemon, type TestDaemon, waitUntil } from "../support/daemon.js";
import { alertmanagerAlerts, SINK_ALERTMANAGER_CONFIG, type Server, startAlertmanager } from "../support/monitoring.js";
import { differencesFromWorld } from "../support/worldCheck.js";

/**
 * CONTRACT §7, write-off: a written-off payment leaves payrecon_funds_at_risk and the item alerts (a real
 * Alertmanager sees the alert resolve), has its own report column, and late money still settles it.
 */
describe("write-off and reopen", () => {
  let db: TestDatabase;
  let daemon: TestDaemon;
  let alertmanager: Server;

  beforeAll(async () => {
    db = await createTestDatabase();
    alertmanager = await startAlertmanager(SINK_ALERTMANAGER_CONFIG);
    daemon = await startTestDaemon({
      DATABASE_URL: db.url,
      ALERTMANAGER_URL: alertmanager.url,
      ITEM_ALERT_MIN_AMOUNT: "USD:1000,*:500",
      ITEM_ALERT_INTERVAL: "1s",
    });
  }, 120_000);
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
  const get = (path: string) => api(daemon.baseUrl, "viewer")(path);
  const act = (id: string, body: object) =>
    api(daemon.baseUrl, "operator")(`/api/v1/exceptions/${id}/actions`, {
      method: "POST",
      body: JSON.stringify(body),
      headers: { "Content-Type": "application/json" },
    });
  const atRisk = async () => {
    const text = await (await fetch(`${daemon.baseUrl}/metrics`)).text();
    const line = text
      .split("\n")
      .find(
        (l) => l.startsWith("payrecon_funds_at_risk{") && l.includes('status="failed"') && l.includes('currency="USD"'),
      );
    return line ? Number(line.split(" ").at(-1)) : 0;
  };
  const itemAlert = async () =>
    (await alertmanagerAlerts(alertmanager.url)).find((a) => a.labels.alertname === ITEM_ALERT_NAME);

  it("takes the amount out of /metrics and the item alert resolves; reopen brings it back", async () => {
    await ingest("payments.expected", [
      {
        id: "wo_1",
        direction: "payout",
        amount_minor: 250_000,
        currency: "USD",
        gateway: "adyen",
        reference: "WO_1",
        created_at: isoDaysFromNow(-1),
        due_at: isoDaysFromNow(1),
      },
    ]);
    await ingest("gateway.events", [
      {
        event_id: "evt_wo_1",
        gateway: "adyen",
        type: "payout.failed",
        reference: "WO_1",
        amount_minor: 250_000,
        currency: "USD",
        occurred_at: isoDaysFromNow(-0.1),
        failure_code: "counterpartyAccountClosed",
      },
    ]);
    await waitUntil(async () => (await atRisk()) === 2500, 20_000, "2500 USD at risk in /metrics");
    await waitUntil(itemAlert, 20_000, "the item alert in Alertmanager");
    const exception = (await get("/api/v1/exceptions?payment_id=wo_1")).body.items[0];
    expect(exception).toMatchObject({ kind: "failed", state: "open" });

    expect((await act(exception.id, { action: "write_off" })).status).toBe(400);
    const viewer = await api(daemon.baseUrl, "viewer")(`/api/v1/exceptions/${exception.id}/actions`, {
      method: "POST",
      body: JSON.stringify({ action: "write_off", note: "x" }),
      headers: { "Content-Type": "application/json" },
    });
    expect(viewer.status).toBe(403);
    const written = await act(exception.id, {
      action: "write_off",
      note: "beneficiary closed the account; agreed loss",
    });
    expect(written.status).toBe(200);
    expect(written.body.state).toBe("resolved");
    expect(written.body.audit.map((entry: { action: string }) => entry.action)).toEqual([
      "opened",
      "write_off",
      "auto_resolved",
    ]);
    const payment = (await get("/api/v1/payments/wo_1")).body;
    expect(payment).toMatchObject({ status: "written_off", at_risk_minor: 0, failure_category: null });
    expect(payment.status_reason).toMatch(/^written off by operator:[0-9a-f]{8} at \S+: beneficiary closed/);
    expect((await act(exception.id, { action: "write_off", note: "again" })).status).toBe(409);

    await waitUntil(async () => (await atRisk()) === 0, 20_000, "nothing at risk in /metrics");
    const sentBack = Date.now();
    await waitUntil(
      async () => {
        const alert = await itemAlert();
        return (
          !alert || (clockShifted && Date.parse(alert.endsAt) >= sentBack && Date.parse(alert.endsAt) <= Date.now())
        );
      },
      20_000,
      "the item alert resolved",
    );
    const report = await get(`/api/v1/reports/reconciliation?from=${dateDaysFromNow(-5)}&to=${dateDaysFromNow(5)}`);
    const row = report.body.rows.find((r: { gateway: string }) => r.gateway === "adyen");
    expect(row.written_off).toMatchObject({ count: 1 });
    expect(row.failed).toMatchObject({ count: 0 });

    const reopened = await act(exception.id, { action: "reopen", note: "the beneficiary answered" });
    expect(reopened.status).toBe(200);
    expect(reopened.body.state).toBe("open");
    expect((await get("/api/v1/payments/wo_1")).body.status).toBe("failed");
    await waitUntil(async () => (await atRisk()) === 2500, 20_000, "at risk again");
    expect(await differencesFromWorld(db.pool, loadConfig({}).policy, Date.now())).toEqual([]);
  });

  it("late money still settles a written-off payment, and says so", async () => {
    const exception = (await get("/api/v1/exceptions?payment_id=wo_1")).body.items[0];
    expect((await act(exception.id, { action: "write_off", note: "second attempt failed too" })).status).toBe(200);
    expect((await get("/api/v1/payments/wo_1")).body.status).toBe("written_off");
    await ingest("bank.settlements", [
      {
        entry_id: "WO-LATE",
        bank: "bank_a",
        account: "US00",
        direction: "debit",
        amount_minor: 250_000,
        currency: "USD",
        booking_date: dateDaysFromNow(0),
        value_date: dateDaysFromNow(0),
        status: "booked",
        end_to_end_id: "WO_1",
      },
      // The gateway's retry paid it after all.
    ]);
    await ingest("gateway.events", [
      {
        event_id: "evt_wo_1_paid",
        gateway: "adyen",
        type: "payout.paid",
        reference: "WO_1",
        amount_minor: 250_000,
        currency: "USD",
        occurred_at: isoDaysFromNow(-0.01),
      },
    ]);
    const payment = (await get("/api/v1/payments/wo_1")).body;
    expect(payment.status).toBe("settled");
    expect(payment.flags).toContain("write_off_overtaken");
    expect(payment.timeline.map((entry: { type: string }) => entry.type)).toEqual(
      expect.arrayContaining(["status.written_off", "status.settled"]),
    );
    expect(await differencesFromWorld(db.pool, loadConfig({}).policy, Date.now())).toEqual([]);
  });
});
