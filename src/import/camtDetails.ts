import type { BatchPart } from "./batchSplit.js";
import { lineRate } from "./fxRate.js";
import type { XmlElement } from "./camtXml.js";
import { isoReasonIn, reasonFromWords } from "./returns.js";
import { amountOf, money } from "./statement.js";

/**
 * What a camt TxDtls (or an Ntry without one) says about a payment: references,
 * parties, remittance, return information, charges and original amounts. The
 * element names are the same in .001.02 to .001.08, except that from .001.08 on a
 * party's name sits under Pty (Dbtr/Pty/Nm instead of Dbtr/Nm).
 */

export type Direction = "credit" | "debit";

export interface PaymentDetails {
  endToEndId: string | null;
  /** Ustrd, creditor references (SCOR, QRR, ISR…) and referred document numbers, in file order. */
  remittance: string[];
  counterparty: string | null;
  counterpartyAccount: string | null;
  returned: boolean;
  returnReason: string | null;
  returnText: string | null;
  /** The other references (InstrId, TxId, PmtInfId, MndtId…), by their ISO names. */
  refs: Record<string, string>;
}

const NOT_PROVIDED = /^NOT ?PROVIDED$/i;

export function readPaymentDetails(tx: XmlElement, direction: Direction, ownerName: string | null): PaymentDetails {
  const e2e = tx.text("Refs", "EndToEndId");
  const refs: Record<string, string> = {};
  for (const name of ["MsgId", "AcctSvcrRef", "PmtInfId", "InstrId", "TxId", "MndtId", "UETR", "ClrSysRef"]) {
    const value = tx.text("Refs", name);
    if (value) refs[name] = value;
  }
  const remittance = [
    ...tx.getAll("RmtInf", "Ustrd").map((element) => element.text()),
    ...tx.getAll("RmtInf", "Strd", "CdtrRefInf", "Ref").map((element) => element.text()),
    ...tx.getAll("RmtInf", "Strd", "RfrdDocInf", "Nb").map((element) => element.text()),
  ].filter((text): text is string => text !== undefined);

  // The counterparty is the payer of a credit and the payee of a debit. When only the
  // other side is named (a returned collection names its payer) and it is not the
  // account owner, that name is still the best there is.
  let role: "Dbtr" | "Cdtr" = direction === "credit" ? "Dbtr" : "Cdtr";
  let counterparty = partyName(tx, role);
  if (!counterparty) {
    const other = role === "Dbtr" ? "Cdtr" : "Dbtr";
    const name = partyName(tx, other);
    if (name && name !== ownerName) [role, counterparty] = [other, name];
  }
  const counterpartyAccount =
    tx.text("RltdPties", `${role}Acct`, "Id", "IBAN") ??
    tx.text("RltdPties", `${role}Acct`, "Id", "Othr", "Id") ??
    null;

  const returnInfo = tx.get("RtrInf");
  const returnCode = returnInfo?.text("Rsn", "Cd") ?? returnInfo?.text("Rsn", "Prtry");
  const returnText =
    returnInfo
      ?.getAll("AddtlInf")
      .map((element) => element.text() ?? "")
      .join(" ") || null;
  return {
    endToEndId: e2e && !NOT_PROVIDED.test(e2e) ? e2e : null,
    remittance,
    counterparty,
    counterpartyAccount,
    returned: returnInfo !== undefined,
    returnReason: returnInfo ? (cleanCode(returnCode) ?? isoReasonIn(returnText) ?? reasonFromWords(returnText)) : null,
    returnText,
    refs,
  };
}

function partyName(tx: XmlElement, role: "Dbtr" | "Cdtr"): string | null {
  return tx.text("RltdPties", role, "Nm") ?? tx.text("RltdPties", role, "Pty", "Nm") ?? null;
}

function cleanCode(code: string | undefined): string | null {
  const upper = code?.trim().toUpperCase();
  return upper && /^[A-Z0-9]{2,8}$/.test(upper) ? upper : null;
}

