import { z } from "zod";
import type { GatewayEventInput, GatewayEventType } from "../messages/schemas.js";
import { unixSecondsToDate, unixSecondsToTimestamp, validated } from "./gatewayEvent.js";
import {
  parseStripe,
  type StripeCharge,
  type StripePayout,
  stripeChargeSchema,
  stripeDisputeReference,
  stripeDisputeSchema,
  stripeId,
  stripeMoney,
  stripePaymentIntentSchema,
  stripePayoutSchema,
  stripeReference,
} from "./stripeObjects.js";

/**
 * Stripe webhook events → CONTRACT GatewayEvents (pure; verify the signature first
 * with verifyStripeSignature).
 *
 * How the pieces fit, for the (stateful, not here) webhook bridge:
 *  1. verifyStripeSignature(raw body, header, secrets, now) — reject on !ok;
 *  2. mapStripeEvent(JSON.parse(body)):
 *     - `events`: publish each to `gateway.events` (key = reference);
 *     - `ignored`: acknowledge, log the reason at debug;
 *     - `balance_transactions`: our own automatic payout was paid. List
 *       GET /v1/balance_transactions?payout=<payoutId>&expand[]=data.source (all pages;
 *       Stripe lists a payout's transactions for automatic payouts only), then
 *       composeStripeSettlementBatch(payout, transactions, occurredAtSeconds) and publish
 *       the settlement.batch (key = batch_id). Its event_id is the payout id, so a retry
 *       after a crash publishes the same event.
 * A thrown GatewayPayloadError means the payload cannot become a CONTRACT event:
 * acknowledge it to Stripe and dead-letter it, do not let Stripe retry forever.
 *
 * Two meanings of a Stripe payout (`po_…`):
 *  - a payout to someone else: any payout on a connected account (`event.account` set:
 *    its balance is the counterparty's money) and manual payouts → CONTRACT `payout.*`;
 *  - the platform's own automatic payout of its balance to our bank (`automatic: true`,
 *    no `event.account`) → a `settlement.batch` of the collected charges it contains.
 */

export type StripeMapping =
  | { kind: "events"; events: GatewayEventInput[] }
  | {
      kind: "balance_transactions";
      payoutId: string;
      /** Pass back to composeStripeSettlementBatch with the payout's balance transactions. */
      payout: StripePayout;
      occurredAtSeconds: number;
    }
  | { kind: "ignored"; type: string; reason: string };

const envelopeSchema = z.looseObject({
  id: z.string().min(1),
  object: z.literal("event").optional(),
  type: z.string().min(1),
  created: z.number().int(),
  account: z.string().nullish(),
  livemode: z.boolean().nullish(),
  data: z.looseObject({
    object: z.record(z.string(), z.unknown()),
    previous_attributes: z.record(z.string(), z.unknown()).nullish(),
  }),
});
type Envelope = z.output<typeof envelopeSchema>;

type Handler = (event: Envelope) => StripeMapping;
type PaymentEventType = Exclude<GatewayEventType, "settlement.batch">;

export function mapStripeEvent(event: unknown): StripeMapping {
  const envelope = parseStripe(envelopeSchema, event, "event");
  const handler = HANDLERS[envelope.type];
  if (handler === undefined) {
    return ignored(envelope.type, "not a payment, payout or settlement fact that payrecon reconciles");
  }
  return handler(envelope);
}

