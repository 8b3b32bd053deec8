import type { QueryResultRow } from "pg";
import type { Db } from "../pool.js";
import { allDecisions, allPaymentDecisions, decisionsOfEntrySeqs, decisionsOfPayments } from "./manualDecisions.js";
import type { TouchedFacts } from "../../reconcile/touched.js";
import type { WorldFacts } from "../../reconcile/world.js";
import type { BankEntry, ExpectedMessage, GatewayEvent } from "../../messages/schemas.js";
import {
  asStoredJson,
  type BankEntryDbRow,
  type GatewayEventDbRow,
  toBankFact,
  toBatchFact,
  toGatewayFact,
  toVersion,
  type VersionRow,
} from "./factRows.js";

/** Stored facts as the pure core's WorldFacts: all of them, or those a transaction just stored. */

type EventRow = GatewayEventDbRow & { type: string };

function splitEvents(rows: EventRow[]): Pick<WorldFacts, "events" | "batches"> {
  return {
    events: rows.filter((row) => row.type !== "settlement.batch").map(toGatewayFact),
    batches: rows.filter((row) => row.type === "settlement.batch").map(toBatchFact),
  };
}

/**
 * Rows per page of a whole-table read: the rows of one page are facts before the next is read. Row by row through
 * pg's parsers, not one `json_agg` text per page: that saved this process ≤ 15 % of the read's CPU but cost
 * PostgreSQL ~20 % more per page, and the read waits on PostgreSQL (measured 2026-12-05, docs/architecture.md §4).
 */
const PAGE_ROWS = 50_000;

/**
 * Every row of a fact table as facts, in seq order, a range of `pageRows` seqs at a time, each page handed to
 * `each` as soon as it is facts: a million rows never sit in memory as raw rows and facts at once (a restart's
 * peak), each page is an index range scan, and PostgreSQL reads the next page while this process uses the last.
 */
async function eachPage<Row extends QueryResultRow>(
  db: Db,
  select: string,
  table: string,
  pageRows: number,
  each: (rows: Row[]) => void,
): Promise<void> {
  const bounds = await db.query<{ min: number | null; max: number | null }>(
    `select min(seq) as min, max(seq) as max from ${table}`,
  );
  const row = bounds.rows[0]!;
  if (row.min === null || row.max === null) return;
  // Numbers whatever the pool's parser for bigint (a pool without payrecon's gives text, and `from + pageRows` would
  // concatenate).
  const [min, max] = [Number(row.min), Number(row.max)];
  const page = (from: number) =>
    db.query<Row>(`select ${select} from ${table} where seq >= $1 and seq < $2 order by seq`, [from, from + pageRows]);
  let next = page(min);
  for (let from = min; from <= max; from += pageRows) {
    const { rows } = await next;
    if (from + pageRows <= max) {
      next = page(from + pageRows);
      // Awaited on the next turn; a failure while this page is used must not go unhandled meanwhile.
      next.catch(() => {});
    }
    each(rows);
  }
}

/**
 * Every stored fact, a page at a time, to `each`: versions, then gateway events and batches, then bank entries,
 * then operators' decisions. A load indexes each page while PostgreSQL reads the next (WorkingSet.addBeforeLoad).
 * `pageRows`: seqs per query (tests make pages small to cross their edges).
 */
export async function readWorldFacts(
  db: Db,
  each: (page: Partial<WorldFacts>) => void,
  pageRows = PAGE_ROWS,
): Promise<void> {
  // Arrival times as epoch ms (float8, whole: exact), not timestamptz text parsed into a Date per row.
  const receivedMs = "floor(extract(epoch from received_at) * 1000)::float8 as received_at";
  const fields = {
    versions: `seq, payment_id, version, cancelled, body, ${receivedMs}`,
    events: `seq, body, reference_key, ${receivedMs}, type`,
    entries: `seq, body, ${receivedMs}`,
  };
  await eachPage<VersionRow>(db, fields.versions, "expected_payment_versions", pageRows, (rows) =>
    each({ versions: rows.map(toVersion) }),
  );
  await eachPage<EventRow>(db, fields.events, "gateway_events", pageRows, (rows) => each(splitEvents(rows)));
  await eachPage<BankEntryDbRow>(db, fields.entries, "bank_entries", pageRows, (rows) =>
    each({ entries: rows.map(toBankFact) }),
  );
  each({ decisions: await allDecisions(db), paymentDecisions: await allPaymentDecisions(db) });
}

