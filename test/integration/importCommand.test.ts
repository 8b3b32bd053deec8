import { spawn } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { parseStatementFile, type StatementFormat } from "../../src/import/index.js";
import type { BankEntry } from "../../src/messages/schemas.js";
import { createTestDatabase, type TestDatabase } from "../support/database.js";
import { api, startTestDaemon } from "../support/daemon.js";
import { readTopic, uniqueTopics } from "../support/kafka.js";

/**
 * `payrecon import` as a real child process: every shared sample statement into
 * a database (twice: the second import changes nothing), malformed files that
 * import nothing, one run through Kafka, and a statement that settles a payment.
 */

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
const FIXTURES = path.resolve(repoRoot, "../shared/fixtures");
const FORMATS: StatementFormat[] = ["camt053", "camt054", "mt940", "bai2"];
/** The Goldman Sachs BAI2 sample's control totals do not add up (purpose-built test data). */
const LENIENT = new Set(["moov_sample4_gs_ach-returns.bai2"]);

interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

function runCli(args: string[], env: Record<string, string>): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ["--import", "tsx", "src/main.ts", ...args], {
      cwd: repoRoot,
      env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "/root", LOG_LEVEL: "warn", ...env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk) => {
      stdout += chunk.toString();
    });
    child.stderr.on("data", (chunk) => {
      stderr += chunk.toString();
    });
    child.once("error", reject);
    child.once("exit", (code) => resolve({ code, stdout, stderr }));
  });
}

function importArgs(format: StatementFormat, file: string): string[] {
  return ["import", format, file, ...(LENIENT.has(path.basename(file)) ? ["--allow-total-mismatch"] : [])];
}

function parseFixture(format: StatementFormat, file: string): BankEntry[] {
  return parseStatementFile(format, readFileSync(file, "utf8"), {
    allowTotalMismatch: LENIENT.has(path.basename(file)),
  }).entries;
}

async function storedEntries(db: TestDatabase): Promise<Array<{ bank: string; entry_id: string }>> {
  const rows = await db.pool.query<{ bank: string; entry_id: string }>("select bank, entry_id from bank_entries");
  return sortEntries(rows.rows);
}

function sortEntries<T extends { bank: string; entry_id: string }>(rows: T[]): T[] {
  const key = (row: T) => `${row.bank}\u0000${row.entry_id}`;
  return rows.sort((a, b) => (key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : 0));
}

const cases = FORMATS.flatMap((format) =>
  readdirSync(path.join(FIXTURES, format))
    .sort()
    .map((name) => ({ format, name, file: path.join(FIXTURES, format, name) })),
);

const imported: Array<{ fixture: string; parsed: number; imported: number; duplicatesOnReimport: number }> = [];

