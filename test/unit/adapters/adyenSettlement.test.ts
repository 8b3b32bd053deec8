import { describe, expect, it } from "vitest";
import { parseAdyenSettlementReport, readAdyenSettlementReport } from "../../../src/adapters/adyenSettlement.js";
import { GatewayPayloadError } from "../../../src/adapters/gatewayEvent.js";
import { gatewayEventSchema, type SettlementBatch } from "../../../src/messages/schemas.js";
import { ADYEN_HEADER as HEADER, type AdyenLine as Line, adyenCsv as csv } from "../../support/adyenReport.js";

/**
 * SYNTHETIC DATA. The real Adyen settlement report fixtures are copyleft and not in
 * /work/shared/fixtures; these rows are made up for this test, in the documented
 * 30-column "Settlement details report" layout. Every line has Gross Currency = Net
 * Currency, so the expected gross is read from the Gross columns, independently of
 * the net-plus-fees route the parser takes.
 */

function line(batch: string, type: string, fields: Line, currency = "EUR", account = "SyntheticMerchantEUR"): Line {
  return {
    "Company Account": "SyntheticCompany",
    "Merchant Account": account,
    "Creation Date": "2026-11-21 10:00:00",
    TimeZone: "CET",
    Type: type,
    "Gross Currency": ["Fee", "Balancetransfer", "MerchantPayout"].includes(type) ? "" : currency,
    "Net Currency": currency,
    "Batch Number": batch,
    ...fields,
  };
}

// Batch 101, EUR, paid out: two orders, a second capture of ORD-2, a refund of an older order,
// a chargeback with its fee, a monthly fee line.
const BATCH_101: Line[] = [
  line("101", "Settled", {
    "Psp Reference": "8800000000000001",
    "Merchant Reference": "ORD-1",
    "Gross Credit (GC)": "100.00",
    "Net Credit (NC)": "97.50",
    "Commission (NC)": "1.00",
    "Markup (NC)": "0.50",
    "Scheme Fees (NC)": "0.30",
    "Interchange (NC)": "0.70",
  }),
  line("101", "Settled", {
    "Psp Reference": "8800000000000002",
    "Merchant Reference": "ORD-2",
    "Gross Credit (GC)": "50.00",
    "Net Credit (NC)": "49.00",
    "Commission (NC)": "1.00",
  }),
  line("101", "Settled", {
    "Psp Reference": "8800000000000003",
    "Merchant Reference": "ORD-2",
    "Gross Credit (GC)": "10.00",
    "Net Credit (NC)": "9.80",
    "Commission (NC)": "0.20",
  }),
  // A refund of an order settled in an earlier batch: not a payment this batch settles.
  line("101", "Refunded", {
    "Psp Reference": "8800000000000000",
    "Merchant Reference": "ORD-0",
    "Gross Debit (GC)": "20.00",
    "Net Debit (NC)": "20.00",
  }),
  line("101", "Chargeback", {
    "Psp Reference": "8800000000000002",
    "Merchant Reference": "ORD-2",
    "Gross Debit (GC)": "5.00",
    "Net Debit (NC)": "7.00",
    "Commission (NC)": "2.00",
  }),
  line("101", "Fee", { "Modification Reference": "Transaction Fees November 2026", "Net Debit (NC)": "0.08" }),
  line("101", "MerchantPayout", {
    "Creation Date": "2026-11-23 05:00:00",
    "Modification Reference": "Payout of batch 101",
    "Net Debit (NC)": "129.22",
  }),
];

/** Minor units of an EUR decimal string, by plain arithmetic (not the parser's parseMajor). */
const cents = (text = "") => (text === "" ? 0 : Math.round(Number(text) * 100));

function sum(lines: Line[], type: string, column: (typeof HEADER)[number]): number {
  return lines.filter((l) => l.Type === type).reduce((total, l) => total + cents(l[column]), 0);
}

function batches(text: string): SettlementBatch[] {
  return parseAdyenSettlementReport(text).map((event) => {
    const parsed = gatewayEventSchema.parse(event);
    if (parsed.type !== "settlement.batch") throw new Error("not a batch");
    return parsed;
  });
}

