import { describe, expect, it } from "vitest";
import { StatementBook } from "../../../src/commands/simulate.js";
import type { BankEntryInput } from "../../../src/messages/schemas.js";
import { hasGap, type StatementFacts } from "../../../src/reconcile/statements.js";

const line = (id: string, direction: "credit" | "debit", amount: number, status = "booked") =>
  ({
    entry_id: id,
    bank: "bank_a",
    account: "DE89370400440532013000",
    direction,
    amount_minor: amount,
    currency: "EUR",
    booking_date: "2026-12-01",
    value_date: "2026-12-01",
    status,
  }) as BankEntryInput;

const facts = (summary: Record<string, unknown>): StatementFacts => ({
  bank: String(summary.bank),
  statementId: String(summary.statement_id),
  account: String(summary.account),
  currency: String(summary.currency),
  fromDate: String(summary.from_date),
  toDate: String(summary.to_date),
  openingMinor: Number(summary.opening_booked_minor),
  closingMinor: Number(summary.closing_booked_minor),
  linesNetMinor: null,
});

describe("simulate --statements: the demo's missing statement shows as a gap", () => {
  it("chains balanced statements, and a withheld day's lines move the balance without a statement", () => {
    const book = new StatementBook();
    const [day1] = book.statements(
      [line("a", "credit", 10_000), line("b", "debit", 2_500), line("p", "credit", 99, "pending")],
      "2026-12-01",
      "w1",
    );
    expect(day1).toMatchObject({
      opening_booked_minor: 10_000_000,
      closing_booked_minor: 10_007_500,
      entry_ids: ["a", "b", "p"],
    });
    const [day2] = book.statements([line("c", "credit", 100)], "2026-12-02", "w2");
    expect(hasGap(facts(day2!), facts(day1!))).toBe(false);
    book.withhold([line("d", "debit", 4_000)]);
    const [day4] = book.statements([line("e", "credit", 1)], "2026-12-04", "w4");
    expect(facts(day4!).openingMinor).toBe(facts(day2!).closingMinor - 4_000);
    expect(hasGap(facts(day4!), facts(day2!))).toBe(true);
  });
});
