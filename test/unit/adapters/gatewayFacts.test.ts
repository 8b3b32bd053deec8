import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { composeWaitingStripePayout, gatewayFacts } from "../../../src/adapters/gatewayFacts.js";
import { decodeMessage, MAX_DETAIL_CHARS } from "../../../src/consumers/decode.js";
import { gatewayEventSchema } from "../../../src/messages/schemas.js";
import { fixture, fixtureNames, type Json, stripeEvent } from "./fixtureFiles.js";

/** What a raw Stripe or Adyen payload becomes, whichever way it came (webhook or raw topic). */

function automaticPayout(): { payout: Json; transactions: Json[] } {
  const resources = fixture("stripe", "openapi_fixtures3.json").resources;
  const transactions: Json[] = [
    resources.balance_transaction,
    fixture("stripe", "balance_transaction_charge_with_fee.json"),
  ];
  const net = transactions.reduce((sum, txn) => sum + txn.net, 0);
  return { payout: { ...resources.payout, automatic: true, status: "paid", amount: net }, transactions };
}

describe("gatewayFacts", () => {
  it("a Stripe event becomes its GatewayEvents; an unknown type is ignored with its type", () => {
    const facts = gatewayFacts("stripe", fixture("stripe", "evt_charge.succeeded.json"));
    expect(facts.events.map((event) => event.type)).toEqual(["payment.captured"]);
    const unknown = gatewayFacts("stripe", stripeEvent("customer.created", { id: "cus_1", object: "customer" }));
    expect(unknown.events).toEqual([]);
    expect(unknown.ignored).toEqual([{ type: "customer.created", reason: expect.any(String) }]);
    expect(unknown.invalid).toEqual([]);
  });

  it("our own automatic payout paid waits for its balance transactions instead of becoming an event", () => {
    const { payout } = automaticPayout();
    const facts = gatewayFacts("stripe", stripeEvent("payout.paid", payout));
    expect(facts.events).toEqual([]);
    expect(facts.stripePayouts).toEqual([
      { payoutId: payout.id, payout: expect.any(Object), paidAtSeconds: 1_700_000_000 },
    ]);
  });

  it("balance transactions name their payout on themselves (automatic_payout_id, payout) or on their list", () => {
    const { transactions } = automaticPayout();
    const single = gatewayFacts("stripe", { ...transactions[0], automatic_payout_id: "po_A" });
    expect(single.stripeBalanceTransactions.map((t) => [t.transactionId, t.payoutId])).toEqual([
      [transactions[0].id, "po_A"],
    ]);
    const list = gatewayFacts("stripe", { object: "list", payout: "po_B", data: transactions });
    expect(list.stripeBalanceTransactions.map((t) => t.payoutId)).toEqual(["po_B", "po_B"]);
    const overridden = gatewayFacts("stripe", {
      object: "list",
      payout: "po_B",
      data: [{ ...transactions[0], payout: "po_C" }],
    });
    expect(overridden.stripeBalanceTransactions[0]?.payoutId).toBe("po_C");
  });

  it("a balance transaction without its payout, or a list with one malformed transaction, is invalid as a whole", () => {
    const { transactions } = automaticPayout();
    const orphan = gatewayFacts("stripe", transactions[0]);
    expect(orphan.stripeBalanceTransactions).toEqual([]);
    expect(orphan.invalid.join()).toMatch(/does not name its payout/);
    const broken = gatewayFacts("stripe", {
      object: "list",
      payout: "po_B",
      data: [transactions[0], { ...transactions[1], net: "19.12" }],
    });
    expect(broken.stripeBalanceTransactions).toEqual([]);
    expect(broken.invalid.join()).toMatch(/net/);
  });

  it("an Adyen body keeps its good items and names the bad ones", () => {
    const body = fixture("adyen", "notification_authorisation-true.json");
    const good = body.notificationItems[0];
    const bad = structuredClone(good);
    bad.NotificationRequestItem.amount = undefined;
    bad.NotificationRequestItem.eventCode = "CAPTURE";
    bad.NotificationRequestItem.pspReference = "PSP-NO-AMOUNT";
    const facts = gatewayFacts("adyen", { ...body, notificationItems: [good, bad] });
    expect(facts.events).toHaveLength(1);
    expect(facts.invalid).toEqual([expect.stringMatching(/PSP-NO-AMOUNT \(CAPTURE\).*amount/)]);
  });

  it("every fixture file maps without throwing", () => {
    for (const gateway of ["stripe", "adyen"] as const) {
      for (const name of fixtureNames(gateway)) {
        const facts = gatewayFacts(gateway, fixture(gateway, name));
        const produced =
          facts.events.length +
          facts.ignored.length +
          facts.invalid.length +
          facts.stripePayouts.length +
          facts.stripeBalanceTransactions.length;
        expect(produced, name).toBeGreaterThan(0);
      }
    }
  });
});