const HANDLERS: Record<string, Handler> = {
  "charge.succeeded": (event) => {
    const charge = parseStripe(stripeChargeSchema, event.data.object, "charge");
    // A charge created with capture=false succeeds as an authorisation; charge.captured follows.
    if (charge.captured === false) return one(chargeEvent(event, charge, "payment.authorized", charge.amount));
    return one(chargeEvent(event, charge, "payment.captured", charge.amount_captured ?? charge.amount));
  },
  "charge.captured": (event) => {
    const charge = parseStripe(stripeChargeSchema, event.data.object, "charge");
    return one(chargeEvent(event, charge, "payment.captured", charge.amount_captured ?? charge.amount));
  },
  "charge.failed": (event) => {
    const charge = parseStripe(stripeChargeSchema, event.data.object, "charge");
    // outcome.reason is the specific decline code (insufficient_funds, highest_risk_level…);
    // failure_code is often only the generic card_declined.
    return one(
      chargeEvent(event, charge, "payment.failed", charge.amount, {
        failure_code: charge.outcome?.reason ?? charge.failure_code ?? null,
        failure_message: charge.failure_message ?? null,
        extra: { stripe_failure_code: charge.failure_code ?? null, outcome_type: charge.outcome?.type ?? null },
      }),
    );
  },
  "charge.refunded": (event) => {
    const charge = parseStripe(stripeChargeSchema, event.data.object, "charge");
    // amount_refunded is cumulative: a second partial refund reports the running total,
    // so consumers take the largest refunded amount of a payment, never the sum.
    const before = event.data.previous_attributes?.amount_refunded;
    return one(
      chargeEvent(event, charge, "payment.refunded", charge.amount_refunded ?? charge.amount, {
        extra: {
          amount_refunded_is_cumulative: true,
          ...(typeof before === "number" ? { amount_refunded_before: before } : {}),
        },
      }),
    );
  },
  "payment_intent.amount_capturable_updated": (event) => {
    const intent = parseStripe(stripePaymentIntentSchema, event.data.object, "payment_intent");
    return one(intentEvent(event, intent, "payment.authorized", intent.amount_capturable ?? intent.amount));
  },
  "payment_intent.succeeded": (event) => {
    const intent = parseStripe(stripePaymentIntentSchema, event.data.object, "payment_intent");
    return one(intentEvent(event, intent, "payment.captured", intent.amount_received ?? intent.amount));
  },
  "payment_intent.payment_failed": (event) => {
    const intent = parseStripe(stripePaymentIntentSchema, event.data.object, "payment_intent");
    const error = intent.last_payment_error;
    return one(
      intentEvent(event, intent, "payment.failed", intent.amount, {
        failure_code: error?.decline_code ?? error?.code ?? null,
        failure_message: error?.message ?? null,
      }),
    );
  },
  "charge.dispute.created": (event) => {
    const dispute = parseStripe(stripeDisputeSchema, event.data.object, "dispute");
    // An inquiry (warning_needs_response, warning_under_review…) moves no money; if it
    // escalates, Stripe withdraws the funds and sends charge.dispute.funds_withdrawn.
    if (dispute.status.startsWith("warning_")) {
      return ignored(event.type, `inquiry (${dispute.status}): no funds withdrawn; not a chargeback yet`);
    }
    return one(disputeEvent(event, dispute));
  },
  // Also sent for a regular dispute after .created: the duplicate chargeback fact is harmless.
  "charge.dispute.funds_withdrawn": (event) =>
    one(disputeEvent(event, parseStripe(stripeDisputeSchema, event.data.object, "dispute"))),
  // A dispute won (CONTRACT §8): the funds come back. Both events say so; the duplicate reversal is harmless.
  "charge.dispute.funds_reinstated": (event) =>
    one(
      disputeEvent(
        event,
        parseStripe(stripeDisputeSchema, event.data.object, "dispute"),
        "payment.chargeback_reversed",
      ),
    ),
  "charge.dispute.closed": (event) => {
    const dispute = parseStripe(stripeDisputeSchema, event.data.object, "dispute");
    if (dispute.status === "won") return one(disputeEvent(event, dispute, "payment.chargeback_reversed"));
    return ignored(event.type, `dispute closed as ${dispute.status}: the chargeback was already reported`);
  },
  "payout.created": (event) => {
    const payout = parseStripe(stripePayoutSchema, event.data.object, "payout");
    if (isOwnSettlement(event, payout)) {
      return ignored(event.type, "automatic payout to our own bank: reported as a settlement.batch when paid");
    }
    return one(payoutEvent(event, payout, "payout.submitted"));
  },
  "payout.paid": (event) => {
    const payout = parseStripe(stripePayoutSchema, event.data.object, "payout");
    if (isOwnSettlement(event, payout)) {
      return { kind: "balance_transactions", payoutId: payout.id, payout, occurredAtSeconds: event.created };
    }
    return one(payoutEvent(event, payout, "payout.paid"));
  },
  // For our own automatic payout too: its reference is the payout id (= the batch id), so
  // the failure stays visible (an unmatched gateway event at worst) instead of vanishing.
  "payout.failed": (event) => {
    const payout = parseStripe(stripePayoutSchema, event.data.object, "payout");
    return one(
      payoutEvent(event, payout, "payout.failed", {
        failure_code: payout.failure_code ?? null,
        failure_message: payout.failure_message ?? null,
      }),
    );
  },
  "payout.canceled": (event) => {
    const payout = parseStripe(stripePayoutSchema, event.data.object, "payout");
    return one(
      payoutEvent(event, payout, "payout.canceled", { failure_code: "payout_canceled", failure_message: null }),
    );
  },
};

