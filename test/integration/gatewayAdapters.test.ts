import { createHmac } from "node:crypto";
import { writeFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import { tmpdir } from "node:os";
import path from "node:path";
import type { Producer } from "kafkajs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { adyenSigningString } from "../../src/adapters/adyenSignature.js";
import { DEFAULT_STRIPE_API_VERSION } from "../../src/consumers/stripeApi.js";
import { adyenCsv, adyenLine } from "../support/adyenReport.js";
import { camt053 } from "../support/camt.js";
import { dateDaysFromNow, isoDaysFromNow, reportTimeDaysFromNow } from "../support/clock.js";
import { runCli } from "../support/cli.js";
import { createTestDatabase, type TestDatabase } from "../support/database.js";
import { api, startTestDaemon, type TestDaemon, waitUntil } from "../support/daemon.js";
import { connectedProducer, kafkaEnv, readTopic, type TestTopics, uniqueTopics } from "../support/kafka.js";
import { fixture, fixtureNames, type Json } from "../unit/adapters/fixtureFiles.js";

/**
 * A Stripe and an Adyen account pointed at payrecon: webhooks verified and mapped, the
 * same payloads on the raw topics, Stripe's automatic payouts composed from their
 * balance transactions (raw topic, or Stripe's API), and the whole reconciled against
 * a camt.053 import — with no custom code between the gateways and payrecon.
 */

const STRIPE_SECRETS = ["whsec_old_test_secret", "whsec_new_test_secret"];
const ADYEN_KEY = "44782DEF547AAA06C910C43932B1EB0C71FC68D9D0C057550C48EC2ACF6BA056";
const OTHER_ADYEN_KEY = "00112233445566778899AABBCCDDEEFF00112233445566778899AABBCCDDEEFF";
const STRIPE_API_KEY = "sk_test_payrecon";

let db: TestDatabase;
let daemon: TestDaemon;
let topics: TestTopics;
let producer: Producer;
let stripeApi: Server;
/** What the fake Stripe API lists per payout, and the authorization headers it saw. */
const stripeApiTransactions = new Map<string, Json[]>();
const stripeApiAuthorizations: string[] = [];
const stripeApiVersions: string[] = [];

function stripeSignature(body: string, secret: string, at = Math.floor(Date.now() / 1000)): string {
  const v1 = createHmac("sha256", secret).update(`${at}.${body}`).digest("hex");
  return `t=${at},v1=${v1}`;
}

async function postStripe(body: string, signature: string | null) {
  const headers: Record<string, string> = { "Content-Type": "application/json" };
  if (signature !== null) headers["Stripe-Signature"] = signature;
  const response = await fetch(`${daemon.baseUrl}/webhooks/stripe`, { method: "POST", headers, body });
  return { status: response.status, body: await response.json() };
}

/** Signs every item as Adyen does (HMAC-SHA256 of the signing string, base64, hex key). */
function signAdyen(body: Json, key = ADYEN_KEY): Json {
  const signed = structuredClone(body);
  for (const { NotificationRequestItem: item } of signed.notificationItems) {
    item.additionalData = { ...item.additionalData, hmacSignature: "" };
    item.additionalData.hmacSignature = createHmac("sha256", Buffer.from(key, "hex"))
      .update(adyenSigningString(item))
      .digest("base64");
  }
  return signed;
}

async function postAdyen(body: Json) {
  const response = await fetch(`${daemon.baseUrl}/webhooks/adyen`, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify(body),
  });
  return { status: response.status, text: await response.text() };
}

async function metricValue(name: string, labels: Record<string, string>): Promise<number> {
  const text = await (await fetch(`${daemon.baseUrl}/metrics`)).text();
  const wanted = Object.entries(labels).map(([key, value]) => `${key}="${value}"`);
  const line = text
    .split("\n")
    .find(
      (row) => (row.startsWith(`${name}{`) || row.startsWith(`${name} `)) && wanted.every((pair) => row.includes(pair)),
    );
  return line ? Number(line.split(" ").at(-1)) : 0;
}

async function storedEvents(gateway: string): Promise<Array<{ event_id: string; type: string; body: Json }>> {
  const result = await db.pool.query(
    "select event_id, type, body from gateway_events where gateway = $1 order by event_id",
    [gateway],
  );
  return result.rows;
}

async function ingest(topic: string, messages: unknown[]) {
  const response = await api(daemon.baseUrl, "ingester")(`/api/v1/ingest/${topic}`, {
    method: "POST",
    body: messages.map((message) => JSON.stringify(message)).join("\n"),
  });
  expect(response.status).toBe(200);
  return response.body;
}

async function paymentStatus(id: string): Promise<string | undefined> {
  const response = await api(daemon.baseUrl)(`/api/v1/payments/${id}`);
  return response.status === 200 ? response.body.status : undefined;
}

async function importCamt(name: string, credits: Parameters<typeof camt053>[2]): Promise<void> {
  const file = path.join(tmpdir(), `${name}-${process.pid}.xml`);
  writeFileSync(file, camt053(name, "DE89370400440532013000", credits));
  const result = await runCli(["import", "camt053", file], { DATABASE_URL: db.url });
  expect(result.code, result.stderr).toBe(0);
}

