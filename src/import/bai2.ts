import { isCurrency } from "../messages/currencies.js";
import {
  bai2Amount,
  bai2Count,
  bai2Date,
  type Detail,
  detailFrom,
  fields,
  type PhysicalRecord,
  readRecords,
  summaryItems,
} from "./bai2Records.js";
import { isoReasonIn, looksLikeReturn, nachaReasonIn } from "./returns.js";
import {
  bankFromBic,
  checkStatement,
  type ControlTotal,
  type DraftEntry,
  joinText,
  type RawParse,
  type ReportedAmount,
  StatementParseError,
  type StatementSummary,
  Tally,
  uniqueStatementId,
} from "./statement.js";

/**
 * BAI Version 2 cash management files: 01 file, 02 group (one bank, one as-of date),
 * 03 account with its balances and summaries, 16 transaction details, 49/98/99
 * trailers with control totals, 88 continuations of any of them. Amounts are whole
 * minor units of the account's currency (USD when the group names none).
 *
 * The trailers' control totals (the algebraic sum of every 03 and 16 amount below
 * them) and record counts exist to catch corrupt or truncated transmissions. As for every
 * format, a file that does not add up is read all the same and says so (`imbalances`); the
 * import decides (`--strict` refuses it). A file without its 99 trailer is refused outright.
 */

/** Credit and debit detail codes that are returns (BAI2 code list): checks returned, ACH returns, rejects. */
const RETURN_CODES = new Set(["123", "255", "257", "261", "266", "423", "555", "557", "561", "566"]);

interface Group {
  line: number;
  originator: string;
  currency: string;
  asOfDate: string;
  status: string;
  records: number;
  accountTotals: number;
  accounts: number;
}

interface Account {
  line: number;
  number: string;
  currency: string;
  reported: ReportedAmount[];
  records: number;
  total: number;
  tally: Tally;
  entries: DraftEntry[];
  statementId: string;
}

