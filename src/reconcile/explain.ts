import { formatMajor } from "../messages/currencies.js";
import type { BankFact, MatchMethod, Policy } from "./types.js";

/**
 * The sentence a person reads to check a match (CONTRACT §7): what the rule saw when it decided,
 * amounts in major units with the currency's decimals. Written by matchEntry, stored with the match.
 */

/** What an explanation names of a target: enough for a person, no more than matchEntry knows. */
export type ExplainedTarget =
  | { kind: "payment"; paymentId: string; referenceKey: string; amountMinor: number; currency: string }
  | { kind: "batch"; gateway: string; batchId: string; netMinor: number; currency: string; expectedArrival: string };

/** The rule a person sees for a match (the API's `rule`). */
export type MatchRule = "end_to_end_id" | "reference_token" | "batch" | "amount_date" | "manual";

export function ruleOf(kind: "payment" | "batch", method: MatchMethod | "manual"): MatchRule {
  if (method === "manual") return "manual";
  if (kind === "batch") return "batch";
  return method === "end_to_end_id" ? "end_to_end_id" : method === "remittance" ? "reference_token" : "amount_date";
}

function money(amountMinor: number, currency: string): string {
  try {
    return `${formatMajor(amountMinor, currency)} ${currency}`;
  } catch {
    // A currency outside ISO 4217 (tests, or a bank's private code): the minor units, said so.
    return `${amountMinor} minor units ${currency}`;
  }
}

function windowText(ms: number): string {
  const days = ms / 86_400_000;
  return Number.isInteger(days) ? `${days}d` : `${Math.round(ms / 3_600_000)}h`;
}

function targetText(target: ExplainedTarget): string {
  return target.kind === "payment"
    ? `payment ${target.paymentId} (reference ${target.referenceKey}, ${money(target.amountMinor, target.currency)})`
    : `settlement batch ${target.batchId} of ${target.gateway} (net ${money(target.netMinor, target.currency)})`;
}

export function explainByReference(
  entry: BankFact,
  target: ExplainedTarget,
  method: "end_to_end_id" | "remittance",
  fitting: number,
): string {
  const seen =
    method === "end_to_end_id"
      ? `end-to-end id ${entry.endToEndId} equals the reference of`
      : target.kind === "payment"
        ? `remittance text names reference ${target.referenceKey} of`
        : "remittance text names";
  return `${seen} ${targetText(target)}; ${entry.direction} ${money(entry.amountMinor, entry.currency)} on ${entry.valueDate}, ${fitting === 1 ? "the only payment or batch it names" : `one of ${fitting} it names`}`;
}

/**
 * An amount match: amount, value date against the due date (or the batch's expected arrival) within the
 * window, and how many candidates of the same amount there were (`considered`), of which `fitting` were open
 * (not cancelled, not settled by reference, counterparty name agreeing).
 */
export function explainByAmount(
  entry: BankFact,
  target: ExplainedTarget,
  dueDate: string,
  policy: Pick<Policy, "matchWindowMs">,
  fitting: number,
  considered: number,
): string {
  const against = target.kind === "payment" ? `due date ${dueDate}` : `expected arrival ${dueDate}`;
  const open =
    fitting === 1 ? `the only open candidate of ${considered}` : `one of ${fitting} open candidates of ${considered}`;
  return `amount ${money(entry.amountMinor, entry.currency)}, value date ${entry.valueDate} within ${windowText(policy.matchWindowMs)} of ${against} of ${targetText(target)}, ${open}`;
}