beforeAll(async () => {
  stripeApi = createServer((req, res) => {
    const url = new URL(req.url ?? "/", "http://localhost");
    stripeApiAuthorizations.push(String(req.headers.authorization));
    stripeApiVersions.push(String(req.headers["stripe-version"]));
    const all = stripeApiTransactions.get(url.searchParams.get("payout") ?? "");
    if (url.pathname !== "/v1/balance_transactions" || !all || url.searchParams.get("expand[]") !== "data.source") {
      res.writeHead(404).end(JSON.stringify({ error: { message: "no such payout" } }));
      return;
    }
    // One per page, so paging is exercised.
    const after = url.searchParams.get("starting_after");
    const start = after ? all.findIndex((txn) => txn.id === after) + 1 : 0;
    res.setHeader("Content-Type", "application/json");
    res.end(
      JSON.stringify({
        object: "list",
        url: "/v1/balance_transactions",
        has_more: start + 1 < all.length,
        data: all.slice(start, start + 1),
      }),
    );
  });
  await new Promise<void>((resolve) => stripeApi.listen(0, "127.0.0.1", resolve));
  const address = stripeApi.address();
  const port = typeof address === "object" && address ? address.port : 0;

  db = await createTestDatabase();
  topics = uniqueTopics();
  producer = await connectedProducer();
  daemon = await startTestDaemon({
    DATABASE_URL: db.url,
    ...kafkaEnv(topics),
    STRIPE_WEBHOOK_SECRETS: STRIPE_SECRETS.join(","),
    ADYEN_HMAC_KEYS: `${OTHER_ADYEN_KEY},${ADYEN_KEY}`,
    STRIPE_API_KEY,
    STRIPE_API_URL: `http://127.0.0.1:${port}`,
    STRIPE_PAYOUT_FETCH_INTERVAL: "300ms",
    // Stripe's published card pricing: the fixtures' fees (88 on 20.00, 175 on 50.00 USD) are exactly it.
    FEE_SCHEDULE: "stripe:EUR=1.4%+25,stripe:*=2.9%+30",
  });
}, 120_000);

afterAll(async () => {
  await daemon?.stop();
  await producer?.disconnect();
  await db?.drop();
  await new Promise((resolve) => stripeApi?.close(resolve));
});

describe("POST /webhooks/stripe", () => {
  it("verifies Stripe-Signature: either rolled secret passes; a forged, stale or missing one is 400, counted, never stored", async () => {
    const body = JSON.stringify(fixture("stripe", "evt_charge.succeeded.json"));
    const eventId = JSON.parse(body).id;
    const before = await metricValue("payrecon_webhook_requests_total", {
      gateway: "stripe",
      outcome: "bad_signature",
    });

    const forged = await postStripe(body, stripeSignature(body, "whsec_attacker"));
    const stale = await postStripe(
      body,
      stripeSignature(body, STRIPE_SECRETS[1]!, Math.floor(Date.now() / 1000) - 3600),
    );
    const missing = await postStripe(body, null);
    const tampered = await postStripe(
      body.replace('"amount":', '"amount": '),
      stripeSignature(body, STRIPE_SECRETS[1]!),
    );
    for (const refused of [forged, stale, missing, tampered]) {
      expect(refused.status).toBe(400);
      expect(refused.body.error.code).toBe("bad_signature");
    }
    expect(stale.body.error.message).toMatch(/tolerance/);
    expect((await storedEvents("stripe")).filter((event) => event.event_id === eventId)).toEqual([]);
    expect(await metricValue("payrecon_webhook_requests_total", { gateway: "stripe", outcome: "bad_signature" })).toBe(
      before + 4,
    );

    const withNew = await postStripe(body, stripeSignature(body, STRIPE_SECRETS[1]!));
    expect(withNew).toEqual({ status: 200, body: { received: true, status: "accepted" } });
    // Stripe re-sends until acknowledged, and signs with both secrets while one is rolled.
    const withOld = await postStripe(body, stripeSignature(body, STRIPE_SECRETS[0]!));
    expect(withOld).toEqual({ status: 200, body: { received: true, status: "duplicate" } });
    const header = `${stripeSignature(body, "whsec_attacker").split(",v1=")[0]},v1=${"0".repeat(64)},v1=${
      stripeSignature(body, STRIPE_SECRETS[0]!).split(",v1=")[1]
    }`;
    expect((await postStripe(body, header)).status).toBe(200);
    expect((await storedEvents("stripe")).filter((event) => event.event_id === eventId)).toHaveLength(1);
  });

  it("maps each Stripe fixture event to its GatewayEvent, counts the ignored ones, dead-letters none", async () => {
    const expected: Record<string, { type: string; failure_code?: string } | "ignored"> = {
      "evt_charge.succeeded.json": { type: "payment.captured" },
      "evt_charge.refunded.json": { type: "payment.refunded" },
      // An inquiry: no funds withdrawn yet.
      "evt_charge.dispute.created.json": "ignored",
      "evt_payout.paid.json": { type: "payout.paid" },
      "evt_payout.failed_gitpay.json": { type: "payout.failed", failure_code: "could_not_process" },
    };
    const ignoredBefore = await metricValue("payrecon_gateway_events_ignored_total", {
      gateway: "stripe",
      type: "charge.dispute.created",
    });
    const rejectedBefore = (await db.pool.query("select count(*)::int as n from rejected_messages")).rows[0].n;
    for (const [name, outcome] of Object.entries(expected)) {
      // The Stripe CLI samples share the placeholder id evt_000…; real event ids are unique.
      const event = fixture("stripe", name);
      if (event.id === "evt_000000000000000000000000") event.id = `evt_fixture_${name}`;
      const body = JSON.stringify(event);
      const response = await postStripe(body, stripeSignature(body, STRIPE_SECRETS[0]!));
      expect(response.status, name).toBe(200);
      const id = JSON.parse(body).id;
      const stored = (await storedEvents("stripe")).filter((event) => event.event_id === id);
      if (outcome === "ignored") {
        expect(response.body.status, name).toBe("ignored");
        expect(stored, name).toEqual([]);
      } else {
        expect(
          stored.map((event) => event.type),
          name,
        ).toEqual([outcome.type]);
        if (outcome.failure_code) expect(stored[0]?.body.failure_code).toBe(outcome.failure_code);
      }
    }
    const unknown = JSON.stringify({
      ...fixture("stripe", "evt_charge.succeeded.json"),
      id: "evt_x",
      type: "customer.created",
    });
    expect((await postStripe(unknown, stripeSignature(unknown, STRIPE_SECRETS[0]!))).body.status).toBe("ignored");
    expect(
      await metricValue("payrecon_gateway_events_ignored_total", { gateway: "stripe", type: "charge.dispute.created" }),
    ).toBe(ignoredBefore + 1);
    expect(
      await metricValue("payrecon_gateway_events_ignored_total", { gateway: "stripe", type: "customer.created" }),
    ).toBe(1);
    expect((await db.pool.query("select count(*)::int as n from rejected_messages")).rows[0].n).toBe(rejectedBefore);
  });
});

