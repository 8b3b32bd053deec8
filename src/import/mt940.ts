import type { BankEntryInput } from "../messages/schemas.js";
import { lineRate } from "./fxRate.js";
import { amountTags, type Narrative, parseNarrative } from "./mt940Narrative.js";
import { type Balance, parseBalance, parseStatementLine, type StatementLine } from "./mt940Transaction.js";
import {
  amountOf,
  bankFromBic,
  bankFromIban,
  checkStatement,
  type DeclaredTotals,
  type DraftEntry,
  joinText,
  money,
  type RawParse,
  StatementParseError,
  type StatementSummary,
  Tally,
  uniqueStatementId,
} from "./statement.js";

/**
 * SWIFT MT940 customer statements, as banks actually ship them: with or without the
 * {1:}{2:}{4: envelope, with vendor headers (ABN AMRO "ABNANL2A/940", ING
 * "0000 01INGBNL2AXXXX…"), several messages per file, and statements split over pages
 * (:28C: 999/1, 999/2) whose intermediate balances are :62M:/:60M:.
 */

interface Field {
  tag: string;
  lines: string[];
  line: number;
}

interface Page {
  line: number;
  fields: Field[];
  bankHint: string | null;
}

interface ReadPage {
  line: number;
  reference: string;
  account: string;
  statementNumber: string | null;
  opening: Balance & { tag: string; line: number };
  closing: Balance & { tag: string; line: number };
  lines: { line: number; statementLine: StatementLine; narrative: Narrative | null }[];
  /** :86: fields that follow the closing balance (statement-level information). */
  info: string[];
  bankHint: string | null;
}

const TAG = /^:(\d{2}[A-Z]?):(.*)$/;

export function parseMt940(text: string): RawParse {
  const pages = readPages(splitPages(text));
  if (pages.length === 0) throw new StatementParseError("no MT940 statement (no :20: field) in the file");
  const warnings: string[] = [];
  const entries: DraftEntry[] = [];
  const statements: StatementSummary[] = [];
  const ids = new Set<string>();
  // A page that does not carry on from the one before is a statement that does not add up.
  const imbalances: string[] = [];
  const groups = groupStatements(pages, imbalances);
  warnings.push(...imbalances);
  for (const group of groups) {
    const first = group[0] as ReadPage;
    const last = group[group.length - 1] as ReadPage;
    const statementId = uniqueStatementId([first.reference, first.statementNumber].filter(Boolean).join("/"), ids);
    const currency = first.opening.currency;
    const tally = new Tally();
    for (const page of group) {
      for (const item of page.lines) {
        const draft = toDraft(item, page, statementId, currency, warnings);
        if (!draft) continue;
        entries.push(draft);
        tally.add(draft.fields.direction, draft.fields.amount_minor);
      }
    }
    const summary: StatementSummary = {
      account: first.account,
      currency,
      statementId,
      openingBalanceMinor: first.opening.amountMinor,
      closingBalanceMinor: last.closing.amountMinor,
      // The dates of the opening and closing balances bound the statement.
      fromDate: first.opening.date,
      toDate: last.closing.date,
      creditsMinor: tally.creditsMinor,
      debitsMinor: tally.debitsMinor,
      creditCount: tally.creditCount,
      debitCount: tally.debitCount,
    };
    const declared = ingSummary(last.info, currency, `line ${last.closing.line}`);
    if (declared) summary.declared = declared;
    const label = `statement ${statementId} (${first.account}, lines ${first.line}–${last.closing.line})`;
    warnings.push(...checkStatement(summary, label));
    statements.push(summary);
  }
  return { entries, statements, warnings, imbalances };
}