interface FailureFields {
  failure_code?: string | null;
  failure_message?: string | null;
  extra?: Record<string, unknown>;
}

function chargeEvent(
  event: Envelope,
  charge: StripeCharge,
  type: PaymentEventType,
  amount: number,
  fields: FailureFields = {},
): GatewayEventInput {
  return paymentEvent(event, type, stripeReference(charge), charge.id, amount, charge.currency, {
    ...fields,
    extra: { payment_intent: stripeId(charge.payment_intent) ?? null, ...fields.extra },
  });
}

function intentEvent(
  event: Envelope,
  intent: z.output<typeof stripePaymentIntentSchema>,
  type: PaymentEventType,
  amount: number,
  fields: FailureFields = {},
): GatewayEventInput {
  return paymentEvent(event, type, stripeReference(intent), intent.id, amount, intent.currency, {
    ...fields,
    extra: { latest_charge: stripeId(intent.latest_charge) ?? null, ...fields.extra },
  });
}

function disputeEvent(
  event: Envelope,
  dispute: z.output<typeof stripeDisputeSchema>,
  type: "payment.chargeback" | "payment.chargeback_reversed" = "payment.chargeback",
): GatewayEventInput {
  const chargeId = typeof dispute.charge === "string" ? dispute.charge : dispute.charge.id;
  return paymentEvent(event, type, stripeDisputeReference(dispute), chargeId, dispute.amount, dispute.currency, {
    failure_code: dispute.reason ?? null,
    failure_message: null,
    extra: {
      dispute_id: dispute.id,
      dispute_status: dispute.status,
      network_reason_code: dispute.payment_method_details?.card?.network_reason_code ?? null,
    },
  });
}

function payoutEvent(
  event: Envelope,
  payout: z.output<typeof stripePayoutSchema>,
  type: PaymentEventType,
  fields: FailureFields = {},
): GatewayEventInput {
  return paymentEvent(event, type, stripeReference(payout), payout.id, payout.amount, payout.currency, {
    ...fields,
    extra: {
      automatic: payout.automatic,
      own_settlement: isOwnSettlement(event, payout),
      arrival_date: unixSecondsToDate(payout.arrival_date),
      destination: stripeId(payout.destination) ?? null,
      ...fields.extra,
    },
  });
}

function paymentEvent(
  event: Envelope,
  type: PaymentEventType,
  reference: string,
  gatewayPaymentId: string,
  amount: number,
  currency: string,
  fields: FailureFields,
): GatewayEventInput {
  return validated({
    event_id: event.id,
    gateway: "stripe",
    type,
    reference,
    gateway_payment_id: gatewayPaymentId,
    ...stripeMoney(amount, currency),
    occurred_at: unixSecondsToTimestamp(event.created),
    failure_code: fields.failure_code ?? null,
    failure_message: fields.failure_message ?? null,
    metadata: {
      stripe_event_type: event.type,
      livemode: event.livemode ?? null,
      ...(event.account ? { stripe_account: event.account } : {}),
      ...fields.extra,
    },
  });
}

/** Our own balance paid to our own bank: automatic, and not on a connected account. */
function isOwnSettlement(event: Envelope, payout: { automatic: boolean }): boolean {
  return payout.automatic && !event.account;
}

function one(event: GatewayEventInput): StripeMapping {
  return { kind: "events", events: [event] };
}

function ignored(type: string, reason: string): StripeMapping {
  return { kind: "ignored", type, reason };
}
