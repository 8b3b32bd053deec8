import { composeWaitingStripePayout, type GatewayFacts } from "../adapters/gatewayFacts.js";
import type { Db } from "../db/pool.js";
import {
  insertStripeBalanceTransactions,
  insertStripePayouts,
  loadWaitingStripePayouts,
  markStripePayoutsComposed,
  recordStripePayoutsWaiting,
} from "../db/queries/stripePayouts.js";
import { type GatewayEvent, gatewayEventSchema } from "../messages/schemas.js";

/**
 * Our own automatic Stripe payouts, in the facts' transaction: store the paid payouts and
 * the balance transactions that arrived, then compose every payout they concern whose
 * transactions now add up to its amount. A payout whose composition is not yet known waits
 * (with the reason recorded) instead of becoming a guessed batch.
 */
export async function settleStripePayouts(
  tx: Db,
  payouts: GatewayFacts["stripePayouts"],
  transactions: GatewayFacts["stripeBalanceTransactions"],
  now: Date,
): Promise<{
  batches: GatewayEvent[];
  newPayoutIds: string[];
  newTransactionIds: string[];
}> {
  if (payouts.length === 0 && transactions.length === 0)
    return { batches: [], newPayoutIds: [], newTransactionIds: [] };
  const newPayoutIds = await insertStripePayouts(tx, payouts, now);
  const newTransactionIds = await insertStripeBalanceTransactions(tx, transactions, now);

  const concerned = [...new Set([...payouts.map((p) => p.payoutId), ...transactions.map((t) => t.payoutId)])];
  const batches: GatewayEvent[] = [];
  const composed: string[] = [];
  const stillWaiting: { payoutId: string; reason: string }[] = [];
  for (const waiting of await loadWaitingStripePayouts(tx, concerned)) {
    const result = composeWaitingStripePayout(waiting);
    if ("event" in result) {
      batches.push(gatewayEventSchema.parse(result.event));
      composed.push(waiting.payoutId);
    } else {
      stillWaiting.push({ payoutId: waiting.payoutId, reason: result.waitingReason });
    }
  }
  await markStripePayoutsComposed(tx, composed, now);
  await recordStripePayoutsWaiting(tx, stillWaiting);
  return { batches, newPayoutIds, newTransactionIds };
}
