import { afterAll, describe, expect, it } from "vitest";
import { loadConfig } from "../../src/config.js";
import { findStoredGroups, storedGroupsStatement } from "../../src/db/queries/evictedKeys.js";
import { loadWorldFacts } from "../../src/db/queries/worldFacts.js";
import { EvictedIndex, matchWindowDays } from "../../src/reconcile/evicted.js";
import { dateToMs, utcDate } from "../../src/reconcile/types.js";
import { WorkingSet } from "../../src/reconcile/workingSet.js";
import type { WorldFacts } from "../../src/reconcile/world.js";
import { generateScenario, seededRandom } from "../../src/simulate/scenario.js";
import { createTestDatabase } from "../support/database.js";
import { startTestDaemon } from "../support/daemon.js";
import { ingestScenario } from "../support/ingest.js";
import { storeFinalPayments } from "../support/openPayments.js";

const DAY = 86_400_000;

/**
 * The memory engine keeps nothing of an evicted group: PostgreSQL finds the groups a fact could touch
 * (src/db/queries/evictedKeys.ts, docs/architecture.md §4 step 4). Its answer must include every group an
 * in-memory EvictedIndex of the same evictions names (the index the property tests prove sufficient), for late
 * facts of every kind: the stored facts again, bank lines and payments that share only an amount (and a date within
 * the match window) with evicted ones, and with tokens naming evicted references.
 */
