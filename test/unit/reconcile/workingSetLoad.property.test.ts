import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { PaymentOutcome } from "../../../src/reconcile/paymentStatus.js";
import { WorkingSet } from "../../../src/reconcile/workingSet.js";
import { reconcileWorld, type WorldFacts } from "../../../src/reconcile/world.js";
import { bankFact, collection, DAY, defaultPolicy, expectedVersion, HOUR } from "./builders.js";
import { buildWorld, duplicateSome, type Gen, project, shuffleAll, worldPlan } from "./worlds.js";

/**
 * The bulk load of a restart or a takeover (WorkingSet.load) against the oracle and against `apply`: random worlds,
 * facts shuffled and some twice, a random share of them loaded at once, the rest applied afterwards in batches as
 * time passes. The loaded set must equal reconcileWorld and an incrementally built set at the load, and keep
 * equalling the oracle as facts arrive after it (its indexes, not only its outcomes, are right).
 */

const NUM_RUNS = Number(process.env.PROPERTY_RUNS ?? 500);

const KINDS = ["versions", "events", "batches", "entries", "decisions", "paymentDecisions"] as const;

/** The first `share` of each kind of fact (rounded, or up: then at least one of each kind left), and the rest. */
function split(facts: WorldFacts, share: number, round = Math.round): [WorldFacts, WorldFacts] {
  const head = {} as WorldFacts;
  const tail = {} as WorldFacts;
  for (const kind of KINDS) {
    const cut = round(facts[kind].length * share);
    (head[kind] as unknown[]) = facts[kind].slice(0, cut);
    (tail[kind] as unknown[]) = facts[kind].slice(cut);
  }
  return [head, tail];
}

function concat(a: WorldFacts, b: WorldFacts): WorldFacts {
  return Object.fromEntries(KINDS.map((kind) => [kind, [...a[kind], ...b[kind]]])) as unknown as WorldFacts;
}

/** `facts` as the restart's reader hands them over: pages of versions, of events with batches, of entries, then decisions. */
function readerPages(g: Gen, facts: WorldFacts): Array<Partial<WorldFacts>> {
  const chunks = <T>(items: T[]): T[][] => {
    const out: T[][] = [];
    for (let at = 0; at < items.length; ) {
      const size = g(fc.integer, { min: 1, max: 4 });
      out.push(items.slice(at, at + size));
      at += size;
    }
    return out;
  };
  const events = chunks(facts.events);
  const batches = chunks(facts.batches);
  return [
    ...chunks(facts.versions).map((versions) => ({ versions })),
    ...Array.from({ length: Math.max(events.length, batches.length) }, (_, i) => ({
      events: events[i] ?? [],
      batches: batches[i] ?? [],
    })),
    ...chunks(facts.entries).map((entries) => ({ entries })),
    { decisions: facts.decisions, paymentDecisions: facts.paymentDecisions },
  ];
}

/** A payment's outcome as the property tests compare it. */
function projected(outcome: PaymentOutcome | undefined) {
  if (!outcome) return undefined;
  const result = { payments: new Map([[outcome.paymentId, outcome]]), entryMatches: new Map(), batchStates: new Map() };
  return project({ ...result, exceptions: new Map() }).payments[0];
}

function keysOf(set: WorkingSet) {
  const everything = set.everything();
  return Object.fromEntries(Object.entries(everything).map(([name, keys]) => [name, [...keys].sort()]));
}