describe("POST /webhooks/adyen", () => {
  const adyenExpected: Record<string, string> = {
    "notification_authorisation-true.json": "payment.authorized",
    "notification_capture-true.json": "payment.captured",
    "notification_refund-true.json": "payment.refunded",
    "notification_chargeback.json": "payment.chargeback",
    "openapi_example_PAYOUT_THIRDPARTY.json": "payout.paid",
    "openapi_example_PAYOUT_DECLINE.json": "payout.canceled",
  };

  it("covers every Adyen fixture file", () => {
    expect(Object.keys(adyenExpected).sort()).toEqual(fixtureNames("adyen"));
  });

  it("answers [accepted] to each signed fixture and stores its event once; a forged item refuses the whole body", async () => {
    for (const [name, type] of Object.entries(adyenExpected)) {
      const body = signAdyen(fixture("adyen", name));
      const first = await postAdyen(body);
      expect(first, name).toEqual({ status: 200, text: "[accepted]" });
      expect(await postAdyen(body), name).toEqual({ status: 200, text: "[accepted]" });
      const item = body.notificationItems[0].NotificationRequestItem;
      const stored = (await storedEvents("adyen")).filter((event) =>
        event.event_id.startsWith(`${item.pspReference}:${item.eventCode}:`),
      );
      expect(
        stored.map((event) => event.type),
        name,
      ).toEqual([type]);
    }

    const before = await metricValue("payrecon_webhook_requests_total", { gateway: "adyen", outcome: "bad_signature" });
    const body = signAdyen(fixture("adyen", "notification_capture-true.json"));
    const second = structuredClone(body.notificationItems[0]);
    second.NotificationRequestItem.pspReference = "FORGED000000001";
    second.NotificationRequestItem.amount.value += 1;
    const forged = await postAdyen({ ...body, notificationItems: [...signAdyen(body).notificationItems, second] });
    expect(forged.status).toBe(400);
    expect(JSON.parse(forged.text).error.message).toMatch(/notificationItems\[1\]/);
    const unsignedKey = await postAdyen(signAdyen({ ...body, notificationItems: [second] }, "ABCDEF0123456789"));
    expect(unsignedKey.status).toBe(400);
    expect(await metricValue("payrecon_webhook_requests_total", { gateway: "adyen", outcome: "bad_signature" })).toBe(
      before + 2,
    );
    expect((await storedEvents("adyen")).filter((event) => event.event_id.startsWith("FORGED"))).toEqual([]);
  });
});

describe("raw topics", () => {
  it("take the same payloads as the webhooks; an unmappable one is dead-lettered with its reason, an unknown type only counted", async () => {
    const charge = fixture("stripe", "evt_charge.succeeded.json");
    charge.id = "evt_raw_topic_1";
    const notification = fixture("adyen", "notification_capture-true.json");
    notification.notificationItems[0].NotificationRequestItem.pspReference = "RAWTOPIC00000001";
    const broken = fixture("adyen", "notification_capture-true.json");
    broken.notificationItems[0].NotificationRequestItem.amount = null;
    await producer.send({
      topic: topics.rawStripe,
      messages: [{ key: "evt_raw_topic_1", value: JSON.stringify(charge) }],
    });
    await producer.send({
      topic: topics.rawStripe,
      messages: [{ value: JSON.stringify({ ...charge, id: "evt_raw_unknown", type: "invoice.created" }) }],
    });
    await producer.send({
      topic: topics.rawAdyen,
      messages: [{ value: JSON.stringify(notification) }, { value: JSON.stringify(broken) }],
    });

    await waitUntil(
      async () => (await storedEvents("stripe")).some((event) => event.event_id === "evt_raw_topic_1"),
      60_000,
      "the raw Stripe event stored",
    );
    await waitUntil(
      async () => (await storedEvents("adyen")).some((event) => event.event_id.startsWith("RAWTOPIC00000001:")),
      60_000,
      "the raw Adyen item stored",
    );
    const deadLetters = await readTopic(topics.dlq, (messages) => messages.length >= 1, 60_000);
    expect(deadLetters).toHaveLength(1);
    expect(deadLetters[0]?.headers["x-payrecon-source-topic"]).toBe(topics.rawAdyen);
    expect(deadLetters[0]?.headers["x-payrecon-error"]).toMatch(/^gateway_payload: .*has no amount/);
    await waitUntil(
      async () =>
        (await metricValue("payrecon_gateway_events_ignored_total", { gateway: "stripe", type: "invoice.created" })) ===
        1,
      30_000,
      "the unknown type counted",
    );
  });
});

