import { type BankFact, type BatchFact, compareEntries } from "./types.js";

/**
 * Whether the bank shows a gateway's settlement batch: the booked credits
 * matched to it must equal the batch net (gross − fee) within tolerance.
 * Only then does it settle every payment it lists; otherwise the batch is a
 * `mismatch` and its payments stay unsettled.
 */
export type BatchState =
  | { state: "waiting"; duplicates: [] }
  | { state: "settled"; settledOn: string; settlingEntries: BankFact[]; duplicates: BankFact[] }
  | { state: "mismatch"; differenceMinor: number; entries: BankFact[]; duplicates: [] };

export function settleBatch(batch: BatchFact, matched: BankFact[], toleranceMinor: number): BatchState {
  const credits = matched
    .filter((entry) => entry.status === "booked" && entry.direction === "credit" && entry.currency === batch.currency)
    .sort(compareEntries);
  if (credits.length === 0) return { state: "waiting", duplicates: [] };
  const fits = (amount: number) => Math.abs(amount - batch.netMinor) <= toleranceMinor;
  const total = credits.reduce((sum, entry) => sum + entry.amountMinor, 0);
  // The bank may split one payout into several credits: their total counts.
  if (fits(total)) {
    return {
      state: "settled",
      settledOn: credits[credits.length - 1]!.valueDate,
      settlingEntries: credits,
      duplicates: [],
    };
  }
  const single = credits.find((entry) => fits(entry.amountMinor));
  if (single) {
    return {
      state: "settled",
      settledOn: single.valueDate,
      settlingEntries: [single],
      duplicates: credits.filter((entry) => entry !== single),
    };
  }
  return { state: "mismatch", differenceMinor: total - batch.netMinor, entries: credits, duplicates: [] };
}
