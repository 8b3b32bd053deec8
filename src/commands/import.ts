import { readFile } from "node:fs/promises";
import { parseArgs } from "node:util";
import { type Producer, Partitioners } from "kafkajs";
import { createIngestDeps, createReconcileDeps } from "../consumers/ingestDeps.js";
import { openDatabase } from "../daemon.js";
import { migrate } from "../db/migrate.js";
import {
  type ParsedStatementFile,
  parseStatementFile,
  STATEMENT_FORMATS,
  type StatementFormat,
  StatementParseError,
} from "../import/index.js";
import {
  decodeStatementBytes,
  type IngestTotals,
  ingestEntries,
  type Progress,
  publishToKafka,
} from "../import/publish.js";
import { normalizeBank } from "../import/statement.js";
import { createKafka } from "../kafka/client.js";
import { createMetrics } from "../metrics/registry.js";
import { VERSION } from "../version.js";
import { type Command, USAGE_ERROR } from "./types.js";

/**
 * `payrecon import <camt053|camt054|mt940|bai2> FILE [--bank NAME] [--allow-total-mismatch] [--dry-run]`
 *
 * Parses the whole statement first — a malformed file publishes nothing —
 * then publishes one BankEntry per line: to the bank topic when Kafka is
 * configured, otherwise straight into the database through the same ingest
 * path as the daemon. Entry ids are stable, so importing a file twice
 * changes nothing. The summary goes to stdout, logs and progress to stderr.
 */

export const IMPORT_USAGE = `usage: payrecon import <${STATEMENT_FORMATS.join("|")}> FILE [--bank NAME] [--allow-total-mismatch] [--dry-run]

  --bank NAME               bank label for every entry (default: from the file's BIC, bank code or originator)
  --allow-total-mismatch    import a BAI2 file whose control totals do not add up (with warnings)
  --dry-run                 parse and summarize, publish nothing`;

interface ImportArgs {
  format: StatementFormat;
  file: string;
  bank: string | undefined;
  allowTotalMismatch: boolean;
  dryRun: boolean;
}

function usageError(message: string): number {
  process.stderr.write(`payrecon import: ${message}\n\n${IMPORT_USAGE}\n`);
  return USAGE_ERROR;
}

const OPTIONS = {
  bank: { type: "string" },
  "allow-total-mismatch": { type: "boolean" },
  "dry-run": { type: "boolean" },
  help: { type: "boolean", short: "h" },
} as const;

function readArgs(args: string[]) {
  return parseArgs({ args, options: OPTIONS, allowPositionals: true, strict: true });
}

/** The arguments, "help", or what is wrong with them. */
function parseImportArgs(args: string[]): ImportArgs | "help" | string {
  let parsed: ReturnType<typeof readArgs>;
  try {
    parsed = readArgs(args);
  } catch (error) {
    return (error as Error).message;
  }
  if (parsed.values.help) return "help";
  const [format, file, ...extra] = parsed.positionals;
  if (!format || !file) return "a format and a FILE are required";
  if (extra.length > 0) return `unexpected argument "${extra[0]}"`;
  if (!(STATEMENT_FORMATS as readonly string[]).includes(format)) {
    return `unknown format "${format}" (one of ${STATEMENT_FORMATS.join(", ")})`;
  }
  const bank = parsed.values.bank;
  if (bank !== undefined && normalizeBank(bank) === null) {
    return `--bank "${bank}" has no letters or digits to make a bank label from`;
  }
  return {
    format: format as StatementFormat,
    file,
    bank,
    allowTotalMismatch: parsed.values["allow-total-mismatch"] === true,
    dryRun: parsed.values["dry-run"] === true,
  };
}

/** A one-line counter on stderr, only when a person is watching. */
function progressLine(label: string): { update: Progress; done: () => void } {
  if (!process.stderr.isTTY) return { update: () => {}, done: () => {} };
  let shown = false;
  return {
    update: (done, total) => {
      shown = true;
      process.stderr.write(`\r${label} ${done}/${total} entries`);
    },
    done: () => {
      if (shown) process.stderr.write("\r\u001b[K");
      shown = false;
    },
  };
}