describe("end to end against a camt.053 import", () => {
  const charge = (id: string, reference: string, amount: number): Json => ({
    ...fixture("stripe", "openapi_fixtures3.json").resources.charge,
    id,
    amount,
    amount_captured: amount,
    amount_refunded: 0,
    captured: true,
    currency: "usd",
    status: "succeeded",
    metadata: { reference },
    payment_intent: null,
  });
  const chargeTransaction = (source: Json, fee: number): Json => ({
    ...fixture("stripe", "balance_transaction_charge_with_fee.json"),
    id: `txn_${source.id}`,
    amount: source.amount,
    fee,
    net: source.amount - fee,
    fee_details: [{ amount: fee, currency: "usd", type: "stripe_fee", description: "Stripe processing fees" }],
    // Expanded (expand[]=data.source): the charge's metadata gives the reference.
    source,
  });
  const automaticPayout = (id: string, amount: number): Json => ({
    ...fixture("stripe", "openapi_fixtures3.json").resources.payout,
    id,
    amount,
    currency: "usd",
    automatic: true,
    status: "paid",
    created: unixDaysFromNow(-1),
    arrival_date: unixDaysFromNow(0),
    balance_transaction: `txn_${id}`,
  });
  // The fixtures' own times are years old: shifted to the run's now, as if Stripe sent them today.
  const unixDaysFromNow = (days: number) => Math.floor(Date.parse(isoDaysFromNow(days)) / 1000);
  const stripeEvent = (id: string, type: string, object: Json): string =>
    JSON.stringify({
      ...fixture("stripe", "evt_charge.succeeded.json"),
      id,
      type,
      created: unixDaysFromNow(-1),
      data: { object },
    });
  const sendStripe = async (body: string) => {
    const response = await postStripe(body, stripeSignature(body, STRIPE_SECRETS[1]!));
    expect(response.status).toBe(200);
  };
  const expectedCollection = (id: string, reference: string, amount: number, gateway: string, currency: string) => ({
    id,
    direction: "collection",
    amount_minor: amount,
    currency,
    gateway,
    reference,
    counterparty: `cust_${id}`,
    created_at: isoDaysFromNow(-3),
    due_at: isoDaysFromNow(7),
  });

  it("Stripe: charges by webhook; our automatic payouts wait for their balance transactions (raw topic, Stripe API); the bank credit settles them", async () => {
    const charges = [charge("ch_e2e_1", "ORD-STRIPE-1", 2_000), charge("ch_e2e_2", "ORD-STRIPE-2", 5_000)];
    const apiCharge = charge("ch_e2e_3", "ORD-STRIPE-3", 3_000);
    await ingest(topics.expected, [
      expectedCollection("pay_stripe_1", "ORD-STRIPE-1", 2_000, "stripe", "USD"),
      expectedCollection("pay_stripe_2", "ORD-STRIPE-2", 5_000, "stripe", "USD"),
      expectedCollection("pay_stripe_3", "ORD-STRIPE-3", 3_000, "stripe", "USD"),
    ]);
    for (const [index, object] of [...charges, apiCharge].entries()) {
      await sendStripe(stripeEvent(`evt_e2e_charge_${index}`, "charge.succeeded", object));
    }
    const transactionsA = [chargeTransaction(charges[0], 88), chargeTransaction(charges[1], 175)];
    const netA = transactionsA.reduce((sum, txn) => sum + txn.net, 0);
    const payoutA = automaticPayout("po_e2e_A", netA);
    const transactionB = chargeTransaction(apiCharge, 117);
    const payoutB = automaticPayout("po_e2e_B", transactionB.net);
    const ownB = {
      ...transactionB,
      id: "txn_po_e2e_B",
      type: "payout",
      amount: -transactionB.net,
      fee: 0,
      net: -transactionB.net,
      source: "po_e2e_B",
    };

    // Paid, but what it contains is not known: it waits rather than guessing.
    await sendStripe(stripeEvent("evt_e2e_payout_A", "payout.paid", payoutA));
    const waitingA = await db.pool.query("select waiting_reason from stripe_payouts where payout_id = 'po_e2e_A'");
    expect(waitingA.rows[0]?.waiting_reason).toMatch(/no balance transactions/);
    expect((await storedEvents("stripe")).filter((event) => event.type === "settlement.batch")).toEqual([]);
    await waitUntil(
      async () => (await metricValue("payrecon_stripe_payouts_waiting", {})) >= 1,
      30_000,
      "the waiting payout in payrecon_stripe_payouts_waiting",
    );

    // Half of its transactions: still incomplete, still waiting.
    await producer.send({
      topic: topics.rawStripe,
      messages: [{ value: JSON.stringify({ ...transactionsA[0], automatic_payout_id: "po_e2e_A" }) }],
    });
    await waitUntil(
      async () =>
        (
          await db.pool.query("select waiting_reason from stripe_payouts where payout_id = 'po_e2e_A'")
        ).rows[0]?.waiting_reason?.includes("incomplete"),
      60_000,
      "payout A waiting for the rest of its transactions",
    );
    // The whole list (as Stripe's API returns it): composed.
    await producer.send({
      topic: topics.rawStripe,
      messages: [{ value: JSON.stringify({ object: "list", payout: "po_e2e_A", data: transactionsA }) }],
    });
    const batchA = await waitUntil(
      async () => (await storedEvents("stripe")).find((event) => event.event_id === "po_e2e_A"),
      60_000,
      "payout A composed",
    );
    expect(batchA.body).toMatchObject({
      type: "settlement.batch",
      batch_id: "po_e2e_A",
      gross_minor: 7_000,
      fee_minor: 263,
      amount_minor: netA,
      references: ["ORD-STRIPE-1", "ORD-STRIPE-2"],
    });

    // Payout B: nobody bridges its transactions; payrecon asks Stripe's API (paged, authenticated).
    stripeApiTransactions.set("po_e2e_B", [transactionB, ownB]);
    await sendStripe(stripeEvent("evt_e2e_payout_B", "payout.paid", payoutB));
    const batchB = await waitUntil(
      async () => (await storedEvents("stripe")).find((event) => event.event_id === "po_e2e_B"),
      60_000,
      "payout B composed from Stripe's API",
    );
    expect(batchB.body).toMatchObject({
      gross_minor: 3_000,
      fee_minor: 117,
      amount_minor: transactionB.net,
      references: ["ORD-STRIPE-3"],
    });
    expect(stripeApiAuthorizations.every((header) => header === `Bearer ${STRIPE_API_KEY}`)).toBe(true);
    // Pinned: the account's default version never decides the shape payrecon reads.
    expect(new Set(stripeApiVersions)).toEqual(new Set([DEFAULT_STRIPE_API_VERSION]));
    await waitUntil(
      async () => (await metricValue("payrecon_stripe_payouts_waiting", {})) === 0,
      30_000,
      "no payout waiting",
    );

    expect(await paymentStatus("pay_stripe_1")).toBe("in_flight");
    await importCamt("stripe-payouts", [
      {
        amountMinor: netA,
        currency: "USD",
        bookingDate: dateDaysFromNow(0),
        remittance: "STRIPE PAYOUT po_e2e_A",
        counterparty: "STRIPE PAYMENTS EUROPE",
        reference: "BANKREF-A",
      },
      {
        amountMinor: transactionB.net,
        currency: "USD",
        bookingDate: dateDaysFromNow(0),
        remittance: "STRIPE PAYOUT po_e2e_B",
        counterparty: "STRIPE PAYMENTS EUROPE",
        reference: "BANKREF-B",
      },
    ]);
    for (const id of ["pay_stripe_1", "pay_stripe_2", "pay_stripe_3"])
      expect(await paymentStatus(id), id).toBe("settled");
    const batches = await db.pool.query(
      "select batch_id, state from settlement_batches where gateway = 'stripe' order by batch_id",
    );
    expect(batches.rows).toEqual([
      { batch_id: "po_e2e_A", state: "settled" },
      { batch_id: "po_e2e_B", state: "settled" },
    ]);
  });

  it("Adyen: authorisation and capture by webhook, the settlement batch from the report, the bank credit settles it", async () => {
    await ingest(topics.expected, [expectedCollection("pay_adyen_1", "ORD-ADYEN-1", 10_100, "adyen", "EUR")]);
    for (const name of ["notification_authorisation-true.json", "notification_capture-true.json"]) {
      const body = fixture("adyen", name);
      const item = body.notificationItems[0].NotificationRequestItem;
      item.merchantReference = "ORD-ADYEN-1";
      item.pspReference = `E2E${item.eventCode}0000001`;
      item.originalReference = item.eventCode === "CAPTURE" ? "E2EAUTHORISATION0000001" : undefined;
      item.amount = { value: 10_100, currency: "EUR" };
      // The samples are from 2017: a capture that old and in no batch is (rightly) held, so they are
      // dated a day before the run (inside HOLD_THRESHOLD), the capture five minutes after the authorisation.
      item.eventDate = isoDaysFromNow(item.eventCode === "CAPTURE" ? -1 + 5 / 1440 : -1);
      expect(await postAdyen(signAdyen(body))).toEqual({ status: 200, text: "[accepted]" });
    }
    const timeline = await api(daemon.baseUrl)("/api/v1/payments/pay_adyen_1");
    expect(timeline.body.status, JSON.stringify(timeline.body)).toBe("in_flight");

    // The Settlement Details Report, as downloaded from Adyen's Customer Area.
    const report = path.join(tmpdir(), `adyen-settlement-${process.pid}.csv`);
    writeFileSync(
      report,
      adyenCsv([
        adyenLine("PayreconE2E", "55", "Settled", "EUR", {
          "Psp Reference": "E2EAUTHORISATION0000001",
          "Merchant Reference": "ORD-ADYEN-1",
          "Payment Method": "visa",
          "Gross Credit (GC)": "101.00",
          "Net Credit (NC)": "98.75",
          "Commission (NC)": "1.50",
          "Interchange (NC)": "0.75",
        }),
        adyenLine("PayreconE2E", "55", "MerchantPayout", "EUR", {
          "Creation Date": reportTimeDaysFromNow(-0.5),
          "Net Debit (NC)": "98.75",
        }),
      ]),
    );
    const imported = await runCli(["import", "adyen-settlement", report], { DATABASE_URL: db.url });
    expect(imported.code, imported.stderr).toBe(0);
    const batch = (await storedEvents("adyen")).find((event) => event.type === "settlement.batch");
    expect(batch?.body).toMatchObject({
      gross_minor: 10_100,
      fee_minor: 225,
      amount_minor: 9_875,
      references: ["ORD-ADYEN-1"],
    });
    await importCamt("adyen-payout", [
      {
        amountMinor: 9_875,
        currency: "EUR",
        bookingDate: dateDaysFromNow(0),
        remittance: `ADYEN PAYOUT ${batch?.body.batch_id}`,
        counterparty: "ADYEN N.V.",
        reference: "BANKREF-ADY",
      },
    ]);
    expect(await paymentStatus("pay_adyen_1")).toBe("settled");
    const batches = await db.pool.query("select state from settlement_batches where gateway = 'adyen'");
    expect(batches.rows).toEqual([{ state: "settled" }]);
  });
});

