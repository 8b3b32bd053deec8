import { formatInstant, formatMoney } from "../messages/display.js";
import type { ExpectedPayment } from "../messages/schemas.js";
import { effectiveExpected } from "./expectedVersions.js";
import { fxLine } from "./fx.js";
import { classifyFailure, type FailureCategory, type RetryAdvice } from "./failureCodes.js";
import { settlingDirection } from "./matching.js";
import {
  type BankFact,
  type BatchFact,
  compareEntries,
  compareEvents,
  type ExpectedVersion,
  type GatewayFact,
  type MatchMethod,
  type PaymentDecision,
  type PaymentStatus,
  type Policy,
  toleranceFor,
  utcDate,
} from "./types.js";

/**
 * The status of one expected payment from all the facts of its correlation
 * group and `now` (CONTRACT §2). Pure: same facts, same answer, whatever the
 * order they arrived in. Precedence, highest first: cancelled, reversed
 * (charged back, refunded), returned by the bank, settled, mismatch, failed at
 * the gateway, held, delayed, partially settled, in flight, pending.
 */

export interface MatchedEntry {
  entry: BankFact;
  method: MatchMethod;
}

/** What a payment needs to know of a batch listing it (not the batch's whole reference list). */
export type BatchSummary = Pick<BatchFact, "gateway" | "batchId" | "currency" | "occurredAt">;

export interface BatchView {
  batch: BatchSummary;
  state: "waiting" | "settled" | "mismatch";
  settledOn: string | null;
}

export interface PaymentFacts {
  paymentId: string;
  versions: ExpectedVersion[];
  /** Gateway events naming the payment's reference (any gateway; only its own gateway's count). */
  events: GatewayFact[];
  entries: MatchedEntry[];
  batches: BatchView[];
  /** Operators' write-off / reopen decisions on the payment (CONTRACT §7). */
  decisions?: PaymentDecision[];
}

export type PaymentExceptionKind = "failed" | "held" | "delayed" | "mismatch" | "unconfirmed";

export interface PaymentOutcome {
  paymentId: string;
  payment: ExpectedPayment;
  status: PaymentStatus;
  /** Net of bank returns; may exceed the amount when overpaid. */
  settledAmountMinor: number;
  failureCategory: FailureCategory | null;
  failureCode: string | null;
  failureCodeKnown: boolean;
  failureMessage: string | null;
  retryAdvice: RetryAdvice | null;
  holdReason: string | null;
  settledLate: boolean;
  /** Date the full amount was reached (bank value date). */
  settledOn: string | null;
  /** When the gateway first accepted it (captured, submitted, paid, or listed in a batch). */
  acceptedAt: number | null;
  /** Earliest due date passed without settlement, for aging. */
  overdueSince: number | null;
  flags: string[];
  /** Why it has this status, one line, for findings and the timeline. */
  reason: string;
  /** The next instant at which time alone could change the status. */
  nextDeadline: number | null;
  /** The amount at risk while failed, held, delayed or mismatched. */
  exception: { kind: PaymentExceptionKind; amountMinor: number } | null;
  /** Distinct bank entries that would settle it again. */
  duplicateEntries: BankFact[];
  /** Settled (in part) by lines in another currency (CONTRACT §8 "FX"); null when not. */
  fx: PaymentFx | null;
}

/**
 * What lines in another currency did for a payment: their currency and amount (of the first such currency),
 * and the FX difference in the payment's currency: the converted amount − the amount they settled (0 for
 * instructed amounts, which count as they are).
 */
export interface PaymentFx {
  lineCurrency: string;
  lineAmountMinor: number;
  differenceMinor: number;
}

const COLLECTION_LIFECYCLE = new Set(["payment.authorized", "payment.captured", "payment.failed"]);
const PAYOUT_LIFECYCLE = new Set([
  "payout.submitted",
  "payout.paid",
  "payout.failed",
  "payout.held",
  "payout.released",
  "payout.canceled",
]);
const FAILURE_TYPES = new Set(["payment.failed", "payout.failed", "payout.canceled"]);
const ACCEPTANCE_TYPES = new Set(["payment.captured", "payout.submitted", "payout.paid"]);
const AMOUNT_BEARING_SUCCESS = new Set(["payment.captured", "payout.paid", "payout.submitted"]);
const TERMINAL: ReadonlySet<PaymentStatus> = new Set([
  "settled",
  "failed",
  "refunded",
  "charged_back",
  "cancelled",
  "written_off",
]);
/** What the facts say that a write-off does not hide: the money came, went back, or the payment was cancelled. */
const BEYOND_WRITE_OFF: ReadonlySet<PaymentStatus> = new Set(["settled", "refunded", "charged_back", "cancelled"]);

