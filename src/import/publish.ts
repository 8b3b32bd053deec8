import type { Producer } from "kafkajs";
import type { RawMessage } from "../consumers/decode.js";
import { type IngestDeps, ingestMessages } from "../consumers/ingest.js";
import type { BankEntry } from "../messages/schemas.js";

/**
 * Publishing parsed BankEntry messages (CONTRACT §1, topic `bank.settlements`,
 * key `entry_id`): to Kafka when it is configured, otherwise straight through
 * `ingestMessages`, the one path every fact takes into the database. Entry ids
 * are stable, so publishing a file again is a no-op downstream.
 */

/** Messages per Kafka request or per ingest transaction. */
export const PUBLISH_BATCH_SIZE = 500;

export type Progress = (done: number, total: number) => void;

export interface DecodedText {
  text: string;
  /** UTF-8 when the bytes are valid UTF-8; otherwise Latin-1, as many MT940 and BAI2 files are. */
  encoding: "utf-8" | "latin1";
}

const strictUtf8 = new TextDecoder("utf-8", { fatal: true });
// WHATWG "latin1" is Windows-1252: Latin-1 plus printable characters (€, „, …) where ISO-8859-1 has C1 controls.
const latin1 = new TextDecoder("latin1");

export function decodeStatementBytes(bytes: Uint8Array): DecodedText {
  try {
    return { text: strictUtf8.decode(bytes), encoding: "utf-8" };
  } catch {
    return { text: latin1.decode(bytes), encoding: "latin1" };
  }
}

export function entryKey(entry: BankEntry): string {
  return entry.entry_id;
}

export function entryValue(entry: BankEntry): Buffer {
  return Buffer.from(JSON.stringify(entry));
}

function* batches<T>(items: readonly T[], size: number): Generator<T[]> {
  for (let start = 0; start < items.length; start += size) yield items.slice(start, start + size);
}

/** Produces every entry, acks from all in-sync replicas, batch by batch; resolves once all are acknowledged. */
export async function publishToKafka(
  producer: Producer,
  topic: string,
  entries: readonly BankEntry[],
  options: { batchSize?: number; onProgress?: Progress } = {},
): Promise<number> {
  let done = 0;
  for (const batch of batches(entries, options.batchSize ?? PUBLISH_BATCH_SIZE)) {
    await producer.send({
      topic,
      acks: -1,
      messages: batch.map((entry) => ({ key: entryKey(entry), value: entryValue(entry) })),
    });
    done += batch.length;
    options.onProgress?.(done, entries.length);
  }
  return done;
}

export interface IngestTotals {
  accepted: number;
  duplicates: number;
  rejected: number;
  /** Why lines were rejected (should never happen: entries passed the schema when parsed). */
  rejections: Array<{ entryId: string; reason: string; detail: string }>;
}

/** Ingests the entries directly (no Kafka): one transaction per batch, each stored and reconciled. */
export async function ingestEntries(
  deps: IngestDeps,
  topic: string,
  entries: readonly BankEntry[],
  options: { batchSize?: number; onProgress?: Progress } = {},
): Promise<IngestTotals> {
  const totals: IngestTotals = { accepted: 0, duplicates: 0, rejected: 0, rejections: [] };
  let done = 0;
  for (const batch of batches(entries, options.batchSize ?? PUBLISH_BATCH_SIZE)) {
    const raws: RawMessage[] = batch.map((entry) => ({
      kind: "bank",
      topic,
      partition: null,
      offset: null,
      key: Buffer.from(entryKey(entry)),
      value: entryValue(entry),
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
          entryId: batch[index]!.entry_id,
          reason: line.reason ?? "rejected",
          detail: line.detail ?? "",
        });
      }
    });
    done += batch.length;
    options.onProgress?.(done, entries.length);
  }
  return totals;
}