describe("parseAdyenSettlementReport (synthetic report)", () => {
  it("writes the documented 30-column layout", () => {
    expect(HEADER).toHaveLength(30);
  });

  it("makes one settlement.batch whose sums follow the gross, fee and payout columns", () => {
    const [batch, ...rest] = batches(csv(BATCH_101));
    expect(rest).toEqual([]);
    const gross =
      sum(BATCH_101, "Settled", "Gross Credit (GC)") -
      sum(BATCH_101, "Refunded", "Gross Debit (GC)") -
      sum(BATCH_101, "Chargeback", "Gross Debit (GC)");
    const fee =
      ["Commission (NC)", "Markup (NC)", "Scheme Fees (NC)", "Interchange (NC)"].reduce(
        (total, column) => total + BATCH_101.reduce((t, l) => t + cents(l[column as (typeof HEADER)[number]]), 0),
        0,
      ) + sum(BATCH_101, "Fee", "Net Debit (NC)");
    const payout = sum(BATCH_101, "MerchantPayout", "Net Debit (NC)");
    expect(batch!.gross_minor).toBe(gross);
    expect(batch!.fee_minor).toBe(fee);
    expect(batch!.amount_minor).toBe(payout);
    expect(batch!.currency).toBe("EUR");
    expect(batch!.batch_id).toBe("adyen-SyntheticMerchantEUR-batch-101");
    expect(batch!.event_id).toBe(batch!.batch_id);
    // References of Settled lines, each once, in report order.
    expect(batch!.references).toEqual(["ORD-1", "ORD-2"]);
    // The MerchantPayout line's date, in the report's time zone (CET = +01:00).
    expect(batch!.expected_arrival).toBe("2026-11-23");
    expect(batch!.occurred_at).toBe("2026-11-23T05:00:00+01:00");
    expect(batch!.metadata?.payout_minor).toBe(payout);
  });

  it("parses the same report to the same events (re-imports dedupe on event_id)", () => {
    expect(parseAdyenSettlementReport(csv(BATCH_101))).toEqual(parseAdyenSettlementReport(csv(BATCH_101)));
  });

  it("keeps each batch, merchant account and currency apart; zero- and three-decimal currencies exactly", () => {
    const yen = [
      line(
        "7",
        "Settled",
        {
          "Merchant Reference": "ORD-JP-1",
          "Gross Credit (GC)": "10000",
          "Net Credit (NC)": "9700",
          "Commission (NC)": "300",
        },
        "JPY",
        "SyntheticMerchantJP",
      ),
      // A balance carried in from batch 6; no payout yet in this report.
      line(
        "7",
        "Balancetransfer",
        { "Net Credit (NC)": "500", "Creation Date": "2026-11-22 09:00:00" },
        "JPY",
        "SyntheticMerchantJP",
      ),
    ];
    const mixed = [
      line("102", "Settled", { "Merchant Reference": "ORD-9", "Gross Credit (GC)": "1.00", "Net Credit (NC)": "1.00" }),
      line(
        "102",
        "Settled",
        {
          "Merchant Reference": "ORD-KW",
          "Gross Credit (GC)": "12.345",
          "Net Credit (NC)": "12.300",
          "Commission (NC)": "0.045",
        },
        "KWD",
      ),
    ];
    const result = batches(csv([...BATCH_101, ...yen, ...mixed]));
    const byId = new Map(result.map((batch) => [batch.batch_id, batch]));
    expect([...byId.keys()].sort()).toEqual([
      "adyen-SyntheticMerchantEUR-batch-101",
      "adyen-SyntheticMerchantEUR-batch-102-EUR",
      "adyen-SyntheticMerchantEUR-batch-102-KWD",
      "adyen-SyntheticMerchantJP-batch-7",
    ]);
    expect(byId.get("adyen-SyntheticMerchantJP-batch-7")).toMatchObject({
      currency: "JPY",
      gross_minor: 10000,
      fee_minor: 300,
      // The balance carried in is paid with it (CONTRACT §8): 9700 + 500.
      carried_forward_minor: 500,
      amount_minor: 10200,
      references: ["ORD-JP-1"],
      // No MerchantPayout line: the last creation date.
      expected_arrival: "2026-11-22",
      metadata: expect.objectContaining({ balance_transfer_minor: 500, payout_minor: null }),
    });
    expect(byId.get("adyen-SyntheticMerchantEUR-batch-102-KWD")).toMatchObject({
      gross_minor: 12345,
      fee_minor: 45,
      amount_minor: 12300,
    });
  });

  it("skips (and says why) batches whose sums disagree; negative ones come out (CONTRACT §8)", () => {
    // Fees alone: Adyen debits our bank 3.00 (a MerchantPayout the other way).
    const onlyFees = [
      line("103", "Fee", { "Net Debit (NC)": "3.00" }),
      line("103", "MerchantPayout", { "Net Credit (NC)": "3.00" }),
    ];
    const disagreeing = [
      line("104", "Settled", {
        "Merchant Reference": "ORD-4",
        "Gross Credit (GC)": "10.00",
        "Net Credit (NC)": "10.00",
      }),
      line("104", "MerchantPayout", { "Net Debit (NC)": "9.00" }),
    ];
    const report = readAdyenSettlementReport(csv([...BATCH_101, ...onlyFees, ...disagreeing]));
    expect(report.events.map((event) => (event.type === "settlement.batch" ? event.batch_id : ""))).toEqual([
      "adyen-SyntheticMerchantEUR-batch-101",
      "adyen-SyntheticMerchantEUR-batch-103",
    ]);
    expect(report.events[1]).toMatchObject({ gross_minor: 0, fee_minor: 300, amount_minor: -300, references: [] });
    expect(report.skipped.map((skip) => skip.batchId)).toEqual(["adyen-SyntheticMerchantEUR-batch-104"]);
    expect(report.skipped[0]!.reason).toMatch(/MerchantPayout 900 ≠ net 1000/);
  });

  it("a negative batch carried forward: netted to zero, and the next batch pays the balance it brings in", () => {
    // Batch 105: a chargeback outweighs the day's sale; Adyen carries the −40.00 to batch 106.
    const negative = [
      line("105", "Settled", {
        "Merchant Reference": "ORD-5",
        "Gross Credit (GC)": "10.00",
        "Net Credit (NC)": "9.50",
        "Commission (NC)": "0.50",
      }),
      line("105", "Chargeback", {
        "Merchant Reference": "ORD-0",
        "Gross Debit (GC)": "49.50",
        "Net Debit (NC)": "49.50",
      }),
      line("105", "Balancetransfer", { "Net Credit (NC)": "40.00" }),
    ];
    const next = [
      line("106", "Settled", {
        "Merchant Reference": "ORD-6",
        "Gross Credit (GC)": "100.00",
        "Net Credit (NC)": "99.00",
        "Commission (NC)": "1.00",
      }),
      line("106", "Balancetransfer", { "Net Debit (NC)": "40.00", "Creation Date": "2026-11-22 10:00:00" }),
      line("106", "MerchantPayout", { "Net Debit (NC)": "59.00", "Creation Date": "2026-11-22 10:00:00" }),
    ];
    const report = readAdyenSettlementReport(csv([...negative, ...next]));
    expect(report.skipped).toEqual([]);
    const [a, b] = report.events;
    expect(a).toMatchObject({ gross_minor: -3950, fee_minor: 50, carried_forward_minor: 4000, amount_minor: 0 });
    expect(b).toMatchObject({ gross_minor: 10000, fee_minor: 100, carried_forward_minor: -4000, amount_minor: 5900 });
    for (const event of report.events) expect(gatewayEventSchema.safeParse(event).success).toBe(true);
  });

  it("rejects a report it cannot read: missing columns, bad amounts, unknown money lines", () => {
    expect(() => parseAdyenSettlementReport("Merchant Account,Type\nX,Settled\n")).toThrow(/lacks columns/);
    const tooPrecise = line("1", "Settled", {
      "Merchant Reference": "A",
      "Gross Credit (GC)": "1.001",
      "Net Credit (NC)": "1.001",
    });
    expect(() => parseAdyenSettlementReport(csv([tooPrecise]))).toThrow(GatewayPayloadError);
    const unknown = line("1", "SomethingNew", { "Net Credit (NC)": "5.00" });
    expect(() => parseAdyenSettlementReport(csv([unknown]))).toThrow(/SomethingNew/);
    expect(parseAdyenSettlementReport(csv([]))).toEqual([]);
  });

  it("rejects an unknown time zone for the batch rather than guessing an offset", () => {
    const lines = BATCH_101.map((l) => ({ ...l, TimeZone: "XYZ" }));
    const report = readAdyenSettlementReport(csv(lines));
    expect(report.events).toEqual([]);
    expect(report.skipped[0]!.reason).toMatch(/XYZ/);
  });
});
