import { readFile } from "node:fs/promises";
import { parseArgs } from "node:util";
import { type Producer, Partitioners } from "kafkajs";
import { readAdyenSettlementReport } from "../adapters/adyenSettlement.js";
import { GatewayPayloadError } from "../adapters/gatewayEvent.js";
import type { Config } from "../config.js";
import { createIngestDeps, createReconcileDeps } from "../consumers/ingestDeps.js";
import { openDatabase } from "../daemon.js";
import { migrate } from "../db/migrate.js";
import { parseStatementFile, STATEMENT_FORMATS, type StatementFormat, StatementParseError } from "../import/index.js";
import {
  type DecodedText,
  decodeStatementBytes,
  encodingNamed,
  STATEMENT_ENCODINGS,
  type StatementEncoding,
} from "../import/encoding.js";
import {
  bankEntryMessage,
  gatewayEventMessage,
  type ImportKind,
  type ImportMessage,
  type IngestTotals,
  ingestDirectly,
  PUBLISH_STATEMENT_SUMMARIES,
  type Progress,
  publishToKafka,
  statementSummaries,
  statementSummaryMessage,
} from "../import/publish.js";
import { normalizeBank } from "../import/statement.js";
import { createKafka } from "../kafka/client.js";
import type { Logger } from "../logger.js";
import { formatMajor } from "../messages/currencies.js";
import { createMetrics } from "../metrics/registry.js";
import { VERSION } from "../version.js";
import { argsMessage, type Command, USAGE_ERROR, usageError } from "./types.js";

/**
 * `payrecon import <camt053|camt054|mt940|bai2> FILE [--bank NAME] [--encoding NAME] [--strict] [--dry-run]`
 * `payrecon import adyen-settlement FILE [--dry-run]`
 *
 * Parses the whole file first — a malformed file publishes nothing — then
 * publishes what it holds: a bank statement's lines as BankEntry messages to
 * the bank topic (key `entry_id`), an Adyen Settlement details report's
 * batches as `settlement.batch` GatewayEvents (gross, fee, net and the
 * references of the payments settled) to the gateway topic (key `batch_id`).
 * With Kafka configured they go to Kafka, otherwise straight into the
 * database through the same ingest path as the daemon. Entry and event ids
 * are stable, so importing a file twice changes nothing. The summary goes to
 * stdout; logs, and progress when a person is watching, to stderr.
 */

export const ADYEN_SETTLEMENT = "adyen-settlement";
type ImportFormat = StatementFormat | typeof ADYEN_SETTLEMENT;
export const IMPORT_FORMATS: readonly ImportFormat[] = [...STATEMENT_FORMATS, ADYEN_SETTLEMENT];

/** Exit codes, per file (documented in IMPORT_USAGE and README). */
export const IMPORT_EXIT = {
  /** Imported (a statement that does not add up is imported too, and listed under "imbalances"). */
  imported: 0,
  /** Nothing imported: unreadable or malformed file, refused by --strict, or messages rejected. */
  failed: 1,
  usage: USAGE_ERROR,
  /** The file parsed but holds no booked or pending entry (e.g. a camt.054 of INFO entries only). */
  noEntries: 3,
} as const;

export const IMPORT_USAGE = `usage: payrecon import <${STATEMENT_FORMATS.join("|")}> FILE [--bank NAME] [--encoding NAME] [--strict] [--dry-run]
       payrecon import ${ADYEN_SETTLEMENT} FILE [--dry-run]

  ${STATEMENT_FORMATS.join(", ")}: a bank statement; its lines become BankEntry messages (bank topic)
  ${ADYEN_SETTLEMENT}: an Adyen Settlement details report (CSV); each batch becomes a settlement.batch
                    GatewayEvent with gross, fee, net and the payments' references (gateway topic)

  --bank NAME               bank label for every entry (default: from the file's BIC, bank code or originator);
                            bank statements only
  --encoding NAME           the file's character set: ${STATEMENT_ENCODINGS.join(", ")} (default: a UTF-8 BOM,
                            else the XML declaration of a camt file, else UTF-8 when the bytes are valid UTF-8,
                            else whichever of windows-1252, windows-1250, cp852 reads as letters); bank statements only
  --strict                  refuse a statement whose own balances or control totals do not add up (without it,
                            such a statement is imported and listed under "imbalances"); bank statements only
  --allow-total-mismatch    no effect, kept for scripts: a mismatch no longer refuses a file unless --strict
  --dry-run                 parse and summarize, publish nothing
  -h, --help                this text

  exit codes: ${IMPORT_EXIT.imported} imported (statements that do not add up are listed, and named on stderr)
              ${IMPORT_EXIT.failed} nothing imported: the file is unreadable or malformed, --strict refused it
                (one line on stderr names the file and the problem), or messages were rejected
              ${IMPORT_EXIT.usage} bad usage
              ${IMPORT_EXIT.noEntries} the file holds no booked or pending entry (e.g. a camt.054 of INFO entries): nothing
                was published; stderr names the file`;

