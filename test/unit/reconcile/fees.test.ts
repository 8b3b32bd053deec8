import { describe, expect, it } from "vitest";
import { expectedBatchFee, feeRuleFor, feeToleranceMinor, feeVariance } from "../../../src/reconcile/fees.js";
import { batchFact, defaultPolicy } from "./builders.js";

/** CONTRACT §8 "Fees": FEE_SCHEDULE's example, `stripe:EUR=1.4%+25,stripe:*=2.9%+30,adyen:*=0.6%+12`. */
const policy = defaultPolicy({
  feeSchedule: [
    { gateway: "stripe", currency: "EUR", percentPpm: 14_000, fixedMinor: 25 },
    { gateway: "stripe", currency: "*", percentPpm: 29_000, fixedMinor: 30 },
    { gateway: "adyen", currency: "*", percentPpm: 6_000, fixedMinor: 12 },
  ],
});
const batch = (gross: number, fee: number, references: string[], gateway = "stripe", currency = "EUR") =>
  batchFact({ batchId: "po_1", references, gross, fee, gateway, currency, at: "2026-11-22T06:00Z" });

describe("expected batch fees", () => {
  it("percent of the gross plus the fixed fee per listed payment, the currency's rule before the gateway's *", () => {
    expect(feeRuleFor(policy.feeSchedule!, "stripe", "EUR")?.fixedMinor).toBe(25);
    expect(feeRuleFor(policy.feeSchedule!, "stripe", "JPY")?.fixedMinor).toBe(30);
    expect(feeRuleFor(policy.feeSchedule!, "paypal", "EUR")).toBeUndefined();
    // Three payments of 10,000, 20,000 and 70,000: 1.4% of 100,000 + 3 × 25.
    expect(expectedBatchFee(batch(100_000, 0, ["A", "B", "C"]), policy)).toBe(1_400 + 75);
    // 2.9% of 12,345 = 358.005 → 358, rounded once.
    expect(expectedBatchFee(batch(12_345, 0, ["A"], "stripe", "USD"), policy)).toBe(358 + 30);
    expect(expectedBatchFee(batch(50_000, 0, ["A", "A2"], "adyen", "GBP"), policy)).toBe(300 + 24);
    // Refunds outweighing the charges: no percent on a negative gross, the fixed fees remain.
    expect(expectedBatchFee(batch(-5_000, 0, ["A"]), policy)).toBe(25);
    expect(expectedBatchFee(batch(100_000, 0, ["A"], "paypal"), policy)).toBeNull();
    expect(expectedBatchFee(batch(100_000, 0, ["A"]), defaultPolicy())).toBeNull();
  });

  it("FEE_TOLERANCE is a share of the expected fee, at least one minor unit", () => {
    expect(feeToleranceMinor(1_475, policy)).toBe(29);
    expect(feeToleranceMinor(10, policy)).toBe(1);
    expect(feeToleranceMinor(0, policy)).toBe(1);
    expect(feeToleranceMinor(10_000, defaultPolicy({ feeTolerancePpm: 5_000 }))).toBe(50);
  });

  it("a variance only beyond the tolerance, signed charged − expected", () => {
    expect(feeVariance(batch(100_000, 1_475 + 29, ["A", "B", "C"]), policy)).toBeNull();
    expect(feeVariance(batch(100_000, 1_475 + 30, ["A", "B", "C"]), policy)).toEqual({
      expectedMinor: 1_475,
      chargedMinor: 1_505,
      differenceMinor: 30,
    });
    expect(feeVariance(batch(100_000, 1_000, ["A", "B", "C"]), policy)?.differenceMinor).toBe(-475);
    expect(feeVariance(batch(100_000, 99_999, ["A"], "paypal"), policy)).toBeNull();
  });
});
