import { describe, expect, it } from "vitest";
import { parseStatementFile } from "../../../src/import/index.js";
import type { BankEntry } from "../../../src/messages/schemas.js";
import { overlappingStatements } from "../../support/mt940.js";

/**
 * CONTRACT §8 "Bank line identity": the same line in two overlapping statements gets the same id, two
 * identical bookings keep two ids. Stored as the daemon stores them: by (bank, entry_id), first wins.
 */

const overlap = overlappingStatements(["2026-03-02", "2026-03-03", "2026-03-04"]);

function store(...files: string[]): Map<string, BankEntry> {
  const stored = new Map<string, BankEntry>();
  for (const file of files) {
    for (const entry of parseStatementFile("mt940", file, { bank: "bank_a" }).entries) {
      const key = `${entry.bank}\u0000${entry.entry_id}`;
      if (!stored.has(key)) stored.set(key, entry);
    }
  }
  return stored;
}

/** What the bank said about each stored line, by id (metadata names the statement, which differs by file). */
function facts(stored: Map<string, BankEntry>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, { metadata: _metadata, ...entry }] of stored) out[key] = entry;
  return out;
}

function netByAccount(stored: Map<string, BankEntry>): Record<string, number> {
  const sums: Record<string, number> = {};
  for (const entry of stored.values()) {
    sums[entry.account] = (sums[entry.account] ?? 0) + (entry.direction === "credit" ? 1 : -1) * entry.amount_minor;
  }
  return sums;
}

describe("bank-line identity across overlapping statements", () => {
  const alone = store(overlap.monthly);

  it("keeps every line of the longer statement, identical bookings included", () => {
    expect(alone.size).toBe(overlap.monthlyLineCount);
    expect(netByAccount(alone)).toEqual(overlap.netByAccount);
  });

  it.each([
    ["daily, then monthly", [overlap.daily, overlap.monthly]],
    ["monthly, then daily", [overlap.monthly, overlap.daily]],
  ])("%s stores the same entries and sums as the monthly statement alone", (_order, files) => {
    const both = store(...files);
    expect(facts(both)).toEqual(facts(alone));
    expect(netByAccount(both)).toEqual(overlap.netByAccount);
  });

  it("ids say the account, day and reference, are at most 200 characters and number identical lines", () => {
    const ids = [...alone.values()].map((entry) => entry.entry_id);
    for (const id of ids) {
      expect(id.length).toBeLessThanOrEqual(200);
      expect(id).toMatch(/^DE\d{20}:202603\d\d:h[0-9a-f]{16}:(SAMMEL|PAYROLL)(#\d+)?$/);
    }
    const twins = ids.filter((id) => id.startsWith("DE89370400440532013000:20260303:") && id.includes("SAMMEL"));
    expect(twins.filter((id) => id.endsWith("#2"))).toHaveLength(1);
    expect(twins.some((id) => `${id}#2` === twins.find((other) => other.endsWith("#2")))).toBe(true);
  });

  it("a line differing in any of the bank's facts gets another id", () => {
    const base = ":61:2603030303C42,00NTRFNONREF//SAMMEL\r\n:86:CARD SETTLEMENT";
    const file = (line: string) =>
      [
        ":20:X",
        ":25:DE89370400440532013000",
        ":28C:1/1",
        ":60F:C260303EUR0,00",
        line,
        ":62F:C260303EUR42,00",
        "-",
      ].join("\r\n");
    const idOf = (line: string) => parseStatementFile("mt940", file(line)).entries[0]?.entry_id;
    const ids = new Set([
      idOf(base),
      idOf(base.replace("0303C", "0304C")), // booking date
      idOf(base.replace("CARD SETTLEMENT", "CARD SETTLEMENT 2")), // remittance text
      idOf(base.replace("NONREF", "CUST1")), // customer reference
    ]);
    expect(ids.size).toBe(4);
  });
});
