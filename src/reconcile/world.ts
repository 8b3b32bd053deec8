import { pushTo } from "../grouping.js";
import { formatMoney } from "../messages/display.js";
import { type BatchState, settleBatch } from "./batchSettlement.js";
import { type DesiredException, exceptionKey } from "./exceptions.js";
import { effectiveExpected } from "./expectedVersions.js";
import { feeVariance } from "./fees.js";
import {
  type BatchTarget,
  type EntryMatch,
  type MatchTarget,
  matchEntry,
  memoryLookup,
  type PaymentTarget,
} from "./matching.js";
import { type BatchView, type PaymentOutcome, reconcilePayment } from "./paymentStatus.js";
import { foldDecisions } from "./manualDecisions.js";
import type {
  BankFact,
  BatchFact,
  ExpectedVersion,
  GatewayFact,
  ManualDecision,
  PaymentDecision,
  Policy,
} from "./types.js";
import { referenceKey } from "./references.js";
import { batchKey } from "./touched.js";
import { toleranceFor, utcDate } from "./types.js";

/**
 * Reconciliation of a whole set of facts at once: what the incremental store
 * must always agree with. Used by property tests (shuffle and duplicate the
 * facts; the result must not change) and to check the database end to end.
 */
export interface WorldFacts {
  versions: Array<ExpectedVersion & { paymentId: string }>;
  events: GatewayFact[];
  batches: BatchFact[];
  entries: BankFact[];
  /** Operators' match / unmatch decisions on bank entries (CONTRACT §7). */
  decisions: ManualDecision[];
  /** Operators' write-off / reopen decisions on payments (CONTRACT §7). */
  paymentDecisions: PaymentDecision[];
}

export interface WorldResult {
  payments: Map<string, PaymentOutcome>;
  entryMatches: Map<string, EntryMatch>;
  batchStates: Map<string, BatchState>;
  /** Open exceptions by exceptionKey. */
  exceptions: Map<string, DesiredException>;
}

export function entryKey(entry: { bank: string; entryId: string }): string {
  return `${entry.bank}/${entry.entryId}`;
}

export function batchTargetKey(batch: { gateway: string; batchId: string }): string {
  return batchKey(batch.gateway, batch.batchId);
}

function firstBy<T>(items: T[], key: (item: T) => string, better: (a: T, b: T) => boolean): T[] {
  const chosen = new Map<string, T>();
  for (const item of items) {
    const current = chosen.get(key(item));
    if (!current || better(item, current)) chosen.set(key(item), item);
  }
  return [...chosen.values()];
}

/** Facts with the same natural key are one fact (the store keeps the first; ties broken by content). */
export function distinctFacts(facts: WorldFacts): WorldFacts {
  return {
    versions: firstBy(
      facts.versions,
      (v) => `${v.paymentId}\u0000${JSON.stringify(v.payment)}\u0000${v.cancelled}\u0000${v.version}`,
      (a, b) => a.seq < b.seq,
    ),
    events: firstBy(
      facts.events,
      (e) => `${e.gateway}\u0000${e.eventId}`,
      (a, b) => a.seq < b.seq,
    ),
    batches: firstBy(
      facts.batches,
      batchTargetKey,
      (a, b) => a.occurredAt < b.occurredAt || (a.occurredAt === b.occurredAt && a.eventId < b.eventId),
    ),
    entries: firstBy(facts.entries, entryKey, (a, b) => a.seq < b.seq),
    decisions: firstBy(
      facts.decisions,
      (d) => String(d.seq),
      () => false,
    ),
    paymentDecisions: firstBy(
      facts.paymentDecisions,
      (d) => String(d.seq),
      () => false,
    ),
  };
}

