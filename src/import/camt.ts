import type { BankEntryInput } from "../messages/schemas.js";
import { decideBatchSplit } from "./batchSplit.js";
import {
  amountMetadata,
  batchPart,
  FX_FIELDS,
  type Direction,
  type PaymentDetails,
  readPaymentDetails,
} from "./camtDetails.js";
import { parseCamtDocument, type XmlElement } from "./camtXml.js";
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
 * ISO 20022 camt.053 (BkToCstmrStmt/Stmt) and camt.054 (BkToCstmrDbtCdtNtfctn/Ntfctn)
 * to BankEntry drafts: one per Ntry, or one per TxDtls when a batch booking's details
 * add up to it (batchSplit.ts). The kind is taken from the root element, whatever
 * version the namespace names.
 */

const ROOTS = { BkToCstmrStmt: "Stmt", BkToCstmrDbtCdtNtfctn: "Ntfctn" } as const;
const FORMAT_OF_ROOT = { BkToCstmrStmt: "camt053", BkToCstmrDbtCdtNtfctn: "camt054" } as const;

/** Bank transaction subfamilies that mean "this is money coming back" (ISO external code list). */
const RETURN_SUBFAMILIES = new Set(["RRTN", "UPDD", "PRDD", "RPCR"]);
/** German DK proprietary codes (NRTI+159 …) carry the GVC of a SEPA return. */
const RETURN_PROPRIETARY = /\+(109|159)$/;

interface ReportContext {
  account: string;
  ownerName: string | null;
  bankHint: string | null;
  statementId: string;
  source: string;
  warnings: string[];
  /** The date an entry without BookgDt and ValDt is booked on (statementDate). */
  statementDate: string | undefined;
  /** Paths of the entries that took statementDate, for one warning per statement. */
  datedByStatement: string[];
}

export function parseCamt(format: "camt053" | "camt054", text: string): RawParse {
  const { document, namespace } = parseCamtDocument(text);
  const rootName = (Object.keys(ROOTS) as (keyof typeof ROOTS)[]).find((name) => document.all(name).length > 0);
  if (!rootName) {
    const found = document.all("BkToCstmrAcctRpt").length > 0 ? " (camt.052 account reports are not supported)" : "";
    throw new StatementParseError(`no BkToCstmrStmt or BkToCstmrDbtCdtNtfctn element${found}`, "Document");
  }
  const warnings: string[] = [];
  if (FORMAT_OF_ROOT[rootName] !== format) {
    warnings.push(`asked for ${format} but the file is a ${FORMAT_OF_ROOT[rootName]} (${rootName}); read as such`);
  }
  const root = document.all(rootName)[0] as XmlElement;
  const messageId = root.text("GrpHdr", "MsgId") ?? "";
  const entries: DraftEntry[] = [];
  const statements: StatementSummary[] = [];
  const ids = new Set<string>();
  const messageDate = root.text("GrpHdr", "CreDtTm");
  root.all(ROOTS[rootName]).forEach((report, index) => {
    const result = parseReport(report, {
      statementId: uniqueStatementId(report.text("Id") ?? `${messageId}/${index + 1}`, ids),
      source: namespace ?? rootName,
      warnings,
      statementDate: statementDate(report, messageDate),
      datedByStatement: [],
    });
    if (!result) return;
    entries.push(...result.entries);
    statements.push(result.summary);
  });
  return { entries, statements, warnings };
}

/**
 * The date of an entry that carries neither BookgDt nor ValDt (seen in camt.053.001.08):
 * the end of the period the statement covers (FrToDt/ToDtTm) — the day its closing balance
 * is stated, so the line lands in the statement it belongs to — else the statement's
 * creation (Stmt/CreDtTm), else the message's (GrpHdr/CreDtTm). The date part as written.
 */
function statementDate(report: XmlElement, messageDate: string | undefined): string | undefined {
  const created = [report.text("CreDtTm"), messageDate].map((text) => text?.slice(0, 10));
  return period(report).toDate ?? created.find((date) => date !== undefined && ISO_DATE.test(date));
}

