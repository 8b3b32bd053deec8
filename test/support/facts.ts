import { dateDaysFromNow, isoDaysFromNow } from "./clock.js";

/**
 * Realistic input messages for integration tests, plus invalid ones with the reason each must be rejected for.
 * Dated around the run's now (test/support/clock.ts), in the order money moves: created three days ago,
 * captured two days ago (inside HOLD_THRESHOLD), booked by the bank yesterday, due in a week. A test that
 * needs a payment overdue or a capture held says so with its own dates from the same clock.
 */

export function expectedPayment(n: number, overrides: Record<string, unknown> = {}) {
  return {
    id: `exp_${n}`,
    direction: n % 3 === 0 ? "payout" : "collection",
    amount_minor: 1_000 + n * 7,
    currency: n % 5 === 0 ? "JPY" : "EUR",
    gateway: n % 2 === 0 ? "stripe" : "adyen",
    reference: `ORD-${n}`,
    counterparty: `cust_${n % 11}`,
    created_at: isoDaysFromNow(-3),
    due_at: isoDaysFromNow(7),
    ...overrides,
  };
}

export function gatewayEvent(n: number, overrides: Record<string, unknown> = {}) {
  return {
    event_id: `evt_${n}`,
    gateway: n % 2 === 0 ? "stripe" : "adyen",
    type: "payment.captured",
    reference: `ORD-${n}`,
    gateway_payment_id: `pi_${n}`,
    amount_minor: 1_000 + n * 7,
    currency: n % 5 === 0 ? "JPY" : "EUR",
    occurred_at: isoDaysFromNow(-2),
    ...overrides,
  };
}

export function bankEntry(n: number, overrides: Record<string, unknown> = {}) {
  return {
    entry_id: `ACSR-${n}`,
    bank: "bank_a",
    account: "DE89370400440532013000",
    direction: "credit",
    amount_minor: 1_000 + n * 7,
    currency: n % 5 === 0 ? "JPY" : "EUR",
    booking_date: dateDaysFromNow(-1),
    value_date: dateDaysFromNow(-1),
    status: "booked",
    end_to_end_id: null,
    remittance_info: `PAYMENT ORD-${n}`,
    counterparty_name: "ACME GMBH",
    ...overrides,
  };
}

export interface InvalidSample {
  kind: "expected" | "gateway" | "bank";
  value: Buffer;
  reason: string;
}

/** One invalid message of each kind of fault, with the reason payrecon must give. */
export function invalidSamples(): InvalidSample[] {
  const json = (value: unknown) => Buffer.from(JSON.stringify(value));
  return [
    { kind: "expected", value: Buffer.from("{not json"), reason: "invalid_json" },
    { kind: "expected", value: Buffer.from([0x7b, 0x22, 0xff, 0xfe, 0x22, 0x7d]), reason: "invalid_utf8" },
    { kind: "expected", value: json({ ...expectedPayment(900), amount_minor: 12.5 }), reason: "schema" },
    { kind: "expected", value: json({ ...expectedPayment(901), currency: "XYZ" }), reason: "schema" },
    { kind: "expected", value: json({ ...expectedPayment(902), due_at: "2026-02-30T10:00:00Z" }), reason: "schema" },
    { kind: "gateway", value: json({ ...gatewayEvent(903), type: "payment.teleported" }), reason: "schema" },
    { kind: "gateway", value: json({ ...gatewayEvent(904), amount_minor: -5 }), reason: "schema" },
    { kind: "gateway", value: Buffer.from("[1,2,3]"), reason: "not_an_object" },
    { kind: "bank", value: json({ ...bankEntry(905), booking_date: "22/11/2026" }), reason: "schema" },
    { kind: "bank", value: json({ ...bankEntry(906), amount_minor: "1000" }), reason: "schema" },
    { kind: "bank", value: Buffer.from(""), reason: "empty" },
    { kind: "bank", value: Buffer.from('{"entry_id": "x", "amount_minor": 1e3}'), reason: "schema" },
  ];
}

/** The same object with its keys in reverse order: a different byte string, the same message. */
export function reserialized(value: Record<string, unknown>): Buffer {
  return Buffer.from(JSON.stringify(Object.fromEntries(Object.entries(value).reverse())));
}
