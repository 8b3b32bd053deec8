import fc from "fast-check";
import type { ExpectedPayment } from "../../../src/messages/schemas.js";
import type { Policy } from "../../../src/reconcile/types.js";
import { entryKey, reconcileWorld, type WorldFacts, type WorldResult } from "../../../src/reconcile/world.js";
import {
  at,
  bankFact,
  batchFact,
  cancellation,
  DAY,
  type Direction,
  defaultPolicy,
  type EventType,
  expectedPayment,
  expectedVersion,
  gatewayFact,
  HOUR,
  isoDate,
  settling,
  type VersionFact,
} from "./builders.js";

/**
 * Random realistic worlds of facts for the reconciliation property tests (world.property.test.ts,
 * workingSet.property.test.ts), the ways to deliver them out of order and twice, and the projection of
 * a result that must not change. The pure core takes `now` as a parameter: these fixed dates never
 * meet the real clock.
 */
const BASE = at("2026-11-20T00:00Z");

// ---------------------------------------------------------------- the plan of a world

const AMOUNTS = [1_000, 2_500, 50_000, 125_000];
const FAILURE_CODES = [
  "account_closed",
  "insufficient_funds",
  "card_declined",
  "could_not_process",
  "zz_unknown",
  null,
];
const RETURN_REASONS = ["AC04", "AM04", "AC01", "MS03"];
const BANK_STORIES = [
  "none",
  "e2e",
  "remittance",
  "lowercase",
  "amount",
  "partial",
  "pending",
  // A pending line two days before the due date naming nothing: a tentative amount match, often unconfirmed.
  "pendingEarly",
  "duplicate",
  "duplicateByAmount",
  "return",
  "short",
  // CONTRACT §8 "FX": a line in the other currency carrying the instructed amount (by amount, or named), one
  // converted at the reference rate (within FX_TOLERANCE, or 5% short), and one at its own rate.
  "fxInstructed",
  "fxInstructedE2e",
  "fxRate",
  "fxRateShort",
  "fxLineRate",
] as const;
const VERSIONING = ["plain", "explicit", "amendedExplicit", "amendedPlain", "cancelled", "recreated"] as const;

const paymentPlan = fc.record({
  direction: fc.constantFrom<Direction>("collection", "payout"),
  gateway: fc.constantFrom("stripe", "adyen"),
  currency: fc.constantFrom("EUR", "EUR", "USD"),
  amount: fc.constantFrom(...AMOUNTS),
  oldAmount: fc.constantFrom(...AMOUNTS),
  dueDay: fc.integer({ min: 1, max: 12 }),
  dueHour: fc.integer({ min: 0, max: 23 }),
  installments: fc.boolean(),
  firstDueBack: fc.integer({ min: 3, max: 10 }),
  versioning: fc.constantFrom(...VERSIONING),
  explicitVersion: fc.integer({ min: 1, max: 5 }),
  newFirst: fc.boolean(),
  story: fc.integer({ min: 0, max: 9 }),
  storyStart: fc.integer({ min: 0, max: 200 }),
  storySteps: fc.array(fc.integer({ min: 1, max: 60 }), { minLength: 3, maxLength: 3 }),
  failureCode: fc.constantFrom(...FAILURE_CODES),
  foreignEvent: fc.boolean(),
  bank: fc.oneof(fc.constantFrom(...BANK_STORIES), fc.constantFrom("none", "amount", "duplicateByAmount")),
  bankName: fc.constantFrom("bank_a", "bank_b"),
  bankDayOffset: fc.integer({ min: -3, max: 6 }),
  laterDays: fc.integer({ min: 1, max: 4 }),
  returnReason: fc.constantFrom(...RETURN_REASONS),
  batched: fc.boolean(),
});

const batchPlan = fc.record({
  fee: fc.integer({ min: 0, max: 900 }),
  atHours: fc.integer({ min: 0, max: 150 }),
  credit: fc.constantFrom("none", "named", "byAmount", "wrongAmount", "twice", "gross"),
  arrivalShift: fc.integer({ min: 0, max: 4 }),
  // CONTRACT §8: a balance carried in (taken, possibly making the net negative), or one netting it to zero.
  carry: fc.constantFrom("none", "none", "taken", "brought", "zero", "negative"),
});
type BatchPlan = typeof batchPlan extends fc.Arbitrary<infer T> ? T : never;

