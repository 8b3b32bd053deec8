/** Adyen "Settlement details report" CSV files for tests, in the documented layout. */

/** The documented 30-column Adyen "Settlement details report" layout. */
export const ADYEN_HEADER = [
  "Company Account",
  "Merchant Account",
  "Psp Reference",
  "Merchant Reference",
  "Payment Method",
  "Creation Date",
  "TimeZone",
  "Type",
  "Modification Reference",
  "Gross Currency",
  "Gross Debit (GC)",
  "Gross Credit (GC)",
  "Exchange Rate",
  "Net Currency",
  "Net Debit (NC)",
  "Net Credit (NC)",
  "Commission (NC)",
  "Markup (NC)",
  "Scheme Fees (NC)",
  "Interchange (NC)",
  "Payment Method Variant",
  "Modification Merchant Reference",
  "Batch Number",
  "Reserved4",
  "Reserved5",
  "Reserved6",
  "Reserved7",
  "Reserved8",
  "Reserved9",
  "Reserved10",
] as const;

export type AdyenLine = Partial<Record<(typeof ADYEN_HEADER)[number], string>>;

export function adyenCsv(lines: AdyenLine[]): string {
  const quote = (value: string) => (/[",\n]/.test(value) ? `"${value.replaceAll('"', '""')}"` : value);
  const row = (line: AdyenLine) => ADYEN_HEADER.map((column) => quote(line[column] ?? "")).join(",");
  return `${[ADYEN_HEADER.join(","), ...lines.map(row)].join("\n")}\n`;
}

export function adyenLine(
  account: string,
  batch: string,
  type: string,
  currency: string,
  fields: AdyenLine,
): AdyenLine {
  return {
    "Company Account": "PayreconTestCompany",
    "Merchant Account": account,
    "Creation Date": "2026-11-21 10:00:00",
    TimeZone: "CET",
    Type: type,
    "Gross Currency": ["Settled", "Refunded", "Chargeback"].includes(type) ? currency : "",
    "Exchange Rate": ["Settled", "Refunded", "Chargeback"].includes(type) ? "1" : "",
    "Net Currency": currency,
    "Batch Number": batch,
    ...fields,
  };
}
