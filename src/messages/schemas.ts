import { z } from "zod";
import { isCurrency } from "./currencies.js";

/**
 * The three input messages of CONTRACT §1, exactly. Every consumer and the
 * HTTP ingest decode through these; a failure's message becomes the
 * dead-letter reason, so each check says precisely what is wrong.
 */

// Hours 00-23, minutes and seconds 00-59: Date.parse alone would read 24:00:00 as the next midnight.
const RFC3339 = /^\d{4}-\d{2}-\d{2}[Tt ]([01]\d|2[0-3]):[0-5]\d:[0-5]\d(\.\d{1,9})?([Zz]|[+-]([01]\d|2[0-3]):[0-5]\d)$/;
const DATE = /^(\d{4})-(\d{2})-(\d{2})$/;

/** A calendar date that exists (no 2026-02-30). */
function isRealDate(text: string): boolean {
  const match = DATE.exec(text);
  if (!match) return false;
  const [year, month, day] = [Number(match[1]), Number(match[2]), Number(match[3])];
  const date = new Date(Date.UTC(year, month - 1, day));
  return date.getUTCFullYear() === year && date.getUTCMonth() === month - 1 && date.getUTCDate() === day;
}

export const timestamp = z
  .string()
  .refine((text) => RFC3339.test(text) && isRealDate(text.slice(0, 10)) && !Number.isNaN(Date.parse(text)), {
    message: "must be an RFC 3339 time with offset, e.g. 2026-11-20T10:00:00Z",
  });

export const calendarDate = z.string().refine(isRealDate, { message: "must be a date YYYY-MM-DD" });

/**
 * The largest amount one message may carry, 2^40 − 1 minor units (about 11 billion EUR, 680,000 USD worth
 * of IDR): totals are JS numbers, exact only below 2^53, so any 8,192 amounts at this bound still sum
 * exactly — a report, the status page and the gauges add up far fewer of them. At 2^53 − 1, one message
 * made every sum including it throw (issue 14), which no amount a gateway or bank moves needs.
 */
export const MAX_AMOUNT_MINOR = 2 ** 40 - 1;

/** Integer minor units; JSON numbers only (strings, floats, NaN, exponents beyond 2^53 are rejected). */
export const amountMinor = z
  .number({ message: "must be an integer number of minor units" })
  .refine(Number.isSafeInteger, { message: "must be a safe integer number of minor units (no decimals)" })
  .refine((n) => Math.abs(n) <= MAX_AMOUNT_MINOR, {
    message: `must be at most ${MAX_AMOUNT_MINOR} minor units (2^40 − 1), so that every total stays exact`,
  });
export const positiveAmount = amountMinor.refine((n) => n > 0, { message: "must be greater than zero" });
export const nonNegativeAmount = amountMinor.refine((n) => n >= 0, { message: "must not be negative" });

export const currency = z.string().refine(isCurrency, { message: "must be an ISO 4217 currency code, e.g. EUR" });

/**
 * Characters an identifier never needs and that make two different ids look alike or reorder their text:
 * controls (C0, DEL, C1), zero-width ones (ZWSP, ZWNJ, ZWJ, word joiner, BOM, soft hyphen) and bidi
 * marks, embeddings, overrides and isolates (LRM, RLM, ALM, U+202A–202E, U+2066–2069).
 */
const HIDDEN_CHARACTER =
  /[\u0000-\u001f\u007f-\u009f\u00ad\u061c\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u2069\ufeff]/;

/** Identifiers (ids, references, entry and event ids): printable, bounded, never empty. */
const identifier = z
  .string()
  .min(1, { message: "must not be empty" })
  .max(200, { message: "must be at most 200 characters" })
  .refine((text) => !HIDDEN_CHARACTER.test(text), {
    message: "must not contain control, zero-width or bidirectional-override characters",
  });
const label = z
  .string()
  .min(1)
  .max(64)
  .regex(/^[A-Za-z0-9_.-]+$/, { message: "must be letters, digits, _ . -" });