describe("a bulk-loaded working set", () => {
  it("equals reconcileWorld and apply's, and stays equal as facts arrive", { timeout: 300_000 }, () => {
    fc.assert(
      fc.property(worldPlan.map(buildWorld), fc.gen(), (world, g: Gen) => {
        const facts = shuffleAll(g, duplicateSome(g, world.facts));
        const [loaded, later] = split(facts, g(fc.integer, { min: 0, max: 10 }) / 10);
        let now = world.now - g(fc.integer, { min: 0, max: 20 * 24 }) * HOUR;

        const bulk = new WorkingSet(world.policy);
        bulk.load(loaded, now);
        const keys = bulk.everything();
        const incremental = new WorkingSet(world.policy);
        incremental.apply(loaded, now);
        expect(project(bulk.result())).toEqual(project(reconcileWorld(loaded, now, world.policy)));
        expect(project(bulk.result())).toEqual(project(incremental.result()));
        expect(keysOf(bulk)).toEqual(keysOf(incremental));
        // The same groups may leave memory a day later (a bulk load notes what is final, as apply does).
        const evictable = (set: WorkingSet) =>
          set.evictable(now + 25 * HOUR, 24 * HOUR, Number.MAX_SAFE_INTEGER).sort();
        expect(evictable(bulk)).toEqual(evictable(incremental));
        expect(Object.fromEntries(Object.entries(keys).map(([name, set]) => [name, [...set].sort()]))).toEqual(
          keysOf(incremental),
        );
        // The restart's way: each page indexed as it is read, then evaluated once.
        const paged = new WorkingSet(world.policy);
        for (const page of readerPages(g, loaded)) paged.addBeforeLoad(page);
        paged.load({}, now);
        expect(project(paged.result())).toEqual(project(bulk.result()));
        expect(keysOf(paged)).toEqual(keysOf(bulk));
        expect(evictable(paged)).toEqual(evictable(bulk));

        // The rest, in batches of one to three kinds' shares, as time passes, with the payments the load left pending
        // evaluated a random slice at a time, or one by one when asked for. A writer that starts from rows right at
        // the load and writes what each apply returns (and what it asks for) holds every evaluated payment's outcome.
        const lazy = new WorkingSet(world.policy);
        lazy.load(loaded, now);
        // Pending: exactly the payments with a version in force (a writer's comparison of them settles them all).
        expect(lazy.pendingPayments()).toBe(lazy.everything().payments.size);
        // As `load` was before it left payments pending: all evaluated at once.
        const eager = new WorkingSet(world.policy);
        eager.load(loaded, now);
        eager.settle(Number.POSITIVE_INFINITY);
        const written = new Map(
          [...reconcileWorld(loaded, now, world.policy).payments].map(([id, outcome]) => [id, projected(outcome)]),
        );
        const ids = [...written.keys()];
        let delivered = loaded;
        let rest = later;
        let first = true;
        do {
          // Rounded up: each batch delivers something (a shrunk run does not loop for ever).
          const [batch, remaining] = split(rest, g(fc.integer, { min: 1, max: 3 }) / 3, Math.ceil);
          rest = remaining;
          delivered = concat(delivered, batch);
          now = Math.min(world.now, now + g(fc.integer, { min: 0, max: 4 * 24 }) * HOUR);
          // None before the first batch: time passes first while every payment is pending.
          lazy.settle(first ? 0 : g(fc.integer, { min: 0, max: 2 }));
          first = false;
          const asked = ids.length > 0 && g(fc.boolean) ? ids[g(fc.nat, { max: ids.length - 1 })] : undefined;
          const reevaluated = lazy.apply(batch, now);
          if (asked !== undefined) written.set(asked, projected(lazy.outcomeOf(asked)));
          for (const id of reevaluated.payments) written.set(id, projected(lazy.outcomeOf(id)));
          bulk.apply(batch, now);
          eager.apply(batch, now);
          const oracle = project(reconcileWorld(delivered, now, world.policy));
          expect(project(bulk.result())).toEqual(oracle);
          expect(project(lazy.result())).toEqual(oracle);
          const evaluated = oracle.payments.filter((outcome) => !lazy.isPending(outcome.id));
          expect(evaluated.map((outcome) => written.get(outcome.id))).toEqual(evaluated);
        } while (KINDS.some((kind) => rest[kind].length > 0));
        bulk.apply({}, world.now);
        expect(project(bulk.result())).toEqual(project(reconcileWorld(delivered, world.now, world.policy)));
        // Everything settled: the next apply returns every deadline passed meanwhile.
        lazy.settle(Number.POSITIVE_INFINITY);
        expect(lazy.pendingPayments()).toBe(0);
        for (const id of lazy.apply({}, world.now).payments) written.set(id, projected(lazy.outcomeOf(id)));
        const oracle = project(reconcileWorld(delivered, world.now, world.policy));
        expect(project(lazy.result())).toEqual(oracle);
        expect(oracle.payments.map((outcome) => written.get(outcome.id))).toEqual(oracle.payments);
        // A payment a fact touched before it was evaluated starts its late-truth window at that fact, not at the load:
        // it may leave memory later than after an eager load, never sooner.
        eager.apply({}, world.now);
        const eagerEvictable = evictable(eager);
        expect(evictable(lazy).filter((ref) => !eagerEvictable.includes(ref))).toEqual([]);
      }),
      { numRuns: NUM_RUNS },
    );
  });

  it("leaves payments pending: a deadline passed meanwhile is returned by the apply after the slice that settles it", () => {
    const policy = defaultPolicy();
    const start = Date.parse("2026-03-01T00:00:00Z");
    const payment = (i: number) =>
      collection({ id: `exp_${i}`, reference: `ORD-${i}`, amount: 1_000 + i, created: start, due: start + DAY });
    const facts: Partial<WorldFacts> = {
      versions: [0, 1, 2].map((i) => expectedVersion(payment(i), { seq: i + 1, receivedAt: start })),
    };
    const set = new WorkingSet(policy);
    set.load(facts, start);
    expect(set.pendingPayments()).toBe(3);
    // Two days on, the payments are delayed; nothing was evaluated, so nothing is returned yet.
    const later = start + 2 * DAY;
    expect([...set.apply({}, later).payments]).toEqual([]);
    expect(set.pendingPayments()).toBe(3);
    // Looking does not evaluate; asking for one brings it to now.
    expect(set.result().payments.get("exp_2")?.status).toBe("delayed");
    expect(set.isPending("exp_2")).toBe(true);
    expect(set.outcomeOf("exp_2")?.status).toBe("delayed");
    expect(set.exceptionsOf("payment:exp_1").map((exception) => exception.kind)).toEqual(["delayed"]);
    expect(set.pendingPayments()).toBe(1);
    // A slice settles the last one as at the load (pending, due tomorrow): the next apply, at the same instant,
    // re-evaluates it for its writer.
    expect(set.settle(10)).toBe(1);
    expect(set.outcomeOf("exp_0")?.status).toBe("pending");
    expect([...set.apply({}, later).payments]).toEqual(["exp_0"]);
    expect(set.outcomeOf("exp_0")?.status).toBe("delayed");
    expect(set.pendingPayments()).toBe(0);
  });

  it("a payment settled after the load is final since its stored status time, and since the load without one", () => {
    const policy = defaultPolicy();
    const start = Date.parse("2026-03-01T00:00:00Z");
    const facts: Partial<WorldFacts> = { versions: [], entries: [] };
    for (const i of [0, 1]) {
      const payment = collection({ id: `exp_${i}`, reference: `ORD-${i}`, amount: 1_000, created: start, due: start });
      facts.versions!.push(expectedVersion(payment, { seq: 10 * i + 1, receivedAt: start }));
      facts.entries!.push(
        bankFact({ seq: 10 * i + 2, amount: 1_000, on: start, direction: "credit", e2e: `ORD-${i}` }),
      );
    }
    const loadedAt = start + 10 * DAY;
    const set = new WorkingSet(policy);
    set.load(facts, loadedAt);
    set.backdateFinal(new Map([["exp_1", start]]));
    set.apply({}, loadedAt + HOUR);
    set.settle(Number.POSITIVE_INFINITY);
    expect(set.evictable(loadedAt + DAY - 1, DAY, 10)).toEqual(["ORD-1"]);
    expect(set.evictable(loadedAt + DAY, DAY, 10).sort()).toEqual(["ORD-0", "ORD-1"]);
  });

  it("refuses a working set that holds facts already", () => {
    const world = buildWorld(fc.sample(worldPlan, { numRuns: 1, seed: 1 })[0]!);
    const set = new WorkingSet(world.policy);
    set.apply(world.facts, world.now);
    expect(() => set.load(world.facts, world.now)).toThrow(/only into an empty working set/);
  });
});
