import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runCli } from "../support/cli.js";
import { createTestDatabase, type TestDatabase } from "../support/database.js";
import { API_TOKENS, api, startTestDaemon, type TestDaemon, waitUntil } from "../support/daemon.js";
import { kafkaEnv, readTopic, uniqueTopics } from "../support/kafka.js";

/** `payrecon simulate` sends what it says, and payrecon's report agrees with the summary it prints. */

const BUCKET: Record<string, string> = {
  pending: "in_flight",
  in_flight: "in_flight",
  partially_settled: "in_flight",
  refunded: "reversed",
  charged_back: "reversed",
};

describe("payrecon simulate", () => {
  let db: TestDatabase;
  let daemon: TestDaemon;
  beforeAll(async () => {
    db = await createTestDatabase();
    daemon = await startTestDaemon({ DATABASE_URL: db.url, UNMATCHED_GRACE: "1s", SWEEP_INTERVAL: "500ms" });
  });
  afterAll(async () => {
    await daemon?.stop();
    await db?.drop();
  });

  it("rejects bad options with exit code 2", async () => {
    const result = await runCli(["simulate", "--incidents", "meteor@1"], { API_TOKENS });
    expect(result.code).toBe(2);
    expect(result.stderr).toContain("--incidents");
  });

  it("sends seeded traffic with incidents over HTTP, and the report matches its summary", async () => {
    const run = await runCli(
      [
        "simulate",
        "--payments",
        "600",
        "--wave",
        "150",
        "--rate",
        "5000",
        "--seed",
        "11",
        "--json",
        "--url",
        daemon.baseUrl,
      ],
      { API_TOKENS },
    );
    expect(run.code, run.stderr).toBe(0);
    const summary = JSON.parse(run.stdout);
    expect(summary.payments).toBe(600);
    expect(summary.incidents.map((i: string) => i.split(": ")[1]!.split(" ")[0])).toEqual([
      "gateway_outage",
      "hold_wave",
      "bad_data",
      "statement_missing",
    ]);
    // The same seed sends the same traffic.
    const again = await runCli(
      [
        "simulate",
        "--payments",
        "600",
        "--wave",
        "150",
        "--rate",
        "5000",
        "--seed",
        "11",
        "--json",
        "--url",
        daemon.baseUrl,
      ],
      { API_TOKENS },
    );
    expect(JSON.parse(again.stdout).by_gateway_currency_direction).toEqual(summary.by_gateway_currency_direction);
    expect(JSON.parse(again.stdout).messages).toEqual(summary.messages);

    // Dunning: the operator's contacts on two delayed collections — a promise already passed, and one running.
    expect(summary.dunning_contacts.map((c: { expect: string; result: string }) => `${c.expect}:${c.result}`)).toEqual([
      "broken:recorded",
      "pending:recorded",
    ]);
    await daemon.followUp.runOnce();
    const viewer = api(daemon.baseUrl, "viewer");
    const records = (await viewer("/api/v1/dunning?state=all&limit=500")).body.items;
    for (const contact of summary.dunning_contacts) {
      const record = records.find((r: { payment_id: string }) => r.payment_id === contact.payment_id);
      expect(record?.promise, contact.payment_id).toMatchObject({
        promised_by: contact.promised_by,
        state: contact.expect,
      });
    }
    const broken = (await viewer("/api/v1/notifications?kind=promise_broken")).body.items;
    expect(broken.map((n: { payment_id: string }) => n.payment_id)).toContain(summary.dunning_contacts[0].payment_id);

    await waitUntil(
      async () => {
        const pending = await db.pool.query(
          "select 1 from bank_entry_matches where unmatched_deadline is not null limit 1",
        );
        return pending.rowCount === 0;
      },
      30_000,
      "grace periods swept",
    );
    const report = await api(daemon.baseUrl, "viewer")("/api/v1/reports/reconciliation?from=2000-01-01&format=json");
    expect(report.status).toBe(200);
    type Cell = { count: number; amount_minor: number };
    const rows: Array<Record<string, string | Cell>> = report.body.rows.filter(
      (row: { row_type: string }) => row.row_type === "gateway",
    );
    for (const want of summary.by_gateway_currency_direction) {
      const row = rows.find(
        (r) => r.gateway === want.gateway && r.currency === want.currency && r.direction === want.direction,
      );
      expect(row, `${want.gateway} ${want.currency} ${want.direction}`).toBeDefined();
      const buckets = new Map<string, { count: number; amount: number }>();
      for (const [status, tally] of Object.entries<{ count: number; amount_minor: number }>(want.statuses)) {
        const bucket = BUCKET[status] ?? status;
        const sum = buckets.get(bucket) ?? { count: 0, amount: 0 };
        sum.count += tally.count;
        sum.amount += tally.amount_minor;
        buckets.set(bucket, sum);
      }
      for (const [bucket, sum] of buckets) {
        expect(row?.[bucket] as Cell, `${want.gateway} ${want.currency} ${want.direction} ${bucket}`).toMatchObject({
          count: sum.count,
          amount_minor: sum.amount,
        });
      }
    }
  });

  it("publishes to Kafka when KAFKA_BROKERS is set", async () => {
    const topics = uniqueTopics();
    const run = await runCli(["simulate", "--payments", "50", "--rate", "5000", "--incidents", "none", "--json"], {
      ...kafkaEnv(topics),
    });
    expect(run.code, run.stderr).toBe(0);
    const summary = JSON.parse(run.stdout);
    const expected = await readTopic(topics.expected, (read) => read.length >= summary.messages.expected, 30_000);
    expect(expected).toHaveLength(summary.messages.expected);
  });
});