describe("evicted groups found in PostgreSQL", () => {
  const cleanups: Array<() => Promise<void>> = [];
  afterAll(async () => {
    for (const cleanup of cleanups.reverse()) await cleanup().catch(() => {});
  });

  it("include every group an in-memory index of the same evictions names", async () => {
    const db = await createTestDatabase();
    cleanups.push(() => db.drop());
    const daemon = await startTestDaemon({ DATABASE_URL: db.url, RECONCILE_ENGINE: "memory" });
    cleanups.push(() => daemon.stop());
    const scenario = generateScenario({ seed: 21, now: Date.now(), payments: 200, prefix: "evk" });
    const random = seededRandom(21);
    await ingestScenario(daemon.baseUrl, scenario, random);
    await daemon.stop();

    // The working set of the stored facts at the stored clock, every final group evicted into an index.
    const policy = loadConfig({}).policy;
    const at = (await db.pool.query<{ at: Date }>("select max(updated_at) as at from payments")).rows[0]!.at.getTime();
    const facts = await loadWorldFacts(db.pool);
    const set = new WorkingSet(policy);
    set.load(facts, at);
    const index = new EvictedIndex(policy);
    for (const group of set.evict(set.evictable(at, 0, Number.MAX_SAFE_INTEGER))) index.add(group);
    expect(index.paymentCount).toBeGreaterThan(50);

    const window = matchWindowDays(policy);
    const late: Array<{ kind: string; facts: Partial<WorldFacts> }> = [
      ...facts.versions.map((version) => ({ kind: "version again", facts: { versions: [version] } })),
      ...facts.versions
        .filter((version) => version.payment)
        .map((version, i) => ({
          kind: "a payment of the same amount",
          facts: {
            versions: [
              { ...version, paymentId: `late_${i}`, payment: { ...version.payment!, reference: `LATE-${i}` } },
            ],
          },
        })),
      // A payment whose reference is a token of a stored line (not the line's own reference): the lines naming it.
      ...facts.entries.flatMap((entry, i) =>
        entry.tokens
          .filter((token) => token !== entry.endToEndId?.toUpperCase())
          .slice(0, 2)
          .map((token, k) => {
            const version = facts.versions.find((v) => v.payment)!;
            return {
              kind: "a payment named by a line's token",
              facts: {
                versions: [
                  {
                    ...version,
                    paymentId: `late_token_${i}_${k}`,
                    payment: { ...version.payment!, reference: token, amount_minor: 9_999_999 },
                  },
                ],
              },
            };
          }),
      ),
      ...facts.events.map((event) => ({ kind: "event again", facts: { events: [event] } })),
      ...facts.entries.map((entry) => ({ kind: "entry again", facts: { entries: [entry] } })),
      ...facts.entries.map((entry, i) => ({
        kind: "a line of the same amount",
        facts: {
          entries: [
            {
              ...entry,
              entryId: `LATE-AMOUNT-${i}`,
              endToEndId: null,
              tokens: [],
              valueDate: utcDate(dateToMs(entry.valueDate) + ((i % (2 * window + 1)) - window) * DAY),
            },
          ],
        },
      })),
      ...facts.entries.map((entry, i) => ({
        kind: "a line naming the same references",
        facts: { entries: [{ ...entry, entryId: `LATE-REF-${i}`, amountMinor: entry.amountMinor + 7_777_777 }] },
      })),
    ];
    const found = new Map<string, number>();
    for (const { kind, facts: lateFacts } of late) {
      const query = set.reloadQuery(lateFacts)!;
      const wanted = [...index.find(query)].filter((ref) => !set.holdsGroup(ref)).sort();
      const stored = new Set(await findStoredGroups(db.pool, query, window));
      expect({ kind, missing: wanted.filter((ref) => !stored.has(ref)) }).toEqual({ kind, missing: [] });
      found.set(kind, (found.get(kind) ?? 0) + wanted.length);
    }
    // Each kind of lookup was exercised.
    for (const kind of new Set(late.map((item) => item.kind)))
      expect([kind, found.get(kind)! > 0]).toEqual([kind, true]);
  }, 180_000);

  it("are found by index probes only, however many are stored", async () => {
    const db = await createTestDatabase();
    cleanups.push(() => db.drop());
    // 40,000 final payments' facts and lines (with tokens), their payments, installments and matches as written.
    const payments = 40_000;
    await storeFinalPayments(db.pool, payments);
    await db.pool.query(
      `insert into payments (id, reference, reference_key, gateway, direction, currency, amount_minor, created_at, due_at,
                             cancelled, status, status_since, updated_at)
       select payment_id, body ->> 'reference', body ->> 'reference', body ->> 'gateway', body ->> 'direction',
              body ->> 'currency', (body ->> 'amount_minor')::bigint, (body ->> 'created_at')::timestamptz,
              (body ->> 'due_at')::timestamptz, false, 'settled', now(), now()
         from expected_payment_versions`,
    );
    await db.pool.query(
      `insert into payment_installments (payment_id, idx, amount_minor, currency, settle_direction, due_date)
       select id, 0, amount_minor, currency, case when direction = 'payout' then 'debit' else 'credit' end,
              (due_at at time zone 'UTC')::date from payments`,
    );
    await db.pool.query(
      `insert into bank_entry_matches (entry_seq, kind, method, payment_id, updated_at)
       select e.seq, 'payment', 'reference', p.id, now() from bank_entries e join payments p on p.reference = e.end_to_end_id`,
    );
    await db.pool.query("vacuum analyze");
    const sample = await db.pool.query<{
      bank: string;
      entry_id: string;
      currency: string;
      amount: number;
      on: string;
    }>(
      `select bank, entry_id, currency, amount_minor as amount, to_char(value_date, 'YYYY-MM-DD') as on
         from bank_entries order by seq limit 300`,
    );
    const shapes = sample.rows.map((row) => ({
      refs: [`FP-${row.entry_id.slice(3)}`],
      amounts: [[`${row.currency}|${row.amount}`, row.on] as [string, string]],
    }));
    const statement = storedGroupsStatement(
      {
        refs: new Set(shapes.map((shape) => shape.refs[0]!)),
        paymentIds: new Set(sample.rows.map((row) => `fp_${row.entry_id.slice(3)}`)),
        entries: new Map(
          sample.rows.map((row) => [`${row.bank}/${row.entry_id}`, { bank: row.bank, entryId: row.entry_id }]),
        ),
        entriesFitting: shapes,
        targetsFitting: shapes,
      },
      matchWindowDays(loadConfig({}).policy),
    );
    const plan = await db.pool.query<{ "QUERY PLAN": string }>(`explain ${statement.text}`, statement.values);
    const text = plan.rows.map((row) => row["QUERY PLAN"]).join("\n");
    expect(text.match(/Seq Scan on \w+/g) ?? [], text).toEqual([]);
    // And it finds them: each sampled line's payment (by its line, its reference, its id and its amount).
    const groups = new Set(
      (await db.pool.query<{ reference_key: string }>(statement.text, statement.values)).rows.map(
        (row) => row.reference_key,
      ),
    );
    for (const shape of shapes) expect(groups.has(shape.refs[0]!)).toBe(true);
  }, 180_000);
});
