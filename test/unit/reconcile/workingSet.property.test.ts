import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { BatchState } from "../../../src/reconcile/batchSettlement.js";
import { EvictedIndex, type StoredGroup } from "../../../src/reconcile/evicted.js";
import { type DesiredException, exceptionKey } from "../../../src/reconcile/exceptions.js";
import type { EntryMatch } from "../../../src/reconcile/matching.js";
import type { PaymentOutcome } from "../../../src/reconcile/paymentStatus.js";
import { type Reevaluated, WorkingSet } from "../../../src/reconcile/workingSet.js";
import { entryKey, reconcileWorld, type WorldFacts, type WorldResult } from "../../../src/reconcile/world.js";
import { bankFact, collection, DAY, defaultPolicy, expectedVersion, HOUR } from "./builders.js";
import { buildWorld, duplicateSome, type Gen, project, shuffle, worldPlan } from "./worlds.js";

/**
 * Engine v2's working set (docs/architecture.md §3) against the oracle: the same random worlds as
 * world.property.test.ts, every fact delivered in a random order, some twice, in random batches, with
 * time moving forward between batches. After every batch the working set must equal reconcileWorld
 * over the facts delivered so far, at that batch's time.
 */

const NUM_RUNS = Number(process.env.PROPERTY_RUNS ?? 500);

type Delivery = { [K in keyof WorldFacts]: { kind: K; fact: WorldFacts[K][number] } }[keyof WorldFacts];

function deliveries(g: Gen, facts: WorldFacts): Delivery[] {
  return shuffle(g, [
    ...facts.versions.map((fact) => ({ kind: "versions", fact }) as const),
    ...facts.events.map((fact) => ({ kind: "events", fact }) as const),
    ...facts.batches.map((fact) => ({ kind: "batches", fact }) as const),
    ...facts.entries.map((fact) => ({ kind: "entries", fact }) as const),
    // Operators' decisions interleaved anywhere, even before the entry or payment they name.
    ...facts.decisions.map((fact) => ({ kind: "decisions", fact }) as const),
    ...facts.paymentDecisions.map((fact) => ({ kind: "paymentDecisions", fact }) as const),
  ]);
}

function collect(items: Delivery[]): WorldFacts {
  const facts: WorldFacts = { versions: [], events: [], batches: [], entries: [], decisions: [], paymentDecisions: [] };
  for (const item of items) (facts[item.kind] as unknown[]).push(item.fact);
  return facts;
}

describe("the working set equals reconcileWorld after every batch", () => {
  it("any order, duplicates, batch sizes and passing time", { timeout: 300_000 }, () => {
    console.log(`working set property: numRuns = ${NUM_RUNS}`);
    fc.assert(
      fc.property(worldPlan.map(buildWorld), fc.gen(), (world, g) => {
        const all = deliveries(g, duplicateSome(g, world.facts));
        const set = new WorkingSet(world.policy);
        // Time runs from well before the world's `now` up to it (deadlines pass between batches).
        let now = world.now - g(fc.integer, { min: 0, max: 20 * 24 }) * HOUR;
        let delivered = 0;
        while (delivered < all.length) {
          const size = g(fc.integer, { min: 1, max: Math.max(1, Math.ceil(all.length / 3)) });
          const batch = all.slice(delivered, delivered + size);
          delivered += batch.length;
          now = Math.min(world.now, now + g(fc.integer, { min: 0, max: 4 * 24 }) * HOUR);
          set.apply(collect(batch), now);
          const oracle = reconcileWorld(collect(all.slice(0, delivered)), now, world.policy);
          expect(project(set.result())).toEqual(project(oracle));
        }
        // And once more at the world's own time, with nothing new.
        set.apply({}, world.now);
        expect(project(set.result())).toEqual(project(reconcileWorld(collect(all), world.now, world.policy)));
      }),
      { numRuns: NUM_RUNS },
    );
  });
});

