import { batchKey } from "../../../src/reconcile/touched.js";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { ExpectedPayment } from "../../../src/messages/schemas.js";
import { RETRY_ADVICE } from "../../../src/reconcile/failureCodes.js";
import { PAYMENT_STATUSES, type Policy } from "../../../src/reconcile/types.js";
import { reconcileWorld, type WorldFacts, type WorldResult } from "../../../src/reconcile/world.js";
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
 * CONTRACT §1: delivery is at-least-once and unordered; "the outcome must not
 * depend on arrival order or duplicates". Random realistic worlds (collections
 * and payouts, installments, amendments, cancellations, gateway failures and
 * holds, fee-charging batches, bank returns, duplicates, pending lines, stray
 * entries whose amounts collide with payments) are reconciled as generated,
 * shuffled, duplicated and with arrival numbers permuted; the result must not
 * change. Then the §2 invariants over the same worlds.
 */

const NUM_RUNS = 1000;
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
  "duplicate",
  "duplicateByAmount",
  "return",
  "short",
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
  story: fc.integer({ min: 0, max: 7 }),
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
});
type BatchPlan = typeof batchPlan extends fc.Arbitrary<infer T> ? T : never;

const strayEntry = fc.record({
  amount: fc.constantFrom(...AMOUNTS, 777),
  direction: fc.constantFrom<"credit" | "debit">("credit", "debit"),
  day: fc.integer({ min: 0, max: 14 }),
  currency: fc.constantFrom("EUR", "USD"),
  status: fc.constantFrom<"booked" | "pending">("booked", "booked", "pending"),
});
const strayEvent = fc.record({
  type: fc.constantFrom<EventType>("payment.captured", "payout.paid", "payout.failed"),
  hours: fc.integer({ min: 0, max: 400 }),
});

const worldPlan = fc.record({
  payments: fc.array(paymentPlan, { minLength: 1, maxLength: 7 }),
  batches: fc.array(batchPlan, { minLength: 4, maxLength: 4 }),
  strayEntries: fc.array(strayEntry, { maxLength: 3 }),
  strayEvents: fc.array(strayEvent, { maxLength: 2 }),
  // Often before the due dates (pending, in flight, partial), often well after (delayed, late, grace passed).
  nowHours: fc.oneof(fc.integer({ min: 0, max: 10 * 24 }), fc.integer({ min: 0, max: 40 * 24 })),
  tolerance: fc.constantFrom(0, 0, 10),
  adyenOverride: fc.constantFrom<number | null>(null, 0, 20),
});
type WorldPlan = typeof worldPlan extends fc.Arbitrary<infer T> ? T : never;

interface BuiltWorld {
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
function buildWorld(plan: WorldPlan): BuiltWorld {
  let seq = 0;
  const next = () => ++seq;
  const facts: WorldFacts = { versions: [], events: [], batches: [], entries: [] };
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
    const story = (p.direction === "collection" ? COLLECTION_STORIES : PAYOUT_STORIES)[p.story]!;
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
    const batchId = `po_${gateway}_${currency}_${g}`;
    const batchAt = BASE + bp.atHours * HOUR;
    const batch = batchFact({
      batchId,
      gateway,
      currency,
      references: payments.map((payment) => payment.reference),
      gross,
      fee,
      at: batchAt,
      arrival: batchAt + 2 * DAY,
      eventId: `evt_batch_${g}`,
    });
    facts.batches.push(batch);
    const arrival = isoDate(batchAt + (2 + bp.arrivalShift) * DAY);
    const credit = (k: number, amount: number, named: boolean, on = arrival) =>
      facts.entries.push(
        bankFact({
          seq: next(),
          amount,
          on,
          direction: "credit",
          currency,
          remittance: named ? `${gateway.toUpperCase()} PAYOUT ${batchId}` : "PAYOUT",
          entryId: `BATCH-${g}-${k}`,
        }),
      );
    const net = gross - fee;
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
    amountToleranceByGateway: plan.adyenOverride === null ? {} : { adyen: plan.adyenOverride },
  });
  return { facts, now: BASE + plan.nowHours * HOUR, policy };
}

// ---------------------------------------------------------------- transformations

type Gen = fc.GeneratorValue;

function shuffle<T>(g: Gen, items: readonly T[]): T[] {
  const out = [...items];
  for (let i = out.length - 1; i > 0; i--) {
    const j = g(fc.integer, { min: 0, max: i });
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}

function shuffleAll(g: Gen, facts: WorldFacts): WorldFacts {
  return {
    versions: shuffle(g, facts.versions),
    events: shuffle(g, facts.events),
    batches: shuffle(g, facts.batches),
    entries: shuffle(g, facts.entries),
  };
}

/**
 * Repeats random facts: an identical copy (the same message delivered twice),
 * or a redelivery that arrived later (a later arrival number and time; the
 * store keeps the first).
 */
function duplicateSome(g: Gen, facts: WorldFacts): WorldFacts {
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
  };
}

