import { pushTo } from "../grouping.js";
import { batchDirection } from "./batchSettlement.js";
import { referenceKey } from "./references.js";
import { type BankFact, daysApart, type MatchMethod, type Policy } from "./types.js";

/**
 * Which expected payment or settlement batch a bank entry belongs to,
 * strictly in the CONTRACT's order: end_to_end_id = reference; then a
 * reference or batch id among the remittance tokens; then amount + currency
 * + direction + value date within MATCH_WINDOW (and counterparty name when
 * both sides know it) when exactly one candidate fits. Two or more at any
 * step is ambiguity: reported, never guessed.
 */

export interface PaymentTarget {
  kind: "payment";
  paymentId: string;
  referenceKey: string;
  direction: "collection" | "payout";
  currency: string;
  amountMinor: number;
  /** Due dates (UTC) and amounts; a payment without installments is one. */
  installments: Array<{ amountMinor: number; dueDate: string }>;
  counterpartyName: string | null;
  cancelled: boolean;
  /** Named by a bank entry or listed in a batch: it settles that way, so it is no amount candidate. */
  settlesByReference: boolean;
}

export interface BatchTarget {
  kind: "batch";
  /** gateway + NUL + batch_id */
  key: string;
  batchIdKey: string;
  currency: string;
  /** Signed: negative when the gateway takes money back (paid by a debit). */
  netMinor: number;
  expectedArrival: string;
  settlesByReference: boolean;
}

export type MatchTarget = PaymentTarget | BatchTarget;

export interface TargetLookup {
  byReference(key: string): MatchTarget[];
  /** A superset of the amount candidates of the entry; matchEntry applies every condition itself. */
  amountCandidates(entry: BankFact): MatchTarget[];
}

export type EntryMatch =
  | { kind: "payment"; paymentId: string; method: MatchMethod }
  | { kind: "batch"; batchKey: string; method: MatchMethod }
  | { kind: "ambiguous"; method: MatchMethod; candidates: string[] }
  | { kind: "none" };

export function targetId(target: MatchTarget): string {
  return target.kind === "payment" ? `payment:${target.paymentId}` : `batch:${target.key}`;
}

/** The bank direction that settles a payment (money in for collections, out for payouts). */
export function settlingDirection(direction: "collection" | "payout"): "credit" | "debit" {
  return direction === "collection" ? "credit" : "debit";
}

function decide(targets: MatchTarget[], method: MatchMethod): EntryMatch | undefined {
  const unique = new Map(targets.map((target) => [targetId(target), target]));
  if (unique.size === 0) return undefined;
  if (unique.size > 1) return { kind: "ambiguous", method, candidates: [...unique.keys()].sort() };
  const [target] = unique.values();
  return target!.kind === "payment"
    ? { kind: "payment", paymentId: target!.paymentId, method }
    : { kind: "batch", batchKey: target!.key, method };
}

function normalizeName(name: string): string {
  return name.toUpperCase().replace(/[^A-Z0-9]/g, "");
}

function namesAgree(a: string | null, b: string | null): boolean {
  if (!a || !b) return true;
  const [x, y] = [normalizeName(a), normalizeName(b)];
  return x.length === 0 || y.length === 0 || x.includes(y) || y.includes(x);
}

function amountFits(entry: BankFact, target: MatchTarget, policy: Policy): boolean {
  if (target.settlesByReference || target.currency !== entry.currency) return false;
  if (target.kind === "batch") {
    // A negative net is paid by a debit of its absolute value; a zero net by no line at all.
    return (
      target.netMinor !== 0 &&
      entry.direction === batchDirection(target.netMinor) &&
      Math.abs(target.netMinor) === entry.amountMinor &&
      daysApart(entry.valueDate, target.expectedArrival) * 86_400_000 <= policy.matchWindowMs
    );
  }
  if (target.cancelled || settlingDirection(target.direction) !== entry.direction) return false;
  if (!namesAgree(entry.counterpartyName, target.counterpartyName)) return false;
  const windowFits = (dueDate: string) => daysApart(entry.valueDate, dueDate) * 86_400_000 <= policy.matchWindowMs;
  const last = target.installments[target.installments.length - 1];
  if (target.amountMinor === entry.amountMinor && last && windowFits(last.dueDate)) return true;
  return target.installments.some((part) => part.amountMinor === entry.amountMinor && windowFits(part.dueDate));
}

/** Whether two matches say the same (kind, side, method, candidates). */
export function sameEntryMatch(a: EntryMatch | undefined, b: EntryMatch | undefined): boolean {
  if (a === undefined || b === undefined || a.kind !== b.kind) return a === b;
  switch (a.kind) {
    case "payment":
      return a.paymentId === (b as typeof a).paymentId && a.method === (b as typeof a).method;
    case "batch":
      return a.batchKey === (b as typeof a).batchKey && a.method === (b as typeof a).method;
    case "ambiguous":
      return (
        a.method === (b as typeof a).method && a.candidates.join("\u0000") === (b as typeof a).candidates.join("\u0000")
      );
    case "none":
      return true;
  }
}

/** Whether two targets are the same for matching (every field matchEntry reads). */
export function sameTarget(a: MatchTarget | undefined, b: MatchTarget | undefined): boolean {
  if (a === undefined || b === undefined || a.kind !== b.kind) return a === b;
  if (a.kind === "batch") {
    const y = b as BatchTarget;
    return (
      a.key === y.key &&
      a.batchIdKey === y.batchIdKey &&
      a.currency === y.currency &&
      a.netMinor === y.netMinor &&
      a.expectedArrival === y.expectedArrival &&
      a.settlesByReference === y.settlesByReference
    );
  }
  const y = b as PaymentTarget;
  return (
    a.paymentId === y.paymentId &&
    a.referenceKey === y.referenceKey &&
    a.direction === y.direction &&
    a.currency === y.currency &&
    a.amountMinor === y.amountMinor &&
    a.counterpartyName === y.counterpartyName &&
    a.cancelled === y.cancelled &&
    a.settlesByReference === y.settlesByReference &&
    a.installments.length === y.installments.length &&
    a.installments.every(
      (part, k) => part.amountMinor === y.installments[k]!.amountMinor && part.dueDate === y.installments[k]!.dueDate,
    )
  );
}

export function matchEntry(entry: BankFact, lookup: TargetLookup, policy: Policy): EntryMatch {
  if (entry.endToEndId) {
    const found = decide(lookup.byReference(referenceKey(entry.endToEndId)), "end_to_end_id");
    if (found) return found;
  }
  const byToken = decide(
    entry.tokens.flatMap((token) => lookup.byReference(token)),
    "remittance",
  );
  if (byToken) return byToken;
  // Returns and pending lines are only ever matched by reference: an amount guess on them would be a guess.
  if (entry.status !== "booked") return { kind: "none" };
  const byAmount = decide(
    lookup.amountCandidates(entry).filter((target) => amountFits(entry, target, policy)),
    "amount",
  );
  return byAmount ?? { kind: "none" };
}

/** A lookup over in-memory targets: the reference the store's SQL lookups must agree with. */
export function memoryLookup(targets: MatchTarget[]): TargetLookup {
  const byKey = new Map<string, MatchTarget[]>();
  for (const target of targets) {
    const key = target.kind === "payment" ? target.referenceKey : target.batchIdKey;
    pushTo(byKey, key, target);
  }
  return {
    byReference: (key) => byKey.get(key) ?? [],
    amountCandidates: () => targets,
  };
}
