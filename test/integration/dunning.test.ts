import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { dateDaysFromNow, isoDaysFromNow } from "../support/clock.js";
import { ingestAll } from "../support/ingest.js";
import { createTestDatabase, type TestDatabase } from "../support/database.js";
import { launchChromium } from "../support/browser.js";
import { api, startTestDaemon, TOKENS, type TestDaemon, waitUntil } from "../support/daemon.js";
import { startWebhookReceiver, type WebhookReceiver } from "../support/webhookReceiver.js";

/**
 * Dunning (CONTRACT §9) on the daemon's injected clock: records open for a delayed collection and a failed
 * payout, reminder steps come due as the clock runs forward, an operator records a contact with a promise,
 * the promise passes unpaid (the exception rises one priority, promise_broken is notified), and a payment
 * that is paid closes its record with its remaining steps skipped.
 */

const DAY = 86_400_000;
const SECRET = "whsec_dunning";

describe("dunning on an injected clock", () => {
  let db: TestDatabase;
  let daemon: TestDaemon;
  let receiver: WebhookReceiver;
  // Due at noon UTC yesterday (always in the past, on a day boundary the test can reason about).
  const dueAt = `${dateDaysFromNow(-1)}T12:00:00.000Z`;
  const since = Date.parse(dueAt);
  let now = since + 0.25 * DAY;
  const at = (days: number) => {
    now = since + days * DAY;
  };

  beforeAll(async () => {
    db = await createTestDatabase();
    receiver = await startWebhookReceiver(SECRET);
    daemon = await startTestDaemon(
      {
        DATABASE_URL: db.url,
        NOTIFY_WEBHOOK_URLS: receiver.url,
        NOTIFY_WEBHOOK_SECRET: SECRET,
        NOTIFY_RETRY_MIN: "100ms",
        FOLLOWUP_INTERVAL: "1h",
      },
      undefined,
      { clock: () => new Date(now) },
    );
  });
  afterAll(async () => {
    await daemon?.stop();
    await receiver?.close();
    await db?.drop();
  });

  const ingest = (topic: string, messages: object[]) => ingestAll(daemon.baseUrl, topic, messages);
  const get = (path: string) => api(daemon.baseUrl, "viewer")(path);
  const act = (exceptionId: string, body: object) =>
    api(daemon.baseUrl, "operator")(`/api/v1/exceptions/${exceptionId}/actions`, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify(body),
    });
  const collection = (id: string) => ({
    id,
    direction: "collection",
    amount_minor: 50_000,
    currency: "EUR",
    gateway: "stripe",
    reference: `INV-${id}`,
    counterparty: `cust_${id}`,
    created_at: isoDaysFromNow(-20),
    due_at: dueAt,
  });
  const record = async (paymentId: string) => {
    const list = await get("/api/v1/dunning?state=all&limit=50");
    return list.body.items.find((item: { payment_id: string }) => item.payment_id === paymentId);
  };
  const kindsOf = async (paymentId: string) =>
    (await get(`/api/v1/notifications?payment_id=${paymentId}&limit=50`)).body.items
      .map((item: { kind: string; payload: { step?: number } }) =>
        item.kind === "reminder_due" ? `reminder_due#${item.payload.step}` : item.kind,
      )
      .reverse();

  it("runs reminder steps, a contact with a promise, a broken promise and a payment that closes its record", {
    timeout: 60_000,
  }, async () => {
    await ingest("payments.expected", [
      collection("dun_a"),
      collection("dun_c"),
      {
        id: "dun_b",
        direction: "payout",
        amount_minor: 30_000,
        currency: "USD",
        gateway: "stripe",
        reference: "WD-dun_b",
        counterparty: "merchant_b",
        created_at: isoDaysFromNow(-3),
        due_at: isoDaysFromNow(2),
      },
    ]);
    await ingest("gateway.events", [
      {
        event_id: "evt_dun_b",
        gateway: "stripe",
        type: "payout.failed",
        reference: "WD-dun_b",
        gateway_payment_id: "po_dun_b",
        amount_minor: 30_000,
        currency: "USD",
        occurred_at: isoDaysFromNow(-1),
        failure_code: "account_closed",
      },
    ]);
    expect((await get("/api/v1/payments/dun_a")).body.status).toBe("delayed");

    // Day 0.25: records open with four scheduled steps; nothing is due yet.
    await daemon.followUp.runOnce();
    const a0 = await record("dun_a");
    expect(a0).toMatchObject({ reason: "delayed", since: dueAt, state: "open", priority: "p3" });
    expect(a0.steps.map((step: { due_at: string; state: string }) => [step.due_at, step.state])).toEqual(
      [1, 3, 7, 14].map((days) => [new Date(since + days * DAY).toISOString(), "scheduled"]),
    );
    expect((await record("dun_b")).reason).toBe("failed");
    expect((await get("/api/v1/dunning?state=due")).body.items).toEqual([]);
    expect(
      (await get("/api/v1/dunning?state=open&currency=USD")).body.items.map(
        (i: { payment_id: string }) => i.payment_id,
      ),
    ).toEqual(["dun_b"]);

    // Day 1.1: the first step is due for both collections: the work list, oldest first, and a reminder each.
    at(1.1);
    await daemon.followUp.runOnce();
    const due = (await get("/api/v1/dunning?state=due&currency=EUR")).body.items;
    expect(due.map((item: { payment_id: string }) => item.payment_id)).toEqual(["dun_a", "dun_c"]);
    expect(due[0].steps[0].state).toBe("due");
    expect(due[0].days_overdue).toBe(1);
    const page1 = await get("/api/v1/dunning?state=due&currency=EUR&limit=1");
    const page2 = await get(`/api/v1/dunning?state=due&currency=EUR&limit=1&cursor=${page1.body.next_cursor}`);
    expect(page2.body.items[0].payment_id).toBe("dun_c");
    expect(await kindsOf("dun_a")).toEqual(["reminder_due#1"]);

    // An operator phones A's counterparty, who promises to pay by day 2's date.
    const promisedBy = new Date(since + 2 * DAY).toISOString().slice(0, 10);
    const exceptionId = a0.exception_id as string;
    expect(
      (await act(exceptionId, { action: "contacted", channel: "pigeon", note: "x" })).status,
      "an unknown channel",
    ).toBe(400);
    const contacted = await act(exceptionId, {
      action: "contacted",
      channel: "phone",
      note: "spoke to accounts payable",
      promised_by: promisedBy,
    });
    expect(contacted.status).toBe(200);
    expect(contacted.body.audit.at(-1)).toMatchObject({
      action: "contacted",
      note: `phone, promised by ${promisedBy}: spoke to accounts payable`,
    });
    expect(contacted.body.dunning.steps[0].state).toBe("sent");
    expect(contacted.body.dunning.promise).toEqual({ promised_by: promisedBy, state: "pending" });
    // The other actions still reach the exceptions router.
    expect((await act(exceptionId, { action: "note", note: "will check again" })).status).toBe(200);

    // C pays (late): its record closes, its remaining steps are skipped.
    await ingest("bank.settlements", [
      {
        entry_id: "dun-c-credit",
        bank: "bank_a",
        account: "DE89370400440532013000",
        direction: "credit",
        amount_minor: 50_000,
        currency: "EUR",
        booking_date: dateDaysFromNow(0),
        value_date: dateDaysFromNow(0),
        status: "booked",
        end_to_end_id: "INV-dun_c",
        remittance_info: "INV-dun_c",
        counterparty_name: "CUST C",
      },
    ]);
    await waitUntil(async () => (await get("/api/v1/payments/dun_c")).body.status === "settled", 10_000, "C settled");
    at(2.4);
    await daemon.followUp.runOnce();
    const c = await record("dun_c");
    expect(c).toMatchObject({ state: "closed", closed_status: "settled" });
    expect(c.steps.map((step: { state: string }) => step.state)).toEqual(["skipped", "skipped", "skipped", "skipped"]);
    // Day 2.4 is still the promised day: nothing new for A.
    expect((await record("dun_a")).promise.state).toBe("pending");
    expect(await kindsOf("dun_a")).toEqual(["reminder_due#1"]);

    // Day 2.6: the promised day has passed unpaid — broken; the exception rises p3 → p2.
    at(2.6);
    await daemon.followUp.runOnce();
    expect((await record("dun_a")).promise.state).toBe("broken");
    const exception = (await get(`/api/v1/exceptions/${exceptionId}`)).body;
    expect(exception.priority).toBe("p2");
    expect(exception.audit.at(-1)).toMatchObject({ actor: "payrecon", action: "promise_broken" });
    const broken = (await get("/api/v1/notifications?kind=promise_broken")).body.items;
    expect(broken).toHaveLength(1);
    expect(broken[0].payload).toMatchObject({
      payment_id: "dun_a",
      exception_id: exceptionId,
      promised_by: promisedBy,
      channel: "phone",
      priority: "p2",
    });

    // Day 3.1: step 2 is due (no promise runs any more); A, now p2, is also notified as an exception.
    at(3.1);
    await daemon.followUp.runOnce();
    expect(await kindsOf("dun_a")).toEqual(["reminder_due#1", "promise_broken", "exception_opened", "reminder_due#2"]);
    expect((await record("dun_a")).steps.map((step: { state: string }) => step.state)).toEqual([
      "sent",
      "due",
      "scheduled",
      "scheduled",
    ]);
    // Nothing is stored twice when the run repeats at the same time.
    expect((await daemon.followUp.runOnce()).queued).toEqual({});

    // Every stored notification reaches the receiver, signed.
    const stored = (await get("/api/v1/notifications?limit=100")).body.items.length;
    await waitUntil(() => receiver.delivered().length === stored, 10_000, "all notifications delivered");
    expect(receiver.received.every((item) => item.signatureValid)).toBe(true);
  });

  it("shows the work list to a signed-in operator in Chromium, and asks anyone else to sign in", {
    timeout: 60_000,
  }, async () => {
    const anonymous = await fetch(`${daemon.baseUrl}/dunning`);
    expect(anonymous.status).toBe(401);
    expect(anonymous.headers.get("www-authenticate")).toMatch(/^Basic/);
    expect(await anonymous.text()).not.toContain("dun_a");
    const ingester = await fetch(`${daemon.baseUrl}/dunning`, {
      headers: { Authorization: `Bearer ${TOKENS.ingester}` },
    });
    expect(ingester.status).toBe(403);

    const browser = await launchChromium();
    try {
      const context = await browser.newContext({ httpCredentials: { username: "me", password: TOKENS.operator } });
      const page = await context.newPage();
      const response = await page.goto(`${daemon.baseUrl}/dunning`);
      expect(response?.status()).toBe(200);
      // After the schedule above: A has step 2 due and its promise broken; C, paid, is not listed.
      const rowA = page.locator('#dunning-due tr[data-payment="dun_a"]');
      expect(await rowA.textContent()).toMatch(/they owe us.*delayed/);
      expect(await rowA.textContent()).toContain("step 2 of 4");
      expect(await rowA.locator(".badge.bad").textContent()).toBe("broken");
      expect(await rowA.textContent()).toContain("phone · spoke to accounts payable");
      expect(await page.locator('#dunning-due tr[data-payment="dun_c"]').count()).toBe(0);
      await rowA.locator("a").click();
      await page.waitForURL(`${daemon.baseUrl}/payments/dun_a`);
      expect(await page.locator("footer a[href='/dunning']").count()).toBe(1);
      await context.close();
    } finally {
      await browser.close();
    }
  });
});
