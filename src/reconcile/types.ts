import type { FeeRule } from "./fees.js";
import type { PriorityScale, PriorityTier } from "./priority.js";
import type { ExpectedPayment, PaymentEvent } from "../messages/schemas.js";

/**
 * The facts the pure core reasons about, as loaded from storage (or built by
 * tests). Times are epoch milliseconds, dates `YYYY-MM-DD` strings; nothing
 * here reads a clock.
 */

export type PaymentStatus =
  | "pending"
  | "in_flight"
  | "settled"
  | "partially_settled"
  | "failed"
  | "held"
  | "delayed"
  | "mismatch"
  | "refunded"
  | "charged_back"
  | "cancelled"
  // An operator wrote the unsettled amount off (CONTRACT §7): final, out of funds at risk; money still settles it.
  | "written_off";

export const PAYMENT_STATUSES: readonly PaymentStatus[] = [
  "pending",
  "in_flight",
  "settled",
  "partially_settled",
  "failed",
  "held",
  "delayed",
  "mismatch",
  "refunded",
  "charged_back",
  "cancelled",
  "written_off",
];

/** Every exception kind, in the order people read them (status page, API enum, gauges). */
export const EXCEPTION_KINDS = [
  "failed",
  "held",
  "delayed",
  "mismatch",
  "unmatched",
  "ambiguous",
  "duplicate",
  // A payment matched only by a pending bank line past PENDING_GRACE (CONTRACT §7).
  "unconfirmed",
  // Same key, different content (CONTRACT §8); both contents kept in input_conflicts.
  "conflict",
  "statement_imbalance",
  "statement_gap",
  // A settlement batch whose fee differs from FEE_SCHEDULE beyond FEE_TOLERANCE (CONTRACT §8).
  "fee_variance",
] as const;
export type ExceptionKind = (typeof EXCEPTION_KINDS)[number];

/** One stored version of an expected payment: the message, or a cancellation. */
export interface ExpectedVersion {
  /** Arrival order; decides between amendments that carry no `version`. */
  seq: number;
  version: number | null;
  cancelled: boolean;
  payment: ExpectedPayment | null;
  receivedAt: number;
}

export interface GatewayFact {
  seq: number;
  gateway: string;
  eventId: string;
  type: PaymentEvent["type"];
  referenceKey: string;
  amountMinor: number;
  currency: string;
  occurredAt: number;
  failureCode: string | null;
  failureMessage: string | null;
  holdReason: string | null;
  receivedAt: number;
}

export interface BatchFact {
  gateway: string;
  batchId: string;
  /** Upper-cased batch id, as found in remittance tokens. */
  batchKey: string;
  eventId: string;
  grossMinor: number;
  feeMinor: number;
  /** A balance brought from earlier batches (signed, e.g. Adyen's balance transfer; CONTRACT §8). */
  carriedForwardMinor: number;
  /** gross − fee + carried forward; negative when the bank is debited. */
  netMinor: number;
  currency: string;
  expectedArrival: string;
  occurredAt: number;
  referenceKeys: string[];
  receivedAt: number;
}

export interface BankFact {
  seq: number;
  bank: string;
  entryId: string;
  direction: "credit" | "debit";
  amountMinor: number;
  currency: string;
  bookingDate: string;
  valueDate: string;
  status: "booked" | "pending" | "returned";
  endToEndId: string | null;
  /** Upper-cased tokens of end_to_end_id and remittance_info. */
  tokens: string[];
  counterpartyName: string | null;
  returnReason: string | null;
  receivedAt: number;
  /** CONTRACT §8 "FX": what the payer instructed, and the rate the bank applied (absent: not said). */
  instructedAmountMinor?: number | null;
  instructedCurrency?: string | null;
  fxRate?: number | null;
}

/** `manual`: an operator's match (ManualDecision), which wins over every rule. */
export type MatchMethod = "end_to_end_id" | "remittance" | "amount" | "manual";

