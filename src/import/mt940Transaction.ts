import { amountOf, StatementParseError } from "./statement.js";

/**
 * MT940 balance fields (:60F: :62M: :64: …) and the statement line :61:
 *   :61: YYMMDD [MMDD] mark [funds code] amount type customer-ref [//bank-ref]
 *        [supplementary details on the next line]
 * SWIFT layout: 6!n[4!n]2a[1!a]15d1!a3!c[16x][//16x][34x] — the type is one letter
 * (N, F, S) and three characters. Banks differ in small ways the pattern allows for:
 * spaces instead of a missing entry date (Citi), a space before the transaction type
 * (Deutsche Bank), an amount without decimals ("9,"), zero-padded amounts (Rabobank),
 * a type padded with spaces ("S   ") and no type at all when only the bank reference
 * follows ("C220000,00//19239782213").
 */

export interface Balance {
  date: string;
  currency: string;
  /** Signed: a debit (D) balance is negative. */
  amountMinor: number;
}

export interface StatementLine {
  valueDate: string;
  bookingDate: string;
  direction: "credit" | "debit";
  /** RC (reversal of a credit, so a debit) or RD (reversal of a debit, so a credit). */
  reversal: boolean;
  fundsCode: string | null;
  amountMinor: number;
  amountText: string;
  transactionType: string;
  customerRef: string | null;
  bankRef: string | null;
  supplementary: string | null;
}

const BALANCE = /^([CD])(\d{6})([A-Z]{3})(\d[\d,.]*)$/;
const LINE = /^(\d{6})(\d{4}| {4})?\s*(RC|RD|EC|ED|C|D)([A-Z])?(\d[\d,]*)(?:\s*([NFS][A-Z0-9 ]{3})(.*)|\s*(\/\/.*)?)$/;
/** Placeholders banks write where a reference would be. */
const NO_REFERENCE = /^(NONREF|NOTPROVIDED|NONE)$/i;

export function parseBalance(value: string, location: string): Balance {
  const match = BALANCE.exec(value.trim());
  if (!match)
    throw new StatementParseError(`"${value.trim()}" is not a balance (C/D, YYMMDD, currency, amount)`, location);
  const [, mark, date, currency, amount] = match as unknown as [string, string, string, string, string];
  const minor = amountOf(amount, currency, location);
  return { date: swiftDate(date, location), currency, amountMinor: mark === "D" ? -minor : minor };
}

export function parseStatementLine(value: string[], currency: string, location: string): StatementLine {
  const first = (value[0] ?? "").trimEnd();
  const match = LINE.exec(first);
  if (!match) {
    throw new StatementParseError(
      `:61: "${first}" is not a statement line (YYMMDD[MMDD], C/D/RC/RD, amount, transaction type, reference)`,
      location,
    );
  }
  const [, valueText, entryText, mark, funds, amountText, type, typedRest, untypedRest] = match as unknown as string[];
  // Without a type code only "//bank reference" (or nothing) may follow the amount.
  const rest = typedRest ?? untypedRest ?? "";
  const valueDate = swiftDate(valueText ?? "", location);
  const bookingDate = entryText?.trim() ? entryDate(entryText, valueDate, location) : valueDate;
  const separator = (rest ?? "").indexOf("//");
  const customer = (separator >= 0 ? (rest ?? "").slice(0, separator) : (rest ?? "")).trim();
  const bank = separator >= 0 ? (rest ?? "").slice(separator + 2).trim() : "";
  const supplementary = value
    .slice(1)
    .map((line) => line.trim())
    .filter(Boolean)
    .join(" ");
  return {
    valueDate,
    bookingDate,
    // RC: the reversal of a credit takes money out; RD puts it back. EC/ED (expected) as C/D.
    direction: mark === "C" || mark === "EC" || mark === "RD" ? "credit" : "debit",
    reversal: mark === "RC" || mark === "RD",
    fundsCode: funds ?? null,
    amountMinor: amountOf(amountText ?? "", currency, location),
    amountText: amountText ?? "",
    transactionType: (type ?? "").trim(),
    customerRef: customer && !NO_REFERENCE.test(customer) ? customer : null,
    bankRef: bank && !NO_REFERENCE.test(bank) ? bank : null,
    supplementary: supplementary || null,
  };
}

/** YYMMDD → YYYY-MM-DD; years 80–99 are 19xx (SWIFT dates have no century). */
export function swiftDate(text: string, location: string): string {
  const match = /^(\d{2})(\d{2})(\d{2})$/.exec(text);
  if (!match) throw new StatementParseError(`"${text}" is not a YYMMDD date`, location);
  const year = Number(match[1]) + (Number(match[1]) >= 80 ? 1900 : 2000);
  const date = realDate(year, Number(match[2]), Number(match[3]));
  if (!date) throw new StatementParseError(`"${text}" is not a date`, location);
  return date;
}

/**
 * The :61: entry (booking) date has no year. It is the one of last, this or next year
 * closest to the value date: booked 0102 for value 241231 is 2025-01-02.
 */
function entryDate(mmdd: string, valueDate: string, location: string): string {
  const month = Number(mmdd.slice(0, 2));
  const day = Number(mmdd.slice(2, 4));
  const valueYear = Number(valueDate.slice(0, 4));
  const valueTime = Date.parse(valueDate);
  let best: string | undefined;
  for (const year of [valueYear - 1, valueYear, valueYear + 1]) {
    const candidate = realDate(year, month, day);
    if (!candidate) continue;
    if (!best || Math.abs(Date.parse(candidate) - valueTime) < Math.abs(Date.parse(best) - valueTime)) best = candidate;
  }
  if (!best) throw new StatementParseError(`"${mmdd}" is not an MMDD entry date`, location);
  return best;
}

/** The date if it exists in the calendar (no 2023-02-29). */
function realDate(year: number, month: number, day: number): string | undefined {
  const date = new Date(Date.UTC(year, month - 1, day));
  const exists = date.getUTCFullYear() === year && date.getUTCMonth() === month - 1 && date.getUTCDate() === day;
  return exists ? date.toISOString().slice(0, 10) : undefined;
}
