import type { Db } from "../db/pool.js";
import { storedBankEntryBodies, storedExpectedVersionBodies, storedStatementBodies } from "../db/queries/conflicts.js";
import { storedGatewayEventBodies } from "../db/queries/facts.js";
import type { ExceptionSubject } from "../reconcile/exceptions.js";
import { canonicalJson } from "./decode.js";

/**
 * CONTRACT §8 "Same key, different content" is never a duplicate, on any input topic: the message is rejected
 * (reason `conflict`, a rejected-message row, a dead letter), a `conflict` exception is raised on its subject, and
 * both contents are kept (the first in its fact table, every other in input_conflicts). The first version stays
 * in force until an operator acts.
 *
 * What the key and the facts are, per input:
 * - gateway event: (gateway, event_id); the event without its metadata and failure_message, which are for people
 *   to read (a gateway's free text, Adyen's unsigned fields): the same event re-sent with other wording is still a
 *   duplicate.
 * - bank entry: (bank, entry_id); the entry without its metadata, which names the statement the line came in (a
 *   line of a daily and of a monthly statement is one line, CONTRACT §8 "Bank line identity").
 * - statement summary: (bank, statement_id); the summary without its metadata.
 * - expected payment: a message with the same id replaces the earlier one (CONTRACT §1), so only messages that
 *   carry an explicit `version` can conflict: (id, version), the whole message. A cancellation is never a conflict
 *   (cancelling version N is how version N ends).
 */

export function gatewayFactContent(body: unknown): string {
  return canonicalJson(without(body, ["metadata", "failure_message"]));
}

export function bankFactContent(body: unknown): string {
  return canonicalJson(without(body, ["metadata"]));
}

function without(body: unknown, names: string[]): unknown {
  if (typeof body !== "object" || body === null) return body;
  const copy: Record<string, unknown> = { ...(body as Record<string, unknown>) };
  for (const name of names) delete copy[name];
  return copy;
}

/** One input whose key is stored already (or earlier in the same batch) with other facts. */
export interface InputConflict<T> {
  row: T;
  topic: string;
  subject: ExceptionSubject;
  /** "bank entry bank_a/E1", for people. */
  what: string;
  first: unknown;
  received: unknown;
  source: string;
}

/**
 * The conflicts found among fact rows, with the topic of the message each came from (rows with no message,
 * e.g. Stripe payouts settled here, are never a producer's conflict) and what they are about.
 */
export function asConflicts<T extends { body: unknown; source: string }>(
  found: Array<{ row: T; first: unknown }>,
  origin: Map<object, { raw: { topic: string } }>,
  about: (row: T) => { subject: ExceptionSubject; what: string },
): InputConflict<T>[] {
  return found.flatMap(({ row, first }) => {
    const from = origin.get(row);
    return from ? [{ row, topic: from.raw.topic, ...about(row), first, received: row.body, source: row.source }] : [];
  });
}

interface Candidate<T> {
  row: T;
  key: string;
  body: unknown;
}

/**
 * The candidates whose first version (stored before, or the first of the batch) holds other facts. `stored` is
 * read after the batch was inserted, so a key first seen in this batch finds the version that was stored.
 */
function differing<T>(
  candidates: Candidate<T>[],
  stored: Map<string, unknown>,
  content: (body: unknown) => string,
): Array<{ row: T; first: unknown }> {
  const out: Array<{ row: T; first: unknown }> = [];
  for (const candidate of candidates) {
    const first = stored.get(candidate.key);
    if (first !== undefined && content(first) !== content(candidate.body)) out.push({ row: candidate.row, first });
  }
  return out;
}

/** Every row but the one that was stored now (the first of its key in the batch): those may conflict. */
export function notStoredNow<T>(rows: T[], keyOf: (row: T) => string, storedNow: Set<string>): T[] {
  const firstTaken = new Set<string>();
  return rows.filter((row) => {
    const key = keyOf(row);
    if (storedNow.has(key) && !firstTaken.has(key)) {
      firstTaken.add(key);
      return false;
    }
    return true;
  });
}

/** Loads the first stored body of each key (`a NUL b`) among the candidates. */
type StoredBodies<K> = (db: Db, keys: K[]) => Promise<Map<string, unknown>>;

async function conflictingFacts<K, T extends K & { body: unknown }>(
  db: Db,
  candidates: T[],
  load: StoredBodies<K>,
  key: (row: T) => string,
  content: (body: unknown) => string,
): Promise<Array<{ row: T; first: unknown }>> {
  if (candidates.length === 0) return [];
  const stored = await load(db, candidates);
  return differing(
    candidates.map((row) => ({ row, key: key(row), body: row.body })),
    stored,
    content,
  );
}

export const conflictingGatewayEvents = <T extends { gateway: string; eventId: string; body: unknown }>(
  db: Db,
  candidates: T[],
) =>
  conflictingFacts(
    db,
    candidates,
    storedGatewayEventBodies,
    (e) => `${e.gateway}\u0000${e.eventId}`,
    gatewayFactContent,
  );

export const conflictingBankEntries = <T extends { bank: string; entryId: string; body: unknown }>(
  db: Db,
  candidates: T[],
) => conflictingFacts(db, candidates, storedBankEntryBodies, (e) => `${e.bank}\u0000${e.entryId}`, bankFactContent);

export const conflictingStatements = <T extends { bank: string; statementId: string; body: unknown }>(
  db: Db,
  candidates: T[],
) => conflictingFacts(db, candidates, storedStatementBodies, (s) => `${s.bank}\u0000${s.statementId}`, bankFactContent);

/**
 * Expected payments carrying a `version` whose (id, version) is stored already, or came earlier in this batch,
 * with other content. Checked before inserting: versions are keyed by content, so a conflicting one would
 * otherwise be stored beside the first.
 */
export async function conflictingExpectedVersions<
  T extends { paymentId: string; version: number | null; cancelled: boolean; body: unknown },
>(db: Db, rows: T[]): Promise<Array<{ row: T; first: unknown }>> {
  const versioned = rows.filter((row) => row.version !== null && !row.cancelled);
  if (versioned.length === 0) return [];
  const key = (row: T) => `${row.paymentId}\u0000${row.version}`;
  const stored = await storedExpectedVersionBodies(
    db,
    versioned.map((row) => ({ paymentId: row.paymentId, version: row.version! })),
  );
  // A key first seen in this batch: its first message is the version that will be stored.
  for (const row of versioned) if (!stored.has(key(row))) stored.set(key(row), row.body);
  return differing(
    versioned.map((row) => ({ row, key: key(row), body: row.body })),
    stored,
    canonicalJson,
  );
}

/** What differs, for the exception's detail: `amount_minor: 1000 stored, 1200 received`. */
export function differences(first: unknown, received: unknown): string {
  const a = (first ?? {}) as Record<string, unknown>;
  const b = (received ?? {}) as Record<string, unknown>;
  const names = [...new Set([...Object.keys(a), ...Object.keys(b)])].sort();
  const show = (value: unknown) => {
    const text = value === undefined ? "absent" : canonicalJson(value);
    return text.length > 60 ? `${text.slice(0, 60)}…` : text;
  };
  return names
    .filter((name) => canonicalJson(a[name]) !== canonicalJson(b[name]))
    .map((name) => `${name}: ${show(a[name])} stored, ${show(b[name])} received`)
    .join("; ");
}

export function conflictDetail(conflict: InputConflict<unknown>): string {
  const what = `${conflict.what} arrived again with other content (${differences(conflict.first, conflict.received)})`;
  return `${what.slice(0, 800)}; the first version stays in force until an operator acts`;
}