/**
 * An operator's decision on a bank entry (CONTRACT §7): a fact like the others, stored with its arrival
 * number. `match` ties the entry to a payment whatever the rules say; `unmatch` removes the entry's match
 * to `target` and forbids the rules that pairing from then on. Later decisions on an entry win over earlier ones.
 */
export interface ManualDecision {
  seq: number;
  bank: string;
  entryId: string;
  action: "match" | "unmatch";
  /** `payment:ID` (a match always names a payment) or `batch:GATEWAY/ID`. */
  target: string;
  actor: string;
  note: string | null;
  decidedAt: number;
}

/**
 * An operator's decision on an expected payment (CONTRACT §7), a fact with its arrival number: `write_off`
 * makes an unsettled payment `written_off`; `reopen` takes that back. The later decision wins.
 */
export interface PaymentDecision {
  seq: number;
  paymentId: string;
  action: "write_off" | "reopen";
  actor: string;
  note: string | null;
  decidedAt: number;
}

/**
 * The knobs of reconciliation, as configured (src/config.ts). Priority tiers
 * are optional here so tests can omit them (the defaults then apply).
 */
export type Policy = Omit<ReconcilePolicy, "priorityTiers" | "priorityScale"> &
  Partial<Pick<ReconcilePolicy, "priorityTiers" | "priorityScale">>;

export function toleranceFor(policy: Policy, gateway: string): number {
  return policy.amountToleranceByGateway[gateway] ?? policy.amountToleranceMinor;
}

const DAY_MS = 86_400_000;

/** The UTC calendar date of an instant. */
export function utcDate(ms: number): string {
  return new Date(ms).toISOString().slice(0, 10);
}

export function dateToMs(date: string): number {
  return Date.parse(`${date}T00:00:00Z`);
}

/** Whole days between two dates, absolute. */
export function daysApart(a: string, b: string): number {
  return Math.abs(dateToMs(a) - dateToMs(b)) / DAY_MS;
}

/** Deterministic order of bank entries: by value date, booking date, then identity. */
export function compareEntries(a: BankFact, b: BankFact): number {
  return (
    a.valueDate.localeCompare(b.valueDate) ||
    a.bookingDate.localeCompare(b.bookingDate) ||
    a.bank.localeCompare(b.bank) ||
    a.entryId.localeCompare(b.entryId)
  );
}

/** Deterministic order of gateway events: by occurrence, then id (never by arrival). */
export function compareEvents(a: GatewayFact, b: GatewayFact): number {
  return a.occurredAt - b.occurredAt || a.gateway.localeCompare(b.gateway) || a.eventId.localeCompare(b.eventId);
}

/** The knobs of reconciliation; the pure core receives exactly this. */
export interface ReconcilePolicy {
  /** Priority and resolution deadline of exceptions, by amount and age. */
  priorityTiers: PriorityTier[];
  /** How amounts of different currencies compare against the tiers' amounts. */
  priorityScale: PriorityScale;
  holdThresholdMs: number;
  matchWindowMs: number;
  unmatchedGraceMs: number;
  /** A tentative match (pending bank line) unconfirmed this long is an `unconfirmed` exception (default 3d). */
  pendingGraceMs?: number;
  amountToleranceMinor: number;
  amountToleranceByGateway: Record<string, number>;
  /** FEE_SCHEDULE (CONTRACT §8): absent or empty, no batch has an expected fee. */
  feeSchedule?: FeeRule[];
  /** FEE_TOLERANCE in parts per million of the expected fee (default 2%). */
  feeTolerancePpm?: number;
  /** FX_TOLERANCE in parts per million of the amount to settle (default 1%); fx.ts. */
  fxTolerancePpm?: number;
  /** FX_REFERENCE_RATES: "EURUSD" → units of USD per one EUR (inverse pairs are derived where used). */
  fxReferenceRates?: Record<string, number>;
}