function summary(
  args: ImportArgs,
  encoding: string,
  parsed: ParsedStatementFile,
  outcome: string,
  totals?: IngestTotals,
): string {
  const lines = [
    `file:        ${args.file}`,
    `format:      ${args.format}${encoding === "utf-8" ? "" : ` (read as ${encoding})`}`,
    `statements:  ${parsed.statements.length}`,
    `entries:     ${parsed.entries.length} ${outcome}`,
  ];
  if (totals) {
    lines.push(
      `accepted:    ${totals.accepted}`,
      `duplicates:  ${totals.duplicates}`,
      `rejected:    ${totals.rejected}`,
    );
    for (const rejection of totals.rejections.slice(0, 20)) {
      lines.push(`  rejected ${rejection.entryId}: ${rejection.reason}: ${rejection.detail}`);
    }
  }
  lines.push(`warnings:    ${parsed.warnings.length}`);
  for (const warning of parsed.warnings) lines.push(`  - ${warning}`);
  return `${lines.join("\n")}\n`;
}

export const runImport: Command = async (config, log, argv) => {
  const args = parseImportArgs(argv);
  if (args === "help") {
    process.stdout.write(`${IMPORT_USAGE}\n`);
    return 0;
  }
  if (typeof args === "string") return usageError(args);

  let bytes: Buffer;
  try {
    bytes = await readFile(args.file);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    process.stderr.write(`payrecon import: ${args.file}: cannot read the file (${code ?? String(error)})\n`);
    return 1;
  }
  const { text, encoding } = decodeStatementBytes(bytes);

  // All of the file first: nothing is published unless every entry parsed.
  let parsed: ParsedStatementFile;
  try {
    const options: { bank?: string; allowTotalMismatch: boolean } = { allowTotalMismatch: args.allowTotalMismatch };
    if (args.bank !== undefined) options.bank = args.bank;
    parsed = parseStatementFile(args.format, text, options);
  } catch (error) {
    if (error instanceof StatementParseError) {
      process.stderr.write(`payrecon import: ${args.file}: ${error.message} (nothing was imported)\n`);
      return 1;
    }
    throw error;
  }

  if (args.dryRun) {
    process.stdout.write(summary(args, encoding, parsed, "parsed (dry run: nothing published)"));
    return 0;
  }

  if (config.kafka) {
    const kafka = createKafka(config.kafka, log);
    const producer: Producer = kafka.producer({
      allowAutoTopicCreation: false,
      createPartitioner: Partitioners.DefaultPartitioner,
    });
    await producer.connect();
    const progress = progressLine("publishing");
    try {
      const sent = await publishToKafka(producer, config.topics.bank, parsed.entries, { onProgress: progress.update });
      progress.done();
      log.info(
        { file: args.file, topic: config.topics.bank, entries: sent, warnings: parsed.warnings.length },
        "statement published",
      );
      process.stdout.write(summary(args, encoding, parsed, `published to Kafka topic ${config.topics.bank}`));
      return 0;
    } finally {
      progress.done();
      await producer.disconnect().catch(() => {});
    }
  }

  const database = await openDatabase(config, log, 2);
  const progress = progressLine("ingesting");
  try {
    await migrate(database.pool);
    const metrics = createMetrics({ version: VERSION, commit: config.buildCommit });
    const ingest = createIngestDeps(config, database.pool, createReconcileDeps(config, log, metrics));
    const totals = await ingestEntries(ingest, config.topics.bank, parsed.entries, { onProgress: progress.update });
    progress.done();
    log.info(
      {
        file: args.file,
        accepted: totals.accepted,
        duplicates: totals.duplicates,
        rejected: totals.rejected,
        warnings: parsed.warnings.length,
      },
      "statement ingested",
    );
    process.stdout.write(summary(args, encoding, parsed, "published directly to the database (no Kafka)", totals));
    return totals.rejected > 0 ? 1 : 0;
  } finally {
    progress.done();
    await database.close();
  }
};
