import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { readAdyenSettlementReport } from "../../src/adapters/adyenSettlement.js";
import { parseStatementFile, type StatementFormat } from "../../src/import/index.js";
import { statementSummaries } from "../../src/import/publish.js";
import type { BankEntry, GatewayEventInput } from "../../src/messages/schemas.js";
import { isoDaysFromNow } from "../support/clock.js";
import { createTestDatabase, type TestDatabase } from "../support/database.js";
import { type AdyenLine, adyenCsv, adyenLine } from "../support/adyenReport.js";
import { runCli } from "../support/cli.js";
import { api, startTestDaemon } from "../support/daemon.js";
import { readTopic, uniqueTopics } from "../support/kafka.js";

/**
 * `payrecon import` as a real child process: every shared sample statement into
 * a database (twice: the second import changes nothing), malformed files that
 * import nothing, one run through Kafka, and a statement that settles a payment.
 * Then `adyen-settlement`: a Settlement details report built here (the shared
 * fixtures have no permissively licensed one) into a database, through Kafka,
 * malformed, and settling its payments against the bank credits of its payouts.
 */

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
const FIXTURES = path.resolve(repoRoot, "../shared/fixtures");
const FORMATS: StatementFormat[] = ["camt053", "camt054", "mt940", "bai2"];
function importArgs(format: StatementFormat, file: string): string[] {
  return ["import", format, file];
}

function parseFixture(format: StatementFormat, file: string): BankEntry[] {
  return parseStatementFile(format, readFileSync(file, "utf8")).entries;
}

async function storedEntries(db: TestDatabase): Promise<Array<{ bank: string; entry_id: string }>> {
  const rows = await db.pool.query<{ bank: string; entry_id: string }>("select bank, entry_id from bank_entries");
  return sortEntries(rows.rows);
}

function sortEntries<T extends { bank: string; entry_id: string }>(rows: T[]): T[] {
  const key = (row: T) => `${row.bank}\u0000${row.entry_id}`;
  return rows.sort((a, b) => (key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : 0));
}

const EUR_ACCOUNT = "PayreconTestEUR";
const JP_ACCOUNT = "PayreconTestJP";
const EUR_BATCH = `adyen-${EUR_ACCOUNT}-batch-101`;
const JP_BATCH = `adyen-${JP_ACCOUNT}-batch-7`;

/**
 * Two payable batches and one the contract cannot express:
 * - EUR batch 101: ORD-ADY-1 (100.00 gross, 2.50 in fees), ORD-ADY-2 (50.00, 1.00), a 0.08 fee line,
 *   paid out 146.42 = 150.00 − 3.58 on 2026-11-23;
 * - JPY batch 7: ORD-ADY-JP-1 (¥10000, ¥300 commission), paid out ¥9700 on 2026-11-22;
 * - EUR batch 103: only a monthly fee of 3.00, and a MerchantPayout debiting 2.00 that disagrees with it (skipped,
 *   not published; a fee-only batch whose payout agrees is a negative batch, CONTRACT §8, and is published).
 */
