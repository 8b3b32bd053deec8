import { describe, expect, it } from "vitest";
import type { PaymentStatus } from "../../../src/reconcile/types.js";
import {
  at,
  batchExceptionKey,
  collection,
  DAY,
  defaultPolicy,
  type Direction,
  HOUR,
  outcomeOf,
  openKeys,
  type PaymentSpec,
  payout,
  paymentExceptionKey,
  scenario,
} from "./builders.js";

/**
 * CONTRACT §2, the `status` table: one describe per rule, for collections and
 * payouts wherever the rule applies to both. Expectations come from the
 * inputs and the contract, never from a run.
 */

interface Side {
  direction: Direction;
  ref: string;
  id: string;
  make: (spec: PaymentSpec) => ReturnType<typeof collection>;
  /** A gateway event saying the gateway has it. */
  accepted: "payment.captured" | "payout.submitted";
  failed: "payment.failed" | "payout.failed";
}

const COLLECTION: Side = {
  direction: "collection",
  ref: "ORD-1001",
  id: "exp_ORD-1001",
  make: collection,
  accepted: "payment.captured",
  failed: "payment.failed",
};
const PAYOUT: Side = {
  direction: "payout",
  ref: "WD-55",
  id: "exp_WD-55",
  make: payout,
  accepted: "payout.submitted",
  failed: "payout.failed",
};
const SIDES = [COLLECTION, PAYOUT];

const AMOUNT = 125_000;
const DUE = "2026-11-24T17:00Z";

function base(side: Side, extra: Partial<PaymentSpec> = {}) {
  return scenario().expect(side.make({ reference: side.ref, amount: AMOUNT, due: DUE, ...extra }));
}

function paymentKeys(keys: string[], id: string): string[] {
  return keys.filter((key) => key.endsWith(`payment:${id}`));
}

describe.each(SIDES)("pending ($direction)", (side) => {
  it("nothing from gateway or bank, not overdue → pending, next deadline the due time", () => {
    const result = base(side).reconcile("2026-11-21T00:00Z");
    const outcome = outcomeOf(result, side.id);
    expect(outcome.status).toBe("pending");
    expect(outcome.settledAmountMinor).toBe(0);
    expect(outcome.failureCategory).toBeNull();
    expect(outcome.retryAdvice).toBeNull();
    expect(outcome.settledLate).toBe(false);
    expect(outcome.nextDeadline).toBe(at(DUE));
    expect(openKeys(result)).toEqual([]);
  });
});

describe("in_flight: the gateway has it, not settled, not overdue", () => {
  const now = "2026-11-21T12:00Z";
  const rows: Array<{ name: string; side: Side; build: (side: Side) => ReturnType<typeof base> }> = [
    {
      name: "collection authorized",
      side: COLLECTION,
      build: (s) => base(s).event("payment.authorized", s.ref, "2026-11-21T09:00Z", { amount: AMOUNT }),
    },
    {
      name: "collection captured (within the hold threshold)",
      side: COLLECTION,
      build: (s) => base(s).event("payment.captured", s.ref, "2026-11-21T09:00Z", { amount: AMOUNT }),
    },
    {
      name: "collection listed in a settlement batch not yet in the bank",
      side: COLLECTION,
      build: (s) =>
        base(s).batch({ batchId: "po_batch_1", references: [s.ref], gross: AMOUNT, fee: 500, at: "2026-11-21T06:00Z" }),
    },
    {
      name: "collection with a pending bank line naming it",
      side: COLLECTION,
      build: (s) => base(s).credit({ amount: AMOUNT, on: "2026-11-21", status: "pending", e2e: s.ref }),
    },
    {
      name: "payout submitted",
      side: PAYOUT,
      build: (s) => base(s).event("payout.submitted", s.ref, "2026-11-21T09:00Z", { amount: AMOUNT }),
    },
    {
      name: "payout reported paid, no bank debit yet",
      side: PAYOUT,
      build: (s) =>
        base(s)
          .event("payout.submitted", s.ref, "2026-11-21T08:00Z", { amount: AMOUNT })
          .event("payout.paid", s.ref, "2026-11-21T09:00Z", { amount: AMOUNT }),
    },
    {
      name: "payout with a pending bank line naming it",
      side: PAYOUT,
      build: (s) => base(s).debit({ amount: AMOUNT, on: "2026-11-21", status: "pending", e2e: s.ref }),
    },
  ];
  it.each(rows)("$name → in_flight", ({ side, build }) => {
    const result = build(side).reconcile(now);
    const outcome = outcomeOf(result, side.id);
    expect(outcome.status).toBe("in_flight");
    expect(outcome.settledAmountMinor).toBe(0);
    expect(outcome.exception).toBeNull();
    expect(paymentKeys(openKeys(result), side.id)).toEqual([]);
  });
});

describe.each(SIDES)("delayed: due_at passed without settlement ($direction)", (side) => {
  it("nothing at all and past due → delayed, with a delayed exception for the whole amount", () => {
    const result = base(side).reconcile("2026-11-25T12:00Z");
    const outcome = outcomeOf(result, side.id);
    expect(outcome.status).toBe("delayed");
    expect(outcome.overdueSince).toBe(at(DUE));
    expect(outcome.exception).toEqual({ kind: "delayed", amountMinor: AMOUNT });
    expect(openKeys(result)).toEqual([paymentExceptionKey("delayed", side.id)]);
  });

  it("in flight at the gateway but past due → delayed", () => {
    const result = base(side)
      .event(side.accepted, side.ref, "2026-11-24T10:00Z", { amount: AMOUNT })
      .reconcile("2026-11-25T00:00Z");
    expect(outcomeOf(result, side.id).status).toBe("delayed");
  });

  it("before the due time it is not delayed", () => {
    const result = base(side).reconcile("2026-11-24T16:59Z");
    expect(outcomeOf(result, side.id).status).toBe("pending");
  });
});

