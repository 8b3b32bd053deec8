import { describe, expect, it } from "vitest";
import { parseStatementFile } from "../../../src/import/index.js";

/** Small MT940 statements written for these tests, one per dialect a bank really ships. */
function statement(account: string, lines: string[], opening = "C261101EUR1000,00", closing = "C261101EUR1000,00") {
  return [":20:STMT1", `:25:${account}`, ":28C:1/1", `:60F:${opening}`, ...lines, `:62F:${closing}`, "-"].join("\r\n");
}

describe("MT940 :61: lines real banks write", () => {
  it("a line without a transaction type code (only //bank reference after the amount) is read, not refused", () => {
    const text = statement(
      "NL91ABNA0417164300",
      [":61:2611021102CN220000,00//19239782213", ":86:/NAME/ACME BV/REMI/INVOICE 77/"],
      "C261101EUR1000,00",
      "C261102EUR221000,00",
    );
    const parsed = parseStatementFile("mt940", text);
    expect(parsed.entries).toHaveLength(1);
    expect(parsed.entries[0]).toMatchObject({
      direction: "credit",
      amount_minor: 22_000_000,
      booking_date: "2026-11-02",
      metadata: { bank_reference: "19239782213", transaction_type: "" },
    });
    expect(parsed.warnings).toEqual([]);
  });

  it("a transaction type padded with spaces (S   X) is read, the reference after it kept", () => {
    const text = statement(
      "NL91ABNA0417164300",
      [":61:2611031103DF2402,00S   X", ":86:HUUR NOVEMBER"],
      "C261101EUR3000,00",
      "C261103EUR597,99",
    );
    const [entry] = parseStatementFile("mt940", text).entries;
    expect(entry).toMatchObject({ direction: "debit", amount_minor: 240_200, value_date: "2026-11-03" });
    expect(entry?.metadata).toMatchObject({ transaction_type: "S", funds_code: "F", customer_reference: "X" });
  });
});

describe("MT940 account and narrative dialects", () => {
  it("an account with a currency suffix (NL… EUR) gives the account id without it", () => {
    const text = statement(
      "NL12BUNQ2025123456 EUR",
      [":61:261102C10,00NTRFNONREF", ":86:/NAME/J. DOE/"],
      undefined,
      "C261102EUR1010,00",
    );
    const parsed = parseStatementFile("mt940", text);
    expect(parsed.statements[0]?.account).toBe("NL12BUNQ2025123456");
    expect(parsed.entries[0]?.account).toBe("NL12BUNQ2025123456");
  });

  it("an account suffix that contradicts the balances' currency is refused, naming the line", () => {
    const text = statement("NL12BUNQ2025123456 USD", [":61:261102C10,00NTRFNONREF"], undefined, "C261102EUR1010,00");
    expect(() => parseStatementFile("mt940", text)).toThrow(/line 2: the account :25: is in USD, its balances in EUR/);
  });

  it("bunq's bare /NAME/ in :86: becomes counterparty_name", () => {
    const text = statement(
      "NL12BUNQ2025123456",
      [":61:261102D25,50NTRFNONREF", ":86:/NAME/Bakkerij de Vries/REMI/Brood en koffie/IBAN/NL02ABNA0123456789/"],
      undefined,
      "C261102EUR974,50",
    );
    expect(parseStatementFile("mt940", text).entries[0]).toMatchObject({
      counterparty_name: "Bakkerij de Vries",
      direction: "debit",
    });
  });
});
