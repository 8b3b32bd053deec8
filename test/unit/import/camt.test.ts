import { describe, expect, it } from "vitest";
import { type ParsedStatementFile, parseStatementFile, StatementParseError } from "../../../src/import/index.js";
import type { BankEntry } from "../../../src/messages/schemas.js";
import { byRef, fixture, totalsFromEntries } from "./helpers.js";

const camt053 = (name: string) => parseStatementFile("camt053", fixture("camt053", name));
const camt054 = (name: string) => parseStatementFile("camt054", fixture("camt054", name));

/** Opening + credits − debits from the entries must be the closing balance, and match TxsSummry. */
function expectBalanced(parsed: ParsedStatementFile) {
  for (const statement of parsed.statements) {
    const totals = totalsFromEntries(parsed.entries, statement);
    expect(statement.openingBalanceMinor).toBeDefined();
    expect((statement.openingBalanceMinor ?? 0) + totals.creditsMinor - totals.debitsMinor).toBe(
      statement.closingBalanceMinor,
    );
    const declared = statement.declared;
    if (declared?.creditsMinor !== undefined) expect(totals.creditsMinor).toBe(declared.creditsMinor);
    if (declared?.debitsMinor !== undefined) expect(totals.debitsMinor).toBe(declared.debitsMinor);
    if (declared?.creditCount !== undefined) expect(totals.creditCount).toBe(declared.creditCount);
    if (declared?.debitCount !== undefined) expect(totals.debitCount).toBe(declared.debitCount);
  }
  expect(parsed.warnings).toEqual([]);
}

const sum = (entries: BankEntry[]) => entries.reduce((total, entry) => total + entry.amount_minor, 0);

describe("camt.053 Finance Finland (FFFS sample, .001.02)", () => {
  const parsed = camt053("finance-finland_camt.053.001.02_sample.xml");

  it("balances against its own balances and TxsSummry", () => {
    expectBalanced(parsed);
    const [statement] = parsed.statements;
    expect(statement?.openingBalanceMinor).toBe(1_000_000); // Bal OPBD 10000.00
    expect(statement?.closingBalanceMinor).toBe(2_364_483); // Bal CLBD 23644.83
    expect(statement?.declared).toMatchObject({ creditsMinor: 2_307_500, creditCount: 6 }); // TtlCdtNtries 23075.00 / 6
    expect(statement?.declared).toMatchObject({ debitsMinor: 943_017, debitCount: 4 }); // TtlDbtNtries 9430.17 / 4
    expect(parsed.entries).toHaveLength(13);
    expect(parsed.entries.every((entry) => entry.bank === "essefihx")).toBe(true); // Svcr BIC ESSEFIHX
  });

  it("splits a batch whose TxDtls add up, keeping each payment's details", () => {
    const parts = parsed.entries.filter((entry) => entry.entry_id.includes("091029ACCTSTMTARCH03:"));
    expect(parts.map((entry) => entry.entry_id.split(":").pop())).toEqual(["1", "2", "3"]);
    expect(parts.map((entry) => entry.amount_minor)).toEqual([200_002, 100_001, 123_002]);
    expect(sum(parts)).toBe(423_005); // Ntry/Amt 4230.05
    expect(parts.map((entry) => entry.remittance_info)).toEqual(["3900", "Invoices 123 and 321", "217827182718"]);
    expect(parts.every((entry) => entry.counterparty_name === "Creditor Company")).toBe(true);
  });

  it("keeps a batch without amounts per transaction as one entry findable by its batch ids", () => {
    const salaries = byRef(parsed.entries, "091029ACCTSTMTARCH01");
    expect(salaries.amount_minor).toBe(100_012);
    expect(salaries.remittance_info).toContain("CustRefForSalaBatch");
    expect(salaries.remittance_info).toContain("MSGSALA0001");
    expect(salaries.metadata?.batch).toEqual({
      msg_id: "MSGSALA0001",
      pmt_inf_id: "CustRefForSalaBatch",
      nb_of_txs: 4,
    });
  });

  it("books the booked amount and keeps charges and the instructed amount as metadata", () => {
    const usd = byRef(parsed.entries, "091029ACCTSTMTARCH06");
    expect(usd).toMatchObject({ amount_minor: 212_000, currency: "EUR", value_date: "2009-10-30" });
    expect(usd.metadata).toMatchObject({ original_amount: "USD 3200.00", charges_minor: 2000, charges: "EUR 20.00" });
    const prct = byRef(parsed.entries, "091029ACCTSTMTARCH07");
    expect(prct.metadata).toMatchObject({ original_amount: "EUR 5500.00", charges_minor: 4500 });
    expect(byRef(parsed.entries, "091029ACCTSTMTARCH08")).toMatchObject({
      end_to_end_id: "EndToEndIdSCT01",
      remittance_info: "RF98123456789012",
      counterparty_name: "DEBTOR",
    });
  });
});

