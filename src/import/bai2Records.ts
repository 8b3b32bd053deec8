import { StatementParseError } from "./statement.js";

/**
 * BAI2 physical records and fields. A record is `NN,field,field,…/`; the slash ends
 * it (newline-delimited files such as Goldman Sachs' omit it), 88 records continue
 * the one before, and the last field of a 16 record is free text that may itself
 * contain commas, so 16 records are read field by field rather than split blindly.
 */

export interface PhysicalRecord {
  code: string;
  /** Fields part: without the record code, its comma and one trailing slash. */
  content: string;
  line: number;
  /** Length of the line as written: a full 80-character line was wrapped, not ended. */
  length: number;
}

const RECORD_CODES = new Set(["01", "02", "03", "16", "49", "88", "98", "99"]);

export function readRecords(text: string): PhysicalRecord[] {
  const records: PhysicalRecord[] = [];
  text.split(/\r\n|\r|\n/).forEach((raw, index) => {
    const physical = raw.replace(/[\u0000-\u001f\u007f]/g, "").trimEnd();
    for (const line of splitLine(physical)) {
      if (line === "") continue;
      const match = /^(\d{2})(?:,|\/?$)/.exec(line);
      if (!match || !RECORD_CODES.has(match[1] ?? "")) {
        throw new StatementParseError(
          `"${line.slice(0, 20)}" is not a BAI2 record (01, 02, 03, 16, 49, 88, 98, 99)`,
          `line ${index + 1}`,
        );
      }
      const content = line.slice(3).replace(/\/$/, "").trimEnd();
      records.push({ code: match[1] as string, content, line: index + 1, length: line.length });
    }
  });
  return records;
}

/**
 * Some banks write several `/`-terminated records on one physical line
 * (`01,…/02,…/03,…/`). A record ends at a slash that a record code and its comma
 * follow; a 16 record's free text could in theory hold "/16," too, which is the
 * price of reading such files at all.
 */
const NEXT_RECORD = /\/\s*(?=(?:01|02|03|16|49|88|98|99),)/g;

function splitLine(line: string): string[] {
  const parts: string[] = [];
  let start = 0;
  for (const match of line.matchAll(NEXT_RECORD)) {
    const end = (match.index ?? 0) + 1;
    parts.push(line.slice(start, end).trim());
    start = end + match[0].length - 1;
  }
  parts.push(line.slice(start).trim());
  return parts;
}

export function fields(content: string): string[] {
  return content.split(",").map((field) => field.trim());
}

/** Signed whole number of minor units ("+000000000208500", "-1500000"); an empty field is absent. */
export function bai2Amount(text: string | undefined, location: string): number | undefined {
  const value = (text ?? "").trim();
  if (value === "") return undefined;
  if (!/^[+-]?\d+$/.test(value))
    throw new StatementParseError(`"${value}" is not a BAI2 amount (whole minor units)`, location);
  const amount = Number(value);
  if (!Number.isSafeInteger(amount)) throw new StatementParseError(`amount ${value} is too large`, location);
  return Object.is(amount, -0) ? 0 : amount;
}

export function bai2Count(text: string | undefined, location: string): number | undefined {
  const value = (text ?? "").trim();
  if (value === "") return undefined;
  if (!/^\d+$/.test(value)) throw new StatementParseError(`"${value}" is not a count`, location);
  return Number(value);
}

/** YYMMDD → YYYY-MM-DD (BAI2 is post-2000 in practice; 80–99 read as 19xx). */
export function bai2Date(text: string | undefined, location: string): string {
  const match = /^(\d{2})(\d{2})(\d{2})$/.exec((text ?? "").trim());
  if (!match) throw new StatementParseError(`"${text ?? ""}" is not a YYMMDD date`, location);
  const year = Number(match[1]) + (Number(match[1]) >= 80 ? 1900 : 2000);
  const date = new Date(Date.UTC(year, Number(match[2]) - 1, Number(match[3])));
  if (date.getUTCMonth() !== Number(match[2]) - 1 || date.getUTCDate() !== Number(match[3])) {
    throw new StatementParseError(`"${text}" is not a date`, location);
  }
  return date.toISOString().slice(0, 10);
}

/**
 * Fields that follow a funds type: none for 0/1/2/Z/empty, value date and time for V,
 * three availability amounts for S, a count and that many (days, amount) pairs for D.
 * Returns undefined while a D's count is not yet read (the record continues in an 88).
 */
export function fundsExtraFields(fundsType: string, next: string | undefined, location: string): number | undefined {
  switch (fundsType) {
    case "":
    case "0":
    case "1":
    case "2":
    case "Z":
      return 0;
    case "V":
      return 2;
    case "S":
      return 3;
    case "D": {
      if (next === undefined) return undefined;
      const count = bai2Count(next, location) ?? 0;
      return 1 + 2 * count;
    }
    default:
      throw new StatementParseError(`unknown funds type "${fundsType}" (0, 1, 2, S, V, D, Z)`, location);
  }
}

/** A 03 record's status and summary amounts: type code, amount, item count, funds type (+ its fields). */
export interface ReportedItem {
  code: string;
  amountMinor: number | undefined;
  itemCount: number | undefined;
}

export function summaryItems(tokens: readonly string[], location: string): ReportedItem[] {
  const items: ReportedItem[] = [];
  let index = 0;
  while (index < tokens.length) {
    const code = tokens[index] ?? "";
    // An empty type code is a defaulted field (some banks end 03 records with ",,,/"): skip it.
    if (code === "") {
      index += 1;
      continue;
    }
    if (!/^\d{3}$/.test(code)) throw new StatementParseError(`"${code}" is not a BAI2 type code`, location);
    const funds = tokens[index + 3] ?? "";
    const extra = fundsExtraFields(funds, tokens[index + 4], location) ?? 0;
    items.push({
      code,
      amountMinor: bai2Amount(tokens[index + 1], location),
      itemCount: bai2Count(tokens[index + 2], location),
    });
    index += 4 + extra;
  }
  return items;
}

/** A 16 record: type code, amount, funds type (+ its fields), bank reference, customer reference, text. */
export interface Detail {
  typeCode: string;
  amountMinor: number;
  fundsType: string;
  valueDate: string | undefined;
  bankRef: string | null;
  customerRef: string | null;
  text: string | undefined;
}

/** The detail, or undefined when the fields before the text are not all there yet. */
export function detailFrom(tokens: readonly string[], location: string): Detail | undefined {
  const funds = tokens[2];
  if (funds === undefined) return undefined;
  const extra = fundsExtraFields(funds.trim(), tokens[3], location);
  if (extra === undefined) return undefined;
  const textIndex = 3 + extra + 2;
  if (tokens.length < textIndex) return undefined;
  const typeCode = (tokens[0] ?? "").trim();
  if (!/^\d{3}$/.test(typeCode)) throw new StatementParseError(`"${typeCode}" is not a BAI2 type code`, location);
  const amountMinor = bai2Amount(tokens[1], location);
  if (amountMinor === undefined) throw new StatementParseError("16 record without an amount", location);
  const valueDateText = funds.trim() === "V" ? tokens[3]?.trim() : undefined;
  const bankRef = tokens[3 + extra]?.trim() || null;
  const customerRef = tokens[4 + extra]?.trim() || null;
  return {
    typeCode,
    amountMinor,
    fundsType: funds.trim(),
    valueDate: valueDateText ? bai2Date(valueDateText, location) : undefined,
    bankRef,
    customerRef,
    text: tokens.length > textIndex ? tokens.slice(textIndex).join(",") : undefined,
  };
}