export function parseBai2(text: string): RawParse {
  const records = readRecords(text);
  const warnings: string[] = [];
  const entries: DraftEntry[] = [];
  const statements: StatementSummary[] = [];
  const controlTotals: ControlTotal[] = [];
  const statementIds = new Set<string>();
  const imbalances: string[] = [];
  // An account's (49) mismatches belong to its statement; group and file ones to the file.
  let accountImbalances: string[] = [];
  const mismatch = (message: string, line: number) => {
    const text = `line ${line}: ${message}`;
    warnings.push(text);
    (account ? accountImbalances : imbalances).push(text);
  };
  let sender: string | null = null;
  let fileRecords = 0;
  let fileTotal = 0;
  let groups = 0;
  let fileClosed = false;
  let group: Group | undefined;
  let account: Account | undefined;

  for (let index = 0; index < records.length; ) {
    const record = records[index] as PhysicalRecord;
    const where = `line ${record.line}`;
    // A record and the 88 records that continue it.
    let end = index + 1;
    while (records[end]?.code === "88") end += 1;
    const continuations = records.slice(index + 1, end);
    const count = end - index;
    index = end;
    if (fileClosed) throw new StatementParseError(`record ${record.code} after the 99 file trailer`, where);
    if (record.code !== "01" && fileRecords === 0)
      throw new StatementParseError("the file does not start with a 01 header", where);
    fileRecords += count;
    if (group) group.records += count;
    if (account) account.records += count;
    const joined = () => fields([record.content, ...continuations.map((c) => c.content)].join(","));

    switch (record.code) {
      case "01": {
        if (fileRecords > count) throw new StatementParseError("a second 01 file header", where);
        const [from, , , , , , , version] = joined();
        sender = from || null;
        if (version && version !== "2") warnings.push(`${where}: BAI version ${version}, read as version 2`);
        break;
      }
      case "02": {
        if (group) throw new StatementParseError("02 group header inside a group (98 missing)", where);
        const [, originator = "", status = "", asOf, , groupCurrency] = joined();
        const currency = groupCurrency || "USD";
        if (!isCurrency(currency)) throw new StatementParseError(`unknown currency "${currency}"`, where);
        // Status 1 is an update; 2 deletion, 3 correction, 4 test: imported, but worth a look.
        if (status !== "1") warnings.push(`${where}: group status ${status || "(none)"}, not 1 (update)`);
        group = {
          line: record.line,
          originator,
          currency,
          asOfDate: bai2Date(asOf, where),
          status,
          records: count,
          accountTotals: 0,
          accounts: 0,
        };
        groups += 1;
        break;
      }
      case "03": {
        if (!group) throw new StatementParseError("03 account outside a group", where);
        if (account) throw new StatementParseError("03 account inside an account (49 missing)", where);
        const tokens = joined();
        const [number = "", ccy = ""] = tokens;
        if (!number) throw new StatementParseError("03 record without an account number", where);
        const currency = ccy || group.currency;
        if (!isCurrency(currency)) throw new StatementParseError(`unknown currency "${currency}"`, where);
        const items = summaryItems(tokens.slice(2), where);
        const reported = items.map(({ code, amountMinor, itemCount }) => {
          const item: ReportedAmount = { code, amountMinor: amountMinor ?? 0 };
          if (itemCount !== undefined) item.itemCount = itemCount;
          return item;
        });
        account = {
          line: record.line,
          number,
          currency,
          reported,
          records: count,
          total: reported.reduce((sum, item) => sum + item.amountMinor, 0),
          tally: new Tally(),
          entries: [],
          statementId: uniqueStatementId(`${group.asOfDate}/${number}`, statementIds),
        };
        break;
      }
      case "16": {
        if (!account || !group) throw new StatementParseError("16 transaction outside an account", where);
        let tokens = record.content.split(",");
        let detail = detailFrom(tokens, where);
        let textLines = continuations;
        // The fields before the text may themselves continue in 88 records.
        while (!detail && textLines.length > 0) {
          tokens = [...tokens, ...(textLines[0] as PhysicalRecord).content.split(",")];
          textLines = textLines.slice(1);
          detail = detailFrom(tokens, where);
        }
        if (!detail) throw new StatementParseError("16 record ends before its bank and customer references", where);
        account.total += detail.amountMinor;
        const draft = toDraft(detail, [record, ...continuations], textLines, account, group, sender, warnings);
        if (draft) {
          account.entries.push(draft);
          account.tally.add(draft.fields.direction, draft.fields.amount_minor);
        }
        break;
      }
      case "49": {
        if (!account || !group) throw new StatementParseError("49 account trailer outside an account", where);
        const [total, recordCount] = joined();
        const declaredTotal = bai2Amount(total, where) ?? 0;
        const declaredRecords = bai2Count(recordCount, where) ?? 0;
        if (declaredTotal !== account.total) {
          mismatch(
            `account ${account.number} control total ${declaredTotal} (49) is not the sum of its amounts, ${account.total}`,
            record.line,
          );
        }
        if (declaredRecords !== account.records) {
          mismatch(
            `account ${account.number} declares ${declaredRecords} records (49), the file has ${account.records}`,
            record.line,
          );
        }
        const summary = accountSummary(account, declaredTotal, group.asOfDate, warnings);
        summary.imbalances = [...accountImbalances, ...(summary.imbalances ?? [])];
        accountImbalances = [];
        statements.push(summary);
        entries.push(...account.entries);
        group.accountTotals += declaredTotal;
        group.accounts += 1;
        account = undefined;
        break;
      }
      case "98": {
        if (!group) throw new StatementParseError("98 group trailer outside a group", where);
        if (account)
          throw new StatementParseError(`98 group trailer inside account ${account.number} (49 missing)`, where);
        const [total, accounts, recordCount] = joined();
        const item: ControlTotal = {
          level: "group",
          id: `${group.originator}/${group.asOfDate}`,
          line: record.line,
          declaredMinor: bai2Amount(total, where) ?? 0,
          computedMinor: group.accountTotals,
          declaredRecords: bai2Count(recordCount, where) ?? 0,
          computedRecords: group.records,
          declaredChildren: bai2Count(accounts, where) ?? 0,
          computedChildren: group.accounts,
        };
        checkControl(item, "group", mismatch);
        controlTotals.push(item);
        fileTotal += item.declaredMinor;
        group = undefined;
        break;
      }
      case "99": {
        if (group) throw new StatementParseError("99 file trailer inside a group (98 missing)", where);
        const [total, groupCount, recordCount] = joined();
        const item: ControlTotal = {
          level: "file",
          id: sender ?? "file",
          line: record.line,
          declaredMinor: bai2Amount(total, where) ?? 0,
          computedMinor: fileTotal,
          declaredRecords: bai2Count(recordCount, where) ?? 0,
          computedRecords: fileRecords,
          declaredChildren: bai2Count(groupCount, where) ?? 0,
          computedChildren: groups,
        };
        checkControl(item, "file", mismatch);
        controlTotals.push(item);
        fileClosed = true;
        break;
      }
      default:
        throw new StatementParseError("88 continuation without a record before it", where);
    }
  }
  if (!fileClosed) {
    const last = records[records.length - 1]?.line ?? 1;
    throw new StatementParseError("the file ends without its 99 trailer (truncated?)", `line ${last}`);
  }
  return { entries, statements, warnings, controlTotals, imbalances };
}

function checkControl(item: ControlTotal, what: string, mismatch: (message: string, line: number) => void): void {
  const children = what === "group" ? "accounts" : "groups";
  const trailer = what === "group" ? "98" : "99";
  if (item.declaredMinor !== item.computedMinor) {
    mismatch(
      `${what} control total ${item.declaredMinor} (${trailer}) is not the sum of its ${children}' totals, ${item.computedMinor}`,
      item.line,
    );
  }
  if (item.declaredChildren !== item.computedChildren) {
    mismatch(
      `${what} declares ${item.declaredChildren} ${children} (${trailer}), the file has ${item.computedChildren}`,
      item.line,
    );
  }
  if (item.declaredRecords !== item.computedRecords) {
    mismatch(
      `${what} declares ${item.declaredRecords} records (${trailer}), the file has ${item.computedRecords}`,
      item.line,
    );
  }
}