describe.each(SIDES)("late truth wins ($direction)", (side) => {
  it("delayed, then the bank shows it → settled, settled_late, no delayed exception", () => {
    const s = base(side);
    expect(outcomeOf(s.reconcile("2026-11-26T00:00Z"), side.id).status).toBe("delayed");
    s.settlingEntry(side.direction, { amount: AMOUNT, on: "2026-11-27", e2e: side.ref });
    const result = s.reconcile("2026-11-28T00:00Z");
    const outcome = outcomeOf(result, side.id);
    expect(outcome.status).toBe("settled");
    expect(outcome.settledLate).toBe(true);
    expect(outcome.settledAmountMinor).toBe(AMOUNT);
    expect(outcome.exception).toBeNull();
    expect(openKeys(result)).toEqual([]);
  });

  it("a pending bank line followed by the booked line → settled once, not a duplicate", () => {
    const result = base(side)
      .settlingEntry(side.direction, { amount: AMOUNT, on: "2026-11-22", status: "pending", e2e: side.ref })
      .settlingEntry(side.direction, { amount: AMOUNT, on: "2026-11-23", e2e: side.ref })
      .reconcile("2026-11-25T00:00Z");
    const outcome = outcomeOf(result, side.id);
    expect(outcome.status).toBe("settled");
    expect(outcome.settledAmountMinor).toBe(AMOUNT);
    expect(openKeys(result)).toEqual([]);
  });

  it("settled on the due date is not late", () => {
    const result = base(side)
      .settlingEntry(side.direction, { amount: AMOUNT, on: "2026-11-24", e2e: side.ref })
      .reconcile("2026-11-28T00:00Z");
    const outcome = outcomeOf(result, side.id);
    expect(outcome.status).toBe("settled");
    expect(outcome.settledLate).toBe(false);
  });
});

describe("failed via a gateway failure: failure_category and retry_advice from the code", () => {
  // Categories and advice from the CONTRACT §2 table; the raw code is kept verbatim.
  const rows: Array<{ side: Side; code: string; category: string; advice: string }> = [
    { side: PAYOUT, code: "account_closed", category: "account_closed", advice: "no" },
    { side: PAYOUT, code: "no_account", category: "account_invalid", advice: "after_fix" },
    { side: PAYOUT, code: "account_frozen", category: "account_blocked", advice: "no" },
    { side: PAYOUT, code: "incorrect_account_holder_name", category: "holder_mismatch", advice: "after_fix" },
    { side: PAYOUT, code: "insufficient_funds", category: "insufficient_funds", advice: "retry" },
    { side: PAYOUT, code: "invalid_currency", category: "currency", advice: "after_fix" },
    { side: PAYOUT, code: "could_not_process", category: "technical", advice: "retry" },
    { side: PAYOUT, code: "AC04", category: "account_closed", advice: "no" },
    { side: PAYOUT, code: "counterpartyAccountBlocked", category: "account_blocked", advice: "no" },
    { side: COLLECTION, code: "card_declined", category: "declined", advice: "no" },
    { side: COLLECTION, code: "do_not_honor", category: "declined", advice: "no" },
    { side: COLLECTION, code: "insufficient_funds", category: "insufficient_funds", advice: "retry" },
    { side: COLLECTION, code: "processing_error", category: "technical", advice: "retry" },
    { side: COLLECTION, code: "R01", category: "insufficient_funds", advice: "retry" },
    { side: COLLECTION, code: "zz_never_seen_code", category: "unknown", advice: "no" },
    { side: PAYOUT, code: "zz_never_seen_code", category: "unknown", advice: "no" },
  ];
  it.each(rows)("$side.direction $code → $category / $advice", ({ side, code, category, advice }) => {
    const result = base(side)
      .event(side.accepted, side.ref, "2026-11-21T08:00Z", { amount: AMOUNT })
      .event(side.failed, side.ref, "2026-11-21T09:00Z", {
        amount: AMOUNT,
        failureCode: code,
        failureMessage: "from the gateway",
      })
      .reconcile("2026-11-21T12:00Z");
    const outcome = outcomeOf(result, side.id);
    expect(outcome.status).toBe("failed");
    expect(outcome.failureCategory).toBe(category);
    expect(outcome.retryAdvice).toBe(advice);
    expect(outcome.failureCode).toBe(code);
    expect(outcome.exception?.kind).toBe("failed");
    expect(openKeys(result)).toContain(paymentExceptionKey("failed", side.id));
  });

  it.each([COLLECTION, PAYOUT])("$direction failure without a code → failed, unknown, no retry", (side) => {
    const outcome = outcomeOf(
      base(side).event(side.failed, side.ref, "2026-11-21T09:00Z").reconcile("2026-11-21T12:00Z"),
      side.id,
    );
    expect(outcome.status).toBe("failed");
    expect(outcome.failureCategory).toBe("unknown");
    expect(outcome.retryAdvice).toBe("no");
  });

  it("a failure is reported even while the due date has passed (failed, not delayed)", () => {
    const result = base(PAYOUT)
      .event("payout.failed", PAYOUT.ref, "2026-11-23T09:00Z", { failureCode: "account_closed" })
      .reconcile("2026-11-26T00:00Z");
    expect(outcomeOf(result, PAYOUT.id).status).toBe("failed");
  });
});