/** Permutes the arrival numbers of every fact except versionless amendments (whose order is their arrival). */
function permuteSeqs(g: Gen, facts: WorldFacts): WorldFacts {
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
  };
}

// ---------------------------------------------------------------- what must not change

function byKey<T>(map: Map<string, T>): Array<[string, T]> {
  return [...map.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
}

function project(result: WorldResult) {
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
    })),
    entryMatches: byKey(result.entryMatches),
    batches: byKey(result.batchStates).map(([key, state]) => [key, state.state]),
    exceptions: byKey(result.exceptions).map(([key, e]) => [key, e.amountMinor, e.currency]),
  };
}

function reconcile(world: BuiltWorld, facts: WorldFacts = world.facts) {
  return reconcileWorld(facts, world.now, world.policy);
}

const worlds = worldPlan.map(buildWorld);

describe("reconcileWorld does not depend on arrival order or duplicates (CONTRACT §1)", () => {
  it("(a) any shuffle of every fact list gives the same result", { timeout: 120_000 }, () => {
    console.log(`property (a) shuffle: numRuns = ${NUM_RUNS}`);
    fc.assert(
      fc.property(worlds, fc.gen(), (world, g) => {
        expect(project(reconcile(world, shuffleAll(g, world.facts)))).toEqual(project(reconcile(world)));
      }),
      { numRuns: NUM_RUNS },
    );
  });

  it("(b) any duplication of facts (same natural key, redelivered or identical), shuffled, gives the same result", {
    timeout: 120_000,
  }, () => {
    console.log(`property (b) duplicates: numRuns = ${NUM_RUNS}`);
    fc.assert(
      fc.property(worlds, fc.gen(), (world, g) => {
        expect(project(reconcile(world, shuffleAll(g, duplicateSome(g, world.facts))))).toEqual(
          project(reconcile(world)),
        );
      }),
      { numRuns: NUM_RUNS },
    );
  });

  it("(c) permuting arrival numbers (except of versionless amendments), shuffled and duplicated, gives the same result", {
    timeout: 120_000,
  }, () => {
    console.log(`property (c) permuted seq: numRuns = ${NUM_RUNS}`);
    fc.assert(
      fc.property(worlds, fc.gen(), (world, g) => {
        const permuted = permuteSeqs(g, world.facts);
        expect(project(reconcile(world, shuffleAll(g, duplicateSome(g, permuted))))).toEqual(project(reconcile(world)));
      }),
      { numRuns: NUM_RUNS },
    );
  });
});

// ---------------------------------------------------------------- invariants

/** Candidates for an amount match, computed here from the contract's words, not by the code under test. */
function amountOracle(world: BuiltWorld, entry: WorldFacts["entries"][number]): string[] {
  const { facts, policy } = world;
  const named = new Set(facts.entries.flatMap((e) => e.tokens));
  const batched = new Set(facts.batches.flatMap((b) => b.referenceKeys));
  const within = (date: string) => Math.abs(at(entry.valueDate) - at(date)) <= policy.matchWindowMs;
  const out: string[] = [];
  for (const [id, payment, cancelled] of effectivePayments(facts)) {
    if (cancelled || payment.currency !== entry.currency || settling(payment.direction) !== entry.direction) continue;
    const key = payment.reference.toUpperCase();
    // Payments named by a bank line or listed in a batch settle that way: not amount candidates.
    if (named.has(key) || batched.has(key)) continue;
    const parts = payment.installments ?? [{ amount_minor: payment.amount_minor, due_at: payment.due_at }];
    const lastDue = parts.map((part) => part.due_at).sort()[parts.length - 1]!;
    const fits =
      (payment.amount_minor === entry.amountMinor && within(isoDate(lastDue))) ||
      parts.some((part) => part.amount_minor === entry.amountMinor && within(isoDate(part.due_at)));
    if (fits) out.push(`payment:${id}`);
  }
  for (const batch of facts.batches) {
    if (named.has(batch.batchKey) || batch.currency !== entry.currency || entry.direction !== "credit") continue;
    if (batch.netMinor === entry.amountMinor && within(batch.expectedArrival)) {
      out.push(`batch:${batchKey(batch.gateway, batch.batchId)}`);
    }
  }
  return [...new Set(out)].sort();
}

/** [id, payment in force, cancelled] per CONTRACT §1 (highest version; else the later arrival). */
function effectivePayments(facts: WorldFacts): Array<[string, ExpectedPayment, boolean]> {
  const byId = new Map<string, VersionFact[]>();
  for (const v of facts.versions) byId.set(v.paymentId, [...(byId.get(v.paymentId) ?? []), v]);
  const out: Array<[string, ExpectedPayment, boolean]> = [];
  for (const [id, versions] of byId) {
    const live = versions
      .filter((v) => v.payment)
      .sort((a, b) => (a.version ?? -1) - (b.version ?? -1) || a.seq - b.seq);
    const current = live[live.length - 1];
    if (!current?.payment) continue;
    const cancelled = versions.some(
      (v) => v.cancelled && (v.version === null || current.version === null || v.version >= current.version),
    );
    out.push([id, current.payment, cancelled]);
  }
  return out;
}

