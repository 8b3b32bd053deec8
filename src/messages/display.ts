import { formatMajor, isCurrency } from "./currencies.js";

/**
 * How people read money and time, in one place (status page, exception and
 * status texts, terminal output). Machine fields keep minor units and ISO 8601;
 * these are only for text a person reads.
 */

/** 1234567 EUR → "12,345.67": the exact decimal text of formatMajor, thousands grouped by commas. */
export function formatAmount(amountMinor: number, currency: string): string {
  if (!isCurrency(currency)) return String(amountMinor);
  const text = formatMajor(amountMinor, currency);
  const [whole = "", fraction] = text.split(".");
  const negative = whole.startsWith("-");
  const digits = negative ? whole.slice(1) : whole;
  const grouped = digits.replace(/\B(?=(\d{3})+(?!\d))/g, ",");
  return `${negative ? "-" : ""}${grouped}${fraction === undefined ? "" : `.${fraction}`}`;
}

/** 925095 EUR → "9,250.95 EUR"; 100 KWD → "0.100 KWD"; 249930 JPY → "249,930 JPY". */
export function formatMoney(amountMinor: number, currency: string): string {
  return `${formatAmount(amountMinor, currency)} ${currency}`;
}

/** The one date-time format for people: 2026-12-02T16:42:21.298Z → "2026-12-02 16:42:21 UTC" (always UTC). */
export function formatInstant(at: Date | number | null | undefined): string {
  if (at === null || at === undefined) return "—";
  const date = typeof at === "number" ? new Date(at) : at;
  if (Number.isNaN(date.getTime())) return "—";
  return `${date.toISOString().slice(0, 19).replace("T", " ")} UTC`;
}

const ISO_INSTANT = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})$/;

/** An ISO 8601 instant found in free-form data, in the people format; anything else unchanged. */
export function humanizeInstantText(text: string): string {
  return ISO_INSTANT.test(text) ? formatInstant(new Date(text)) : text;
}
