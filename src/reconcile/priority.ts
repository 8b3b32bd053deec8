import { currencyExponent } from "../messages/currencies.js";

/**
 * Priority and resolution deadline of an exception from its amount and age:
 * large or old money first. Tiers are checked in order; the first that fits
 * wins. Amounts are in major units of the reference currency (PriorityScale):
 * ¥249,930 (about €1,500) is not p1 merely because the yen has small units.
 */
export interface PriorityTier {
  priority: "p1" | "p2" | "p3";
  minAmountMajor: number;
  minAgeMs: number;
  resolveWithinMs: number;
}

const HOUR = 3_600_000;
const DAY = 24 * HOUR;

export const DEFAULT_PRIORITY_TIERS: PriorityTier[] = [
  { priority: "p1", minAmountMajor: 100_000, minAgeMs: 5 * DAY, resolveWithinMs: 24 * HOUR },
  { priority: "p2", minAmountMajor: 10_000, minAgeMs: 2 * DAY, resolveWithinMs: 3 * DAY },
  { priority: "p3", minAmountMajor: 0, minAgeMs: 0, resolveWithinMs: 7 * DAY },
];

/**
 * How amounts of different currencies compare for priority: each converted into the reference currency with
 * a configured rate (PRIORITY_REFERENCE_CURRENCY, PRIORITY_RATES). Rates only rank work; they never touch an
 * amount, a match or a report, so approximate ones are fine. A currency without a rate counts one major unit
 * as one unit of the reference currency (how every currency counted before rates existed): it may rank too
 * high, which an operator sees, rather than silently too low for the common small-unit currencies listed.
 */
export interface PriorityScale {
  referenceCurrency: string;
  /** Units of the reference currency per major unit of the currency. */
  ratesToReference: Record<string, number>;
}

/**
 * Approximate euro value of one major unit (late 2026 orders of magnitude). Covers the currencies payrecon
 * has seen and every common one whose unit is far from the euro's (JPY, KRW, IDR, HUF… and KWD, BHD, OMR).
 */
export const DEFAULT_RATES_TO_EUR: Readonly<Record<string, number>> = {
  EUR: 1,
  USD: 0.92,
  GBP: 1.17,
  CHF: 1.05,
  JPY: 0.0061,
  CAD: 0.68,
  AUD: 0.61,
  NZD: 0.56,
  SEK: 0.088,
  NOK: 0.087,
  DKK: 0.134,
  ISK: 0.0066,
  PLN: 0.23,
  CZK: 0.04,
  HUF: 0.0025,
  RON: 0.2,
  BGN: 0.51,
  TRY: 0.027,
  ILS: 0.25,
  AED: 0.25,
  SAR: 0.245,
  QAR: 0.25,
  KWD: 3,
  BHD: 2.45,
  OMR: 2.4,
  JOD: 1.3,
  TND: 0.3,
  CNY: 0.13,
  HKD: 0.118,
  TWD: 0.029,
  SGD: 0.69,
  MYR: 0.2,
  THB: 0.026,
  PHP: 0.016,
  IDR: 0.000058,
  VND: 0.000036,
  KRW: 0.00068,
  INR: 0.011,
  BRL: 0.17,
  MXN: 0.05,
  CLP: 0.00098,
  COP: 0.00023,
  ARS: 0.001,
  PEN: 0.25,
  ZAR: 0.05,
  NGN: 0.0006,
  KES: 0.0071,
  EGP: 0.019,
};

export const DEFAULT_PRIORITY_SCALE: PriorityScale = {
  referenceCurrency: "EUR",
  ratesToReference: DEFAULT_RATES_TO_EUR,
};

/**
 * The scale for a reference currency: the default euro rates rebased onto it (it must have one, or be given
 * in `overrides`), then `overrides` (units of the reference per major unit) on top. Undefined when the
 * reference currency has no rate to rebase with.
 */
export function priorityScale(
  referenceCurrency: string,
  overrides: Record<string, number> = {},
): PriorityScale | undefined {
  const referenceInEur = DEFAULT_RATES_TO_EUR[referenceCurrency];
  const rebased: Record<string, number> = {};
  if (referenceInEur !== undefined) {
    for (const [currency, rate] of Object.entries(DEFAULT_RATES_TO_EUR)) rebased[currency] = rate / referenceInEur;
  } else if (Object.keys(overrides).length === 0) {
    return undefined;
  }
  return { referenceCurrency, ratesToReference: { ...rebased, ...overrides, [referenceCurrency]: 1 } };
}

/** The amount in major units of the reference currency (unknown currency: its own major units). */
export function referenceMajor(amountMinor: number, currency: string, scale: PriorityScale = DEFAULT_PRIORITY_SCALE) {
  const major = amountMinor / 10 ** currencyExponent(currency);
  return major * (scale.ratesToReference[currency] ?? 1);
}

/** Largest in the reference currency first: the order in which mixed-currency money deserves attention. */
export function compareByReferenceAmount(
  a: { amountMinor: number; currency: string },
  b: { amountMinor: number; currency: string },
  scale: PriorityScale = DEFAULT_PRIORITY_SCALE,
): number {
  return referenceMajor(b.amountMinor, b.currency, scale) - referenceMajor(a.amountMinor, a.currency, scale);
}

export function prioritize(
  amountMinor: number,
  currency: string,
  ageMs: number,
  tiers: PriorityTier[] = DEFAULT_PRIORITY_TIERS,
  scale: PriorityScale = DEFAULT_PRIORITY_SCALE,
): PriorityTier {
  const major = referenceMajor(amountMinor, currency, scale);
  const tier = tiers.find((candidate) => major >= candidate.minAmountMajor || ageMs >= candidate.minAgeMs);
  return tier ?? tiers[tiers.length - 1]!;
}