describe("invariants of every reconciled world (CONTRACT §2)", () => {
  it("statuses, amounts, failures, matches", { timeout: 120_000 }, () => {
    console.log(`invariants: numRuns = ${NUM_RUNS}`);
    fc.assert(
      fc.property(worlds, (world) => {
        const result = reconcile(world);
        const payments = effectivePayments(world.facts);

        // Every expected payment has exactly one status from the contract's list.
        expect([...result.payments.keys()].sort()).toEqual(payments.map(([id]) => id).sort());
        for (const outcome of result.payments.values()) {
          expect(PAYMENT_STATUSES).toContain(outcome.status);
        }

        const entriesByKey = new Map(world.facts.entries.map((e) => [`${e.bank}/${e.entryId}`, e]));
        const matchedTo = new Map<string, typeof world.facts.entries>();
        for (const [key, match] of result.entryMatches) {
          if (match.kind === "payment")
            matchedTo.set(match.paymentId, [...(matchedTo.get(match.paymentId) ?? []), entriesByKey.get(key)!]);
        }
        const duplicateOwners = new Map<string, string>();

        for (const [id, payment] of payments) {
          const outcome = result.payments.get(id)!;
          const tolerance = world.policy.amountToleranceByGateway[payment.gateway] ?? world.policy.amountToleranceMinor;

          // Failed ⇔ a failure category, whose advice is the contract's; otherwise none.
          if (outcome.status === "failed") {
            expect(outcome.failureCategory).not.toBeNull();
            expect(outcome.retryAdvice).toBe(RETRY_ADVICE[outcome.failureCategory!]);
          } else {
            expect(outcome.failureCategory).toBeNull();
            expect(outcome.retryAdvice).toBeNull();
          }
          if (outcome.settledLate) expect(outcome.status).toBe("settled");

          // Settled never exceeds what the bank shows: its own settling entries, plus a settled batch listing it.
          const own = (matchedTo.get(id) ?? []).filter(
            (e) =>
              e.status === "booked" && e.currency === payment.currency && e.direction === settling(payment.direction),
          );
          const inSettledBatch = world.facts.batches.some(
            (b) =>
              b.gateway === payment.gateway &&
              b.referenceKeys.includes(payment.reference.toUpperCase()) &&
              result.batchStates.get(batchKey(b.gateway, b.batchId))?.state === "settled",
          );
          const bound = own.reduce((sum, e) => sum + e.amountMinor, 0) + (inSettledBatch ? payment.amount_minor : 0);
          expect(outcome.settledAmountMinor).toBeLessThanOrEqual(bound);

          // Settled means the bank shows the full amount (within the tolerance).
          if (outcome.status === "settled") {
            expect(Math.abs(outcome.settledAmountMinor - payment.amount_minor)).toBeLessThanOrEqual(tolerance);
          }

          // A duplicate is an entry matched to this payment, and to no other.
          for (const dup of outcome.duplicateEntries) {
            const key = `${dup.bank}/${dup.entryId}`;
            expect(result.entryMatches.get(key)).toMatchObject({ kind: "payment", paymentId: id });
            expect(duplicateOwners.has(key)).toBe(false);
            duplicateOwners.set(key, id);
          }
        }

        // No bank entry settles two payments: each entry has one match, and the settled amounts of
        // payments settled without a batch add up to no more than the entries matched to them.
        expect(result.entryMatches.size).toBe(new Set(world.facts.entries.map((e) => `${e.bank}/${e.entryId}`)).size);

        // An entry matched by amount has exactly one candidate; an ambiguous one by amount has several.
        for (const [key, match] of result.entryMatches) {
          const entry = entriesByKey.get(key)!;
          if (match.kind !== "none" && match.kind !== "ambiguous" && match.method === "amount") {
            const target = match.kind === "payment" ? `payment:${match.paymentId}` : `batch:${match.batchKey}`;
            expect(amountOracle(world, entry)).toEqual([target]);
          }
          if (match.kind === "ambiguous" && match.method === "amount") {
            expect(amountOracle(world, entry)).toEqual(match.candidates);
          }
          // And the other way round: a booked entry naming nothing with exactly one candidate is matched to it.
          const namesSomething = entry.tokens.some(
            (token) =>
              [...result.payments.values()].some((o) => o.payment.reference.toUpperCase() === token) ||
              world.facts.batches.some((b) => b.batchKey === token),
          );
          if (entry.status === "booked" && !namesSomething) {
            const candidates = amountOracle(world, entry);
            if (candidates.length === 1) expect(match).toMatchObject({ method: "amount" });
            if (candidates.length > 1) expect(match).toMatchObject({ kind: "ambiguous", method: "amount" });
            if (candidates.length === 0) expect(match).toEqual({ kind: "none" });
          }
        }
      }),
      { numRuns: NUM_RUNS },
    );
  });
});
