import { currencyExponent } from "../messages/currencies.js";
import type { BankFact, Policy } from "./types.js";

/**
 * CONTRACT §8 "FX": a bank line in another currency than the payment's settles it
 * (a) by its instructed amount, when the instructed currency is the payment's: that amount counts as a line in
 *     the payment's currency (usual amount tolerance, installments, duplicates all apply);
 * (b) without an instructed amount, by its amount converted with the line's `fx_rate` or the reference rate
 *     of the pair (FX_REFERENCE_RATES), when that lands within FX_TOLERANCE of the amount still to settle:
 *     it settles that amount, and the rest (converted − still to settle) is the payment's FX difference.
 * A line whose instructed currency is a third one never settles by conversion: the bank said what was sent.
 */

export const DEFAULT_FX_TOLERANCE_PPM = 10_000;

export interface FxLine {
  via: "instructed" | "rate";
  /** The line's amount in the payment's currency: the instructed amount, or the converted one (half up). */
  convertedMinor: number;
}

/** Units of `to` per one unit of `from`: the line's own rate, else the configured pair or its inverse. */
export function fxRateFor(entry: BankFact, to: string, policy: Policy): number | undefined {
  if (entry.fxRate) return entry.fxRate;
  const rates = policy.fxReferenceRates ?? {};
  const direct = rates[`${entry.currency}${to}`];
  if (direct) return direct;
  const inverse = rates[`${to}${entry.currency}`];
  return inverse ? 1 / inverse : undefined;
}

/** amountMinor of `from` in minor units of `to` at `rate`, rounded half up once. */
export function convertMinor(amountMinor: number, from: string, to: string, rate: number): number {
  const exact = amountMinor * rate * 10 ** (currencyExponent(to) - currencyExponent(from));
  // Binary fractions (1.0842 is not exact): decide the half at 9 significant decimals, not at the float's noise.
  return Math.floor(Number(exact.toFixed(9)) + 0.5);
}

/** The instructed amount when it is in `currency`, else undefined (the amount index looks lines up by it). */
export function instructedIn(entry: BankFact, currency: string): number | undefined {
  return entry.instructedCurrency === currency && entry.instructedAmountMinor ? entry.instructedAmountMinor : undefined;
}

/**
 * How a line in another currency settles a payment of `currency` that still expects `expectedMinor`,
 * or undefined when it does not (then it is money in the wrong currency: a mismatch).
 */
export function fxLine(entry: BankFact, currency: string, expectedMinor: number, policy: Policy): FxLine | undefined {
  if (entry.currency === currency) return undefined;
  const instructed = instructedIn(entry, currency);
  if (instructed !== undefined) return { via: "instructed", convertedMinor: instructed };
  if (entry.instructedCurrency) return undefined;
  const rate = fxRateFor(entry, currency, policy);
  if (rate === undefined || expectedMinor <= 0) return undefined;
  const convertedMinor = convertMinor(entry.amountMinor, entry.currency, currency, rate);
  const ppm = policy.fxTolerancePpm ?? DEFAULT_FX_TOLERANCE_PPM;
  return Math.abs(convertedMinor - expectedMinor) * 1_000_000 <= expectedMinor * ppm
    ? { via: "rate", convertedMinor }
    : undefined;
}