describe("composeWaitingStripePayout", () => {
  it("waits while the transactions do not add up to the payout, composes once they do", () => {
    const { payout, transactions } = automaticPayout();
    const none = composeWaitingStripePayout({ payout, paidAtSeconds: 1_700_000_000, transactions: [] });
    expect(none).toEqual({ waitingReason: "no balance transactions received yet" });
    const partial = composeWaitingStripePayout({
      payout,
      paidAtSeconds: 1_700_000_000,
      transactions: transactions.slice(0, 1),
    });
    expect("waitingReason" in partial && partial.waitingReason).toMatch(/incomplete/);
    const whole = composeWaitingStripePayout({ payout, paidAtSeconds: 1_700_000_000, transactions });
    if (!("event" in whole)) throw new Error(whole.waitingReason);
    expect(whole.event).toMatchObject({
      type: "settlement.batch",
      batch_id: payout.id,
      amount_minor: payout.amount,
      gross_minor: transactions.reduce((sum, txn) => sum + txn.amount, 0),
      fee_minor: transactions.reduce((sum, txn) => sum + txn.fee, 0),
    });
  });
});

describe("hostile gateway payloads", () => {
  const decodeNative = (kind: "stripe" | "adyen", value: Buffer) =>
    decodeMessage({ kind, topic: `raw.${kind}`, partition: null, offset: null, key: null, value, source: "http" });
  const realPayloads = [
    ...fixtureNames("stripe").map((name) => fixture("stripe", name)),
    ...fixtureNames("adyen").map((name) => fixture("adyen", name)),
  ];
  /** A real payload with one member replaced anywhere in it by something hostile. */
  const mutated = fc
    .tuple(
      fc.constantFrom(...realPayloads),
      fc.nat(),
      fc.oneof(
        fc.jsonValue(),
        fc.constantFrom(NaN, Infinity, -1, 2 ** 63, 1e3, 12.5, "", "x".repeat(10_000), null, [], {}),
      ),
    )
    .map(([payload, seed, value]) => {
      const copy = structuredClone(payload);
      const paths: Array<[Json, string]> = [];
      const walk = (node: Json) => {
        if (node && typeof node === "object") {
          for (const key of Object.keys(node)) {
            paths.push([node, key]);
            walk(node[key]);
          }
        }
      };
      walk(copy);
      const [parent, key] = paths[seed % paths.length]!;
      parent[key] = value;
      return copy;
    });

  it("never throws on random bytes, and any rejection has a bounded reason", () => {
    fc.assert(
      fc.property(
        fc.constantFrom("stripe" as const, "adyen" as const),
        fc.uint8Array({ maxLength: 2_000 }),
        (kind, bytes) => {
          const decoded = decodeNative(kind, Buffer.from(bytes));
          if (!decoded.ok) expect(decoded.detail.length).toBeLessThanOrEqual(MAX_DETAIL_CHARS + 1);
        },
      ),
      { numRuns: 1_000 },
    );
  });

  it("a real payload with any member made hostile is mapped or rejected with a reason — never half-valid facts", () => {
    fc.assert(
      fc.property(fc.constantFrom("stripe" as const, "adyen" as const), mutated, (kind, payload) => {
        const decoded = decodeNative(kind, Buffer.from(JSON.stringify(payload)));
        if (!decoded.ok) {
          expect(["gateway_payload", "schema", "not_an_object", "too_large"]).toContain(decoded.reason);
          expect(decoded.detail.length).toBeGreaterThan(0);
          return;
        }
        if (decoded.kind !== "native") throw new Error(`decoded as ${decoded.kind}`);
        // What is accepted is valid: every event passes the CONTRACT schema, every amount a safe integer.
        for (const event of decoded.events) {
          expect(gatewayEventSchema.safeParse(event).success).toBe(true);
          expect(Number.isSafeInteger(event.amount_minor)).toBe(true);
        }
      }),
      { numRuns: 1_000 },
    );
  });

  it("`__proto__` and `constructor` members pollute nothing", () => {
    const body = fixture("adyen", "notification_authorisation-true.json");
    const text = JSON.stringify(body).replace(
      '"eventCode"',
      '"__proto__":{"polluted":1},"constructor":{"prototype":{"polluted":1}},"eventCode"',
    );
    const decoded = decodeNative("adyen", Buffer.from(text));
    expect(decoded.ok).toBe(true);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });
});