function parseReport(
  report: XmlElement,
  base: Pick<ReportContext, "statementId" | "source" | "warnings" | "statementDate" | "datedByStatement">,
): { entries: DraftEntry[]; summary: StatementSummary } | undefined {
  const iban = report.text("Acct", "Id", "IBAN");
  const account = iban ?? report.text("Acct", "Id", "Othr", "Id");
  if (!account) throw new StatementParseError("the account has no IBAN or Othr/Id", report.pathOf("Acct", "Id"));
  const ntries = report.all("Ntry");
  const currency =
    report.text("Acct", "Ccy") ?? report.get("Bal", "Amt")?.attr("Ccy") ?? ntries[0]?.get("Amt")?.attr("Ccy");
  if (!currency) {
    base.warnings.push(`${report.path} (${account}): no currency and no entries; skipped`);
    return undefined;
  }
  const ctx: ReportContext = {
    ...base,
    account,
    ownerName: report.text("Acct", "Ownr", "Nm") ?? report.text("Acct", "Ownr", "Pty", "Nm") ?? null,
    bankHint:
      bankFromBic(
        report.text("Acct", "Svcr", "FinInstnId", "BIC") ?? report.text("Acct", "Svcr", "FinInstnId", "BICFI"),
      ) ?? bankFromIban(iban),
  };
  const tally = new Tally();
  const entries: DraftEntry[] = [];
  for (const ntry of ntries) {
    const mapped = mapEntry(ntry, ctx);
    if (!mapped) continue;
    entries.push(...mapped.drafts);
    // The statement's own totals count entries (not transactions), booked ones, in its currency.
    if (mapped.countsInBalance) {
      if (mapped.currency === currency) tally.add(mapped.direction, mapped.amountMinor);
      else
        ctx.warnings.push(`${ntry.path}: entry in ${mapped.currency} on a ${currency} account, left out of its totals`);
    }
  }
  if (ctx.datedByStatement.length > 0) {
    ctx.warnings.push(
      `${report.path} ${ctx.statementId}: ${ctx.datedByStatement.length} entries without BookgDt or ValDt ` +
        `dated ${ctx.statementDate} from the statement (${ctx.datedByStatement.slice(0, 5).join(", ")})`,
    );
  }
  const summary: StatementSummary = {
    account,
    currency,
    statementId: ctx.statementId,
    ...balances(report, currency, `${ctx.statementId} (${account})`, ctx.warnings),
    ...period(report),
    creditsMinor: tally.creditsMinor,
    debitsMinor: tally.debitsMinor,
    creditCount: tally.creditCount,
    debitCount: tally.debitCount,
  };
  const declared = declaredTotals(report, currency);
  if (declared) summary.declared = declared;
  ctx.warnings.push(...checkStatement(summary, `${report.path} ${ctx.statementId} (${account})`));
  return { entries, summary };
}

const ISO_DATE = /^\d{4}-\d{2}-\d{2}$/;

/** FrToDt as dates (the date part as written), when the statement states its period. */
function period(report: XmlElement): Pick<StatementSummary, "fromDate" | "toDate"> {
  const result: Pick<StatementSummary, "fromDate" | "toDate"> = {};
  const from = (report.text("FrToDt", "FrDtTm") ?? report.text("FrToDt", "FrDt"))?.slice(0, 10);
  const to = (report.text("FrToDt", "ToDtTm") ?? report.text("FrToDt", "ToDt"))?.slice(0, 10);
  if (from && ISO_DATE.test(from)) result.fromDate = from;
  if (to && ISO_DATE.test(to)) result.toDate = to;
  return result;
}

/** Opening (OPBD, else PRCD) and closing (CLBD) booked balances, signed. */
function balances(
  report: XmlElement,
  currency: string,
  label: string,
  warnings: string[],
): Pick<StatementSummary, "openingBalanceMinor" | "closingBalanceMinor"> {
  const byCode = new Map<string, number>();
  for (const balance of report.all("Bal")) {
    const code = balance.text("Tp", "CdOrPrtry", "Cd");
    const amount = balance.get("Amt");
    if (!code || !amount || byCode.has(code)) continue;
    const balanceCurrency = amount.attr("Ccy") ?? currency;
    const minor = amountOf(amount.text() ?? "", balanceCurrency, amount.path);
    // A SEK balance on an EUR account is not an EUR amount: never checked (or shown) as one.
    if (balanceCurrency !== currency) {
      warnings.push(
        `${balance.path} ${label}: ${code} balance ${money(minor, balanceCurrency)} is not in the account's ` +
          `currency ${currency}; left out of the balance checks`,
      );
      continue;
    }
    byCode.set(code, balance.text("CdtDbtInd") === "DBIT" ? -minor : minor);
  }
  const result: Pick<StatementSummary, "openingBalanceMinor" | "closingBalanceMinor"> = {};
  const opening = byCode.get("OPBD") ?? byCode.get("PRCD");
  const closing = byCode.get("CLBD");
  if (opening !== undefined) result.openingBalanceMinor = opening;
  if (closing !== undefined) result.closingBalanceMinor = closing;
  return result;
}

