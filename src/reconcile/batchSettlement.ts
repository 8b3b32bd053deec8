import { type BankFact, type BatchFact, compareEntries } from "./types.js";

/**
 * Whether the bank shows a gateway's settlement batch: the booked lines
 * matched to it must equal the batch net (gross − fee + carried forward)
 * within tolerance — credits for a positive net, debits of its absolute
 * value for a negative one (the gateway takes money back, CONTRACT §8). A
 * batch netting to zero moves no money: it settles its payments on its
 * expected arrival with no bank line (`netted`). Only then does it settle
 * every payment it lists; otherwise the batch is a `mismatch` and its
 * payments stay unsettled.
 */
export type BatchState =
  | { state: "waiting"; duplicates: [] }
  | { state: "settled"; settledOn: string; settlingEntries: BankFact[]; duplicates: BankFact[]; netted?: true }
  | { state: "mismatch"; differenceMinor: number; entries: BankFact[]; duplicates: [] };

/** The bank direction that pays a batch of this net. */
export function batchDirection(netMinor: number): "credit" | "debit" {
  return netMinor < 0 ? "debit" : "credit";
}

export function settleBatch(batch: BatchFact, matched: BankFact[], toleranceMinor: number): BatchState {
  const direction = batchDirection(batch.netMinor);
  const lines = matched
    .filter((entry) => entry.status === "booked" && entry.direction === direction && entry.currency === batch.currency)
    .sort(compareEntries);
  if (batch.netMinor === 0) {
    // Nothing to pay: any line named after it would pay it twice.
    return { state: "settled", settledOn: batch.expectedArrival, settlingEntries: [], duplicates: lines, netted: true };
  }
  if (lines.length === 0) return { state: "waiting", duplicates: [] };
  const net = Math.abs(batch.netMinor);
  const fits = (amount: number) => Math.abs(amount - net) <= toleranceMinor;
  const total = lines.reduce((sum, entry) => sum + entry.amountMinor, 0);
  // The bank may split one payout into several lines: their total counts.
  if (fits(total)) {
    return {
      state: "settled",
      settledOn: lines[lines.length - 1]!.valueDate,
      settlingEntries: lines,
      duplicates: [],
    };
  }
  const single = lines.find((entry) => fits(entry.amountMinor));
  if (single) {
    return {
      state: "settled",
      settledOn: single.valueDate,
      settlingEntries: [single],
      duplicates: lines.filter((entry) => entry !== single),
    };
  }
  // Signed as the batch: what the bank shows minus the net.
  const difference = direction === "credit" ? total - net : net - total;
  return { state: "mismatch", differenceMinor: difference, entries: lines, duplicates: [] };
}
