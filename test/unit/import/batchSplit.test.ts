import { describe, expect, it } from "vitest";
import { decideBatchSplit } from "../../../src/import/batchSplit.js";
import { parseStatementFile } from "../../../src/import/index.js";
import { fixture } from "./helpers.js";

const entry = { amountMinor: 1000, currency: "EUR", direction: "credit" as const };
const part = (amountMinor: number | undefined, currency = "EUR", direction?: "credit" | "debit") => ({
  amountMinor,
  currency,
  direction,
});

describe("decideBatchSplit", () => {
  it("splits only parts that are exactly the booked money", () => {
    expect(decideBatchSplit(entry, [part(600), part(400, "EUR", "credit")])).toEqual({ split: true });
    expect(decideBatchSplit(entry, [])).toEqual({ split: false, reason: null });
    expect(decideBatchSplit(entry, [part(1000)])).toEqual({ split: false, reason: null });
    expect(decideBatchSplit(entry, [part(600), part(401)])).toEqual({
      split: false,
      reason: "2 transaction details sum to EUR 10.01, the entry is EUR 10.00",
    });
    expect(decideBatchSplit(entry, [part(600), part(undefined)]).split).toBe(false);
    expect(decideBatchSplit(entry, [part(600), part(400, "CHF")]).split).toBe(false);
    expect(decideBatchSplit(entry, [part(600), part(400, "EUR", "debit")]).split).toBe(false);
    expect(decideBatchSplit(entry, [part(1000), part(0)]).split).toBe(false);
  });

  it("keeps a camt batch whole when its details are a cent off", () => {
    const text = fixture("camt053", "finance-finland_camt.053.001.02_sample.xml").replace(
      '<Amt Ccy="EUR">2000.02</Amt>',
      '<Amt Ccy="EUR">2000.03</Amt>',
    );
    const parsed = parseStatementFile("camt053", text);
    const batch = parsed.entries.filter((e) => e.entry_id.includes("091029ACCTSTMTARCH03"));
    expect(batch.map((e) => [e.entry_id.split(":").pop(), e.amount_minor])).toEqual([
      ["091029ACCTSTMTARCH03", 423_005],
    ]);
    expect(batch[0]?.metadata?.batch_end_to_end_ids).toBeUndefined(); // these TxDtls carry no EndToEndId
    expect(parsed.warnings).toContain(
      "Document/BkToCstmrStmt/Stmt/Ntry[3]: batch not split: 3 transaction details sum to EUR 4230.06, the entry is EUR 4230.05; imported as one entry",
    );
  });
});
