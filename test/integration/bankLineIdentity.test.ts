import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { runCli } from "../support/cli.js";
import { dateDaysFromNow } from "../support/clock.js";
import { createTestDatabase } from "../support/database.js";
import { startTestDaemon } from "../support/daemon.js";
import { overlappingStatements } from "../support/mt940.js";

/**
 * CONTRACT §8 "Bank line identity", end to end: `payrecon import` of two overlapping MT940 statements
 * (a bank repeating one reference on many lines, the shared days listed in another order) into the
 * database of a running daemon, in both orders, stores exactly the lines of the longer one.
 */

const overlap = overlappingStatements([dateDaysFromNow(-4), dateDaysFromNow(-3), dateDaysFromNow(-2)]);
const dir = mkdtempSync(path.join(tmpdir(), "payrecon-overlap-"));
const files = { monthly: path.join(dir, "monthly.sta"), daily: path.join(dir, "daily.sta") };
writeFileSync(files.monthly, overlap.monthly);
writeFileSync(files.daily, overlap.daily);
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("re-importing an overlapping statement into a running daemon", () => {
  it.each([
    ["daily, then monthly", ["daily", "monthly"] as const, [9, 3]],
    ["monthly, then daily", ["monthly", "daily"] as const, [12, 0]],
  ])("%s adds exactly the lines that are new", async (_order, order, accepted) => {
    const db = await createTestDatabase();
    const daemon = await startTestDaemon({ DATABASE_URL: db.url });
    try {
      for (const [index, name] of order.entries()) {
        const result = await runCli(["import", "mt940", files[name], "--bank", "bank_a"], { DATABASE_URL: db.url });
        expect(result.code, result.stderr).toBe(0);
        expect(result.stdout).toContain(`accepted:    ${accepted[index]}\n`);
      }
      const rows = await db.pool.query<{ account: string; n: number; net: string }>(
        `select account, count(*)::int as n,
                sum(case when direction = 'credit' then amount_minor else -amount_minor end)::text as net
           from bank_entries group by account order by account`,
      );
      expect(rows.rows.reduce((total, row) => total + row.n, 0)).toBe(overlap.monthlyLineCount);
      expect(Object.fromEntries(rows.rows.map((row) => [row.account, Number(row.net)]))).toEqual(overlap.netByAccount);
      const rejected = await db.pool.query<{ n: number }>("select count(*)::int as n from rejected_messages");
      expect(rejected.rows[0]!.n).toBe(0);
    } finally {
      await daemon.stop();
      await db.drop();
    }
  });
});
