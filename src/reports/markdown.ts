import { formatMajor } from "../messages/currencies.js";
import { formatInstant } from "../messages/display.js";
import {
  AGING_BUCKETS,
  type Bucket,
  type ReconciliationReport,
  type ReportRow,
  STATUS_BUCKET_NAMES,
  STATUS_BUCKETS,
  type StatusBucket,
} from "./reconciliation.js";

/**
 * The report as a Markdown table for the terminal (and anything that renders
 * Markdown): one line per row, columns padded so it also reads as plain text.
 * A cell is "count / amount" in major units; an empty bucket is "-".
 */

const STATUS_TITLES: Record<StatusBucket, string> = {
  settled: "Settled",
  in_flight: "In flight",
  failed: "Failed",
  held: "Held",
  delayed: "Delayed",
  mismatch: "Mismatch (expected)",
  reversed: "Reversed",
  cancelled: "Cancelled",
  written_off: "Written off",
};

const HEADER = [
  "Gateway",
  "Currency",
  "Direction",
  "Expected",
  ...STATUS_BUCKET_NAMES.map((name) => STATUS_TITLES[name]),
  "Bank settled",
  "Unmatched bank entries",
  ...AGING_BUCKETS.map((name) => `Overdue ${name}`),
  "Batch fees charged / expected",
  "FX differences",
];
const TEXT_COLUMNS = 3;

/** Text that cannot break the table: pipes and backslashes escaped, line breaks flattened. */
function cellText(text: string): string {
  return text.replace(/[\\|]/g, (c) => `\\${c}`).replace(/[\r\n]+/g, " ");
}

function bucketCell(bucket: Bucket, currency: string): string {
  return bucket.count === 0 && bucket.amountMinor === 0
    ? "-"
    : `${bucket.count} / ${formatMajor(bucket.amountMinor, currency)}`;
}

function cells(row: ReportRow): string[] {
  const strong = (text: string) => (row.rowType === "total" ? `**${text}**` : text);
  return [
    strong(cellText(row.gateway)),
    cellText(row.currency),
    row.direction,
    bucketCell(row.expected, row.currency),
    ...STATUS_BUCKET_NAMES.map((name) => bucketCell(row.statuses[name], row.currency)),
    formatMajor(row.bankSettledMinor, row.currency),
    bucketCell(row.unmatchedBankEntries, row.currency),
    ...AGING_BUCKETS.map((name) => bucketCell(row.overdue[name], row.currency)),
    row.batchFees
      ? `${formatMajor(row.batchFees.chargedMinor, row.currency)} / ${
          row.batchFees.expectedMinor === null ? "?" : formatMajor(row.batchFees.expectedMinor, row.currency)
        }`
      : "-",
    row.fxDifferences.length > 0
      ? row.fxDifferences
          .map((fx) => `${fx.lineCurrency}→${row.currency} ${formatMajor(fx.differenceMinor, row.currency)}`)
          .join(", ")
      : "-",
  ];
}

function table(lines: string[][]): string {
  const widths = HEADER.map((_, column) => Math.max(3, ...lines.map((line) => line[column]!.length)));
  const render = (line: string[]) =>
    `| ${line.map((cell, column) => (column < TEXT_COLUMNS ? cell.padEnd(widths[column]!) : cell.padStart(widths[column]!))).join(" | ")} |`;
  const rule = `|${widths.map((width, column) => (column < TEXT_COLUMNS ? `:${"-".repeat(width + 1)}` : `${"-".repeat(width + 1)}:`)).join("|")}|`;
  return [render(lines[0]!), rule, ...lines.slice(1).map(render)].join("\n");
}

export function reportMarkdown(report: ReconciliationReport): string {
  const groups = (name: StatusBucket) => STATUS_BUCKETS[name].join(" + ");
  const out = [
    "# Reconciliation report",
    "",
    `- Period: payments created from ${formatInstant(report.from)} (inclusive) to ${formatInstant(report.to)} (exclusive)`,
    `- As of: ${formatInstant(report.asOf)} (statuses as known then)`,
    `- Cells: count / amount in major units. In flight = ${groups("in_flight")}; reversed = ${groups("reversed")}.`,
    "- Bank settled: what the bank showed for these payments. Unmatched bank entries: gateway (bank), credit as collection, debit as payout, by value date.",
    "- Status columns hold the expected amounts of the payments in that status, mismatch included (the bank's difference from it is a mismatch payment's amount at risk: payrecon_funds_at_risk, the status page, its exception).",
    "- Overdue: delayed payments by days past due, with the amount still outstanding.",
    "- Batch fees: of the settlement batches expected to arrive in the period, as charged / as FEE_SCHEDULE expects them (? without a rule).",
    "- FX differences: of payments settled by bank lines in another currency, per pair (line currency → payment currency), converted − settled in the payment's currency.",
    "",
  ];
  if (report.rows.length === 0) {
    out.push("No payments and no unmatched bank entries in this period.");
  } else {
    out.push(table([HEADER, ...report.rows.map(cells)]));
  }
  return `${out.join("\n")}\n`;
}
