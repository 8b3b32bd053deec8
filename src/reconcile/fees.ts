import type { BatchFact, Policy } from "./types.js";

/**
 * CONTRACT §8 "Fees": what a gateway's contract says a settlement batch should cost. A schedule entry is per
 * payment: `percent` of its amount plus `fixedMinor`. The batch's expected fee is that summed over the payments it
 * lists — the percent taken of the batch's gross (the sum of its payments' amounts as the gateway settled them,
 * refunds and chargebacks netted; never below zero) and the fixed fee once per listed payment, rounded once to
 * a minor unit. The batch alone decides it (not the expected payments, which may arrive later or never), so a
 * batch's expected fee never changes after it is stored.
 */
export interface FeeRule {
  gateway: string;
  /** ISO 4217 code, or `*` for the gateway's other currencies. */
  currency: string;
  /** Percent of the amount in parts per million (1.4% = 14,000), an integer so the arithmetic stays exact. */
  percentPpm: number;
  fixedMinor: number;
}

/** The schedule's rule for a batch: its gateway and currency, else its gateway's `*`. */
export function feeRuleFor(schedule: readonly FeeRule[], gateway: string, currency: string): FeeRule | undefined {
  return (
    schedule.find((rule) => rule.gateway === gateway && rule.currency === currency) ??
    schedule.find((rule) => rule.gateway === gateway && rule.currency === "*")
  );
}

/** The batch's expected fee in minor units, or null when the schedule has no rule for its gateway. */
export function expectedBatchFee(batch: BatchFact, policy: Policy): number | null {
  const rule = feeRuleFor(policy.feeSchedule ?? [], batch.gateway, batch.currency);
  if (!rule) return null;
  const percent = Math.round((Math.max(0, batch.grossMinor) * rule.percentPpm) / 1_000_000);
  return percent + rule.fixedMinor * batch.referenceKeys.length;
}

/** How far the charged fee may be from the expected one: FEE_TOLERANCE of the expected fee, at least 1 minor unit. */
export function feeToleranceMinor(expectedMinor: number, policy: Policy): number {
  const ppm = policy.feeTolerancePpm ?? DEFAULT_FEE_TOLERANCE_PPM;
  return Math.max(1, Math.floor((Math.abs(expectedMinor) * ppm) / 1_000_000));
}

export const DEFAULT_FEE_TOLERANCE_PPM = 20_000;

export interface FeeVariance {
  expectedMinor: number;
  chargedMinor: number;
  /** charged − expected. */
  differenceMinor: number;
}

/** The batch's fee variance beyond the tolerance, or null (no rule, or within it). */
export function feeVariance(batch: BatchFact, policy: Policy): FeeVariance | null {
  const expectedMinor = expectedBatchFee(batch, policy);
  if (expectedMinor === null) return null;
  const differenceMinor = batch.feeMinor - expectedMinor;
  if (Math.abs(differenceMinor) <= feeToleranceMinor(expectedMinor, policy)) return null;
  return { expectedMinor, chargedMinor: batch.feeMinor, differenceMinor };
}
