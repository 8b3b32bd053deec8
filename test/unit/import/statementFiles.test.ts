import { describe, expect, it } from "vitest";
import { parseStatementFile, STATEMENT_FORMATS, StatementParseError } from "../../../src/import/index.js";
import { bankEntrySchema } from "../../../src/messages/schemas.js";
import { fixture, fixtureNames, totalsFromEntries } from "./helpers.js";

// Properties every sample must have, whatever its format (the Goldman Sachs BAI2 sample's
// wrong control totals are imbalances, which bai2.test.ts checks).
const cases = STATEMENT_FORMATS.flatMap((format) => fixtureNames(format).map((name) => ({ format, name })));

describe.each(cases)("$format/$name", ({ format, name }) => {
  const text = fixture(format, name);
  const parse = () => parseStatementFile(format, text);

  it("yields contract-valid entries", () => {
    const { entries } = parse();
    expect(entries.length).toBeGreaterThan(0);
    for (const entry of entries) {
      expect(bankEntrySchema.parse(entry)).toEqual(entry);
      expect(Number.isSafeInteger(entry.amount_minor) && entry.amount_minor > 0).toBe(true);
      expect(entry.entry_id.length).toBeLessThanOrEqual(200);
    }
  });

  it("gives the same ids on every import, unique within the file", () => {
    const first = parse();
    const second = parse();
    expect(second.entries).toEqual(first.entries);
    const ids = first.entries.map((entry) => entry.entry_id);
    expect(new Set(ids).size).toBe(ids.length);
  });

  it("reports statement totals that the entries reproduce", () => {
    const { entries, statements } = parse();
    const statementIds = new Set(statements.map((statement) => statement.statementId));
    expect(statementIds.size).toBe(statements.length);
    // Every entry belongs to exactly one of the reported statements.
    for (const entry of entries) expect(statementIds.has(String(entry.metadata?.statement_id))).toBe(true);
    for (const statement of statements) {
      const totals = totalsFromEntries(entries, statement);
      expect(totals.creditsMinor).toBe(statement.creditsMinor);
      expect(totals.debitsMinor).toBe(statement.debitsMinor);
      expect(totals.creditCount).toBe(statement.creditCount);
      expect(totals.debitCount).toBe(statement.debitCount);
    }
  });
});

describe("options and input", () => {
  const citi = fixture("mt940", "citi-us.txt");

  it("uses --bank when given, normalised to a label", () => {
    const parsed = parseStatementFile("mt940", citi, { bank: "Citi US" });
    expect(new Set(parsed.entries.map((entry) => entry.bank))).toEqual(new Set(["citi_us"]));
    expect(parsed.warnings.some((warning) => warning.includes('bank "unknown"'))).toBe(false);
  });

  it("says so when the file names no bank and none was given", () => {
    const parsed = parseStatementFile("mt940", citi);
    expect(parsed.entries.every((entry) => entry.bank === "unknown")).toBe(true);
    expect(parsed.warnings).toContain(
      'the file names no bank (BIC, bank code or originator); entries use bank "unknown", pass --bank',
    );
  });

  it("rejects empty files, unusable bank names and unknown formats", () => {
    expect(() => parseStatementFile("mt940", " \n")).toThrowError(StatementParseError);
    expect(() => parseStatementFile("mt940", citi, { bank: "***" })).toThrowError(StatementParseError);
    expect(() => parseStatementFile("csv" as never, citi)).toThrowError(StatementParseError);
  });

  it("ignores a byte order mark", () => {
    expect(parseStatementFile("mt940", `\uFEFF${citi}`).entries).toEqual(parseStatementFile("mt940", citi).entries);
  });
});