/** Opening ledger 010, closing ledger 015, total credits 100 and total debits 400 are the account's own figures. */
function accountSummary(
  account: Account,
  controlTotal: number,
  asOfDate: string,
  warnings: string[],
): StatementSummary {
  const reported = (code: string) => account.reported.find((item) => item.code === code);
  const summary: StatementSummary = {
    account: account.number,
    currency: account.currency,
    statementId: account.statementId,
    creditsMinor: account.tally.creditsMinor,
    debitsMinor: account.tally.debitsMinor,
    creditCount: account.tally.creditCount,
    debitCount: account.tally.debitCount,
    declared: { totalMinor: controlTotal },
    reported: account.reported,
    // A BAI2 group reports one as-of date.
    fromDate: asOfDate,
    toDate: asOfDate,
  };
  const opening = reported("010");
  const closing = reported("015");
  if (opening) summary.openingBalanceMinor = opening.amountMinor;
  if (closing) summary.closingBalanceMinor = closing.amountMinor;
  const declared = summary.declared as NonNullable<StatementSummary["declared"]>;
  const credits = reported("100");
  const debits = reported("400");
  if (credits) declared.creditsMinor = credits.amountMinor;
  if (credits?.itemCount !== undefined) declared.creditCount = credits.itemCount;
  if (debits) declared.debitsMinor = debits.amountMinor;
  if (debits?.itemCount !== undefined) declared.debitCount = debits.itemCount;
  warnings.push(...checkStatement(summary, `account ${account.statementId} (line ${account.line})`));
  return summary;
}

function toDraft(
  detail: Detail,
  physical: PhysicalRecord[],
  textLines: PhysicalRecord[],
  account: Account,
  group: Group,
  sender: string | null,
  warnings: string[],
): DraftEntry | undefined {
  const where = `line ${physical[0]?.line ?? 0}`;
  const code = Number(detail.typeCode);
  // 100–399 are credits, 400–699 debits; other codes (loans 7xx, custom 9xx, 890 info) are no money movement we can place.
  const direction = code >= 100 && code <= 399 ? "credit" : code >= 400 && code <= 699 ? "debit" : undefined;
  if (!direction) {
    warnings.push(`${where}: 16 record with type code ${detail.typeCode} (neither credit nor debit) skipped`);
    return undefined;
  }
  if (detail.amountMinor <= 0) {
    warnings.push(`${where}: ${detail.amountMinor === 0 ? "zero-amount" : "negative"} 16 record skipped`);
    return undefined;
  }
  // 88 text: a line filled to the 80-character record length was wrapped mid-word.
  let text = detail.text ?? "";
  textLines.forEach((line, index) => {
    const previous =
      index === 0
        ? (physical[physical.length - textLines.length - 1]?.length ?? 0)
        : (textLines[index - 1]?.length ?? 0);
    text += (text === "" || previous >= 80 ? "" : " ") + line.content;
  });
  const keyed = new Map<string, string>();
  for (const line of textLines) {
    const match = /^([A-Z]{4}):\s*(.*)$/.exec(line.content.trim());
    if (match && !keyed.has(match[1] ?? "")) keyed.set(match[1] ?? "", (match[2] ?? "").trim());
  }
  const returned = RETURN_CODES.has(detail.typeCode) || looksLikeReturn(text);
  const metadata: Record<string, unknown> = {
    statement_id: account.statementId,
    source_format: "bai2",
    type_code: detail.typeCode,
  };
  if (detail.fundsType) metadata.funds_type = detail.fundsType;
  if (detail.bankRef) metadata.bank_reference = detail.bankRef;
  if (detail.customerRef) metadata.customer_reference = detail.customerRef;
  if (group.status !== "1") metadata.group_status = group.status;
  const counterparty = direction === "credit" ? keyed.get("DBNM") : keyed.get("CRNM");
  return {
    fields: {
      account: account.number,
      direction,
      amount_minor: detail.amountMinor,
      currency: account.currency,
      booking_date: group.asOfDate,
      value_date: detail.valueDate ?? group.asOfDate,
      status: returned ? "returned" : "booked",
      end_to_end_id: keyed.get("EREF") || null,
      remittance_info: joinText([detail.customerRef, text]),
      counterparty_name: counterparty || null,
      return_reason: returned ? (nachaReasonIn(text) ?? isoReasonIn(text)) : null,
      metadata,
    },
    ref: detail.bankRef,
    hashParts: [detail.typeCode, detail.customerRef ?? "", detail.fundsType, text],
    bankHint: bankFromBic(group.originator) ?? (group.originator || sender),
    location: where,
  };
}