/** Every stored fact at once (a reload whole inside a reconciliation, the tests' from-scratch check). */
export async function loadWorldFacts(db: Db, pageRows = PAGE_ROWS): Promise<WorldFacts> {
  const facts: WorldFacts = { versions: [], events: [], batches: [], entries: [], decisions: [], paymentDecisions: [] };
  await readWorldFacts(
    db,
    (page) => {
      for (const kind of Object.keys(page) as Array<keyof WorldFacts>) {
        const into = facts[kind] as unknown[];
        for (const fact of page[kind]!) into.push(fact);
      }
    },
    pageRows,
  );
  return facts;
}

/** The facts behind `touched`: every version of the touched payments (the core keeps one per key), new events and entries. */
export async function loadTouchedFacts(db: Db, touched: TouchedFacts): Promise<WorldFacts> {
  const [versions, events, entries] = [
    touched.paymentIds.size === 0
      ? []
      : (
          await db.query<VersionRow>(
            `select seq, payment_id, version, cancelled, body, received_at from expected_payment_versions
              where payment_id = any($1::text[])`,
            [[...touched.paymentIds]],
          )
        ).rows,
    touched.gatewayEventSeqs.size === 0
      ? []
      : (
          await db.query<EventRow>(
            "select seq, body, reference_key, received_at, type from gateway_events where seq = any($1::bigint[])",
            [[...touched.gatewayEventSeqs]],
          )
        ).rows,
    touched.entrySeqs.size === 0
      ? []
      : (
          await db.query<BankEntryDbRow>(
            "select seq, body, received_at from bank_entries where seq = any($1::bigint[])",
            [[...touched.entrySeqs]],
          )
        ).rows,
  ];
  return {
    versions: versions.map(toVersion),
    ...splitEvents(events),
    entries: entries.map(toBankFact),
    // Operators' decisions reach the writer as entries to re-check and payments touched (their routes say so).
    decisions: await decisionsOfEntrySeqs(db, [...touched.recheckEntrySeqs]),
    paymentDecisions: [...(await decisionsOfPayments(db, [...touched.paymentIds])).values()].flat(),
  };
}

/**
 * The facts a transaction just inserted, as loadTouchedFacts would read them back: the writer has the rows
 * and PostgreSQL returned what it assigned (seq, received_at), so reading them again is not needed.
 */
export function justStoredFacts(stored: {
  versions: Array<{
    seq: number;
    paymentId: string;
    version: number | null;
    cancelled: boolean;
    body: unknown;
    receivedAt: Date;
  }>;
  events: Array<{ seq: number; type: string; referenceKey: string | null; body: unknown; receivedAt: Date }>;
  entries: Array<{ seq: number; body: unknown; receivedAt: Date }>;
}): Pick<WorldFacts, "versions" | "events" | "batches" | "entries"> {
  const events = stored.events.map((event) => ({
    seq: event.seq,
    type: event.type,
    body: event.body as GatewayEvent,
    reference_key: event.referenceKey,
    received_at: event.receivedAt,
  }));
  return {
    versions: stored.versions.map((version) =>
      toVersion({
        seq: version.seq,
        payment_id: version.paymentId,
        version: version.version,
        cancelled: version.cancelled,
        body: asStoredJson(version.body) as ExpectedMessage,
        received_at: version.receivedAt,
      }),
    ),
    ...splitEvents(events),
    entries: stored.entries.map((entry) =>
      toBankFact({ seq: entry.seq, body: entry.body as BankEntry, received_at: entry.receivedAt }),
    ),
  };
}
