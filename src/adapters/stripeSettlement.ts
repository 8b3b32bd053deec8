import type { GatewayEventInput } from "../messages/schemas.js";
import { GatewayPayloadError, unixSecondsToDate, unixSecondsToTimestamp, validated } from "./gatewayEvent.js";
import {
  parseStripe,
  type StripeBalanceTransaction,
  type StripePayout,
  stripeBalanceTransactionSchema,
  stripeReferenceableSchema,
  stripeId,
  stripeMoney,
  stripePayoutSchema,
  stripeReference,
} from "./stripeObjects.js";

/**
 * Our own automatic Stripe payout → one CONTRACT `settlement.batch` (see stripe.ts for
 * when to call this). The balance transactions are what Stripe lists for the payout
 * (GET /v1/balance_transactions?payout=po_…), including the payout's own transaction,
 * which is left out here. Every other transaction (charges, refunds, disputes, fees,
 * returned failed payouts…) makes up the amount: their net must sum to the payout
 * amount, or the list is incomplete and no batch is made.
 */

/** Transaction types whose source is a payment an expected payment may list. */
const PAYMENT_TYPES = new Set(["charge", "payment"]);

export function composeStripeSettlementBatch(
  payout: StripePayout,
  balanceTransactions: readonly StripeBalanceTransaction[],
  /** When the payout was reported paid (the payout.paid event's `created`); defaults to the payout's creation. */
  occurredAtSeconds?: number,
): GatewayEventInput {
  const parsedPayout = parseStripe(stripePayoutSchema, payout, "payout");
  const payoutCurrency = parsedPayout.currency.toLowerCase();
  const ownTransaction = stripeId(parsedPayout.balance_transaction);

  let gross = 0;
  let fee = 0;
  let net = 0;
  let count = 0;
  const references: string[] = [];
  for (const [index, raw] of balanceTransactions.entries()) {
    const txn = parseStripe(stripeBalanceTransactionSchema, raw, `balance transaction #${index}`);
    if (txn.type === "payout" && (txn.id === ownTransaction || stripeId(txn.source) === parsedPayout.id)) continue;
    if (txn.currency.toLowerCase() !== payoutCurrency) {
      throw new GatewayPayloadError(
        `balance transaction ${txn.id} is in ${txn.currency}, payout ${parsedPayout.id} in ${parsedPayout.currency}`,
      );
    }
    gross += txn.amount;
    fee += txn.fee;
    net += txn.net;
    count++;
    if (PAYMENT_TYPES.has(txn.type) && txn.source) references.push(transactionReference(txn.source));
  }

  if (net !== parsedPayout.amount) {
    throw new GatewayPayloadError(
      `payout ${parsedPayout.id} is ${parsedPayout.amount} ${parsedPayout.currency} but its ${count} balance ` +
        `transactions (without the payout's own) net ${net}: the list is incomplete (fetch every page) or not this payout's`,
    );
  }
  if (gross - fee !== net) {
    throw new GatewayPayloadError(`payout ${parsedPayout.id}: transactions gross ${gross} − fee ${fee} ≠ net ${net}`);
  }

  const money = (amount: number) => stripeMoney(amount, parsedPayout.currency);
  return validated({
    event_id: parsedPayout.id,
    gateway: "stripe",
    type: "settlement.batch",
    batch_id: parsedPayout.id,
    currency: money(net).currency,
    gross_minor: money(gross).amount_minor,
    fee_minor: money(fee).amount_minor,
    amount_minor: money(net).amount_minor,
    expected_arrival: unixSecondsToDate(parsedPayout.arrival_date),
    occurred_at: unixSecondsToTimestamp(occurredAtSeconds ?? parsedPayout.created),
    // Two charges of one order (installments) share a reference: list it once.
    references: [...new Set(references)],
    metadata: { balance_transactions: count, payout_balance_transaction: ownTransaction ?? null },
  });
}

/**
 * With `expand[]=data.source` the source is the charge and its metadata gives the
 * reference; unexpanded, only its id is known (the reference then is the charge id).
 */
function transactionReference(source: string | { id: string }): string {
  if (typeof source === "string") return source;
  const referenceable = stripeReferenceableSchema.safeParse(source);
  return referenceable.success ? stripeReference(referenceable.data) : source.id;
}
