import type { Producer } from "kafkajs";
import type { RawMessage } from "../consumers/decode.js";
import { type IngestDeps, ingestMessages } from "../consumers/ingest.js";
import { type BankEntry, type GatewayEventInput, MAX_STATEMENT_ENTRIES } from "../messages/schemas.js";
import type { ParsedStatementFile, StatementSummary } from "./statement.js";

/**
 * Publishing what `payrecon import` parsed — BankEntry messages (CONTRACT §1,
 * topic `bank.settlements`, key `entry_id`) or GatewayEvents from a gateway's
 * settlement report (topic `gateway.events`, key `batch_id` or `reference`) —
 * to Kafka when it is configured, otherwise straight through `ingestMessages`,
 * the one path every fact takes into the database. Entry and event ids are
 * stable, so publishing a file again is a no-op downstream.
 */

/** Messages per Kafka request or per ingest transaction. */
export const PUBLISH_BATCH_SIZE = 500;

export type Progress = (done: number, total: number) => void;

/** The input topics an import publishes to (the daemon decodes them as these kinds). */
export type ImportKind = "bank" | "gateway";

/** One message ready to publish: its topic key, its JSON bytes, and the id it is reported by. */
export interface ImportMessage {
  /** The fact's own id (`entry_id`, `event_id`): names it when it is rejected. */
  id: string;
  key: string;
  value: Buffer;
}

/** A BankEntry for `bank.settlements`, keyed by `entry_id`. */
export function bankEntryMessage(entry: BankEntry): ImportMessage {
  return { id: entry.entry_id, key: entry.entry_id, value: Buffer.from(JSON.stringify(entry)) };
}

/**
 * Statement summaries (CONTRACT §8 "Statements") are published after a statement's lines
 * (the daemon checks their balances and continuity).
 */
export const PUBLISH_STATEMENT_SUMMARIES = true;

/** CONTRACT §8: one per statement, after its lines, on the bank topic, keyed by statement_id. */
export interface StatementSummaryMessage {
  type: "statement";
  statement_id: string;
  bank: string;
  account: string;
  currency: string;
  from_date: string;
  to_date: string;
  opening_booked_minor: number;
  closing_booked_minor: number;
  entry_ids: string[];
}

const MAX_STATEMENT_ID = 200;

/**
 * The summaries of a parsed file. A file's own statement reference is not unique across files
 * (MT940 :20: is often the same every day, "940" or "STARTUMS"), so the published id is
 * `account:from..to:reference`, the same every time the same statement is imported.
 */
/**
 * A statement without a period or without both booked balances can be checked for nothing, and one
 * longer than the daemon takes (MAX_STATEMENT_ENTRIES) is left out: its lines are published all the same.
 */
export function statementSummaries(parsed: ParsedStatementFile, fallbackBank: string): StatementSummaryMessage[] {
  return parsed.statements.flatMap((statement): StatementSummaryMessage[] => {
    const entries = parsed.entries.filter((entry) => entry.metadata?.statement_id === statement.statementId);
    const dates = entries.map((entry) => entry.booking_date).sort();
    const fromDate = statement.fromDate ?? dates[0] ?? null;
    const toDate = statement.toDate ?? dates[dates.length - 1] ?? null;
    const opening = statement.openingBalanceMinor;
    const closing = statement.closingBalanceMinor;
    if (fromDate === null || toDate === null || opening === undefined || closing === undefined) return [];
    if (entries.length > MAX_STATEMENT_ENTRIES) return [];
    return [
      {
        type: "statement",
        statement_id: publishedStatementId(statement, fromDate, toDate),
        bank: entries[0]?.bank ?? fallbackBank,
        account: statement.account,
        currency: statement.currency,
        from_date: fromDate,
        to_date: toDate,
        opening_booked_minor: opening,
        closing_booked_minor: closing,
        entry_ids: entries.map((entry) => entry.entry_id),
      },
    ];
  });
}

function publishedStatementId(statement: StatementSummary, fromDate: string | null, toDate: string | null): string {
  const id = `${statement.account.replace(/\s+/g, "")}:${fromDate ?? ""}..${toDate ?? ""}:${statement.statementId}`;
  return id.length <= MAX_STATEMENT_ID ? id : id.slice(0, MAX_STATEMENT_ID);
}

export function statementSummaryMessage(summary: StatementSummaryMessage): ImportMessage {
  return { id: summary.statement_id, key: summary.statement_id, value: Buffer.from(JSON.stringify(summary)) };
}

/** A GatewayEvent for `gateway.events`, keyed by `batch_id` (settlement batches) or `reference` (CONTRACT §1). */
export function gatewayEventMessage(event: GatewayEventInput): ImportMessage {
  const key = event.type === "settlement.batch" ? event.batch_id : event.reference;
  return { id: event.event_id, key, value: Buffer.from(JSON.stringify(event)) };
}

function* batches<T>(items: readonly T[], size: number): Generator<T[]> {
  for (let start = 0; start < items.length; start += size) yield items.slice(start, start + size);
}

/** Produces every message, acks from all in-sync replicas, batch by batch; resolves once all are acknowledged. */
export async function publishToKafka(
  producer: Producer,
  topic: string,
  messages: readonly ImportMessage[],
  options: { batchSize?: number; onProgress?: Progress } = {},
): Promise<number> {
  let done = 0;
  for (const batch of batches(messages, options.batchSize ?? PUBLISH_BATCH_SIZE)) {
    await producer.send({
      topic,
      acks: -1,
      messages: batch.map((message) => ({ key: message.key, value: message.value })),
    });
    done += batch.length;
    options.onProgress?.(done, messages.length);
  }
  return done;
}

export interface IngestTotals {
  accepted: number;
  duplicates: number;
  rejected: number;
  /** Why messages were rejected (should never happen: they passed the schema when parsed). */
  rejections: Array<{ id: string; reason: string; detail: string }>;
}

/**
 * Ingests the messages directly (no Kafka) as facts of `kind` from `topic`:
 * one transaction per batch, each stored and reconciled.
 */
export async function ingestDirectly(
  deps: IngestDeps,
  kind: ImportKind,
  topic: string,
  messages: readonly ImportMessage[],
  options: { batchSize?: number; onProgress?: Progress } = {},
): Promise<IngestTotals> {
  const totals: IngestTotals = { accepted: 0, duplicates: 0, rejected: 0, rejections: [] };
  let done = 0;
  for (const batch of batches(messages, options.batchSize ?? PUBLISH_BATCH_SIZE)) {
    const raws: RawMessage[] = batch.map((message) => ({
      kind,
      topic,
      partition: null,
      offset: null,
      key: Buffer.from(message.key),
      value: message.value,
      // RawMessage knows two sources; a direct import takes the non-Kafka path, as HTTP ingest does.
      source: "http",
    }));
    const result = await ingestMessages(deps, raws);
    totals.accepted += result.accepted;
    totals.duplicates += result.duplicates;
    totals.rejected += result.rejected;
    result.lines.forEach((line, index) => {
      if (line.status === "rejected") {
        totals.rejections.push({
          id: batch[index]!.id,
          reason: line.reason ?? "rejected",
          detail: line.detail ?? "",
        });
      }
    });
    done += batch.length;
    options.onProgress?.(done, messages.length);
  }
  return totals;
}