const strayEntry = fc.record({
  amount: fc.constantFrom(...AMOUNTS, 777),
  direction: fc.constantFrom<"credit" | "debit">("credit", "debit"),
  day: fc.integer({ min: 0, max: 14 }),
  currency: fc.constantFrom("EUR", "USD"),
  status: fc.constantFrom<"booked" | "pending">("booked", "booked", "pending"),
  // An instructed amount in the other currency: a cross-currency amount candidate (CONTRACT §8 "FX").
  instructed: fc.boolean(),
});
const strayEvent = fc.record({
  type: fc.constantFrom<EventType>("payment.captured", "payout.paid", "payout.failed"),
  hours: fc.integer({ min: 0, max: 400 }),
});

/**
 * An operator's decision on some entry: match it to some payment, or unmatch it — from what it is matched
 * to at that moment (as the API does), or from some payment it may never have been matched to.
 */
const decisionPlan = fc.record({
  entry: fc.nat(),
  payment: fc.nat(),
  action: fc.constantFrom<"match" | "unmatch">("match", "unmatch"),
  fromCurrent: fc.boolean(),
  hours: fc.integer({ min: 0, max: 400 }),
});

export const worldPlan = fc.record({
  payments: fc.array(paymentPlan, { minLength: 1, maxLength: 7 }),
  batches: fc.array(batchPlan, { minLength: 4, maxLength: 4 }),
  strayEntries: fc.array(strayEntry, { maxLength: 3 }),
  strayEvents: fc.array(strayEvent, { maxLength: 2 }),
  decisions: fc.array(decisionPlan, { maxLength: 4 }),
  // Write-offs and reopens of random payments, at random times.
  paymentDecisions: fc.array(
    fc.record({ payment: fc.nat(), reopen: fc.boolean(), hours: fc.integer({ min: 0, max: 400 }) }),
    { maxLength: 3 },
  ),
  // Often before the due dates (pending, in flight, partial), often well after (delayed, late, grace passed).
  nowHours: fc.oneof(fc.integer({ min: 0, max: 10 * 24 }), fc.integer({ min: 0, max: 40 * 24 })),
  tolerance: fc.constantFrom(0, 0, 10),
  // PENDING_GRACE: short enough that tentative matches go unconfirmed before their payments fall due.
  pendingGraceHours: fc.constantFrom(1, 12, 72),
  adyenOverride: fc.constantFrom<number | null>(null, 0, 20),
  // CONTRACT §8: batch fees (0–900, the plan's) checked against a schedule, or not checked.
  feeSchedule: fc.boolean(),
});
export type WorldPlan = typeof worldPlan extends fc.Arbitrary<infer T> ? T : never;

export interface BuiltWorld {
  facts: WorldFacts;
  now: number;
  policy: Policy;
}

const COLLECTION_STORIES: EventType[][] = [
  [],
  ["payment.authorized"],
  ["payment.captured"],
  ["payment.authorized", "payment.captured"],
  ["payment.captured", "payment.failed"],
  ["payment.failed"],
  ["payment.captured", "payment.refunded"],
  ["payment.captured", "payment.chargeback"],
  // Disputes won (CONTRACT §8), and lost again on a second chargeback.
  ["payment.captured", "payment.chargeback", "payment.chargeback_reversed"],
  ["payment.chargeback", "payment.chargeback_reversed", "payment.chargeback"],
];
const PAYOUT_STORIES: EventType[][] = [
  [],
  ["payout.submitted"],
  ["payout.submitted", "payout.paid"],
  ["payout.submitted", "payout.failed"],
  ["payout.submitted", "payout.held"],
  ["payout.submitted", "payout.held", "payout.released"],
  ["payout.submitted", "payout.paid", "payout.failed"],
  ["payout.submitted", "payout.canceled"],
];

