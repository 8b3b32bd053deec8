import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { WorkingSet } from "../../../src/reconcile/workingSet.js";
import { reconcileWorld, type WorldFacts } from "../../../src/reconcile/world.js";
import { HOUR } from "./builders.js";
import { buildWorld, duplicateSome, type Gen, project, shuffleAll, worldPlan } from "./worlds.js";

/**
 * The bulk load of a restart or a takeover (WorkingSet.load) against the oracle and against `apply`: random worlds,
 * facts shuffled and some twice, a random share of them loaded at once, the rest applied afterwards in batches as
 * time passes. The loaded set must equal reconcileWorld and an incrementally built set at the load, and keep
 * equalling the oracle as facts arrive after it (its indexes, not only its outcomes, are right).
 */

const NUM_RUNS = Number(process.env.PROPERTY_RUNS ?? 500);

const KINDS = ["versions", "events", "batches", "entries", "decisions", "paymentDecisions"] as const;

/** The first `share` of each kind of fact, and the rest. */
function split(facts: WorldFacts, share: number): [WorldFacts, WorldFacts] {
  const head = {} as WorldFacts;
  const tail = {} as WorldFacts;
  for (const kind of KINDS) {
    const cut = Math.round(facts[kind].length * share);
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
        const keys = bulk.load(loaded, now);
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

        // The rest, in batches of one to three kinds' shares, as time passes.
        let delivered = loaded;
        let rest = later;
        while (KINDS.some((kind) => rest[kind].length > 0)) {
          const [batch, remaining] = split(rest, g(fc.integer, { min: 1, max: 3 }) / 3);
          rest = remaining;
          delivered = concat(delivered, batch);
          now = Math.min(world.now, now + g(fc.integer, { min: 0, max: 4 * 24 }) * HOUR);
          bulk.apply(batch, now);
          expect(project(bulk.result())).toEqual(project(reconcileWorld(delivered, now, world.policy)));
        }
        bulk.apply({}, world.now);
        expect(project(bulk.result())).toEqual(project(reconcileWorld(delivered, world.now, world.policy)));
      }),
      { numRuns: NUM_RUNS },
    );
  });

  it("refuses a working set that holds facts already", () => {
    const world = buildWorld(fc.sample(worldPlan, { numRuns: 1, seed: 1 })[0]!);
    const set = new WorkingSet(world.policy);
    set.apply(world.facts, world.now);
    expect(() => set.load(world.facts, world.now)).toThrow(/only into an empty working set/);
  });
});