const ADYEN_LINES: AdyenLine[] = [
  adyenLine(EUR_ACCOUNT, "101", "Settled", "EUR", {
    "Psp Reference": "8800000000000001",
    "Merchant Reference": "ORD-ADY-1",
    "Payment Method": "visa",
    "Gross Credit (GC)": "100.00",
    "Net Credit (NC)": "97.50",
    "Commission (NC)": "1.00",
    "Markup (NC)": "0.50",
    "Scheme Fees (NC)": "0.30",
    "Interchange (NC)": "0.70",
  }),
  adyenLine(EUR_ACCOUNT, "101", "Settled", "EUR", {
    "Psp Reference": "8800000000000002",
    "Merchant Reference": "ORD-ADY-2",
    "Payment Method": "mc",
    "Creation Date": "2026-11-21 11:30:00",
    "Gross Credit (GC)": "50.00",
    "Net Credit (NC)": "49.00",
    "Commission (NC)": "1.00",
  }),
  adyenLine(EUR_ACCOUNT, "101", "Fee", "EUR", {
    "Modification Reference": "Transaction Fees November 2026",
    "Creation Date": "2026-11-22 02:00:00",
    "Net Debit (NC)": "0.08",
  }),
  adyenLine(EUR_ACCOUNT, "101", "MerchantPayout", "EUR", {
    "Modification Reference": "Payout of batch 101",
    "Creation Date": "2026-11-23 05:00:00",
    "Net Debit (NC)": "146.42",
  }),
  adyenLine(JP_ACCOUNT, "7", "Settled", "JPY", {
    "Psp Reference": "8800000000000007",
    "Merchant Reference": "ORD-ADY-JP-1",
    "Payment Method": "jcb",
    TimeZone: "JST",
    "Gross Credit (GC)": "10000",
    "Net Credit (NC)": "9700",
    "Commission (NC)": "300",
  }),
  adyenLine(JP_ACCOUNT, "7", "MerchantPayout", "JPY", {
    TimeZone: "JST",
    "Creation Date": "2026-11-22 09:00:00",
    "Net Debit (NC)": "9700",
  }),
  adyenLine(EUR_ACCOUNT, "103", "Fee", "EUR", {
    "Modification Reference": "Monthly minimum",
    "Creation Date": "2026-11-22 03:00:00",
    "Net Debit (NC)": "3.00",
  }),
  adyenLine(EUR_ACCOUNT, "103", "MerchantPayout", "EUR", {
    "Creation Date": "2026-11-22 03:00:00",
    "Net Credit (NC)": "2.00",
  }),
];

const ADYEN_EXPECTED = [
  {
    batch_id: EUR_BATCH,
    currency: "EUR",
    gross_minor: 15_000,
    fee_minor: 358,
    amount_minor: 14_642,
    expected_arrival: "2026-11-23",
    references: ["ORD-ADY-1", "ORD-ADY-2"],
  },
  {
    batch_id: JP_BATCH,
    currency: "JPY",
    gross_minor: 10_000,
    fee_minor: 300,
    amount_minor: 9_700,
    expected_arrival: "2026-11-22",
    references: ["ORD-ADY-JP-1"],
  },
];

interface StoredBatchEvent {
  event_id: string;
  gateway: string;
  type: string;
  batch_id: string;
  currency: string;
  gross_minor: number;
  fee_minor: number;
  amount_minor: number;
  expected_arrival: string;
  references: string[];
}

async function storedBatchEvents(db: TestDatabase): Promise<StoredBatchEvent[]> {
  const rows = await db.pool.query<StoredBatchEvent>(
    `select event_id, gateway, type, batch_id, currency, amount_minor::int as amount_minor,
            (body->>'gross_minor')::int as gross_minor, (body->>'fee_minor')::int as fee_minor,
            body->>'expected_arrival' as expected_arrival,
            array(select jsonb_array_elements_text(body->'references')) as "references"
       from gateway_events order by batch_id`,
  );
  return rows.rows;
}

