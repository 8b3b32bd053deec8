import type { GatewayEventInput } from "../messages/schemas.js";
import { mapAdyenNotification } from "./adyen.js";
import { GatewayPayloadError, text } from "./gatewayEvent.js";
import { mapStripeEvent } from "./stripe.js";
import { composeStripeSettlementBatch } from "./stripeSettlement.js";
import { parseStripe, type StripePayout, stripeBalanceTransactionSchema, stripePayoutSchema } from "./stripeObjects.js";

/**
 * A gateway's own payload (a Stripe event or balance transactions, an Adyen notification
 * body) → the facts payrecon keeps (pure). Shared by the webhooks and the raw topics, so
 * a Stripe event means the same whichever way it came.
 */

export type NativeGateway = "stripe" | "adyen";

export interface GatewayFacts {
  events: GatewayEventInput[];
  /** Understood but not a fact payrecon reconciles: counted, acknowledged, not dead-lettered. */
  ignored: { type: string; reason: string }[];
  /** Parts that cannot become facts (an Adyen item without an amount…): dead-lettered with these reasons. */
  invalid: string[];
  /** Our own automatic Stripe payouts, paid: settled once their balance transactions are known. */
  stripePayouts: { payoutId: string; payout: StripePayout; paidAtSeconds: number }[];
  stripeBalanceTransactions: { transactionId: string; payoutId: string; body: unknown }[];
}

function noFacts(): GatewayFacts {
  return { events: [], ignored: [], invalid: [], stripePayouts: [], stripeBalanceTransactions: [] };
}

export function gatewayFacts(gateway: NativeGateway, payload: unknown): GatewayFacts {
  const facts = noFacts();
  try {
    if (gateway === "adyen") addAdyen(facts, payload);
    else addStripe(facts, payload);
    return facts;
  } catch (error) {
    if (!(error instanceof GatewayPayloadError)) throw error;
    // All or nothing for a payload that fails as a whole (a list with one malformed transaction).
    return { ...noFacts(), invalid: [error.message] };
  }
}

function addAdyen(facts: GatewayFacts, body: unknown): void {
  for (const { pspReference, result } of mapAdyenNotification(body).items) {
    if (result.kind === "event") facts.events.push(result.event);
    else if (result.kind === "ignored") facts.ignored.push({ type: result.eventCode, reason: result.reason });
    else facts.invalid.push(`item ${pspReference || "?"} (${result.eventCode || "no eventCode"}): ${result.reason}`);
  }
}

/**
 * Stripe payloads: an Event (webhook body), or balance transactions — one
 * `balance_transaction` object, or a `list` of them as Stripe's API returns it — naming
 * their payout in `automatic_payout_id` (the column of Stripe's payout reconciliation
 * report) or `payout`, on each transaction or on the list.
 */
function addStripe(facts: GatewayFacts, payload: unknown): void {
  const object = record(payload)?.object;
  if (object === "balance_transaction") {
    addBalanceTransaction(facts, payload, undefined);
  } else if (object === "list") {
    const list = record(payload)!;
    if (!Array.isArray(list.data)) throw new GatewayPayloadError("stripe list has no data array");
    const listPayout = payoutIdOf(list);
    for (const transaction of list.data) addBalanceTransaction(facts, transaction, listPayout);
  } else {
    const mapping = mapStripeEvent(payload);
    if (mapping.kind === "events") facts.events.push(...mapping.events);
    else if (mapping.kind === "ignored") facts.ignored.push({ type: mapping.type, reason: mapping.reason });
    else {
      facts.stripePayouts.push({
        payoutId: mapping.payoutId,
        payout: mapping.payout,
        paidAtSeconds: mapping.occurredAtSeconds,
      });
    }
  }
}

function addBalanceTransaction(facts: GatewayFacts, value: unknown, listPayout: string | undefined): void {
  const transaction = parseStripe(stripeBalanceTransactionSchema, value, "balance transaction");
  const payoutId = payoutIdOf(record(value)) ?? listPayout;
  if (payoutId === undefined) {
    throw new GatewayPayloadError(
      `stripe balance transaction ${transaction.id} does not name its payout: set automatic_payout_id (or payout) on it or on its list`,
    );
  }
  facts.stripeBalanceTransactions.push({ transactionId: transaction.id, payoutId, body: value });
}

function payoutIdOf(value: Record<string, unknown> | undefined): string | undefined {
  return text(value?.automatic_payout_id) ?? text(value?.payout);
}

function record(value: unknown): Record<string, unknown> | undefined {
  return typeof value === "object" && value !== null && !Array.isArray(value)
    ? (value as Record<string, unknown>)
    : undefined;
}

/** A waiting payout with what is known of it → its settlement.batch, or why it must wait longer. */
export function composeWaitingStripePayout(waiting: {
  payout: unknown;
  paidAtSeconds: number;
  transactions: readonly unknown[];
}): { event: GatewayEventInput } | { waitingReason: string } {
  try {
    const payout = parseStripe(stripePayoutSchema, waiting.payout, "payout");
    if (waiting.transactions.length === 0) return { waitingReason: "no balance transactions received yet" };
    return {
      event: composeStripeSettlementBatch(
        payout,
        waiting.transactions as Parameters<typeof composeStripeSettlementBatch>[1],
        waiting.paidAtSeconds,
      ),
    };
  } catch (error) {
    if (!(error instanceof GatewayPayloadError)) throw error;
    return { waitingReason: error.message };
  }
}
