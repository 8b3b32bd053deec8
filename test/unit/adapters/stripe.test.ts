import { describe, expect, it } from "vitest";
import { type GatewayEventInput, gatewayEventSchema } from "../../../src/messages/schemas.js";
import { mapStripeEvent, type StripeMapping } from "../../../src/adapters/stripe.js";
import { GatewayPayloadError } from "../../../src/adapters/gatewayEvent.js";
import { classifyFailure } from "../../../src/reconcile/failureCodes.js";
import { fixture, fixtureNames, type Json, stripeEvent } from "./fixtureFiles.js";

/**
 * Every Stripe fixture file is mapped here; expected values are read from the fixture
 * JSON itself. Files that are API objects rather than webhook events are wrapped in an
 * event envelope the way Stripe sends them.
 */

function events(mapping: StripeMapping): GatewayEventInput[] {
  if (mapping.kind !== "events") throw new Error(`expected events, got ${JSON.stringify(mapping)}`);
  for (const event of mapping.events) expect(gatewayEventSchema.safeParse(event).success).toBe(true);
  return mapping.events;
}

function single(mapping: StripeMapping) {
  const list = events(mapping);
  expect(list).toHaveLength(1);
  const event = list[0]!;
  if (event.type === "settlement.batch") throw new Error("unexpected settlement.batch");
  return event;
}

/** The documented reference rule, applied to the fixture object by hand. */
function expectedReference(object: Json): string {
  return object.metadata?.reference ?? object.metadata?.order_id ?? object.payment_intent ?? object.id;
}

function expectCommon(event: ReturnType<typeof single>, envelope: Json, object: Json) {
  expect(event.event_id).toBe(envelope.id);
  expect(event.gateway).toBe("stripe");
  expect(Date.parse(event.occurred_at)).toBe(envelope.created * 1000);
  expect(event.currency).toBe(object.currency.toUpperCase());
}

/** The files this suite maps, each in its own test below. */
const HANDLED = [
  "balance_transaction_charge_with_fee.json",
  "dispute_funds_reinstated_with_balance_transactions.json",
  "evt_charge.dispute.created.json",
  "evt_charge.refunded.json",
  "evt_charge.succeeded.json",
  "evt_payout.failed_gitpay.json",
  "evt_payout.paid.json",
  "openapi_fixtures3.json",
];

