import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { isoDaysFromNow } from "../support/clock.js";
import { ingestAll } from "../support/ingest.js";
import { createTestDatabase, type TestDatabase } from "../support/database.js";
import {
  api,
  type ChildDaemon,
  spawnDaemon,
  startTestDaemon,
  type TestDaemon,
  waitReady,
  waitUntil,
} from "../support/daemon.js";
import { startWebhookReceiver, type WebhookReceiver } from "../support/webhookReceiver.js";
import { connectedProducer, kafkaEnv, readTopic, uniqueTopics } from "../support/kafka.js";

/**
 * Outbound notifications (CONTRACT §9) against a real receiver that fails (500), then hangs past the timeout,
 * then recovers: every notification arrives once it is back, in order per payment, signed; the delivery log
 * shows each failed attempt. And none is lost when the daemon is killed with -9 in the middle.
 */

const SECRET = "whsec_test_notifications";

function notifyEnv(receiver: WebhookReceiver): Record<string, string> {
  return {
    NOTIFY_WEBHOOK_URLS: receiver.url,
    NOTIFY_WEBHOOK_SECRET: SECRET,
    NOTIFY_TIMEOUT: "300ms",
    NOTIFY_RETRY_MIN: "100ms",
    NOTIFY_RETRY_MAX: "400ms",
    FOLLOWUP_INTERVAL: "500ms",
  };
}

const payout = (id: string, amountMinor: number) => ({
  id,
  direction: "payout",
  amount_minor: amountMinor,
  currency: "USD",
  gateway: "stripe",
  reference: `WD-${id}`,
  counterparty: `merchant_${id}`,
  created_at: isoDaysFromNow(-2),
  due_at: isoDaysFromNow(3),
});

const payoutFailed = (id: string, amountMinor: number, failureCode: string) => ({
  event_id: `evt_fail_${id}`,
  gateway: "stripe",
  type: "payout.failed",
  reference: `WD-${id}`,
  gateway_payment_id: `po_${id}`,
  amount_minor: amountMinor,
  currency: "USD",
  occurred_at: isoDaysFromNow(-1),
  failure_code: failureCode,
  failure_message: "from the test",
});

const ingest = ingestAll;

interface Failing {
  id: string;
  amount: number;
  code: string;
}

async function ingestFailedPayouts(baseUrl: string, payouts: Failing[]) {
  await ingest(
    baseUrl,
    "payments.expected",
    payouts.map((p) => payout(p.id, p.amount)),
  );
  await ingest(
    baseUrl,
    "gateway.events",
    payouts.map((p) => payoutFailed(p.id, p.amount, p.code)),
  );
}

