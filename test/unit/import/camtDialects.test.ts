import { describe, expect, it } from "vitest";
import { parseStatementFile } from "../../../src/import/index.js";

/** A camt.053.001.08 statement written for these tests; `entries` and `balances` are its Ntry and Bal elements. */
function camt053(entries: string, balances = BALANCES_EUR): string {
  return `<?xml version="1.0" encoding="UTF-8"?>
<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.053.001.08">
  <BkToCstmrStmt>
    <GrpHdr><MsgId>MSG-1</MsgId><CreDtTm>2026-11-04T06:00:00</CreDtTm></GrpHdr>
    <Stmt>
      <Id>STMT-2026-11-03</Id>
      <CreDtTm>2026-11-04T05:00:00</CreDtTm>
      <FrToDt><FrDtTm>2026-11-03T00:00:00</FrDtTm><ToDtTm>2026-11-03T23:59:59</ToDtTm></FrToDt>
      <Acct><Id><IBAN>DE89370400440532013000</IBAN></Id><Ccy>EUR</Ccy></Acct>
      ${balances}
      ${entries}
    </Stmt>
  </BkToCstmrStmt>
</Document>`;
}

const balance = (code: string, amount: string, ccy = "EUR") =>
  `<Bal><Tp><CdOrPrtry><Cd>${code}</Cd></CdOrPrtry></Tp><Amt Ccy="${ccy}">${amount}</Amt><CdtDbtInd>CRDT</CdtDbtInd><Dt><Dt>2026-11-03</Dt></Dt></Bal>`;
const BALANCES_EUR = balance("OPBD", "100.00") + balance("CLBD", "150.00");

function ntry(amount: string, extra: string): string {
  return `<Ntry><Amt Ccy="EUR">${amount}</Amt><CdtDbtInd>CRDT</CdtDbtInd>${extra}<AcctSvcrRef>REF-${amount}</AcctSvcrRef></Ntry>`;
}

describe("camt.053.001.08 entries as banks write them", () => {
  it("an entry with neither BookgDt nor ValDt takes the statement's date (FrToDt/ToDtTm) instead of failing the file", () => {
    const parsed = parseStatementFile("camt053", camt053(ntry("50.00", "<Sts><Cd>BOOK</Cd></Sts>")));
    expect(parsed.entries).toHaveLength(1);
    expect(parsed.entries[0]).toMatchObject({
      booking_date: "2026-11-03",
      value_date: "2026-11-03",
      status: "booked",
      amount_minor: 5000,
      metadata: { booking_date_source: "statement" },
    });
    expect(parsed.warnings).toEqual([
      expect.stringMatching(/1 entries without BookgDt or ValDt dated 2026-11-03 from the statement/),
    ]);
  });

  it("an entry without Sts does not silently become booked: it is left out, named, and the statement is off", () => {
    const entries =
      ntry("30.00", "<Sts><Cd>BOOK</Cd></Sts><BookgDt><Dt>2026-11-03</Dt></BookgDt>") +
      ntry("20.00", "<BookgDt><Dt>2026-11-03</Dt></BookgDt>");
    const parsed = parseStatementFile("camt053", camt053(entries));
    expect(parsed.entries.map((entry) => entry.amount_minor)).toEqual([3000]);
    expect(parsed.warnings).toEqual([
      expect.stringMatching(/Ntry\[2\]: credit EUR 20\.00 \(REF-20\.00\) has no Sts .* not imported/),
      expect.stringMatching(/closing balance is EUR 150\.00 \(difference EUR 20\.00\)/),
    ]);
  });

  it("a balance in SEK on an EUR account is not reported as EUR: left out of the balance checks, with a warning", () => {
    const balances = balance("OPBD", "100.00") + balance("CLBD", "1500.00", "SEK");
    const parsed = parseStatementFile(
      "camt053",
      camt053(ntry("50.00", "<Sts><Cd>BOOK</Cd></Sts><BookgDt><Dt>2026-11-03</Dt></BookgDt>"), balances),
    );
    expect(parsed.statements[0]).toMatchObject({ currency: "EUR", openingBalanceMinor: 10_000 });
    expect(parsed.statements[0]?.closingBalanceMinor).toBeUndefined();
    expect(parsed.warnings).toEqual([
      expect.stringMatching(
        /CLBD balance SEK 1500\.00 is not in the account's currency EUR; left out of the balance checks/,
      ),
    ]);
  });
});
