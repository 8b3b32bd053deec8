import type { GatewayEventInput, GatewayEventType } from "../messages/schemas.js";
import { adyenItemSchema, adyenMoney, adyenNotificationItems, type ParsedAdyenItem } from "./adyenNotification.js";
import { GatewayPayloadError, text, validated } from "./gatewayEvent.js";

/**
 * Adyen classic notifications → CONTRACT GatewayEvents, one result per item (pure).
 * The bridge verifies each item with verifyAdyenHmac, publishes the events, dead-letters
 * `invalid` items, and then answers `[accepted]` so Adyen stops re-sending the body.
 *
 * event_id is `${pspReference}:${eventCode}:${success}`: Adyen re-sends the very same
 * item until acknowledged, and the same item always gives the same id (the dedupe key).
 * reference is `merchantReference` (what we sent Adyen), or the payment's PSP reference
 * when Adyen sends none, so the event still surfaces as unmatched instead of vanishing.
 */

export type AdyenItemResult =
  | { kind: "event"; event: GatewayEventInput }
  | { kind: "ignored"; eventCode: string; reason: string }
  /** The item cannot become a CONTRACT event (missing amount, bad date…): dead-letter it. */
  | { kind: "invalid"; eventCode: string; reason: string };

export interface AdyenMapping {
  items: Array<{ pspReference: string; result: AdyenItemResult }>;
}

type PaymentEventType = Exclude<GatewayEventType, "settlement.batch">;
type Outcome = { type: PaymentEventType; failureCode?: string | null } | { ignore: string };

const NO_MONEY_MOVED = "reported as not successful: nothing changed";
const NO_REVERSAL_TYPE = "CONTRACT has no event type that reverses a refund";
const DISPUTE_STAGE = "a dispute stage that moves no money (the CHARGEBACK item does)";

/**
 * What each eventCode means, given `success`. Only the HMAC-signed fields (eventCode, success, amount,
 * references, merchant account) decide a fact: anyone holding one captured notification can change the
 * rest (reason, additionalData, eventDate, live) and keep the signature. So a failure's `reason` is its
 * message, never its failure code (the code decides the category and retry advice), and CANCEL_OR_REFUND,
 * whose refund-or-cancel is said only in additionalData, becomes no fact.
 */
const RULES: Record<string, (success: boolean) => Outcome> = {
  AUTHORISATION: (success) => (success ? { type: "payment.authorized" } : { type: "payment.failed" }),
  CAPTURE: (success) => (success ? { type: "payment.captured" } : { type: "payment.failed" }),
  CAPTURE_FAILED: () => ({ type: "payment.failed" }),
  REFUND: (success) => (success ? { type: "payment.refunded" } : { ignore: NO_MONEY_MOVED }),
  CANCEL_OR_REFUND: () => ({
    ignore: "cancel or refund: which one happened is said only outside the signature (additionalData)",
  }),
  CANCELLATION: () => ({ ignore: "authorisation cancelled, no money moved: cancel the expected payment upstream" }),
  REFUND_FAILED: () => ({ ignore: `refund failed after success: ${NO_REVERSAL_TYPE}` }),
  REFUNDED_REVERSED: () => ({ ignore: `refund reversed: ${NO_REVERSAL_TYPE}` }),
  CHARGEBACK: (success) => chargeback(success),
  SECOND_CHARGEBACK: (success) => chargeback(success),
  // The dispute was won and the funds returned (CONTRACT §8).
  CHARGEBACK_REVERSED: (success) => (success ? { type: "payment.chargeback_reversed" } : { ignore: NO_MONEY_MOVED }),
  NOTIFICATION_OF_CHARGEBACK: () => ({ ignore: DISPUTE_STAGE }),
  NOTIFICATION_OF_FRAUD: () => ({ ignore: DISPUTE_STAGE }),
  REQUEST_FOR_INFORMATION: () => ({ ignore: DISPUTE_STAGE }),
  PREARBITRATION_WON: () => ({ ignore: DISPUTE_STAGE }),
  PREARBITRATION_LOST: () => ({ ignore: DISPUTE_STAGE }),
  PAYOUT_THIRDPARTY: (success) => (success ? { type: "payout.paid" } : { type: "payout.failed" }),
  // Declined by a reviewer on our side.
  PAYOUT_DECLINE: (success) =>
    success ? { type: "payout.canceled", failureCode: "payout_declined" } : { ignore: NO_MONEY_MOVED },
  PAYOUT_EXPIRE: (success) =>
    success ? { type: "payout.failed", failureCode: "payout_expired" } : { ignore: NO_MONEY_MOVED },
  // A payout that was paid came back from the bank: CONTRACT says it moves to failed.
  PAIDOUT_REVERSED: (success) => (success ? { type: "payout.failed" } : { ignore: NO_MONEY_MOVED }),
};

