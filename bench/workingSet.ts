/**
 * The working set (engine v2's in-memory state, docs/architecture.md) alone: CPU per fact as the set
 * grows, memory per payment, and the time to load it whole (what a restart or a standby's takeover
 * costs before PostgreSQL reads). No I/O: what the pure core costs, the floor under the writer.
 *
 *   npm run bench:core                 # 200,000 payments
 *   BENCH_CORE_PAYMENTS=1000000 npm run bench:core
 *   BENCH_CORE_LOAD_ONLY=1 npm run bench:core   # the load whole alone: apply against the bulk load, CPU time
 */
import { EvictedIndex } from "../src/reconcile/evicted.js";
import { WorkingSet } from "../src/reconcile/workingSet.js";
import type { WorldFacts } from "../src/reconcile/world.js";
import {
  bankFact,
  batchFact,
  DAY,
  defaultPolicy,
  expectedPayment,
  expectedVersion,
  gatewayFact,
  HOUR,
  MINUTE,
} from "../test/unit/reconcile/builders.js";

const PAYMENTS = Number(process.env.BENCH_CORE_PAYMENTS ?? 200_000);
const BATCH_FACTS = 2_000;
const START = Date.parse("2026-01-01T00:00:00Z");

/**
 * A realistic stream, in arrival order: each payment's expected version, then its capture or payout
 * event; 70 % settled by an end-to-end id, 10 % in a gateway settlement batch of 50 paid by one named
 * credit, 10 % by amount and date, 10 % never settled (they turn delayed as time passes).
 */
function stream(): Array<{ facts: Partial<WorldFacts>; at: number }> {
  let seq = 0;
  const items: Array<{ facts: Partial<WorldFacts>; at: number }> = [];
  let batched: string[] = [];
  let batchGross = 0;
  for (let i = 0; i < PAYMENTS; i++) {
    const at = START + i * 200; // 5,000 payments a second of facts
    const direction = i % 4 === 3 ? "payout" : "collection";
    const reference = `ORD-${i}`;
    const amount = 1_000 + (i % 9_973) * 7 + (i % 10 === 8 ? 1_000_000 + i : 0);
    const payment = expectedPayment(direction, {
      id: `exp_${i}`,
      reference,
      amount,
      created: at,
      due: at + 3 * DAY,
    });
    items.push({ facts: { versions: [expectedVersion(payment, { seq: ++seq, receivedAt: at })] }, at });
    items.push({
      facts: {
        events: [
          gatewayFact({
            seq: ++seq,
            type: direction === "collection" ? "payment.captured" : "payout.paid",
            reference,
            at: at + MINUTE,
            amount,
          }),
        ],
      },
      at: at + MINUTE,
    });
    const kind = i % 10;
    const settle = (entry: Parameters<typeof bankFact>[0]) =>
      items.push({ facts: { entries: [bankFact(entry)] }, at: at + HOUR });
    const credit = direction === "collection" ? "credit" : "debit";
    if (kind < 7) settle({ seq: ++seq, amount, on: at + HOUR, direction: credit, e2e: reference });
    else if (kind === 8) settle({ seq: ++seq, amount, on: at + HOUR, direction: credit, remittance: "TRANSFER" });
    else if (kind === 7 && direction === "collection") {
      batched.push(reference);
      batchGross += amount;
      if (batched.length === 50) {
        const batchId = `po_${i}`;
        items.push({
          facts: {
            batches: [batchFact({ batchId, references: batched, gross: batchGross, fee: 100, at: at + HOUR })],
            entries: [
              bankFact({
                seq: ++seq,
                amount: batchGross - 100,
                on: at + DAY,
                direction: "credit",
                remittance: `STRIPE PAYOUT ${batchId}`,
              }),
            ],
          },
          at: at + HOUR,
        });
        batched = [];
        batchGross = 0;
      }
    }
  }
  return items.sort((a, b) => a.at - b.at);
}

function merge(items: Array<{ facts: Partial<WorldFacts> }>): Partial<WorldFacts> {
  const out: WorldFacts = { versions: [], events: [], batches: [], entries: [], decisions: [], paymentDecisions: [] };
  for (const { facts } of items) {
    out.versions.push(...(facts.versions ?? []));
    out.events.push(...(facts.events ?? []));
    out.batches.push(...(facts.batches ?? []));
    out.entries.push(...(facts.entries ?? []));
    out.decisions.push(...(facts.decisions ?? []));
    out.paymentDecisions.push(...(facts.paymentDecisions ?? []));
  }
  return out;
}

const factsIn = (facts: Partial<WorldFacts>) =>
  (facts.versions?.length ?? 0) +
  (facts.events?.length ?? 0) +
  (facts.batches?.length ?? 0) +
  (facts.entries?.length ?? 0);