function declaredTotals(report: XmlElement, currency: string): DeclaredTotals | undefined {
  const summary = report.get("TxsSummry");
  if (!summary) return undefined;
  const declared: DeclaredTotals = {};
  const sum = (element: XmlElement | undefined) => {
    const text = element?.text();
    return element && text ? amountOf(text, currency, element.path) : undefined;
  };
  const count = (text: string | undefined) => (text && /^\d+$/.test(text) ? Number(text) : undefined);
  const assign = <K extends keyof DeclaredTotals>(key: K, value: number | undefined) => {
    if (value !== undefined) declared[key] = value;
  };
  assign("creditsMinor", sum(summary.get("TtlCdtNtries", "Sum")));
  assign("creditCount", count(summary.text("TtlCdtNtries", "NbOfNtries")));
  assign("debitsMinor", sum(summary.get("TtlDbtNtries", "Sum")));
  assign("debitCount", count(summary.text("TtlDbtNtries", "NbOfNtries")));
  assign("totalMinor", sum(summary.get("TtlNtries", "Sum")));
  assign("entryCount", count(summary.text("TtlNtries", "NbOfNtries")));
  const net = sum(summary.get("TtlNtries", "TtlNetNtryAmt"));
  if (net !== undefined) assign("netMinor", summary.text("TtlNtries", "CdtDbtInd") === "DBIT" ? -net : net);
  return declared;
}

interface MappedEntry {
  drafts: DraftEntry[];
  direction: Direction;
  amountMinor: number;
  currency: string;
  countsInBalance: boolean;
}

/** What an Ntry says that holds for every BankEntry made from it. */
interface EntryBase {
  ntry: XmlElement;
  ctx: ReportContext;
  amountMinor: number;
  currency: string;
  direction: Direction;
  statusCode: string;
  bookingDate: string;
  valueDate: string;
  ref: string | null;
  /** The bank transaction code says "return" (RRTN…), whatever the details say. */
  isReturn: boolean;
  metadata: Record<string, unknown>;
  additionalInfo: (string | undefined)[];
}

function mapEntry(ntry: XmlElement, ctx: ReportContext): MappedEntry | undefined {
  const base = readEntry(ntry, ctx);
  if (!base) return undefined;
  const { amountMinor, currency, direction } = base;
  const batch = ntry.getAll("NtryDtls", "Btch")[0];
  const txs = ntry.getAll("NtryDtls", "TxDtls");
  const parts = txs.map(batchPart);
  const decision = decideBatchSplit({ amountMinor, currency, direction }, parts);
  const drafts: DraftEntry[] = [];
  if (decision.split) {
    const batchCharges = amountMetadata(ntry, { amountMinor, currency }).charges_minor;
    txs.forEach((tx, index) => {
      const partMinor = parts[index]?.amountMinor ?? 0;
      const extra: Record<string, unknown> = {
        ...amountMetadata(tx, { amountMinor: partMinor, currency }),
        batch_index: index + 1,
        batch_size: txs.length,
      };
      if (batchCharges !== undefined) extra.batch_charges_minor = batchCharges;
      const details = readPaymentDetails(tx, direction, ctx.ownerName);
      drafts.push(makeDraft(base, details, partMinor, extra, base.additionalInfo, tx.path, `:${index + 1}`));
    });
  } else {
    if (decision.reason) ctx.warnings.push(`${ntry.path}: batch not split: ${decision.reason}; imported as one entry`);
    const single = txs.length === 1 ? (txs[0] as XmlElement) : undefined;
    const details = single ? readPaymentDetails(single, direction, ctx.ownerName) : undefined;
    const extra = {
      ...amountMetadata(ntry, { amountMinor, currency }),
      ...(single ? amountMetadata(single, { amountMinor, currency }) : {}),
    };
    if (txs.length > 1) {
      const e2es = txs.map((tx) => tx.text("Refs", "EndToEndId")).filter((id): id is string => id !== undefined);
      if (e2es.length > 0) extra.batch_end_to_end_ids = e2es;
    }
    // A batch booked as one amount is found by its batch id (PSP payout batches).
    const batchIds = batch
      ? [labelled("PmtInfId", batch.text("PmtInfId")), labelled("MsgId", batch.text("MsgId"))]
      : [];
    drafts.push(makeDraft(base, details, amountMinor, extra, [...batchIds, ...base.additionalInfo], ntry.path));
  }
  const batchTotal = (base.metadata.batch as { total?: string } | undefined)?.total;
  if (batchTotal && batchTotal !== money(amountMinor, currency)) {
    ctx.warnings.push(
      `${ntry.path}: Btch/TtlAmt ${batchTotal} differs from the entry amount ${money(amountMinor, currency)}`,
    );
  }
  return { drafts, direction, amountMinor, currency, countsInBalance: base.statusCode === "BOOK" };
}

