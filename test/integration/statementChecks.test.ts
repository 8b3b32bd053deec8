import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { dateDaysFromNow } from "../support/clock.js";
import { createTestDatabase, type TestDatabase } from "../support/database.js";
import { api, startTestDaemon, type TestDaemon } from "../support/daemon.js";
import { bankEntry } from "../support/facts.js";

/**
 * CONTRACT §8 "Statements", daemon side: statement summaries on the bank topic, checked once all their lines
 * are stored (whichever arrives last): balanced, imbalanced (`statement_imbalance`), and an opening that is not
 * the previous statement's closing (`statement_gap`); counted in payrecon_statement_checks_total{bank, result}.
 */

let db: TestDatabase;
let daemon: TestDaemon;

beforeAll(async () => {
  db = await createTestDatabase();
  daemon = await startTestDaemon({ DATABASE_URL: db.url });
});
afterAll(async () => {
  await daemon?.stop();
  await db?.drop();
});

const ingest = async (messages: unknown[]) => {
  const response = await api(daemon.baseUrl, "ingester")("/api/v1/ingest/bank.settlements", {
    method: "POST",
    headers: { "Content-Type": "application/x-ndjson" },
    body: messages.map((message) => JSON.stringify(message)).join("\n"),
  });
  expect(response.status).toBe(200);
  expect(response.body.rejected).toBe(0);
  return response.body;
};

/** Three lines of one account and day: +100.00, +25.00, −40.00 (net +85.00). */
function lines(account: string, day: number) {
  const date = dateDaysFromNow(day);
  const line = (n: number, direction: string, amount: number) =>
    bankEntry(n, {
      entry_id: `${account}:${date}:${n}`,
      account,
      currency: "EUR",
      direction,
      amount_minor: amount,
      booking_date: date,
      value_date: date,
    });
  return [line(1, "credit", 10_000), line(2, "credit", 2_500), line(3, "debit", 4_000)];
}

function summary(
  id: string,
  account: string,
  day: number,
  entries: Array<{ entry_id: string }>,
  opening: number,
  closing: number,
) {
  return {
    type: "statement",
    statement_id: id,
    bank: "bank_a",
    account,
    currency: "EUR",
    from_date: dateDaysFromNow(day),
    to_date: dateDaysFromNow(day),
    opening_booked_minor: opening,
    closing_booked_minor: closing,
    entry_ids: entries.map((entry) => entry.entry_id),
  };
}

const exceptionsOf = async (statementId: string) =>
  (
    await db.pool.query<{ kind: string; state: string; amount_minor: number; detail: string }>(
      "select kind, state, amount_minor, detail from exceptions where subject_key = $1 order by kind",
      [`statement:bank_a/${statementId}`],
    )
  ).rows;
const resultOf = async (statementId: string) =>
  (await db.pool.query("select balance_result from bank_statements where statement_id = $1", [statementId])).rows[0]
    ?.balance_result;
const checks = async (result: string) => {
  const text = await (await fetch(`${daemon.baseUrl}/metrics`)).text();
  const match = new RegExp(`^payrecon_statement_checks_total\\{bank="bank_a",result="${result}"\\} (\\d+)$`, "m").exec(
    text,
  );
  return Number(match?.[1] ?? 0);
};