/**
 * Bounded memory (docs/architecture.md §4 step 4): the same deliveries, with random groups of final payments
 * evicted between batches and loaded back from the fact log (PostgreSQL's part, simulated) whenever what
 * `reloadQuery` asks for names them (answered by an EvictedIndex of what `evict` returned). The writer's stored state — what each `apply` re-evaluated, written as the writer writes it —
 * must equal reconcileWorld after every batch, for what is in memory and for what was evicted alike.
 */
interface Stored {
  payments: Map<string, PaymentOutcome>;
  entryMatches: Map<string, EntryMatch>;
  batchStates: Map<string, BatchState>;
  exceptionsByOwner: Map<string, DesiredException[]>;
}

function write(stored: Stored, set: WorkingSet, touched: Reevaluated): void {
  for (const id of touched.payments) {
    const outcome = set.outcomeOf(id);
    if (outcome) stored.payments.set(id, outcome);
    else stored.payments.delete(id);
    stored.exceptionsByOwner.set(`payment:${id}`, set.exceptionsOf(`payment:${id}`));
  }
  for (const key of touched.entries) {
    stored.entryMatches.set(key, set.entryOf(key).match);
    stored.exceptionsByOwner.set(`entry:${key}`, set.exceptionsOf(`entry:${key}`));
  }
  for (const key of touched.batches) {
    stored.batchStates.set(key, set.batchOf(key).state);
    stored.exceptionsByOwner.set(`batch:${key}`, set.exceptionsOf(`batch:${key}`));
  }
  for (const key of touched.events) stored.exceptionsByOwner.set(`event:${key}`, set.exceptionsOf(`event:${key}`));
}

function storedResult(stored: Stored): WorldResult {
  const exceptions = new Map<string, DesiredException>();
  for (const owned of stored.exceptionsByOwner.values()) {
    for (const exception of owned) exceptions.set(exceptionKey(exception), exception);
  }
  return { payments: stored.payments, entryMatches: stored.entryMatches, batchStates: stored.batchStates, exceptions };
}

/** What the reconciler's loader reads from PostgreSQL for evicted groups: their facts and their entries' matches. */
function loadGroups(log: WorldFacts, groups: StoredGroup[], stored: Stored) {
  const ids = new Set(groups.flatMap((group) => group.paymentIds));
  const refs = new Set(groups.map((group) => group.referenceKey));
  const entries = new Set(groups.flatMap((group) => group.entryKeys));
  return {
    facts: {
      versions: log.versions.filter((version) => ids.has(version.paymentId)),
      events: log.events.filter((event) => refs.has(event.referenceKey)),
      entries: log.entries.filter((entry) => entries.has(entryKey(entry))),
      decisions: log.decisions.filter((decision) => entries.has(entryKey(decision))),
      paymentDecisions: log.paymentDecisions.filter((decision) => ids.has(decision.paymentId)),
    },
    matches: new Map([...entries].map((key) => [key, stored.entryMatches.get(key)!])),
  };
}