describe("failed via a bank return: return_reason → failure_category", () => {
  const rows: Array<{ reason: string; category: string; advice: string }> = [
    { reason: "AC04", category: "account_closed", advice: "no" },
    { reason: "AC01", category: "account_invalid", advice: "after_fix" },
    { reason: "AM04", category: "insufficient_funds", advice: "retry" },
    { reason: "MS03", category: "technical", advice: "retry" },
    { reason: "AG01", category: "account_blocked", advice: "no" },
    { reason: "BE01", category: "holder_mismatch", advice: "after_fix" },
  ];

  it.each(rows)("payout debited, then returned with $reason → failed, $category", ({ reason, category, advice }) => {
    const result = base(PAYOUT)
      .event("payout.submitted", PAYOUT.ref, "2026-11-21T08:00Z", { amount: AMOUNT })
      .debit({ amount: AMOUNT, on: "2026-11-22", e2e: PAYOUT.ref })
      .credit({ amount: AMOUNT, on: "2026-11-25", status: "returned", e2e: PAYOUT.ref, returnReason: reason })
      .reconcile("2026-11-26T00:00Z");
    const outcome = outcomeOf(result, PAYOUT.id);
    expect(outcome.status).toBe("failed");
    expect(outcome.failureCategory).toBe(category);
    expect(outcome.retryAdvice).toBe(advice);
    expect(outcome.failureCode).toBe(reason);
    // The money went out and came back: nothing stays settled.
    expect(outcome.settledAmountMinor).toBe(0);
    expect(openKeys(result)).toContain(paymentExceptionKey("failed", PAYOUT.id));
  });

  it("a collection credited and then taken back by the payer's bank (returned debit, AM04) → failed, insufficient_funds", () => {
    const result = base(COLLECTION)
      .credit({ amount: AMOUNT, on: "2026-11-24", e2e: COLLECTION.ref })
      .debit({ amount: AMOUNT, on: "2026-11-27", status: "returned", e2e: COLLECTION.ref, returnReason: "AM04" })
      .reconcile("2026-11-28T00:00Z");
    const outcome = outcomeOf(result, COLLECTION.id);
    expect(outcome.status).toBe("failed");
    expect(outcome.failureCategory).toBe("insufficient_funds");
    expect(outcome.retryAdvice).toBe("retry");
  });

  it("a return without the reference is not matched by amount (code's choice)", () => {
    // The contract says a return carries the original payout's reference in end_to_end_id; it is
    // silent on returns without one. The code's choice: never match a return by amount (no guess).
    const result = base(PAYOUT)
      .debit({ amount: AMOUNT, on: "2026-11-22", e2e: PAYOUT.ref })
      .credit({ amount: AMOUNT, on: "2026-11-23", status: "returned", returnReason: "AC04", entryId: "RET-1" })
      .reconcile("2026-11-23T12:00Z");
    expect(outcomeOf(result, PAYOUT.id).status).toBe("settled");
  });
});

describe("a payout reported paid and settled that later fails or is returned → failed", () => {
  function paidAndSettled() {
    return base(PAYOUT)
      .event("payout.submitted", PAYOUT.ref, "2026-11-21T08:00Z", { amount: AMOUNT })
      .event("payout.paid", PAYOUT.ref, "2026-11-22T08:00Z", { amount: AMOUNT })
      .debit({ amount: AMOUNT, on: "2026-11-22", e2e: PAYOUT.ref });
  }

  it("paid and debited → settled", () => {
    const outcome = outcomeOf(paidAndSettled().reconcile("2026-11-23T00:00Z"), PAYOUT.id);
    expect(outcome.status).toBe("settled");
    expect(outcome.settledAmountMinor).toBe(AMOUNT);
  });

  it("then returned by the bank (AC04) → failed, account_closed", () => {
    const result = paidAndSettled()
      .credit({ amount: AMOUNT, on: "2026-11-26", status: "returned", e2e: PAYOUT.ref, returnReason: "AC04" })
      .reconcile("2026-11-27T00:00Z");
    const outcome = outcomeOf(result, PAYOUT.id);
    expect(outcome.status).toBe("failed");
    expect(outcome.failureCategory).toBe("account_closed");
    expect(outcome.retryAdvice).toBe("no");
  });

  it("paid, debited, then payout.failed later the same day → failed (the contract: paid that later fails)", () => {
    const result = base(PAYOUT)
      .event("payout.submitted", PAYOUT.ref, "2026-11-21T08:00Z", { amount: AMOUNT })
      .event("payout.paid", PAYOUT.ref, "2026-11-22T08:00Z", { amount: AMOUNT })
      .debit({ amount: AMOUNT, on: "2026-11-22", e2e: PAYOUT.ref })
      .event("payout.failed", PAYOUT.ref, "2026-11-22T15:00Z", { amount: AMOUNT, failureCode: "account_closed" })
      .reconcile("2026-11-23T00:00Z");
    const outcome = outcomeOf(result, PAYOUT.id);
    expect(outcome.status).toBe("failed");
    expect(outcome.failureCategory).toBe("account_closed");
  });

  it("then payout.failed at the gateway (account_closed) → failed", () => {
    const result = paidAndSettled()
      .event("payout.failed", PAYOUT.ref, "2026-11-25T08:00Z", { amount: AMOUNT, failureCode: "account_closed" })
      .reconcile("2026-11-27T00:00Z");
    const outcome = outcomeOf(result, PAYOUT.id);
    expect(outcome.status).toBe("failed");
    expect(outcome.failureCategory).toBe("account_closed");
    expect(outcome.failureCode).toBe("account_closed");
  });
});