async function factCounts(db: TestDatabase): Promise<Record<string, number>> {
  const tables = ["gateway_events", "settlement_batches", "batch_references", "rejected_messages"];
  const counts: Record<string, number> = {};
  for (const table of tables) {
    const result = await db.pool.query<{ n: number }>(`select count(*)::int as n from ${table}`);
    counts[table] = result.rows[0]!.n;
  }
  return counts;
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
        expect(first.stderr).not.toMatch(/"level":"(error|fatal)"/);
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

    const broken: Array<{
      what: string;
      format: StatementFormat;
      name: string;
      text: () => string;
      where: RegExp;
      options?: string[];
    }> = [
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
        what: "a BAI2 file whose control totals do not add up, with --strict",
        format: "bai2",
        name: "moov_sample4_gs_ach-returns.bai2",
        text: () => fixtureText("bai2", "moov_sample4_gs_ach-returns.bai2"),
        where:
          /does not add up: line 22: account 107049932 control total .* \(and 15 more\) \(nothing was imported: --strict\)/,
        options: ["--strict"],
      },
      {
        what: "a camt.053 whose TxsSummry disagrees with its entries, with --strict",
        format: "camt053",
        name: "ing-nl_camt.053.001.02_batch-booking.xml",
        text: () => fixtureText("camt053", "ing-nl_camt.053.001.02_batch-booking.xml"),
        where: /does not add up: Document\/BkToCstmrStmt\/Stmt .*--strict/,
        options: ["--strict"],
      },
    ];

    it.each(broken)(
      "$what: exits 1, names the file and where, stores nothing",
      async ({ format, name, text, where, options }) => {
        const file = path.join(dir, name);
        writeFileSync(file, text());
        const result = await runCli(["import", format, file, ...(options ?? [])], { DATABASE_URL: db.url });
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
        expect(result.stdout).toContain("(read as windows-1252, detected)");
        const rows = await own.pool.query<{ bank: string; remittance_info: string }>(
          "select bank, remittance_info from bank_entries where remittance_info like '%FÜR MÜLLER%'",
        );
        expect(rows.rows.length).toBe(1);
        expect(rows.rows[0]!.bank).toBe("citi_us");
      } finally {
        await own.drop();
      }
    });

    it("a statement that does not add up is imported all the same (exit 0), and named on stderr and stdout", async () => {
      // The same camt.053 --strict refuses above; BAI2 with wrong control totals is treated alike.
      const file = path.join(FIXTURES, "camt053", "ing-nl_camt.053.001.02_batch-booking.xml");
      const own = await createTestDatabase();
      try {
        const result = await runCli(["import", "camt053", file], { DATABASE_URL: own.url });
        expect(result.code, result.stderr).toBe(0);
        expect(result.stderr).toMatch(new RegExp(`payrecon import: ${file}: imported, but does not add up: `));
        expect(result.stdout).toMatch(/imbalances: +6\n {2}- does not add up: /);
        expect((await storedEntries(own)).length).toBe(parseFixture("camt053", file).length);
      } finally {
        await own.drop();
      }
    });

    it("a camt.054 with only INFO entries says so: exit 3, 'no booked entries' naming the file, nothing stored", async () => {
      const file = path.join(dir, "info-only.xml");
      writeFileSync(
        file,
        `<?xml version="1.0" encoding="UTF-8"?>
<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.054.001.08"><BkToCstmrDbtCdtNtfctn>
  <GrpHdr><MsgId>N1</MsgId><CreDtTm>2026-11-04T06:00:00</CreDtTm></GrpHdr>
  <Ntfctn><Id>N1</Id><Acct><Id><IBAN>DE89370400440532013000</IBAN></Id><Ccy>EUR</Ccy></Acct>
    <Ntry><Amt Ccy="EUR">10.00</Amt><CdtDbtInd>CRDT</CdtDbtInd><Sts><Cd>INFO</Cd></Sts><BookgDt><Dt>2026-11-03</Dt></BookgDt></Ntry>
  </Ntfctn></BkToCstmrDbtCdtNtfctn></Document>`,
      );
      const result = await runCli(["import", "camt054", file], { DATABASE_URL: db.url });
      expect(result.code, result.stderr).toBe(3);
      expect(result.stderr).toContain(`payrecon import: ${file}: no booked entries`);
      expect(result.stdout).toContain("has status INFO, not imported");
      expect(await storedEntries(db)).toEqual([]);
    });

    it("a Hungarian MT940 in CP852 is stored with its letters, detected or named by --encoding", async () => {
      // Written for this test; ő ű Ő Ű á é as CP852 bytes (0x8B 0xFB 0x8A 0xEB 0xA0 0x82).
      const lines = [
        ":20:HU2611030001",
        ":25:HU42117730161111101800000000",
        ":28C:00042/001",
        ":60F:C261102HUF100000,",
        ":61:2611031103C25000,NTRFNONREF//B261103001",
        ":86:/NAME/K\u0151b\u00e1nya Kft/REMI/El\u0151leg f\u0171t\u00e9s \u0150SZ \u0170R/",
        ":62F:C261103HUF125000,",
        "-",
      ].join("\r\n");
      const cp852: Record<string, number> = { ő: 0x8b, ű: 0xfb, Ő: 0x8a, Ű: 0xeb, á: 0xa0, é: 0x82 };
      const bytes = Buffer.from([...lines].map((char) => cp852[char] ?? char.charCodeAt(0)));
      const file = path.join(dir, "otp-cp852.sta");
      writeFileSync(file, bytes);
      for (const options of [[], ["--encoding", "cp852"]]) {
        const own = await createTestDatabase();
        try {
          const result = await runCli(["import", "mt940", file, ...options], { DATABASE_URL: own.url });
          expect(result.code, result.stderr).toBe(0);
          expect(result.stdout).toContain(options.length > 0 ? "(read as cp852, option)" : "(read as cp852, detected)");
          const rows = await own.pool.query<{ counterparty_name: string; remittance_info: string }>(
            "select counterparty_name, remittance_info from bank_entries",
          );
          expect(rows.rows).toEqual([
            expect.objectContaining({
              counterparty_name: "Kőbánya Kft",
              remittance_info: expect.stringContaining("Előleg fűtés ŐSZ ŰR"),
            }),
          ]);
        } finally {
          await own.drop();
        }
      }
    });

    it("rejects bad usage with exit code 2, and --dry-run publishes nothing", async () => {
      const env = { DATABASE_URL: db.url };
      const sample = path.join(FIXTURES, "mt940", "citi-us.txt");
      expect((await runCli(["import"], env)).code).toBe(2);
      expect((await runCli(["import", "csv", sample], env)).code).toBe(2);
      expect((await runCli(["import", "mt940", sample, "--nope"], env)).code).toBe(2);
      expect((await runCli(["import", "mt940", sample, "--bank", "***"], env)).code).toBe(2);
      expect((await runCli(["import", "mt940", sample, "--encoding", "ebcdic"], env)).code).toBe(2);
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
    it("produces every entry to the bank topic keyed by entry_id, then each statement's summary", async () => {
      const file = path.join(FIXTURES, "mt940", "dresdner-de_sepa_returns-reversals-batches.sta");
      const entries = parseFixture("mt940", file);
      const summaries = statementSummaries(parseStatementFile("mt940", readFileSync(file, "utf8")), "unknown");
      expect(summaries.length).toBeGreaterThan(0);
      const topics = uniqueTopics();
      const result = await runCli(["import", "mt940", file], {
        KAFKA_BROKERS: inject("kafkaBrokers"),
        TOPIC_BANK: topics.bank,
        // No database is touched on this path: an unreachable one proves it.
        DATABASE_URL: "postgres://nobody:nothing@127.0.0.1:1/none",
      });
      expect(result.code, result.stderr).toBe(0);
      expect(result.stdout).toContain(`entries:     ${entries.length} published to Kafka topic ${topics.bank}`);
      const messages = await readTopic(topics.bank, (read) => read.length >= entries.length + summaries.length);
      expect(messages.length).toBe(entries.length + summaries.length);
      const byKey = new Map(messages.map((message) => [message.key, JSON.parse(message.value!.toString())]));
      expect(byKey.size).toBe(entries.length + summaries.length);
      for (const entry of entries) expect(byKey.get(entry.entry_id)).toEqual(JSON.parse(JSON.stringify(entry)));
      for (const statement of summaries) expect(byKey.get(statement.statement_id)).toEqual(statement);
      // Keys differ, so Kafka does not keep a summary behind its lines: the daemon checks a statement
      // whichever arrives last (statementChecks.test.ts).
    });
  });

  describe("end to end", () => {
    it("a statement that does not add up is imported and raises statement_imbalance in the daemon, once per statement", async () => {
      const file = path.join(FIXTURES, "mt940", "abnamro-nl.txt");
      const parsed = parseStatementFile("mt940", readFileSync(file, "utf8"));
      const summaries = statementSummaries(parsed, "unknown");
      expect(parsed.imbalances.length).toBeGreaterThan(0);
      const db = await createTestDatabase();
      try {
        const result = await runCli(["import", "mt940", file], { DATABASE_URL: db.url });
        expect(result.code, result.stderr).toBe(0);
        expect(result.stdout).toContain(
          `summaries:   ${summaries.length} statement summaries, ${summaries.length} accepted`,
        );
        const raised = await db.pool.query<{ n: number }>(
          "select count(*)::int as n from exceptions where kind = 'statement_imbalance' and state = 'open'",
        );
        // The importer and the daemon apply the same rule to the same numbers.
        expect(raised.rows[0]!.n).toBe(parsed.imbalances.length);
        const again = await runCli(["import", "mt940", file], { DATABASE_URL: db.url });
        expect(again.stdout).toContain(
          `${summaries.length} statement summaries, 0 accepted, ${summaries.length} duplicates`,
        );
        const after = await db.pool.query<{ n: number }>(
          "select count(*)::int as n from exceptions where kind = 'statement_imbalance'",
        );
        expect(after.rows[0]!.n).toBe(parsed.imbalances.length);
      } finally {
        await db.drop();
      }
    });

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

  describe("adyen-settlement", () => {
    let dir: string;
    let report: string;
    beforeAll(() => {
      dir = mkdtempSync(path.join(tmpdir(), "payrecon-import-adyen-"));
      report = path.join(dir, "settlement_detail_report.csv");
      writeFileSync(report, adyenCsv(ADYEN_LINES));
    });
    afterAll(() => rmSync(dir, { recursive: true, force: true }));

    it("stores one settlement.batch per batch with gross, fee and net; a second import adds nothing", async () => {
      const db = await createTestDatabase();
      try {
        const env = { DATABASE_URL: db.url };
        const first = await runCli(["import", "adyen-settlement", report], env);
        expect(first.code, first.stderr).toBe(0);
        expect(first.stderr).not.toMatch(/"level":"(error|fatal)"/);
        expect(first.stdout).toContain(`file:        ${report}\n`);
        expect(first.stdout).toContain("format:      adyen-settlement\n");
        expect(first.stdout).toContain("batches:     2 published directly to the database (no Kafka)\n");
        expect(first.stdout).toContain(
          `  ${EUR_BATCH}: EUR gross 150.00 fee 3.58 net 146.42, 2 payments, arrival 2026-11-23\n`,
        );
        expect(first.stdout).toContain(
          `  ${JP_BATCH}: JPY gross 10000 fee 300 net 9700, 1 payments, arrival 2026-11-22\n`,
        );
        expect(first.stdout).toContain("accepted:    2\nduplicates:  0\nrejected:    0\n");
        expect(first.stdout).toMatch(/skipped: {5}1\n {2}- [^\n]*adyen-PayreconTestEUR-batch-103[^\n]*\n$/);

        expect(await storedBatchEvents(db)).toEqual(
          ADYEN_EXPECTED.map((batch) => ({
            ...batch,
            event_id: batch.batch_id,
            gateway: "adyen",
            type: "settlement.batch",
          })),
        );
        const batches = await db.pool.query(
          `select batch_id, gross_minor::int as gross, fee_minor::int as fee, net_minor::int as net, currency, state
             from settlement_batches order by batch_id`,
        );
        expect(batches.rows).toEqual(
          ADYEN_EXPECTED.map((batch) => ({
            batch_id: batch.batch_id,
            gross: batch.gross_minor,
            fee: batch.fee_minor,
            net: batch.amount_minor,
            currency: batch.currency,
            // No bank credit yet.
            state: "waiting",
          })),
        );
        const counts = await factCounts(db);
        expect(counts).toEqual({
          gateway_events: 2,
          settlement_batches: 2,
          batch_references: 3,
          rejected_messages: 0,
        });

        const second = await runCli(["import", "adyen-settlement", report], env);
        expect(second.code, second.stderr).toBe(0);
        expect(second.stdout).toContain("accepted:    0\nduplicates:  2\nrejected:    0\n");
        expect(await factCounts(db)).toEqual(counts);
      } finally {
        await db.drop();
      }
    });

    it("produces every batch to the gateway topic keyed by batch_id", async () => {
      const events = readAdyenSettlementReport(adyenCsv(ADYEN_LINES)).events;
      expect(events).toHaveLength(2);
      const topics = uniqueTopics();
      const result = await runCli(["import", "adyen-settlement", report], {
        KAFKA_BROKERS: inject("kafkaBrokers"),
        TOPIC_GATEWAY: topics.gateway,
        TOPIC_BANK: topics.bank,
        // No database is touched on this path: an unreachable one proves it.
        DATABASE_URL: "postgres://nobody:nothing@127.0.0.1:1/none",
      });
      expect(result.code, result.stderr).toBe(0);
      expect(result.stdout).toContain(`batches:     2 published to Kafka topic ${topics.gateway}\n`);
      const messages = await readTopic(topics.gateway, (read) => read.length >= events.length);
      expect(messages.length).toBe(events.length);
      const byKey = new Map(messages.map((message) => [message.key, JSON.parse(message.value!.toString())]));
      expect([...byKey.keys()].sort()).toEqual([EUR_BATCH, JP_BATCH]);
      for (const event of events as Array<Extract<GatewayEventInput, { type: "settlement.batch" }>>) {
        expect(byKey.get(event.batch_id)).toEqual(JSON.parse(JSON.stringify(event)));
        expect(byKey.get(event.batch_id)).toMatchObject(ADYEN_EXPECTED.find((b) => b.batch_id === event.batch_id)!);
      }
    });

    describe("malformed reports and bad usage", () => {
      let db: TestDatabase;
      beforeAll(async () => {
        db = await createTestDatabase();
      });
      afterAll(async () => {
        await db?.drop();
      });

      const broken: Array<{ what: string; name: string; text: () => string; where: RegExp }> = [
        {
          what: "a line type it does not know, with money on it",
          name: "unknown-type.csv",
          text: () =>
            adyenCsv([
              ...ADYEN_LINES,
              adyenLine(EUR_ACCOUNT, "101", "SomethingNew", "EUR", { "Net Credit (NC)": "5.00" }),
            ]),
          where: /line 10: unknown settlement line type "SomethingNew"/,
        },
        {
          what: "an amount with more decimals than the currency has",
          name: "bad-amount.csv",
          text: () =>
            adyenCsv(ADYEN_LINES.map((line, index) => (index === 1 ? { ...line, "Net Credit (NC)": "49.001" } : line))),
          where: /line 3: Net Credit \(NC\) "49\.001"/,
        },
        {
          what: "a CSV without the report's columns",
          name: "other.csv",
          text: () => "Merchant Account,Type,Amount\nPayreconTestEUR,Settled,1.00\n",
          where: /lacks columns: /,
        },
        {
          what: "a file that is not a report at all",
          name: "notes.txt",
          text: () => "just some notes\n",
          where: /no settlement lines/,
        },
        { what: "an empty file", name: "empty.csv", text: () => "\n", where: /the file is empty/ },
      ];

      it.each(broken)(
        "$what: exits 1, names the file and the problem, stores nothing",
        async ({ name, text, where }) => {
          const file = path.join(dir, name);
          writeFileSync(file, text());
          const result = await runCli(["import", "adyen-settlement", file], { DATABASE_URL: db.url });
          expect(result.code).toBe(1);
          expect(result.stdout).toBe("");
          const errorLine = result.stderr.split("\n").find((line) => line.startsWith("payrecon import: "));
          expect(errorLine, result.stderr).toBeDefined();
          expect(errorLine).toContain(file);
          expect(errorLine).toMatch(where);
          expect(errorLine).toContain("nothing was imported");
          expect(await factCounts(db)).toEqual({
            gateway_events: 0,
            settlement_batches: 0,
            batch_references: 0,
            rejected_messages: 0,
          });
        },
      );

      it("publishes nothing to Kafka either: the file is refused before any connection", async () => {
        const file = path.join(dir, "unknown-type-kafka.csv");
        writeFileSync(file, broken[0]!.text());
        const result = await runCli(["import", "adyen-settlement", file], {
          // Neither is reachable: a run that got as far as publishing would fail differently, or hang.
          KAFKA_BROKERS: "127.0.0.1:1",
          DATABASE_URL: "postgres://nobody:nothing@127.0.0.1:1/none",
        });
        expect(result.code).toBe(1);
        expect(result.stdout).toBe("");
        expect(result.stderr).toMatch(/unknown settlement line type "SomethingNew" \(nothing was imported\)/);
      });

      it("refuses the bank statement options with exit code 2, and --dry-run publishes nothing", async () => {
        const env = { DATABASE_URL: db.url };
        const bank = await runCli(["import", "adyen-settlement", report, "--bank", "Adyen"], env);
        expect(bank.code).toBe(2);
        expect(bank.stderr).toContain("--bank does not apply to adyen-settlement");
        const lenient = await runCli(["import", "adyen-settlement", report, "--allow-total-mismatch"], env);
        expect(lenient.code).toBe(2);
        expect(lenient.stderr).toContain("--allow-total-mismatch does not apply to adyen-settlement");
        const dry = await runCli(["import", "adyen-settlement", report, "--dry-run"], env);
        expect(dry.code, dry.stderr).toBe(0);
        expect(dry.stdout).toContain("batches:     2 parsed (dry run: nothing published)\n");
        expect((await factCounts(db)).gateway_events).toBe(0);
      });
    });

    it("settles the batch's payments when the bank credits its net (before or after the import)", async () => {
      const db = await createTestDatabase();
      const daemon = await startTestDaemon({ DATABASE_URL: db.url });
      try {
        const payment = (id: string, reference: string, amount: number, currency: string) => ({
          id,
          direction: "collection",
          amount_minor: amount,
          currency,
          gateway: "adyen",
          reference,
          counterparty: `cust_${id}`,
          // Due after the run, whatever the day: the report's own (fixed) dates only meet each other.
          created_at: isoDaysFromNow(-3),
          due_at: isoDaysFromNow(7),
        });
        const payments = [
          payment("exp_ady_1", "ORD-ADY-1", 10_000, "EUR"),
          payment("exp_ady_2", "ORD-ADY-2", 5_000, "EUR"),
          payment("exp_ady_jp_1", "ORD-ADY-JP-1", 10_000, "JPY"),
        ];
        const ingest = api(daemon.baseUrl, "ingester");
        const posted = await ingest("/api/v1/ingest/payments.expected", {
          method: "POST",
          body: payments.map((p) => JSON.stringify(p)).join("\n"),
        });
        expect(posted.body).toMatchObject({ accepted: 3 });
        const credit = (entryId: string, amount: number, currency: string, date: string, remittance: string) => ({
          entry_id: entryId,
          bank: "bank_a",
          account: "DE89370400440532013000",
          direction: "credit",
          amount_minor: amount,
          currency,
          booking_date: date,
          value_date: date,
          status: "booked",
          end_to_end_id: null,
          remittance_info: remittance,
          counterparty_name: "ADYEN N.V.",
        });
        // The EUR payout reaches the bank before the report is imported; its text names no batch id,
        // so it is matched by amount (the batch net), currency and date once the batch arrives.
        const early = await ingest("/api/v1/ingest/bank.settlements", {
          method: "POST",
          body: JSON.stringify(credit("ADY-EUR-0001", 14_642, "EUR", "2026-11-24", "ADYEN N.V. PAYOUT 101")),
        });
        expect(early.body).toMatchObject({ accepted: 1 });

        const result = await runCli(["import", "adyen-settlement", report], { DATABASE_URL: db.url });
        expect(result.code, result.stderr).toBe(0);

        // The JPY payout arrives after, naming the batch.
        const late = await ingest("/api/v1/ingest/bank.settlements", {
          method: "POST",
          body: JSON.stringify(credit("ADY-JPY-0001", 9_700, "JPY", "2026-11-24", `ADYEN PAYOUT ${JP_BATCH}`)),
        });
        expect(late.body).toMatchObject({ accepted: 1 });

        const viewer = api(daemon.baseUrl, "viewer");
        for (const p of payments) {
          const view = await viewer(`/api/v1/payments/${p.id}`);
          expect(view.status).toBe(200);
          // A batch settles each payment it lists in full; the fees are the batch's.
          expect(view.body, p.id).toMatchObject({
            id: p.id,
            status: "settled",
            settled_amount_minor: p.amount_minor,
            failure_category: null,
          });
        }
        const batches = await db.pool.query(
          "select batch_id, state, settled_on::text, difference_minor from settlement_batches order by batch_id",
        );
        expect(batches.rows).toEqual([
          { batch_id: EUR_BATCH, state: "settled", settled_on: "2026-11-24", difference_minor: null },
          { batch_id: JP_BATCH, state: "settled", settled_on: "2026-11-24", difference_minor: null },
        ]);
        const matches = await db.pool.query(
          "select batch_id, method from bank_entry_matches where kind = 'batch' order by batch_id",
        );
        expect(matches.rows).toEqual([
          { batch_id: EUR_BATCH, method: "amount" },
          { batch_id: JP_BATCH, method: "remittance" },
        ]);
        const open = await viewer("/api/v1/exceptions?state=open");
        expect(open.status).toBe(200);
        expect(open.body.items).toEqual([]);
      } finally {
        await daemon.stop();
        await db.drop();
      }
    });
  });
});