describe("disputes won (CONTRACT §8)", () => {
  const unixDaysFromNow = (days: number) => Math.floor(Date.parse(isoDaysFromNow(days)) / 1000);
  const settledCollection = async (id: string, reference: string, gateway: string, currency: string) => {
    await ingest(topics.expected, [
      {
        id,
        direction: "collection",
        amount_minor: 1_000,
        currency,
        gateway,
        reference,
        created_at: isoDaysFromNow(-5),
        due_at: isoDaysFromNow(1),
      },
    ]);
    await ingest(topics.bank, [
      {
        entry_id: `BANK-${id}`,
        bank: "bank_a",
        account: "DE89370400440532013000",
        direction: "credit",
        amount_minor: 1_000,
        currency,
        booking_date: dateDaysFromNow(-2),
        value_date: dateDaysFromNow(-2),
        status: "booked",
        end_to_end_id: reference,
      },
    ]);
    await waitUntil(async () => (await paymentStatus(id)) === "settled", 30_000, `${id} settled`);
  };
  const status = (id: string, wanted: string) =>
    waitUntil(async () => (await paymentStatus(id)) === wanted, 60_000, `${id} ${wanted}`);

  it("Stripe: charged back by webhook, won on the raw topic → settled again, with the reversal in its timeline", async () => {
    await settledCollection("pay_dispute_stripe", "ORD-DISPUTE-S", "stripe", "USD");
    const dispute = {
      ...fixture("stripe", "dispute_funds_reinstated_with_balance_transactions.json"),
      payment_intent: null,
      metadata: { reference: "ORD-DISPUTE-S" },
      status: "needs_response",
    };
    const envelope = (id: string, type: string, object: Json, days: number) => ({
      ...fixture("stripe", "evt_charge.succeeded.json"),
      id,
      type,
      created: unixDaysFromNow(days),
      data: { object },
    });
    const withdrawn = JSON.stringify(envelope("evt_dispute_1", "charge.dispute.funds_withdrawn", dispute, -1));
    expect((await postStripe(withdrawn, stripeSignature(withdrawn, STRIPE_SECRETS[0]!))).status).toBe(200);
    await status("pay_dispute_stripe", "charged_back");

    await producer.send({
      topic: topics.rawStripe,
      messages: [
        {
          value: JSON.stringify(
            envelope("evt_dispute_2", "charge.dispute.funds_reinstated", { ...dispute, status: "won" }, -0.5),
          ),
        },
        // Stripe also closes the dispute as won: the second reversal changes nothing.
        {
          value: JSON.stringify(
            envelope("evt_dispute_3", "charge.dispute.closed", { ...dispute, status: "won" }, -0.4),
          ),
        },
      ],
    });
    await status("pay_dispute_stripe", "settled");
    const payment = await api(daemon.baseUrl)("/api/v1/payments/pay_dispute_stripe");
    expect(payment.body.flags).toContain("chargeback_reversed");
    expect(payment.body.timeline.map((item: { type: string }) => item.type)).toContain("payment.chargeback_reversed");
    expect(
      (await storedEvents("stripe"))
        .filter((event) => event.event_id.startsWith("evt_dispute_"))
        .map((event) => [event.event_id, event.type]),
    ).toEqual([
      ["evt_dispute_1", "payment.chargeback"],
      ["evt_dispute_2", "payment.chargeback_reversed"],
      ["evt_dispute_3", "payment.chargeback_reversed"],
    ]);
  });

  it("Adyen: CHARGEBACK on the raw topic, CHARGEBACK_REVERSED by webhook → settled again; a CONTRACT event on gateway.events does the same", async () => {
    await settledCollection("pay_dispute_adyen", "ORD-DISPUTE-A", "adyen", "EUR");
    const notification = (eventCode: string, days: number) => {
      const body = fixture("adyen", "notification_chargeback.json");
      const item = body.notificationItems[0].NotificationRequestItem;
      Object.assign(item, {
        eventCode,
        merchantReference: "ORD-DISPUTE-A",
        pspReference: `DISPUTE${eventCode.length}00000001`,
        eventDate: isoDaysFromNow(days),
      });
      return body;
    };
    await producer.send({
      topic: topics.rawAdyen,
      messages: [{ value: JSON.stringify(notification("CHARGEBACK", -1)) }],
    });
    await status("pay_dispute_adyen", "charged_back");
    expect(await postAdyen(signAdyen(notification("CHARGEBACK_REVERSED", -0.5)))).toEqual({
      status: 200,
      text: "[accepted]",
    });
    await status("pay_dispute_adyen", "settled");

    // A bridge publishing CONTRACT GatewayEvents itself.
    await settledCollection("pay_dispute_native", "ORD-DISPUTE-N", "stripe", "EUR");
    const native = (eventId: string, type: string, days: number) => ({
      key: "ORD-DISPUTE-N",
      value: JSON.stringify({
        event_id: eventId,
        gateway: "stripe",
        type,
        reference: "ORD-DISPUTE-N",
        amount_minor: 1_000,
        currency: "EUR",
        occurred_at: isoDaysFromNow(days),
      }),
    });
    await producer.send({ topic: topics.gateway, messages: [native("evt_native_cb", "payment.chargeback", -1)] });
    await status("pay_dispute_native", "charged_back");
    await producer.send({
      topic: topics.gateway,
      messages: [native("evt_native_won", "payment.chargeback_reversed", -0.5)],
    });
    await status("pay_dispute_native", "settled");
  });
});