describe("held", () => {
  const FAR_DUE = "2026-12-10T17:00Z";
  const captureAt = "2026-11-20T10:00Z";

  it("payout.held without release → held, with the hold reason and a held exception", () => {
    const result = base(PAYOUT, { due: FAR_DUE })
      .event("payout.submitted", PAYOUT.ref, "2026-11-21T08:00Z", { amount: AMOUNT })
      .event("payout.held", PAYOUT.ref, "2026-11-21T09:00Z", { amount: AMOUNT, holdReason: "compliance_review" })
      .reconcile("2026-11-22T00:00Z");
    const outcome = outcomeOf(result, PAYOUT.id);
    expect(outcome.status).toBe("held");
    expect(outcome.holdReason).toBe("compliance_review");
    expect(outcome.exception).toEqual({ kind: "held", amountMinor: AMOUNT });
    expect(openKeys(result)).toEqual([paymentExceptionKey("held", PAYOUT.id)]);
  });

  it("payout.held then payout.released → back to in_flight, no exception", () => {
    const result = base(PAYOUT, { due: FAR_DUE })
      .event("payout.submitted", PAYOUT.ref, "2026-11-21T08:00Z", { amount: AMOUNT })
      .event("payout.held", PAYOUT.ref, "2026-11-21T09:00Z", { holdReason: "compliance_review" })
      .event("payout.released", PAYOUT.ref, "2026-11-22T09:00Z")
      .reconcile("2026-11-23T00:00Z");
    const outcome = outcomeOf(result, PAYOUT.id);
    expect(outcome.status).toBe("in_flight");
    expect(outcome.exception).toBeNull();
    expect(openKeys(result)).toEqual([]);
  });

  it("the order the events arrive in does not matter: released (arrived first) after held (by occurrence)", () => {
    const result = base(PAYOUT, { due: FAR_DUE })
      .event("payout.released", PAYOUT.ref, "2026-11-22T09:00Z")
      .event("payout.held", PAYOUT.ref, "2026-11-21T09:00Z", { holdReason: "compliance_review" })
      .event("payout.submitted", PAYOUT.ref, "2026-11-21T08:00Z", { amount: AMOUNT })
      .reconcile("2026-11-23T00:00Z");
    expect(outcomeOf(result, PAYOUT.id).status).toBe("in_flight");
  });

  it("collection captured and in no batch past HOLD_THRESHOLD (72h) → held", () => {
    const result = base(COLLECTION, { due: FAR_DUE })
      .event("payment.captured", COLLECTION.ref, captureAt, { amount: AMOUNT })
      .reconcile(at(captureAt) + 73 * HOUR);
    const outcome = outcomeOf(result, COLLECTION.id);
    expect(outcome.status).toBe("held");
    expect(outcome.exception).toEqual({ kind: "held", amountMinor: AMOUNT });
    expect(openKeys(result)).toEqual([paymentExceptionKey("held", COLLECTION.id)]);
  });

  it("before the threshold → in_flight, next deadline = captured + threshold", () => {
    const result = base(COLLECTION, { due: FAR_DUE })
      .event("payment.captured", COLLECTION.ref, captureAt, { amount: AMOUNT })
      .reconcile(at(captureAt) + 71 * HOUR);
    const outcome = outcomeOf(result, COLLECTION.id);
    expect(outcome.status).toBe("in_flight");
    expect(outcome.nextDeadline).toBe(at(captureAt) + 72 * HOUR);
  });

  it("the threshold is the policy's: 24h makes it held after 25h", () => {
    const result = base(COLLECTION, { due: FAR_DUE })
      .event("payment.captured", COLLECTION.ref, captureAt, { amount: AMOUNT })
      .reconcile(at(captureAt) + 25 * HOUR, defaultPolicy({ holdThresholdMs: 24 * HOUR }));
    expect(outcomeOf(result, COLLECTION.id).status).toBe("held");
  });

  it("captured long ago but listed in a batch → in_flight, not held", () => {
    const result = base(COLLECTION, { due: FAR_DUE })
      .event("payment.captured", COLLECTION.ref, captureAt, { amount: AMOUNT })
      .batch({ batchId: "po_batch_2", references: [COLLECTION.ref], gross: AMOUNT, fee: 300, at: "2026-11-21T06:00Z" })
      .reconcile(at(captureAt) + 100 * HOUR);
    expect(outcomeOf(result, COLLECTION.id).status).toBe("in_flight");
  });
});

describe("refunded / charged_back: the collection was reversed", () => {
  function capturedAndSettled() {
    return base(COLLECTION)
      .event("payment.captured", COLLECTION.ref, "2026-11-21T08:00Z", { amount: AMOUNT })
      .credit({ amount: AMOUNT, on: "2026-11-23", e2e: COLLECTION.ref });
  }

  it("payment.refunded for the full amount → refunded", () => {
    const result = capturedAndSettled()
      .event("payment.refunded", COLLECTION.ref, "2026-11-25T08:00Z", { amount: AMOUNT })
      .reconcile("2026-11-26T00:00Z");
    expect(outcomeOf(result, COLLECTION.id).status).toBe("refunded");
  });

  it("payment.chargeback → charged_back", () => {
    const result = capturedAndSettled()
      .event("payment.chargeback", COLLECTION.ref, "2026-11-28T08:00Z", { amount: AMOUNT, failureCode: "fraudulent" })
      .reconcile("2026-11-29T00:00Z");
    const outcome = outcomeOf(result, COLLECTION.id);
    expect(outcome.status).toBe("charged_back");
    expect(outcome.failureCategory).toBeNull();
  });

  it("a dispute won (payment.chargeback_reversed) returns a settled payment to settled", () => {
    const result = capturedAndSettled()
      .event("payment.chargeback", COLLECTION.ref, "2026-11-28T08:00Z", { amount: AMOUNT, failureCode: "fraudulent" })
      .event("payment.chargeback_reversed", COLLECTION.ref, "2026-12-10T08:00Z", { amount: AMOUNT })
      .reconcile("2026-12-11T00:00Z");
    const outcome = outcomeOf(result, COLLECTION.id);
    expect(outcome.status).toBe("settled");
    expect(outcome.flags).toContain("chargeback_reversed");
    expect(openKeys(result)).toEqual([]);
  });

  it("a dispute won before the bank showed the money returns the payment to in flight, then held", () => {
    const facts = base(COLLECTION)
      .event("payment.captured", COLLECTION.ref, "2026-11-21T08:00Z", { amount: AMOUNT })
      .event("payment.chargeback", COLLECTION.ref, "2026-11-22T08:00Z", { amount: AMOUNT })
      .event("payment.chargeback_reversed", COLLECTION.ref, "2026-11-23T08:00Z", { amount: AMOUNT });
    expect(outcomeOf(facts.reconcile("2026-11-23T09:00Z"), COLLECTION.id).status).toBe("in_flight");
    // Captured, in no batch past the hold threshold: as if there had been no dispute.
    expect(outcomeOf(facts.reconcile("2026-12-20T00:00Z"), COLLECTION.id).status).toBe("held");
  });

  it("a second chargeback after a won dispute charges back again; the reversal on the same instant wins", () => {
    const again = capturedAndSettled()
      .event("payment.chargeback", COLLECTION.ref, "2026-11-28T08:00Z", { amount: AMOUNT })
      .event("payment.chargeback_reversed", COLLECTION.ref, "2026-12-01T08:00Z", { amount: AMOUNT })
      .event("payment.chargeback", COLLECTION.ref, "2026-12-05T08:00Z", { amount: AMOUNT })
      .reconcile("2026-12-06T00:00Z");
    expect(outcomeOf(again, COLLECTION.id).status).toBe("charged_back");
    const sameInstant = capturedAndSettled()
      .event("payment.chargeback_reversed", COLLECTION.ref, "2026-11-28T08:00Z", { amount: AMOUNT, eventId: "a" })
      .event("payment.chargeback", COLLECTION.ref, "2026-11-28T08:00Z", { amount: AMOUNT, eventId: "b" })
      .reconcile("2026-12-06T00:00Z");
    expect(outcomeOf(sameInstant, COLLECTION.id).status).toBe("settled");
  });

  it("refunded even before any bank settlement, and not delayed afterwards", () => {
    const result = base(COLLECTION)
      .event("payment.captured", COLLECTION.ref, "2026-11-21T08:00Z", { amount: AMOUNT })
      .event("payment.refunded", COLLECTION.ref, "2026-11-22T08:00Z", { amount: AMOUNT })
      .reconcile("2026-11-30T00:00Z");
    const outcome = outcomeOf(result, COLLECTION.id);
    expect(outcome.status).toBe("refunded");
    expect(openKeys(result)).toEqual([]);
  });
});

