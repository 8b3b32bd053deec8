import { afterAll, describe, expect, it } from "vitest";
import { loadTouchedFacts, loadWorldFacts } from "../../src/db/queries/worldFacts.js";
import { emptyTouched } from "../../src/reconcile/touched.js";
import { generateScenario, seededRandom } from "../../src/simulate/scenario.js";
import { createTestDatabase } from "../support/database.js";
import { startTestDaemon } from "../support/daemon.js";
import { ingestScenario } from "../support/ingest.js";

/**
 * A restart reads every fact table whole in pages of seqs (loadWorldFacts); a transaction reads the rows it touched
 * (loadTouchedFacts). Both must give the same facts for every row a writer stored — versions, gateway events,
 * settlement batches, bank entries, received_at to the millisecond — whatever the page size (a change of how pages
 * are read, e.g. as one JSON text, must keep this).
 */
describe("facts read in pages for a load", () => {
  const cleanups: Array<() => Promise<void>> = [];
  afterAll(async () => {
    for (const cleanup of cleanups.reverse()) await cleanup().catch(() => {});
  });

  it("equal the same rows read one by one, across page edges", async () => {
    const db = await createTestDatabase();
    cleanups.push(() => db.drop());
    const daemon = await startTestDaemon({ DATABASE_URL: db.url });
    cleanups.push(() => daemon.stop());
    const scenario = generateScenario({ seed: 15, now: Date.now(), payments: 120, prefix: "pages" });
    const random = seededRandom(15);
    // Out of order and some twice (rejected duplicates leave gaps in seq).
    await ingestScenario(daemon.baseUrl, scenario, random, 0.1);

    const seqs = async (table: string) =>
      (await db.pool.query<{ seq: number }>(`select seq from ${table}`)).rows.map((row) => row.seq);
    const touched = emptyTouched();
    for (const seq of await seqs("gateway_events")) touched.gatewayEventSeqs.add(seq);
    for (const seq of await seqs("bank_entries")) touched.entrySeqs.add(seq);
    const ids = await db.pool.query<{ payment_id: string }>(
      "select distinct payment_id from expected_payment_versions",
    );
    for (const row of ids.rows) touched.paymentIds.add(row.payment_id);
    const bySeq = <T extends { seq?: number; eventId?: string; receivedAt: number }>(facts: T[]) =>
      [...facts].sort((a, b) => (a.seq ?? 0) - (b.seq ?? 0) || String(a.eventId).localeCompare(String(b.eventId)));
    const one = await loadTouchedFacts(db.pool, touched);
    expect(one.versions.length).toBeGreaterThan(100);
    expect(one.events.length).toBeGreaterThan(100);
    expect(one.batches.length).toBeGreaterThan(0);
    expect(one.entries.length).toBeGreaterThan(50);

    for (const pageRows of [7, 50_000]) {
      const paged = await loadWorldFacts(db.pool, pageRows);
      expect(paged.versions).toEqual(bySeq(one.versions));
      expect(paged.events).toEqual(bySeq(one.events));
      expect(bySeq(paged.batches)).toEqual(bySeq(one.batches));
      expect(paged.entries).toEqual(bySeq(one.entries));
    }
  }, 120_000);
});