/** Lines into messages (pages) of tagged fields; envelope, headers and trailers dropped. */
function splitPages(text: string): Page[] {
  const pages: Page[] = [];
  let page: Page | undefined;
  let field: Field | undefined;
  let headerBank: string | null = null;
  text.split(/\r\n|\r|\n/).forEach((raw, index) => {
    const lineNumber = index + 1;
    // SOH/ETX framing and other control characters; tabs count as spaces.
    let line = raw.replace(/\t/g, " ").replace(/[\u0000-\u001f\u007f]/g, "");
    headerBank = envelopeBank(line) ?? headerBank;
    // "-", "-}", "-XXX" or "-}{5:…}" end a message; the same line may open the next envelope.
    const trailer = /^-(\}|XXX\s*$|\s*$)/.test(line);
    if (trailer) {
      page = undefined;
      field = undefined;
    }
    const block4 = line.indexOf("{4:");
    if (block4 >= 0) line = line.slice(block4 + 3);
    else if (trailer) return;
    if (line.trim() === "") return;
    const tagged = TAG.exec(line);
    if (tagged) {
      const [, tag = "", value = ""] = tagged;
      if (tag === "20") {
        page = { line: lineNumber, fields: [], bankHint: headerBank };
        pages.push(page);
      } else if (!page) {
        throw new StatementParseError(`:${tag}: before the :20: that starts a statement`, `line ${lineNumber}`);
      }
      field = { tag, lines: [value], line: lineNumber };
      page.fields.push(field);
      return;
    }
    if (page && field) field.lines.push(line);
    else headerBank = headerLineBank(line) ?? headerBank;
  });
  return pages;
}