describe.each(SIDES)("cancelled ($direction)", (side) => {
  const payment = () => side.make({ reference: side.ref, amount: AMOUNT, due: DUE });

  it("a cancellation ends it: cancelled, no delayed exception even past due", () => {
    const result = scenario()
      .expect(payment())
      .cancel(side.id, { receivedAt: "2026-11-21T00:00Z" })
      .reconcile("2026-11-30T00:00Z");
    const outcome = outcomeOf(result, side.id);
    expect(outcome.status).toBe("cancelled");
    expect(outcome.nextDeadline).toBeNull();
    expect(openKeys(result)).toEqual([]);
  });

  it("a cancellation arriving before the payment still cancels it", () => {
    const result = scenario()
      .cancel(side.id, { receivedAt: "2026-11-21T00:00Z" })
      .expect(payment())
      .reconcile("2026-11-22T00:00Z");
    expect(outcomeOf(result, side.id).status).toBe("cancelled");
  });

  it.each([
    ["v1, cancel v1, v2", ["v1", "c1", "v2"]],
    ["v2, cancel v1, v1", ["v2", "c1", "v1"]],
    ["cancel v1, v2, v1", ["c1", "v2", "v1"]],
  ])("an explicit higher version re-creates it (%s)", (_, order) => {
    const s = scenario();
    for (const step of order) {
      if (step === "c1") s.cancel(side.id, { version: 1, receivedAt: "2026-11-21T00:00Z" });
      else s.expect(payment(), { version: step === "v1" ? 1 : 2 });
    }
    expect(outcomeOf(s.reconcile("2026-11-22T00:00Z"), side.id).status).toBe("pending");
  });

  it.each([
    ["v1 then cancel v1", [1, "c1"]],
    ["cancel v2 then v1", ["c2", 1]],
    ["v1, v2, cancel v2", [1, 2, "c2"]],
  ])("a cancellation of the newest version cancels (%s)", (_, order) => {
    const s = scenario();
    for (const step of order) {
      if (step === "c1" || step === "c2")
        s.cancel(side.id, { version: step === "c1" ? 1 : 2, receivedAt: "2026-11-21T00:00Z" });
      else s.expect(payment(), { version: step as number });
    }
    expect(outcomeOf(s.reconcile("2026-11-22T00:00Z"), side.id).status).toBe("cancelled");
  });
});

describe.each(SIDES)("amendments: the higher version wins regardless of arrival order ($direction)", (side) => {
  const v1 = () => side.make({ reference: side.ref, amount: 100_000, due: "2026-11-22T17:00Z" });
  const v2 = () => side.make({ reference: side.ref, amount: AMOUNT, due: "2026-11-28T17:00Z" });

  it.each([
    ["v1 arrives first", false],
    ["v2 arrives first", true],
  ])("%s → amount and due date of v2", (_, v2First) => {
    const s = scenario();
    if (v2First) s.expect(v2(), { version: 2 }).expect(v1(), { version: 1 });
    else s.expect(v1(), { version: 1 }).expect(v2(), { version: 2 });
    // Past v1's due date, before v2's: with v2 in force it is not overdue.
    const outcome = outcomeOf(s.reconcile("2026-11-25T00:00Z"), side.id);
    expect(outcome.payment.amount_minor).toBe(AMOUNT);
    expect(outcome.status).toBe("pending");
    expect(outcome.nextDeadline).toBe(at("2026-11-28T17:00Z"));
  });

  it("the bank amount is compared with the version in force", () => {
    const result = scenario()
      .expect(v2(), { version: 2 })
      .expect(v1(), { version: 1 })
      .settlingEntry(side.direction, { amount: AMOUNT, on: "2026-11-27", e2e: side.ref })
      .reconcile("2026-11-29T00:00Z");
    const outcome = outcomeOf(result, side.id);
    expect(outcome.status).toBe("settled");
    expect(outcome.settledAmountMinor).toBe(AMOUNT);
  });

  it("without versions, the later arrival wins", () => {
    const outcome = outcomeOf(scenario().expect(v2()).expect(v1()).reconcile("2026-11-25T00:00Z"), side.id);
    expect(outcome.payment.amount_minor).toBe(100_000);
    expect(outcome.status).toBe("delayed");
  });
});

