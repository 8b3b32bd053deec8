import { parse } from "csv-parse/sync";
import { isCurrency, parseMajor } from "../messages/currencies.js";
import type { GatewayEventInput } from "../messages/schemas.js";
import { GatewayPayloadError, text, validated } from "./gatewayEvent.js";

/**
 * Adyen "Settlement details report" CSV → one CONTRACT `settlement.batch` per batch
 * (per merchant account, batch number and net currency). Columns are found by their
 * header names, so the 30-column layout and the newer wider one both work.
 *
 * All sums are in the net currency (the currency paid to our bank), in minor units:
 *  - gross: payment lines (Settled, Refunded, Chargeback, …) before fees, i.e. the
 *    signed net plus the line's commission, markup, scheme fees and interchange;
 *  - fee: those line fees plus Fee / MiscCosts / InvoiceDeduction lines;
 *  - carried_forward_minor: the Balancetransfer lines (a balance carried in from the
 *    previous batch, or out to the next: a negative batch Adyen does not debit);
 *  - amount_minor = gross − fee + carried forward: what the bank sees (CONTRACT §8) —
 *    a credit when positive, a debit of its absolute value when negative, nothing at 0.
 * Gross, fee and net are signed: a batch of refunds and chargebacks is negative. A
 * MerchantPayout line, when present, must equal amount_minor.
 */

export interface AdyenSettlementReport {
  events: GatewayEventInput[];
  /** Batches the CONTRACT cannot express (sums that disagree, an unknown time zone). */
  skipped: Array<{ batchId: string; reason: string }>;
}

const PAYMENT_TYPES = new Set([
  "Settled",
  "SettledBulk",
  "SettledExternally",
  "SettledInstallment",
  "Refunded",
  "RefundedBulk",
  "RefundedExternally",
  "RefundedInstallment",
  "RefundedReversed",
  "Chargeback",
  "ChargebackExternally",
  "ChargebackReversed",
  "ChargebackReversedExternally",
  "SecondChargeback",
  "PaidOut",
  "PaidOutReversed",
  "ManualCorrected",
  "DepositCorrection",
  "ReserveAdjustment",
]);
const FEE_TYPES = new Set(["Fee", "MiscCosts", "InvoiceDeduction"]);
const TRANSFER = "Balancetransfer";
const PAYOUT = "MerchantPayout";

const COLUMNS = {
  merchantAccount: "Merchant Account",
  merchantReference: "Merchant Reference",
  creationDate: "Creation Date",
  timeZone: "TimeZone",
  type: "Type",
  netCurrency: "Net Currency",
  netDebit: "Net Debit (NC)",
  netCredit: "Net Credit (NC)",
  commission: "Commission (NC)",
  markup: "Markup (NC)",
  schemeFees: "Scheme Fees (NC)",
  interchange: "Interchange (NC)",
  batchNumber: "Batch Number",
} as const;

/** Offsets of the zone names Adyen prints; ambiguous ones (CST, IST) are left out on purpose. */
const ZONES: ReadonlyMap<string, string> = new Map([
  ["UTC", "+00:00"],
  ["GMT", "+00:00"],
  ["WET", "+00:00"],
  ["WEST", "+01:00"],
  ["BST", "+01:00"],
  ["CET", "+01:00"],
  ["CEST", "+02:00"],
  ["EET", "+02:00"],
  ["EEST", "+03:00"],
  ["EST", "-05:00"],
  ["EDT", "-04:00"],
  ["MST", "-07:00"],
  ["MDT", "-06:00"],
  ["PST", "-08:00"],
  ["PDT", "-07:00"],
  ["BRT", "-03:00"],
  ["SGT", "+08:00"],
  ["HKT", "+08:00"],
  ["JST", "+09:00"],
  ["AEST", "+10:00"],
  ["AEDT", "+11:00"],
]);

type Row = Record<string, string>;

interface Batch {
  merchantAccount: string;
  batchNumber: string;
  currency: string;
  gross: number;
  fee: number;
  transfers: number;
  payout: number | null;
  payoutAt: Row | null;
  lastAt: Row;
  references: string[];
  lines: number;
}

export function parseAdyenSettlementReport(csvText: string): GatewayEventInput[] {
  return readAdyenSettlementReport(csvText).events;
}