describe("payrecon import", () => {
  afterAll(() => {
    if (imported.length > 0) {
      console.log("payrecon import: fixture → entries imported");
      const order = cases.map((c) => `${c.format}/${c.name}`);
      console.table(imported.sort((a, b) => order.indexOf(a.fixture) - order.indexOf(b.fixture)));
    }
  });

  // Each file in its own database. Sequential: CLI start-up is CPU-bound and the other test files run alongside.
  it.each(cases)(
    "$format/$name: stores every parsed entry once; a second import adds nothing",
    async ({ format, file }) => {
      const entries = parseFixture(format, file);
      expect(entries.length).toBeGreaterThan(0);
      const db = await createTestDatabase();
      try {
        const env = { DATABASE_URL: db.url };
        const first = await runCli(importArgs(format, file), env);
        expect(first.code, first.stderr).toBe(0);
        expect(first.stderr).not.toMatch(/"level":(50|60)/);
        expect(first.stdout).toContain(`file:        ${file}`);
        expect(first.stdout).toContain(`format:      ${format}`);
        expect(first.stdout).toContain(`entries:     ${entries.length} `);
        expect(first.stdout).toContain(`accepted:    ${entries.length}\n`);
        expect(first.stdout).toContain("rejected:    0\n");
        const stored = await storedEntries(db);
        expect(stored).toEqual(sortEntries(entries.map((entry) => ({ bank: entry.bank, entry_id: entry.entry_id }))));

        const second = await runCli(importArgs(format, file), env);
        expect(second.code, second.stderr).toBe(0);
        expect(second.stdout).toContain("accepted:    0\n");
        expect(second.stdout).toContain(`duplicates:  ${entries.length}\n`);
        expect(await storedEntries(db)).toEqual(stored);
        const rejected = await db.pool.query<{ n: number }>("select count(*)::int as n from rejected_messages");
        expect(rejected.rows[0]!.n).toBe(0);
        imported.push({
          fixture: `${format}/${path.basename(file)}`,
          parsed: entries.length,
          imported: stored.length,
          duplicatesOnReimport: Number(second.stdout.match(/duplicates: +(\d+)/)?.[1]),
        });
      } finally {
        await db.drop();
      }
    },
  );

  describe("malformed files", () => {
    let db: TestDatabase;
    let dir: string;
    beforeAll(async () => {
      db = await createTestDatabase();
      dir = mkdtempSync(path.join(tmpdir(), "payrecon-import-"));
    });
    afterAll(async () => {
      await db?.drop();
      rmSync(dir, { recursive: true, force: true });
    });

    const fixtureText = (format: StatementFormat, name: string) =>
      readFileSync(path.join(FIXTURES, format, name), "utf8");

    const broken: Array<{ what: string; format: StatementFormat; name: string; text: () => string; where: RegExp }> = [
      {
        what: "a camt.053 cut off mid-element",
        format: "camt053",
        name: "truncated.xml",
        text: () => fixtureText("camt053", "vr-bank-de_camt.053.001.02_dk.xml").slice(0, 3000),
        where: /line \d+/,
      },
      {
        what: "a camt.053 with an amount that is not a number",
        format: "camt053",
        name: "bad-amount.xml",
        text: () =>
          fixtureText("camt053", "finance-finland_camt.053.001.02_sample.xml").replace(
            /(<Ntry>[\s\S]*?<Amt Ccy="EUR">)[^<]+/,
            "$1ten euros",
          ),
        where: /Ntry\[\d+\]/,
      },
      {
        what: "an MT940 without its closing balance",
        format: "mt940",
        name: "truncated.sta",
        text: () => fixtureText("mt940", "abnamro-nl.txt").split("\n").slice(0, 8).join("\n"),
        where: /line \d+/,
      },
      {
        what: "a BAI2 file whose control totals do not add up (without --allow-total-mismatch)",
        format: "bai2",
        name: "moov_sample4_gs_ach-returns.bai2",
        text: () => fixtureText("bai2", "moov_sample4_gs_ach-returns.bai2"),
        where: /line \d+/,
      },
    ];

    it.each(broken)(
      "$what: exits 1, names the file and where, stores nothing",
      async ({ format, name, text, where }) => {
        const file = path.join(dir, name);
        writeFileSync(file, text());
        const result = await runCli(["import", format, file], { DATABASE_URL: db.url });
        expect(result.code).toBe(1);
        expect(result.stdout).toBe("");
        const errorLine = result.stderr.split("\n").find((line) => line.startsWith("payrecon import: "));
        expect(errorLine, result.stderr).toBeDefined();
        expect(errorLine).toContain(file);
        expect(errorLine).toMatch(where);
        expect(errorLine).toContain("nothing was imported");
        expect(await storedEntries(db)).toEqual([]);
      },
    );

    it("reads Latin-1 files (decoded as UTF-8 only when valid)", async () => {
      const text = fixtureText("mt940", "citi-us.txt").replace(
        "SOMETHING FOO BAR          112233",
        "ZAHLUNG FÜR MÜLLER         112233",
      );
      const file = path.join(dir, "latin1.sta");
      writeFileSync(file, Buffer.from(text, "latin1"));
      const own = await createTestDatabase();
      try {
        const result = await runCli(["import", "mt940", file, "--bank", "Citi US"], { DATABASE_URL: own.url });
        expect(result.code, result.stderr).toBe(0);
        expect(result.stdout).toContain("(read as latin1)");
        const rows = await own.pool.query<{ bank: string; remittance_info: string }>(
          "select bank, remittance_info from bank_entries where remittance_info like '%FÜR MÜLLER%'",
        );
        expect(rows.rows.length).toBe(1);
        expect(rows.rows[0]!.bank).toBe("citi_us");
      } finally {
        await own.drop();
      }
    });

    it("rejects bad usage with exit code 2, and --dry-run publishes nothing", async () => {
      const env = { DATABASE_URL: db.url };
      const sample = path.join(FIXTURES, "mt940", "citi-us.txt");
      expect((await runCli(["import"], env)).code).toBe(2);
      expect((await runCli(["import", "csv", sample], env)).code).toBe(2);
      expect((await runCli(["import", "mt940", sample, "--nope"], env)).code).toBe(2);
      expect((await runCli(["import", "mt940", sample, "--bank", "***"], env)).code).toBe(2);
      const missing = await runCli(["import", "mt940", path.join(dir, "missing.sta")], env);
      expect(missing.code).toBe(1);
      expect(missing.stderr).toContain("missing.sta: cannot read the file (ENOENT)");
      const dry = await runCli(["import", "mt940", sample, "--dry-run"], env);
      expect(dry.code, dry.stderr).toBe(0);
      expect(dry.stdout).toContain("entries:     3 parsed (dry run: nothing published)");
      expect(await storedEntries(db)).toEqual([]);
    });
  });

  describe("through Kafka", () => {
    it("produces every entry to the bank topic keyed by entry_id", async () => {
      const file = path.join(FIXTURES, "mt940", "dresdner-de_sepa_returns-reversals-batches.sta");
      const entries = parseFixture("mt940", file);
      const topics = uniqueTopics();
      const result = await runCli(["import", "mt940", file], {
        KAFKA_BROKERS: inject("kafkaBrokers"),
        TOPIC_BANK: topics.bank,
        // No database is touched on this path: an unreachable one proves it.
        DATABASE_URL: "postgres://nobody:nothing@127.0.0.1:1/none",
      });
      expect(result.code, result.stderr).toBe(0);
      expect(result.stdout).toContain(`entries:     ${entries.length} published to Kafka topic ${topics.bank}`);
      const messages = await readTopic(topics.bank, (read) => read.length >= entries.length);
      expect(messages.length).toBe(entries.length);
      const byKey = new Map(messages.map((message) => [message.key, JSON.parse(message.value!.toString())]));
      expect(byKey.size).toBe(entries.length);
      for (const entry of entries) expect(byKey.get(entry.entry_id)).toEqual(JSON.parse(JSON.stringify(entry)));
    });
  });

  describe("end to end", () => {
    it("an imported camt.053 settles the expected payment whose reference is an entry's EndToEndId", async () => {
      const file = path.join(FIXTURES, "camt053", "finance-finland_camt.053.001.02_sample.xml");
      const entry = parseFixture("camt053", file).find((candidate) => candidate.end_to_end_id === "EndToEndIdSCT01");
      expect(entry).toMatchObject({ direction: "credit", amount_minor: 1_000_000, currency: "EUR", status: "booked" });
      const db = await createTestDatabase();
      const daemon = await startTestDaemon({ DATABASE_URL: db.url });
      try {
        const payment = {
          id: "exp_ff_sct01",
          direction: "collection",
          amount_minor: entry!.amount_minor,
          currency: entry!.currency,
          gateway: "sepa",
          reference: "EndToEndIdSCT01",
          counterparty: "cust_ff",
          created_at: "2009-10-26T09:00:00Z",
          due_at: "2009-10-30T17:00:00Z",
        };
        const posted = await api(daemon.baseUrl, "ingester")("/api/v1/ingest/payments.expected", {
          method: "POST",
          body: JSON.stringify(payment),
        });
        expect(posted.body).toMatchObject({ accepted: 1 });
        const before = await api(daemon.baseUrl, "viewer")(`/api/v1/payments/${payment.id}`);
        expect(before.body.status).not.toBe("settled");

        const result = await runCli(["import", "camt053", file], { DATABASE_URL: db.url });
        expect(result.code, result.stderr).toBe(0);

        const after = await api(daemon.baseUrl, "viewer")(`/api/v1/payments/${payment.id}`);
        expect(after.status).toBe(200);
        expect(after.body).toMatchObject({
          id: payment.id,
          status: "settled",
          settled_amount_minor: payment.amount_minor,
          failure_category: null,
        });
        expect(after.body.timeline.map((item: { type: string }) => item.type)).toEqual(
          expect.arrayContaining(["expected.created", "bank.booked", "status.settled"]),
        );
      } finally {
        await daemon.stop();
        await db.drop();
      }
    });
  });
});
