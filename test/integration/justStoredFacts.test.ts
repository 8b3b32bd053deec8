import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadConfig } from "../../src/config.js";
import type { RawMessage } from "../../src/consumers/decode.js";
import { type FactReconciler, ingestMessages } from "../../src/consumers/ingest.js";
import { createIngestDeps } from "../../src/consumers/ingestDeps.js";
import { asStoredJson } from "../../src/db/queries/factRows.js";
import { loadTouchedFacts } from "../../src/db/queries/worldFacts.js";
import { createLogger } from "../../src/logger.js";
import { createMetrics } from "../../src/metrics/registry.js";
import { generateScenario, seededRandom, shuffled } from "../../src/simulate/scenario.js";
import type { WorldFacts } from "../../src/reconcile/world.js";
import { createTestDatabase, type TestDatabase } from "../support/database.js";

/**
 * The memory engine applies the facts ingest just inserted without reading them back: they must be exactly
 * what loading them from PostgreSQL gives (the working set keys versions, and hashes identities, by their JSON,
 * so even the key order of a body matters — jsonb reorders keys).
 */
describe("facts as just stored", () => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await createTestDatabase();
  });
  afterAll(async () => {
    await db?.drop();
  });

  it("stringify like jsonb gives them back, whatever the keys", async () => {
    const random = seededRandom(11);
    const keys = ["a", "b", "ab", "ba", "10", "2", "é", "z", "ü", "€", "aa", "Z", "_", "😀", "id", "amount_minor"];
    const value = (depth: number): unknown => {
      const pick = random();
      if (depth > 2 || pick < 0.3) return [1, "x", null, true, -5, 1.25, "ü€😀"][Math.floor(random() * 7)];
      if (pick < 0.45) return [value(depth + 1), undefined, value(depth + 1)];
      return Object.fromEntries(
        shuffled(keys, random)
          .slice(0, 1 + Math.floor(random() * 8))
          .map((key) => [key, random() < 0.1 ? undefined : value(depth + 1)]),
      );
    };
    const values = Array.from({ length: 300 }, () => value(0));
    const back = await db.pool.query<{ v: unknown }>(
      "select v from jsonb_array_elements($1::jsonb) with ordinality as t(v, n) order by n",
      [JSON.stringify(values)],
    );
    expect(back.rows).toHaveLength(values.length);
    expect(values.map((v) => JSON.stringify(asStoredJson(v)))).toEqual(back.rows.map((row) => JSON.stringify(row.v)));
  });

  it("equal the facts loaded from the database, for a realistic day of messages", async () => {
    const config = loadConfig({});
    const reconcileDeps = {
      policy: config.policy,
      metrics: createMetrics({ version: "t", commit: "t" }),
      log: createLogger("silent"),
      findingsTopic: "f",
    };
    const compared: Array<{ stored: unknown; loaded: unknown }> = [];
    // A reconciler that reads back, inside the transaction, what ingest says it stored.
    const recording: FactReconciler = async (tx, touched) => {
      const loaded = await loadTouchedFacts(tx, touched);
      const stored = touched.stored!();
      const seqs = new Set(stored.versions.map((version) => version.seq));
      const bySeq = <T extends { seq: number }>(facts: T[]) => [...facts].sort((a, b) => a.seq - b.seq);
      const batchOrder = (facts: WorldFacts["batches"]) =>
        [...facts].sort((a, b) => a.eventId.localeCompare(b.eventId));
      compared.push({
        stored: JSON.stringify([
          bySeq(stored.versions),
          bySeq(stored.events),
          batchOrder(stored.batches),
          bySeq(stored.entries),
        ]),
        loaded: JSON.stringify([
          bySeq(loaded.versions.filter((version) => seqs.has(version.seq))),
          bySeq(loaded.events),
          batchOrder(loaded.batches),
          bySeq(loaded.entries),
        ]),
      });
      return { afterCommit: () => {} };
    };
    const deps = { ...createIngestDeps(config, db.pool, reconcileDeps), reconcile: recording };
    const scenario = generateScenario({ seed: 5, now: Date.now(), payments: 400, prefix: "js" });
    const random = seededRandom(5);
    const messages: RawMessage[] = shuffled(
      [
        ...scenario.expected.map((value) => ({ kind: "expected" as const, topic: config.topics.expected, value })),
        ...scenario.events.map((value) => ({ kind: "gateway" as const, topic: config.topics.gateway, value })),
        ...scenario.entries.map((value) => ({ kind: "bank" as const, topic: config.topics.bank, value })),
      ],
      random,
    ).map(({ kind, topic, value }, offset) => ({
      kind,
      topic,
      partition: 0,
      offset: String(offset),
      key: null,
      value: Buffer.from(JSON.stringify(value)),
      source: "kafka",
    }));
    // Some delivered twice, in the same group and in a later one.
    for (let i = 0; i < messages.length; i += 100) {
      const group = messages.slice(i, i + 100);
      await ingestMessages(deps, [...group, ...group.filter(() => random() < 0.05), ...messages.slice(0, 3)]);
    }
    expect(compared.length).toBeGreaterThan(5);
    const versions = compared.reduce((n, c) => n + (JSON.parse(c.stored as string)[0] as unknown[]).length, 0);
    expect(versions).toBe(new Set(scenario.expected.map((m) => JSON.stringify(m))).size);
    for (const { stored, loaded } of compared) expect(stored).toBe(loaded);
  });
});