export function readAdyenSettlementReport(csvText: string): AdyenSettlementReport {
  const rows = readRows(csvText);
  const batches = new Map<string, Batch>();
  for (const [index, row] of rows.entries()) {
    const line = index + 2; // the header is line 1
    const type = row[COLUMNS.type] ?? "";
    const currency = (row[COLUMNS.netCurrency] ?? "").toUpperCase();
    if (!isCurrency(currency)) throw new GatewayPayloadError(`line ${line}: net currency ${JSON.stringify(currency)}`);
    const amount = (column: string) => money(row[column] ?? "", currency, line, column);
    const signedNet = amount(COLUMNS.netCredit) - amount(COLUMNS.netDebit);
    const lineFees =
      amount(COLUMNS.commission) + amount(COLUMNS.markup) + amount(COLUMNS.schemeFees) + amount(COLUMNS.interchange);

    const batch = batchFor(batches, row, currency, line);
    batch.lines++;
    if (row[COLUMNS.creationDate]! >= batch.lastAt[COLUMNS.creationDate]!) batch.lastAt = row;
    if (PAYMENT_TYPES.has(type)) {
      batch.gross += signedNet + lineFees;
      batch.fee += lineFees;
      const reference = text(row[COLUMNS.merchantReference]);
      if (type.startsWith("Settled") && reference !== undefined) batch.references.push(reference);
    } else if (FEE_TYPES.has(type)) {
      batch.fee += lineFees - signedNet;
    } else if (type === TRANSFER) {
      batch.transfers += signedNet;
    } else if (type === PAYOUT) {
      batch.payout = (batch.payout ?? 0) - signedNet;
      batch.payoutAt = row;
    } else if (signedNet !== 0 || lineFees !== 0) {
      // Guessing the meaning of money on an unknown line would make every sum wrong.
      throw new GatewayPayloadError(`line ${line}: unknown settlement line type ${JSON.stringify(type)}`);
    }
  }

  const report: AdyenSettlementReport = { events: [], skipped: [] };
  const currenciesPerBatch = new Map<string, number>();
  for (const batch of batches.values()) {
    const key = `${batch.merchantAccount}\u0000${batch.batchNumber}`;
    currenciesPerBatch.set(key, (currenciesPerBatch.get(key) ?? 0) + 1);
  }
  for (const batch of batches.values()) {
    const several = currenciesPerBatch.get(`${batch.merchantAccount}\u0000${batch.batchNumber}`)! > 1;
    const batchId = `adyen-${batch.merchantAccount}-batch-${batch.batchNumber}${several ? `-${batch.currency}` : ""}`;
    try {
      report.events.push(toEvent(batch, batchId));
    } catch (error) {
      if (!(error instanceof GatewayPayloadError)) throw error;
      report.skipped.push({ batchId, reason: error.message });
    }
  }
  return report;
}

function readRows(csvText: string): Row[] {
  let rows: Row[];
  try {
    rows = parse(csvText, { columns: true, skip_empty_lines: true, trim: true, bom: true }) as Row[];
  } catch (error) {
    throw new GatewayPayloadError(`adyen settlement report is not valid CSV: ${(error as Error).message}`);
  }
  const header = rows[0] ? Object.keys(rows[0]) : [];
  const missing = Object.values(COLUMNS).filter((column) => rows.length > 0 && !header.includes(column));
  if (missing.length > 0) throw new GatewayPayloadError(`adyen settlement report lacks columns: ${missing.join(", ")}`);
  return rows;
}

function batchFor(batches: Map<string, Batch>, row: Row, currency: string, line: number): Batch {
  const merchantAccount = text(row[COLUMNS.merchantAccount]);
  const batchNumber = text(row[COLUMNS.batchNumber]);
  if (merchantAccount === undefined || batchNumber === undefined) {
    throw new GatewayPayloadError(`line ${line}: no merchant account or batch number`);
  }
  const key = `${merchantAccount}\u0000${batchNumber}\u0000${currency}`;
  let batch = batches.get(key);
  if (batch === undefined) {
    batch = {
      merchantAccount,
      batchNumber,
      currency,
      gross: 0,
      fee: 0,
      transfers: 0,
      payout: null,
      payoutAt: null,
      lastAt: row,
      references: [],
      lines: 0,
    };
    batches.set(key, batch);
  }
  return batch;
}

function toEvent(batch: Batch, batchId: string): GatewayEventInput {
  const net = batch.gross - batch.fee;
  if (batch.payout !== null && batch.payout !== net + batch.transfers) {
    throw new GatewayPayloadError(
      `${batchId}: MerchantPayout ${batch.payout} ≠ net ${net} + balance transfers ${batch.transfers} (minor units)`,
    );
  }
  const at = batch.payoutAt ?? batch.lastAt;
  const occurredAt = timestamp(at);
  return validated({
    event_id: batchId,
    gateway: "adyen",
    type: "settlement.batch",
    batch_id: batchId,
    currency: batch.currency,
    gross_minor: batch.gross,
    fee_minor: batch.fee,
    // Only when there is one, so a batch without transfers reads as it always did.
    ...(batch.transfers === 0 ? {} : { carried_forward_minor: batch.transfers }),
    amount_minor: net + batch.transfers,
    expected_arrival: occurredAt.slice(0, 10),
    occurred_at: occurredAt,
    references: [...new Set(batch.references)],
    metadata: {
      merchant_account: batch.merchantAccount,
      batch_number: batch.batchNumber,
      payout_minor: batch.payout,
      balance_transfer_minor: batch.transfers,
      lines: batch.lines,
    },
  });
}

/** Major-unit decimal text → minor units, exactly; blank is zero. */
function money(value: string, currency: string, line: number, column: string): number {
  if (value.trim() === "") return 0;
  const minor = parseMajor(value, currency);
  if (minor === undefined)
    throw new GatewayPayloadError(`line ${line}: ${column} ${JSON.stringify(value)} is not an amount in ${currency}`);
  return minor;
}

/** "2020-01-21 08:11:17" in the row's TimeZone → RFC 3339 with that offset. */
function timestamp(row: Row): string {
  const created = row[COLUMNS.creationDate] ?? "";
  const zone = (row[COLUMNS.timeZone] ?? "").toUpperCase();
  const offset = /^[+-]\d{2}:\d{2}$/.test(zone) ? zone : ZONES.get(zone);
  const match = /^(\d{4}-\d{2}-\d{2})[ T](\d{2}:\d{2}:\d{2})$/.exec(created);
  if (!match) throw new GatewayPayloadError(`creation date ${JSON.stringify(created)} is not YYYY-MM-DD HH:MM:SS`);
  if (offset === undefined) throw new GatewayPayloadError(`time zone ${JSON.stringify(zone)} has no known offset`);
  return `${match[1]}T${match[2]}${offset}`;
}