describe("negative, carried-forward and netted batches (CONTRACT §8)", () => {
  const collection = (id: string, reference: string, amount: number, gateway = "adyen") => ({
    id,
    direction: "collection",
    amount_minor: amount,
    currency: "EUR",
    gateway,
    reference,
    created_at: isoDaysFromNow(-5),
    due_at: isoDaysFromNow(7),
  });
  const batchState = async (gateway: string, batchId: string) =>
    (
      await db.pool.query(
        "select state, net_minor::int as net, carried_forward_minor::int as carried, netted from settlement_batches where gateway = $1 and batch_id = $2",
        [gateway, batchId],
      )
    ).rows[0];

  it("Adyen report: a negative batch carried forward is netted, the next batch's credit pays net + the balance it brings in (no false mismatch)", async () => {
    await ingest(topics.expected, [
      collection("pay_cf_5", "ORD-CF-5", 1_000),
      collection("pay_cf_6", "ORD-CF-6", 10_000),
    ]);
    // Batch 205: a chargeback of an older order outweighs the day's sale; Adyen carries −40.00 to batch 206.
    const report = path.join(tmpdir(), `adyen-carried-${process.pid}.csv`);
    const line = (batch: string, type: string, fields: Record<string, string>) =>
      adyenLine("PayreconCF", batch, type, "EUR", { "Creation Date": reportTimeDaysFromNow(-0.5), ...fields });
    writeFileSync(
      report,
      adyenCsv([
        line("205", "Settled", {
          "Merchant Reference": "ORD-CF-5",
          "Gross Credit (GC)": "10.00",
          "Net Credit (NC)": "9.50",
          "Commission (NC)": "0.50",
        }),
        line("205", "Chargeback", {
          "Merchant Reference": "ORD-OLD",
          "Gross Debit (GC)": "49.50",
          "Net Debit (NC)": "49.50",
        }),
        line("205", "Balancetransfer", { "Net Credit (NC)": "40.00" }),
        line("206", "Settled", {
          "Merchant Reference": "ORD-CF-6",
          "Gross Credit (GC)": "100.00",
          "Net Credit (NC)": "99.00",
          "Commission (NC)": "1.00",
        }),
        line("206", "Balancetransfer", { "Net Debit (NC)": "40.00" }),
        line("206", "MerchantPayout", { "Net Debit (NC)": "59.00" }),
      ]),
    );
    const imported = await runCli(["import", "adyen-settlement", report], { DATABASE_URL: db.url });
    expect(imported.code, imported.stderr).toBe(0);
    await waitUntil(async () => (await paymentStatus("pay_cf_5")) === "settled", 30_000, "the netted batch settles");
    expect(await batchState("adyen", "adyen-PayreconCF-batch-205")).toEqual({
      state: "settled",
      net: 0,
      carried: 4_000,
      netted: true,
    });
    expect(await paymentStatus("pay_cf_6")).toBe("in_flight");
    await importCamt("adyen-carried", [
      {
        amountMinor: 5_900,
        currency: "EUR",
        bookingDate: dateDaysFromNow(0),
        remittance: "ADYEN PAYOUT adyen-PayreconCF-batch-206",
        counterparty: "ADYEN N.V.",
        reference: "BANKREF-CF-206",
      },
    ]);
    await waitUntil(async () => (await paymentStatus("pay_cf_6")) === "settled", 30_000, "pay_cf_6 settled");
    expect(await batchState("adyen", "adyen-PayreconCF-batch-206")).toMatchObject({ state: "settled", net: 5_900 });
    const open = await db.pool.query(
      "select kind from exceptions where state = 'open' and (subject_key like '%PayreconCF%' or payment_id like 'pay_cf_%')",
    );
    expect(open.rows).toEqual([]);
  });

  it("Kafka: a negative settlement.batch is paid by a bank debit of its absolute value", async () => {
    await ingest(topics.expected, [collection("pay_neg_1", "ORD-NEG-1", 2_000, "stripe")]);
    await producer.send({
      topic: topics.gateway,
      messages: [
        {
          key: "po_negative_1",
          value: JSON.stringify({
            event_id: "po_negative_1",
            gateway: "stripe",
            type: "settlement.batch",
            batch_id: "po_negative_1",
            gross_minor: -3_000,
            fee_minor: 100,
            carried_forward_minor: 0,
            amount_minor: -3_100,
            currency: "EUR",
            expected_arrival: dateDaysFromNow(0),
            occurred_at: isoDaysFromNow(-1),
            references: ["ORD-NEG-1"],
          }),
        },
      ],
    });
    await waitUntil(
      async () => (await batchState("stripe", "po_negative_1"))?.state === "waiting",
      60_000,
      "batch stored",
    );
    await producer.send({
      topic: topics.bank,
      messages: [
        {
          key: "DEBIT-NEG-1",
          value: JSON.stringify({
            entry_id: "DEBIT-NEG-1",
            bank: "bank_a",
            account: "DE89370400440532013000",
            direction: "debit",
            amount_minor: 3_100,
            currency: "EUR",
            booking_date: dateDaysFromNow(0),
            value_date: dateDaysFromNow(0),
            status: "booked",
            remittance_info: "STRIPE DEBIT po_negative_1",
          }),
        },
      ],
    });
    await waitUntil(
      async () => (await paymentStatus("pay_neg_1")) === "settled",
      60_000,
      "pay_neg_1 settled by the debit",
    );
    expect(await batchState("stripe", "po_negative_1")).toMatchObject({ state: "settled", net: -3_100, netted: false });
  });
});