function main() {
  const policy = defaultPolicy();
  const items = stream();
  const total = items.reduce((sum, item) => sum + factsIn(item.facts), 0);
  console.log(`${PAYMENTS} payments, ${total} facts, applied in batches of ${BATCH_FACTS}`);
  global.gc?.();
  const heapBefore = process.memoryUsage().heapUsed;
  const set = new WorkingSet(policy);
  const tenth = Math.ceil(items.length / 10);
  let applied = 0;
  let windowFacts = 0;
  let windowMs = 0;
  let allMs = 0;
  for (let start = 0; start < items.length; start += BATCH_FACTS) {
    const slice = items.slice(start, start + BATCH_FACTS);
    const facts = merge(slice);
    const began = performance.now();
    set.apply(facts, slice[slice.length - 1]!.at);
    const ms = performance.now() - began;
    windowMs += ms;
    allMs += ms;
    windowFacts += factsIn(facts);
    applied += slice.length;
    if (applied % tenth < BATCH_FACTS || applied === items.length) {
      console.log(
        `  ${Math.round((100 * applied) / items.length)}% applied: ${((1000 * windowMs) / windowFacts).toFixed(1)} µs per fact in this tenth`,
      );
      windowFacts = 0;
      windowMs = 0;
    }
  }
  global.gc?.();
  const heapAfter = process.memoryUsage().heapUsed;
  const result = set.result();
  const statuses = new Map<string, number>();
  for (const outcome of result.payments.values()) statuses.set(outcome.status, (statuses.get(outcome.status) ?? 0) + 1);
  console.log(`incremental: ${((1000 * allMs) / total).toFixed(1)} µs per fact over the whole stream`);
  console.log(`statuses: ${JSON.stringify(Object.fromEntries(statuses))}`);
  console.log(
    `heap: ${Math.round((heapAfter - heapBefore) / PAYMENTS)} bytes per payment (all facts and outcomes in memory)`,
  );
  // Bounded memory (docs/architecture.md §4 step 4): a week later, every group that may leave memory does.
  const later = items[items.length - 1]!.at + 7 * DAY;
  set.apply({}, later);
  const evictBegan = performance.now();
  // The writer keeps nothing of an evicted group (PostgreSQL finds them); here an EvictedIndex answers the lookups.
  let index: EvictedIndex | undefined = new EvictedIndex(policy);
  for (let groups = set.evictable(later, DAY, 10_000); groups.length > 0; groups = set.evictable(later, DAY, 10_000)) {
    for (const group of set.evict(groups)) index.add(group);
  }
  const evictMs = performance.now() - evictBegan;
  // What finding reloads costs: the last tenth of the stream's facts delivered again, as late facts.
  const late = merge(items.slice(items.length - tenth));
  const lookupBegan = performance.now();
  const query = set.reloadQuery(late)!;
  const queryMs = performance.now() - lookupBegan;
  const named = [...index.find(query)].filter((ref) => !set.holdsGroup(ref));
  const lookupMs = performance.now() - lookupBegan;
  global.gc?.();
  const heapIndexed = process.memoryUsage().heapUsed;
  index = undefined;
  global.gc?.();
  const heapEvicted = process.memoryUsage().heapUsed;
  const counts = set.memoryCounts();
  const perPayment = (heap: number) => Math.round((heap - heapBefore) / PAYMENTS);
  console.log(
    `evicted: ${counts.evictedPayments} payments (${counts.evictedEntries} entries) in ${Math.round(evictMs)} ms; ` +
      `${counts.payments} payments and ${counts.entries} entries left in memory; heap ` +
      `${Math.round((heapEvicted - heapBefore) / 1024 / 1024)} MiB (was ${Math.round((heapAfter - heapBefore) / 1024 / 1024)} MiB), ` +
      `${perPayment(heapEvicted)} bytes per payment; with an in-memory EvictedIndex ${perPayment(heapIndexed)}`,
  );
  console.log(
    `reload lookup: ${((1000 * lookupMs) / factsIn(late)).toFixed(1)} µs per late fact with an EvictedIndex, ` +
      `${((1000 * queryMs) / factsIn(late)).toFixed(1)} µs of it the query (${factsIn(late)} facts name ` +
      `${named.length} evicted groups)`,
  );
  loadWhole(policy, items);
}

/** A restart or a takeover loads everything at once: `apply` of every fact against the bulk `load`, CPU time. */
function loadWhole(policy: ReturnType<typeof defaultPolicy>, items: Array<{ facts: Partial<WorldFacts>; at: number }>) {
  const facts = merge(items);
  const at = items[items.length - 1]!.at;
  const cpuMs = (run: () => void) => {
    const began = process.cpuUsage();
    run();
    const used = process.cpuUsage(began);
    return (used.user + used.system) / 1000;
  };
  global.gc?.();
  // BENCH_CORE_LOAD_ONLY=bulk: the bulk load alone (to profile it).
  const applyMs =
    process.env.BENCH_CORE_LOAD_ONLY === "bulk" ? Number.NaN : cpuMs(() => new WorkingSet(policy).apply(facts, at));
  global.gc?.();
  const heapBefore = process.memoryUsage().heapUsed;
  let loaded: WorkingSet | undefined;
  const loadMs = cpuMs(() => {
    loaded = new WorkingSet(policy);
    loaded.load(facts, at);
  });
  global.gc?.();
  const heap = process.memoryUsage().heapUsed - heapBefore;
  console.log(
    `load whole (restart), CPU: apply ${Math.round(applyMs)} ms, bulk load ${Math.round(loadMs)} ms for ${PAYMENTS} payments`,
  );
  console.log(
    `heap after a bulk load: ${Math.round(heap / PAYMENTS)} bytes per payment (facts and outcomes; ${loaded ? "kept" : ""})`,
  );
}

function loadOnly() {
  const policy = defaultPolicy();
  const items = stream();
  console.log(`${PAYMENTS} payments, ${items.reduce((sum, item) => sum + factsIn(item.facts), 0)} facts`);
  loadWhole(policy, items);
}

// BENCH_CORE_LOAD_ONLY=1: the restart figures alone.
if (process.env.BENCH_CORE_LOAD_ONLY) loadOnly();
else main();
