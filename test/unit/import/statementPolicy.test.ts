import { describe, expect, it } from "vitest";
import { parseStatementFile } from "../../../src/import/index.js";
import { statementSummaries } from "../../../src/import/publish.js";

/** Statements written for these tests whose own totals do not add up, one per format. */
const CAMT053_BAD_SUMMARY = `<?xml version="1.0" encoding="UTF-8"?>
<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.053.001.02"><BkToCstmrStmt>
  <GrpHdr><MsgId>M1</MsgId><CreDtTm>2026-11-04T06:00:00</CreDtTm></GrpHdr>
  <Stmt><Id>S1</Id><FrToDt><FrDtTm>2026-11-03T00:00:00</FrDtTm><ToDtTm>2026-11-03T23:59:59</ToDtTm></FrToDt>
    <Acct><Id><IBAN>DE89370400440532013000</IBAN></Id><Ccy>EUR</Ccy></Acct>
    <TxsSummry><TtlNtries><NbOfNtries>2</NbOfNtries></TtlNtries></TxsSummry>
    <Ntry><Amt Ccy="EUR">10.00</Amt><CdtDbtInd>CRDT</CdtDbtInd><Sts>BOOK</Sts><BookgDt><Dt>2026-11-03</Dt></BookgDt><AcctSvcrRef>R1</AcctSvcrRef></Ntry>
  </Stmt></BkToCstmrStmt></Document>`;

const BAI2_BAD_CONTROL =
  "01,SENDER,RECEIVER,261102,0800,1,,,2/\n02,RECEIVER,BOFAUS3N,1,261101,,USD,2/\n" +
  "03,0001234567,USD,010,100000,,/\n16,195,50000,,REF1,CUST1,WIRE IN/\n49,150001,3/\n98,150001,1,5/\n99,150001,1,7/\n";

const MT940_BAD_CLOSING = [
  ":20:S1",
  ":25:NL91ABNA0417164300",
  ":28C:1/1",
  ":60F:C261102EUR100,00",
  ":61:261103C10,00NTRFNONREF//B1",
  ":62F:C261103EUR111,00",
  "-",
].join("\n");

const CAMT054_INFO_ONLY = `<?xml version="1.0" encoding="UTF-8"?>
<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.054.001.02"><BkToCstmrDbtCdtNtfctn>
  <GrpHdr><MsgId>N1</MsgId><CreDtTm>2026-11-04T06:00:00</CreDtTm></GrpHdr>
  <Ntfctn><Id>N1</Id><Acct><Id><IBAN>DE89370400440532013000</IBAN></Id><Ccy>EUR</Ccy></Acct>
    <Ntry><Amt Ccy="EUR">10.00</Amt><CdtDbtInd>CRDT</CdtDbtInd><Sts>INFO</Sts><BookgDt><Dt>2026-11-03</Dt></BookgDt></Ntry>
  </Ntfctn></BkToCstmrDbtCdtNtfctn></Document>`;

describe("one policy for statement totals", () => {
  it.each([
    ["camt053", CAMT053_BAD_SUMMARY, /declares entry count 2, the entries give 1/],
    [
      "camt054",
      CAMT053_BAD_SUMMARY.replaceAll("BkToCstmrStmt", "BkToCstmrDbtCdtNtfctn").replaceAll("Stmt>", "Ntfctn>"),
      /declares entry count 2/,
    ],
    [
      "bai2",
      BAI2_BAD_CONTROL,
      /line 5: account 0001234567 control total 150001 \(49\) is not the sum of its amounts, 150000/,
    ],
    ["mt940", MT940_BAD_CLOSING, /but the closing balance is EUR 111\.00 \(difference EUR 1\.00\)/],
  ] as const)(
    "%s: a statement that does not add up is read whole and reported as an imbalance",
    (format, text, problem) => {
      const parsed = parseStatementFile(format, text);
      expect(parsed.entries).toHaveLength(1);
      expect(parsed.imbalances).toEqual(expect.arrayContaining([expect.stringMatching(problem)]));
      expect(parsed.statements[0]?.imbalances?.length).toBeGreaterThan(0);
    },
  );

  it("mt940: a page whose :60M: does not carry on the previous page's :62M: is an imbalance too", () => {
    const pages = [
      ":20:S1",
      ":25:NL91ABNA0417164300",
      ":28C:1/1",
      ":60F:C261102EUR100,00",
      ":61:261103C10,00NTRFNONREF//B1",
      ":62M:C261103EUR110,00",
      "-",
      ":20:S1",
      ":25:NL91ABNA0417164300",
      ":28C:1/2",
      ":60M:C261103EUR120,00",
      ":61:261103C5,00NTRFNONREF//B2",
      ":62F:C261103EUR115,00",
      "-",
    ].join("\n");
    const parsed = parseStatementFile("mt940", pages);
    expect(parsed.entries).toHaveLength(2);
    expect(parsed.imbalances).toContainEqual(
      expect.stringMatching(
        /line 11: intermediate opening EUR 120\.00 does not carry on the previous page's EUR 110\.00/,
      ),
    );
  });

  it("a camt.054 with only INFO entries parses to no entries, the INFO entry named", () => {
    const parsed = parseStatementFile("camt054", CAMT054_INFO_ONLY);
    expect(parsed.entries).toEqual([]);
    expect(parsed.warnings).toEqual([expect.stringMatching(/has status INFO, not imported/)]);
  });
});

describe("statement summaries (CONTRACT §8)", () => {
  it("one per statement: period, booked opening and closing, its entry ids; a stable id naming the account", () => {
    const parsed = parseStatementFile("mt940", MT940_BAD_CLOSING.replace("EUR111,00", "EUR110,00"), {
      bank: "ABN AMRO",
    });
    expect(statementSummaries(parsed, "unknown")).toEqual([
      {
        type: "statement",
        statement_id: "NL91ABNA0417164300:2026-11-02..2026-11-03:S1/1/1",
        bank: "abn_amro",
        account: "NL91ABNA0417164300",
        currency: "EUR",
        from_date: "2026-11-02",
        to_date: "2026-11-03",
        opening_booked_minor: 10_000,
        closing_booked_minor: 11_000,
        entry_ids: [parsed.entries[0]?.entry_id],
      },
    ]);
  });

  it("a statement without both booked balances gets no summary (nothing to check); its lines are published all the same", () => {
    const parsed = parseStatementFile("bai2", BAI2_BAD_CONTROL);
    expect(parsed.statements[0]?.openingBalanceMinor).toBe(100_000);
    expect(parsed.statements[0]?.closingBalanceMinor).toBeUndefined();
    expect(parsed.entries.length).toBeGreaterThan(0);
    expect(statementSummaries(parsed, "unknown")).toEqual([]);
  });
});
