import { describe, expect, it } from "vitest";
import { mapStripeEvent } from "../../../src/adapters/stripe.js";
import { composeStripeSettlementBatch } from "../../../src/adapters/stripeSettlement.js";
import { gatewayEventSchema } from "../../../src/messages/schemas.js";
import { fixture, type Json, stripeEvent, unixDate } from "./fixtureFiles.js";

/**
 * The balance transactions of an automatic payout, built from the real fixtures:
 * a charge (openapi), a charge with a Stripe fee (dj-stripe) and a dispute withdrawal
 * and its reversal (dj-stripe), plus the payout's own transaction that Stripe lists too.
 */
function scenario() {
  const resources = fixture("stripe", "openapi_fixtures3.json").resources;
  const transactions: Json[] = [
    resources.balance_transaction,
    fixture("stripe", "balance_transaction_charge_with_fee.json"),
    ...fixture("stripe", "dispute_funds_reinstated_with_balance_transactions.json").balance_transactions,
  ];
  const net = transactions.reduce((sum, txn) => sum + txn.net, 0);
  const payout = { ...resources.payout, status: "paid", amount: net, balance_transaction: "txn_payout_own" };
  const own = {
    id: "txn_payout_own",
    object: "balance_transaction",
    amount: -net,
    fee: 0,
    net: -net,
    currency: payout.currency,
    type: "payout",
    source: payout.id,
  };
  return { payout, transactions, all: [...transactions, own] };
}

describe("composeStripeSettlementBatch", () => {
  it("sums the fixture transactions into a settlement.batch that nets to the payout", () => {
    const { payout, transactions, all } = scenario();
    const mapping = mapStripeEvent(stripeEvent("payout.paid", payout));
    if (mapping.kind !== "balance_transactions") throw new Error(`expected balance_transactions, got ${mapping.kind}`);
    const batch = composeStripeSettlementBatch(mapping.payout, all, mapping.occurredAtSeconds);
    expect(gatewayEventSchema.safeParse(batch).success).toBe(true);
    if (batch.type !== "settlement.batch") throw new Error("not a batch");

    expect(batch.gross_minor).toBe(transactions.reduce((sum, txn) => sum + txn.amount, 0));
    expect(batch.fee_minor).toBe(transactions.reduce((sum, txn) => sum + txn.fee, 0));
    expect(batch.amount_minor).toBe(payout.amount);
    expect(batch.batch_id).toBe(payout.id);
    expect(batch.event_id).toBe(payout.id);
    expect(batch.currency).toBe(payout.currency.toUpperCase());
    expect(batch.expected_arrival).toBe(unixDate(payout.arrival_date));
    expect(Date.parse(batch.occurred_at)).toBe(mapping.occurredAtSeconds * 1000);
    // Only charges are payments an expected payment lists; unexpanded sources are their ids.
    expect(batch.references).toEqual(transactions.filter((txn) => txn.type === "charge").map((txn) => txn.source));
  });

  it("takes the reference from an expanded charge source, and lists a shared reference once", () => {
    const { payout, transactions, all } = scenario();
    const charge = fixture("stripe", "openapi_fixtures3.json").resources.charge;
    for (const txn of transactions.filter((t) => t.type === "charge")) {
      txn.source = { ...charge, id: txn.source, metadata: { reference: "ORD-1001" } };
    }
    const batch = composeStripeSettlementBatch(payout, all);
    expect(batch.type === "settlement.batch" && batch.references).toEqual(["ORD-1001"]);
  });

  it("refuses an incomplete list: nets that do not add up to the payout", () => {
    const resources = fixture("stripe", "openapi_fixtures3.json").resources;
    // The openapi payout (1100) with only the openapi charge transaction (net 100).
    expect(resources.balance_transaction.net).not.toBe(resources.payout.amount);
    expect(() => composeStripeSettlementBatch(resources.payout, [resources.balance_transaction])).toThrow(/incomplete/);
    const { payout, all } = scenario();
    expect(() => composeStripeSettlementBatch(payout, all.slice(1))).toThrow(/incomplete/);
  });

  it("refuses a transaction in another currency", () => {
    const { payout, all } = scenario();
    all[0] = { ...all[0], currency: "eur" };
    expect(() => composeStripeSettlementBatch(payout, all)).toThrow(/eur/);
  });

  it("a payout with no charge in it is a batch that settles no payment; a negative one is a debit (CONTRACT §8)", () => {
    const dispute = fixture("stripe", "dispute_funds_reinstated_with_balance_transactions.json");
    const [withdrawal, reversal] = dispute.balance_transactions;
    const payout = fixture("stripe", "openapi_fixtures3.json").resources.payout;
    const reinstated = composeStripeSettlementBatch({ ...payout, amount: reversal.net }, [reversal]);
    expect(reinstated).toMatchObject({ amount_minor: reversal.net, references: [] });
    // Stripe debits the bank when a payout period's balance is negative: the payout's amount is negative.
    expect(withdrawal.net).toBeLessThan(0);
    const debit = composeStripeSettlementBatch({ ...payout, amount: withdrawal.net }, [withdrawal]);
    expect(gatewayEventSchema.safeParse(debit).success).toBe(true);
    expect(debit).toMatchObject({
      gross_minor: withdrawal.amount,
      fee_minor: withdrawal.fee,
      amount_minor: withdrawal.net,
      references: [],
    });
  });
});
