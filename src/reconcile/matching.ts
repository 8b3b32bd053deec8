import { pushTo } from "../grouping.js";
import { type ExplainedTarget, explainByAmount, explainByReference } from "./explain.js";
import type { EntryDecisions } from "./manualDecisions.js";
import { batchDirection } from "./batchSettlement.js";
import { instructedIn } from "./fx.js";
import { referenceKey } from "./references.js";
import { parseBatchKey } from "./touched.js";
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

/** `explanation`: what the rule saw, for a person (explain.ts); for ambiguity one per candidate, in its order. */
export type EntryMatch =
  | { kind: "payment"; paymentId: string; method: MatchMethod; explanation: string }
  | { kind: "batch"; batchKey: string; method: MatchMethod; explanation: string }
  | { kind: "ambiguous"; method: MatchMethod; candidates: string[]; explanations: string[] }
  | { kind: "none" };

export function targetId(target: MatchTarget): string {
  return target.kind === "payment" ? `payment:${target.paymentId}` : `batch:${target.key}`;
}

/** The bank direction that settles a payment (money in for collections, out for payouts). */
export function settlingDirection(direction: "collection" | "payout"): "credit" | "debit" {
  return direction === "collection" ? "credit" : "debit";
}

function decide(
  targets: MatchTarget[],
  method: MatchMethod,
  explain: (target: MatchTarget, fitting: number) => string,
): EntryMatch | undefined {
  const unique = new Map(targets.map((target) => [targetId(target), target]));
  if (unique.size === 0) return undefined;
  if (unique.size > 1) {
    const candidates = [...unique.keys()].sort();
    return {
      kind: "ambiguous",
      method,
      candidates,
      explanations: candidates.map((id) => explain(unique.get(id)!, unique.size)),
    };
  }
  const [target] = unique.values();
  const explanation = explain(target!, 1);
  return target!.kind === "payment"
    ? { kind: "payment", paymentId: target!.paymentId, method, explanation }
    : { kind: "batch", batchKey: target!.key, method, explanation };
}

function explained(target: MatchTarget): ExplainedTarget {
  return target.kind === "payment"
    ? {
        kind: "payment",
        paymentId: target.paymentId,
        referenceKey: target.referenceKey,
        amountMinor: target.amountMinor,
        currency: target.currency,
      }
    : {
        kind: "batch",
        ...parseBatchKey(target.key),
        netMinor: target.netMinor,
        currency: target.currency,
        expectedArrival: target.expectedArrival,
      };
}

function normalizeName(name: string): string {
  return name.toUpperCase().replace(/[^A-Z0-9]/g, "");
}

function namesAgree(a: string | null, b: string | null): boolean {
  if (!a || !b) return true;
  const [x, y] = [normalizeName(a), normalizeName(b)];
  return x.length === 0 || y.length === 0 || x.includes(y) || y.includes(x);
}

/**
 * The due date (or expected arrival) against which amount, currency, direction and value date fit within the
 * window, or undefined: the candidates an amount match weighs, before asking whether each is open.
 */
function amountWindowFit(entry: BankFact, target: MatchTarget, policy: Policy): string | undefined {
  // A line in another currency is an amount candidate of a payment only by its instructed amount (CONTRACT §8
  // "FX"): converting every line into every currency would pair amounts by chance.
  const amountMinor =
    target.currency === entry.currency
      ? entry.amountMinor
      : target.kind === "payment"
        ? instructedIn(entry, target.currency)
        : undefined;
  if (amountMinor === undefined) return undefined;
  const windowFits = (dueDate: string) => daysApart(entry.valueDate, dueDate) * 86_400_000 <= policy.matchWindowMs;
  if (target.kind === "batch") {
    // A negative net is paid by a debit of its absolute value; a zero net by no line at all.
    return target.netMinor !== 0 &&
      entry.direction === batchDirection(target.netMinor) &&
      Math.abs(target.netMinor) === entry.amountMinor &&
      windowFits(target.expectedArrival)
      ? target.expectedArrival
      : undefined;
  }
  if (settlingDirection(target.direction) !== entry.direction) return undefined;
  const last = target.installments[target.installments.length - 1];
  if (target.amountMinor === amountMinor && last && windowFits(last.dueDate)) return last.dueDate;
  return target.installments.find((part) => part.amountMinor === amountMinor && windowFits(part.dueDate))?.dueDate;
}