describe("Stripe fixture files", () => {
  it("evt_charge.succeeded.json → payment.captured of the captured amount", () => {
    const envelope = fixture("stripe", "evt_charge.succeeded.json");
    const charge = envelope.data.object;
    const event = single(mapStripeEvent(envelope));
    expectCommon(event, envelope, charge);
    expect(event.type).toBe("payment.captured");
    expect(event.amount_minor).toBe(charge.amount_captured);
    expect(event.reference).toBe(expectedReference(charge));
    expect(event.reference).toBe(charge.payment_intent); // no metadata: the PaymentIntent id
    expect(event.gateway_payment_id).toBe(charge.id);
    expect(event.failure_code ?? null).toBeNull();
  });

  it("evt_charge.refunded.json → payment.refunded of amount_refunded", () => {
    const envelope = fixture("stripe", "evt_charge.refunded.json");
    const charge = envelope.data.object;
    const event = single(mapStripeEvent(envelope));
    expectCommon(event, envelope, charge);
    expect(event.type).toBe("payment.refunded");
    expect(event.amount_minor).toBe(charge.amount_refunded);
    expect(event.reference).toBe(expectedReference(charge));
    expect(event.reference).toBe(charge.id); // neither metadata nor PaymentIntent
    expect(event.metadata?.amount_refunded_before).toBe(envelope.data.previous_attributes.amount_refunded);
  });

  it("a partial refund keeps its (cumulative) refunded amount", () => {
    const envelope = fixture("stripe", "evt_charge.refunded.json");
    const charge = envelope.data.object;
    charge.amount_refunded = Math.floor(charge.amount / 4);
    charge.refunded = false;
    const event = single(mapStripeEvent(envelope));
    expect(event.amount_minor).toBe(charge.amount_refunded);
    expect(event.amount_minor).toBeLessThan(charge.amount);
  });

  it("evt_charge.dispute.created.json is an inquiry (warning_needs_response): ignored, no funds moved", () => {
    const envelope = fixture("stripe", "evt_charge.dispute.created.json");
    expect(envelope.data.object.status).toMatch(/^warning_/);
    const mapping = mapStripeEvent(envelope);
    expect(mapping).toMatchObject({ kind: "ignored", type: envelope.type });
    if (mapping.kind === "ignored") expect(mapping.reason).toMatch(/inquiry/);
  });

  it("the same dispute once funds are withdrawn → payment.chargeback with the dispute reason", () => {
    for (const [type, status] of [
      ["charge.dispute.created", "needs_response"],
      ["charge.dispute.funds_withdrawn", "needs_response"],
      ["charge.dispute.funds_withdrawn", "warning_needs_response"],
    ]) {
      const envelope = fixture("stripe", "evt_charge.dispute.created.json");
      envelope.type = type;
      const dispute = envelope.data.object;
      dispute.status = status;
      const event = single(mapStripeEvent(envelope));
      expectCommon(event, envelope, dispute);
      expect(event.type).toBe("payment.chargeback");
      expect(event.amount_minor).toBe(dispute.amount);
      expect(event.failure_code).toBe(dispute.reason);
      expect(event.gateway_payment_id).toBe(dispute.charge);
      expect(event.reference).toBe(dispute.charge); // no metadata, no PaymentIntent
      expect(event.metadata?.dispute_id).toBe(dispute.id);
    }
  });

  it("evt_payout.paid.json (manual payout) → payout.paid", () => {
    const envelope = fixture("stripe", "evt_payout.paid.json");
    const payout = envelope.data.object;
    expect(payout.automatic).toBe(false);
    const event = single(mapStripeEvent(envelope));
    expectCommon(event, envelope, payout);
    expect(event.type).toBe("payout.paid");
    expect(event.amount_minor).toBe(payout.amount);
    expect(event.reference).toBe(payout.id);
    expect(event.gateway_payment_id).toBe(payout.id);
  });

  it("evt_payout.failed_gitpay.json (connected account) → payout.failed with Stripe's code", () => {
    const envelope = fixture("stripe", "evt_payout.failed_gitpay.json");
    const payout = envelope.data.object;
    expect(envelope.account).toBeTruthy();
    expect(payout.automatic).toBe(true); // automatic, but the connected account's own money
    const event = single(mapStripeEvent(envelope));
    expectCommon(event, envelope, payout);
    expect(event.type).toBe("payout.failed");
    expect(event.amount_minor).toBe(payout.amount);
    expect(event.failure_code).toBe(payout.failure_code);
    expect(event.failure_message).toBe(payout.failure_message);
    expect(event.metadata?.stripe_account).toBe(envelope.account);
    expect(classifyFailure(event.failure_code).known).toBe(true);
  });

  it("dispute_funds_reinstated_with_balance_transactions.json as each dispute event", () => {
    const dispute = fixture("stripe", "dispute_funds_reinstated_with_balance_transactions.json");
    const created = single(mapStripeEvent(stripeEvent("charge.dispute.created", dispute)));
    expect(created.type).toBe("payment.chargeback");
    expect(created.amount_minor).toBe(dispute.amount);
    expect(created.reference).toBe(dispute.payment_intent);
    expect(created.gateway_payment_id).toBe(dispute.charge);

    // A dispute won (CONTRACT §8): funds reinstated, or closed as won, reverse the chargeback.
    const reinstated = single(mapStripeEvent(stripeEvent("charge.dispute.funds_reinstated", dispute)));
    expect(reinstated).toMatchObject({
      type: "payment.chargeback_reversed",
      amount_minor: dispute.amount,
      reference: dispute.payment_intent,
      gateway_payment_id: dispute.charge,
    });
    expect(reinstated.metadata?.dispute_id).toBe(dispute.id);
    const won = single(mapStripeEvent(stripeEvent("charge.dispute.closed", { ...dispute, status: "won" })));
    expect(won).toMatchObject({ type: "payment.chargeback_reversed", reference: dispute.payment_intent });
    expect(won.event_id).not.toBe(reinstated.event_id);
    const lost = mapStripeEvent(stripeEvent("charge.dispute.closed", { ...dispute, status: "lost" }));
    expect(lost).toMatchObject({ kind: "ignored", reason: expect.stringMatching(/lost/) });
  });

  it("a dispute whose charge is expanded takes the charge's reference", () => {
    const dispute = fixture("stripe", "dispute_funds_reinstated_with_balance_transactions.json");
    const charge = fixture("stripe", "openapi_fixtures3.json").resources.charge;
    dispute.charge = { ...charge, metadata: { reference: "ORD-77" } };
    const event = single(mapStripeEvent(stripeEvent("charge.dispute.funds_withdrawn", dispute)));
    expect(event.reference).toBe("ORD-77");
    expect(event.gateway_payment_id).toBe(charge.id);
  });

  it("balance_transaction_charge_with_fee.json is not an event: ignored as such (used in stripeSettlement.test.ts)", () => {
    const txn = fixture("stripe", "balance_transaction_charge_with_fee.json");
    expect(mapStripeEvent(stripeEvent("balance.available", txn))).toMatchObject({ kind: "ignored" });
    expect(() => mapStripeEvent(txn)).toThrow(GatewayPayloadError);
  });

  describe("openapi_fixtures3.json resources", () => {
    const resources = () => fixture("stripe", "openapi_fixtures3.json").resources;

    it("payout (automatic, platform) paid → asks for its balance transactions", () => {
      const payout = resources().payout;
      expect(payout.automatic).toBe(true);
      const envelope = stripeEvent("payout.paid", { ...payout, status: "paid" });
      const mapping = mapStripeEvent(envelope);
      expect(mapping).toMatchObject({
        kind: "balance_transactions",
        payoutId: payout.id,
        occurredAtSeconds: envelope.created,
      });
      expect(mapStripeEvent(stripeEvent("payout.created", payout))).toMatchObject({ kind: "ignored" });
    });

    it("payout on a connected account or manual → payout.* with amount, failure and cancel codes", () => {
      const payout = resources().payout;
      for (const extra of [{ account: "acct_123" }, {}]) {
        const object = extra.account ? payout : { ...payout, automatic: false };
        const submitted = single(mapStripeEvent(stripeEvent("payout.created", object, extra)));
        expect(submitted.type).toBe("payout.submitted");
        expect(submitted.amount_minor).toBe(payout.amount);
        const paid = single(mapStripeEvent(stripeEvent("payout.paid", { ...object, status: "paid" }, extra)));
        expect(paid).toMatchObject({ type: "payout.paid", reference: payout.id, gateway_payment_id: payout.id });
        const canceled = single(
          mapStripeEvent(stripeEvent("payout.canceled", { ...object, status: "canceled" }, extra)),
        );
        expect(canceled).toMatchObject({ type: "payout.canceled", failure_code: "payout_canceled" });
        expect(classifyFailure(canceled.failure_code).category).toBe("operator_error");
      }
    });

    it("payout failed → payout.failed keeps Stripe's failure_code and message verbatim", () => {
      const payout = {
        ...resources().payout,
        status: "failed",
        failure_code: "account_closed",
        failure_message: "closed",
      };
      const event = single(mapStripeEvent(stripeEvent("payout.failed", payout)));
      expect(event).toMatchObject({
        type: "payout.failed",
        failure_code: payout.failure_code,
        failure_message: "closed",
      });
      expect(event.metadata?.own_settlement).toBe(true); // our own payout failed: still reported
    });

    it("a payout's metadata.reference, then order_id, become the reference", () => {
      const payout = { ...resources().payout, automatic: false };
      const byReference = { ...payout, metadata: { reference: "WD-55", order_id: "55" } };
      expect(single(mapStripeEvent(stripeEvent("payout.paid", byReference))).reference).toBe("WD-55");
      const byOrder = { ...payout, metadata: { reference: "  ", order_id: "55" } };
      expect(single(mapStripeEvent(stripeEvent("payout.paid", byOrder))).reference).toBe("55");
    });

    it("charge not captured → payment.authorized; failed → payment.failed with the decline code", () => {
      const charge = resources().charge;
      expect(charge.captured).toBe(false);
      const authorized = single(mapStripeEvent(stripeEvent("charge.succeeded", charge)));
      expect(authorized).toMatchObject({
        type: "payment.authorized",
        amount_minor: charge.amount,
        reference: charge.id,
      });

      const declined = {
        ...charge,
        status: "failed",
        failure_code: "card_declined",
        failure_message: "Your card has insufficient funds.",
        outcome: { ...charge.outcome, reason: "insufficient_funds", type: "issuer_declined" },
      };
      const failed = single(mapStripeEvent(stripeEvent("charge.failed", declined)));
      expect(failed).toMatchObject({
        type: "payment.failed",
        amount_minor: charge.amount,
        failure_code: declined.outcome.reason,
        failure_message: declined.failure_message,
      });
      expect(failed.metadata?.stripe_failure_code).toBe(declined.failure_code);
      const noOutcome = { ...declined, outcome: null };
      expect(single(mapStripeEvent(stripeEvent("charge.failed", noOutcome))).failure_code).toBe(declined.failure_code);
    });

    it("payment_intent succeeded / failed", () => {
      const intent = { ...resources().payment_intent, amount_received: 1099, metadata: { order_id: "1001" } };
      const captured = single(mapStripeEvent(stripeEvent("payment_intent.succeeded", intent)));
      expect(captured).toMatchObject({
        type: "payment.captured",
        amount_minor: intent.amount_received,
        reference: "1001",
      });
      const failing = {
        ...intent,
        last_payment_error: { type: "card_error", code: "card_declined", decline_code: "do_not_honor", message: "no" },
      };
      const failed = single(mapStripeEvent(stripeEvent("payment_intent.payment_failed", failing)));
      expect(failed).toMatchObject({ type: "payment.failed", failure_code: "do_not_honor", failure_message: "no" });
    });

    it("dispute (an inquiry) is ignored; balance_transaction and event are not payment facts", () => {
      const { dispute, balance_transaction, event } = resources();
      expect(mapStripeEvent(stripeEvent("charge.dispute.created", dispute))).toMatchObject({ kind: "ignored" });
      expect(mapStripeEvent(stripeEvent("balance.available", balance_transaction))).toMatchObject({ kind: "ignored" });
      // resources.event is a real envelope (plan.created): mapped as-is.
      expect(mapStripeEvent(event)).toMatchObject({ kind: "ignored", type: event.type });
    });
  });

  it("covers every file in the fixture folder", () => {
    expect(fixtureNames("stripe")).toEqual(HANDLED);
  });
});

