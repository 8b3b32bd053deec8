import { buffer, text } from "node:stream/consumers";
import { parse } from "csv-parse/sync";
import { describe, expect, it } from "vitest";
import type { StatusTotalRow } from "../../../src/db/queries/reports.js";
import { counterpartyHistory } from "../../../src/reports/counterparty.js";
import { CSV_COLUMNS, neutralizeFormula, reportCsvStream, reportFilename } from "../../../src/reports/csv.js";
import { reportJson } from "../../../src/reports/json.js";
import { reportMarkdown } from "../../../src/reports/markdown.js";
import { PeriodError, resolvePeriod } from "../../../src/reports/period.js";
import { buildReconciliationReport } from "../../../src/reports/reconciliation.js";

/** The report's pure parts: period, model, and the three formats. */

const period = { from: new Date("2026-11-01T00:00:00Z"), to: new Date("2026-12-01T00:00:00Z") };
const asOf = new Date("2026-12-05T12:00:00Z");

function status(
  gateway: string,
  currency: string,
  direction: "collection" | "payout",
  name: string,
  count: number,
  amount: number,
  settled = 0,
): StatusTotalRow {
  return { gateway, currency, direction, status: name, count, amount_minor: amount, settled_minor: settled };
}

const sample = buildReconciliationReport({
  ...period,
  asOf,
  statusTotals: [
    status("stripe", "EUR", "collection", "settled", 2, 250_000, 250_000),
    status("stripe", "EUR", "collection", "pending", 1, 1_000),
    status("stripe", "EUR", "collection", "partially_settled", 1, 4_000, 1_500),
    status("stripe", "EUR", "collection", "refunded", 1, 700, 700),
    status("stripe", "EUR", "collection", "charged_back", 1, 300, 300),
    status("adyen", "EUR", "collection", "delayed", 3, 9_000, 2_000),
    status("adyen", "KWD", "payout", "failed", 1, 1_250_500, -5),
    status("=cmd", "JPY", "payout", "cancelled", 1, 125),
  ],
  aging: [
    { gateway: "adyen", currency: "EUR", direction: "collection", bucket: "0-1d", count: 1, outstanding_minor: 1_000 },
    { gateway: "adyen", currency: "EUR", direction: "collection", bucket: "7d+", count: 2, outstanding_minor: 6_000 },
  ],
  unmatched: [
    { currency: "EUR", direction: "credit", count: 2, amount_minor: 3_333 },
    { currency: "KWD", direction: "debit", count: 1, amount_minor: 1 },
  ],
});

describe("report period", () => {
  const now = new Date("2026-11-23T10:30:00Z");
  it("takes dates as midnight UTC and RFC 3339 times as given; to is exclusive", () => {
    expect(resolvePeriod({ from: "2026-11-01", to: "2026-12-01" }, now)).toEqual(period);
    expect(resolvePeriod({ from: "2026-11-01T10:00:00+02:00", to: "2026-11-02" }, now).from.toISOString()).toBe(
      "2026-11-01T08:00:00.000Z",
    );
  });
  it("defaults to the 30 days before now, or before `to`", () => {
    expect(resolvePeriod({}, now)).toEqual({ from: new Date("2026-10-24T10:30:00Z"), to: now });
    expect(resolvePeriod({ to: "2026-11-10" }, now).from.toISOString()).toBe("2026-10-11T00:00:00.000Z");
    expect(resolvePeriod({ from: "2026-11-20" }, now).to).toEqual(now);
  });
  it("refuses what is not a date or a time, and an empty or reversed period", () => {
    for (const bad of [{ from: "yesterday" }, { to: "2026-02-30" }, { from: "2026-11-01T10:00:00" }]) {
      expect(() => resolvePeriod(bad, now)).toThrow(PeriodError);
    }
    expect(() => resolvePeriod({ from: "2026-11-02", to: "2026-11-02" }, now)).toThrow(/before/);
    expect(() => resolvePeriod({ from: "2026-11-03", to: "2026-11-02" }, now)).toThrow(/before/);
  });
});