export function reconcileWorld(input: WorldFacts, now: number, policy: Policy): WorldResult {
  const facts = distinctFacts(input);
  const versionsById = new Map<string, ExpectedVersion[]>();
  for (const version of facts.versions) {
    pushTo(versionsById, version.paymentId, version);
  }
  const tokens = new Set(facts.entries.flatMap((entry) => entry.tokens));
  const batchedRefs = new Set(facts.batches.flatMap((batch) => batch.referenceKeys));

  const targets: MatchTarget[] = [];
  const paymentRefs = new Map<string, { gateway: string; referenceKey: string }>();
  for (const [paymentId, versions] of versionsById) {
    const effective = effectiveExpected(versions);
    if (!effective) continue;
    const payment = effective.payment;
    const refKey = referenceKey(payment.reference);
    paymentRefs.set(paymentId, { gateway: payment.gateway, referenceKey: refKey });
    targets.push(paymentTarget(paymentId, payment, effective.cancelled, tokens.has(refKey) || batchedRefs.has(refKey)));
  }
  for (const batch of facts.batches) {
    targets.push({
      kind: "batch",
      key: batchTargetKey(batch),
      batchIdKey: batch.batchKey,
      currency: batch.currency,
      netMinor: batch.netMinor,
      expectedArrival: batch.expectedArrival,
      settlesByReference: tokens.has(batch.batchKey),
    } satisfies BatchTarget);
  }

  const lookup = memoryLookup(targets);
  const decisionsByEntry = new Map<string, ManualDecision[]>();
  for (const decision of facts.decisions) pushTo(decisionsByEntry, entryKey(decision), decision);
  const entryMatches = new Map<string, EntryMatch>();
  const entriesByPayment = new Map<string, Array<{ entry: BankFact; method: EntryMatch & { kind: "payment" } }>>();
  const entriesByBatch = new Map<string, BankFact[]>();
  for (const entry of facts.entries) {
    const match = matchEntry(entry, lookup, policy, foldDecisions(decisionsByEntry.get(entryKey(entry))));
    entryMatches.set(entryKey(entry), match);
    if (match.kind === "payment") {
      pushTo(entriesByPayment, match.paymentId, { entry, method: match });
    } else if (match.kind === "batch") {
      pushTo(entriesByBatch, match.batchKey, entry);
    }
  }

  const batchStates = new Map<string, BatchState>();
  const batchesByRef = new Map<string, BatchView[]>();
  for (const batch of facts.batches) {
    const key = batchTargetKey(batch);
    const state = settleBatch(batch, entriesByBatch.get(key) ?? [], toleranceFor(policy, batch.gateway));
    batchStates.set(key, state);
    const view: BatchView = {
      batch,
      state: state.state,
      settledOn: state.state === "settled" ? state.settledOn : null,
    };
    for (const ref of batch.referenceKeys) pushTo(batchesByRef, ref, view);
  }

  const eventsByRef = new Map<string, GatewayFact[]>();
  for (const event of facts.events) {
    pushTo(eventsByRef, event.referenceKey, event);
  }

  const decisionsByPayment = new Map<string, PaymentDecision[]>();
  for (const decision of facts.paymentDecisions) pushTo(decisionsByPayment, decision.paymentId, decision);

  const payments = new Map<string, PaymentOutcome>();
  const exceptions = new Map<string, DesiredException>();
  const open = (exception: DesiredException) => exceptions.set(exceptionKey(exception), exception);
  for (const [paymentId, versions] of versionsById) {
    const ref = paymentRefs.get(paymentId);
    if (!ref) continue;
    const outcome = reconcilePayment(
      {
        paymentId,
        versions,
        events: eventsByRef.get(ref.referenceKey) ?? [],
        entries: (entriesByPayment.get(paymentId) ?? []).map(({ entry, method }) => ({ entry, method: method.method })),
        batches: (batchesByRef.get(ref.referenceKey) ?? []).filter((view) => view.batch.gateway === ref.gateway),
        decisions: decisionsByPayment.get(paymentId),
      },
      now,
      policy,
    );
    if (!outcome) continue;
    payments.set(paymentId, outcome);
    for (const desired of paymentExceptions(outcome)) open(desired);
  }

  for (const entry of facts.entries) {
    const match = entryMatches.get(entryKey(entry))!;
    for (const desired of entryExceptions(entry, match, now, policy)) open(desired);
  }
  for (const batch of facts.batches) {
    const state = batchStates.get(batchTargetKey(batch))!;
    for (const desired of batchExceptions(batch, state, policy)) open(desired);
  }
  const knownRefs = new Map<string, Set<string>>();
  for (const ref of paymentRefs.values()) {
    const gateways = knownRefs.get(ref.referenceKey) ?? new Set<string>();
    gateways.add(ref.gateway);
    knownRefs.set(ref.referenceKey, gateways);
  }
  for (const event of facts.events) {
    const desired = unmatchedEvent(event, knownRefs.get(event.referenceKey)?.has(event.gateway) ?? false, now, policy);
    if (desired) open(desired);
  }
  return { payments, entryMatches, batchStates, exceptions };
}

export function paymentTarget(
  paymentId: string,
  payment: import("../messages/schemas.js").ExpectedPayment,
  cancelled: boolean,
  settlesByReference: boolean,
  /** The payment's reference key, when the caller has it already. */
  refKey = referenceKey(payment.reference),
): PaymentTarget {
  const parts = payment.installments ?? [{ amount_minor: payment.amount_minor, due_at: payment.due_at }];
  return {
    kind: "payment",
    paymentId,
    referenceKey: refKey,
    direction: payment.direction,
    currency: payment.currency,
    amountMinor: payment.amount_minor,
    installments: parts
      .map((part) => ({ amountMinor: part.amount_minor, dueDate: utcDateOf(part.due_at) }))
      .sort((a, b) => a.dueDate.localeCompare(b.dueDate)),
    counterpartyName:
      typeof payment.metadata?.counterparty_name === "string" ? payment.metadata.counterparty_name : null,
    cancelled,
    settlesByReference,
  };
}

