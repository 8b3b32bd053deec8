import { money } from "./statement.js";

/**
 * The one place that decides whether a camt batch booking (one Ntry, several TxDtls)
 * becomes one BankEntry per transaction. Splitting is only safe when the parts are
 * exactly the booked money: same currency, same direction, each positive, and summing
 * to the entry amount to the minor unit. Anything else (ING's batch with no details,
 * a synthetic file whose details are in another currency) stays one entry.
 */

export interface BatchPart {
  amountMinor: number | undefined;
  currency: string | undefined;
  direction: "credit" | "debit" | undefined;
}

export type SplitDecision = { split: true } | { split: false; reason: string | null };

export function decideBatchSplit(
  entry: { amountMinor: number; currency: string; direction: "credit" | "debit" },
  parts: readonly BatchPart[],
): SplitDecision {
  // Zero or one TxDtls: nothing to split, and nothing worth a warning.
  if (parts.length < 2) return { split: false, reason: null };
  if (parts.some((part) => part.amountMinor === undefined)) {
    return { split: false, reason: `${parts.length} transaction details, not all with an amount` };
  }
  const foreign = parts.find((part) => part.currency !== entry.currency);
  if (foreign) {
    return { split: false, reason: `transaction details in ${foreign.currency}, the entry in ${entry.currency}` };
  }
  if (parts.some((part) => part.direction !== undefined && part.direction !== entry.direction)) {
    return { split: false, reason: `transaction details with a direction other than the entry's (${entry.direction})` };
  }
  if (parts.some((part) => (part.amountMinor ?? 0) <= 0)) {
    return { split: false, reason: "a transaction detail with a zero amount" };
  }
  const sum = parts.reduce((total, part) => total + (part.amountMinor ?? 0), 0);
  if (sum !== entry.amountMinor) {
    return {
      split: false,
      reason: `${parts.length} transaction details sum to ${money(sum, entry.currency)}, the entry is ${money(entry.amountMinor, entry.currency)}`,
    };
  }
  return { split: true };
}