/** The write-off in force: the latest decision, when it is one. */
export function writeOffInForce(decisions: readonly PaymentDecision[] | undefined): PaymentDecision | undefined {
  const latest = [...(decisions ?? [])].sort((a, b) => b.seq - a.seq)[0];
  return latest?.action === "write_off" ? latest : undefined;
}

interface Installment {
  amountMinor: number;
  dueAt: number;
}

function installmentsOf(payment: ExpectedPayment): Installment[] {
  const parts = payment.installments ?? [{ amount_minor: payment.amount_minor, due_at: payment.due_at }];
  return parts
    .map((part, index) => ({ amountMinor: part.amount_minor, dueAt: Date.parse(part.due_at), index }))
    .sort((a, b) => a.dueAt - b.dueAt || a.index - b.index)
    .map(({ amountMinor, dueAt }) => ({ amountMinor, dueAt }));
}

interface BankTally {
  settledMinor: number;
  returnedMinor: number;
  lastReturn: BankFact | null;
  duplicates: BankFact[];
  /** Value date on which each installment prefix was first reached. */
  prefixReachedOn: Array<string | null>;
  settledOn: string | null;
  pendingSeen: boolean;
  /** When the first pending line matched to it arrived (a tentative match), if any. */
  pendingSince: number | null;
  foreignCurrency: boolean;
  oppositeDirection: boolean;
  /** Lines in another currency that settled it (CONTRACT §8 "FX"), summed; null when none did. */
  fx: PaymentFx | null;
}

function tallyBank(
  payment: ExpectedPayment,
  installments: Installment[],
  entries: MatchedEntry[],
  batchSettledOn: string | null,
  tolerance: number,
  policy: Policy,
): BankTally {
  const settle = settlingDirection(payment.direction);
  const full = payment.amount_minor - tolerance;
  const prefixes = installments.map((_, k) =>
    installments.slice(0, k + 1).reduce((sum, part) => sum + part.amountMinor, 0),
  );
  const tally: BankTally = {
    settledMinor: 0,
    returnedMinor: 0,
    lastReturn: null,
    duplicates: [],
    prefixReachedOn: prefixes.map(() => null),
    settledOn: null,
    pendingSeen: false,
    pendingSince: null,
    foreignCurrency: false,
    oppositeDirection: false,
    fx: null,
  };
  const reach = (date: string) => {
    prefixes.forEach((prefix, k) => {
      if (tally.prefixReachedOn[k] === null && tally.settledMinor >= prefix - tolerance)
        tally.prefixReachedOn[k] = date;
    });
    if (tally.settledOn === null && tally.settledMinor >= full) tally.settledOn = date;
  };
  // Same value date: the settlement is booked before its return.
  const ordered = [...entries]
    .map((matched) => matched.entry)
    .sort((a, b) => a.valueDate.localeCompare(b.valueDate) || rankStatus(a) - rankStatus(b) || compareEntries(a, b));
  let batchApplied = batchSettledOn === null;
  for (const entry of ordered) {
    if (!batchApplied && batchSettledOn! <= entry.valueDate) {
      applyBatch();
    }
    // A line in another currency counts by its amount in the payment's currency (fx.ts), or not at all.
    let amountMinor = entry.amountMinor;
    let fxDifference = 0;
    if (entry.currency !== payment.currency) {
      const toSettle =
        entry.status === "booked" ? payment.amount_minor - Math.max(0, tally.settledMinor) : payment.amount_minor;
      const fx = fxLine(entry, payment.currency, toSettle, policy);
      if (!fx) {
        tally.foreignCurrency = true;
        continue;
      }
      // Converted at a rate, the line settles what was still due; the rest is the FX difference.
      amountMinor = fx.via === "rate" && entry.status === "booked" ? toSettle : fx.convertedMinor;
      fxDifference = fx.convertedMinor - amountMinor;
    }
    if (entry.status === "pending") {
      tally.pendingSeen = true;
      if (tally.pendingSince === null || entry.receivedAt < tally.pendingSince) tally.pendingSince = entry.receivedAt;
      continue;
    }
    if (entry.status === "returned") {
      if (entry.direction === settle) {
        tally.oppositeDirection = true;
        continue;
      }
      tally.returnedMinor += amountMinor;
      tally.settledMinor -= amountMinor;
      tally.lastReturn = entry;
      // Money came back: what was reached is no longer reached.
      prefixes.forEach((prefix, k) => {
        if (tally.settledMinor < prefix - tolerance) tally.prefixReachedOn[k] = null;
      });
      if (tally.settledMinor < full) tally.settledOn = null;
      continue;
    }
    if (entry.direction !== settle) {
      tally.oppositeDirection = true;
      continue;
    }
    if (tally.settledMinor >= full) {
      tally.duplicates.push(entry);
      continue;
    }
    tally.settledMinor += amountMinor;
    if (entry.currency !== payment.currency) {
      const fx = tally.fx ?? { lineCurrency: entry.currency, lineAmountMinor: 0, differenceMinor: 0 };
      tally.fx = {
        lineCurrency: fx.lineCurrency,
        lineAmountMinor: fx.lineAmountMinor + (fx.lineCurrency === entry.currency ? entry.amountMinor : 0),
        differenceMinor: fx.differenceMinor + fxDifference,
      };
    }
    reach(entry.valueDate);
  }
  if (!batchApplied) applyBatch();
  return tally;

  function applyBatch() {
    batchApplied = true;
    // A batch settles the payment in full (fees are the batch's); settled twice is only flagged.
    if (tally.settledMinor < full) {
      tally.settledMinor += payment.amount_minor - Math.max(0, tally.settledMinor);
      reach(batchSettledOn!);
    }
  }
}

