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

export async function loadWorldFacts(db: Db): Promise<WorldFacts> {
  const versions = await db.query<VersionRow>(
    "select seq, payment_id, version, cancelled, body, received_at from expected_payment_versions",
  );
  const events = await db.query<EventRow>("select seq, body, reference_key, received_at, type from gateway_events");
  const entries = await db.query<BankEntryDbRow>("select seq, body, received_at from bank_entries");
  return {
    versions: versions.rows.map(toVersion),
    ...splitEvents(events.rows),
    entries: entries.rows.map(toBankFact),
    decisions: await allDecisions(db),
    paymentDecisions: await allPaymentDecisions(db),
  };
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
