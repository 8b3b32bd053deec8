import type { Db } from "../db/pool.js";
import {
  completeStatements,
  nextStatements,
  previousStatement,
  type StoredStatement,
  statementsAwaitingLines,
  statementsBySeq,
} from "../db/queries/statements.js";
import type { DesiredException } from "../reconcile/exceptions.js";
import { balanceResult, hasGap, statementExceptions } from "../reconcile/statements.js";
import { syncExceptions } from "./exceptionSync.js";
import { lockBanks } from "../db/queries/statements.js";

/**
 * Checks bank statement summaries (CONTRACT §8 "Statements") in the transaction that stored new statements or
 * lines: a statement's balance once its last line is stored (lines and summary arrive in any order), and its
 * continuity with the account's previous statement when it arrives (re-checking the one after it, whose
 * predecessor it may now be). Each statement owns its exceptions: `statement_imbalance`, `statement_gap`.
 */

export interface StatementCheck {
  bank: string;
  result: "balanced" | "imbalanced" | "gap" | "continuous";
}

export async function checkStatements(
  db: Db,
  newStatementSeqs: number[],
  newEntries: Array<{ bank: string; entryId: string }>,
  now: Date,
): Promise<StatementCheck[]> {
  if (newStatementSeqs.length === 0 && newEntries.length === 0) return [];
  // Two transactions storing a bank's statement and its last line (or two consecutive statements) at once would
  // each miss the other's uncommitted rows, and neither would check: they check in turn, and the second one's reads
  // (a new snapshot per statement) see what the first committed. Ingest calls this under the reconciliation lock,
  // which serializes them already; the bank's lock keeps any other caller right (uncontended there).
  const stored = await statementsBySeq(db, newStatementSeqs);
  await lockBanks(db, [...stored.map((statement) => statement.bank), ...newEntries.map((entry) => entry.bank)]);
  const awaiting = new Set([...newStatementSeqs, ...(await statementsAwaitingLines(db, newEntries))]);
  const completed = await completeStatements(db, [...awaiting]);
  if (newStatementSeqs.length === 0 && completed.length === 0) return [];
  const checks: StatementCheck[] = [];
  const toSync = new Map<number, StoredStatement>();
  for (const statement of await statementsBySeq(db, completed)) {
    checks.push({ bank: statement.bank, result: balanceResult(statement)! });
    toSync.set(statement.seq, statement);
  }
  // Read again: completing them above wrote what their lines add up to.
  for (const statement of await statementsBySeq(db, newStatementSeqs)) {
    const previous = await previousStatement(db, statement);
    if (previous) checks.push({ bank: statement.bank, result: hasGap(statement, previous) ? "gap" : "continuous" });
    toSync.set(statement.seq, statement);
    for (const next of await nextStatements(db, statement)) toSync.set(next.seq, next);
  }
  const desired = new Map<string, DesiredException[]>();
  for (const statement of toSync.values()) {
    const previous = await previousStatement(db, statement);
    desired.set(`statement:${statement.bank}/${statement.statementId}`, statementExceptions(statement, previous));
  }
  await syncExceptions(db, desired, now);
  return checks;
}
