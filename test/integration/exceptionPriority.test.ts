import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadConfig } from "../../src/config.js";
import { escalateByAge } from "../../src/db/queries/exceptions.js";
import { DEFAULT_PRIORITY_TIERS, prioritize } from "../../src/reconcile/priority.js";
import { createTestDatabase, type TestDatabase } from "../support/database.js";
import { api, startTestDaemon, waitUntil } from "../support/daemon.js";
import { expectedPayment, gatewayEvent } from "../support/facts.js";

/** Exceptions get a priority and a deadline from amount and age, configurable, and rise as they age. */
describe("exception priority", () => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await createTestDatabase();
  });
  afterAll(async () => {
    await db?.drop();
  });

  it("ranks by amount in the reference currency (EUR), each currency's decimals respected", () => {
    // The same 2,000,000 minor units: 20,000.00 EUR (p2), ¥2,000,000 ≈ €12,200 (p2), KWD 2,000.000 ≈ €6,000 (p3).
    expect(prioritize(2_000_000, "EUR", 0).priority).toBe("p2");
    expect(prioritize(2_000_000, "JPY", 0).priority).toBe("p2");
    expect(prioritize(2_000_000, "KWD", 0).priority).toBe("p3");
    // Age alone raises it: a small amount open six days is p1.
    expect(prioritize(100, "KWD", 6 * 86_400_000).priority).toBe("p1");
  });

  it("reads its tiers from EXCEPTION_PRIORITY_TIERS, and refuses a bad one naming the variable", () => {
    const tiers = loadConfig({ EXCEPTION_PRIORITY_TIERS: "p1:500:1d:4h,p3:0:0s:2d" }).policy.priorityTiers;
    expect(tiers).toEqual([
      { priority: "p1", minAmountMajor: 500, minAgeMs: 86_400_000, resolveWithinMs: 4 * 3_600_000 },
      { priority: "p3", minAmountMajor: 0, minAgeMs: 0, resolveWithinMs: 2 * 86_400_000 },
    ]);
    expect(prioritize(60_000, "USD", 0, tiers).priority).toBe("p1");
    expect(() => loadConfig({ EXCEPTION_PRIORITY_TIERS: "urgent:1:1d:1h" })).toThrow(/EXCEPTION_PRIORITY_TIERS/);
  });

  it("raises open exceptions as they age, brings their deadline forward, and leaves resolved ones alone", async () => {
    const day = 86_400_000;
    const now = new Date();
    const insert = (kind: string, subject: string, ageDays: number, state: string) =>
      db.pool.query(
        `insert into exceptions (kind, subject_type, subject_key, owner, amount_minor, currency, detail, state, priority,
                                 due_by, opened_at, updated_at)
         values ($1, 'payment', $2, $2, 100, 'EUR', 'test', $3, 'p3', $4, $5, $5)`,
        [kind, subject, state, new Date(now.getTime() + 7 * day), new Date(now.getTime() - ageDays * day)],
      );
    await insert("delayed", "payment:young", 1, "open");
    await insert("delayed", "payment:older", 3, "open");
    await insert("delayed", "payment:old", 6, "acknowledged");
    await insert("delayed", "payment:done", 9, "resolved");
    const raised = await escalateByAge(db.pool, now, DEFAULT_PRIORITY_TIERS);
    const rows = await db.pool.query<{ subject_key: string; priority: string; due_by: Date }>(
      "select subject_key, priority, due_by from exceptions order by subject_key",
    );
    const by = Object.fromEntries(rows.rows.map((row) => [row.subject_key, row]));
    expect(by["payment:young"]!.priority).toBe("p3");
    expect(by["payment:older"]!.priority).toBe("p2");
    expect(by["payment:old"]!.priority).toBe("p1");
    expect(by["payment:done"]!.priority).toBe("p3");
    expect(by["payment:old"]!.due_by.getTime()).toBeLessThanOrEqual(now.getTime() + day);
    expect(raised).toBe(2);
  });

  it("the daemon ranks with the configured rates: ¥249,930 failed is p3 by default, p1 with PRIORITY_RATES=JPY=1", async () => {
    const priorityOf = async (env: Record<string, string>) => {
      const own = await createTestDatabase();
      const daemon = await startTestDaemon({ DATABASE_URL: own.url, ...env });
      try {
        const ingest = api(daemon.baseUrl, "ingester");
        const payment = expectedPayment(1, { direction: "payout", currency: "JPY", amount_minor: 249_930 });
        const failure = gatewayEvent(1, {
          type: "payout.failed",
          currency: "JPY",
          amount_minor: 249_930,
          failure_code: "account_closed",
        });
        expect(
          (await ingest("/api/v1/ingest/payments.expected", { method: "POST", body: JSON.stringify(payment) })).status,
        ).toBeLessThan(300);
        expect(
          (await ingest("/api/v1/ingest/gateway.events", { method: "POST", body: JSON.stringify(failure) })).status,
        ).toBeLessThan(300);
        const viewer = api(daemon.baseUrl, "viewer");
        const exception = await waitUntil(
          async () => (await viewer(`/api/v1/exceptions?payment_id=${payment.id}&kind=failed`)).body?.items?.[0],
          30_000,
          "the failed exception",
        );
        return exception.priority as string;
      } finally {
        await daemon.stop();
        await own.drop();
      }
    };
    expect(await priorityOf({})).toBe("p3");
    expect(await priorityOf({ PRIORITY_RATES: "JPY=1" })).toBe("p1");
  });
});