describe.each(SIDES)("installments settle one by one ($direction)", (side) => {
  const FIRST = "2026-11-24T17:00Z";
  const SECOND = "2026-12-24T17:00Z";
  const HALF = AMOUNT / 2;
  const staged = () =>
    scenario().expect(
      side.make({
        reference: side.ref,
        amount: AMOUNT,
        due: SECOND,
        installments: [
          [HALF, FIRST],
          [HALF, SECOND],
        ],
      }),
    );

  it("first installment settled, the rest not due → partially_settled, next deadline the second due", () => {
    const result = staged()
      .settlingEntry(side.direction, { amount: HALF, on: "2026-11-24", e2e: side.ref })
      .reconcile("2026-11-30T00:00Z");
    const outcome = outcomeOf(result, side.id);
    expect(outcome.status).toBe("partially_settled");
    expect(outcome.settledAmountMinor).toBe(HALF);
    expect(outcome.nextDeadline).toBe(at(SECOND));
    expect(paymentKeys(openKeys(result), side.id)).toEqual([]);
  });

  it("the first installment matched by amount alone (exactly one candidate) also counts", () => {
    const outcome = outcomeOf(
      staged().settlingEntry(side.direction, { amount: HALF, on: "2026-11-23" }).reconcile("2026-11-30T00:00Z"),
      side.id,
    );
    expect(outcome.status).toBe("partially_settled");
    expect(outcome.settledAmountMinor).toBe(HALF);
  });

  it("nothing settled and the first installment overdue → delayed since its due time", () => {
    const result = staged().reconcile("2026-11-26T00:00Z");
    const outcome = outcomeOf(result, side.id);
    expect(outcome.status).toBe("delayed");
    expect(outcome.overdueSince).toBe(at(FIRST));
    expect(openKeys(result)).toEqual([paymentExceptionKey("delayed", side.id)]);
  });

  it("first settled, second overdue and unsettled → delayed, the unsettled half at risk", () => {
    const result = staged()
      .settlingEntry(side.direction, { amount: HALF, on: "2026-11-24", e2e: side.ref })
      .reconcile("2026-12-26T00:00Z");
    const outcome = outcomeOf(result, side.id);
    expect(outcome.status).toBe("delayed");
    expect(outcome.overdueSince).toBe(at(SECOND));
    expect(outcome.settledAmountMinor).toBe(HALF);
    // The exception's amount is read as the amount at risk: the unsettled installment.
    expect(outcome.exception).toEqual({ kind: "delayed", amountMinor: AMOUNT - HALF });
  });

  it("second settled late → settled with settled_late", () => {
    const outcome = outcomeOf(
      staged()
        .settlingEntry(side.direction, { amount: HALF, on: "2026-11-24", e2e: side.ref })
        .settlingEntry(side.direction, { amount: HALF, on: "2026-12-27", e2e: side.ref })
        .reconcile("2026-12-28T00:00Z"),
      side.id,
    );
    expect(outcome.status).toBe("settled");
    expect(outcome.settledAmountMinor).toBe(AMOUNT);
    expect(outcome.settledLate).toBe(true);
    expect(outcome.nextDeadline).toBeNull();
  });

  it("both on time → settled, not late", () => {
    const outcome = outcomeOf(
      staged()
        .settlingEntry(side.direction, { amount: HALF, on: "2026-11-23", e2e: side.ref })
        .settlingEntry(side.direction, { amount: HALF, on: "2026-12-23", e2e: side.ref })
        .reconcile("2026-12-28T00:00Z"),
      side.id,
    );
    expect(outcome.status).toBe("settled");
    expect(outcome.settledLate).toBe(false);
  });

  it("first installment late, second not due yet → partially_settled (settled_late only once settled)", () => {
    const outcome = outcomeOf(
      staged()
        .settlingEntry(side.direction, { amount: HALF, on: "2026-11-27", e2e: side.ref })
        .reconcile("2026-11-30T00:00Z"),
      side.id,
    );
    expect(outcome.status).toBe("partially_settled");
    expect(outcome.settledLate).toBe(false);
  });
});

