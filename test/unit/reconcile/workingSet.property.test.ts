import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { WorkingSet } from "../../../src/reconcile/workingSet.js";
import { reconcileWorld, type WorldFacts } from "../../../src/reconcile/world.js";
import { HOUR } from "./builders.js";
import { buildWorld, duplicateSome, type Gen, project, shuffle, worldPlan } from "./worlds.js";

/**
 * Engine v2's working set (docs/architecture.md §3) against the oracle: the same random worlds as
 * world.property.test.ts, every fact delivered in a random order, some twice, in random batches, with
 * time moving forward between batches. After every batch the working set must equal reconcileWorld
 * over the facts delivered so far, at that batch's time.
 */

const NUM_RUNS = 500;

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