function chargeback(success: boolean): Outcome {
  if (!success) return { ignore: NO_MONEY_MOVED };
  return { type: "payment.chargeback" };
}

/** Event types whose message is the gateway's reason (informational: it is not signed). */
const WITH_REASON: ReadonlySet<PaymentEventType> = new Set([
  "payment.failed",
  "payment.chargeback",
  "payout.failed",
  "payout.canceled",
]);

export function mapAdyenNotification(body: unknown): AdyenMapping {
  const { live, items } = adyenNotificationItems(body);
  return { items: items.map((raw) => mapItem(raw, live)) };
}

function mapItem(raw: unknown, live: boolean | null): AdyenMapping["items"][number] {
  const fallbackPsp =
    typeof raw === "object" && raw !== null ? text((raw as Record<string, unknown>).pspReference) : undefined;
  const parsed = adyenItemSchema.safeParse(raw);
  if (!parsed.success) {
    const eventCode =
      typeof raw === "object" && raw !== null ? (text((raw as Record<string, unknown>).eventCode) ?? "") : "";
    const reason = parsed.error.issues.map((issue) => `${issue.path.join(".") || "(item)"}: ${issue.message}`);
    return { pspReference: fallbackPsp ?? "", result: { kind: "invalid", eventCode, reason: reason.join("; ") } };
  }
  const item = parsed.data;
  const success = item.success === true || item.success === "true";
  const rule = RULES[item.eventCode];
  const outcome: Outcome = rule ? rule(success) : { ignore: "not a payment or payout fact that payrecon reconciles" };
  if ("ignore" in outcome) {
    return {
      pspReference: item.pspReference,
      result: { kind: "ignored", eventCode: item.eventCode, reason: outcome.ignore },
    };
  }
  try {
    return { pspReference: item.pspReference, result: { kind: "event", event: toEvent(item, success, outcome, live) } };
  } catch (error) {
    if (!(error instanceof GatewayPayloadError)) throw error;
    return {
      pspReference: item.pspReference,
      result: { kind: "invalid", eventCode: item.eventCode, reason: error.message },
    };
  }
}

function toEvent(
  item: ParsedAdyenItem,
  success: boolean,
  outcome: { type: PaymentEventType; failureCode?: string | null },
  live: boolean | null,
): GatewayEventInput {
  if (!item.amount) throw new GatewayPayloadError(`adyen ${item.eventCode} ${item.pspReference} has no amount`);
  const original = text(item.originalReference);
  const failureCode = outcome.failureCode ?? null;
  return validated({
    event_id: `${item.pspReference}:${item.eventCode}:${success}`,
    gateway: "adyen",
    type: outcome.type,
    reference: text(item.merchantReference) ?? original ?? item.pspReference,
    // The payment's (or payout's) PSP reference: a modification names it as originalReference.
    gateway_payment_id: original ?? item.pspReference,
    ...adyenMoney(item.amount),
    occurred_at: item.eventDate,
    failure_code: failureCode,
    // Unsigned, so shown and never classified; free text can outgrow the schema's 2,000 characters.
    failure_message: WITH_REASON.has(outcome.type) ? (text(item.reason)?.slice(0, 2000) ?? null) : null,
    metadata: {
      psp_reference: item.pspReference,
      original_reference: original ?? null,
      event_code: item.eventCode,
      merchant_account: item.merchantAccountCode ?? null,
      payment_method: item.paymentMethod ?? null,
      // Unsigned: for people to read, never for matching or classification.
      chargeback_reason_code: text(item.additionalData?.chargebackReasonCode) ?? null,
      live,
    },
  });
}
