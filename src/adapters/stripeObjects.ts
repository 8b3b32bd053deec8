import { z } from "zod";
import { GatewayPayloadError, isoCurrency, text, toIsoMinor } from "./gatewayEvent.js";

/**
 * The parts of Stripe API objects the adapter reads, checked at the boundary.
 * Unknown fields are allowed (Stripe adds fields in every API version); an id may
 * arrive as a string or, when the caller asked Stripe to expand it, as the object.
 */

const unixSeconds = z.number().int();
const minor = z.number().int();
const metadata = z.record(z.string(), z.unknown()).nullish();
const expandableId = z.union([z.string(), z.looseObject({ id: z.string() })]);

/** What the reference rule needs of any Stripe object. */
export interface StripeReferenceable {
  id: string;
  metadata?: Record<string, unknown> | null | undefined;
  payment_intent?: string | { id: string } | null | undefined;
}

/** Just what the reference rule reads (an expanded source may be trimmed to this). */
export const stripeReferenceableSchema = z.looseObject({
  id: z.string().min(1),
  metadata,
  payment_intent: expandableId.nullish(),
});

export const stripeChargeSchema = z.looseObject({
  id: z.string().min(1),
  object: z.literal("charge"),
  amount: minor,
  amount_captured: minor.nullish(),
  amount_refunded: minor.nullish(),
  captured: z.boolean().nullish(),
  currency: z.string(),
  metadata,
  payment_intent: expandableId.nullish(),
  failure_code: z.string().nullish(),
  failure_message: z.string().nullish(),
  outcome: z.looseObject({ reason: z.string().nullish(), type: z.string().nullish() }).nullish(),
  status: z.string().nullish(),
});
export type StripeCharge = z.output<typeof stripeChargeSchema>;

export const stripePaymentIntentSchema = z.looseObject({
  id: z.string().min(1),
  object: z.literal("payment_intent"),
  amount: minor,
  amount_received: minor.nullish(),
  amount_capturable: minor.nullish(),
  currency: z.string(),
  metadata,
  latest_charge: expandableId.nullish(),
  last_payment_error: z
    .looseObject({ code: z.string().nullish(), decline_code: z.string().nullish(), message: z.string().nullish() })
    .nullish(),
});
export type StripePaymentIntent = z.output<typeof stripePaymentIntentSchema>;

export const stripeDisputeSchema = z.looseObject({
  id: z.string().min(1),
  object: z.literal("dispute"),
  amount: minor,
  currency: z.string(),
  charge: z.union([z.string(), stripeChargeSchema]),
  payment_intent: expandableId.nullish(),
  metadata,
  reason: z.string().nullish(),
  status: z.string(),
  payment_method_details: z
    .looseObject({ card: z.looseObject({ network_reason_code: z.string().nullish() }).nullish() })
    .nullish(),
});
export type StripeDispute = z.output<typeof stripeDisputeSchema>;

export const stripePayoutSchema = z.looseObject({
  id: z.string().min(1),
  object: z.literal("payout").optional(),
  amount: minor,
  currency: z.string(),
  arrival_date: unixSeconds,
  automatic: z.boolean(),
  created: unixSeconds,
  metadata,
  balance_transaction: expandableId.nullish(),
  destination: expandableId.nullish(),
  failure_code: z.string().nullish(),
  failure_message: z.string().nullish(),
  status: z.string(),
});
export type StripePayout = z.input<typeof stripePayoutSchema>;

export const stripeBalanceTransactionSchema = z.looseObject({
  id: z.string().min(1),
  object: z.literal("balance_transaction").optional(),
  amount: minor,
  fee: minor,
  net: minor,
  currency: z.string(),
  type: z.string(),
  source: z.union([z.string(), z.looseObject({ id: z.string() })]).nullish(),
  reporting_category: z.string().nullish(),
});
export type StripeBalanceTransaction = z.input<typeof stripeBalanceTransactionSchema>;

/** Parses one Stripe object or throws naming what is wrong with it. */
export function parseStripe<T extends z.ZodType>(schema: T, value: unknown, what: string): z.output<T> {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  const issues = result.error.issues.map((issue) => `${issue.path.join(".") || "(object)"}: ${issue.message}`);
  throw new GatewayPayloadError(`stripe ${what} is malformed: ${issues.join("; ")}`);
}

export function stripeId(value: string | { id: string } | null | undefined): string | undefined {
  if (value === null || value === undefined) return undefined;
  return typeof value === "string" ? value : value.id;
}

/**
 * The CONTRACT `reference` of a Stripe object, the one place this rule lives:
 * `metadata.reference` (our documented convention: upstream sets it when creating the
 * PaymentIntent / charge / payout), else `metadata.order_id`, else the PaymentIntent id
 * (what a charge and its PaymentIntent share), else the object's own id.
 */
export function stripeReference(object: StripeReferenceable): string {
  return (
    text(object.metadata?.reference) ?? text(object.metadata?.order_id) ?? stripeId(object.payment_intent) ?? object.id
  );
}

/** A dispute's reference is its payment's: the expanded charge's, else what the dispute carries. */
export function stripeDisputeReference(dispute: StripeDispute): string {
  if (typeof dispute.charge !== "string") return stripeReference(dispute.charge);
  return stripeReference({ id: dispute.charge, metadata: dispute.metadata, payment_intent: dispute.payment_intent });
}

/**
 * Stripe's minor units differ from ISO 4217 for a few currencies
 * (docs.stripe.com/currencies#zero-decimal): MGA is zero-decimal at Stripe, and ISK is
 * sent two-decimal (amounts divisible by 100) although ISO gives it no decimals.
 */
const STRIPE_EXPONENTS: ReadonlyMap<string, number> = new Map([
  ["ISK", 2],
  ["MGA", 0],
]);

/** A Stripe amount and currency in CONTRACT terms. */
export function stripeMoney(amount: number, currency: string): { amount_minor: number; currency: string } {
  const code = isoCurrency(currency);
  return { amount_minor: toIsoMinor(amount, code, STRIPE_EXPONENTS), currency: code };
}
