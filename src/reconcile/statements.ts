import { formatMoney } from "../messages/display.js";
import type { DesiredException } from "./exceptions.js";

/**
 * CONTRACT §8 "Statements": what a bank statement's summary calls for once checked. Balance: opening + Σ lines
 * (credits positive, debits negative, pending lines left out) = closing, known once every line is stored.
 * Continuity: its opening equals the closing of the account's previous statement (same bank, account and
 * currency; the one ending latest before it starts).
 */

export interface StatementFacts {
  bank: string;
  statementId: string;
  account: string;
  currency: string;
  fromDate: string;
  toDate: string;
  openingMinor: number;
  closingMinor: number;
  /** null until every line of the statement is stored. */
  linesNetMinor: number | null;
}

export type BalanceResult = "balanced" | "imbalanced";

export function balanceResult(statement: StatementFacts): BalanceResult | null {
  if (statement.linesNetMinor === null) return null;
  return statement.openingMinor + statement.linesNetMinor === statement.closingMinor ? "balanced" : "imbalanced";
}

export function hasGap(statement: StatementFacts, previous: StatementFacts | undefined): boolean {
  return previous !== undefined && previous.closingMinor !== statement.openingMinor;
}

export function statementExceptions(
  statement: StatementFacts,
  previous: StatementFacts | undefined,
): DesiredException[] {
  const money = (minor: number) => formatMoney(minor, statement.currency);
  const subject = { type: "statement" as const, bank: statement.bank, statementId: statement.statementId };
  const name = `statement ${statement.statementId} of ${statement.bank} account ${statement.account} (${statement.fromDate} to ${statement.toDate})`;
  const out: DesiredException[] = [];
  if (balanceResult(statement) === "imbalanced") {
    const net = statement.linesNetMinor!;
    const computed = statement.openingMinor + net;
    out.push({
      kind: "statement_imbalance",
      subject,
      amountMinor: Math.abs(statement.closingMinor - computed),
      currency: statement.currency,
      direction: null,
      gateway: null,
      detail:
        `${name}: opening ${money(statement.openingMinor)} + lines ${money(net)} = ${money(computed)}, ` +
        `but the closing balance is ${money(statement.closingMinor)} (difference ${money(statement.closingMinor - computed)})`,
    });
  }
  if (previous && hasGap(statement, previous)) {
    out.push({
      kind: "statement_gap",
      subject,
      amountMinor: Math.abs(statement.openingMinor - previous.closingMinor),
      currency: statement.currency,
      direction: null,
      gateway: null,
      detail:
        `${name}: opening ${money(statement.openingMinor)}, but statement ${previous.statementId} ` +
        `(${previous.fromDate} to ${previous.toDate}) closed at ${money(previous.closingMinor)} ` +
        `(difference ${money(statement.openingMinor - previous.closingMinor)}): a statement is missing or a balance is wrong`,
    });
  }
  return out;
}