const freeText = z.string().max(2000);
const nullableText = freeText.nullish().transform((value) => value ?? null);
const metadata = z.record(z.string().max(200), z.unknown()).optional();

export const installmentSchema = z.object({ amount_minor: positiveAmount, due_at: timestamp });

export const expectedPaymentSchema = z
  .object({
    id: identifier,
    direction: z.enum(["collection", "payout"]),
    amount_minor: positiveAmount,
    currency,
    gateway: label,
    reference: identifier,
    counterparty: identifier.nullish().transform((value) => value ?? null),
    created_at: timestamp,
    due_at: timestamp,
    installments: z.array(installmentSchema).min(1).max(1000).optional(),
    metadata,
    /** Added to the contract: orders amendments when present (higher wins). */
    version: z.number().int().nonnegative().optional(),
    cancelled: z.literal(false).optional(),
  })
  .superRefine((payment, ctx) => {
    if (payment.installments) {
      const sum = payment.installments.reduce((total, part) => total + part.amount_minor, 0);
      if (sum !== payment.amount_minor) {
        ctx.addIssue({
          code: "custom",
          path: ["installments"],
          message: `installment amounts sum to ${sum}, not amount_minor ${payment.amount_minor}`,
        });
      }
    }
    if (Date.parse(payment.due_at) < Date.parse(payment.created_at)) {
      ctx.addIssue({ code: "custom", path: ["due_at"], message: "must not be before created_at" });
    }
  });

export const cancellationSchema = z.object({
  id: identifier,
  cancelled: z.literal(true),
  version: z.number().int().nonnegative().optional(),
  cancelled_at: timestamp.optional(),
  reason: freeText.optional(),
});

// Chosen by `cancelled` (true, or false/absent), so a rejection names the failing field of the
// message it is, not a bare "Invalid input" from a plain union where both branches failed.
export const expectedMessageSchema = z.discriminatedUnion("cancelled", [cancellationSchema, expectedPaymentSchema]);

export const PAYMENT_EVENT_TYPES = [
  "payment.authorized",
  "payment.captured",
  "payment.failed",
  "payment.refunded",
  "payment.chargeback",
  // A dispute won (CONTRACT §8): the chargeback is undone.
  "payment.chargeback_reversed",
  "payout.submitted",
  "payout.paid",
  "payout.failed",
  "payout.held",
  "payout.released",
  "payout.canceled",
] as const;
export const GATEWAY_EVENT_TYPES = [...PAYMENT_EVENT_TYPES, "settlement.batch"] as const;
export type GatewayEventType = (typeof GATEWAY_EVENT_TYPES)[number];

const gatewayEventBase = {
  event_id: identifier,
  gateway: label,
  occurred_at: timestamp,
  currency,
  metadata,
};

const paymentEventSchema = z.object({
  ...gatewayEventBase,
  type: z.enum(PAYMENT_EVENT_TYPES),
  reference: identifier,
  gateway_payment_id: identifier.nullish().transform((value) => value ?? null),
  amount_minor: nonNegativeAmount,
  failure_code: z
    .string()
    .max(100)
    .nullish()
    .transform((value) => value ?? null),
  failure_message: nullableText,
  hold_reason: z
    .string()
    .max(100)
    .nullish()
    .transform((value) => value ?? null),
});

const settlementBatchSchema = z
  .object({
    ...gatewayEventBase,
    type: z.literal("settlement.batch"),
    batch_id: identifier,
    // Signed (CONTRACT §8): refunds and chargebacks can outweigh the charges of a batch, a fee can be a
    // rebate, and a balance carried in from earlier batches can make the net negative (a bank debit).
    gross_minor: amountMinor,
    fee_minor: amountMinor,
    carried_forward_minor: amountMinor.optional(),
    amount_minor: amountMinor,
    expected_arrival: calendarDate,
    // May be empty: a batch of refunds, chargebacks or fees alone settles no expected payment.
    references: z.array(identifier).max(10_000),
  })
  .superRefine((batch, ctx) => {
    const carried = batch.carried_forward_minor ?? 0;
    if (batch.gross_minor - batch.fee_minor + carried !== batch.amount_minor) {
      ctx.addIssue({
        code: "custom",
        path: ["amount_minor"],
        message:
          `net ${batch.amount_minor} is not gross ${batch.gross_minor} − fee ${batch.fee_minor}` +
          (carried === 0 ? "" : ` + carried forward ${carried}`),
      });
    }
    if (new Set(batch.references).size !== batch.references.length) {
      ctx.addIssue({ code: "custom", path: ["references"], message: "lists a reference twice" });
    }
  });

