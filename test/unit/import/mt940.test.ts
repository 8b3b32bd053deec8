import { describe, expect, it } from "vitest";
import { type ParsedStatementFile, parseStatementFile, StatementParseError } from "../../../src/import/index.js";
import { byRef, fixture, totalsFromEntries } from "./helpers.js";

const mt940 = (name: string) => parseStatementFile("mt940", fixture("mt940", name));

/** :60F: + the :61: lines = :62F:, per statement, from the entries alone. */
function closingFromEntries(parsed: ParsedStatementFile): { computed: number; closing: number | undefined }[] {
  return parsed.statements.map((statement) => {
    const totals = totalsFromEntries(parsed.entries, statement);
    return {
      computed: (statement.openingBalanceMinor ?? 0) + totals.creditsMinor - totals.debitsMinor,
      closing: statement.closingBalanceMinor,
    };
  });
}

function expectBalanced(parsed: ParsedStatementFile) {
  for (const { computed, closing } of closingFromEntries(parsed)) expect(computed).toBe(closing);
  expect(parsed.warnings.filter((warning) => warning.includes("closing balance"))).toEqual([]);
}

describe("MT940 files that balance", () => {
  it("Dresdner: 26 messages, 20 statements (6 continued over :62M:/:60M: pages), all balanced", () => {
    const parsed = mt940("dresdner-de_sepa_returns-reversals-batches.sta");
    expectBalanced(parsed);
    expect(parsed.statements).toHaveLength(20);
    expect(parsed.entries).toHaveLength(97);
    expect(parsed.warnings).toEqual([]);
    // 0194781300888: :60F:D070903EUR40432,2 … :62M:D070904EUR30503,83 / :60M: … :62F:D070904EUR100854,45
    const paged = parsed.statements.find((statement) => statement.account === "50880050/0194781300888");
    expect(paged).toMatchObject({ openingBalanceMinor: -4_043_220, closingBalanceMinor: -10_085_445 });
    expect(paged && paged.creditCount + paged.debitCount).toBe(8);
    expect(parsed.entries[0]?.bank).toBe("50880050"); // :25: BLZ/account
  });

  it("Rabobank: two statements, zero-padded amounts, structured :86:", () => {
    const parsed = mt940("rabobank-nl_structured86.txt");
    expectBalanced(parsed);
    expect(parsed.statements.map((s) => [s.openingBalanceMinor, s.closingBalanceMinor])).toEqual([
      [100_000, 96_500], // :60F:C130101EUR000000001000,00 → :62F:C130108EUR000000000965,00
      [96_500, 93_000], // → :62F:C130115EUR000000000930,00
    ]);
    const first = parsed.entries[0];
    expect(first).toMatchObject({
      amount_minor: 2500,
      direction: "debit",
      end_to_end_id: "01-01-2013 12:00 0030000987654321",
      counterparty_name: "CONTRA ACCOUNT HOLDER", // /BENM//NAME/ wrapped mid-word over two lines
      bank: "nl-rabo",
    });
    expect(parsed.entries[1]?.remittance_info).toContain("/REMI/Reference 201301234/");
  });

  it("Citi: skips the zero-amount BAI info lines with a warning", () => {
    const parsed = mt940("citi-us.txt");
    expectBalanced(parsed); // 17376,67 − 212,39 − 369,28 − 561,08 = 16233,92
    expect(parsed.entries.map((entry) => entry.amount_minor)).toEqual([21_239, 36_928, 56_108]);
    expect(parsed.warnings.filter((warning) => warning.includes("zero-amount line skipped"))).toEqual([
      "line 13: zero-amount line skipped (/ABC/DEF/C 37897,00 BAI CD 025)",
      "line 15: zero-amount line skipped (/ABC/DEF/C 17376,67 BAI CD 010)",
    ]);
  });

  it("mBank: bank references and continuation lines", () => {
    const parsed = mt940("mbank-pl.sta");
    expectBalanced(parsed); // 0,40 + 3 × 0,01 = 0,43
    expect(byRef(parsed.entries, "MB170119012058").metadata).toMatchObject({
      supplementary_details: "911-TRANSAKCJA IPH",
    });
  });
});

