import { readdirSync, readFileSync } from "node:fs";
import type { StatementFormat, StatementSummary } from "../../../src/import/index.js";
import type { BankEntry } from "../../../src/messages/schemas.js";

/** The shared sample statements (never copied into the repository). */
const FIXTURES = new URL("../../../../shared/fixtures/", import.meta.url);

export function fixture(format: StatementFormat, name: string): string {
  return readFileSync(new URL(`${format}/${name}`, FIXTURES), "utf8");
}

export function fixtureNames(format: StatementFormat): string[] {
  return readdirSync(new URL(`${format}/`, FIXTURES)).sort();
}

export interface EntryTotals {
  creditsMinor: number;
  debitsMinor: number;
  /** Bank lines (camt Ntry, MT940 :61:, BAI2 16): split batch children count once. */
  creditCount: number;
  debitCount: number;
  /** Every amount, credits and debits alike (what BAI2 control totals add up). */
  grossMinor: number;
}

/**
 * Totals of a statement recomputed from the entries alone, the way the bank counts:
 * booked money in the statement's currency, one line per booking.
 */
export function totalsFromEntries(entries: readonly BankEntry[], statement: StatementSummary): EntryTotals {
  const totals: EntryTotals = { creditsMinor: 0, debitsMinor: 0, creditCount: 0, debitCount: 0, grossMinor: 0 };
  for (const entry of entries) {
    if (entry.metadata?.statement_id !== statement.statementId) continue;
    totals.grossMinor += entry.amount_minor;
    if (entry.currency !== statement.currency || entry.status === "pending") continue;
    const firstOfBooking = (entry.metadata?.batch_index ?? 1) === 1;
    if (entry.direction === "credit") {
      totals.creditsMinor += entry.amount_minor;
      if (firstOfBooking) totals.creditCount += 1;
    } else {
      totals.debitsMinor += entry.amount_minor;
      if (firstOfBooking) totals.debitCount += 1;
    }
  }
  return totals;
}

export function byRef(entries: readonly BankEntry[], fragment: string): BankEntry {
  const found = entries.filter((entry) => entry.entry_id.includes(fragment));
  if (found.length !== 1) throw new Error(`${found.length} entries with ${fragment} in their id`);
  return found[0] as BankEntry;
}