/** Turns a plan into facts, handing out arrival numbers in a realistic order. */
export function buildWorld(plan: WorldPlan): BuiltWorld {
  let seq = 0;
  const next = () => ++seq;
  const facts: WorldFacts = { versions: [], events: [], batches: [], entries: [], decisions: [], paymentDecisions: [] };
  const finals: ExpectedPayment[] = [];
  const batchedByGroup = new Map<string, ExpectedPayment[]>();

  plan.payments.forEach((p, i) => {
    const reference = p.direction === "collection" ? `ORD-${1000 + i}` : `WD-${50 + i}`;
    const due = BASE + p.dueDay * DAY + p.dueHour * HOUR;
    const firstDue = due - p.firstDueBack * DAY;
    const spec = {
      id: `exp_${i}`,
      reference,
      amount: p.amount,
      currency: p.currency,
      gateway: p.gateway,
      due,
      created: BASE - 12 * DAY,
      ...(p.installments
        ? {
            installments: [
              [p.amount / 2, firstDue],
              [p.amount / 2, due],
            ] as Array<[number, number]>,
          }
        : {}),
    };
    const final = expectedPayment(p.direction, spec);
    const old = expectedPayment(p.direction, {
      ...spec,
      amount: p.oldAmount,
      due: due - 2 * DAY,
      installments: undefined,
    });
    finals.push(final);
    const received = BASE - 10 * DAY;
    const version = (payment: ExpectedPayment, v: number | null, hours: number) =>
      facts.versions.push(expectedVersion(payment, { seq: next(), version: v, receivedAt: received + hours * HOUR }));
    const cancel = (v: number | null, hours: number) =>
      facts.versions.push(cancellation(final.id, { seq: next(), version: v, receivedAt: received + hours * HOUR }));
    switch (p.versioning) {
      case "plain":
        version(final, null, 0);
        break;
      case "explicit":
        version(final, p.explicitVersion, 0);
        break;
      case "amendedExplicit":
        if (p.newFirst) {
          version(final, p.explicitVersion + 1, 0);
          version(old, p.explicitVersion, 1);
        } else {
          version(old, p.explicitVersion, 0);
          version(final, p.explicitVersion + 1, 1);
        }
        break;
      case "amendedPlain":
        // Versionless amendments are ordered by arrival: the later one is in force.
        version(old, null, 0);
        version(final, null, 1);
        break;
      case "cancelled":
        version(final, null, 0);
        cancel(null, 2);
        break;
      case "recreated":
        if (p.newFirst) {
          version(final, 2, 0);
          cancel(1, 1);
          version(old, 1, 2);
        } else {
          version(old, 1, 0);
          cancel(1, 1);
          version(final, 2, 2);
        }
        break;
    }

    // Gateway events, each a while after the previous one.
    const stories = p.direction === "collection" ? COLLECTION_STORIES : PAYOUT_STORIES;
    const story = stories[p.story % stories.length]!;
    let t = BASE + p.storyStart * HOUR;
    story.forEach((type, k) => {
      if (k > 0) t += p.storySteps[k - 1]! * HOUR;
      const failing = type.endsWith(".failed") || type === "payment.chargeback";
      facts.events.push(
        gatewayFact({
          seq: next(),
          type,
          reference,
          at: t,
          amount: type === "payout.held" || type === "payout.released" ? 0 : p.amount,
          currency: p.currency,
          gateway: p.gateway,
          eventId: `evt_${i}_${k}`,
          failureCode: failing ? p.failureCode : null,
          holdReason: type === "payout.held" ? "risk_review" : null,
        }),
      );
    });
    if (p.foreignEvent) {
      facts.events.push(
        gatewayFact({
          seq: next(),
          type: p.direction === "collection" ? "payment.captured" : "payout.submitted",
          reference,
          at: BASE + p.storyStart * HOUR,
          amount: p.amount,
          currency: p.currency,
          gateway: p.gateway === "stripe" ? "adyen" : "stripe",
          eventId: `evt_${i}_foreign`,
        }),
      );
    }

    // Bank lines.
    const direction = settling(p.direction);
    const opposite = direction === "credit" ? "debit" : "credit";
    const on = isoDate(due + p.bankDayOffset * DAY);
    const later = isoDate(due + (p.bankDayOffset + p.laterDays) * DAY);
    // FX_REFERENCE_RATES of these worlds: EURUSD=1.25.
    const otherCurrency = p.currency === "EUR" ? "USD" : "EUR";
    const toOther = p.currency === "EUR" ? 1.25 : 0.8;
    const entry = (k: number, spec: Partial<Parameters<typeof bankFact>[0]>) =>
      facts.entries.push(
        bankFact({
          seq: next(),
          amount: p.amount,
          on,
          direction,
          currency: p.currency,
          bank: p.bankName,
          entryId: `ENT-${i}-${k}`,
          ...spec,
        }),
      );
    switch (p.bank) {
      case "none":
        break;
      case "e2e":
        entry(0, { e2e: reference });
        break;
      case "remittance":
        entry(0, { remittance: `PAYMENT ${reference} THANK YOU` });
        break;
      case "lowercase":
        entry(0, { remittance: `pmt/${reference.toLowerCase()}/` });
        break;
      case "amount":
        entry(0, { remittance: "TRANSFER" });
        break;
      case "partial":
        if (p.installments) entry(0, { amount: p.amount / 2, on: isoDate(firstDue), e2e: reference });
        else entry(0, { amount: p.amount - 100, e2e: reference });
        break;
      case "pending":
        entry(0, { status: "pending", e2e: reference });
        break;
      case "pendingEarly":
        entry(0, { status: "pending", on: isoDate(due - 2 * DAY) });
        break;
      case "duplicate":
        entry(0, { e2e: reference });
        entry(1, { e2e: reference, on: later });
        break;
      case "duplicateByAmount":
        entry(0, {});
        entry(1, { on: later });
        break;
      case "return":
        entry(0, { e2e: reference });
        entry(1, { e2e: reference, on: later, direction: opposite, status: "returned", returnReason: p.returnReason });
        break;
      case "short":
        entry(0, { amount: p.amount - 7, e2e: reference });
        break;
      case "fxInstructed":
      case "fxInstructedE2e":
        entry(0, {
          currency: otherCurrency,
          amount: Math.round(p.amount * toOther) + 3,
          instructedAmount: p.amount,
          instructedCurrency: p.currency,
          ...(p.bank === "fxInstructedE2e" ? { e2e: reference } : { remittance: "FOREIGN TRANSFER" }),
        });
        break;
      case "fxRate":
      case "fxRateShort":
        entry(0, {
          currency: otherCurrency,
          amount: Math.round(p.amount * toOther * (p.bank === "fxRate" ? 1.004 : 0.95)),
          e2e: reference,
        });
        break;
      case "fxLineRate":
        entry(0, { currency: otherCurrency, amount: Math.round(p.amount / 1.1), fxRate: 1.1, e2e: reference });
        break;
    }
    if (p.direction === "collection" && p.batched) {
      const group = `${p.gateway}/${p.currency}`;
      batchedByGroup.set(group, [...(batchedByGroup.get(group) ?? []), final]);
    }
  });

  // One settlement batch per gateway × currency of the batched collections.
  [...batchedByGroup.entries()].forEach(([group, payments], g) => {
    const bp: BatchPlan = plan.batches[g % plan.batches.length]!;
    const [gateway, currency] = group.split("/") as [string, string];
    const gross = payments.reduce((sum, payment) => sum + payment.amount_minor, 0);
    const fee = Math.min(bp.fee, gross);
    const carried = { none: 0, taken: -500, brought: 300, zero: fee - gross, negative: fee - gross - 700 }[bp.carry]!;
    const batchId = `po_${gateway}_${currency}_${g}`;
    const batchAt = BASE + bp.atHours * HOUR;
    const batch = batchFact({
      batchId,
      gateway,
      currency,
      references: payments.map((payment) => payment.reference),
      gross,
      fee,
      carried,
      at: batchAt,
      arrival: batchAt + 2 * DAY,
      eventId: `evt_batch_${g}`,
    });
    facts.batches.push(batch);
    const arrival = isoDate(batchAt + (2 + bp.arrivalShift) * DAY);
    // A negative net is paid by a debit of its absolute value; nothing pays a zero net.
    const credit = (k: number, signed: number, named: boolean, on = arrival) =>
      signed !== 0 &&
      facts.entries.push(
        bankFact({
          seq: next(),
          amount: Math.abs(signed),
          on,
          direction: signed < 0 ? "debit" : "credit",
          currency,
          remittance: named ? `${gateway.toUpperCase()} PAYOUT ${batchId}` : "PAYOUT",
          entryId: `BATCH-${g}-${k}`,
        }),
      );
    const net = gross - fee + carried;
    switch (bp.credit) {
      case "none":
        break;
      case "named":
        credit(0, net, true);
        break;
      case "byAmount":
        credit(0, net, false);
        break;
      case "wrongAmount":
        credit(0, net + 13, true);
        break;
      case "gross":
        credit(0, gross, true);
        break;
      case "twice":
        credit(0, net, true);
        credit(1, net, true, isoDate(batchAt + (3 + bp.arrivalShift) * DAY));
        break;
    }
  });

  plan.strayEntries.forEach((stray, k) => {
    facts.entries.push(
      bankFact({
        seq: next(),
        amount: stray.amount,
        on: BASE + stray.day * DAY,
        direction: stray.direction,
        currency: stray.currency,
        status: stray.status,
        remittance: "MISC TRANSFER",
        entryId: `STRAY-${k}`,
        ...(stray.instructed
          ? { instructedAmount: stray.amount, instructedCurrency: stray.currency === "EUR" ? "USD" : "EUR" }
          : {}),
      }),
    );
  });
  plan.strayEvents.forEach((stray, k) => {
    facts.events.push(
      gatewayFact({
        seq: next(),
        type: stray.type,
        reference: `ORD-9${k}`,
        at: BASE + stray.hours * HOUR,
        amount: 5_000,
        eventId: `evt_stray_${k}`,
      }),
    );
  });

  const policy = defaultPolicy({
    amountToleranceMinor: plan.tolerance,
    pendingGraceMs: plan.pendingGraceHours * HOUR,
    amountToleranceByGateway: plan.adyenOverride === null ? {} : { adyen: plan.adyenOverride },
    fxReferenceRates: { EURUSD: 1.25 },
    ...(plan.feeSchedule
      ? {
          feeSchedule: [
            { gateway: "stripe", currency: "EUR", percentPpm: 14_000, fixedMinor: 25 },
            { gateway: "stripe", currency: "*", percentPpm: 2_900, fixedMinor: 30 },
          ],
          feeTolerancePpm: 200_000,
        }
      : {}),
  });
  const now = BASE + plan.nowHours * HOUR;
  for (const decision of plan.decisions) {
    const entry = facts.entries[decision.entry % Math.max(1, facts.entries.length)];
    if (!entry) break;
    let target = `payment:exp_${decision.payment % plan.payments.length}`;
    if (decision.action === "unmatch" && decision.fromCurrent) {
      const current = reconcileWorld(facts, now, policy).entryMatches.get(entryKey(entry));
      if (current?.kind === "payment") target = `payment:${current.paymentId}`;
      if (current?.kind === "batch") target = `batch:${current.batchKey}`;
    }
    facts.decisions.push({
      seq: next(),
      bank: entry.bank,
      entryId: entry.entryId,
      action: decision.action,
      target,
      actor: "operator:0000beef",
      note: decision.action === "match" ? "customer confirmed by phone" : null,
      decidedAt: BASE + decision.hours * HOUR,
    });
  }
  for (const decision of plan.paymentDecisions) {
    facts.paymentDecisions.push({
      seq: next(),
      paymentId: `exp_${decision.payment % plan.payments.length}`,
      action: decision.reopen ? "reopen" : "write_off",
      actor: "operator:0000beef",
      note: decision.reopen ? null : "customer insolvent",
      decidedAt: BASE + decision.hours * HOUR,
    });
  }
  return { facts, now, policy };
}