describe("fees against FEE_SCHEDULE (CONTRACT §8)", () => {
  it("an overcharging batch through Kafka: fee_variance on the batch, its payment settles; metric and report show charged vs expected", async () => {
    await ingest(topics.expected, [
      {
        id: "pay_fee_1",
        direction: "collection",
        amount_minor: 100_000,
        currency: "EUR",
        gateway: "stripe",
        reference: "ORD-FEE-1",
        created_at: isoDaysFromNow(-3),
        due_at: isoDaysFromNow(3),
      },
    ]);
    // 1.4% of 1,000.00 + 0.25 = 14.25 expected; the gateway took 20.00.
    await producer.send({
      topic: topics.gateway,
      messages: [
        {
          key: "po_fee_1",
          value: JSON.stringify({
            event_id: "po_fee_1",
            gateway: "stripe",
            type: "settlement.batch",
            batch_id: "po_fee_1",
            gross_minor: 100_000,
            fee_minor: 2_000,
            amount_minor: 98_000,
            currency: "EUR",
            expected_arrival: dateDaysFromNow(0),
            occurred_at: isoDaysFromNow(-1),
            references: ["ORD-FEE-1"],
          }),
        },
        // A gateway FEE_SCHEDULE has no rule for: charged, never expected.
        {
          key: "adyen-fee-batch",
          value: JSON.stringify({
            event_id: "adyen-fee-batch",
            gateway: "adyen",
            type: "settlement.batch",
            batch_id: "adyen-fee-batch",
            gross_minor: 1_000,
            fee_minor: 10,
            amount_minor: 990,
            currency: "EUR",
            expected_arrival: dateDaysFromNow(0),
            occurred_at: isoDaysFromNow(-1),
            references: ["ORD-FEE-A"],
          }),
        },
      ],
    });
    await producer.send({
      topic: topics.bank,
      messages: [
        {
          key: "CREDIT-FEE-1",
          value: JSON.stringify({
            entry_id: "CREDIT-FEE-1",
            bank: "bank_a",
            account: "DE89370400440532013000",
            direction: "credit",
            amount_minor: 98_000,
            currency: "EUR",
            booking_date: dateDaysFromNow(0),
            value_date: dateDaysFromNow(0),
            status: "booked",
            remittance_info: "STRIPE PAYOUT po_fee_1",
          }),
        },
      ],
    });
    await waitUntil(async () => (await paymentStatus("pay_fee_1")) === "settled", 60_000, "pay_fee_1 settled");
    const variance = await db.pool.query(
      "select kind, amount_minor::int as amount, detail from exceptions where subject_key = 'batch:stripe/po_fee_1' and state = 'open'",
    );
    expect(variance.rows).toEqual([
      { kind: "fee_variance", amount: 575, detail: "fee 2000, the fee schedule expects 1425 (+575)" },
    ]);
    // The Stripe USD batches of the end-to-end test above charged exactly the schedule: no variance.
    const usd = await db.pool.query(
      "select subject_key from exceptions where kind = 'fee_variance' and subject_key like 'batch:stripe/po_e2e_%'",
    );
    expect(usd.rows).toEqual([]);

    // Every stripe EUR batch stored (this one and the negative one above, 1.00 charged, 0.25 expected).
    const stored = await db.pool.query(
      "select sum(fee_minor)::int as charged, count(*)::int as batches from settlement_batches where gateway = 'stripe' and currency = 'EUR'",
    );
    const { charged, batches } = stored.rows[0];
    const expected = 1_425 + 25 * (batches - 1);
    await waitUntil(
      async () =>
        (await metricValue("payrecon_batch_fees_minor", { gateway: "stripe", currency: "EUR", kind: "charged" })) ===
          charged &&
        (await metricValue("payrecon_batch_fees_minor", { gateway: "stripe", currency: "EUR", kind: "expected" })) ===
          expected,
      30_000,
      `payrecon_batch_fees_minor charged ${charged}, expected ${expected}`,
    );
    expect(await metricValue("payrecon_batch_fees_minor", { gateway: "adyen", kind: "expected" })).toBe(0);

    const report = await api(daemon.baseUrl)(
      `/api/v1/reports/reconciliation?from=${dateDaysFromNow(-30)}&to=${dateDaysFromNow(30)}&format=json`,
    );
    const row = report.body.rows.find(
      (r: Json) =>
        r.row_type === "gateway" && r.gateway === "stripe" && r.currency === "EUR" && r.direction === "collection",
    );
    expect(row.batch_fees).toEqual({
      batches,
      charged: { amount_minor: charged, amount: (charged / 100).toFixed(2) },
      expected: { amount_minor: expected, amount: (expected / 100).toFixed(2) },
    });
    const adyenRow = report.body.rows.find(
      (r: Json) =>
        r.row_type === "gateway" && r.gateway === "adyen" && r.currency === "EUR" && r.direction === "collection",
    );
    expect(adyenRow.batch_fees.expected).toBeNull();
    const csv: string = (
      await api(daemon.baseUrl)(
        `/api/v1/reports/reconciliation?from=${dateDaysFromNow(-30)}&to=${dateDaysFromNow(30)}&format=csv`,
      )
    ).body;
    const [header, ...lines] = csv
      .trim()
      .split("\r\n")
      .map((line) => line.split(","));
    // The fee columns, then the FX differences (CONTRACT §8), empty here.
    expect(header!.slice(-3)).toEqual(["batch_fees_charged", "batch_fees_expected", "fx_differences"]);
    const stripeEur = lines.find((line) => line.slice(0, 4).join(",") === "gateway,stripe,EUR,collection");
    expect(stripeEur!.slice(-3)).toEqual([(charged / 100).toFixed(2), (expected / 100).toFixed(2), ""]);
  });
});
