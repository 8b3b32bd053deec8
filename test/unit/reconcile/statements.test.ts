import { describe, expect, it } from "vitest";
import { balanceResult, type StatementFacts, statementExceptions } from "../../../src/reconcile/statements.js";

const statement = (overrides: Partial<StatementFacts> = {}): StatementFacts => ({
  bank: "bank_a",
  statementId: "S2",
  account: "DE89370400440532013000",
  currency: "EUR",
  fromDate: "2026-03-02",
  toDate: "2026-03-02",
  openingMinor: 10_000,
  closingMinor: 12_500,
  linesNetMinor: 2_500,
  ...overrides,
});

describe("statement checks (CONTRACT §8 Statements)", () => {
  it("is unchecked until every line is stored, then balanced or imbalanced", () => {
    expect(balanceResult(statement({ linesNetMinor: null }))).toBeNull();
    expect(balanceResult(statement())).toBe("balanced");
    expect(balanceResult(statement({ linesNetMinor: 2_400 }))).toBe("imbalanced");
    expect(statementExceptions(statement({ linesNetMinor: null }), undefined)).toEqual([]);
    expect(statementExceptions(statement(), undefined)).toEqual([]);
  });

  it("an imbalance is an exception for the difference, in the statement's currency", () => {
    const [exception] = statementExceptions(statement({ linesNetMinor: -2_400 }), undefined);
    expect(exception).toMatchObject({
      kind: "statement_imbalance",
      subject: { type: "statement", bank: "bank_a", statementId: "S2" },
      amountMinor: 4_900,
      currency: "EUR",
    });
    expect(exception!.detail).toContain("opening 100.00 EUR + lines -24.00 EUR = 76.00 EUR");
  });

  it("an opening other than the previous statement's closing is a gap; equal is none", () => {
    const previous = statement({
      statementId: "S1",
      fromDate: "2026-03-01",
      toDate: "2026-03-01",
      closingMinor: 10_000,
    });
    expect(statementExceptions(statement(), previous)).toEqual([]);
    const [gap] = statementExceptions(statement(), { ...previous, closingMinor: 9_000 });
    expect(gap).toMatchObject({ kind: "statement_gap", amountMinor: 1_000 });
    expect(gap!.detail).toContain("S1");
  });
});
