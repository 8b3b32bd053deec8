import { once } from "node:events";
import type { Readable } from "node:stream";
import { parseArgs } from "node:util";
import { openDatabase } from "../daemon.js";
import { isSpreadsheetLocale, reportCsvStream } from "../reports/csv.js";
import { reportJson } from "../reports/json.js";
import { loadReconciliationReport } from "../reports/loadReconciliation.js";
import { reportMarkdown } from "../reports/markdown.js";
import { PeriodError, resolvePeriod } from "../reports/period.js";
import { NAMED_PERIODS, type NamedPeriod, namedPeriod } from "../followup/reportSchedule.js";
import { argsMessage, type Command, usageError } from "./types.js";

/** `payrecon report`: the reconciliation report on stdout (logs go to stderr). */

export const REPORT_USAGE = `usage: payrecon report [--from WHEN] [--to WHEN | --period NAME] [--format md|csv|json] [--bom] [--locale LOCALE]

Prints the reconciliation report to stdout: per gateway × currency × direction,
the count and amount of expected payments and of each outcome, what the bank
showed, unmatched bank entries and overdue aging, with totals per currency.

  --from WHEN    start of the period, inclusive: YYYY-MM-DD (midnight UTC) or an
                 RFC 3339 time (default: 30 days before --to)
  --to WHEN      end of the period, exclusive (default: now);
                 --from 2026-11-01 --to 2026-12-01 is November
  --period NAME  yesterday, last-week (Monday to Monday) or last-month: the
                 closed period in REPORT_TZ (default UTC), instead of --from/--to
  --format FMT   md (a table, the default), csv (for spreadsheets) or json
  --bom          start the CSV with a UTF-8 byte order mark (for Excel)
  --locale TAG   the CSV in the spreadsheet form for a locale (de-DE, fr-FR, en-GB…): byte order mark,
                 its decimal mark, and ; between fields where the decimal mark is a comma
  -h, --help     this text

Payments are selected by created_at; statuses are as known now.`;

const FORMATS = ["md", "csv", "json"] as const;
type Format = (typeof FORMATS)[number];

interface ReportArgs {
  period?: NamedPeriod;
  from?: string;
  to?: string;
  format: Format;
  bom: boolean;
  locale: string | undefined;
  help: boolean;
}

class UsageError extends Error {}

/** The flags `payrecon report` accepts. */
export const REPORT_OPTIONS = {
  from: { type: "string" },
  to: { type: "string" },
  period: { type: "string" },
  format: { type: "string" },
  bom: { type: "boolean" },
  locale: { type: "string" },
  help: { type: "boolean", short: "h" },
} as const;

export function parseReportArgs(args: string[]): ReportArgs {
  let values: {
    from?: string;
    to?: string;
    period?: string;
    format?: string;
    bom?: boolean;
    locale?: string;
    help?: boolean;
  };
  try {
    ({ values } = parseArgs({
      args,
      options: REPORT_OPTIONS,
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
  if (values.locale !== undefined && format !== "csv") throw new UsageError("--locale: only with --format csv");
  if (values.locale !== undefined && !isSpreadsheetLocale(values.locale)) {
    throw new UsageError(`--locale: must be a locale such as de-DE, fr-FR or en-US, got "${values.locale}"`);
  }
  if (values.period !== undefined && !(NAMED_PERIODS as readonly string[]).includes(values.period)) {
    throw new UsageError(`--period: must be yesterday, last-week or last-month, got "${values.period}"`);
  }
  if (values.period !== undefined && (values.from !== undefined || values.to !== undefined)) {
    throw new UsageError("--period: give either --period or --from/--to");
  }
  return {
    period: values.period as NamedPeriod | undefined,
    from: values.from,
    to: values.to,
    format: format as Format,
    bom: values.bom ?? false,
    locale: values.locale,
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
    period = options.period
      ? namedPeriod(options.period, now, config.followUp.reports.tz)
      : resolvePeriod(options, now);
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
    if (options.format === "csv")
      await writeStream(reportCsvStream(report, { bom: options.bom, locale: options.locale }));
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