describe("reconciliation report model", () => {
  it("puts every status in one bucket, so expected is their sum, and adds totals per currency and direction", () => {
    const stripe = sample.rows.find((row) => row.gateway === "stripe")!;
    expect(stripe.expected).toEqual({ count: 6, amountMinor: 256_000 });
    expect(stripe.statuses.in_flight).toEqual({ count: 2, amountMinor: 5_000 });
    expect(stripe.statuses.reversed).toEqual({ count: 2, amountMinor: 1_000 });
    expect(stripe.bankSettledMinor).toBe(252_500);
    const total = sample.rows.find((row) => row.rowType === "total" && row.currency === "EUR")!;
    expect(total.expected).toEqual({ count: 9, amountMinor: 265_000 });
    expect(total.unmatchedBankEntries).toEqual({ count: 2, amountMinor: 3_333 });
    expect(total.overdue["7d+"]).toEqual({ count: 2, amountMinor: 6_000 });
  });

  it("orders rows by currency and direction: gateways, then (bank), then (total)", () => {
    expect(sample.rows.map((row) => `${row.currency} ${row.direction} ${row.gateway}`)).toEqual([
      "EUR collection adyen",
      "EUR collection stripe",
      "EUR collection (bank)",
      "EUR collection (total)",
      "JPY payout =cmd",
      "JPY payout (total)",
      "KWD payout adyen",
      "KWD payout (bank)",
      "KWD payout (total)",
    ]);
  });

  it("fails loudly on a status it does not know (a report that does not add up is worse)", () => {
    expect(() =>
      buildReconciliationReport({
        ...period,
        asOf,
        statusTotals: [status("stripe", "EUR", "collection", "teleported", 1, 1)],
        aging: [],
        unmatched: [],
      }),
    ).toThrow(/teleported/);
  });
});

describe("report formats", () => {
  it("JSON carries minor units and exact major-unit text with the exponent", () => {
    const json = reportJson(sample);
    const kwd = json.rows.find((row) => row.currency === "KWD" && row.row_type === "gateway")!;
    expect(kwd).toMatchObject({
      exponent: 3,
      failed: { count: 1, amount_minor: 1_250_500, amount: "1250.500" },
      bank_settled: { amount_minor: -5, amount: "-0.005" },
    });
    expect(json).toMatchObject({ from: "2026-11-01T00:00:00.000Z", to: "2026-12-01T00:00:00.000Z" });
  });

  it("CSV: header, CRLF, each currency's decimals, formulas neutralized but negative amounts kept as numbers", async () => {
    const csv = await text(reportCsvStream(sample));
    const lines = csv.split("\r\n");
    expect(lines[0]).toBe(CSV_COLUMNS.join(","));
    expect(lines.at(-1)).toBe("");
    const records = parse(csv, { columns: true }) as Array<Record<string, string>>;
    expect(records).toHaveLength(sample.rows.length);
    const jpy = records.find((record) => record.currency === "JPY" && record.row_type === "gateway")!;
    expect(jpy.gateway).toBe("'=cmd");
    expect(jpy.cancelled_amount).toBe("125");
    const kwd = records.find((record) => record.currency === "KWD" && record.row_type === "gateway")!;
    expect(kwd.failed_amount).toBe("1250.500");
    expect(kwd.bank_settled_amount).toBe("-0.005");
    const eur = records.find((record) => record.gateway === "adyen" && record.currency === "EUR")!;
    expect(eur.overdue_7d_plus_amount).toBe("60.00");
    expect(eur.overdue_0_1d_count).toBe("1");
  });

  it("CSV: optional byte order mark for Excel", async () => {
    // Bytes, not text: a TextDecoder would swallow the mark.
    const bytes = await buffer(reportCsvStream(sample, { bom: true }));
    expect([...bytes.subarray(0, 4)]).toEqual([0xef, 0xbb, 0xbf, "r".charCodeAt(0)]);
    expect((await buffer(reportCsvStream(sample)))[0]).toBe("r".charCodeAt(0));
  });

  it("neutralizes every formula start OWASP lists, and only those", () => {
    for (const start of ["=", "+", "-", "@", "\t", "\r", "\uFF1D"]) {
      expect(neutralizeFormula(`${start}SUM(A1)`)).toBe(`'${start}SUM(A1)`);
    }
    expect(neutralizeFormula("stripe")).toBe("stripe");
    expect(neutralizeFormula("")).toBe("");
  });

  it("names the download after the period", () => {
    expect(reportFilename(sample, "csv")).toBe("reconciliation_2026-11-01_2026-12-01.csv");
    expect(reportFilename({ ...sample, to: new Date("2026-11-02T10:15:00Z") }, "csv")).toBe(
      "reconciliation_2026-11-01_2026-11-02T101500Z.csv",
    );
  });

  it("Markdown: one table line per row, cells as count / amount, pipes escaped", () => {
    const withPipe = buildReconciliationReport({
      ...period,
      asOf,
      statusTotals: [status("a|b", "EUR", "collection", "settled", 1, 100, 100)],
      aging: [],
      unmatched: [],
    });
    const md = reportMarkdown(withPipe);
    expect(md).toContain("| a\\|b ");
    expect(md).toMatch(/\| 1 \/ 1\.00 \| +1 \/ 1\.00 \|/);
    const table = reportMarkdown(sample)
      .split("\n")
      .filter((line) => line.startsWith("| "));
    expect(table).toHaveLength(sample.rows.length + 1);
    expect(reportMarkdown({ ...sample, rows: [] })).toContain("No payments");
  });

  it("Markdown, read by people: dates in the one people format, the mismatch column says which amount it holds", () => {
    const md = reportMarkdown(sample);
    expect(md).toContain(`- As of: ${asOf.toISOString().slice(0, 19).replace("T", " ")} UTC`);
    expect(md).not.toMatch(/\d{4}-\d\d-\d\dT\d\d:\d\d/);
    expect(md).toContain("Mismatch (expected)");
  });
});