/**
 * The dispute's last word (CONTRACT §8 "Disputes won"): a chargeback stands unless a later
 * `payment.chargeback_reversed` undoes it; a second chargeback after the reversal stands again.
 * On the same instant the reversal comes after the chargeback it reverses (never the other way).
 */
function disputeOutcome(events: GatewayFact[]): { chargeback: GatewayFact | undefined; reversed: boolean } {
  const dispute = events
    .filter((event) => event.type === "payment.chargeback" || event.type === "payment.chargeback_reversed")
    .sort(
      (a, b) =>
        a.occurredAt - b.occurredAt ||
        Number(a.type === "payment.chargeback_reversed") - Number(b.type === "payment.chargeback_reversed") ||
        compareEvents(a, b),
    );
  const last = dispute[dispute.length - 1];
  if (last === undefined) return { chargeback: undefined, reversed: false };
  if (last.type === "payment.chargeback")
    return { chargeback: dispute.find((e) => e.type === "payment.chargeback"), reversed: false };
  return { chargeback: undefined, reversed: true };
}

function rankStatus(entry: BankFact): number {
  return entry.status === "returned" ? 1 : 0;
}

const describeDue = formatInstant;

export function reconcilePayment(facts: PaymentFacts, now: number, policy: Policy): PaymentOutcome | undefined {
  const effective = effectiveExpected(facts.versions);
  if (!effective) return undefined;
  const payment = effective.payment;
  const tolerance = toleranceFor(policy, payment.gateway);
  const money = (minor: number) => formatMoney(minor, payment.currency);
  const installments = installmentsOf(payment);
  const flags: string[] = [];

  // Gateway: only the payment's own gateway; lifecycle of its own direction.
  const lifecycleTypes = payment.direction === "collection" ? COLLECTION_LIFECYCLE : PAYOUT_LIFECYCLE;
  const events = facts.events.filter((event) => event.gateway === payment.gateway).sort(compareEvents);
  if (events.length < facts.events.length) flags.push("event_from_other_gateway");
  const lifecycle = events.filter((event) => lifecycleTypes.has(event.type));
  if (events.some((event) => event.type.startsWith(payment.direction === "collection" ? "payout." : "payment."))) {
    flags.push("event_of_other_direction");
  }
  const latest = lifecycle[lifecycle.length - 1];
  const gatewayFailure = latest && FAILURE_TYPES.has(latest.type) ? latest : undefined;
  const captured = events.find((event) => event.type === "payment.captured");
  const accepted = events.find((event) => ACCEPTANCE_TYPES.has(event.type));
  const refundedMinor = events
    .filter((event) => event.type === "payment.refunded")
    .reduce((sum, event) => sum + (event.amountMinor > 0 ? event.amountMinor : payment.amount_minor), 0);
  const { chargeback, reversed: chargebackReversed } = disputeOutcome(events);
  if (chargebackReversed) flags.push("chargeback_reversed");
  const gatewayAmountMismatch = events.some(
    (event) =>
      AMOUNT_BEARING_SUCCESS.has(event.type) &&
      event.amountMinor > 0 &&
      (event.currency !== payment.currency ||
        (Math.abs(event.amountMinor - payment.amount_minor) > tolerance &&
          !installments.some((part) => Math.abs(part.amountMinor - event.amountMinor) <= tolerance))),
  );
  if (gatewayAmountMismatch) flags.push("gateway_amount_differs");

  // Batches listing the payment. A batch in another currency cannot settle it: money in the wrong
  // currency is a mismatch, never a settlement.
  const foreignBatches = facts.batches.filter((view) => view.batch.currency !== payment.currency);
  if (foreignBatches.length > 0) flags.push("batch_in_other_currency");
  const ownBatches = facts.batches.filter((view) => view.batch.currency === payment.currency);
  const settledBatches = ownBatches
    .filter((view) => view.state === "settled" && view.settledOn !== null)
    .sort((a, b) => a.settledOn!.localeCompare(b.settledOn!) || a.batch.batchId.localeCompare(b.batch.batchId));
  const batchSettledOn = settledBatches[0]?.settledOn ?? null;
  if (settledBatches.length > 1) flags.push("in_several_settled_batches");
  if (ownBatches.some((view) => view.state === "mismatch")) flags.push("batch_mismatch");
  const inBatch = ownBatches.length > 0;
  const batchedAt = ownBatches.reduce<number | null>(
    (first, view) => (first === null || view.batch.occurredAt < first ? view.batch.occurredAt : first),
    null,
  );

  const bank = tallyBank(payment, installments, facts.entries, batchSettledOn, tolerance, policy);
  if (bank.foreignCurrency) flags.push("entry_in_other_currency");
  if (bank.oppositeDirection) flags.push("entry_in_opposite_direction");
  if (bank.duplicates.length > 0) flags.push("duplicate_bank_entries");
  if (refundedMinor > 0 && refundedMinor < payment.amount_minor - tolerance) flags.push("partially_refunded");

  const settled = bank.settledMinor;
  const full = settled >= payment.amount_minor - tolerance;
  const overpaid = settled > payment.amount_minor + tolerance;
  const prefixes = installments.map((_, k) =>
    installments.slice(0, k + 1).reduce((sum, part) => sum + part.amountMinor, 0),
  );
  const offBoundary =
    settled > tolerance && !full && !prefixes.some((prefix) => Math.abs(settled - prefix) <= tolerance);
  const unsettled = installments.filter((_, k) => bank.prefixReachedOn[k] === null);
  const overdue = unsettled.filter((part) => part.dueAt <= now);
  const settledLate = installments.some(
    (part, k) => bank.prefixReachedOn[k] !== null && bank.prefixReachedOn[k]! > utcDate(part.dueAt),
  );
  // The gateway's latest word being a failure, even after the bank showed the money, is the payout
  // failing late: it is coming back (CONTRACT: "reported paid that later fails … moves to failed").
  const failedAfterSettlement = gatewayFailure !== undefined && bank.settledOn !== null;
  const lastHold = [...lifecycle]
    .reverse()
    .find((event) => event.type === "payout.held" || event.type === "payout.released");
  const payoutHeld = payment.direction === "payout" && latest?.type === "payout.held";
  const captureHeld =
    payment.direction === "collection" &&
    captured !== undefined &&
    !inBatch &&
    settled <= 0 &&
    !gatewayFailure &&
    now - captured.occurredAt >= policy.holdThresholdMs;

  let status: PaymentStatus;
  let reason: string;
  let failureCode: string | null = null;
  let failureMessage: string | null = null;
  if (effective.cancelled) {
    status = "cancelled";
    reason = "cancelled upstream";
  } else if (payment.direction === "collection" && chargeback) {
    status = "charged_back";
    reason = `charged back at ${chargeback.gateway}${chargeback.failureCode ? ` (${chargeback.failureCode})` : ""}`;
  } else if (
    payment.direction === "collection" &&
    refundedMinor >= payment.amount_minor - tolerance &&
    refundedMinor > 0
  ) {
    status = "refunded";
    reason = `refunded at ${payment.gateway}`;
  } else if (bank.returnedMinor > 0 && !full) {
    status = "failed";
    failureCode = bank.lastReturn?.returnReason ?? null;
    reason = `returned by the bank${failureCode ? ` (${failureCode})` : ""}`;
  } else if (full && !overpaid && !failedAfterSettlement && !bank.foreignCurrency) {
    status = "settled";
    reason = settledLate ? `settled late on ${bank.settledOn}` : `settled on ${bank.settledOn}`;
  } else if (overpaid || offBoundary || bank.foreignCurrency || gatewayAmountMismatch || foreignBatches.length > 0) {
    status = "mismatch";
    reason = overpaid
      ? `bank shows ${money(settled)}, more than the expected ${money(payment.amount_minor)}`
      : bank.foreignCurrency
        ? "bank entry in another currency"
        : foreignBatches.length > 0
          ? `listed in settlement batch ${foreignBatches[0]!.batch.batchId} of currency ${foreignBatches[0]!.batch.currency}`
          : offBoundary
            ? `bank shows ${money(settled)} of the expected ${money(payment.amount_minor)}`
            : "gateway amount differs from the expected amount";
  } else if (gatewayFailure) {
    status = "failed";
    failureCode = gatewayFailure.failureCode ?? (gatewayFailure.type === "payout.canceled" ? "payout_canceled" : null);
    failureMessage = gatewayFailure.failureMessage;
    reason = `${gatewayFailure.type}${failureCode ? ` ${failureCode}` : ""}${failureMessage ? `: ${failureMessage}` : ""}`;
  } else if (payoutHeld) {
    status = "held";
    reason = `held by ${payment.gateway}${latest?.holdReason ? ` (${latest.holdReason})` : ""}`;
  } else if (captureHeld) {
    status = "held";
    reason = `captured ${describeDue(captured!.occurredAt)} and in no settlement batch`;
  } else if (overdue.length > 0) {
    status = "delayed";
    reason = `due ${describeDue(overdue[0]!.dueAt)} passed without settlement`;
  } else if (settled > 0) {
    status = "partially_settled";
    reason = `${money(settled)} of ${money(payment.amount_minor)} settled`;
  } else if (latest || inBatch || bank.pendingSeen) {
    status = "in_flight";
    reason = inBatch
      ? "in a settlement batch"
      : latest
        ? `${latest.type} at ${payment.gateway}`
        : "pending at the bank";
  } else {
    status = "pending";
    reason = "nothing from gateway or bank yet";
  }

  const writeOff = writeOffInForce(facts.decisions);
  if (writeOff && !BEYOND_WRITE_OFF.has(status)) {
    status = "written_off";
    const when = new Date(writeOff.decidedAt).toISOString().replace(".000Z", "Z");
    reason = `written off by ${writeOff.actor} at ${when}${writeOff.note ? `: ${writeOff.note}` : ""}`;
    failureCode = null;
    failureMessage = null;
  } else if (writeOff) {
    // Late truth wins over the write-off; said on the payment so the change is read, not just seen.
    flags.push("write_off_overtaken");
  }

  const classification = status === "failed" ? classifyFailure(failureCode) : null;
  const holdReason = status === "held" ? (lastHold?.type === "payout.held" ? lastHold.holdReason : null) : null;

  let nextDeadline: number | null = null;
  if (!TERMINAL.has(status)) {
    const times = unsettled.map((part) => part.dueAt);
    if (captured && !inBatch && settled <= 0) times.push(captured.occurredAt + policy.holdThresholdMs);
    for (const time of times) if (time > now && (nextDeadline === null || time < nextDeadline)) nextDeadline = time;
  }

  const atRisk =
    status === "mismatch"
      ? Math.abs(payment.amount_minor - settled)
      : Math.max(0, payment.amount_minor - Math.max(0, settled));
  // A tentative match the bank has not booked within PENDING_GRACE (CONTRACT §7).
  const unconfirmedAt =
    bank.pendingSince === null ? null : bank.pendingSince + (policy.pendingGraceMs ?? 3 * 86_400_000);
  const exception =
    status === "failed" || status === "held" || status === "delayed" || status === "mismatch"
      ? { kind: status, amountMinor: atRisk }
      : status === "in_flight" && settled <= 0 && unconfirmedAt !== null && now >= unconfirmedAt
        ? { kind: "unconfirmed" as const, amountMinor: atRisk }
        : null;
  if (status === "in_flight" && settled <= 0 && unconfirmedAt !== null && unconfirmedAt > now) {
    if (nextDeadline === null || unconfirmedAt < nextDeadline) nextDeadline = unconfirmedAt;
  }

  const acceptedAt = accepted?.occurredAt ?? batchedAt ?? null;
  return {
    paymentId: facts.paymentId,
    payment,
    status,
    settledAmountMinor: settled + (bank.fx?.differenceMinor ?? 0),
    fx: bank.fx,
    failureCategory: classification?.category ?? null,
    failureCode,
    failureCodeKnown: classification?.known ?? true,
    failureMessage,
    retryAdvice: classification?.retryAdvice ?? null,
    holdReason,
    settledLate: status === "settled" && settledLate,
    settledOn: bank.settledOn,
    acceptedAt,
    overdueSince: overdue[0]?.dueAt ?? null,
    flags,
    reason,
    nextDeadline,
    exception,
    duplicateEntries: bank.duplicates,
  };
}