describe("notifications to a failing webhook receiver", () => {
  let db: TestDatabase;
  let daemon: TestDaemon;
  let receiver: WebhookReceiver;
  beforeAll(async () => {
    db = await createTestDatabase();
    receiver = await startWebhookReceiver(SECRET, "fail");
    daemon = await startTestDaemon({ DATABASE_URL: db.url, ...notifyEnv(receiver) });
  });
  afterAll(async () => {
    await daemon?.stop();
    await receiver?.close();
    await db?.drop();
  });

  it("delivers every notification once the receiver recovers, in order per payment, signed, with a delivery log", {
    timeout: 60_000,
  }, async () => {
    // 20,000.00 USD each: p2 exceptions (exception_opened) whose failure advises a retry (retry_suggested).
    const large = ["big_1", "big_2", "big_3", "big_4"].map((id) => ({
      id,
      amount: 2_000_000,
      code: "insufficient_funds",
    }));
    // A small technical failure: a retry suggestion, no exception notification (p3 is below NOTIFY_MIN_PRIORITY).
    const small = { id: "small_1", amount: 5_000, code: "could_not_process" };
    // Closed account: no retry suggested, and p3.
    const closed = { id: "closed_1", amount: 50_000, code: "account_closed" };
    await ingestFailedPayouts(daemon.baseUrl, [...large, small, closed]);
    const viewer = api(daemon.baseUrl, "viewer");

    // The receiver fails: the first notification of each payment is attempted and fails; the rest wait behind it.
    const failed = await waitUntil(
      async () => {
        const list = await viewer("/api/v1/notifications?state=failed");
        return list.body.items.length === 5 ? list.body.items : undefined;
      },
      20_000,
      "five failed notifications (the first of each payment)",
    );
    expect(failed.map((item: { payment_id: string }) => item.payment_id).sort()).toEqual(
      ["big_1", "big_2", "big_3", "big_4", "small_1"].sort(),
    );
    const all = (await viewer("/api/v1/notifications?limit=50")).body.items;
    expect(all).toHaveLength(9);
    // The second notification of a large payout has not been attempted: the first holds it back.
    const waiting = all.filter((item: { state: string }) => item.state === "pending");
    expect(waiting).toHaveLength(4);
    for (const item of waiting) expect(item.deliveries[0].attempts).toBe(0);

    receiver.mode = "hang";
    await waitUntil(
      async () => {
        const list = await viewer("/api/v1/notifications?state=failed");
        return list.body.items.some((item: { deliveries: Array<{ last_error: string | null }> }) =>
          item.deliveries[0]!.last_error?.startsWith("no answer within 300 ms"),
        );
      },
      20_000,
      "an attempt that timed out",
    );

    receiver.mode = "ok";
    const delivered = await waitUntil(
      async () => {
        const list = await viewer("/api/v1/notifications?state=delivered&limit=50");
        return list.body.items.length === 9 ? list.body.items : undefined;
      },
      30_000,
      "all nine notifications delivered",
    );
    expect((await viewer("/api/v1/notifications?state=failed")).body.items).toEqual([]);

    // Every notification arrived; each payment's in the order they were stored (their ids ascending).
    const arrived = receiver.delivered();
    expect(arrived.map((item) => item.id).sort()).toEqual(delivered.map((item: { id: string }) => item.id).sort());
    expect(receiver.received.every((item) => item.signatureValid)).toBe(true);
    const byPayment = new Map<string, Array<{ id: number; kind: string }>>();
    for (const item of arrived) {
      const paymentId = String(item.body.payment_id ?? (item.body.exception as { payment_id: string }).payment_id);
      byPayment.set(paymentId, [...(byPayment.get(paymentId) ?? []), { id: Number(item.id), kind: item.kind }]);
    }
    for (const id of ["big_1", "big_2", "big_3", "big_4"]) {
      expect(byPayment.get(id)!.map((item) => item.kind)).toEqual(["exception_opened", "retry_suggested"]);
      const ids = byPayment.get(id)!.map((item) => item.id);
      expect(ids).toEqual([...ids].sort((a, b) => a - b));
    }
    expect(byPayment.get("small_1")!.map((item) => item.kind)).toEqual(["retry_suggested"]);
    expect(byPayment.has("closed_1")).toBe(false);

    const suggestion = arrived.find((item) => item.kind === "retry_suggested" && item.body.payment_id === "big_1")!;
    expect(suggestion.body).toMatchObject({
      payment_id: "big_1",
      reference: "WD-big_1",
      failure_category: "insufficient_funds",
      failure_code: "insufficient_funds",
      retry_advice: "retry",
      amount_minor: 2_000_000,
      currency: "USD",
    });

    // The delivery log of a first-in-line notification: 500s, a timeout, then delivered.
    const first = delivered.find(
      (item: { payment_id: string; kind: string }) => item.payment_id === "big_1" && item.kind === "exception_opened",
    );
    const log = first.deliveries[0].log as Array<{ result: string; http_status: number | null; error: string | null }>;
    expect(log[0]).toMatchObject({ result: "failed", http_status: 500, error: "HTTP 500" });
    expect(log.some((attempt) => attempt.error?.startsWith("no answer within"))).toBe(true);
    expect(log[log.length - 1]).toMatchObject({ result: "delivered", http_status: 200 });
    expect(first.deliveries[0].destination).toBe(new URL(receiver.url).origin);

    // At most once per failure: running the follow-up again stores nothing new.
    const again = await daemon.followUp.runOnce();
    expect(again.queued).toEqual({});
    const metrics = await (await fetch(`${daemon.baseUrl}/metrics`)).text();
    expect(metrics).toMatch(/payrecon_notifications_total\{kind="retry_suggested",result="queued"\} 5\b/);
    expect(metrics).toMatch(/payrecon_notifications_total\{kind="retry_suggested",result="delivered"\} 5\b/);
    expect(metrics).toMatch(/payrecon_notifications_total\{kind="exception_opened",result="failed"\} [1-9]/);
  });
});

