import { describe, expect, it } from "vitest";
import { convertMinor, fxLine } from "../../../src/reconcile/fx.js";
import { bankFact, collection, defaultPolicy, outcomeOf, scenario } from "./builders.js";

/**
 * CONTRACT §8 "FX": a USD collection of 10,000.00 paid into a EUR account. FX_REFERENCE_RATES EURUSD=1.0842
 * (units of USD per one EUR), FX_TOLERANCE 1% (the default).
 */
const policy = defaultPolicy({ fxReferenceRates: { EURUSD: 1.0842 } });
const DUE = "2026-11-22T12:00Z";
const ON = "2026-11-22";
const usd = () => collection({ reference: "ORD-FX-1", amount: 1_000_000, currency: "USD", due: DUE });
const world = (line: Parameters<ReturnType<typeof scenario>["credit"]>[0]) =>
  scenario().expect(usd()).credit(line).reconcile("2026-11-23T00:00Z", policy);

describe("FX: a line in another currency", () => {
  it("settles by its instructed amount and currency, by reference or by amount alone", () => {
    for (const named of [{ e2e: "ORD-FX-1" }, { remittance: "INCOMING TRANSFER" }]) {
      const result = world({
        amount: 922_300,
        currency: "EUR",
        on: ON,
        instructedAmount: 1_000_000,
        instructedCurrency: "USD",
        ...named,
      });
      const outcome = outcomeOf(result, "exp_ORD-FX-1");
      expect(outcome.status).toBe("settled");
      expect(outcome.settledAmountMinor).toBe(1_000_000);
      expect(outcome.fx).toEqual({ lineCurrency: "EUR", lineAmountMinor: 922_300, differenceMinor: 0 });
      expect([...result.entryMatches.values()][0]).toMatchObject({ kind: "payment", paymentId: "exp_ORD-FX-1" });
    }
  });

  it("settles by its amount converted at the reference rate within FX_TOLERANCE, the rest an FX difference", () => {
    // 9,200.00 EUR × 1.0842 = 9,974.64 USD: 25.36 short of 10,000.00 (0.25%).
    const outcome = outcomeOf(world({ amount: 920_000, currency: "EUR", on: ON, e2e: "ORD-FX-1" }), "exp_ORD-FX-1");
    expect(outcome.status).toBe("settled");
    expect(outcome.settledAmountMinor).toBe(997_464);
    expect(outcome.fx).toEqual({ lineCurrency: "EUR", lineAmountMinor: 920_000, differenceMinor: -2_536 });
  });

  it("uses the line's own rate before the reference rate, and the inverse of a configured pair", () => {
    const own = world({ amount: 900_000, currency: "EUR", on: ON, e2e: "ORD-FX-1", fxRate: 1.111 });
    expect(outcomeOf(own, "exp_ORD-FX-1")).toMatchObject({ status: "settled", settledAmountMinor: 999_900 });
    // A EUR payment paid in USD: 10,842.00 USD / 1.0842 = 10,000.00 EUR.
    const eur = scenario()
      .expect(collection({ reference: "ORD-FX-2", amount: 1_000_000, currency: "EUR", due: DUE }))
      .credit({ amount: 1_084_200, currency: "USD", on: ON, e2e: "ORD-FX-2" })
      .reconcile("2026-11-23T00:00Z", policy);
    expect(outcomeOf(eur, "exp_ORD-FX-2")).toMatchObject({ status: "settled", settledAmountMinor: 1_000_000 });
  });

  it("is a mismatch when the converted amount is beyond FX_TOLERANCE, or no rate is known", () => {
    // 9,000.00 EUR × 1.0842 = 9,757.80 USD: 2.4% short.
    const far = outcomeOf(world({ amount: 900_000, currency: "EUR", on: ON, e2e: "ORD-FX-1" }), "exp_ORD-FX-1");
    expect(far).toMatchObject({ status: "mismatch", settledAmountMinor: 0, fx: null });
    expect(far.flags).toContain("entry_in_other_currency");
    const noRate = scenario()
      .expect(usd())
      .credit({ amount: 920_000, currency: "EUR", on: ON, e2e: "ORD-FX-1" })
      .reconcile("2026-11-23T00:00Z", defaultPolicy());
    expect(outcomeOf(noRate, "exp_ORD-FX-1").status).toBe("mismatch");
    // A wider FX_TOLERANCE takes it.
    const wide = scenario()
      .expect(usd())
      .credit({ amount: 900_000, currency: "EUR", on: ON, e2e: "ORD-FX-1" })
      .reconcile("2026-11-23T00:00Z", { ...policy, fxTolerancePpm: 30_000 });
    expect(outcomeOf(wide, "exp_ORD-FX-1").status).toBe("settled");
  });

  it("never matches by a converted amount: without an instructed amount it waits unmatched", () => {
    // 9,223.39 EUR × 1.0842 = 10,000.00 USD exactly, but nothing names the payment.
    const result = world({ amount: 922_339, currency: "EUR", on: ON, remittance: "INCOMING TRANSFER" });
    expect([...result.entryMatches.values()][0]).toEqual({ kind: "none" });
    expect(outcomeOf(result, "exp_ORD-FX-1").status).toBe("delayed");
  });

  it("an instructed amount in a third currency settles nothing", () => {
    const line = bankFact({
      seq: 1,
      amount: 920_000,
      currency: "EUR",
      on: ON,
      direction: "credit",
      instructedAmount: 800_000,
      instructedCurrency: "GBP",
    });
    expect(fxLine(line, "USD", 1_000_000, policy)).toBeUndefined();
  });

  it("converts between minor units of different exponents, rounding half up once", () => {
    expect(convertMinor(1, "EUR", "USD", 0.5)).toBe(1);
    expect(convertMinor(100, "EUR", "JPY", 160.255)).toBe(160);
    expect(convertMinor(1_000, "JPY", "KWD", 0.00205)).toBe(2_050);
    expect(convertMinor(922_339, "EUR", "USD", 1.0842)).toBe(1_000_000);
  });
});
