import type { Readable } from "node:stream";
import { stringify } from "csv-stringify";
import { formatMajor } from "../messages/currencies.js";
import { AGING_BUCKETS, type ReconciliationReport, type ReportRow, STATUS_BUCKET_NAMES } from "./reconciliation.js";

/**
 * The report as CSV for spreadsheets: a header row, RFC 4180 (CRLF, fields
 * quoted when they hold a comma, quote or line break, quotes doubled), UTF-8,
 * amounts in major units with exactly the currency's decimals (JPY 0, EUR 2,
 * KWD 3). Text cells that a spreadsheet would run as a formula (starting with
 * = + - @, tab or CR, or their full-width forms) get a leading ' as OWASP
 * advises; amounts are never touched, so a negative amount stays a number.
 */

const AGING_COLUMN: Record<(typeof AGING_BUCKETS)[number], string> = {
  "0-1d": "overdue_0_1d",
  "1-3d": "overdue_1_3d",
  "3-7d": "overdue_3_7d",
  "7d+": "overdue_7d_plus",
};

export const CSV_COLUMNS: string[] = [
  "row_type",
  "gateway",
  "currency",
  "direction",
  "expected_count",
  "expected_amount",
  ...STATUS_BUCKET_NAMES.flatMap((name) => [`${name}_count`, `${name}_amount`]),
  "bank_settled_amount",
  "unmatched_bank_entries_count",
  "unmatched_bank_entries_amount",
  ...AGING_BUCKETS.flatMap((name) => [`${AGING_COLUMN[name]}_count`, `${AGING_COLUMN[name]}_amount`]),
  // CONTRACT §8, amounts in major units: on gateway collection rows and totals; empty where no batch (or, for
  // expected, no FEE_SCHEDULE rule) — hence no `_amount` suffix, which promises a number in every row.
  "batch_fees_charged",
  "batch_fees_expected",
  // CONTRACT §8 "FX": `EUR:-25.36` per line currency (space-separated), the difference in the row's currency, major units.
  "fx_differences",
];

const FORMULA_START = new Set(["=", "+", "-", "@", "\t", "\r", "\uFF1D", "\uFF0B", "\uFF0D", "\uFF20"]);

/** A text cell a spreadsheet shows as text, never evaluates. */
export function neutralizeFormula(text: string): string {
  return text.length > 0 && FORMULA_START.has(text[0]!) ? `'${text}` : text;
}

export function csvRecord(row: ReportRow, decimalMark = "."): string[] {
  const amount = (minor: number) => formatMajor(minor, row.currency).replace(".", decimalMark);
  return [
    neutralizeFormula(row.rowType),
    neutralizeFormula(row.gateway),
    neutralizeFormula(row.currency),
    neutralizeFormula(row.direction),
    String(row.expected.count),
    amount(row.expected.amountMinor),
    ...STATUS_BUCKET_NAMES.flatMap((name) => [
      String(row.statuses[name].count),
      amount(row.statuses[name].amountMinor),
    ]),
    amount(row.bankSettledMinor),
    String(row.unmatchedBankEntries.count),
    amount(row.unmatchedBankEntries.amountMinor),
    ...AGING_BUCKETS.flatMap((name) => [String(row.overdue[name].count), amount(row.overdue[name].amountMinor)]),
    row.batchFees ? amount(row.batchFees.chargedMinor) : "",
    row.batchFees?.expectedMinor != null ? amount(row.batchFees.expectedMinor) : "",
    row.fxDifferences.map((fx) => `${fx.lineCurrency}:${amount(fx.differenceMinor)}`).join(" "),
  ];
}

export interface CsvOptions {
  /** A UTF-8 byte order mark first, for spreadsheets that otherwise guess a legacy encoding (Excel). */
  bom?: boolean;
  /**
   * The spreadsheet form for a locale (BCP 47, e.g. de-DE): a byte order mark, that locale's decimal mark in
   * amounts (still major units, no grouping), and `;` between fields where the decimal mark is `,` — what
   * Excel and LibreOffice in that locale open as columns of numbers. Absent: the machine form (RFC 4180).
   */
  locale?: string;
}

/** Whether `locale` is a BCP 47 tag this Node knows (Intl); such a tag picks the spreadsheet form. */
export function isSpreadsheetLocale(locale: string): boolean {
  try {
    return Intl.NumberFormat.supportedLocalesOf([locale]).length > 0;
  } catch {
    return false;
  }
}

/** The decimal mark and field separator a spreadsheet in `locale` expects. */
export function spreadsheetDialect(locale: string): { decimalMark: string; delimiter: string } {
  const decimalMark =
    new Intl.NumberFormat(locale).formatToParts(1.5).find((part) => part.type === "decimal")?.value ?? ".";
  return { decimalMark, delimiter: decimalMark === "," ? ";" : "," };
}

/** The CSV as a stream (csv-stringify): pipe it to a response or stdout. */
export function reportCsvStream(report: ReconciliationReport, options: CsvOptions = {}): Readable {
  const dialect = options.locale ? spreadsheetDialect(options.locale) : { decimalMark: ".", delimiter: "," };
  const stringifier = stringify({
    header: true,
    columns: CSV_COLUMNS,
    delimiter: dialect.delimiter,
    record_delimiter: "windows",
    quote_record_delimiter: true,
    bom: options.locale !== undefined || (options.bom ?? false),
  });
  // Rows are already aggregated (a few per gateway and currency); written as the consumer reads.
  const records = report.rows.map((row) => csvRecord(row, dialect.decimalMark));
  let next = 0;
  const pump = () => {
    while (next < records.length) {
      if (!stringifier.write(records[next++])) {
        stringifier.once("drain", pump);
        return;
      }
    }
    stringifier.end();
  };
  pump();
  return stringifier;
}

function stamp(instant: Date): string {
  const iso = instant.toISOString();
  return iso.endsWith("T00:00:00.000Z") ? iso.slice(0, 10) : iso.replace(/\.\d{3}Z$/, "Z").replace(/:/g, "");
}

/** `reconciliation_2026-11-01_2026-12-01.csv`: only safe characters, so the header needs no quoting rules. */
export function reportFilename(report: ReconciliationReport, extension: string): string {
  return `reconciliation_${stamp(report.from)}_${stamp(report.to)}.${extension}`;
}
