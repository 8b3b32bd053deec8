import { describe, expect, it } from "vitest";
import { parseStatementFile } from "../../../src/import/index.js";

/** A BAI2 file written for this test with every record on one physical line, `/`-terminated. */
const ONE_LINE =
  "01,SENDER,RECEIVER,261102,0800,1,,,2/02,RECEIVER,BOFAUS3N,1,261101,,USD,2/" +
  "03,0001234567,USD,010,100000,,,015,150000,,/16,195,50000,,REF1,CUST1,WIRE IN ACME INV 12/2026/" +
  "49,300000,3/98,300000,1,5/99,300000,1,7/";

describe("BAI2 files with several records on one line", () => {
  it("splits /-terminated records instead of failing with '03 account outside a group'", () => {
    const parsed = parseStatementFile("bai2", ONE_LINE);
    expect(parsed.entries).toHaveLength(1);
    expect(parsed.entries[0]).toMatchObject({
      account: "0001234567",
      direction: "credit",
      amount_minor: 50_000,
      currency: "USD",
      booking_date: "2026-11-01",
      metadata: { bank_reference: "REF1" },
    });
    // The slash inside the text is not a record end: no record code follows it.
    expect(parsed.entries[0]?.remittance_info).toContain("WIRE IN ACME INV 12/2026");
    expect(parsed.statements[0]).toMatchObject({ openingBalanceMinor: 100_000, closingBalanceMinor: 150_000 });
    expect(parsed.controlTotals?.map((total) => [total.level, total.computedRecords])).toEqual([
      ["group", 5],
      ["file", 7],
    ]);
    expect(parsed.warnings).toEqual([]);
  });

  it("the same records one per line read the same", () => {
    const perLine = ONE_LINE.replace(/\/(?=\d{2},)/g, "/\n");
    expect(parseStatementFile("bai2", perLine).entries).toEqual(parseStatementFile("bai2", ONE_LINE).entries);
  });
});