describe("counterparty history", () => {
  const at = (text: string) => new Date(text);
  const row = (currency: string, statusName: string, count: number, late = 0) => ({
    currency,
    status: statusName,
    count,
    amount_minor: count * 1_000,
    settled_minor: statusName === "settled" ? count * 1_000 : 0,
    settled_late: late,
    first_at: at("2026-11-01T00:00:00Z"),
    last_at: at(`2026-11-${10 + count}T00:00:00Z`),
  });

  it("computes late and failure rates, and null when nothing counts yet", () => {
    const history = counterpartyHistory(
      "cust_1",
      [row("EUR", "settled", 3, 1), row("JPY", "settled", 1), row("EUR", "failed", 1), row("EUR", "cancelled", 2)],
      undefined,
      0,
    );
    expect(history.late_rate).toEqual({ rate: 0.25, settled_late: 1, settled: 4 });
    expect(history.failure_rate).toEqual({ rate: 0.2, failed: 1, ended: 5 });
    expect(history.payments).toBe(7);
    expect(history.last_payment_at).toBe("2026-11-13T00:00:00.000Z");
    expect(history.by_status.map((item) => `${item.currency} ${item.status}`)).toEqual([
      "EUR settled",
      "EUR failed",
      "EUR cancelled",
      "JPY settled",
    ]);
    const pending = counterpartyHistory("cust_2", [row("EUR", "pending", 1)], undefined, 0);
    expect(pending.late_rate.rate).toBeNull();
    expect(pending.failure_rate.rate).toBeNull();
    expect(pending.last_failure).toBeNull();
  });
});