describe("camt.053 ING NL (.001.02, batch booking without details)", () => {
  const parsed = camt053("ing-nl_camt.053.001.02_batch-booking.xml");

  it("keeps the batch as one entry with PmtInfId and MsgId in remittance_info", () => {
    expect(parsed.entries).toHaveLength(3);
    const batch = byRef(parsed.entries, "68047a4871ab34285b5555555502010c");
    expect(batch).toMatchObject({ direction: "debit", amount_minor: 475_374, status: "booked", bank: "ingbnl2a" });
    expect(batch.remittance_info?.split(" ")).toEqual(
      expect.arrayContaining(["O0OpeAYTkhjerKu3eE9asw", "02453b1e17c11241073a777ad9c273b4149"]),
    );
  });

  it("reports that this excerpt does not add up to its own totals", () => {
    const [statement] = parsed.statements;
    // The sample keeps 3 of the 35 entries TxsSummry counts.
    expect(statement?.declared).toMatchObject({ entryCount: 35, creditsMinor: 2_842_240, debitsMinor: 1_271_400 });
    expect(statement?.openingBalanceMinor).toBe(732_980); // OPBD 7329.80
    expect(statement?.closingBalanceMinor).toBe(2_303_820); // CLBD 23038.20
    const totals = totalsFromEntries(parsed.entries, statement!);
    expect(totals).toMatchObject({ creditsMinor: 768_800, debitsMinor: 475_374 });
    expect(parsed.warnings.join("\n")).toContain("difference EUR 12774.14");
    expect(parsed.warnings.join("\n")).toContain("declares entry count 35, the entries give 3");
  });
});

describe("camt.053 PostFinance (.001.04, returns, batches, charges)", () => {
  const parsed = camt053("postfinance-ch_camt.053.001.04_returns-batches-charges.xml");

  it("balances (OPBD + entries = CLBD)", () => {
    expectBalanced(parsed);
    expect(parsed.statements[0]?.openingBalanceMinor).toBe(32_215_216); // OPBD 322152.16
    expect(parsed.statements[0]?.closingBalanceMinor).toBe(32_268_977); // CLBD 322689.77
    expect(parsed.entries).toHaveLength(32);
  });

  it("splits the ESR batch of 10 and the returns batch of 3", () => {
    const esr = parsed.entries.filter((entry) => entry.entry_id.includes("20160530007602769939022000000012:"));
    expect(esr).toHaveLength(10);
    expect(sum(esr)).toBe(100_000); // Ntry/Amt 1000.00
    expect(esr[0]?.metadata).toMatchObject({ charges_minor: 124, batch_charges_minor: 520 }); // TtlChrgsAndTaxAmt 1.24 / 5.20
    const returns = parsed.entries.filter((entry) => entry.entry_id.includes("20160323007602726186629000000012:"));
    expect(returns.map((entry) => entry.amount_minor)).toEqual([2000, 4000, 5000]);
    for (const entry of returns) {
      expect(entry).toMatchObject({ status: "returned", direction: "credit", return_reason: "NARR" });
      expect(entry.metadata?.return_info).toBe("RETOUR VAL 23.03.2016 BEGUENSTIGTER UNBEKANNT");
    }
  });

  it("marks direct debits taken back (MD06) as returned debits with the original EndToEndId", () => {
    const refunds = parsed.entries.filter((entry) => entry.return_reason === "MD06");
    expect(refunds.map((entry) => [entry.direction, entry.amount_minor, entry.end_to_end_id])).toEqual([
      ["debit", 600, "EndToEnd-2B6C-CHDDBB5"],
      ["debit", 1553, "E2E-1-1-16030913"],
    ]);
    expect(refunds.every((entry) => entry.status === "returned" && entry.metadata?.charges_minor === 70)).toBe(true);
  });
});

