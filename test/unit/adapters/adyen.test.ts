import { describe, expect, it } from "vitest";
import { type AdyenItemResult, mapAdyenNotification } from "../../../src/adapters/adyen.js";
import { GatewayPayloadError } from "../../../src/adapters/gatewayEvent.js";
import { gatewayEventSchema } from "../../../src/messages/schemas.js";
import { classifyFailure } from "../../../src/reconcile/failureCodes.js";
import { fixture, fixtureNames, type Json } from "./fixtureFiles.js";

function itemOf(body: Json): Json {
  return body.notificationItems[0].NotificationRequestItem;
}

function onlyResult(body: Json): AdyenItemResult {
  const { items } = mapAdyenNotification(body);
  expect(items).toHaveLength(1);
  expect(items[0]!.pspReference).toBe(itemOf(body).pspReference);
  return items[0]!.result;
}

function onlyEvent(body: Json) {
  const result = onlyResult(body);
  if (result.kind !== "event") throw new Error(`expected an event, got ${JSON.stringify(result)}`);
  expect(gatewayEventSchema.safeParse(result.event).success).toBe(true);
  if (result.event.type === "settlement.batch") throw new Error("unexpected batch");
  return result.event;
}

/** What every mapped item carries, read from the fixture item. */
function expectCommon(event: ReturnType<typeof onlyEvent>, item: Json) {
  expect(event.gateway).toBe("adyen");
  expect(event.event_id).toBe(`${item.pspReference}:${item.eventCode}:${item.success}`);
  expect(event.reference).toBe(item.merchantReference);
  expect(event.amount_minor).toBe(item.amount.value);
  expect(event.currency).toBe(item.amount.currency);
  expect(event.occurred_at).toBe(item.eventDate);
  expect(event.gateway_payment_id).toBe(item.originalReference || item.pspReference);
}

/** The type each fixture file's item maps to (derived by eventCode + success in the cases below). */
const EXPECTED_TYPES: Record<string, string> = {
  "notification_authorisation-true.json": "payment.authorized",
  "notification_capture-true.json": "payment.captured",
  "notification_refund-true.json": "payment.refunded",
  "notification_chargeback.json": "payment.chargeback",
  "openapi_example_PAYOUT_DECLINE.json": "payout.canceled",
  "openapi_example_PAYOUT_THIRDPARTY.json": "payout.paid",
};

describe("Adyen fixture files", () => {
  it("has a case for every file in the folder", () => {
    expect(fixtureNames("adyen")).toEqual(Object.keys(EXPECTED_TYPES).sort());
  });

  for (const [name, type] of Object.entries(EXPECTED_TYPES)) {
    it(`${name} → ${type}`, () => {
      const body = fixture("adyen", name);
      const item = itemOf(body);
      const event = onlyEvent(body);
      expectCommon(event, item);
      expect(event.type).toBe(type);
      expect(event.metadata?.live).toBe(body.live === "true");
    });
  }

  it("AUTHORISATION success keeps no failure code (its reason is authCode:card:expiry)", () => {
    const body = fixture("adyen", "notification_authorisation-true.json");
    expect(itemOf(body).reason).not.toBe("");
    const event = onlyEvent(body);
    expect(event.failure_code ?? null).toBeNull();
    expect(event.failure_message ?? null).toBeNull();
  });

  it("CHARGEBACK keeps chargebackReasonCode (unsigned) in metadata and the reason text as message, no failure code", () => {
    const body = fixture("adyen", "notification_chargeback.json");
    const item = itemOf(body);
    const event = onlyEvent(body);
    expect(event.failure_code ?? null).toBeNull();
    expect(event.metadata?.chargeback_reason_code).toBe(item.additionalData.chargebackReasonCode);
    expect(event.failure_message).toBe(item.reason);
  });

  it("PAYOUT_DECLINE without a reason gets payout_declined (operator_error)", () => {
    const body = fixture("adyen", "openapi_example_PAYOUT_DECLINE.json");
    expect(itemOf(body).reason).toBe("");
    const event = onlyEvent(body);
    expect(event.failure_code).toBe("payout_declined");
    expect(classifyFailure(event.failure_code).category).toBe("operator_error");
  });
});