describe("CSV for spreadsheets (locale)", () => {
  it("de-DE and fr-FR: byte order mark, ; between fields, decimal comma, major units; text cells still neutralized", async () => {
    for (const locale of ["de-DE", "fr-FR"]) {
      const bytes = await buffer(reportCsvStream(sample, { locale }));
      expect([...bytes.subarray(0, 3)], locale).toEqual([0xef, 0xbb, 0xbf]);
      const csv = bytes.subarray(3).toString("utf8");
      expect(csv.split("\r\n")[0]).toBe(CSV_COLUMNS.join(";"));
      const records = parse(csv, { columns: true, delimiter: ";" }) as Array<Record<string, string>>;
      const kwd = records.find((record) => record.currency === "KWD" && record.row_type === "gateway")!;
      expect(kwd.failed_amount).toBe("1250,500");
      expect(kwd.bank_settled_amount).toBe("-0,005");
      const jpy = records.find((record) => record.currency === "JPY" && record.row_type === "gateway")!;
      expect(jpy.cancelled_amount).toBe("125");
      expect(jpy.gateway).toBe("'=cmd");
      const stripe = records.find((record) => record.gateway === "stripe")!;
      expect(stripe.expected_amount).toBe("2560,00");
    }
  });

  it("en-US and de-CH keep the dot and the comma separator, with the byte order mark; the machine form is unchanged", async () => {
    for (const locale of ["en-US", "de-CH"]) {
      const bytes = await buffer(reportCsvStream(sample, { locale }));
      expect(bytes.subarray(3).toString("utf8"), locale).toBe(await text(reportCsvStream(sample)));
      expect(bytes[0]).toBe(0xef);
    }
    expect((await text(reportCsvStream(sample))).split("\r\n")[0]).toBe(CSV_COLUMNS.join(","));
  });
});

describe("FX differences (CONTRACT §8)", () => {
  const fx = (gateway: string, line: string, payments: number, lineAmount: number, difference: number) => ({
    gateway,
    currency: "USD",
    direction: "collection" as const,
    line_currency: line,
    payments,
    line_amount_minor: lineAmount,
    difference_minor: difference,
  });
  const report = buildReconciliationReport({
    ...period,
    asOf,
    statusTotals: [
      status("stripe", "USD", "collection", "settled", 3, 3_000_000, 2_997_464),
      status("adyen", "USD", "collection", "settled", 1, 500_000, 500_100),
    ],
    aging: [],
    unmatched: [],
    fxDifferences: [
      fx("stripe", "EUR", 2, 1_842_300, -2_536),
      fx("stripe", "GBP", 1, 790_000, 0),
      fx("adyen", "EUR", 1, 461_000, 100),
    ],
  });
  const total = report.rows.find((row) => row.rowType === "total")!;

  it("totals them per pair on the gateway rows and the totals", () => {
    expect(total.fxDifferences).toEqual([
      { lineCurrency: "EUR", payments: 3, lineAmountMinor: 2_303_300, differenceMinor: -2_436 },
      { lineCurrency: "GBP", payments: 1, lineAmountMinor: 790_000, differenceMinor: 0 },
    ]);
    const json = reportJson(report).rows.find((row) => row.row_type === "total")!;
    expect(json.fx_differences).toEqual([
      {
        pair: "EURUSD",
        line_currency: "EUR",
        payments: 3,
        line_amount: { amount_minor: 2_303_300, amount: "23033.00" },
        difference: { amount_minor: -2_436, amount: "-24.36" },
      },
      {
        pair: "GBPUSD",
        line_currency: "GBP",
        payments: 1,
        line_amount: { amount_minor: 790_000, amount: "7900.00" },
        difference: { amount_minor: 0, amount: "0.00" },
      },
    ]);
    // No FX: no key.
    expect(reportJson(sample).rows[0]).not.toHaveProperty("fx_differences");
  });

  it("in CSV one column, in markdown one cell", async () => {
    const records = parse(await text(reportCsvStream(report)), { columns: true }) as Array<Record<string, string>>;
    expect(records.find((row) => row.row_type === "total")!.fx_differences).toBe("EUR:-24.36 GBP:0.00");
    expect(records.find((row) => row.gateway === "adyen")!.fx_differences).toBe("EUR:1.00");
    expect(reportMarkdown(report)).toContain("EUR→USD -24.36, GBP→USD 0.00");
  });
});