describe("MT940 samples that were anonymised and no longer add up", () => {
  // Differences read by eye from the files: they are the samples', not the parser's.
  it.each([
    ["abnamro-nl.txt", [-203_800, -100_260], ["EUR -2038.00", "EUR -1002.60"]],
    ["deutschebank-de_sdd-return-ocmt-chgs.txt", [1235], ["EUR 12.35"]],
    ["hsbc-hk_ocmt-usd.txt", [2_000_000], ["HKD 20000.00"]],
    ["ing-nl.sta", [4906], ["EUR 49.06"]],
    ["postfinance-ch_multipage.txt", [20], ["CHF 0.20"]],
  ])("%s is reported, not hidden", (name, differencesMinor, differencesText) => {
    const parsed = mt940(name);
    const gaps = closingFromEntries(parsed).map(({ computed, closing }) => (closing ?? 0) - computed);
    expect(gaps).toEqual(differencesMinor);
    const reported = parsed.warnings.filter((warning) => warning.includes("closing balance"));
    expect(reported.map((warning) => /difference (.*)\)$/.exec(warning)?.[1])).toEqual(differencesText);
  });

  it("ABN AMRO: header bank, two messages, amounts without decimals", () => {
    const parsed = mt940("abnamro-nl.txt");
    expect(parsed.statements.map((s) => s.statementId)).toEqual([
      "ABN AMRO BANK NV/19321/1",
      "ABN AMRO BANK NV/19322/1",
    ]);
    expect(parsed.entries[0]).toMatchObject({ amount_minor: 900, bank: "abnanl2a", booking_date: "2011-05-24" }); // D9,
    expect(parsed.entries[1]).toMatchObject({ value_date: "2011-05-21", booking_date: "2011-05-23" }); // 1105210523
  });

  it("ING: legacy header, and the closing :86: counts kept as declared totals", () => {
    const parsed = mt940("ing-nl.sta");
    expect(parsed.entries[0]?.bank).toBe("ingbnl2a"); // 0000 01INGBNL2AXXXX00001
    // :86:D000004C000002D25,24C28,71
    expect(parsed.statements[0]?.declared).toEqual({
      debitCount: 4,
      creditCount: 2,
      debitsMinor: 2524,
      creditsMinor: 2871,
    });
    expect(parsed.warnings).toContain(
      "statement MPBZ/000 (0001234567, lines 4–26): the file declares debit count 4, the entries give 5",
    );
  });

  it("PostFinance: one statement over pages 999/1 and 999/2, wrapped :86: joined", () => {
    const parsed = mt940("postfinance-ch_multipage.txt");
    expect(parsed.statements).toHaveLength(1);
    expect(parsed.statements[0]).toMatchObject({ openingBalanceMinor: 0, closingBalanceMinor: 15_960 }); // :60F:…0, → :62F:…159,6
    expect(parsed.entries.map((entry) => entry.amount_minor)).toEqual([7970, 14_950, 7990, 1010]);
    expect(parsed.entries[2]?.remittance_info).toContain("XXXXXXXXSTRASSE 111");
    expect(parsed.entries[2]?.remittance_info).toContain("1 SONNENGLAESER");
    expect(parsed.entries[0]?.bank).toBe("pofichbe"); // {1:F01POFICHBEAXXX…}
  });
});

describe("MT940 returns, reversals, charges", () => {
  const dresdner = mt940("dresdner-de_sepa_returns-reversals-batches.sta");

  it("reads GVC 159 RETOURE as a returned credit with the original EndToEndId and reason", () => {
    expect(dresdner.entries.filter((entry) => entry.status === "returned")).toHaveLength(17);
    expect(byRef(dresdner.entries, "0724710345313905")).toMatchObject({
      direction: "credit",
      amount_minor: 30_000,
      status: "returned",
      end_to_end_id: "TFNR 40005 00005",
      return_reason: "MS03", // ?34914 "Grund nicht spezifiziert"
      metadata: expect.objectContaining({ gvc: "159", return_code_raw: "914" }),
    });
    expect(byRef(dresdner.entries, "R724710351061495").return_reason).toBe("AC06"); // ?34903 "Konto gesperrt"
    expect(byRef(dresdner.entries, "R724710351063405").return_reason).toBe("AC01"); // ?34901 "IBAN ungueltig"
  });

  it("reads RC (reversal of a credit) as a booked debit", () => {
    const storno = byRef(dresdner.entries, "R724710290656678");
    expect(storno).toMatchObject({ direction: "debit", status: "booked", amount_minor: 20_488 });
    expect(storno.metadata?.reversal).toBe(true);
  });

  it("keeps /OCMT/ and /CHGS/ of a SEPA direct debit return beside the booked amount", () => {
    const [entry] = mt940("deutschebank-de_sdd-return-ocmt-chgs.txt").entries;
    expect(entry).toMatchObject({
      direction: "debit",
      amount_minor: 1235, // D12,35 booked = 11,85 returned + 0,50 fee
      status: "returned",
      end_to_end_id: "A1.200080779.400143254.4961336",
      counterparty_name: "TESTEREL",
    });
    expect(entry?.metadata).toMatchObject({
      original_amount: "EUR 11.85",
      charges: "EUR 0.50",
      charges_minor: 50,
      gvc: "109",
    });
  });

  it("keeps HSBC's /OCMT/ in another currency", () => {
    const [entry] = mt940("hsbc-hk_ocmt-usd.txt").entries;
    expect(entry).toMatchObject({ currency: "HKD", amount_minor: 2_000_000, direction: "debit" });
    expect(entry?.metadata?.original_amount).toBe("USD 2853.12");
    // CONTRACT §8 "FX": the instructed amount as BankEntry fields; no /EXCH/, no rate.
    expect(entry).toMatchObject({ instructed_amount_minor: 285_312, instructed_currency: "USD" });
    expect(entry).not.toHaveProperty("fx_rate");
  });

  it("leaves out an /OCMT/ in the line's own currency (Deutsche Bank's return): no FX", () => {
    const [entry] = mt940("deutschebank-de_sdd-return-ocmt-chgs.txt").entries;
    expect(entry).not.toHaveProperty("instructed_amount_minor");
    expect(entry).not.toHaveProperty("instructed_currency");
  });
});

