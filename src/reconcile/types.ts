import type { FeeRule } from "./fees.js";
import type { PriorityTier } from "./priority.js";
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
  | "cancelled";

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
}

export type MatchMethod = "end_to_end_id" | "remittance" | "amount";

/**
 * The knobs of reconciliation, as configured (src/config.ts). Priority tiers
 * are optional here so tests can omit them (the defaults then apply).
 */
export type Policy = Omit<ReconcilePolicy, "priorityTiers"> & Partial<Pick<ReconcilePolicy, "priorityTiers">>;

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
  holdThresholdMs: number;
  matchWindowMs: number;
  unmatchedGraceMs: number;
  amountToleranceMinor: number;
  amountToleranceByGateway: Record<string, number>;
  /** FEE_SCHEDULE (CONTRACT §8): absent or empty, no batch has an expected fee. */
  feeSchedule?: FeeRule[];
  /** FEE_TOLERANCE in parts per million of the expected fee (default 2%). */
  feeTolerancePpm?: number;
}