/** The TxDtls amount that counts towards the entry: Amt (.001.04+), else AmtDtls/TxAmt/Amt (.001.02). */
export function batchPart(tx: XmlElement): BatchPart {
  const amount = tx.get("Amt") ?? tx.get("AmtDtls", "TxAmt", "Amt");
  const currency = amount?.attr("Ccy");
  const text = amount?.text();
  const indicator = tx.text("CdtDbtInd");
  return {
    amountMinor: amount && currency && text ? amountOf(text, currency, amount.path) : undefined,
    currency,
    direction: indicator === "CRDT" ? "credit" : indicator === "DBIT" ? "debit" : undefined,
  };
}

/**
 * Charges, original (instructed) amount and exchange rate as metadata. The entry's
 * amount stays the booked amount; these explain how it came about.
 */
export function amountMetadata(
  element: XmlElement,
  booked: { amountMinor: number; currency: string },
): Record<string, unknown> {
  const metadata: Record<string, unknown> = {};
  const charges = chargesOf(element);
  if (charges) {
    metadata.charges = money(charges.amountMinor, charges.currency);
    if (charges.currency === booked.currency) metadata.charges_minor = charges.amountMinor;
  }
  const instructed = element.get("AmtDtls", "InstdAmt", "Amt");
  const instructedCurrency = instructed?.attr("Ccy");
  const instructedText = instructed?.text();
  if (instructed && instructedCurrency && instructedText) {
    const minor = amountOf(instructedText, instructedCurrency, instructed.path);
    if (instructedCurrency !== booked.currency || minor !== booked.amountMinor) {
      metadata.original_amount = money(minor, instructedCurrency);
    }
  }
  const exchange = ["InstdAmt", "TxAmt", "CntrValAmt"]
    .map((name) => element.get("AmtDtls", name, "CcyXchg"))
    .find((found) => found !== undefined);
  const rate = exchange?.text("XchgRate");
  if (exchange && rate) {
    metadata.exchange_rate = {
      rate,
      source_currency: exchange.text("SrcCcy") ?? null,
      target_currency: exchange.text("TrgtCcy") ?? null,
      unit_currency: exchange.text("UnitCcy") ?? null,
    };
  }
  // CONTRACT §8 "FX": the BankEntry fields (makeDraft moves them out of the metadata).
  const fx: Record<string, unknown> = {};
  if (instructed && instructedCurrency && instructedText && instructedCurrency !== booked.currency) {
    const instructedMinor = amountOf(instructedText, instructedCurrency, instructed.path);
    fx.instructed_amount_minor = instructedMinor;
    fx.instructed_currency = instructedCurrency;
    const fxRate = rate
      ? lineRate(Number(rate), booked, { amountMinor: instructedMinor, currency: instructedCurrency })
      : undefined;
    if (fxRate !== undefined) fx.fx_rate = fxRate;
  }
  if (Object.keys(fx).length > 0) metadata[FX_FIELDS] = fx;
  return metadata;
}

/** The metadata key amountMetadata hands the BankEntry FX fields over in. */
export const FX_FIELDS = "__bank_entry_fx";

/**
 * Total charges of an Ntry or TxDtls: TtlChrgsAndTaxAmt (.001.04+), else the sum of the
 * records (credits, e.g. a discount, count negative), else the .001.02 Chrgs/Amt list.
 */
function chargesOf(element: XmlElement): { amountMinor: number; currency: string } | undefined {
  let total = 0;
  let currency: string | undefined;
  const add = (amount: XmlElement | undefined, sign: number) => {
    const ccy = amount?.attr("Ccy");
    const text = amount?.text();
    if (!amount || !ccy || !text) return;
    if (currency !== undefined && ccy !== currency) return; // mixed-currency charges: keep the first currency's
    currency = ccy;
    total += sign * amountOf(text, ccy, amount.path);
  };
  for (const charges of element.all("Chrgs")) {
    const overall = charges.get("TtlChrgsAndTaxAmt");
    if (overall) {
      add(overall, 1);
      continue;
    }
    const records = charges.all("Rcrd");
    for (const record of records) add(record.get("Amt"), record.text("CdtDbtInd") === "CRDT" ? -1 : 1);
    if (records.length === 0) add(charges.get("Amt"), charges.text("CdtDbtInd") === "CRDT" ? -1 : 1);
  }
  return currency === undefined ? undefined : { amountMinor: total, currency };
}