describe("notifications across kill -9", () => {
  let db: TestDatabase;
  let child: ChildDaemon | undefined;
  let receiver: WebhookReceiver;
  beforeAll(async () => {
    db = await createTestDatabase();
    receiver = await startWebhookReceiver(SECRET, "fail");
  });
  afterAll(async () => {
    child?.process.kill("SIGKILL");
    await receiver?.close();
    await db?.drop();
  });

  it("loses no notification when the daemon is killed while delivering and right after storing facts", {
    timeout: 120_000,
  }, async () => {
    const env = { DATABASE_URL: db.url, LOG_LEVEL: "warn", ...notifyEnv(receiver) };
    const batch = (from: number) =>
      Array.from({ length: 10 }, (_, i) => ({ id: `k_${from + i}`, amount: 5_000, code: "insufficient_funds" }));
    child = await spawnDaemon(env);
    await waitReady(child.baseUrl);
    await ingestFailedPayouts(child.baseUrl, batch(0));
    await waitUntil(
      async () => (await db.pool.query("select count(*)::int as n from notifications")).rows[0].n === 10,
      20_000,
      "ten notifications stored",
    );
    receiver.mode = "ok";
    await waitUntil(() => receiver.delivered().length >= 3, 20_000, "three delivered");
    // Ten more failures stored, then killed at once: their notifications may not be stored yet.
    await ingestFailedPayouts(child.baseUrl, batch(10));
    child.process.kill("SIGKILL");
    await child.exited;

    child = await spawnDaemon(env);
    await waitReady(child.baseUrl);
    const expected = [...batch(0), ...batch(10)].map((p) => p.id).sort();
    await waitUntil(
      () => {
        const paid = new Set(receiver.delivered().map((item) => String(item.body.payment_id)));
        return expected.every((id) => paid.has(id));
      },
      30_000,
      "a retry suggestion for each of the twenty failed payouts",
    );
    const suggestions = receiver.delivered().filter((item) => item.kind === "retry_suggested");
    expect(suggestions.map((item) => String(item.body.payment_id)).sort()).toEqual(expected);
    expect(receiver.received.every((item) => item.signatureValid)).toBe(true);
    // Stored once each, whatever was re-sent.
    expect((await db.pool.query("select count(*)::int as n from notifications")).rows[0].n).toBe(20);
  });
});

describe("notifications on Kafka", () => {
  let db: TestDatabase;
  let daemon: TestDaemon;
  const topics = uniqueTopics();
  const topic = `${topics.groupId}.notifications`;
  beforeAll(async () => {
    db = await createTestDatabase();
    // payrecon never creates topics (a missing one is left out, see the test below): the mock creates it on first use.
    const producer = await connectedProducer();
    await producer.send({ topic, messages: [{ key: "created-by-the-test", value: "{}" }] });
    await producer.disconnect();
    daemon = await startTestDaemon({ DATABASE_URL: db.url, ...kafkaEnv(topics), TOPIC_NOTIFICATIONS: topic });
  });
  afterAll(async () => {
    await daemon?.stop();
    await db?.drop();
  });

  it("publishes each notification to TOPIC_NOTIFICATIONS, keyed by payment, with the webhook's body", {
    timeout: 60_000,
  }, async () => {
    // With Kafka, HTTP ingest takes the configured topic names.
    await ingestAll(daemon.baseUrl, topics.expected, [payout("kafka_1", 5_000)]);
    await ingestAll(daemon.baseUrl, topics.gateway, [payoutFailed("kafka_1", 5_000, "insufficient_funds")]);
    const messages = (await readTopic(topic, (read) => read.length >= 2)).filter(
      (message) => message.key !== "created-by-the-test",
    );
    expect(messages).toHaveLength(1);
    expect(messages[0]!.key).toBe("kafka_1");
    expect(messages[0]!.headers["x-payrecon-notification-kind"]).toBe("retry_suggested");
    const body = JSON.parse(String(messages[0]!.value));
    const stored = (await api(daemon.baseUrl, "viewer")("/api/v1/notifications")).body.items[0];
    expect(body).toEqual({ id: stored.id, kind: "retry_suggested", created_at: stored.created_at, ...stored.payload });
    expect(stored.state).toBe("stored");
  });

  it("leaves out a notifications topic the cluster lacks, and names it", {
    timeout: 60_000,
  }, async () => {
    const lines: string[] = [];
    const other = await startTestDaemon(
      { DATABASE_URL: db.url, ...kafkaEnv(uniqueTopics()), TOPIC_NOTIFICATIONS: `${topic}.absent` },
      { destination: { write: (line: string) => lines.push(line) }, level: "error" },
    );
    await other.stop();
    expect(lines.some((line) => line.includes(`Kafka topic ${topic}.absent not found`))).toBe(true);
  });
});
