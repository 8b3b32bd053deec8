import { describe, expect, it } from "vitest";
import { loadConfig } from "../../../src/config.js";
import {
  compareByReferenceAmount,
  DEFAULT_PRIORITY_SCALE,
  prioritize,
  priorityScale,
  referenceMajor,
} from "../../../src/reconcile/priority.js";

/**
 * Priority tiers compare money across currencies through reference rates: before, p1 was 100,000 major units
 * of any currency, so ¥249,930 (about €1,500) was p1 while €2,393.77 was p3.
 */

const yen = { amountMinor: 249_930, currency: "JPY" }; // JPY has no minor unit
const euro = { amountMinor: 239_377, currency: "EUR" };
const dollars = { amountMinor: 200_000, currency: "USD" };

describe("priority through reference rates", () => {
  it("¥249,930 (about €1,525) is not p1; €2,393.77 is not below it", () => {
    expect(prioritize(yen.amountMinor, yen.currency, 0).priority).toBe("p3");
    expect(prioritize(euro.amountMinor, euro.currency, 0).priority).toBe("p3");
    expect(referenceMajor(yen.amountMinor, yen.currency)).toBeCloseTo(1_524.6, 1);
  });

  it("orders mixed currencies by their value: €2,393.77, then $2,000.00, then ¥249,930", () => {
    const sorted = [yen, dollars, euro].sort((a, b) => compareByReferenceAmount(a, b));
    expect(sorted).toEqual([euro, dollars, yen]);
  });

  it("tiers are in the reference currency: ¥20,000,000 (about €122,000) is p1, ¥2,000,000 p2, KWD 2,000.000 p3", () => {
    expect(prioritize(20_000_000, "JPY", 0).priority).toBe("p1");
    expect(prioritize(2_000_000, "JPY", 0).priority).toBe("p2");
    expect(prioritize(2_000_000, "KWD", 0).priority).toBe("p3");
    // KWD 40,000.000 is about €120,000.
    expect(prioritize(40_000_000, "KWD", 0).priority).toBe("p1");
    // Age alone still raises it.
    expect(prioritize(100, "JPY", 6 * 86_400_000).priority).toBe("p1");
  });

  it("a currency without a rate counts its major units as the reference currency's (the documented fallback)", () => {
    expect(DEFAULT_PRIORITY_SCALE.ratesToReference.UAH).toBeUndefined();
    expect(referenceMajor(10_000_000, "UAH")).toBe(100_000);
    expect(prioritize(10_000_000, "UAH", 0).priority).toBe("p1");
  });

  it("PRIORITY_REFERENCE_CURRENCY rebases the default rates; PRIORITY_RATES overrides them", () => {
    const usd = loadConfig({ PRIORITY_REFERENCE_CURRENCY: "USD" }).policy.priorityScale;
    expect(usd.referenceCurrency).toBe("USD");
    expect(usd.ratesToReference.USD).toBe(1);
    expect(usd.ratesToReference.EUR).toBeCloseTo(1 / 0.92, 6);
    // €100,000 is about $108,700: p1 against a 100,000 USD tier.
    expect(prioritize(10_000_000, "EUR", 0, undefined, usd).priority).toBe("p1");
    const pegged = loadConfig({ PRIORITY_RATES: "JPY=0.01" }).policy.priorityScale;
    expect(referenceMajor(249_930, "JPY", pegged)).toBeCloseTo(2_499.3, 6);
    expect(pegged.ratesToReference.USD).toBe(0.92);
  });

  it("refuses a bad rate, and a reference currency without a rate, naming the variable", () => {
    expect(() => loadConfig({ PRIORITY_RATES: "USD:0.92" })).toThrow(/PRIORITY_RATES/);
    expect(() => loadConfig({ PRIORITY_RATES: "USD=-1" })).toThrow(/PRIORITY_RATES/);
    expect(() => loadConfig({ PRIORITY_REFERENCE_CURRENCY: "UAH" })).toThrow(/PRIORITY_REFERENCE_CURRENCY/);
    expect(priorityScale("UAH", { EUR: 2 })?.ratesToReference).toEqual({ EUR: 2, UAH: 1 });
  });
});
