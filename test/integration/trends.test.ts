import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { fundsAtRiskTrend, payoutFailuresTrend, settlementDelayTrend } from "../../src/db/queries/trends.js";
import { trendRange } from "../../src/http/statusPage/trends.js";
import { isoDaysFromNow } from "../support/clock.js";
import { createTestDatabase, type TestDatabase } from "../support/database.js";
import { startTestDaemon, TOKENS, type TestDaemon, waitUntil } from "../support/daemon.js";
import { bankEntry, expectedPayment, gatewayEvent } from "../support/facts.js";

/**
 * Issue 18: the status page's trends are rebuilt from status_changes. Facts are dated from the run's clock;
 * the status changes carry the daemon's reconcile time, so the series are asserted around the changes' own times.
 */
describe("trends from status_changes", () => {
  let db: TestDatabase;
  let daemon: TestDaemon;
  const HOUR = 3_600_000;

  const ingest = async (topic: string, messages: object[]) => {
    const response = await fetch(`${daemon.baseUrl}/api/v1/ingest/${topic}`, {
      method: "POST",
      headers: { Authorization: `Bearer ${TOKENS.ingester}` },
      body: messages.map((m) => JSON.stringify(m)).join("\n"),
    });
    expect(response.status).toBe(200);
  };
  const statusOf = async (id: string) =>
    (await db.pool.query<{ status: string }>("select status from payments where id = $1", [id])).rows[0]?.status;
  const changeAt = async (id: string, to: string) =>
    (
      await db.pool.query<{ at: Date }>("select at from status_changes where payment_id = $1 and to_status = $2", [
        id,
        to,
      ])
    ).rows[0]?.at;
  const payout = (n: number, gateway: string, amount: number) =>
    expectedPayment(n, { direction: "payout", gateway, currency: "EUR", amount_minor: amount });
  const payoutEvent = (n: number, gateway: string, type: string, extra: Record<string, unknown> = {}) =>
    gatewayEvent(n, {
      event_id: `evt_${n}_${type}`,
      gateway,
      type,
      currency: "EUR",
      occurred_at: isoDaysFromNow(-0.1),
      ...extra,
    });

  beforeAll(async () => {
    db = await createTestDatabase();
    daemon = await startTestDaemon({ DATABASE_URL: db.url });
    // A collection captured 12 hours ago and booked by the bank: settled about 12 h after acceptance.
    await ingest("payments.expected", [expectedPayment(1, { currency: "EUR", amount_minor: 125_000 })]);
    await ingest("gateway.events", [
      gatewayEvent(1, { currency: "EUR", amount_minor: 125_000, occurred_at: isoDaysFromNow(-0.5) }),
    ]);
    await ingest("bank.settlements", [bankEntry(1, { currency: "EUR", amount_minor: 125_000 })]);
    // Payout failures: two at adyen, one at stripe; and one payout held, then paid.
    await ingest("payments.expected", [
      payout(11, "adyen", 10_010),
      payout(12, "adyen", 20_020),
      payout(13, "stripe", 30_030),
      payout(14, "stripe", 4_000_000),
    ]);
    await ingest("gateway.events", [
      payoutEvent(11, "adyen", "payout.failed", { amount_minor: 10_010, failure_code: "account_closed" }),
      payoutEvent(12, "adyen", "payout.failed", { amount_minor: 20_020, failure_code: "account_closed" }),
      payoutEvent(13, "stripe", "payout.failed", { amount_minor: 30_030, failure_code: "account_frozen" }),
      payoutEvent(14, "stripe", "payout.held", { amount_minor: 4_000_000, hold_reason: "compliance_review" }),
    ]);
    await waitUntil(
      async () => (await statusOf("exp_1")) === "settled" && (await statusOf("exp_14")) === "held",
      20_000,
      "settled and held",
    );
    await ingest("gateway.events", [payoutEvent(14, "stripe", "payout.paid", { amount_minor: 4_000_000 })]);
    await waitUntil(async () => (await statusOf("exp_14")) !== "held", 20_000, "the hold released");
  }, 60_000);

  afterAll(async () => {
    await daemon?.stop();
    await db?.drop();
  });

  it("payout failures per hour by gateway: counted in the hour they failed, nothing in an earlier window", async () => {
    const failedAt = (await changeAt("exp_11", "failed"))!;
    const range = trendRange("24h", new Date(failedAt.getTime() + 1_000));
    const rows = await payoutFailuresTrend(db.pool, range);
    const hour = Math.floor(failedAt.getTime() / HOUR) * HOUR;
    expect(rows.map((row) => ({ ...row, bucket: row.bucket.getTime() }))).toEqual([
      { bucket: hour, gateway: "adyen", failures: 2 },
      { bucket: hour, gateway: "stripe", failures: 1 },
    ]);
    const dayBefore = trendRange("24h", new Date(failedAt.getTime() - 25 * HOUR));
    expect(await payoutFailuresTrend(db.pool, dayBefore)).toEqual([]);
  });

  it("settlement delay: median and 90th percentile of accepted → settled, per hour", async () => {
    const settledAt = (await changeAt("exp_1", "settled"))!;
    const rows = await settlementDelayTrend(db.pool, trendRange("24h", new Date(settledAt.getTime() + 1_000)));
    expect(rows).toHaveLength(1);
    expect(rows[0]!.settled).toBe(1);
    // Captured 0.5 day before the run's now; settled a few seconds after it.
    expect(rows[0]!.median_seconds / 3_600).toBeGreaterThan(11.9);
    expect(rows[0]!.median_seconds / 3_600).toBeLessThan(12.5);
    expect(rows[0]!.p90_seconds).toBe(rows[0]!.median_seconds);
  });

  it("funds at risk by status at each instant: a hold counts while it lasts, failures from when they failed", async () => {
    const heldAt = (await changeAt("exp_14", "held"))!;
    const releasedAt = (
      await db.pool.query<{ at: Date }>(
        "select at from status_changes where payment_id = 'exp_14' and from_status = 'held'",
      )
    ).rows[0]!.at;
    const failedAt = (await changeAt("exp_13", "failed"))!;
    const before = new Date(Math.min(heldAt.getTime(), failedAt.getTime()) - 1);
    const rows = await fundsAtRiskTrend(db.pool, [before, heldAt, releasedAt]);
    const at = (instant: Date, status: string) =>
      rows.find((row) => row.at.getTime() === instant.getTime() && row.status === status && row.currency === "EUR");
    expect(rows.filter((row) => row.at.getTime() === before.getTime())).toEqual([]);
    expect(at(heldAt, "held")).toMatchObject({ count: 1, at_risk_minor: 4_000_000 });
    expect(at(releasedAt, "held")).toBeUndefined();
    // The three failed payouts (the collection settled) from the moment each failed.
    expect(at(releasedAt, "failed")).toMatchObject({ count: 3, at_risk_minor: 60_060 });
  });

  it("a payment's page shows its timeline's amounts in major units and its instants in the one people format", async () => {
    const response = await fetch(`${daemon.baseUrl}/payments/exp_14`, {
      headers: { Authorization: `Bearer ${TOKENS.viewer}` },
    });
    const page = await response.text();
    expect(response.status).toBe(200);
    const timeline = page.slice(page.indexOf('<section id="timeline">'));
    expect(timeline).toContain("40,000.00 EUR");
    expect(timeline).not.toMatch(/amount_minor/);
    expect(timeline).not.toMatch(/\d{4}-\d\d-\d\dT\d\d:\d\d/);
    expect(timeline).toMatch(/received_at<\/span> \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC/);
  });

  it("the public status page draws the three trends as SVG with their data points", async () => {
    const response = await fetch(`${daemon.baseUrl}/?window=1h`);
    const page = await response.text();
    expect(response.status).toBe(200);
    expect(page).toContain('<section id="trends">');
    for (const id of ["trend-funds-eur", "trend-payout-failures", "trend-settlement-delay"])
      expect(page).toMatch(new RegExp(`<figure class="chart" id="${id}">\\s*<svg`));
    expect(page).toMatch(/<circle class="point"[^>]*data-value="600.6"><title>failed at [^<]*: 600.60 EUR/);
    expect(page).toMatch(/<g class="series" data-series="adyen">/);
  });
});
