import { formatMajor, isCurrency, parseMajor } from "../messages/currencies.js";
import type { BankEntry, BankEntryInput } from "../messages/schemas.js";

/**
 * What every statement parser shares: the public result types, the error, the
 * draft an entry is before it gets its id and bank, and the balance checks.
 */

export type StatementFormat = "camt053" | "camt054" | "mt940" | "bai2";

/** The file's own control totals, as written in it (never computed). */
export interface DeclaredTotals {
  creditsMinor?: number;
  debitsMinor?: number;
  creditCount?: number;
  debitCount?: number;
  /** camt TtlNtries/Sum (credits + debits); BAI2 account control total (49 record). */
  totalMinor?: number;
  /** camt TtlNtries/NbOfNtries. */
  entryCount?: number;
  /** camt TtlNtries/TtlNetNtryAmt, signed (credit positive). */
  netMinor?: number;
}

/** A BAI2 status or summary amount of an account (03 record and its 88 continuations). */
export interface ReportedAmount {
  code: string;
  amountMinor: number;
  itemCount?: number;
}

export interface StatementSummary {
  account: string;
  currency: string;
  /** Unique within the parsed file; every entry carries it as metadata.statement_id. */
  statementId: string;
  openingBalanceMinor?: number;
  closingBalanceMinor?: number;
  /** Computed from the lines the parser read (camt Ntry, MT940 :61:, BAI2 16), booked ones only. */
  creditsMinor: number;
  debitsMinor: number;
  creditCount: number;
  debitCount: number;
  declared?: DeclaredTotals;
  /** BAI2 only: the status and summary amounts, which count towards the 49 control total. */
  reported?: ReportedAmount[];
  /** The period the statement covers, as the file states it (YYYY-MM-DD), when it does. */
  fromDate?: string;
  toDate?: string;
  /** Where its own balances or totals do not add up (set by checkStatement); empty when they do. */
  imbalances?: string[];
}

/** A BAI2 group (98) or file (99) trailer and what the parser counted for it. */
export interface ControlTotal {
  level: "group" | "file";
  id: string;
  line: number;
  declaredMinor: number;
  computedMinor: number;
  declaredRecords: number;
  computedRecords: number;
  /** Number of accounts (98) or groups (99) declared, and found. */
  declaredChildren: number;
  computedChildren: number;
}

export interface ParsedStatementFile {
  format: StatementFormat;
  entries: BankEntry[];
  statements: StatementSummary[];
  warnings: string[];
  /**
   * Every way the file's own balances and control totals do not add up (also among the
   * warnings). The entries are imported all the same — they are what the bank booked —
   * and the import says so; `payrecon import --strict` refuses such a file instead.
   */
  imbalances: string[];
  /** BAI2 only. */
  controlTotals?: ControlTotal[];
}

export interface ParseOptions {
  bank?: string;
}

/** The file cannot be imported; the message names the line (MT940, BAI2) or element path (camt). */
export class StatementParseError extends Error {
  override readonly name = "StatementParseError";
  constructor(
    message: string,
    /** "line 12" or "Stmt[1]/Ntry[3]/Amt". */
    readonly location?: string,
  ) {
    super(location ? `${location}: ${message}` : message);
  }
}

/** An entry before it has an id and a bank. */
export interface DraftEntry {
  fields: Omit<BankEntryInput, "entry_id" | "bank">;
  /** The bank's own reference for the booking, when it has one. */
  ref: string | null;
  /** What else identifies the line when there is no reference (customer refs, text…). */
  hashParts: string[];
  /** Appended to the id of a batch booking's parent for each split child, e.g. ":2". */
  suffix?: string;
  /** Bank derived from the file (BIC, bank code, originator), before normalisation. */
  bankHint: string | null;
  location: string;
}

export interface RawParse {
  entries: DraftEntry[];
  statements: StatementSummary[];
  warnings: string[];
  controlTotals?: ControlTotal[];
  /** Control totals above the statements that do not add up (BAI2 98 and 99 trailers). */
  imbalances?: string[];
}

/** Sums the booked lines of a statement as the parser reads them. */
export class Tally {
  creditsMinor = 0;
  debitsMinor = 0;
  creditCount = 0;
  debitCount = 0;
  add(direction: "credit" | "debit", amountMinor: number): void {
    if (direction === "credit") {
      this.creditsMinor += amountMinor;
      this.creditCount += 1;
    } else {
      this.debitsMinor += amountMinor;
      this.debitCount += 1;
    }
  }
}

export function money(amountMinor: number, currency: string): string {
  return `${currency} ${formatMajor(amountMinor, currency)}`;
}

/**
 * Balance and control-total checks of one statement, kept on it as `imbalances` and returned.
 * A statement that does not add up is still imported (the entries are what the bank booked);
 * the caller reports why.
 */