export const gatewayEventSchema = z.discriminatedUnion("type", [settlementBatchSchema, paymentEventSchema]);

export const RETURN_REASON = /^[A-Z0-9]{2,8}$/;

/**
 * `returned` is usually a payout that came back (a credit whose end_to_end_id is the
 * payout reference); a debit with status `returned` is a collection the payer's bank
 * took back (e.g. a SEPA direct debit return MD06).
 */
export const bankEntrySchema = z.object({
  entry_id: identifier,
  bank: label,
  account: z.string().min(1).max(64),
  direction: z.enum(["credit", "debit"]),
  amount_minor: positiveAmount,
  currency,
  booking_date: calendarDate,
  value_date: calendarDate,
  status: z.enum(["booked", "pending", "returned"]),
  end_to_end_id: identifier.nullish().transform((value) => value ?? null),
  remittance_info: nullableText,
  counterparty_name: z
    .string()
    .max(200)
    .nullish()
    .transform((value) => value ?? null),
  return_reason: z
    .string()
    .regex(RETURN_REASON, { message: "must be a reason code like AC04" })
    .nullish()
    .transform((value) => value ?? null),
  // CONTRACT §8 "FX": what the payer instructed (camt InstdAmt, MT940 /OCMT/) and the rate the bank applied
  // (units of the instructed currency per one unit of the line's currency). Absent, not null, when the bank
  // says nothing, so lines without them keep their stored bodies.
  instructed_amount_minor: positiveAmount.optional(),
  instructed_currency: currency.optional(),
  fx_rate: z.number().positive().finite().optional(),
  metadata,
});

/**
 * CONTRACT §8 "Statements": a statement's summary, on the bank topic after its lines (told from a BankEntry
 * by `type`). Balances are signed (a debit balance is negative), booked balances only.
 */
export const MAX_STATEMENT_ENTRIES = 20_000;
export const statementSummarySchema = z
  .object({
    type: z.literal("statement"),
    statement_id: identifier,
    bank: label,
    account: z.string().min(1).max(64),
    currency,
    from_date: calendarDate,
    to_date: calendarDate,
    opening_booked_minor: amountMinor,
    closing_booked_minor: amountMinor,
    entry_ids: z.array(identifier).max(MAX_STATEMENT_ENTRIES),
    metadata,
  })
  .superRefine((statement, ctx) => {
    if (statement.to_date < statement.from_date) {
      ctx.addIssue({ code: "custom", path: ["to_date"], message: "must not be before from_date" });
    }
    if (new Set(statement.entry_ids).size !== statement.entry_ids.length) {
      ctx.addIssue({ code: "custom", path: ["entry_ids"], message: "must not list an entry twice" });
    }
  });

export type ExpectedPayment = z.output<typeof expectedPaymentSchema>;
export type Cancellation = z.output<typeof cancellationSchema>;
export type ExpectedMessage = z.output<typeof expectedMessageSchema>;
export type PaymentEvent = z.output<typeof paymentEventSchema>;
export type SettlementBatch = z.output<typeof settlementBatchSchema>;
export type GatewayEvent = z.output<typeof gatewayEventSchema>;
export type BankEntry = z.output<typeof bankEntrySchema>;
export type BankEntryInput = z.input<typeof bankEntrySchema>;
export type StatementSummary = z.output<typeof statementSummarySchema>;
export type GatewayEventInput = z.input<typeof gatewayEventSchema>;