describe("mapStripeEvent conventions", () => {
  it("ignores unknown types with a reason", () => {
    const mapping = mapStripeEvent(stripeEvent("customer.created", { id: "cus_1", object: "customer" }));
    expect(mapping).toEqual({ kind: "ignored", type: "customer.created", reason: expect.any(String) });
  });

  it("maps the same event twice to the same event", () => {
    const envelope = fixture("stripe", "evt_charge.succeeded.json");
    expect(mapStripeEvent(envelope)).toEqual(mapStripeEvent(fixture("stripe", "evt_charge.succeeded.json")));
  });

  it("rescales Stripe's minor units where they differ from ISO 4217 (ISK two-decimal at Stripe)", () => {
    const envelope = fixture("stripe", "evt_charge.succeeded.json");
    envelope.data.object.currency = "isk";
    envelope.data.object.amount_captured = 279_000; // 2 790 kr sent as 279000 (divisible by 100)
    expect(single(mapStripeEvent(envelope))).toMatchObject({ currency: "ISK", amount_minor: 2_790 });
    envelope.data.object.amount_captured = 279_050;
    expect(() => mapStripeEvent(envelope)).toThrow(/exact/);
  });

  it("throws a GatewayPayloadError naming the field for a malformed object", () => {
    const envelope = fixture("stripe", "evt_payout.paid.json");
    envelope.data.object.amount = "11.00";
    expect(() => mapStripeEvent(envelope)).toThrow(/amount/);
    expect(() => mapStripeEvent({ nope: true })).toThrow(GatewayPayloadError);
    const wrongCurrency = fixture("stripe", "evt_payout.paid.json");
    wrongCurrency.data.object.currency = "zzz";
    expect(() => mapStripeEvent(wrongCurrency)).toThrow(/currency/);
  });
});