interface ImportArgs {
  format: ImportFormat;
  file: string;
  bank: string | undefined;
  encoding: StatementEncoding | undefined;
  strict: boolean;
  dryRun: boolean;
}

/** The flags `payrecon import` accepts (the runbook and reference checks read them). */
export const IMPORT_OPTIONS = {
  bank: { type: "string" },
  encoding: { type: "string" },
  strict: { type: "boolean" },
  "allow-total-mismatch": { type: "boolean" },
  "dry-run": { type: "boolean" },
  help: { type: "boolean", short: "h" },
} as const;

function readArgs(args: string[]) {
  return parseArgs({ args, options: IMPORT_OPTIONS, allowPositionals: true, strict: true });
}

/** The arguments, "help", or what is wrong with them. */
export function parseImportArgs(args: string[]): ImportArgs | "help" | string {
  let parsed: ReturnType<typeof readArgs>;
  try {
    parsed = readArgs(args);
  } catch (error) {
    return argsMessage(error);
  }
  if (parsed.values.help) return "help";
  const [format, file, ...extra] = parsed.positionals;
  if (!format || !file) return "a format and a FILE are required";
  if (extra.length > 0) return `unexpected argument "${extra[0]}"`;
  if (!(IMPORT_FORMATS as readonly string[]).includes(format)) {
    return `unknown format "${format}" (one of ${IMPORT_FORMATS.join(", ")})`;
  }
  const { bank, strict } = parsed.values;
  const encodingName = parsed.values.encoding;
  if (format === ADYEN_SETTLEMENT) {
    // A settlement report is the gateway's account of a batch, not a bank statement: no bank, no control totals.
    if (bank !== undefined) return `--bank does not apply to ${ADYEN_SETTLEMENT} (it names the bank of a statement)`;
    for (const option of ["allow-total-mismatch", "strict", "encoding"] as const) {
      if (parsed.values[option] !== undefined)
        return `--${option} does not apply to ${ADYEN_SETTLEMENT} (bank statements only)`;
    }
  }
  if (bank !== undefined && normalizeBank(bank) === null) {
    return `--bank "${bank}" has no letters or digits to make a bank label from`;
  }
  const encoding = encodingName === undefined ? undefined : encodingNamed(encodingName);
  if (encodingName !== undefined && !encoding) {
    return `--encoding "${encodingName}" is not one of ${STATEMENT_ENCODINGS.join(", ")}`;
  }
  return {
    format: format as ImportFormat,
    file,
    bank,
    encoding,
    strict: strict === true,
    dryRun: parsed.values["dry-run"] === true,
  };
}

/** What a file held, ready to publish, and what the summary says about it. */
interface ParsedImport {
  kind: ImportKind;
  /** For logs: "statement", "settlement report". */
  what: string;
  messages: ImportMessage[];
  /** What a message is called in the summary: "entries", "batches". */
  noun: string;
  /** Summary fields between `format:` and the message count. */
  header: Array<[string, string]>;
  /** Summary lines under the message count, one per message worth showing. */
  details: string[];
  /** What the file said that is not published as it stands (warnings, skipped batches). */
  notes: { label: string; items: string[] };
  /** Where the file's own balances or control totals do not add up (bank statements). */
  imbalances: string[];
  /** Statement summaries, published after the lines (bank statements, PUBLISH_STATEMENT_SUMMARIES). */
  trailer: ImportMessage[];
}

function parseStatement(args: ImportArgs & { format: StatementFormat }, text: string): ParsedImport {
  const parsed = parseStatementFile(args.format, text, args.bank === undefined ? {} : { bank: args.bank });
  const summaries = PUBLISH_STATEMENT_SUMMARIES
    ? statementSummaries(parsed, normalizeBank(args.bank) ?? "unknown").map(statementSummaryMessage)
    : [];
  return {
    kind: "bank",
    what: "statement",
    messages: parsed.entries.map(bankEntryMessage),
    noun: "entries",
    header: [["statements", String(parsed.statements.length)]],
    details: [],
    // Imbalances have their own list.
    notes: { label: "warnings", items: parsed.warnings.filter((warning) => !parsed.imbalances.includes(warning)) },
    imbalances: parsed.imbalances,
    trailer: summaries,
  };
}

