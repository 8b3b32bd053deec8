import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestDatabase, type TestDatabase } from "../support/database.js";
import { api, startTestDaemon, type TestDaemon } from "../support/daemon.js";
import { bankEntry, expectedPayment, gatewayEvent, invalidSamples, reserialized } from "../support/facts.js";

/** The embedded default path: no Kafka, events over POST /api/v1/ingest/{topic}, same validation and idempotency. */
describe("HTTP ingest", () => {
  let db: TestDatabase;
  let daemon: TestDaemon;
  beforeAll(async () => {
    db = await createTestDatabase();
    daemon = await startTestDaemon({ DATABASE_URL: db.url, HTTP_BODY_LIMIT: "256kb" });
  });
  afterAll(async () => {
    await daemon?.stop();
    await db?.drop();
  });

  const ndjson = (lines: Array<string | Buffer>) =>
    Buffer.concat(lines.flatMap((line) => [Buffer.isBuffer(line) ? line : Buffer.from(line), Buffer.from("\n")]));

  it("accepts each distinct fact once, reports duplicates and rejects bad lines with their reason", async () => {
    const post = api(daemon.baseUrl, "ingester");
    const invalid = invalidSamples().filter((sample) => sample.kind === "gateway" && sample.value.length > 0);
    const events = Array.from({ length: 30 }, (_, n) => gatewayEvent(n));
    const body = ndjson([
      ...events.map((event) => JSON.stringify(event)),
      ...invalid.map((sample) => sample.value),
      JSON.stringify(events[0]),
      reserialized(events[1]!),
    ]);
    const first = await post("/api/v1/ingest/gateway.events", { method: "POST", body });
    expect(first.status).toBe(200);
    expect(first.body).toMatchObject({ accepted: events.length, duplicates: 2, rejected: invalid.length });
    const rejectedLines = first.body.lines.filter((line: { status: string }) => line.status === "rejected");
    expect(rejectedLines.map((line: { reason: string }) => line.reason)).toEqual(
      invalid.map((sample) => sample.reason),
    );
    for (const line of rejectedLines) expect(line.detail.length).toBeGreaterThan(5);
    expect(rejectedLines.map((line: { line: number }) => line.line)).toEqual(
      invalid.map((_, index) => events.length + index + 1),
    );

    const again = await post("/api/v1/ingest/gateway.events", { method: "POST", body });
    expect(again.body).toMatchObject({ accepted: 0, duplicates: events.length + 2, rejected: invalid.length });

    const stored = await db.pool.query<{ events: number; rejected: number }>(
      `select (select count(*)::int from gateway_events) as events,
              (select count(*)::int from rejected_messages where source = 'http') as rejected`,
    );
    // Rejected lines are recorded every time they are sent: nothing is silently dropped.
    expect(stored.rows[0]).toEqual({ events: events.length, rejected: invalid.length * 2 });
  });

  it("ingests all three topics and reconciles across them", async () => {
    const post = api(daemon.baseUrl, "ingester");
    const payment = expectedPayment(7001, { direction: "collection", currency: "EUR", gateway: "stripe" });
    const entry = bankEntry(7001, { amount_minor: payment.amount_minor, currency: "EUR" });
    expect(
      (await post("/api/v1/ingest/bank.settlements", { method: "POST", body: JSON.stringify(entry) })).status,
    ).toBe(200);
    expect(
      (await post("/api/v1/ingest/payments.expected", { method: "POST", body: JSON.stringify(payment) })).status,
    ).toBe(200);
    const view = await api(daemon.baseUrl, "viewer")(`/api/v1/payments/${payment.id}`);
    expect(view.status).toBe(200);
    expect(view.body).toMatchObject({ id: payment.id, status: "settled", settled_amount_minor: payment.amount_minor });
    expect(view.body.timeline.map((item: { type: string }) => item.type)).toEqual(
      expect.arrayContaining(["expected.created", "bank.booked", "status.settled"]),
    );
  });

  it("answers 401 without a valid token, 403 for the wrong role, 404 for an unknown topic, 413 when too large", async () => {
    const body = JSON.stringify(expectedPayment(1));
    expect((await api(daemon.baseUrl, null)("/api/v1/ingest/payments.expected", { method: "POST", body })).status).toBe(
      401,
    );
    const wrongToken = await fetch(`${daemon.baseUrl}/api/v1/ingest/payments.expected`, {
      method: "POST",
      body,
      headers: { Authorization: "Bearer not-a-token" },
    });
    expect(wrongToken.status).toBe(401);
    expect(await wrongToken.json()).toMatchObject({ error: { code: "unauthenticated" } });
    const viewer = await api(daemon.baseUrl, "viewer")("/api/v1/ingest/payments.expected", { method: "POST", body });
    expect(viewer.status).toBe(403);
    expect(viewer.body).toMatchObject({ error: { code: "forbidden" } });
    const ingesterReads = await api(daemon.baseUrl, "ingester")("/api/v1/payments/exp_1");
    expect(ingesterReads.status).toBe(403);
    const unknown = await api(daemon.baseUrl, "ingester")("/api/v1/ingest/nope", { method: "POST", body });
    expect(unknown.status).toBe(404);
    const huge = await api(daemon.baseUrl, "ingester")("/api/v1/ingest/payments.expected", {
      method: "POST",
      body: "x".repeat(300 * 1024),
    });
    expect(huge.status).toBe(413);
    expect(huge.body).toMatchObject({ error: { code: "payload_too_large" } });
  });

  it("reports health and readiness and serves metrics without a token", async () => {
    expect((await fetch(`${daemon.baseUrl}/healthz`)).status).toBe(200);
    const ready = await fetch(`${daemon.baseUrl}/readyz`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toMatchObject({ checks: { postgres: "ok", migrations: "ok", kafka: "not_configured" } });
    const metrics = await (await fetch(`${daemon.baseUrl}/metrics`)).text();
    expect(metrics).toMatch(/^payrecon_build_info\{version="[^"]+",commit="[^"]+"\} 1$/m);
    expect(metrics).toMatch(/^process_cpu_user_seconds_total /m);
  });
});
