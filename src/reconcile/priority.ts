import { currencyExponent } from "../messages/currencies.js";

/**
 * Priority and resolution deadline of an exception from its amount and age:
 * large or old money first. Tiers are checked in order; the first that fits
 * wins. Amounts are in major units of the exception's currency.
 */
export interface PriorityTier {
  priority: "p1" | "p2" | "p3";
  minAmountMajor: number;
  minAgeMs: number;
  resolveWithinMs: number;
}

const HOUR = 3_600_000;
const DAY = 24 * HOUR;

export const DEFAULT_PRIORITY_TIERS: PriorityTier[] = [
  { priority: "p1", minAmountMajor: 100_000, minAgeMs: 5 * DAY, resolveWithinMs: 24 * HOUR },
  { priority: "p2", minAmountMajor: 10_000, minAgeMs: 2 * DAY, resolveWithinMs: 3 * DAY },
  { priority: "p3", minAmountMajor: 0, minAgeMs: 0, resolveWithinMs: 7 * DAY },
];

export function prioritize(
  amountMinor: number,
  currency: string,
  ageMs: number,
  tiers: PriorityTier[] = DEFAULT_PRIORITY_TIERS,
): PriorityTier {
  const major = amountMinor / 10 ** currencyExponent(currency);
  const tier = tiers.find((candidate) => major >= candidate.minAmountMajor || ageMs >= candidate.minAgeMs);
  return tier ?? tiers[tiers.length - 1]!;
}