describe("camt.053 UBS (.001.08, SPS 2.0)", () => {
  const parsed = camt053("ubs-ch_camt.053.001.08_sps2.0.xml");

  it("reads .001.08 status and party layout", () => {
    expect(parsed.entries.map((entry) => [entry.status, entry.counterparty_name])).toEqual([
      ["booked", "Jon Doe"],
      ["booked", "Finanz AG"],
      ["booked", "DHL Express (Schweiz) AG"],
    ]);
    expect(parsed.entries[1]?.remittance_info?.split(" ")).toContain("RF38000000000000000000552"); // SCOR reference
  });

  it("keeps the EUR entry in EUR with the CHF instructed amount and rate beside it", () => {
    const eur = byRef(parsed.entries, "0124571DN6195349");
    expect(eur).toMatchObject({ currency: "EUR", amount_minor: 2097, end_to_end_id: "1208481" });
    expect(eur.metadata).toMatchObject({ original_amount: "CHF 19.69", exchange_rate: { rate: "0.9433" } });
    // CONTRACT §8 "FX": the instructed amount and the rate (CHF per EUR, as the amounts agree) as BankEntry fields.
    expect(eur).toMatchObject({ instructed_amount_minor: 1969, instructed_currency: "CHF", fx_rate: 0.9433 });
    expect(eur.metadata).not.toHaveProperty("__bank_entry_fx");
    expect(parsed.warnings).toContain(
      "Document/BkToCstmrStmt/Stmt/Ntry[3]: entry in EUR on a CHF account, left out of its totals",
    );
    // The sample's CHF entries do not explain its balances: OPBD 82721.95 + 563.25 ≠ CLBD 84515.25.
    expect(parsed.warnings.join("\n")).toContain("difference CHF 1230.05");
  });
});

describe("camt.053 VR-Bank (.001.02, German DK)", () => {
  const parsed = camt053("vr-bank-de_camt.053.001.02_dk.xml");

  it("balances (PRCD 33.06 − 10.00 = CLBD 23.06) and splits the 6.00 batch", () => {
    expectBalanced(parsed);
    expect(parsed.statements[0]).toMatchObject({ openingBalanceMinor: 3306, closingBalanceMinor: 2306 });
    const batch = parsed.entries.filter((entry) => entry.entry_id.includes("2013122711513230000:"));
    expect(batch.map((entry) => [entry.amount_minor, entry.end_to_end_id])).toEqual([
      [350, "STZV-EtE27122013-11:02-1"],
      [250, "STZV-EtE27122013-11:02-2"],
    ]);
  });

  it("reads EndToEndId NOTPROVIDED as none", () => {
    expect(byRef(parsed.entries, "2013122710583600000").end_to_end_id).toBeNull();
    expect(parsed.entries[0]?.bank).toBe("genodef1pfk"); // Svcr BIC GENODEF1PFK
  });
});

describe("camt.054 Finance Finland (.001.02 notification)", () => {
  const parsed = camt054("finance-finland_camt.054.001.02_sample.xml");

  it("splits every batch whose details add up and skips the INFO entry", () => {
    expect(parsed.entries).toHaveLength(11);
    const [statement] = parsed.statements;
    // TtlNtries/Sum 10830.05 counts the INFO entry (Ntry[6]/Amt 100.00) that moved no money.
    expect(statement?.declared?.totalMinor).toBe(1_083_005);
    expect(sum(parsed.entries) + 10_000).toBe(1_083_005);
    expect(parsed.warnings[0]).toMatch(/Ntry\[6\].*AC01, CUST has status INFO, not imported/);
  });

  it("keeps the USD and JPY instructed amounts of the EUR payments", () => {
    const foreign = parsed.entries.filter((entry) => entry.entry_id.includes("091029NTFCTNXBCT010101:"));
    expect(foreign.map((entry) => [entry.amount_minor, entry.currency, entry.metadata?.original_amount])).toEqual([
      [50_000, "EUR", "USD 750.00"],
      [50_000, "EUR", "JPY 79255"],
    ]);
    expect(foreign.map((entry) => entry.end_to_end_id)).toEqual(["ISSRBKREF12345678", "ISSRBKREF12345679"]);
    // CONTRACT §8 "FX": quoted as EUR per USD (and per JPY) under UnitCcy EUR; turned the way the amounts agree.
    expect(foreign.map((entry) => [entry.instructed_amount_minor, entry.instructed_currency, entry.fx_rate])).toEqual([
      [75_000, "USD", 1.49999925],
      [79_255, "JPY", 158.5100059],
    ]);
    expect(foreign.every((entry) => entry.metadata?.charges_minor === 2000)).toBe(true);
  });
});