/** The Ntry's own fields, or undefined (with a warning) for entries that are not money movements. */
function readEntry(ntry: XmlElement, ctx: ReportContext): EntryBase | undefined {
  const amount = ntry.get("Amt");
  const currency = amount?.attr("Ccy");
  if (!amount || !currency) throw new StatementParseError("missing Amt or its Ccy", ntry.pathOf("Amt"));
  const amountMinor = amountOf(amount.text() ?? "", currency, amount.path);
  const indicator = ntry.text("CdtDbtInd");
  if (indicator !== "CRDT" && indicator !== "DBIT") {
    throw new StatementParseError(`CdtDbtInd must be CRDT or DBIT, not "${indicator ?? ""}"`, ntry.pathOf("CdtDbtInd"));
  }
  // ISO: with RvslInd the indicator is already the direction of the reversal booking itself.
  const direction: Direction = indicator === "CRDT" ? "credit" : "debit";
  // .001.02–.04 write <Sts>BOOK</Sts>, .001.08 <Sts><Cd>BOOK</Cd></Sts>.
  const statusCode = ntry.text("Sts") ?? ntry.text("Sts", "Cd") ?? ntry.text("Sts", "Prtry");
  // Sts is mandatory in every camt version, and nothing else in the file says whether such an
  // entry moved money (booked), may still move it (pending) or is information only: storing it as
  // booked would be a guess. It is left out, by name; if the bank counted it, the statement's own
  // totals then disagree and the statement is reported as not adding up.
  if (statusCode === undefined) {
    ctx.warnings.push(
      `${ntry.path}: ${describe(ntry, amountMinor, currency, direction)} has no Sts (status), so whether it is ` +
        "booked cannot be told; not imported",
    );
    return undefined;
  }
  // INFO entries are not bookings (no money moved); FUTR ones are booked with a future
  // value date and PDNG ones not yet booked: both are pending money.
  if (!["BOOK", "PDNG", "FUTR"].includes(statusCode)) {
    ctx.warnings.push(
      `${ntry.path}: ${describe(ntry, amountMinor, currency, direction)} has status ${statusCode}, not imported`,
    );
    return undefined;
  }
  if (amountMinor === 0) {
    ctx.warnings.push(`${ntry.path}: zero-amount entry skipped`);
    return undefined;
  }
  let bookingDate = dateOf(ntry, "BookgDt") ?? dateOf(ntry, "ValDt");
  if (!bookingDate && ctx.statementDate) {
    bookingDate = ctx.statementDate;
    ctx.datedByStatement.push(ntry.path);
  }
  if (!bookingDate) {
    throw new StatementParseError("no BookgDt or ValDt, and the statement has no date either", ntry.pathOf("BookgDt"));
  }

  const domain = ntry.get("BkTxCd", "Domn");
  const subFamily = domain?.text("Fmly", "SubFmlyCd");
  const proprietary = ntry.text("BkTxCd", "Prtry", "Cd");
  const transactionCode = [domain?.text("Cd"), domain?.text("Fmly", "Cd"), subFamily].filter(Boolean).join("/");
  const metadata: Record<string, unknown> = { statement_id: ctx.statementId, source_format: ctx.source };
  if (transactionCode) metadata.transaction_code = transactionCode;
  if (proprietary) metadata.proprietary_code = proprietary;
  if (ntry.text("RvslInd") === "true") metadata.reversal = true;
  if (ntry.text("NtryRef")) metadata.entry_reference = ntry.text("NtryRef");
  if (!ntry.get("BookgDt") && !ntry.get("ValDt")) metadata.booking_date_source = "statement";
  const batch = ntry.getAll("NtryDtls", "Btch")[0];
  if (batch) metadata.batch = batchMetadata(batch);
  return {
    ntry,
    ctx,
    amountMinor,
    currency,
    direction,
    statusCode,
    bookingDate,
    valueDate: dateOf(ntry, "ValDt") ?? bookingDate,
    // The servicer's reference is unique per booking; NtryRef is not always (PostFinance reuses it).
    ref: ntry.text("AcctSvcrRef") ?? ntry.text("NtryRef") ?? null,
    isReturn:
      (subFamily !== undefined && RETURN_SUBFAMILIES.has(subFamily)) || RETURN_PROPRIETARY.test(proprietary ?? ""),
    metadata,
    additionalInfo: ntry.getAll("AddtlNtryInf").map((element) => element.text()),
  };
}

