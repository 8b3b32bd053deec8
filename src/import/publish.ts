import type { Producer } from "kafkajs";
import type { RawMessage } from "../consumers/decode.js";
import { type IngestDeps, ingestMessages } from "../consumers/ingest.js";
import type { BankEntry, GatewayEventInput } from "../messages/schemas.js";

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

export interface DecodedText {
  text: string;
  /** UTF-8 when the bytes are valid UTF-8; otherwise Latin-1, as many MT940 and BAI2 files are. */
  encoding: "utf-8" | "latin1";
}

const strictUtf8 = new TextDecoder("utf-8", { fatal: true });
// WHATWG "latin1" is Windows-1252: Latin-1 plus printable characters (€, „, …) where ISO-8859-1 has C1 controls.
const latin1 = new TextDecoder("latin1");

/** The text of an imported file, whatever it is: strict UTF-8 (a BOM is dropped), else Windows-1252. */
export function decodeImportBytes(bytes: Uint8Array): DecodedText {
  try {
    return { text: strictUtf8.decode(bytes), encoding: "utf-8" };
  } catch {
    return { text: latin1.decode(bytes), encoding: "latin1" };
  }
}

/** A BankEntry for `bank.settlements`, keyed by `entry_id`. */
export function bankEntryMessage(entry: BankEntry): ImportMessage {
  return { id: entry.entry_id, key: entry.entry_id, value: Buffer.from(JSON.stringify(entry)) };
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