describe("mismatch: money arrived but differs beyond the tolerance", () => {
  const rows: Array<{
    name: string;
    side: Side;
    gateway: string;
    paid: number;
    policy: Parameters<typeof defaultPolicy>[0];
    status: PaymentStatus;
  }> = [];
  for (const side of SIDES) {
    rows.push(
      { name: "1000 short, tolerance 0", side, gateway: "stripe", paid: AMOUNT - 1000, policy: {}, status: "mismatch" },
      { name: "1000 over, tolerance 0", side, gateway: "stripe", paid: AMOUNT + 1000, policy: {}, status: "mismatch" },
      { name: "exact, tolerance 0", side, gateway: "stripe", paid: AMOUNT, policy: {}, status: "settled" },
      {
        name: "500 short, tolerance 500",
        side,
        gateway: "stripe",
        paid: AMOUNT - 500,
        policy: { amountToleranceMinor: 500 },
        status: "settled",
      },
      {
        name: "501 short, tolerance 500",
        side,
        gateway: "stripe",
        paid: AMOUNT - 501,
        policy: { amountToleranceMinor: 500 },
        status: "mismatch",
      },
      {
        name: "1000 short at adyen, adyen override 1000, global 0",
        side,
        gateway: "adyen",
        paid: AMOUNT - 1000,
        policy: { amountToleranceByGateway: { adyen: 1000 } },
        status: "settled",
      },
      {
        name: "1000 short at stripe, adyen override 1000, global 0",
        side,
        gateway: "stripe",
        paid: AMOUNT - 1000,
        policy: { amountToleranceByGateway: { adyen: 1000 } },
        status: "mismatch",
      },
      {
        name: "1000 short at stripe, global 1000, stripe override 0",
        side,
        gateway: "stripe",
        paid: AMOUNT - 1000,
        policy: { amountToleranceMinor: 1000, amountToleranceByGateway: { stripe: 0 } },
        status: "mismatch",
      },
    );
  }
  it.each(rows)("$side.direction: $name → $status", ({ side, gateway, paid, policy, status }) => {
    const result = base(side, { gateway })
      .settlingEntry(side.direction, { amount: paid, on: "2026-11-23", e2e: side.ref })
      .reconcile("2026-11-25T00:00Z", defaultPolicy(policy));
    const outcome = outcomeOf(result, side.id);
    expect(outcome.status).toBe(status);
    if (status === "mismatch") {
      // The exception's amount is read as the amount at risk (§4 funds_at_risk): the difference.
      expect(outcome.exception).toEqual({ kind: "mismatch", amountMinor: Math.abs(AMOUNT - paid) });
      expect(openKeys(result)).toEqual([paymentExceptionKey("mismatch", side.id)]);
    } else {
      expect(outcome.exception).toBeNull();
      expect(openKeys(result)).toEqual([]);
    }
  });
});

describe("late truth wins via a settlement batch", () => {
  it("a collection delayed, then its batch credit arrives → settled, settled_late", () => {
    const s = base(COLLECTION).batch({
      batchId: "po_batch_late",
      references: [COLLECTION.ref],
      gross: AMOUNT,
      fee: 1_250,
      at: "2026-11-23T06:00Z",
      arrival: "2026-11-25",
    });
    expect(outcomeOf(s.reconcile("2026-11-26T00:00Z"), COLLECTION.id).status).toBe("delayed");
    s.credit({ amount: AMOUNT - 1_250, on: "2026-11-26", remittance: "STRIPE PAYOUT po_batch_late" });
    const result = s.reconcile("2026-11-27T00:00Z");
    const outcome = outcomeOf(result, COLLECTION.id);
    expect(outcome.status).toBe("settled");
    expect(outcome.settledLate).toBe(true);
    expect(outcome.settledAmountMinor).toBe(AMOUNT);
    expect(openKeys(result)).toEqual([]);
  });
});

describe("negative, carried-forward and netted batches (CONTRACT §8)", () => {
  const batch = (extra: { gross: number; fee: number; carried?: number }) =>
    base(COLLECTION).batch({
      batchId: "po_batch_cf",
      references: [COLLECTION.ref],
      at: "2026-11-22T06:00Z",
      arrival: "2026-11-24",
      ...extra,
    });

  it("a batch carrying in an earlier balance is paid by a credit of gross − fee + carried forward (no false mismatch)", () => {
    // Adyen's balance transfer: 40.00 owed from a previous batch is taken from this one.
    const result = batch({ gross: AMOUNT, fee: 1_250, carried: -4_000 })
      .credit({ amount: AMOUNT - 1_250 - 4_000, on: "2026-11-24", remittance: "ADYEN PAYOUT po_batch_cf" })
      .reconcile("2026-11-25T00:00Z");
    expect(outcomeOf(result, COLLECTION.id).status).toBe("settled");
    expect([...result.batchStates.values()].map((state) => state.state)).toEqual(["settled"]);
    expect(openKeys(result)).toEqual([]);
  });

  it("a negative batch is paid by a bank debit of its absolute value, by name or by amount alone", () => {
    for (const remittance of ["ADYEN DEBIT po_batch_cf", "DIRECT DEBIT"]) {
      const result = batch({ gross: 1_000, fee: 200, carried: -5_000 })
        .debit({ amount: 4_200, on: "2026-11-24", remittance })
        .reconcile("2026-11-25T00:00Z");
      expect(outcomeOf(result, COLLECTION.id).status, remittance).toBe("settled");
      expect(openKeys(result), remittance).toEqual([]);
    }
    // A credit of that amount is not it.
    const wrongWay = batch({ gross: 1_000, fee: 200, carried: -5_000 })
      .credit({ amount: 4_200, on: "2026-11-24", remittance: "ADYEN po_batch_cf" })
      .reconcile("2026-11-25T00:00Z");
    expect(outcomeOf(wrongWay, COLLECTION.id).status).toBe("delayed");
  });

  it("a debit of the wrong amount is a batch mismatch signed as the bank shows it", () => {
    const result = batch({ gross: 1_000, fee: 200, carried: -5_000 })
      .debit({ amount: 4_000, on: "2026-11-24", remittance: "ADYEN DEBIT po_batch_cf" })
      .reconcile("2026-11-25T00:00Z");
    const mismatch = result.exceptions.get(batchExceptionKey("mismatch", "po_batch_cf"));
    expect(mismatch?.amountMinor).toBe(200);
    expect(mismatch?.detail).toMatch(/bank shows -40.00 EUR, batch net -42.00 EUR/);
  });

  it("a batch netting to zero settles its payments on its expected arrival with no bank line (netted)", () => {
    const result = batch({ gross: 5_000, fee: 1_000, carried: -4_000 }).reconcile("2026-11-25T00:00Z");
    const outcome = outcomeOf(result, COLLECTION.id);
    expect(outcome.status).toBe("settled");
    expect(outcome.settledOn).toBe("2026-11-24");
    const state = [...result.batchStates.values()][0]!;
    expect(state).toMatchObject({ state: "settled", settledOn: "2026-11-24", netted: true, settlingEntries: [] });
    expect(openKeys(result)).toEqual([]);
  });
});