/** Throws GatewayPayloadError for a file that is not a readable Settlement details report. */
function parseAdyenSettlement(text: string): ParsedImport {
  if (text.replace(/^\uFEFF/, "").trim() === "") throw new GatewayPayloadError("the file is empty");
  const report = readAdyenSettlementReport(text);
  if (report.events.length === 0 && report.skipped.length === 0) {
    throw new GatewayPayloadError("no settlement lines under the header (is it an Adyen Settlement details report?)");
  }
  const details: string[] = [];
  for (const event of report.events) {
    if (event.type !== "settlement.batch") continue;
    const money = (minor: number) => formatMajor(minor, event.currency);
    details.push(
      `  ${event.batch_id}: ${event.currency} gross ${money(event.gross_minor)} fee ${money(event.fee_minor)}` +
        ` net ${money(event.amount_minor)}, ${event.references.length} payments, arrival ${event.expected_arrival}`,
    );
  }
  return {
    kind: "gateway",
    what: "settlement report",
    messages: report.events.map(gatewayEventMessage),
    noun: "batches",
    header: [],
    details,
    notes: {
      label: "skipped",
      // The parser's reasons name the batch when they come from the batch's own sums.
      items: report.skipped.map((skip) =>
        skip.reason.includes(skip.batchId) ? skip.reason : `${skip.batchId}: ${skip.reason}`,
      ),
    },
    imbalances: [],
    trailer: [],
  };
}

function parseFile(args: ImportArgs, text: string): ParsedImport {
  return args.format === ADYEN_SETTLEMENT
    ? parseAdyenSettlement(text)
    : parseStatement(args as ImportArgs & { format: StatementFormat }, text);
}

/** A one-line counter on stderr, only when a person is watching. */
function progressLine(label: string, noun: string): { update: Progress; done: () => void } {
  if (!process.stderr.isTTY) return { update: () => {}, done: () => {} };
  let shown = false;
  return {
    update: (done, total) => {
      shown = true;
      process.stderr.write(`\r${label} ${done}/${total} ${noun}`);
    },
    done: () => {
      if (shown) process.stderr.write("\r\u001b[K");
      shown = false;
    },
  };
}

const field = (label: string, value: string | number) => `${`${label}:`.padEnd(13)}${value}`;

function summary(
  args: ImportArgs,
  encoding: DecodedText,
  parsed: ParsedImport,
  outcome: string,
  totals?: IngestTotals,
  trailerTotals?: IngestTotals,
): string {
  const lines = [
    field("file", args.file),
    field(
      "format",
      `${args.format}${encoding.encoding === "utf-8" ? "" : ` (read as ${encoding.encoding}, ${encoding.how})`}`,
    ),
    ...parsed.header.map(([label, value]) => field(label, value)),
    field(parsed.noun, `${parsed.messages.length} ${outcome}`),
    ...parsed.details,
  ];
  if (totals) {
    lines.push(
      field("accepted", totals.accepted),
      field("duplicates", totals.duplicates),
      field("rejected", totals.rejected),
    );
    for (const rejection of totals.rejections.slice(0, 20)) {
      lines.push(`  rejected ${rejection.id}: ${rejection.reason}: ${rejection.detail}`);
    }
  }
  if (parsed.trailer.length > 0) {
    const counted = trailerTotals
      ? `, ${trailerTotals.accepted} accepted, ${trailerTotals.duplicates} duplicates, ${trailerTotals.rejected} rejected`
      : "";
    lines.push(field("summaries", `${parsed.trailer.length} statement summaries${counted}`));
    for (const rejection of trailerTotals?.rejections.slice(0, 20) ?? []) {
      lines.push(`  rejected ${rejection.id}: ${rejection.reason}: ${rejection.detail}`);
    }
  }
  lines.push(field(parsed.notes.label, parsed.notes.items.length));
  for (const item of parsed.notes.items) lines.push(`  - ${item}`);
  if (parsed.kind === "bank") {
    lines.push(field("imbalances", parsed.imbalances.length));
    for (const item of parsed.imbalances) lines.push(`  - does not add up: ${item}`);
  }
  return `${lines.join("\n")}\n`;
}

interface Delivery {
  outcome: string;
  /** Only when ingested directly: Kafka says nothing of what the daemon will make of the messages. */
  totals?: IngestTotals;
  /** The statement summaries' own totals, likewise. */
  trailerTotals?: IngestTotals;
}

