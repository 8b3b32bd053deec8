import { describe, expect, it } from "vitest";
import { type ParsedStatementFile, parseStatementFile } from "../../../src/import/index.js";
import { fixture, totalsFromEntries } from "./helpers.js";

const bai2 = (name: string) => parseStatementFile("bai2", fixture("bai2", name));

/**
 * The BAI2 control totals from the entries: an account's 49 total is the sum of its 03
 * amounts (reported) and 16 amounts (entries); a group's 98 total the sum of its 49s;
 * the file's 99 total the sum of the 98s.
 */
function expectControlTotals(parsed: ParsedStatementFile) {
  for (const statement of parsed.statements) {
    const reported = (statement.reported ?? []).reduce((sum, item) => sum + item.amountMinor, 0);
    expect(reported + totalsFromEntries(parsed.entries, statement).grossMinor).toBe(statement.declared?.totalMinor);
  }
  const groups = (parsed.controlTotals ?? []).filter((total) => total.level === "group");
  const file = (parsed.controlTotals ?? []).find((total) => total.level === "file");
  const accountTotals = parsed.statements.map((statement) => statement.declared?.totalMinor ?? 0);
  expect(groups.reduce((sum, group) => sum + group.declaredMinor, 0)).toBe(
    accountTotals.reduce((sum, total) => sum + total, 0),
  );
  expect(file?.declaredMinor).toBe(groups.reduce((sum, group) => sum + group.declaredMinor, 0));
  for (const total of parsed.controlTotals ?? []) {
    expect(total.computedMinor).toBe(total.declaredMinor);
    expect(total.computedRecords).toBe(total.declaredRecords);
    expect(total.computedChildren).toBe(total.declaredChildren);
  }
}

describe("BAI2 moov sample 1 (CAD, returned cheques)", () => {
  const parsed = bai2("moov_sample1_cad_returned-cheques.bai2");

  it("matches its 49, 98 and 99 control totals", () => {
    expectControlTotals(parsed);
    expect(parsed.statements.map((s) => s.declared?.totalMinor)).toEqual([834_000, 446_000]); // 49,+…834000 / 49,+…446000
    expect(parsed.controlTotals?.find((t) => t.level === "file")).toMatchObject({
      declaredMinor: 1_280_000, // 99,+00000000001280000,1,27
      declaredRecords: 27,
    });
    // The 100/400 summaries on the 88 record: 3 credits and 8 debits of 2085.00 each way.
    expect(parsed.statements[0]?.declared).toMatchObject({ creditsMinor: 208_500, creditCount: 3, debitCount: 8 });
    expect(parsed.statements[0]).toMatchObject({ creditsMinor: 208_500, creditCount: 3, debitCount: 8 });
    expect(parsed.warnings).toEqual([]);
  });

  it("reads returned cheques as returned debits, and their service charge as booked", () => {
    expect(
      parsed.entries.slice(0, 3).map((entry) => [entry.status, entry.amount_minor, entry.remittance_info]),
    ).toEqual([
      ["returned", 2500, "RETURNED CHEQUE"],
      ["returned", 90_000, "RTN-UNKNOWN"],
      ["booked", 500, "RTD CHQ SERVICE CHRG"],
    ]);
    expect(parsed.entries[0]).toMatchObject({
      currency: "CAD",
      direction: "debit",
      booking_date: "2006-03-17", // 02 as-of date
      value_date: "2006-03-16", // funds type V
      bank: "0004",
    });
  });
});

describe("BAI2 moov sample 2 (the specification's multi-group example)", () => {
  const parsed = bai2("moov_sample2_bai-spec-multigroup.bai2");

  it("reads funds types S, V, D and 03 continuations, and matches every control total", () => {
    expectControlTotals(parsed);
    expect(parsed.controlTotals?.find((t) => t.level === "file")).toMatchObject({
      declaredMinor: 345_450_000, // 99,345450000,4,31
      declaredChildren: 4,
      declaredRecords: 31,
    });
    // 03 of 9876543210: its 040 amount is on the second 88 record (88,-1500000,,/).
    const account = parsed.statements.find((s) => s.account === "9876543210");
    expect(account?.reported?.at(-1)).toEqual({ code: "040", amountMinor: -1_500_000 });
    expect(account?.openingBalanceMinor).toBe(-500_000);
  });

  it("continues 16 text in 88 records and takes the value date of funds type V", () => {
    const letterOfCredit = parsed.entries.find((entry) => entry.entry_id.endsWith(":SP4738"));
    expect(letterOfCredit).toMatchObject({
      amount_minor: 20_000_000,
      currency: "USD", // group and account name no currency
      value_date: "2004-06-22",
      remittance_info: "YRC065321 | PROCEEDS OF LETTER OF CREDIT FROM THE ARAMCO OIL CO",
    });
    expect(parsed.warnings).toContain("line 26: group status 3, not 1 (update)");
  });
});

