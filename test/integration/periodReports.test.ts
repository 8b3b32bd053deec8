import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { dateDaysFromNow } from "../support/clock.js";
import { runCli } from "../support/cli.js";
import { ingestAll } from "../support/ingest.js";
import { createTestDatabase, type TestDatabase } from "../support/database.js";
import { api, startTestDaemon, type TestDaemon, waitUntil } from "../support/daemon.js";

/**
 * Periodic review (CONTRACT §9) on the daemon's injected clock: a daily report is stored when 06:00 passes and
 * report_ready notified; an operator signs the day off; a late fact that changes the day is a post-close
 * adjustment, listed on the report and notified — once.
 */

describe("scheduled period reports", () => {
  let db: TestDatabase;
  let daemon: TestDaemon;
  const today = dateDaysFromNow(0);
  const yesterday = dateDaysFromNow(-1);
  let now = Date.parse(`${today}T05:00:00Z`);

  beforeAll(async () => {
    db = await createTestDatabase();
    daemon = await startTestDaemon(
      { DATABASE_URL: db.url, REPORT_SCHEDULE: "daily@06:00", REPORT_TZ: "UTC", FOLLOWUP_INTERVAL: "1h" },
      undefined,
      { clock: () => new Date(now) },
    );
  });
  afterAll(async () => {
    await daemon?.stop();
    await db?.drop();
  });

  const get = (path: string) => api(daemon.baseUrl, "viewer")(path);
  const ingest = (topic: string, messages: object[]) => ingestAll(daemon.baseUrl, topic, messages);
  const collection = (id: string, amount: number) => ({
    id,
    direction: "collection",
    amount_minor: amount,
    currency: "EUR",
    gateway: "stripe",
    reference: `INV-${id}`,
    counterparty: "cust_r",
    created_at: `${yesterday}T10:00:00Z`,
    due_at: `${dateDaysFromNow(20)}T10:00:00Z`,
  });

  it("stores the closed day at 06:00, signs it off, and lists and notifies a late change as an adjustment", {
    timeout: 60_000,
  }, async () => {
    await ingest("payments.expected", [collection("rep_1", 12_500), collection("rep_2", 7_500)]);
    // 05:00: the last closed day with its report due is the day before yesterday (stored at start-up).
    await daemon.followUp.runOnce();
    let list = (await get("/api/v1/reports")).body.items;
    expect(list.map((item: { period: { label: string } }) => item.period.label)).toEqual([dateDaysFromNow(-2)]);

    // 06:30: yesterday has closed and its report is due.
    now = Date.parse(`${today}T06:30:00Z`);
    await daemon.followUp.runOnce();
    list = (await get("/api/v1/reports")).body.items;
    expect(list.map((item: { period: { label: string } }) => item.period.label)).toEqual([
      yesterday,
      dateDaysFromNow(-2),
    ]);
    const id = list[0].id as string;
    expect(list[0]).toMatchObject({
      period: { schedule: "daily", tz: "UTC", from: `${yesterday}T00:00:00.000Z`, to: `${today}T00:00:00.000Z` },
      signed_off: null,
      adjustments: 0,
    });
    const report = (await get(`/api/v1/reports/${id}`)).body;
    const total = report.report.rows.find((row: { row_type: string }) => row.row_type === "total");
    expect(total.expected).toMatchObject({ count: 2, amount_minor: 20_000 });
    const csv = await fetch(`${daemon.baseUrl}/api/v1/reports/${id}?format=csv`, {
      headers: { Authorization: "Bearer viewer-token" },
    });
    expect(csv.headers.get("content-type")).toMatch(/^text\/csv/);
    expect(await csv.text()).toContain("stripe");
    // One report_ready per stored report. (Counted from the store, not from one run's answer: a run started in the
    // background by an ingest commit may be the one that stored it.)
    const ready = (await get("/api/v1/notifications?kind=report_ready")).body.items;
    expect(ready.map((item: { payload: { report_id: string } }) => item.payload.report_id).sort()).toEqual(
      list.map((item: { id: string }) => item.id).sort(),
    );
    const adjustments = async () => (await get("/api/v1/notifications?kind=post_close_adjustment")).body.items;

    // Signed off by an operator (a viewer may not; twice is refused).
    const signoff = (role: "viewer" | "operator") =>
      api(daemon.baseUrl, role)(`/api/v1/reports/${id}/signoff`, {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ note: "checked against the bank statement" }),
      });
    expect((await signoff("viewer")).status).toBe(403);
    const signed = await signoff("operator");
    expect(signed.status).toBe(200);
    expect(signed.body.signed_off).toMatchObject({
      by: expect.stringMatching(/^operator:/),
      note: "checked against the bank statement",
    });
    expect((await signoff("operator")).status).toBe(409);
    await daemon.followUp.runOnce();
    expect(await adjustments()).toEqual([]);

    // A late fact: the bank shows rep_1 paid. Yesterday's figures change after sign-off.
    await ingest("bank.settlements", [
      {
        entry_id: "rep-1-credit",
        bank: "bank_a",
        account: "DE89370400440532013000",
        direction: "credit",
        amount_minor: 12_500,
        currency: "EUR",
        booking_date: today,
        value_date: today,
        status: "booked",
        end_to_end_id: "INV-rep_1",
        remittance_info: "INV-rep_1",
        counterparty_name: "CUST R",
      },
    ]);
    await waitUntil(
      async () => (await get("/api/v1/payments/rep_1")).body.status === "settled",
      10_000,
      "rep_1 settled",
    );
    now += 60_000;
    await daemon.followUp.runOnce();
    const adjusted = (await get(`/api/v1/reports/${id}`)).body;
    expect(adjusted.adjustments).toBe(1);
    expect(adjusted.post_close_adjustments[0].changes).toEqual(
      expect.arrayContaining([
        {
          row: "stripe|EUR|collection",
          field: "settled",
          before: { count: 0, amount_minor: 0 },
          after: { count: 1, amount_minor: 12_500 },
        },
        {
          row: "stripe|EUR|collection",
          field: "in_flight",
          before: { count: 2, amount_minor: 20_000 },
          after: { count: 1, amount_minor: 7_500 },
        },
      ]),
    );
    const md = await (
      await fetch(`${daemon.baseUrl}/api/v1/reports/${id}?format=md`, {
        headers: { Authorization: "Bearer viewer-token" },
      })
    ).text();
    expect(md).toContain("## Post-close adjustments");
    expect(md).toMatch(/stripe\|EUR\|collection \| settled \| 0 · 0 \| 1 · 12500/);
    const notified = await adjustments();
    expect(notified).toHaveLength(1);
    expect(notified[0].payload).toMatchObject({ report_id: id, period: { label: yesterday } });
    // Nothing changed since: no second adjustment.
    now += 60_000;
    await daemon.followUp.runOnce();
    expect(await adjustments()).toHaveLength(1);
    expect((await get(`/api/v1/reports/${id}`)).body.adjustments).toBe(1);
  });

  it("prints yesterday's report with payrecon report --period yesterday, and refuses an unknown period", {
    timeout: 60_000,
  }, async () => {
    const env = { DATABASE_URL: db.url, LOG_LEVEL: "silent" };
    const result = await runCli(["report", "--period", "yesterday", "--format", "json"], env, 30_000);
    expect(result.code, result.stderr).toBe(0);
    const json = JSON.parse(result.stdout);
    expect(json.from).toBe(`${yesterday}T00:00:00.000Z`);
    expect(json.to).toBe(`${today}T00:00:00.000Z`);
    expect(json.rows.find((row: { row_type: string }) => row.row_type === "total").expected.count).toBe(2);
    const bad = await runCli(["report", "--period", "fortnight"], env, 30_000);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain("--period: must be yesterday, last-week or last-month");
  });
});