/** Publishes the parsed messages to their topic in Kafka or, without Kafka, ingests them into the database. */
async function deliver(config: Config, log: Logger, file: string, parsed: ParsedImport): Promise<Delivery> {
  const topic = parsed.kind === "bank" ? config.topics.bank : config.topics.gateway;
  const notes = parsed.notes.items.length;
  if (config.kafka) {
    const kafka = createKafka(config.kafka, log);
    const producer: Producer = kafka.producer({
      allowAutoTopicCreation: false,
      createPartitioner: Partitioners.DefaultPartitioner,
    });
    await producer.connect();
    const progress = progressLine("publishing", parsed.noun);
    try {
      const sent = await publishToKafka(producer, topic, [...parsed.messages, ...parsed.trailer], {
        onProgress: progress.update,
      });
      progress.done();
      log.info({ file, topic, [parsed.noun]: sent, [parsed.notes.label]: notes }, `${parsed.what} published`);
      return { outcome: `published to Kafka topic ${topic}` };
    } finally {
      progress.done();
      await producer.disconnect().catch(() => {});
    }
  }

  const database = await openDatabase(config, log, 2);
  const progress = progressLine("ingesting", parsed.noun);
  try {
    await migrate(database.pool);
    const metrics = createMetrics({ version: VERSION, commit: config.buildCommit });
    const ingest = createIngestDeps(config, database.pool, createReconcileDeps(config, log, metrics));
    const totals = await ingestDirectly(ingest, parsed.kind, topic, parsed.messages, {
      onProgress: progress.update,
    });
    // After every line, in their own count: the daemon checks a summary once its lines are stored.
    const trailerTotals =
      parsed.trailer.length > 0 ? await ingestDirectly(ingest, parsed.kind, topic, parsed.trailer, {}) : undefined;
    progress.done();
    log.info(
      {
        file,
        topic,
        accepted: totals.accepted,
        duplicates: totals.duplicates,
        rejected: totals.rejected,
        [parsed.notes.label]: notes,
      },
      `${parsed.what} ingested`,
    );
    return { outcome: "published directly to the database (no Kafka)", totals, trailerTotals };
  } finally {
    progress.done();
    await database.close();
  }
}

export const runImport: Command = async (config, log, argv) => {
  const args = parseImportArgs(argv);
  if (args === "help") {
    process.stdout.write(`${IMPORT_USAGE}\n`);
    return 0;
  }
  if (typeof args === "string") return usageError("import", args);

  let bytes: Buffer;
  try {
    bytes = await readFile(args.file);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    process.stderr.write(`payrecon import: ${args.file}: cannot read the file (${code ?? String(error)})\n`);
    return 1;
  }
  const decoded = decodeStatementBytes(bytes, args.encoding);
  const { text } = decoded;

  // All of the file first: nothing is published unless all of it parsed.
  let parsed: ParsedImport;
  try {
    parsed = parseFile(args, text);
  } catch (error) {
    if (error instanceof StatementParseError || error instanceof GatewayPayloadError) {
      process.stderr.write(`payrecon import: ${args.file}: ${error.message} (nothing was imported)\n`);
      return 1;
    }
    throw error;
  }
  if (parsed.kind === "gateway" && parsed.notes.items.length > 0) {
    log.warn({ file: args.file, skipped: parsed.notes.items }, "settlement report batches skipped");
  }
  const [imbalance, ...more] = parsed.imbalances;
  const problem = imbalance && `does not add up: ${imbalance}${more.length > 0 ? ` (and ${more.length} more)` : ""}`;
  if (problem && args.strict) {
    process.stderr.write(`payrecon import: ${args.file}: ${problem} (nothing was imported: --strict)\n`);
    return IMPORT_EXIT.failed;
  }
  if (parsed.kind === "bank" && parsed.messages.length === 0) {
    // E.g. a camt.054 of INFO entries only: nothing moved money, and exit 0 would say it was imported.
    process.stderr.write(
      `payrecon import: ${args.file}: no booked entries (the warnings say what was left out); nothing was published\n`,
    );
    process.stdout.write(summary(args, decoded, parsed, "parsed, none to publish"));
    return IMPORT_EXIT.noEntries;
  }

  if (args.dryRun) {
    process.stdout.write(summary(args, decoded, parsed, "parsed (dry run: nothing published)"));
    if (problem) process.stderr.write(`payrecon import: ${args.file}: ${problem}\n`);
    return IMPORT_EXIT.imported;
  }
  const delivery = await deliver(config, log, args.file, parsed);
  process.stdout.write(summary(args, decoded, parsed, delivery.outcome, delivery.totals, delivery.trailerTotals));
  // Money is never held back for it, but the file is named as not adding up.
  if (problem) process.stderr.write(`payrecon import: ${args.file}: imported, but ${problem}\n`);
  const rejected = (delivery.totals?.rejected ?? 0) + (delivery.trailerTotals?.rejected ?? 0);
  return rejected > 0 ? IMPORT_EXIT.failed : IMPORT_EXIT.imported;
};