describe("fee_variance: a batch fee beyond FEE_SCHEDULE ± FEE_TOLERANCE (CONTRACT §8)", () => {
  // 1.4% + 25 per payment: one payment of 125,000 → 1,750 + 25 = 1,775; tolerance 2% of it = 35.
  const policy = defaultPolicy({
    feeSchedule: [
      { gateway: "stripe", currency: "EUR", percentPpm: 14_000, fixedMinor: 25 },
      { gateway: "stripe", currency: "*", percentPpm: 29_000, fixedMinor: 30 },
    ],
  });
  const settledBatch = (fee: number) =>
    base(COLLECTION)
      .batch({ batchId: "po_fees", references: [COLLECTION.ref], gross: AMOUNT, fee, at: "2026-11-22T06:00Z" })
      .credit({ amount: AMOUNT - fee, on: "2026-11-24", remittance: "STRIPE PAYOUT po_fees" })
      .reconcile("2026-11-25T00:00Z", policy);

  it("within the tolerance: nothing; beyond it: fee_variance on the batch, its payment still settles", () => {
    for (const fee of [1_775, 1_775 + 35, 1_775 - 35]) expect(openKeys(settledBatch(fee)), String(fee)).toEqual([]);
    const over = settledBatch(1_775 + 36);
    expect(outcomeOf(over, COLLECTION.id).status).toBe("settled");
    expect(openKeys(over)).toEqual([batchExceptionKey("fee_variance", "po_fees")]);
    const variance = over.exceptions.get(batchExceptionKey("fee_variance", "po_fees"))!;
    expect(variance).toMatchObject({ amountMinor: 36, currency: "EUR", gateway: "stripe" });
    expect(variance.detail).toBe("fee 1811, the fee schedule expects 1775 (+36)");
    expect(openKeys(settledBatch(1_775 - 36))).toEqual([batchExceptionKey("fee_variance", "po_fees")]);
  });

  it("a currency without its own rule takes the gateway's *; a gateway without a rule is not checked", () => {
    const batchOf = (extra: { currency?: string; gateway?: string }, fee: number) =>
      base(COLLECTION, extra)
        .batch({ batchId: "po_b", references: [COLLECTION.ref], gross: AMOUNT, fee, at: "2026-11-22T06:00Z", ...extra })
        .reconcile("2026-11-23T00:00Z", policy);
    // 2.9% of 125,000 + 30 = 3,655.
    expect(openKeys(batchOf({ currency: "USD" }, 3_655))).toEqual([]);
    const adyen = batchOf({ gateway: "adyen" }, 99_999);
    expect([...adyen.exceptions.values()].map((e) => e.kind)).not.toContain("fee_variance");
  });
});

describe.each(SIDES)("mismatch: money in another currency ($direction)", (side) => {
  it("the full amount named by reference but in USD for a EUR payment → mismatch, not settled", () => {
    // The amount in another currency is not the expected amount; the contract has no
    // separate status for it, so the code's mismatch is the reading the users would expect.
    const result = base(side)
      .settlingEntry(side.direction, { amount: AMOUNT, currency: "USD", on: "2026-11-23", e2e: side.ref })
      .reconcile("2026-11-23T12:00Z");
    expect(outcomeOf(result, side.id).status).toBe("mismatch");
  });
});

describe("nextDeadline: the next instant at which time alone could change the status", () => {
  const FAR_DUE = "2026-12-10T17:00Z";
  it.each([
    { name: "pending collection → its due time", side: COLLECTION, now: "2026-11-21T00:00Z", expected: at(DUE) },
    { name: "pending payout → its due time", side: PAYOUT, now: "2026-11-21T00:00Z", expected: at(DUE) },
    { name: "delayed single payment → none left", side: PAYOUT, now: "2026-11-26T00:00Z", expected: null },
  ])("$name", ({ side, now, expected }) => {
    expect(outcomeOf(base(side).reconcile(now), side.id).nextDeadline).toBe(expected);
  });

  it("captured collection: the earlier of captured + threshold and the due time", () => {
    const captured = at("2026-11-20T10:00Z");
    const near = base(COLLECTION) // due 11-24T17:00, captured + 72h = 11-23T10:00
      .event("payment.captured", COLLECTION.ref, captured, { amount: AMOUNT })
      .reconcile("2026-11-21T00:00Z");
    expect(outcomeOf(near, COLLECTION.id).nextDeadline).toBe(Math.min(captured + 3 * DAY, at(DUE)));
    const far = base(COLLECTION, { due: "2026-11-21T17:00Z", created: "2026-11-19T00:00Z" })
      .event("payment.captured", COLLECTION.ref, captured, { amount: AMOUNT })
      .reconcile("2026-11-21T00:00Z");
    expect(outcomeOf(far, COLLECTION.id).nextDeadline).toBe(at("2026-11-21T17:00Z"));
  });

  it("in-flight payout: its due time", () => {
    const result = base(PAYOUT, { due: FAR_DUE })
      .event("payout.submitted", PAYOUT.ref, "2026-11-21T08:00Z", { amount: AMOUNT })
      .reconcile("2026-11-22T00:00Z");
    expect(outcomeOf(result, PAYOUT.id).nextDeadline).toBe(at(FAR_DUE));
  });

  it.each(SIDES)("settled and failed $direction payments have none", (side) => {
    const settled = base(side)
      .settlingEntry(side.direction, { amount: AMOUNT, on: "2026-11-22", e2e: side.ref })
      .reconcile("2026-11-23T00:00Z");
    expect(outcomeOf(settled, side.id).nextDeadline).toBeNull();
    const failed = base(side)
      .event(side.failed, side.ref, "2026-11-21T09:00Z", { failureCode: "insufficient_funds" })
      .reconcile("2026-11-22T00:00Z");
    expect(outcomeOf(failed, side.id).nextDeadline).toBeNull();
  });
});
