import type { ManualDecision } from "./types.js";

/**
 * What an entry's manual decisions (CONTRACT §7) leave in force, applied in arrival order: the payment it is
 * matched to by hand, if any, and the pairings the rules may no longer make. A `match` lifts an earlier
 * `unmatch` of the same payment; an `unmatch` of the payment matched by hand drops that match too.
 */
export interface EntryDecisions {
  manual: { paymentId: string; explanation: string } | null;
  forbidden: ReadonlySet<string>;
}

export function foldDecisions(decisions: readonly ManualDecision[] | undefined): EntryDecisions | undefined {
  if (!decisions || decisions.length === 0) return undefined;
  let manual: EntryDecisions["manual"] = null;
  const forbidden = new Set<string>();
  for (const decision of [...decisions].sort((a, b) => a.seq - b.seq)) {
    if (decision.action === "match") {
      forbidden.delete(decision.target);
      manual = { paymentId: decision.target.slice("payment:".length), explanation: explainManual(decision) };
    } else {
      if (manual && `payment:${manual.paymentId}` === decision.target) manual = null;
      forbidden.add(decision.target);
    }
  }
  return { manual, forbidden };
}

function explainManual(decision: ManualDecision): string {
  const when = new Date(decision.decidedAt).toISOString().replace(".000Z", "Z");
  return `matched by hand by ${decision.actor} at ${when}${decision.note ? `: ${decision.note}` : ""}`;
}