describe("the working set with evictions and reloads equals reconcileWorld after every batch", () => {
  it("final payments evicted at random, reloaded when touched", { timeout: 300_000 }, () => {
    let evicted = 0;
    let reloaded = 0;
    fc.assert(
      fc.property(worldPlan.map(buildWorld), fc.gen(), (world, g) => {
        const all = deliveries(g, duplicateSome(g, world.facts));
        const set = new WorkingSet(world.policy);
        const index = new EvictedIndex(world.policy);
        const toReload = (facts: Partial<WorldFacts>) =>
          index.take(set.reloadQuery(facts), (ref) => set.holdsGroup(ref));
        const stored: Stored = {
          payments: new Map(),
          entryMatches: new Map(),
          batchStates: new Map(),
          exceptionsByOwner: new Map(),
        };
        let now = world.now - g(fc.integer, { min: 0, max: 20 * 24 }) * HOUR;
        let delivered = 0;
        // `before`: what PostgreSQL held before this batch's transaction: the loader leaves out the rows it stored.
        const step = (facts: Partial<WorldFacts>, before: WorldFacts, log: WorldFacts, at: number) => {
          for (let group = toReload(facts); group.length > 0; group = toReload(facts)) {
            reloaded += group.length;
            set.restore(group, loadGroups(before, group, stored));
          }
          // Only what `apply` re-evaluated is written, as by the writer: what was restored must be as stored.
          write(stored, set, set.apply(facts, at));
          const leaving = set
            .evictable(at, g(fc.constantFrom, 0, 0, 6 * HOUR, 48 * HOUR), g(fc.integer, { min: 1, max: 20 }))
            .filter(() => g(fc.integer, { min: 0, max: 3 }) > 0);
          evicted += leaving.length;
          for (const group of set.evict(leaving)) index.add(group);
          expect(project(storedResult(stored))).toEqual(project(reconcileWorld(log, at, world.policy)));
        };
        while (delivered < all.length) {
          const size = g(fc.integer, { min: 1, max: Math.max(1, Math.ceil(all.length / 3)) });
          const batch = all.slice(delivered, delivered + size);
          delivered += batch.length;
          now = Math.min(world.now, now + g(fc.integer, { min: 0, max: 4 * 24 }) * HOUR);
          step(collect(batch), collect(all.slice(0, delivered - batch.length)), collect(all.slice(0, delivered)), now);
        }
        step({}, collect(all), collect(all), world.now);
      }),
      { numRuns: NUM_RUNS },
    );
    console.log(`evictions: ${evicted} groups evicted, ${reloaded} loaded back`);
    expect(evicted).toBeGreaterThan(NUM_RUNS);
    expect(reloaded).toBeGreaterThan(NUM_RUNS / 10);
  });
});

describe("the late-truth window (WORKING_SET_EVICT_AFTER)", () => {
  it("starts when a payment became final, and for a working set loaded whole, when its stored status began", () => {
    const policy = defaultPolicy();
    const start = Date.parse("2026-03-01T00:00:00Z");
    const settledPair = (i: number): Partial<WorldFacts> => {
      const payment = collection({
        id: `exp_${i}`,
        reference: `ORD-${i}`,
        amount: 1_000 + i,
        created: start,
        due: start + DAY,
      });
      return {
        versions: [expectedVersion(payment, { seq: 10 * i + 1, receivedAt: start })],
        entries: [bankFact({ seq: 10 * i + 2, amount: 1_000 + i, on: start, direction: "credit", e2e: `ORD-${i}` })],
      };
    };
    const facts = {
      versions: [0, 1].flatMap((i) => settledPair(i).versions!),
      entries: [0, 1].flatMap((i) => settledPair(i).entries!),
    };
    const final = start + 9 * HOUR;
    const set = new WorkingSet(policy);
    set.apply(facts, final);
    expect(set.outcomeOf("exp_0")?.status).toBe("settled");
    expect(set.evictable(final + DAY - 1, DAY, 10)).toEqual([]);
    expect(set.evictable(final + DAY, DAY, 10).sort()).toEqual(["ORD-0", "ORD-1"]);

    // Loaded whole two days later (a restart): every window would start again, but the stored status times say when.
    const loaded = new WorkingSet(policy);
    loaded.apply(facts, final + 2 * DAY);
    expect(loaded.evictable(final + 2 * DAY, DAY, 10)).toEqual([]);
    loaded.backdateFinal(new Map([["exp_1", final]]));
    expect(loaded.evictable(final + 2 * DAY, DAY, 10)).toEqual(["ORD-1"]);
    loaded.evict(["ORD-1"]);
    expect(loaded.memoryCounts()).toEqual({ payments: 1, entries: 1, evictedPayments: 1, evictedEntries: 1 });
  });
});