describe("BAI2 Goldman Sachs style (newline-delimited, ACH returns)", () => {
  const text = fixture("bai2", "moov_sample4_gs_ach-returns.bai2");

  const parsed = parseStatementFile("bai2", text);

  it("wrong control totals no longer refuse the file: they are imbalances, as a camt TxsSummry mismatch is", () => {
    expect(parsed.imbalances[0]).toBe(
      "line 22: account 107049932 control total -1260161341762 (49) is not the sum of its amounts, 7999960",
    );
    expect(parsed.statements[0]?.imbalances).toEqual([]); // 107049924 adds up
    expect(parsed.statements[1]?.imbalances?.[0]).toBe(parsed.imbalances[0]);
    for (const imbalance of parsed.imbalances) expect(parsed.warnings).toContain(imbalance);
  });

  it("is read whole, every mismatch reported", () => {
    expect(parsed.entries).toHaveLength(17);
    const mismatches = parsed.warnings.filter((warning) => /^line \d+: /.test(warning));
    expect(mismatches.map((warning) => warning.split(":")[0])).toEqual([
      "line 22",
      "line 22",
      "line 110",
      "line 110",
      "line 115",
      "line 115",
      "line 115",
      "line 116",
    ]);
    // The first account is right: 49,13053325440,2 is its 060 amount, and it has no 16 records.
    expect(parsed.statements[0]?.declared?.totalMinor).toBe(13_053_325_440);
    expect(parsed.statements[0]?.reported?.find((item) => item.code === "060")?.amountMinor).toBe(13_053_325_440);
  });

  it("reads the ACH return with reason R02 (type 557) as a returned debit", () => {
    const returned = parsed.entries.find((entry) => entry.entry_id.endsWith(":SB2322600000214"));
    expect(returned).toMatchObject({
      direction: "debit",
      amount_minor: 200_000,
      status: "returned",
      return_reason: "R02",
      end_to_end_id: "021000080000030", // 88,EREF: 021000080000030
      counterparty_name: "Test", // 88,CRNM: Test
      bank: "026015079",
    });
  });

  it("reads rejects and other returns by type code", () => {
    const returns = parsed.entries.filter((entry) => entry.status === "returned");
    expect(returns.map((entry) => [entry.metadata?.type_code, entry.direction, entry.return_reason])).toEqual([
      ["261", "credit", null], // ACH Credit Reject
      ["557", "debit", "R02"],
      ["266", "credit", null], // Outgoing Wire Return
      ["257", "credit", "R02"], // ACH Debit Payment Return
      ["255", "credit", null], // Check Return
    ]);
  });
});

describe("BAI2 NatWest and SVB", () => {
  it("NatWest: GBP from the 03, opening 010 + entries = closing 015, wrapped 88 text joined", () => {
    const parsed = bai2("natwest-gb_example.bai2");
    expectControlTotals(parsed);
    const [statement] = parsed.statements;
    const totals = totalsFromEntries(parsed.entries, statement!);
    expect(statement?.openingBalanceMinor).toBe(36_521); // 010,36521
    expect(statement?.closingBalanceMinor).toBe(33_845); // 015,33845
    expect(36_521 + totals.creditsMinor - totals.debitsMinor).toBe(33_845);
    expect(parsed.entries.every((entry) => entry.currency === "GBP" && entry.bank === "nwbkgb2l")).toBe(true);
    expect(parsed.entries[4]?.remittance_info).toContain("INTERNATIONAL-5373 CLIENT SECCY AC TFR");
    expect(parsed.warnings).toEqual([]);
  });

  it("SVB: two business days in two groups, each balancing", () => {
    const parsed = bai2("svb-us_example.bai2");
    expectControlTotals(parsed);
    for (const statement of parsed.statements) {
      const totals = totalsFromEntries(parsed.entries, statement);
      expect((statement.openingBalanceMinor ?? 0) + totals.creditsMinor - totals.debitsMinor).toBe(
        statement.closingBalanceMinor,
      );
    }
    expect(parsed.entries.map((entry) => [entry.booking_date, entry.amount_minor])).toEqual([
      ["2022-02-01", 490_196], // 16,142,490196
      ["2022-02-02", 905_800], // 16,142,905800
    ]);
    expect(parsed.warnings).toEqual([]);
  });
});

describe("BAI2 errors", () => {
  const text = fixture("bai2", "moov_sample1_cad_returned-cheques.bai2");

  it("names the 49 line whose control total is wrong (an imbalance of that account's statement)", () => {
    const bad = text.replace("49,+00000000000834000,14/", "49,+00000000000834001,14/");
    const parsed = parseStatementFile("bai2", bad);
    const message = "line 16: account 10200123456 control total 834001 (49) is not the sum of its amounts, 834000";
    expect(parsed.statements[0]?.imbalances).toContain(message);
    expect(parsed.imbalances).toContain(message);
  });

  it("names the 98 line whose record count is wrong (an imbalance of the file)", () => {
    const bad = text.replace("98,+00000000001280000,2,25/", "98,+00000000001280000,2,24/");
    const parsed = parseStatementFile("bai2", bad);
    expect(parsed.imbalances).toEqual(["line 26: group declares 24 records (98), the file has 25"]);
    expect(parsed.entries).toHaveLength(parseStatementFile("bai2", text).entries.length);
  });

  it("rejects a file without its 99 trailer", () => {
    expect(() => parseStatementFile("bai2", text.slice(0, text.indexOf("99,")))).toThrowError(/without its 99 trailer/);
  });

  it("names a bad amount and an unknown record", () => {
    expect(() =>
      parseStatementFile("bai2", text.replace("16,409,000000000090000", "16,409,0000000000900x0")),
    ).toThrowError(/^line 6: "0000000000900x0" is not a BAI2 amount/);
    expect(() =>
      parseStatementFile("bai2", text.replace("49,+00000000000446000", "47,+00000000000446000")),
    ).toThrowError(/^line 25: /);
  });
});