export function checkStatement(summary: StatementSummary, label: string): string[] {
  const warnings: string[] = [];
  summary.imbalances = warnings;
  const { currency } = summary;
  const net = summary.creditsMinor - summary.debitsMinor;
  if (summary.openingBalanceMinor !== undefined && summary.closingBalanceMinor !== undefined) {
    const expected = summary.openingBalanceMinor + net;
    if (expected !== summary.closingBalanceMinor) {
      warnings.push(
        `${label}: opening ${money(summary.openingBalanceMinor, currency)} + credits ${money(summary.creditsMinor, currency)} ` +
          `− debits ${money(summary.debitsMinor, currency)} = ${money(expected, currency)}, but the closing balance is ` +
          `${money(summary.closingBalanceMinor, currency)} (difference ${money(summary.closingBalanceMinor - expected, currency)})`,
      );
    }
  }
  const declared = summary.declared;
  if (!declared) return warnings;
  const pairs: [string, number | undefined, number, boolean][] = [
    ["credit sum", declared.creditsMinor, summary.creditsMinor, true],
    ["debit sum", declared.debitsMinor, summary.debitsMinor, true],
    ["credit count", declared.creditCount, summary.creditCount, false],
    ["debit count", declared.debitCount, summary.debitCount, false],
    ["entry count", declared.entryCount, summary.creditCount + summary.debitCount, false],
    ["net amount", declared.netMinor, net, true],
  ];
  for (const [what, want, got, isMoney] of pairs) {
    if (want === undefined || want === got) continue;
    const show = (n: number) => (isMoney ? money(n, currency) : String(n));
    warnings.push(`${label}: the file declares ${what} ${show(want)}, the entries give ${show(got)}`);
  }
  return warnings;
}

/** Minor units of a decimal amount, or a StatementParseError naming where it was. */
export function amountOf(text: string, currency: string, location: string): number {
  if (!isCurrency(currency)) throw new StatementParseError(`unknown currency "${currency}"`, location);
  const minor = parseMajor(text.replace(/\s+/g, ""), currency);
  if (minor === undefined) {
    throw new StatementParseError(
      `"${text}" is not an amount in ${currency} (decimal, at most its minor unit)`,
      location,
    );
  }
  return minor;
}

/** Free text as one line: whitespace collapsed, empty parts dropped, at most 2000 characters. */
export function joinText(parts: readonly (string | null | undefined)[], separator = " | "): string | null {
  const cleaned = parts.map((part) => (part ?? "").replace(/\s+/g, " ").trim()).filter((part) => part.length > 0);
  const unique = cleaned.filter((part, index) => cleaned.indexOf(part) === index);
  if (unique.length === 0) return null;
  const text = unique.join(separator);
  // Cut at a space so no reference token is left half there.
  if (text.length <= 2000) return text;
  const cut = text.slice(0, 2000);
  return cut.slice(0, Math.max(cut.lastIndexOf(" "), 1)).trim();
}

/** A label as the contract wants it: letters, digits, _ . - only, lowercase, at most 64 characters. */
export function normalizeBank(text: string | null | undefined): string | null {
  if (!text) return null;
  const label = text
    .trim()
    .toLowerCase()
    .replace(/[^a-z0-9_.-]+/g, "_")
    .replace(/^[_.-]+|[_.-]+$/g, "")
    .slice(0, 64);
  return label.length > 0 ? label : null;
}

/** BIC without the default branch: UBSWCHZH80A stays, INGBNL2AXXX becomes ingbnl2a. */
export function bankFromBic(bic: string | null | undefined): string | null {
  const match = /^([A-Z]{6}[A-Z0-9]{2})([A-Z0-9]{3})?$/.exec((bic ?? "").trim().toUpperCase());
  if (!match) return null;
  const branch = match[2] && match[2] !== "XXX" ? match[2] : "";
  return (match[1] + branch).toLowerCase();
}

/** Length of the bank identifier that follows the check digits, per IBAN country. */
const IBAN_BANK_CODE: Record<string, number> = {
  AT: 5,
  BE: 3,
  CH: 5,
  DE: 8,
  DK: 4,
  ES: 4,
  FI: 3,
  FR: 5,
  GB: 4,
  IE: 4,
  LI: 5,
  LU: 3,
  NL: 4,
  NO: 4,
  PL: 8,
  SE: 3,
};

/** "ch-09000" for a PostFinance IBAN: the country and bank code, when no BIC is given. */
export function bankFromIban(iban: string | null | undefined): string | null {
  const compact = (iban ?? "").replace(/\s+/g, "").toUpperCase();
  if (!/^[A-Z]{2}\d{2}[A-Z0-9]{8,30}$/.test(compact)) return null;
  const country = compact.slice(0, 2);
  const length = IBAN_BANK_CODE[country] ?? 4;
  return `${country}-${compact.slice(4, 4 + length)}`.toLowerCase();
}

/** Makes statement ids unique within a file (two statements may carry the same reference). */
export function uniqueStatementId(id: string, taken: Set<string>): string {
  let candidate = id;
  for (let n = 2; taken.has(candidate); n += 1) candidate = `${id}#${n}`;
  taken.add(candidate);
  return candidate;
}