describe("Adyen outcomes by eventCode and success (fixture items varied)", () => {
  it("AUTHORISATION false → payment.failed with the refusal reason", () => {
    const body = fixture("adyen", "notification_authorisation-true.json");
    Object.assign(itemOf(body), { success: "false", reason: "Not enough balance" });
    const event = onlyEvent(body);
    expectCommon(event, itemOf(body));
    // The reason is not signed: shown as the message, never a code that decides category and retry advice.
    expect(event).toMatchObject({ type: "payment.failed", failure_code: null, failure_message: "Not enough balance" });
    expect(classifyFailure(event.failure_code).category).toBe("unknown");
  });

  it("CAPTURE false and CAPTURE_FAILED → payment.failed", () => {
    const body = fixture("adyen", "notification_capture-true.json");
    Object.assign(itemOf(body), { success: "false", reason: "Insufficient balance on payment" });
    expect(onlyEvent(body)).toMatchObject({
      type: "payment.failed",
      failure_code: null,
      failure_message: "Insufficient balance on payment",
    });
    Object.assign(itemOf(body), { success: "true", eventCode: "CAPTURE_FAILED", reason: "Acquirer Error" });
    expect(onlyEvent(body)).toMatchObject({
      type: "payment.failed",
      failure_code: null,
      failure_message: "Acquirer Error",
    });
  });

  it("REFUND false is ignored: no money moved", () => {
    const body = fixture("adyen", "notification_refund-true.json");
    itemOf(body).success = "false";
    expect(onlyResult(body)).toMatchObject({ kind: "ignored", eventCode: "REFUND" });
  });

  it("PAYOUT_THIRDPARTY false → payout.failed; PAYOUT_EXPIRE → payout.failed payout_expired", () => {
    const body = fixture("adyen", "openapi_example_PAYOUT_THIRDPARTY.json");
    Object.assign(itemOf(body), { success: "false", reason: "counterpartyAccountClosed" });
    expect(onlyEvent(body)).toMatchObject({
      type: "payout.failed",
      failure_code: null,
      failure_message: "counterpartyAccountClosed",
    });
    Object.assign(itemOf(body), { success: "true", eventCode: "PAYOUT_EXPIRE", reason: "" });
    const expired = onlyEvent(body);
    expect(expired).toMatchObject({ type: "payout.failed", failure_code: "payout_expired" });
    expect(classifyFailure(expired.failure_code).known).toBe(true);
  });

  it("CHARGEBACK_REVERSED → payment.chargeback_reversed (a dispute won); unknown event codes are ignored", () => {
    const body = fixture("adyen", "notification_chargeback.json");
    const item = itemOf(body);
    item.eventCode = "CHARGEBACK_REVERSED";
    const reversed = onlyEvent(body);
    expect(reversed).toMatchObject({
      type: "payment.chargeback_reversed",
      event_id: `${item.pspReference}:CHARGEBACK_REVERSED:true`,
      reference: item.merchantReference,
      amount_minor: item.amount.value,
    });
    item.success = "false";
    expect(onlyResult(body)).toMatchObject({ kind: "ignored", eventCode: "CHARGEBACK_REVERSED" });
    itemOf(body).eventCode = "REPORT_AVAILABLE";
    expect(onlyResult(body)).toEqual({ kind: "ignored", eventCode: "REPORT_AVAILABLE", reason: expect.any(String) });
  });

  it("falls back to the payment's PSP reference when merchantReference is blank", () => {
    const body = fixture("adyen", "notification_capture-true.json");
    itemOf(body).merchantReference = " ";
    expect(onlyEvent(body).reference).toBe(itemOf(body).originalReference);
  });

  it("marks an item it cannot map as invalid and still maps the others", () => {
    const good = fixture("adyen", "notification_refund-true.json");
    const noAmount = fixture("adyen", "notification_capture-true.json");
    delete itemOf(noAmount).amount;
    const badDate = fixture("adyen", "notification_authorisation-true.json");
    itemOf(badDate).eventDate = "19/01/2017";
    const body = {
      ...good,
      notificationItems: [...noAmount.notificationItems, ...badDate.notificationItems, ...good.notificationItems],
    };
    const kinds = mapAdyenNotification(body).items.map((entry) => entry.result.kind);
    expect(kinds).toEqual(["invalid", "invalid", "event"]);
    expect(() => mapAdyenNotification({ notificationItems: "no" })).toThrow(GatewayPayloadError);
    expect(() => mapAdyenNotification(null)).toThrow(GatewayPayloadError);
  });

  it("rescales Adyen's minor units where they differ from ISO 4217", () => {
    const body = fixture("adyen", "notification_capture-true.json");
    itemOf(body).amount = { currency: "IDR", value: 15000 }; // Adyen: IDR has no decimals
    expect(onlyEvent(body)).toMatchObject({ currency: "IDR", amount_minor: 1_500_000 });
    itemOf(body).amount = { currency: "CLP", value: 150000 }; // Adyen: CLP has two
    expect(onlyEvent(body)).toMatchObject({ currency: "CLP", amount_minor: 1_500 });
    itemOf(body).amount = { currency: "CLP", value: 150050 };
    expect(onlyResult(body)).toMatchObject({ kind: "invalid" });
  });
});

describe("idempotency", () => {
  it("the same notification delivered twice gives the same events and ids", () => {
    for (const name of fixtureNames("adyen")) {
      const first = mapAdyenNotification(fixture("adyen", name));
      const second = mapAdyenNotification(fixture("adyen", name));
      expect(second, name).toEqual(first);
    }
  });

  it("items of one body get distinct ids", () => {
    const bodies = fixtureNames("adyen").map((name) => fixture("adyen", name));
    const combined = { live: "false", notificationItems: bodies.flatMap((body) => body.notificationItems) };
    const ids = mapAdyenNotification(combined).items.flatMap((entry) =>
      entry.result.kind === "event" ? [entry.result.event.event_id] : [],
    );
    expect(ids.length).toBeGreaterThan(1);
    expect(new Set(ids).size).toBe(ids.length);
  });
});