/**
 * The UTC date of an RFC 3339 time (as the schema admits them: hours 00–23, seconds 00–59): its own first ten
 * characters when it is in UTC already (no Date built and formatted per installment of a million at a load).
 */
export function utcDateOf(time: string): string {
  const zone = time.charCodeAt(time.length - 1);
  return zone === 90 || zone === 122 ? time.slice(0, 10) : utcDate(Date.parse(time));
}

export function paymentExceptions(outcome: PaymentOutcome): DesiredException[] {
  const out: DesiredException[] = [];
  const base = {
    currency: outcome.payment.currency,
    direction: outcome.payment.direction,
    gateway: outcome.payment.gateway,
  };
  if (outcome.exception) {
    out.push({
      kind: outcome.exception.kind,
      subject: { type: "payment", paymentId: outcome.paymentId },
      amountMinor: outcome.exception.amountMinor,
      detail: outcome.reason,
      ...base,
    });
  }
  for (const entry of outcome.duplicateEntries) {
    out.push({
      kind: "duplicate",
      subject: { type: "bank_entry", bank: entry.bank, entryId: entry.entryId },
      amountMinor: entry.amountMinor,
      detail: `would settle payment ${outcome.paymentId} again`,
      ...base,
      direction: entry.direction,
    });
  }
  return out;
}

export function entryExceptions(entry: BankFact, match: EntryMatch, now: number, policy: Policy): DesiredException[] {
  const base = {
    subject: { type: "bank_entry" as const, bank: entry.bank, entryId: entry.entryId },
    amountMinor: entry.amountMinor,
    currency: entry.currency,
    direction: entry.direction,
    gateway: null,
  };
  if (match.kind === "ambiguous") {
    return [{ kind: "ambiguous", detail: `${match.method} fits ${match.candidates.join(", ")}`, ...base }];
  }
  if (match.kind === "none" && now >= entry.receivedAt + policy.unmatchedGraceMs) {
    return [{ kind: "unmatched", detail: "matches no expected payment or settlement batch", ...base }];
  }
  return [];
}

/** For people: amounts in major units with the currency (the exception's amount_minor is the machine field). */
function batchMismatchDetail(batch: BatchFact, differenceMinor: number): string {
  const money = (minor: number) => formatMoney(minor, batch.currency);
  return (
    `bank shows ${money(batch.netMinor + differenceMinor)}, batch net ${money(batch.netMinor)} ` +
    `(gross ${money(batch.grossMinor)} − fee ${money(batch.feeMinor)}` +
    `${batch.carriedForwardMinor ? ` + carried forward ${money(batch.carriedForwardMinor)}` : ""}): difference ${money(differenceMinor)}`
  );
}

export function batchExceptions(batch: BatchFact, state: BatchState, policy?: Policy): DesiredException[] {
  const subject = { type: "batch" as const, gateway: batch.gateway, batchId: batch.batchId };
  const base = { currency: batch.currency, direction: "collection" as const, gateway: batch.gateway };
  const out: DesiredException[] = [];
  const variance = policy ? feeVariance(batch, policy) : null;
  if (variance) {
    // Its payments still settle: the fee is a question for the gateway contract, not the money's arrival.
    out.push({
      kind: "fee_variance",
      subject,
      amountMinor: Math.abs(variance.differenceMinor),
      detail: `fee ${variance.chargedMinor}, the fee schedule expects ${variance.expectedMinor} (${variance.differenceMinor > 0 ? "+" : ""}${variance.differenceMinor})`,
      ...base,
    });
  }
  if (state.state === "mismatch") {
    out.push({
      kind: "mismatch",
      subject,
      amountMinor: Math.abs(state.differenceMinor),
      detail: batchMismatchDetail(batch, state.differenceMinor),
      ...base,
    });
  }
  for (const entry of state.duplicates) {
    out.push({
      kind: "duplicate",
      subject: { type: "bank_entry", bank: entry.bank, entryId: entry.entryId },
      amountMinor: entry.amountMinor,
      detail: `would settle batch ${batch.batchId} again`,
      ...base,
      direction: entry.direction,
    });
  }
  return out;
}

export function unmatchedEvent(
  event: GatewayFact,
  hasPayment: boolean,
  now: number,
  policy: Policy,
): DesiredException | undefined {
  if (hasPayment || now < event.receivedAt + policy.unmatchedGraceMs) return undefined;
  return {
    kind: "unmatched",
    subject: { type: "gateway_event", gateway: event.gateway, eventId: event.eventId },
    amountMinor: event.amountMinor,
    currency: event.currency,
    direction: event.type.startsWith("payout.") ? "payout" : "collection",
    gateway: event.gateway,
    detail: `${event.type} for reference ${event.referenceKey} matches no expected payment`,
  };
}
