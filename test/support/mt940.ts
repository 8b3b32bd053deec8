/**
 * Small MT940 statements written here (no third-party file copied), for tests of bank-line identity:
 * a bank that repeats one reference on many lines, and statements that overlap.
 */

export interface Mt940Line {
  /** `YYYY-MM-DD`; the value date is the booking date. */
  date: string;
  direction: "credit" | "debit";
  /** EUR cents. */
  amountMinor: number;
  /** The bank's reference (after `//`). */
  bankRef: string;
  /** The :86: text. */
  text: string;
}

export interface Mt940Statement {
  account: string;
  statementRef: string;
  openingMinor: number;
  lines: Mt940Line[];
}

const yymmdd = (date: string) => date.slice(2).replaceAll("-", "");
const amount = (minor: number) =>
  `${Math.floor(Math.abs(minor) / 100)},${String(Math.abs(minor) % 100).padStart(2, "0")}`;
const balance = (tag: string, date: string, minor: number) =>
  `:${tag}:${minor < 0 ? "D" : "C"}${yymmdd(date)}EUR${amount(minor)}`;

/** The closing balance a statement's lines lead to. */
export function closingOf(statement: Mt940Statement): number {
  return statement.lines.reduce(
    (sum, line) => sum + (line.direction === "credit" ? line.amountMinor : -line.amountMinor),
    statement.openingMinor,
  );
}

/** One file holding the statements in order (one :20: … :62F: block each). */
export function mt940(statements: Mt940Statement[]): string {
  return statements
    .map((statement) => {
      const first = statement.lines[0]?.date ?? "2026-01-01";
      const last = statement.lines.at(-1)?.date ?? first;
      return [
        `:20:${statement.statementRef}`,
        `:25:${statement.account}`,
        ":28C:1/1",
        balance("60F", first, statement.openingMinor),
        ...statement.lines.flatMap((line) => [
          `:61:${yymmdd(line.date)}${line.date.slice(5).replace("-", "")}${line.direction === "credit" ? "C" : "D"}${amount(line.amountMinor)}NTRFNONREF//${line.bankRef}`,
          `:86:${line.text}`,
        ]),
        balance("62F", last, closingOf(statement)),
        "-",
      ].join("\r\n");
    })
    .join("\r\n");
}

export interface OverlapCase {
  /** Days 1–3 of two accounts: the longer statement. */
  monthly: string;
  /** Days 2–3 of the same accounts, its lines in another order (as the bank wrote them during the day). */
  daily: string;
  /** Per account, credits minus debits of the monthly statement. */
  netByAccount: Record<string, number>;
  monthlyLineCount: number;
}

/**
 * A bank that writes one batch reference on many lines, two of them genuinely identical bookings,
 * in two statements that overlap on days 2 and 3 and list the shared lines in different orders.
 * `days` are three consecutive `YYYY-MM-DD` dates.
 */
export function overlappingStatements(days: [string, string, string]): OverlapCase {
  const [d1, d2, d3] = days;
  const line = (
    date: string,
    direction: Mt940Line["direction"],
    amountMinor: number,
    bankRef: string,
    text: string,
  ) => ({
    date,
    direction,
    amountMinor,
    bankRef,
    text,
  });
  const accounts = {
    DE89370400440532013000: {
      day1: [
        line(d1, "credit", 10_000, "SAMMEL", "CARD SETTLEMENT"),
        line(d1, "credit", 2_500, "SAMMEL", "CARD SETTLEMENT"),
      ],
      // Two identical bookings (same reference, amount and text) and two others under the same reference.
      day2: [
        line(d2, "credit", 4_200, "SAMMEL", "CARD SETTLEMENT"),
        line(d2, "credit", 4_200, "SAMMEL", "CARD SETTLEMENT"),
        line(d2, "debit", 1_500, "SAMMEL", "CARD FEES"),
        line(d2, "credit", 9_999, "SAMMEL", "CARD SETTLEMENT"),
      ],
      day3: [line(d3, "credit", 4_200, "SAMMEL", "CARD SETTLEMENT"), line(d3, "debit", 700, "SAMMEL", "CARD FEES")],
    },
    DE44500105175407324931: {
      day1: [line(d1, "debit", 30_000, "PAYROLL", "SALARY RUN")],
      day2: [line(d2, "debit", 30_000, "PAYROLL", "SALARY RUN"), line(d2, "credit", 50_000, "PAYROLL", "TOP UP")],
      day3: [line(d3, "debit", 30_000, "PAYROLL", "SALARY RUN")],
    },
  };
  const monthly: Mt940Statement[] = [];
  const daily: Mt940Statement[] = [];
  const netByAccount: Record<string, number> = {};
  let monthlyLineCount = 0;
  for (const [account, { day1, day2, day3 }] of Object.entries(accounts)) {
    // The monthly statement sorts each day by amount; the daily one keeps the order of booking.
    const byAmount = (lines: Mt940Line[]) => [...lines].sort((a, b) => b.amountMinor - a.amountMinor);
    const all = {
      account,
      statementRef: `M-${account.slice(-4)}`,
      openingMinor: 100_000,
      lines: [...byAmount(day1), ...byAmount(day2), ...byAmount(day3)],
    };
    monthly.push(all);
    const openingDay2 = closingOf({ ...all, lines: byAmount(day1) });
    daily.push({
      account,
      statementRef: `D-${account.slice(-4)}`,
      openingMinor: openingDay2,
      lines: [...[...day2].reverse(), ...day3],
    });
    netByAccount[account] = closingOf(all) - all.openingMinor;
    monthlyLineCount += all.lines.length;
  }
  return { monthly: mt940(monthly), daily: mt940(daily), netByAccount, monthlyLineCount };
}
