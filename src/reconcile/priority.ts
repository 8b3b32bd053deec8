import type { Db } from "../db/pool.js";
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

/**
 * Exceptions grow more urgent as they age: those open longer than a tier's
 * age are raised to it, their deadline brought forward (never pushed back).
 * Returns how many were raised.
 */
export async function escalateByAge(
  db: Db,
  now: Date,
  tiers: PriorityTier[] = DEFAULT_PRIORITY_TIERS,
): Promise<number> {
  let raised = 0;
  for (const [index, tier] of tiers.entries()) {
    if (tier.minAgeMs <= 0) continue;
    const lower = tiers.slice(index + 1).map((other) => other.priority);
    if (lower.length === 0) continue;
    const result = await db.query(
      `update exceptions set priority = $1,
              due_by = least(coalesce(due_by, $3::timestamptz + $4 * interval '1 millisecond'),
                             $3::timestamptz + $4 * interval '1 millisecond'),
              updated_at = $3
        where state <> 'resolved' and priority = any($2::text[])
          and opened_at <= $3::timestamptz - $5 * interval '1 millisecond'`,
      [tier.priority, lower, now, tier.resolveWithinMs, tier.minAgeMs],
    );
    raised += result.rowCount ?? 0;
  }
  return raised;
}

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
