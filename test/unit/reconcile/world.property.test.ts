import { batchKey } from "../../../src/reconcile/touched.js";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { ExpectedPayment } from "../../../src/messages/schemas.js";
import { RETRY_ADVICE } from "../../../src/reconcile/failureCodes.js";
import { convertMinor, fxRateFor, instructedIn } from "../../../src/reconcile/fx.js";
import { PAYMENT_STATUSES } from "../../../src/reconcile/types.js";
import { reconcileWorld, utcDateOf, type WorldFacts } from "../../../src/reconcile/world.js";
import { at, isoDate, settling, type VersionFact } from "./builders.js";
import { type BuiltWorld, buildWorld, duplicateSome, permuteSeqs, project, shuffleAll, worldPlan } from "./worlds.js";

/**
 * CONTRACT §1: delivery is at-least-once and unordered; "the outcome must not
 * depend on arrival order or duplicates". Random realistic worlds (collections
 * and payouts, installments, amendments, cancellations, gateway failures and
 * holds, fee-charging batches, bank returns, duplicates, pending lines, stray
 * entries whose amounts collide with payments) are reconciled as generated,
 * shuffled, duplicated and with arrival numbers permuted; the result must not
 * change. Then the §2 invariants over the same worlds.
 */

const NUM_RUNS = Number(process.env.PROPERTY_RUNS ?? 1000);

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
    // A line in another currency fits by its instructed amount in the payment's currency (CONTRACT §8 "FX").
    const amount =
      payment.currency === entry.currency
        ? entry.amountMinor
        : entry.instructedCurrency === payment.currency
          ? entry.instructedAmountMinor
          : undefined;
    if (cancelled || amount == null || settling(payment.direction) !== entry.direction) continue;
    const key = payment.reference.toUpperCase();
    // Payments named by a bank line or listed in a batch settle that way: not amount candidates.
    if (named.has(key) || batched.has(key)) continue;
    const parts = payment.installments ?? [{ amount_minor: payment.amount_minor, due_at: payment.due_at }];
    const lastDue = parts.map((part) => part.due_at).sort()[parts.length - 1]!;
    const fits =
      (payment.amount_minor === amount && within(isoDate(lastDue))) ||
      parts.some((part) => part.amount_minor === amount && within(isoDate(part.due_at)));
    if (fits) out.push(`payment:${id}`);
  }
  for (const batch of facts.batches) {
    if (named.has(batch.batchKey) || batch.currency !== entry.currency) continue;
    // CONTRACT §8: a credit pays a positive net, a debit of its absolute value a negative one.
    const signed = entry.direction === "credit" ? entry.amountMinor : -entry.amountMinor;
    if (batch.netMinor === signed && within(batch.expectedArrival)) {
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
          // A line in another currency counts by its amount in the payment's currency (CONTRACT §8 "FX").
          const inOwnCurrency = (e: (typeof world.facts.entries)[number]) => {
            if (e.currency === payment.currency) return e.amountMinor;
            const instructed = instructedIn(e, payment.currency);
            if (instructed !== undefined || e.instructedCurrency) return instructed ?? 0;
            const rate = fxRateFor(e, payment.currency, world.policy);
            return rate === undefined ? 0 : convertMinor(e.amountMinor, e.currency, payment.currency, rate);
          };
          const own = (matchedTo.get(id) ?? []).filter(
            (e) => e.status === "booked" && e.direction === settling(payment.direction),
          );
          const inSettledBatch = world.facts.batches.some(
            (b) =>
              b.gateway === payment.gateway &&
              b.referenceKeys.includes(payment.reference.toUpperCase()) &&
              result.batchStates.get(batchKey(b.gateway, b.batchId))?.state === "settled",
          );
          const bound = own.reduce((sum, e) => sum + inOwnCurrency(e), 0) + (inSettledBatch ? payment.amount_minor : 0);
          expect(outcome.settledAmountMinor).toBeLessThanOrEqual(bound);

          // Settled means the bank shows the full amount (within the tolerance).
          // Settled means the bank shows the full amount (within the tolerance; converted at a rate, within
          // FX_TOLERANCE, the rest being the FX difference).
          if (outcome.status === "settled") {
            const fxAllowance = Math.abs(outcome.fx?.differenceMinor ?? 0);
            expect(fxAllowance).toBeLessThanOrEqual(Math.ceil(payment.amount_minor * 0.01));
            expect(Math.abs(outcome.settledAmountMinor - payment.amount_minor)).toBeLessThanOrEqual(
              tolerance + fxAllowance,
            );
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

        // CONTRACT §7: an operator's last word on an entry stands. Its last `match` wins over every rule (unless
        // an unmatch of that payment followed); a pairing it unmatched is never made again by a rule.
        const decided = new Set<string>();
        for (const decision of [...world.facts.decisions].sort((a, b) => a.seq - b.seq)) {
          decided.add(`${decision.bank}/${decision.entryId}`);
        }
        for (const key of decided) {
          const match = result.entryMatches.get(key);
          if (!match) continue;
          const mine = world.facts.decisions
            .filter((d) => `${d.bank}/${d.entryId}` === key)
            .sort((a, b) => a.seq - b.seq);
          const lastMatch = mine.filter((d) => d.action === "match").at(-1);
          const undone =
            lastMatch &&
            mine.some((d) => d.seq > lastMatch.seq && d.action === "unmatch" && d.target === lastMatch.target);
          if (lastMatch && !undone) {
            expect(match).toMatchObject({ kind: "payment", paymentId: lastMatch.target.slice(8), method: "manual" });
          } else {
            expect(match.kind === "payment" && match.method === "manual").toBe(false);
            // A pairing stays forbidden from its unmatch until a later manual match of that same pairing.
            const forbidden = new Set<string>();
            for (const d of mine) {
              if (d.action === "unmatch") forbidden.add(d.target);
              else forbidden.delete(d.target);
            }
            const target =
              match.kind === "payment"
                ? `payment:${match.paymentId}`
                : match.kind === "batch"
                  ? `batch:${match.batchKey}`
                  : "";
            expect(forbidden.has(target)).toBe(false);
            if (match.kind === "ambiguous")
              for (const candidate of match.candidates) expect(forbidden.has(candidate)).toBe(false);
          }
        }

        // An entry matched by amount has exactly one candidate; an ambiguous one by amount has several
        // (the rules alone: entries an operator decided on are checked above).
        for (const [key, match] of result.entryMatches) {
          if (decided.has(key)) continue;
          const entry = entriesByKey.get(key)!;
          if (match.kind !== "none" && match.kind !== "ambiguous" && match.method === "amount") {
            const target = match.kind === "payment" ? `payment:${match.paymentId}` : `batch:${match.batchKey}`;
            expect(amountOracle(world, entry)).toEqual([target]);
          }
          if (match.kind === "ambiguous" && match.method === "amount") {
            expect(amountOracle(world, entry)).toEqual(match.candidates);
          }
          // And the other way round: a booked or pending entry naming nothing with exactly one candidate is matched to it.
          const namesSomething = entry.tokens.some(
            (token) =>
              [...result.payments.values()].some((o) => o.payment.reference.toUpperCase() === token) ||
              world.facts.batches.some((b) => b.batchKey === token),
          );
          if (entry.status !== "returned" && !namesSomething) {
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

describe("a target's due dates", () => {
  it("are the UTC date of the due time, read off the text when it is in UTC already", () => {
    expect(utcDateOf("2026-11-21T00:00:00Z")).toBe("2026-11-21");
    expect(utcDateOf("2026-11-21T23:59:59.999999z")).toBe("2026-11-21");
    expect(utcDateOf("2026-11-21T23:30:00-02:00")).toBe("2026-11-22");
    expect(utcDateOf("2026-11-21T01:30:00+02:00")).toBe("2026-11-20");
  });
});