describe("MT940 dates and errors", () => {
  const statement = (line61: string) =>
    [
      ":20:REF",
      ":25:DE89370400440532013000",
      ":28C:1/1",
      ":60F:C241231EUR100,00",
      line61,
      ":62F:C250102EUR110,00",
      "-",
    ].join("\n");

  it("puts an entry date of 0102 after a value date of 31 December into the next year", () => {
    const [entry] = parseStatementFile("mt940", statement(":61:2412310102C10,00NTRFNONREF//B1")).entries;
    expect(entry).toMatchObject({ value_date: "2024-12-31", booking_date: "2025-01-02", bank: "de-37040044" });
    const [back] = parseStatementFile("mt940", statement(":61:2501021231C10,00NTRFNONREF//B1")).entries;
    expect(back).toMatchObject({ value_date: "2025-01-02", booking_date: "2024-12-31" });
  });

  it("reads /OCMT/ and /EXCH/ as the instructed amount and the rate, turned the way the amounts agree", () => {
    // EUR 100,00 + 922,30 = 1022,30; the payer sent USD 1000,00; the bank quotes EUR per USD (0,92230).
    const text = statement(
      ":61:2412311231C922,30NTRFNONREF//B7\n:86:/OCMT/USD1000,00//EXCH/0,92230/ INVOICE 7",
    ).replace(":62F:C250102EUR110,00", ":62F:C250102EUR1022,30");
    const [entry] = parseStatementFile("mt940", text).entries;
    expect(entry).toMatchObject({ amount_minor: 92_230, instructed_amount_minor: 100_000, instructed_currency: "USD" });
    expect(entry?.fx_rate).toBeCloseTo(1.084245907, 9);
    // The same line without them keeps an id of its own: the FX fields are what the bank said.
    const plain = parseStatementFile("mt940", text.replace("/OCMT/USD1000,00//EXCH/0,92230/ ", "")).entries[0];
    expect(plain).not.toHaveProperty("instructed_amount_minor");
    expect(plain?.entry_id).not.toBe(entry?.entry_id);
  });

  it("ids lines without a bank reference by content, numbering identical ones", () => {
    const line = ":61:2412311231C5,00NTRFNONREF\n:86:CARD PAYMENT SHOP 1";
    const text = statement(`${line}\n${line}`); // 100,00 + 5,00 + 5,00 = 110,00
    const ids = parseStatementFile("mt940", text).entries.map((entry) => entry.entry_id);
    expect(ids[0]).toMatch(/^DE89370400440532013000:20241231:h[0-9a-f]{16}$/);
    expect(ids[1]).toBe(`${ids[0]}#2`);
    expect(parseStatementFile("mt940", text).entries.map((entry) => entry.entry_id)).toEqual(ids);
  });

  it("names the line of a :61: with a bad amount", () => {
    const text = fixture("mt940", "abnamro-nl.txt");
    expect(() => parseStatementFile("mt940", text.replace("D11,59N426", "D11,599N426"))).toThrowError(
      'line 12: "11,599" is not an amount in EUR',
    );
    expect(() => parseStatementFile("mt940", text.replace("D11,59N426", "D1X,59N426"))).toThrowError(
      /^line 12: :61: "1105210523D1X,59N426NONREF" is not a statement line/,
    );
  });

  it("rejects a statement cut before its closing balance", () => {
    const text = fixture("mt940", "abnamro-nl.txt");
    const cut = text.slice(0, text.indexOf(":62F:"));
    expect(() => parseStatementFile("mt940", cut)).toThrowError(StatementParseError);
    expect(() => parseStatementFile("mt940", cut)).toThrowError(/closing balance/);
  });

  it("rejects a file with no statement", () => {
    expect(() => parseStatementFile("mt940", "hello\nworld")).toThrowError(StatementParseError);
  });
});