// ---------------------------------------------------------------- transformations

export type Gen = fc.GeneratorValue;

export function shuffle<T>(g: Gen, items: readonly T[]): T[] {
  const out = [...items];
  for (let i = out.length - 1; i > 0; i--) {
    const j = g(fc.integer, { min: 0, max: i });
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}

export function shuffleAll(g: Gen, facts: WorldFacts): WorldFacts {
  return {
    versions: shuffle(g, facts.versions),
    events: shuffle(g, facts.events),
    batches: shuffle(g, facts.batches),
    entries: shuffle(g, facts.entries),
    decisions: shuffle(g, facts.decisions),
    paymentDecisions: shuffle(g, facts.paymentDecisions),
  };
}

/**
 * Repeats random facts: an identical copy (the same message delivered twice),
 * or a redelivery that arrived later (a later arrival number and time; the
 * store keeps the first).
 */
export function duplicateSome(g: Gen, facts: WorldFacts): WorldFacts {
  const maxSeq = Math.max(
    0,
    ...facts.versions.map((v) => v.seq),
    ...facts.events.map((e) => e.seq),
    ...facts.entries.map((e) => e.seq),
  );
  let extra = maxSeq;
  const copies = <T extends { receivedAt: number }>(items: T[], reseq: (item: T, seq: number) => T): T[] => {
    const out = [...items];
    for (const item of items) {
      const times = g(fc.integer, { min: 0, max: 2 });
      for (let k = 0; k < times; k++) {
        if (g(fc.boolean)) out.push(structuredClone(item));
        else {
          const later = {
            ...structuredClone(item),
            receivedAt: item.receivedAt + g(fc.integer, { min: 1, max: 72 }) * HOUR,
          };
          out.push(reseq(later, ++extra));
        }
      }
    }
    return out;
  };
  return {
    versions: copies(facts.versions, (v, seq) => ({ ...v, seq })),
    events: copies(facts.events, (e, seq) => ({ ...e, seq })),
    batches: copies(facts.batches, (b) => b),
    entries: copies(facts.entries, (e, seq) => ({ ...e, seq })),
    // A decision is stored once with its arrival number: only identical copies (a retried read of the table).
    decisions: [...facts.decisions, ...facts.decisions.filter(() => g(fc.boolean)).map((d) => structuredClone(d))],
    paymentDecisions: [
      ...facts.paymentDecisions,
      ...facts.paymentDecisions.filter(() => g(fc.boolean)).map((d) => structuredClone(d)),
    ],
  };
}

/** Permutes the arrival numbers of every fact except versionless amendments (whose order is their arrival). */
export function permuteSeqs(g: Gen, facts: WorldFacts): WorldFacts {
  const movable = (v: VersionFact) => v.version !== null;
  const seqs = shuffle(g, [
    ...facts.versions.filter(movable).map((v) => v.seq),
    ...facts.events.map((e) => e.seq),
    ...facts.entries.map((e) => e.seq),
  ]);
  let k = 0;
  return {
    versions: facts.versions.map((v) => (movable(v) ? { ...v, seq: seqs[k++]! } : v)),
    events: facts.events.map((e) => ({ ...e, seq: seqs[k++]! })),
    batches: facts.batches,
    entries: facts.entries.map((e) => ({ ...e, seq: seqs[k++]! })),
    // Decisions keep theirs: their order is what they mean, like versionless amendments.
    decisions: facts.decisions,
    paymentDecisions: facts.paymentDecisions,
  };
}

// ---------------------------------------------------------------- what must not change

export function byKey<T>(map: Map<string, T>): Array<[string, T]> {
  return [...map.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
}

export function project(result: WorldResult) {
  return {
    payments: byKey(result.payments).map(([id, o]) => ({
      id,
      status: o.status,
      settled: o.settledAmountMinor,
      failureCategory: o.failureCategory,
      failureCode: o.failureCode,
      retryAdvice: o.retryAdvice,
      settledLate: o.settledLate,
      settledOn: o.settledOn,
      nextDeadline: o.nextDeadline,
      exception: o.exception,
      fx: o.fx,
    })),
    entryMatches: byKey(result.entryMatches),
    batches: byKey(result.batchStates).map(([key, state]) => [key, state.state]),
    exceptions: byKey(result.exceptions).map(([key, e]) => [key, e.amountMinor, e.currency]),
  };
}
