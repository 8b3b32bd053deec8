import { once } from "node:events";
import type { Readable } from "node:stream";
import { parseArgs } from "node:util";
import { openDatabase } from "../daemon.js";
import { reportCsvStream } from "../reports/csv.js";
import { reportJson } from "../reports/json.js";
import { loadReconciliationReport } from "../reports/loadReconciliation.js";
import { reportMarkdown } from "../reports/markdown.js";
import { PeriodError, resolvePeriod } from "../reports/period.js";
import { argsMessage, type Command, usageError } from "./types.js";

/** `payrecon report`: the reconciliation report on stdout (logs go to stderr). */

export const REPORT_USAGE = `usage: payrecon report [--from WHEN] [--to WHEN] [--format md|csv|json] [--bom]

Prints the reconciliation report to stdout: per gateway × currency × direction,
the count and amount of expected payments and of each outcome, what the bank
showed, unmatched bank entries and overdue aging, with totals per currency.

  --from WHEN    start of the period, inclusive: YYYY-MM-DD (midnight UTC) or an
                 RFC 3339 time (default: 30 days before --to)
  --to WHEN      end of the period, exclusive (default: now);
                 --from 2026-11-01 --to 2026-12-01 is November
  --format FMT   md (a table, the default), csv (for spreadsheets) or json
  --bom          start the CSV with a UTF-8 byte order mark (for Excel)
  -h, --help     this text

Payments are selected by created_at; statuses are as known now.`;

const FORMATS = ["md", "csv", "json"] as const;
type Format = (typeof FORMATS)[number];

interface ReportArgs {
  from?: string;
  to?: string;
  format: Format;
  bom: boolean;
  help: boolean;
}

class UsageError extends Error {}

export function parseReportArgs(args: string[]): ReportArgs {
  let values: { from?: string; to?: string; format?: string; bom?: boolean; help?: boolean };
  try {
    ({ values } = parseArgs({
      args,
      options: {
        from: { type: "string" },
        to: { type: "string" },
        format: { type: "string" },
        bom: { type: "boolean" },
        help: { type: "boolean", short: "h" },
      },
      strict: true,
      allowPositionals: false,
    }));
  } catch (error) {
    throw new UsageError(argsMessage(error));
  }
  const format = values.format ?? "md";
  if (!(FORMATS as readonly string[]).includes(format)) {
    throw new UsageError(`--format: must be md, csv or json, got "${format}"`);
  }
  return {
    from: values.from,
    to: values.to,
    format: format as Format,
    bom: values.bom ?? false,
    help: values.help ?? false,
  };
}

async function writeStream(stream: Readable): Promise<void> {
  for await (const chunk of stream) {
    if (!process.stdout.write(chunk)) await once(process.stdout, "drain");
  }
}

export const runReport: Command = async (config, log, args) => {
  let options: ReportArgs;
  let period: ReturnType<typeof resolvePeriod>;
  const now = new Date();
  try {
    options = parseReportArgs(args);
    if (options.help) {
      process.stdout.write(`${REPORT_USAGE}\n`);
      return 0;
    }
    period = resolvePeriod(options, now);
  } catch (error) {
    if (error instanceof UsageError || error instanceof PeriodError) {
      const message = error instanceof PeriodError ? `--${error.message}` : error.message;
      return usageError("report", message);
    }
    throw error;
  }
  const database = await openDatabase(config, log, 2);
  try {
    const report = await loadReconciliationReport(database.pool, period, now, config.policy.feeSchedule);
    log.info(
      { from: period.from.toISOString(), to: period.to.toISOString(), rows: report.rows.length },
      "reconciliation report",
    );
    if (options.format === "csv") await writeStream(reportCsvStream(report, { bom: options.bom }));
    else if (options.format === "json") process.stdout.write(`${JSON.stringify(reportJson(report), null, 2)}\n`);
    else process.stdout.write(reportMarkdown(report));
    return 0;
  } catch (error) {
    if ((error as { code?: string }).code === "42P01") {
      process.stderr.write("payrecon report: the database has no payrecon tables; run payrecon migrate first\n");
      return 1;
    }
    throw error;
  } finally {
    await database.close();
  }
};