function makeDraft(
  base: EntryBase,
  details: PaymentDetails | undefined,
  amountMinor: number,
  extra: Record<string, unknown>,
  remittance: (string | undefined)[],
  location: string,
  suffix?: string,
): DraftEntry {
  const returned = base.isReturn || details?.returned === true;
  const { [FX_FIELDS]: fx, ...metadata }: Record<string, unknown> = { ...base.metadata, ...extra };
  if (details && Object.keys(details.refs).length > 0) metadata.refs = details.refs;
  if (details?.counterpartyAccount) metadata.counterparty_account = details.counterpartyAccount;
  if (details?.returnText) metadata.return_info = details.returnText;
  const draft: DraftEntry = {
    fields: {
      account: base.ctx.account,
      direction: base.direction,
      amount_minor: amountMinor,
      currency: base.currency,
      booking_date: base.bookingDate,
      value_date: base.valueDate,
      status: returned ? "returned" : base.statusCode === "BOOK" ? "booked" : "pending",
      end_to_end_id: details?.endToEndId ?? null,
      remittance_info: joinText([...(details?.remittance ?? []), ...remittance]),
      counterparty_name: details?.counterparty ?? null,
      return_reason: returned ? (details?.returnReason ?? null) : null,
      ...(fx as Pick<BankEntryInput, "instructed_amount_minor" | "instructed_currency" | "fx_rate"> | undefined),
      metadata,
    },
    ref: base.ref,
    hashParts: [base.ntry.text("NtryRef") ?? "", ...Object.values(details?.refs ?? {})],
    bankHint: base.ctx.bankHint,
    location,
  };
  if (suffix) draft.suffix = suffix;
  return draft;
}

function batchMetadata(batch: XmlElement): {
  msg_id?: string;
  pmt_inf_id?: string;
  nb_of_txs?: number;
  total?: string;
} {
  const meta: { msg_id?: string; pmt_inf_id?: string; nb_of_txs?: number; total?: string } = {};
  const msgId = batch.text("MsgId");
  const pmtInfId = batch.text("PmtInfId");
  const count = batch.text("NbOfTxs");
  const total = batch.get("TtlAmt");
  if (msgId) meta.msg_id = msgId;
  if (pmtInfId) meta.pmt_inf_id = pmtInfId;
  if (count && /^\d+$/.test(count)) meta.nb_of_txs = Number(count);
  const totalCcy = total?.attr("Ccy");
  const totalText = total?.text();
  if (total && totalCcy && totalText) meta.total = money(amountOf(totalText, totalCcy, total.path), totalCcy);
  return meta;
}

function labelled(label: string, value: string | undefined): string | undefined {
  return value ? `${label} ${value}` : undefined;
}

/** Dt, or the date part of DtTm as written (the bank's local date). */
function dateOf(ntry: XmlElement, name: "BookgDt" | "ValDt"): string | undefined {
  const date = ntry.text(name, "Dt") ?? ntry.text(name, "DtTm")?.slice(0, 10);
  if (date === undefined) return undefined;
  if (!/^\d{4}-\d{2}-\d{2}$/.test(date)) throw new StatementParseError(`"${date}" is not a date`, ntry.pathOf(name));
  return date;
}

function describe(ntry: XmlElement, amountMinor: number, currency: string, direction: Direction): string {
  const reason = ntry.getAll("NtryDtls", "TxDtls", "RtrInf", "Rsn", "Cd").map((element) => element.text());
  const returns = reason.length > 0 ? ` with return reasons ${reason.join(", ")}` : "";
  return `${direction} ${money(amountMinor, currency)} (${ntry.text("AcctSvcrRef") ?? "no reference"})${returns}`;
}