/** Whether an amount candidate may take the entry: not settled by reference, not cancelled, names agree. */
function openForAmount(entry: BankFact, target: MatchTarget): boolean {
  if (target.settlesByReference) return false;
  if (target.kind === "batch") return true;
  return !target.cancelled && namesAgree(entry.counterpartyName, target.counterpartyName);
}

/** Whether two matches say the same (kind, side, method, candidates). */
export function sameEntryMatch(a: EntryMatch | undefined, b: EntryMatch | undefined): boolean {
  if (a === undefined || b === undefined || a.kind !== b.kind) return a === b;
  switch (a.kind) {
    case "payment":
      return (
        a.paymentId === (b as typeof a).paymentId &&
        a.method === (b as typeof a).method &&
        a.explanation === (b as typeof a).explanation
      );
    case "batch":
      return (
        a.batchKey === (b as typeof a).batchKey &&
        a.method === (b as typeof a).method &&
        a.explanation === (b as typeof a).explanation
      );
    case "ambiguous":
      return (
        a.method === (b as typeof a).method &&
        a.candidates.join("\u0000") === (b as typeof a).candidates.join("\u0000") &&
        a.explanations.join("\u0000") === (b as typeof a).explanations.join("\u0000")
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

/** Without the targets an operator unmatched from the entry: the rules never pair them again. */
function allowedLookup(lookup: TargetLookup, forbidden: ReadonlySet<string>): TargetLookup {
  if (forbidden.size === 0) return lookup;
  const allowed = (targets: MatchTarget[]) => targets.filter((target) => !forbidden.has(targetId(target)));
  return {
    byReference: (key) => allowed(lookup.byReference(key)),
    amountCandidates: (entry) => allowed(lookup.amountCandidates(entry)),
  };
}

export function matchEntry(
  entry: BankFact,
  rulesLookup: TargetLookup,
  policy: Policy,
  decisions?: EntryDecisions,
): EntryMatch {
  // An operator's match wins over every rule.
  if (decisions?.manual) {
    const { paymentId, explanation } = decisions.manual;
    return { kind: "payment", paymentId, method: "manual", explanation };
  }
  const lookup = decisions ? allowedLookup(rulesLookup, decisions.forbidden) : rulesLookup;
  if (entry.endToEndId) {
    const found = decide(lookup.byReference(referenceKey(entry.endToEndId)), "end_to_end_id", (target, fitting) =>
      explainByReference(entry, explained(target), "end_to_end_id", fitting),
    );
    if (found) return found;
  }
  const byToken = decide(
    entry.tokens.flatMap((token) => lookup.byReference(token)),
    "remittance",
    (target, fitting) => explainByReference(entry, explained(target), "remittance", fitting),
  );
  if (byToken) return byToken;
  // Returns are only ever matched by reference. A pending line matches like a booked one, tentatively (CONTRACT §7):
  // the payment stays in flight until a booked line confirms it.
  if (entry.status === "returned") return { kind: "none" };
  const weighed = new Map<string, { target: MatchTarget; dueDate: string }>();
  for (const target of lookup.amountCandidates(entry)) {
    const dueDate = amountWindowFit(entry, target, policy);
    if (dueDate !== undefined) weighed.set(targetId(target), { target, dueDate });
  }
  const open = [...weighed.values()].filter(({ target }) => openForAmount(entry, target));
  const dueDates = new Map(open.map(({ target, dueDate }) => [targetId(target), dueDate]));
  const byAmount = decide(
    open.map(({ target }) => target),
    "amount",
    (target, fitting) =>
      explainByAmount(entry, explained(target), dueDates.get(targetId(target))!, policy, fitting, weighed.size),
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