describe("statement summaries", () => {
  it("a statement whose lines add up is balanced: no exception", async () => {
    const before = await checks("balanced");
    const entries = lines("ACC-BAL", -5);
    await ingest([...entries, summary("S-BAL", "ACC-BAL", -5, entries, 50_000, 58_500)]);
    expect(await resultOf("S-BAL")).toBe("balanced");
    expect(await exceptionsOf("S-BAL")).toEqual([]);
    expect(await checks("balanced")).toBe(before + 1);
  });

  it("a statement whose lines do not add up is a statement_imbalance exception", async () => {
    const before = await checks("imbalanced");
    const entries = lines("ACC-IMB", -5);
    await ingest([...entries, summary("S-IMB", "ACC-IMB", -5, entries, 50_000, 58_600)]);
    expect(await resultOf("S-IMB")).toBe("imbalanced");
    const [exception] = await exceptionsOf("S-IMB");
    expect(exception).toMatchObject({ kind: "statement_imbalance", state: "open", amount_minor: 100 });
    expect(exception!.detail).toContain("opening 500.00 EUR + lines 85.00 EUR = 585.00 EUR");
    expect(await checks("imbalanced")).toBe(before + 1);
  });

  it("lines that arrive after their summary are checked when the last one arrives", async () => {
    const entries = lines("ACC-LATE", -5);
    await ingest([summary("S-LATE", "ACC-LATE", -5, entries, 0, 8_400)]);
    expect(await resultOf("S-LATE")).toBeNull();
    await ingest(entries.slice(0, 2));
    expect(await resultOf("S-LATE")).toBeNull();
    expect(await exceptionsOf("S-LATE")).toEqual([]);
    await ingest(entries.slice(2));
    expect(await resultOf("S-LATE")).toBe("imbalanced");
    expect((await exceptionsOf("S-LATE")).map((row) => row.kind)).toEqual(["statement_imbalance"]);
  });

  it("an opening that is not the previous statement's closing is a statement_gap, whichever arrives first", async () => {
    const before = await checks("gap");
    const day1 = lines("ACC-GAP", -4);
    const day2 = lines("ACC-GAP", -3).map((entry) => ({ ...entry, entry_id: `${entry.entry_id}:b` }));
    const day3 = lines("ACC-GAP", -2).map((entry) => ({ ...entry, entry_id: `${entry.entry_id}:c` }));
    // Day 3 arrives first, then day 1 (closing 585.00): day 2 is missing, a gap before day 3. Day 2 arrives,
    // opening at 600.00: the gap is before day 2 now, and day 3 opens where day 2 closes (685.00).
    await ingest([...day3, summary("S-GAP-3", "ACC-GAP", -2, day3, 68_500, 77_000)]);
    await ingest([...day1, summary("S-GAP-1", "ACC-GAP", -4, day1, 50_000, 58_500)]);
    expect(await exceptionsOf("S-GAP-3")).toMatchObject([{ kind: "statement_gap", state: "open" }]);
    await ingest([...day2, summary("S-GAP-2", "ACC-GAP", -3, day2, 60_000, 68_500)]);
    const [gap] = await exceptionsOf("S-GAP-2");
    expect(gap).toMatchObject({ kind: "statement_gap", state: "open", amount_minor: 1_500 });
    expect(gap!.detail).toContain("S-GAP-1");
    expect(await exceptionsOf("S-GAP-3")).toMatchObject([{ kind: "statement_gap", state: "resolved" }]);
    expect(await exceptionsOf("S-GAP-1")).toEqual([]);
    // Checked on arrival against a predecessor: day 2 only (days 3 and 1 had none when they came).
    expect(await checks("gap")).toBe(before + 1);
  });

  it("two transactions at once — a statement and its successor, a summary and its last line — still check each other", async () => {
    // Each pair goes in two requests at the same moment (two transactions): checked at once (not in turn) each could
    // miss the other's uncommitted rows, and the gap or the balance would never be checked.
    const accounts = Array.from({ length: 12 }, (_, n) => `RACE-${n}`);
    await Promise.all(
      accounts.flatMap((account) => [
        ingest([summary(`${account}-1`, account, -3, [], 0, 1_000)]),
        ingest([summary(`${account}-2`, account, -2, [], 1_500, 1_500)]),
      ]),
    );
    for (const account of accounts) {
      expect(await exceptionsOf(`${account}-2`), account).toMatchObject([{ kind: "statement_gap", state: "open" }]);
    }
    const late = accounts.map((account) => ({ account, lines: lines(`${account}-L`, -1) }));
    await Promise.all(
      late.flatMap(({ account, lines: [first, second, third] }) => [
        ingest([first, second, summary(`${account}-L`, `${account}-L`, -1, [first!, second!, third!], 0, 9_999)]),
        ingest([third]),
      ]),
    );
    for (const { account } of late) {
      expect(await resultOf(`${account}-L`), account).toBe("imbalanced");
    }
  });

  it("a statement arriving before its predecessor is checked against it when the predecessor arrives", async () => {
    const day1 = lines("ACC-GAP2", -4);
    const day2 = lines("ACC-GAP2", -3).map((entry) => ({ ...entry, entry_id: `${entry.entry_id}:b` }));
    await ingest([...day2, summary("S-GAP2-2", "ACC-GAP2", -3, day2, 60_000, 68_500)]);
    expect(await exceptionsOf("S-GAP2-2")).toEqual([]);
    await ingest([...day1, summary("S-GAP2-1", "ACC-GAP2", -4, day1, 50_000, 58_500)]);
    expect((await exceptionsOf("S-GAP2-2")).map((row) => row.kind)).toEqual(["statement_gap"]);
  });

  it("the same statement id with other content is a conflict; the first summary stays", async () => {
    const entries = lines("ACC-CONF", -5);
    const first = summary("S-CONF", "ACC-CONF", -5, entries, 50_000, 58_500);
    await ingest([...entries, first]);
    const response = await api(daemon.baseUrl, "ingester")("/api/v1/ingest/bank.settlements", {
      method: "POST",
      body: [first, { ...first, metadata: { file: "again.xml" } }, { ...first, closing_booked_minor: 1 }]
        .map((message) => JSON.stringify(message))
        .join("\n"),
    });
    expect(response.body.lines.map((line: { status: string }) => line.status)).toEqual([
      "duplicate",
      "duplicate",
      "rejected",
    ]);
    expect(response.body.lines[2]).toMatchObject({ reason: "conflict" });
    expect(
      (await db.pool.query("select closing_booked_minor from bank_statements where statement_id = 'S-CONF'")).rows,
    ).toEqual([{ closing_booked_minor: 58_500 }]);
    expect(await exceptionsOf("S-CONF")).toMatchObject([{ kind: "conflict", state: "open" }]);
  });

  it("a statement summary on the bank topic is schema-checked like any message", async () => {
    const response = await api(daemon.baseUrl, "ingester")("/api/v1/ingest/bank.settlements", {
      method: "POST",
      body: JSON.stringify({ ...summary("S-BAD", "ACC-BAD", -5, [], 0, 0), opening_booked_minor: 1.5 }),
    });
    expect(response.body.lines[0]).toMatchObject({ status: "rejected", reason: "schema" });
  });
});