describe("camt.054 PostFinance", () => {
  it("reads a returned payout with AC01 (RvslInd, RRTN) as a returned credit", () => {
    const parsed = camt054("postfinance-ch_camt.054.001.04_return-AC01.xml");
    expect(parsed.entries).toEqual([
      expect.objectContaining({
        direction: "credit",
        amount_minor: 50_000,
        currency: "CHF",
        status: "returned",
        return_reason: "AC01",
        end_to_end_id: "EndToEndId-001-03-04",
        booking_date: "2020-11-24",
        bank: "ch-09000", // no BIC: country and bank code of the IBAN
      }),
    ]);
    expect(parsed.entries[0]?.metadata).toMatchObject({ reversal: true, return_info: "Kontonummer falsch" });
  });

  it("splits the ESR collective credit and keeps the withdrawal's charges", () => {
    const parsed = camt054("postfinance-ch_camt.054.001.04_esr-batch-charges.xml");
    const esr = parsed.entries.filter((entry) => entry.entry_id.includes("07582000303KBMSU:"));
    expect(esr.map((entry) => entry.amount_minor)).toEqual([25_000, 20_000, 30_000, 32_400, 46_300]);
    expect(sum(esr)).toBe(153_700); // Ntry/Amt 1537.00
    expect(esr[0]?.end_to_end_id).toBe("EndToEndId-001-02-02");
    const withdrawal = byRef(parsed.entries, "100820002V496ZRA");
    expect(withdrawal).toMatchObject({ direction: "debit", amount_minor: 14_700 });
    expect(withdrawal.metadata).toMatchObject({ charges_minor: 440 }); // TtlChrgsAndTaxAmt 4.40
  });

  it("gives a booking the same id in the notification and in the statement", () => {
    const notification = camt054("postfinance-ch_camt.054.001.04_chdd-returns-MD06.xml");
    const statement = camt053("postfinance-ch_camt.053.001.04_returns-batches-charges.xml");
    const statementIds = new Set(statement.entries.map((entry) => entry.entry_id));
    expect(notification.entries).toHaveLength(5);
    for (const entry of notification.entries) expect(statementIds.has(entry.entry_id)).toBe(true);
    expect(notification.entries.filter((entry) => entry.return_reason === "MD06")).toHaveLength(2);
  });
});

describe("camt.054 genkgo (.001.08 synthetic, amounts do not add up on purpose)", () => {
  it("keeps the SEK entry whole and says why", () => {
    const parsed = camt054("genkgo_camt.054.001.08_batch.xml");
    expect(parsed.entries).toHaveLength(1);
    expect(parsed.entries[0]).toMatchObject({ amount_minor: 20_000_000, currency: "SEK", direction: "debit" });
    expect(parsed.entries[0]?.remittance_info).toContain("UXC06170000006PI00001");
    expect(parsed.warnings).toEqual([
      "Document/BkToCstmrDbtCdtNtfctn/Ntfctn/Ntry: batch not split: transaction details in CHF, the entry in SEK; imported as one entry",
      "Document/BkToCstmrDbtCdtNtfctn/Ntfctn/Ntry: Btch/TtlAmt CHF 6.30 differs from the entry amount SEK 200000.00",
    ]);
  });
});

describe("camt errors", () => {
  const text = fixture("camt053", "finance-finland_camt.053.001.02_sample.xml");

  it("rejects a truncated file, naming the open elements", () => {
    const cut = text.indexOf("<Amt", text.indexOf("091029ACCTSTMTARCH03"));
    expect(() => parseStatementFile("camt053", text.slice(0, cut))).toThrowError(StatementParseError);
    expect(() => parseStatementFile("camt053", text.slice(0, cut))).toThrowError(/Stmt\/Ntry\/NtryDtls/);
  });

  it("names the element of a bad amount", () => {
    const bad = text.replace('<Amt Ccy="EUR">4000.00</Amt>', '<Amt Ccy="EUR">4,000.00</Amt>');
    expect(() => parseStatementFile("camt053", bad)).toThrowError("Document/BkToCstmrStmt/Stmt/Ntry[2]/Amt");
  });

  it("names the entry that does not fit the contract", () => {
    const bad = text.replace("<IBAN>FI7433010001222090</IBAN>", `<IBAN>${"X".repeat(70)}</IBAN>`);
    expect(() => parseStatementFile("camt053", bad)).toThrowError(
      /Ntry\[1\].*does not fit the BankEntry contract: account/,
    );
  });

  it("rejects XML that is not a statement or notification", () => {
    expect(() => parseStatementFile("camt053", "<Document><Other/></Document>")).toThrowError(StatementParseError);
    expect(() => parseStatementFile("camt053", "not xml at all")).toThrowError(StatementParseError);
    const withDtd = text.replace("<Document", '<!DOCTYPE Document [<!ENTITY a "a">]><Document');
    expect(() => parseStatementFile("camt053", withDtd)).toThrowError(/DOCTYPE/);
  });
});