/** Sender of a SWIFT envelope: block 2 of an output message, else block 1. */
function envelopeBank(line: string): string | null {
  const output = /\{2:O940\d{10}([A-Z]{6}[A-Z0-9]{2})[A-Z0-9]([A-Z0-9]{3})/.exec(line);
  if (output) return bankFromBic(`${output[1]}${output[2]}`);
  const input = /\{1:F01([A-Z]{6}[A-Z0-9]{2})[A-Z0-9]([A-Z0-9]{3})/.exec(line);
  return input ? bankFromBic(`${input[1]}${input[2]}`) : null;
}

/** Vendor headers before :20: — "ABNANL2A" alone on a line, or ING's "0000 01INGBNL2AXXXX00001". */
function headerLineBank(line: string): string | null {
  const trimmed = line.trim();
  if (/^[A-Z]{6}[A-Z0-9]{2}([A-Z0-9]{3})?$/.test(trimmed)) return bankFromBic(trimmed);
  const ing = /^\d{4}\s+\d{2}([A-Z]{6}[A-Z0-9]{2})[A-Z0-9]([A-Z0-9]{3})/.exec(trimmed);
  return ing ? bankFromBic(`${ing[1]}${ing[2]}`) : null;
}

function readPages(pages: Page[]): ReadPage[] {
  return pages.map((page) => {
    const where = (line: number) => `line ${line}`;
    let reference = "";
    let account: string | undefined;
    let accountCurrency: { code: string; line: number } | undefined;
    let statementNumber: string | null = null;
    let opening: ReadPage["opening"] | undefined;
    let closing: ReadPage["closing"] | undefined;
    const lines: ReadPage["lines"] = [];
    const info: string[] = [];
    let previous = "";
    for (const field of page.fields) {
      const value = (field.lines[0] ?? "").trim();
      switch (field.tag) {
        case "20":
          reference = value;
          break;
        case "25": {
          // "NL12BUNQ0123456789 EUR": the currency is not part of the account id.
          const suffixed = /^(\S+)\s+([A-Z]{3})$/.exec(value);
          account = suffixed?.[1] ?? value;
          if (suffixed?.[2]) accountCurrency = { code: suffixed[2], line: field.line };
          break;
        }
        case "28":
        case "28C":
          statementNumber = value;
          break;
        case "60F":
        case "60M":
          if (opening) throw new StatementParseError(`a second opening balance :${field.tag}:`, where(field.line));
          opening = { ...parseBalance(value, where(field.line)), tag: field.tag, line: field.line };
          break;
        case "61": {
          if (!opening) throw new StatementParseError(":61: before the opening balance :60F:/:60M:", where(field.line));
          if (closing) throw new StatementParseError(":61: after the closing balance", where(field.line));
          lines.push({
            line: field.line,
            statementLine: parseStatementLine(field.lines, opening.currency, where(field.line)),
            narrative: null,
          });
          break;
        }
        case "86": {
          const last = lines[lines.length - 1];
          if (previous === "61" && last) last.narrative = parseNarrative(field.lines, last.statementLine.direction);
          else info.push(field.lines.join(" "));
          break;
        }
        case "62F":
        case "62M":
          closing = { ...parseBalance(value, where(field.line)), tag: field.tag, line: field.line };
          break;
        default:
          break; // :21:, :64:, :65:, :NS: … carry nothing for entries
      }
      previous = field.tag;
    }
    if (!account) throw new StatementParseError("statement without an account :25:", where(page.line));
    if (!opening) throw new StatementParseError("statement without an opening balance :60F:/:60M:", where(page.line));
    if (!closing) {
      throw new StatementParseError(
        "statement without a closing balance :62F:/:62M: (truncated file?)",
        where(page.line),
      );
    }
    if (accountCurrency && accountCurrency.code !== opening.currency) {
      throw new StatementParseError(
        `the account :25: is in ${accountCurrency.code}, its balances in ${opening.currency}`,
        where(accountCurrency.line),
      );
    }
    if (closing.currency !== opening.currency) {
      throw new StatementParseError(
        `closing balance in ${closing.currency}, opening in ${opening.currency}`,
        where(closing.line),
      );
    }
    return {
      line: page.line,
      reference,
      account,
      statementNumber,
      opening,
      closing,
      lines,
      info,
      bankHint: page.bankHint ?? accountBank(account),
    };
  });
}

/** :25: as "BIC/account", "bank code/account" (German BLZ) or an IBAN. */
function accountBank(account: string): string | null {
  const [head, tail] = account.split("/");
  if (tail !== undefined && head) return bankFromBic(head) ?? (/^\d{5,9}$/.test(head) ? head : null);
  return bankFromIban(account);
}

/**
 * Pages of one statement: a page that opens with :60M: continues the previous page of
 * the same account when that one closed with :62M:. Each page must carry on from the last.
 */
function groupStatements(pages: ReadPage[], imbalances: string[]): ReadPage[][] {
  const groups: ReadPage[][] = [];
  for (const page of pages) {
    const current = groups[groups.length - 1];
    const last = current?.[current.length - 1];
    if (current && last && page.opening.tag === "60M" && last.closing.tag === "62M" && last.account === page.account) {
      if (last.closing.amountMinor !== page.opening.amountMinor) {
        imbalances.push(
          `line ${page.opening.line}: intermediate opening ${money(page.opening.amountMinor, page.opening.currency)} ` +
            `does not carry on the previous page's ${money(last.closing.amountMinor, last.closing.currency)}`,
        );
      }
      current.push(page);
    } else {
      groups.push([page]);
    }
  }
  return groups;
}

function toDraft(
  item: ReadPage["lines"][number],
  page: ReadPage,
  statementId: string,
  currency: string,
  warnings: string[],
): DraftEntry | undefined {
  const { statementLine: line, narrative } = item;
  if (line.amountMinor === 0) {
    warnings.push(
      `line ${item.line}: zero-amount line skipped (${line.supplementary ?? narrative?.remittance ?? "no details"})`,
    );
    return undefined;
  }
  const metadata: Record<string, unknown> = {
    statement_id: statementId,
    source_format: "mt940",
    transaction_type: line.transactionType,
  };
  if (line.bankRef) metadata.bank_reference = line.bankRef;
  if (line.customerRef) metadata.customer_reference = line.customerRef;
  if (line.supplementary) metadata.supplementary_details = line.supplementary;
  if (line.fundsCode) metadata.funds_code = line.fundsCode;
  if (line.reversal) metadata.reversal = true;
  if (narrative?.gvc) metadata.gvc = narrative.gvc;
  if (narrative?.counterpartyAccount) metadata.counterparty_account = narrative.counterpartyAccount;
  if (narrative?.returned && narrative.returnCodeRaw) metadata.return_code_raw = narrative.returnCodeRaw;
  const amountText = `${line.supplementary ?? ""} ${narrative?.text ?? ""}`;
  Object.assign(metadata, amountMetadata(amountText, currency, item.line));
  return {
    fields: {
      account: page.account,
      direction: line.direction,
      amount_minor: line.amountMinor,
      currency,
      booking_date: line.bookingDate,
      value_date: line.valueDate,
      status: narrative?.returned ? "returned" : "booked",
      end_to_end_id: narrative?.endToEndId ?? null,
      remittance_info: joinText([narrative?.remittance ?? line.supplementary]),
      counterparty_name: narrative?.counterparty ?? null,
      return_reason: narrative?.returned ? narrative.returnReason : null,
      ...fxFields(amountText, { amountMinor: line.amountMinor, currency }, item.line),
      metadata,
    },
    ref: line.bankRef,
    hashParts: [line.customerRef ?? "", line.supplementary ?? "", line.transactionType, narrative?.text ?? ""],
    bankHint: page.bankHint,
    location: `line ${item.line}`,
  };
}

/** /OCMT/ (or SEPA OAMT+) is the original amount, /CHGS/ the charges; the booked amount stays the entry's. */
function amountMetadata(text: string, currency: string, line: number): Record<string, unknown> {
  const metadata: Record<string, unknown> = {};
  const { ocmt, chgs, oamt } = amountTags(text);
  const where = `line ${line}`;
  if (ocmt) metadata.original_amount = money(amountOf(ocmt[1], ocmt[0], where), ocmt[0]);
  else if (oamt) metadata.original_amount = money(amountOf(oamt, currency, where), currency);
  if (chgs) {
    const charges = amountOf(chgs[1], chgs[0], where);
    metadata.charges = money(charges, chgs[0]);
    if (chgs[0] === currency) metadata.charges_minor = charges;
  }
  return metadata;
}

/**
 * CONTRACT §8 "FX": /OCMT/ in another currency is the instructed amount; /EXCH/ the rate, kept when the two
 * amounts say which way round it is quoted (fxRate.ts).
 */
function fxFields(
  text: string,
  booked: { amountMinor: number; currency: string },
  line: number,
): Pick<BankEntryInput, "instructed_amount_minor" | "instructed_currency" | "fx_rate"> {
  const { ocmt, exch } = amountTags(text);
  if (!ocmt || ocmt[0] === booked.currency) return {};
  const instructed = { amountMinor: amountOf(ocmt[1], ocmt[0], `line ${line}`), currency: ocmt[0] };
  if (!(instructed.amountMinor > 0)) return {};
  const fxRate = exch ? lineRate(Number(exch.replace(",", ".")), booked, instructed) : undefined;
  return {
    instructed_amount_minor: instructed.amountMinor,
    instructed_currency: instructed.currency,
    ...(fxRate === undefined ? {} : { fx_rate: fxRate }),
  };
}

/**
 * ING NL closes a statement with `:86:D000004C000002D25,24C28,71`: number of debits,
 * number of credits, debit sum, credit sum. The file's own totals, so kept as declared.
 */
function ingSummary(info: string[], currency: string, where: string): DeclaredTotals | undefined {
  for (const text of info) {
    const match = /^D(\d{6})C(\d{6})D(\d+,\d*)C(\d+,\d*)$/.exec(text.trim());
    if (!match) continue;
    return {
      debitCount: Number(match[1]),
      creditCount: Number(match[2]),
      debitsMinor: amountOf(match[3] ?? "", currency, where),
      creditsMinor: amountOf(match[4] ?? "", currency, where),
    };
  }
  return undefined;
}
