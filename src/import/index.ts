import { type BankEntry, bankEntrySchema } from "../messages/schemas.js";
import { parseBai2 } from "./bai2.js";
import { parseCamt } from "./camt.js";
import { assignEntryIds } from "./entryIds.js";
import { parseMt940 } from "./mt940.js";
import {
  normalizeBank,
  type ParsedStatementFile,
  type ParseOptions,
  type RawParse,
  StatementParseError,
  type StatementFormat,
} from "./statement.js";

/**
 * Bank statement files (camt.053, camt.054, MT940, BAI2) to BankEntry messages
 * (CONTRACT §1), for `payrecon import`. Pure: text in, entries out; nothing is
 * returned unless the whole file parsed and every entry passed the contract schema.
 */

export type {
  ControlTotal,
  DeclaredTotals,
  ParsedStatementFile,
  ParseOptions,
  ReportedAmount,
  StatementFormat,
  StatementSummary,
} from "./statement.js";
export { StatementParseError } from "./statement.js";

export const STATEMENT_FORMATS: readonly StatementFormat[] = ["camt053", "camt054", "mt940", "bai2"];

export function parseStatementFile(
  format: StatementFormat,
  text: string,
  opts: ParseOptions = {},
): ParsedStatementFile {
  const bankOverride = opts.bank === undefined ? null : normalizeBank(opts.bank);
  if (opts.bank !== undefined && bankOverride === null) {
    throw new StatementParseError(`bank "${opts.bank}" has no letters or digits to make a bank label from`);
  }
  const body = text.replace(/^\uFEFF/, "");
  if (body.trim().length === 0) throw new StatementParseError("the file is empty");
  const raw = parse(format, body);
  const warnings = [...raw.warnings];
  const ids = assignEntryIds(raw.entries);
  let unknownBank = false;
  const entries: BankEntry[] = raw.entries.map((draft, index) => {
    const bank = bankOverride ?? normalizeBank(draft.bankHint);
    if (!bank) unknownBank = true;
    const candidate = { ...draft.fields, entry_id: ids[index], bank: bank ?? "unknown" };
    const result = bankEntrySchema.safeParse(candidate);
    if (!result.success) {
      const problems = result.error.issues.map((issue) => `${issue.path.join(".")}: ${issue.message}`).join("; ");
      throw new StatementParseError(
        `entry ${ids[index]} does not fit the BankEntry contract: ${problems}`,
        draft.location,
      );
    }
    return result.data;
  });
  if (unknownBank)
    warnings.push('the file names no bank (BIC, bank code or originator); entries use bank "unknown", pass --bank');
  const imbalances = [...raw.statements.flatMap((statement) => statement.imbalances ?? []), ...(raw.imbalances ?? [])];
  const parsed: ParsedStatementFile = { format, entries, statements: raw.statements, warnings, imbalances };
  if (raw.controlTotals) parsed.controlTotals = raw.controlTotals;
  return parsed;
}

function parse(format: StatementFormat, text: string): RawParse {
  switch (format) {
    case "camt053":
    case "camt054":
      return parseCamt(format, text);
    case "mt940":
      return parseMt940(text);
    case "bai2":
      return parseBai2(text);
    default:
      throw new StatementParseError(`unknown statement format "${String(format)}" (camt053, camt054, mt940, bai2)`);
  }
}
