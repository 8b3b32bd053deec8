import { parse } from "csv-parse/sync";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadReconciliationReport } from "../../src/reports/loadReconciliation.js";
import { runCli } from "../support/cli.js";
import { createTestDatabase, type TestDatabase } from "../support/database.js";
import { api, startTestDaemon, type TestDaemon, waitUntil } from "../support/daemon.js";

/**
 * The reconciliation report end to end: realistic facts (collections and
 * payouts; EUR, JPY, KWD; three gateways; every outcome; unmatched bank
 * entries) go in over HTTP ingest, and the report's numbers are checked
 * against sums computed here, independently, from the facts sent and the
 * status each payment must end in — never from the payments table.
 */

// Times relative to the real clock (the reconciler and the report use it), far from every boundary.
const NOW = Math.floor(Date.now() / 1000) * 1000;
const MIN = 60_000;
const H = 60 * MIN;
const D = 24 * H;
const at = (offset: number) => new Date(NOW + offset).toISOString().replace(".000Z", "Z");
const day = (offset: number) => at(offset).slice(0, 10);

const FROM = at(-20 * D);
const TO = at(-30 * MIN);

type Status =
  | "pending"
  | "in_flight"
  | "settled"
  | "partially_settled"
  | "failed"
  | "held"
  | "delayed"
  | "mismatch"
  | "refunded"
  | "charged_back"
  | "cancelled";

/** The report's buckets, as this test expects them (in_flight = not ended, not overdue, nothing wrong). */
const BUCKET: Record<Status, string> = {
  pending: "in_flight",
  in_flight: "in_flight",
  partially_settled: "in_flight",
  settled: "settled",
  failed: "failed",
  held: "held",
  delayed: "delayed",
  mismatch: "mismatch",
  refunded: "reversed",
  charged_back: "reversed",
  cancelled: "cancelled",
};
const BUCKETS = ["settled", "in_flight", "failed", "held", "delayed", "mismatch", "reversed", "cancelled"];
const AGING = ["0-1d", "1-3d", "3-7d", "7d+"] as const;
const EXPONENT: Record<string, number> = { EUR: 2, JPY: 0, KWD: 3 };

/** Major-unit text, written here independently of the code under test. */
function major(minor: number, currency: string): string {
  const exponent = EXPONENT[currency]!;
  if (exponent === 0) return String(minor);
  const sign = minor < 0 ? "-" : "";
  const digits = String(Math.abs(minor)).padStart(exponent + 1, "0");
  return `${sign}${digits.slice(0, -exponent)}.${digits.slice(-exponent)}`;
}

interface Scenario {
  id: string;
  gateway: string;
  currency: string;
  direction: "collection" | "payout";
  amount: number;
  counterparty: string;
  createdAt: number;
  dueAt: number;
  installments?: Array<[number, number]>;
  /** The status this test expects the facts to lead to. */
  status: Status;
  /** What the bank showed for it, from the entries sent below. */
  bankSettled: number;
  /** For delayed payments: the bucket of days overdue. */
  aging?: (typeof AGING)[number];
  settledLate?: boolean;
  failureCode?: string;
  failureCategory?: string;
  events: Array<Record<string, unknown>>;
  entries: Array<Record<string, unknown>>;
  cancel?: boolean;
  /** Sent in a second wave, after everything else (for "last failure"). */
  late?: boolean;
}

let eventSeq = 0;
let entrySeq = 0;

function event(s: Pick<Scenario, "id" | "gateway" | "amount" | "currency">, type: string, offset: number, extra = {}) {
  return {
    event_id: `evt_${++eventSeq}`,
    gateway: s.gateway,
    type,
    reference: `REF-${s.id}`,
    gateway_payment_id: `gp_${s.id}`,
    amount_minor: s.amount,
    currency: s.currency,
    occurred_at: at(offset),
    ...extra,
  };
}

function entry(
  currency: string,
  direction: "credit" | "debit",
  amount: number,
  valueOffset: number,
  extra: Record<string, unknown> = {},
) {
  return {
    entry_id: `BK-${++entrySeq}`,
    bank: "bank_a",
    account: "DE89370400440532013000",
    direction,
    amount_minor: amount,
    currency,
    booking_date: day(valueOffset),
    value_date: day(valueOffset),
    status: "booked",
    end_to_end_id: null,
    remittance_info: null,
    counterparty_name: null,
    ...extra,
  };
}

type Base = Omit<Scenario, "events" | "entries" | "status" | "bankSettled"> & Partial<Scenario>;

function scenario(base: Base, build: (s: Base) => Partial<Scenario> & { status: Status }): Scenario {
  const built = build(base);
  return { events: [], entries: [], bankSettled: 0, ...base, ...built };
}

/** A bank line settling the payment by its reference (credit for a collection, debit for a payout). */
function settlingEntry(s: Base, amount: number, valueOffset: number) {
  return entry(s.currency, s.direction === "collection" ? "credit" : "debit", amount, valueOffset, {
    end_to_end_id: `REF-${s.id}`,
    remittance_info: `PAYMENT REF-${s.id}`,
  });
}

function base(
  id: string,
  gateway: string,
  currency: string,
  direction: "collection" | "payout",
  amount: number,
  createdAt: number,
  dueAt: number,
  counterparty = `cp_${id}`,
): Base {
  return { id, gateway, currency, direction, amount, createdAt, dueAt, counterparty };
}

const scenarios: Scenario[] = [
  // EUR collections
  scenario(base("C1", "stripe", "EUR", "collection", 125_000, -6 * D, 1 * D, "cust_77"), (s) => ({
    status: "settled",
    events: [event(s, "payment.captured", -3 * D)],
    entries: [settlingEntry(s, s.amount, -1 * D)],
    bankSettled: s.amount,
  })),
  scenario(base("C2", "stripe", "EUR", "collection", 9_999, -12 * D, -5 * D, "cust_77"), (s) => ({
    status: "settled",
    settledLate: true,
    events: [event(s, "payment.captured", -6 * D)],
    entries: [settlingEntry(s, s.amount, -2 * D)],
    bankSettled: s.amount,
  })),
  // Matched by a reference in the remittance text, and by amount + value date (no reference at all).
  scenario(base("C3", "stripe", "EUR", "collection", 5_000, -5 * D, 2 * D), (s) => ({
    status: "settled",
    events: [event(s, "payment.captured", -2 * D)],
    entries: [entry("EUR", "credit", 5_000, -1 * D, { remittance_info: "EREF+REF-C3 SVWZ+ORDER 3" })],
    bankSettled: 5_000,
  })),
  scenario(base("C4", "stripe", "EUR", "collection", 7_000, -5 * D, 1 * D), (s) => ({
    status: "settled",
    events: [event(s, "payment.captured", -2 * D)],
    entries: [entry("EUR", "credit", 7_000, -1 * D, { remittance_info: "SAMMELUEBERWEISUNG" })],
    bankSettled: 7_000,
  })),
  scenario(base("C5", "adyen", "EUR", "collection", 20_000, -2 * D, 5 * D), (s) => ({
    status: "in_flight",
    events: [event(s, "payment.authorized", -1 * H)],
  })),
  scenario(base("C6", "adyen", "EUR", "collection", 3_000, -1 * D, 3 * D), () => ({ status: "pending" })),
  scenario(
    {
      ...base("C7", "adyen", "EUR", "collection", 40_000, -10 * D, 10 * D),
      installments: [
        [20_000, -2 * D],
        [20_000, 10 * D],
      ],
    },
    (s) => ({
      status: "partially_settled",
      entries: [settlingEntry(s, 20_000, -3 * D)],
      bankSettled: 20_000,
    }),
  ),
  scenario(base("C8", "stripe", "EUR", "collection", 15_000, -3 * D, 4 * D), (s) => ({
    status: "failed",
    failureCode: "card_declined",
    events: [event(s, "payment.failed", -2 * D, { failure_code: "card_declined", failure_message: "Declined" })],
  })),
  scenario(base("C9", "stripe", "EUR", "collection", 8_000, -6 * D, 2 * D), (s) => ({
    status: "held",
    events: [event(s, "payment.captured", -4 * D)],
  })),
  scenario(base("C10", "stripe", "EUR", "collection", 6_000, -3 * D, -10 * H), (s) => ({
    status: "delayed",
    aging: "0-1d",
    events: [event(s, "payment.authorized", -2 * H)],
  })),
  scenario(base("C11", "adyen", "EUR", "collection", 7_500, -8 * D, -2 * D, "cust_77"), () => ({
    status: "delayed",
    aging: "1-3d",
  })),
  scenario(
    {
      ...base("C12", "adyen", "EUR", "collection", 30_000, -15 * D, -5 * D),
      installments: [
        [10_000, -9 * D],
        [20_000, -5 * D],
      ],
    },
    (s) => ({
      status: "delayed",
      aging: "3-7d",
      entries: [settlingEntry(s, 10_000, -9 * D)],
      bankSettled: 10_000,
    }),
  ),
  scenario(base("C13", "stripe", "EUR", "collection", 11_111, -15 * D, -9 * D), () => ({
    status: "delayed",
    aging: "7d+",
  })),
  scenario(base("C14", "stripe", "EUR", "collection", 50_000, -4 * D, 1 * D), (s) => ({
    status: "mismatch",
    entries: [settlingEntry(s, 49_000, -1 * D)],
    bankSettled: 49_000,
  })),
  scenario(base("C15", "stripe", "EUR", "collection", 12_000, -9 * D, -4 * D), (s) => ({
    status: "refunded",
    events: [event(s, "payment.captured", -8 * D), event(s, "payment.refunded", -2 * D)],
    entries: [settlingEntry(s, s.amount, -6 * D)],
    bankSettled: s.amount,
  })),
  scenario(base("C16", "adyen", "EUR", "collection", 9_000, -9 * D, -4 * D), (s) => ({
    status: "charged_back",
    events: [event(s, "payment.captured", -8 * D), event(s, "payment.chargeback", -1 * D, { failure_code: "fraud" })],
    entries: [settlingEntry(s, s.amount, -6 * D)],
    bankSettled: s.amount,
  })),
  scenario(base("C17", "adyen", "EUR", "collection", 4_000, -2 * D, 6 * D), () => ({
    status: "cancelled",
    cancel: true,
  })),
  // EUR payouts
  scenario(base("P1", "stripe", "EUR", "payout", 250_000, -5 * D, 1 * D, "cust_77"), (s) => ({
    status: "settled",
    events: [event(s, "payout.submitted", -3 * D), event(s, "payout.paid", -2 * D)],
    entries: [settlingEntry(s, s.amount, -2 * D)],
    bankSettled: s.amount,
  })),
  scenario(base("P2", "stripe", "EUR", "payout", 30_000, -5 * D, 1 * D, "cust_77"), (s) => ({
    status: "failed",
    failureCode: "insufficient_funds",
    failureCategory: "insufficient_funds",
    events: [
      event(s, "payout.submitted", -3 * D),
      event(s, "payout.failed", -2 * D, { failure_code: "insufficient_funds" }),
    ],
  })),
  scenario(base("P3", "adyen", "EUR", "payout", 45_000, -1 * D, 2 * D), (s) => ({
    status: "in_flight",
    events: [event(s, "payout.submitted", -1 * H)],
  })),
  scenario(base("P4", "adyen", "EUR", "payout", 60_000, -6 * D, -36 * H), (s) => ({
    status: "delayed",
    aging: "1-3d",
    events: [event(s, "payout.submitted", -3 * D)],
  })),
  scenario(base("P5", "stripe", "EUR", "payout", 7_000, -2 * D, 3 * D), () => ({
    status: "cancelled",
    cancel: true,
  })),
  // JPY (no decimals)
  scenario(base("J1", "stripe", "JPY", "collection", 125_000, -4 * D, 2 * D), (s) => ({
    status: "settled",
    events: [event(s, "payment.captured", -2 * D)],
    entries: [settlingEntry(s, s.amount, -1 * D)],
    bankSettled: s.amount,
  })),
  scenario(base("J2", "stripe", "JPY", "collection", 3_000, -10 * D, -4 * D), () => ({
    status: "delayed",
    aging: "3-7d",
  })),
  scenario(base("J3", "stripe", "JPY", "payout", 50_000, -4 * D, 1 * D), (s) => ({
    status: "settled",
    events: [event(s, "payout.paid", -2 * D)],
    entries: [settlingEntry(s, s.amount, -1 * D)],
    bankSettled: s.amount,
  })),
  scenario(base("J4", "stripe", "JPY", "payout", 20_000, -3 * D, 2 * D, "cust_77"), (s) => ({
    status: "failed",
    failureCode: "account_closed",
    failureCategory: "account_closed",
    late: true,
    events: [event(s, "payout.failed", -1 * D, { failure_code: "account_closed" })],
  })),
  // KWD (three decimals)
  scenario(base("K1", "adyen", "KWD", "payout", 1_250_500, -5 * D, 1 * D), (s) => ({
    status: "settled",
    events: [event(s, "payout.submitted", -3 * D), event(s, "payout.paid", -2 * D)],
    entries: [settlingEntry(s, s.amount, -2 * D)],
    bankSettled: s.amount,
  })),
  scenario(base("K2", "adyen", "KWD", "payout", 75_250, -3 * D, 3 * D), (s) => ({
    status: "held",
    events: [
      event(s, "payout.submitted", -2 * D),
      event(s, "payout.held", -1 * D, { hold_reason: "compliance_review" }),
    ],
  })),
  scenario(base("K3", "adyen", "KWD", "payout", 100_000, -6 * D, -4 * D), (s) => ({
    status: "failed",
    failureCode: "AC04",
    events: [event(s, "payout.paid", -5 * D)],
    entries: [
      settlingEntry(s, s.amount, -4 * D),
      entry(s.currency, "credit", s.amount, -1 * D, {
        status: "returned",
        end_to_end_id: `REF-${s.id}`,
        return_reason: "AC04",
        remittance_info: `RETURN REF-${s.id}`,
      }),
    ],
    bankSettled: 0,
  })),
  scenario(base("K4", "checkout", "KWD", "collection", 5_000, -1 * D, 4 * D), (s) => ({
    status: "in_flight",
    events: [event(s, "payment.captured", -1 * H)],
  })),
  // The period's edges and outside it.
  scenario(base("O1", "stripe", "EUR", "collection", 77_000, -40 * D, -35 * D), (s) => ({
    status: "settled",
    entries: [settlingEntry(s, s.amount, -38 * D)],
    bankSettled: s.amount,
  })),
  scenario(base("O2", "stripe", "EUR", "collection", 1_500, Date.parse(TO) - NOW, 2 * D), () => ({
    status: "pending",
  })),
  scenario(base("O3", "stripe", "EUR", "collection", 2_500, Date.parse(FROM) - NOW, 2 * D), () => ({
    status: "pending",
  })),
];

const inPeriod = (s: Scenario) => NOW + s.createdAt >= Date.parse(FROM) && NOW + s.createdAt < Date.parse(TO);

interface Unmatched {
  entry: ReturnType<typeof entry>;
  counted: boolean;
  action?: "acknowledge" | "resolve";
}
const unmatched: Unmatched[] = [
  { entry: entry("EUR", "credit", 77_777, -2 * D, { remittance_info: "UNKNOWN SENDER 1" }), counted: true },
  {
    entry: entry("EUR", "credit", 1_234, -1 * D, { remittance_info: "UNKNOWN SENDER 2" }),
    counted: true,
    action: "acknowledge",
  },
  { entry: entry("EUR", "debit", 99_999, -3 * D, { remittance_info: "CARD FEES" }), counted: true },
  { entry: entry("JPY", "credit", 55_555, -1 * D, { remittance_info: "FURIKOMI" }), counted: true },
  { entry: entry("KWD", "debit", 333_333, -1 * D, { remittance_info: "TRANSFER" }), counted: true },
  // Before the period (by value date), and one an operator resolved: not in the report.
  { entry: entry("EUR", "credit", 88_888, -30 * D, { remittance_info: "OLD LINE" }), counted: false },
  {
    entry: entry("EUR", "credit", 4_444, -1 * D, { remittance_info: "RESOLVED LINE" }),
    counted: false,
    action: "resolve",
  },
];

function expectedPaymentMessage(s: Scenario) {
  return {
    id: s.id,
    direction: s.direction,
    amount_minor: s.amount,
    currency: s.currency,
    gateway: s.gateway,
    reference: `REF-${s.id}`,
    counterparty: s.counterparty,
    created_at: at(s.createdAt),
    due_at: at(s.dueAt),
    ...(s.installments
      ? { installments: s.installments.map(([amount, due]) => ({ amount_minor: amount, due_at: at(due) })) }
      : {}),
    metadata: { source: "reports.test" },
  };
}

// ---- the independent expectation ----------------------------------------------------------------

interface Money {
  count: number;
  amount_minor: number;
}
interface ExpectedRow {
  row_type: "gateway" | "bank" | "total";
  gateway: string;
  currency: string;
  direction: string;
  expected: Money;
  buckets: Record<string, Money>;
  bank_settled: number;
  unmatched: Money;
  overdue: Record<string, Money>;
}

function emptyExpected(row_type: ExpectedRow["row_type"], gateway: string, currency: string, direction: string) {
  const zero = () => ({ count: 0, amount_minor: 0 });
  return {
    row_type,
    gateway,
    currency,
    direction,
    expected: zero(),
    buckets: Object.fromEntries(BUCKETS.map((b) => [b, zero()])),
    bank_settled: 0,
    unmatched: zero(),
    overdue: Object.fromEntries(AGING.map((a) => [a, zero()])),
  } satisfies ExpectedRow;
}

function add(money: Money, count: number, amount: number) {
  money.count += count;
  money.amount_minor += amount;
}

function expectedRows(): ExpectedRow[] {
  const rows = new Map<string, ExpectedRow>();
  const get = (type: ExpectedRow["row_type"], gateway: string, currency: string, direction: string) => {
    const key = [type, gateway, currency, direction].join("|");
    if (!rows.has(key)) rows.set(key, emptyExpected(type, gateway, currency, direction));
    return rows.get(key)!;
  };
  for (const s of scenarios.filter(inPeriod)) {
    const row = get("gateway", s.gateway, s.currency, s.direction);
    add(row.expected, 1, s.amount);
    add(row.buckets[BUCKET[s.status]]!, 1, s.amount);
    row.bank_settled += s.bankSettled;
    if (s.status === "delayed") add(row.overdue[s.aging!]!, 1, s.amount - Math.max(0, s.bankSettled));
  }
  for (const u of unmatched.filter((item) => item.counted)) {
    const row = get("bank", "(bank)", u.entry.currency, u.entry.direction === "credit" ? "collection" : "payout");
    add(row.unmatched, 1, u.entry.amount_minor);
  }
  for (const row of [...rows.values()]) {
    const total = get("total", "(total)", row.currency, row.direction);
    add(total.expected, row.expected.count, row.expected.amount_minor);
    for (const b of BUCKETS) add(total.buckets[b]!, row.buckets[b]!.count, row.buckets[b]!.amount_minor);
    total.bank_settled += row.bank_settled;
    add(total.unmatched, row.unmatched.count, row.unmatched.amount_minor);
    for (const a of AGING) add(total.overdue[a]!, row.overdue[a]!.count, row.overdue[a]!.amount_minor);
  }
  return [...rows.values()];
}

const BAD_ARGS = [
  ["--from", "yesterday"],
  ["--format", "xls"],
  ["--since", "2026-01-01"],
  ["--from", TO, "--to", FROM],
  ["--locale", "de-DE"],
  ["--format", "csv", "--locale", "no-such-locale-tag"],
];

const rowKey = (row: { row_type: string; gateway: string; currency: string; direction: string }) =>
  `${row.row_type}|${row.gateway}|${row.currency}|${row.direction}`;

// ---- the test ------------------------------------------------------------------------------------

describe("reconciliation report and counterparty history", () => {
  let db: TestDatabase;
  let daemon: TestDaemon;
  const query = `from=${encodeURIComponent(FROM)}&to=${encodeURIComponent(TO)}`;

  const ndjson = (messages: unknown[]) => messages.map((message) => JSON.stringify(message)).join("\n");

  async function ingest(topic: string, messages: unknown[]) {
    if (messages.length === 0) return;
    const response = await api(daemon.baseUrl, "ingester")(`/api/v1/ingest/${topic}`, {
      method: "POST",
      body: ndjson(messages),
    });
    expect(response.status).toBe(200);
    const rejected = response.body.lines?.filter((line: { status: string }) => line.status === "rejected");
    expect(rejected ?? [], `rejected lines on ${topic}`).toEqual([]);
  }

  beforeAll(async () => {
    db = await createTestDatabase();
    // No grace, and a quick sweeper: a bank line that matches nothing becomes an unmatched exception at once.
    daemon = await startTestDaemon({ DATABASE_URL: db.url, UNMATCHED_GRACE: "0s", SWEEP_INTERVAL: "200ms" });
    const first = scenarios.filter((s) => !s.late);
    const second = scenarios.filter((s) => s.late);
    await ingest("payments.expected", scenarios.map(expectedPaymentMessage));
    await ingest(
      "gateway.events",
      first.flatMap((s) => s.events),
    );
    await ingest("bank.settlements", [...first.flatMap((s) => s.entries), ...unmatched.map((u) => u.entry)]);
    await ingest(
      "payments.expected",
      scenarios.filter((s) => s.cancel).map((s) => ({ id: s.id, cancelled: true })),
    );
    // The last failure comes after everything else.
    await ingest(
      "gateway.events",
      second.flatMap((s) => s.events),
    );
    await ingest(
      "bank.settlements",
      second.flatMap((s) => s.entries),
    );

    const exceptions = await waitUntil(
      async () => {
        const found = await api(daemon.baseUrl, "viewer")("/api/v1/exceptions?kind=unmatched&state=all&limit=500");
        return found.body.items?.length === unmatched.length ? found : undefined;
      },
      30_000,
      "an unmatched exception for each unmatched bank line",
    );
    for (const u of unmatched.filter((item) => item.action)) {
      const exception = exceptions.body.items.find((item: { entry_id: string }) => item.entry_id === u.entry.entry_id);
      expect(exception, `unmatched exception for ${u.entry.entry_id}`).toBeDefined();
      // The operator's decision, written as the actions endpoint writes it (state; resolution on resolve).
      await db.pool.query(
        `update exceptions set state = $2, updated_at = now(),
                resolved_at = case when $2::text = 'resolved' then now() end,
                resolution = case when $2::text = 'resolved' then 'manual' end
          where id = $1`,
        [Number(exception.id), u.action === "resolve" ? "resolved" : "acknowledged"],
      );
    }
  });
  afterAll(async () => {
    await daemon?.stop();
    await db?.drop();
  });

  it("reconciles every scenario to the status the facts call for (the premise of the sums below)", async () => {
    const viewer = api(daemon.baseUrl, "viewer");
    const actual: Record<string, unknown> = {};
    const wanted: Record<string, unknown> = {};
    for (const s of scenarios) {
      const view = await viewer(`/api/v1/payments/${s.id}`);
      actual[s.id] = { status: view.body.status, settled: view.body.settled_amount_minor };
      wanted[s.id] = { status: s.status, settled: s.bankSettled };
    }
    expect(actual).toEqual(wanted);
  });

  it("reports per gateway × currency × direction exactly the sums of the facts, as JSON", async () => {
    const response = await api(daemon.baseUrl, "viewer")(`/api/v1/reports/reconciliation?${query}&format=json`);
    expect(response.status).toBe(200);
    const report = response.body;
    expect(report.from).toBe(new Date(FROM).toISOString());
    expect(report.to).toBe(new Date(TO).toISOString());
    expect(Math.abs(Date.parse(report.as_of) - Date.now())).toBeLessThan(5 * MIN);

    const expected = expectedRows();
    expect(new Set(report.rows.map(rowKey))).toEqual(new Set(expected.map(rowKey)));
    // biome-ignore lint/suspicious/noExplicitAny: the report row is checked field by field
    const byKey = new Map<string, any>(report.rows.map((row: any) => [rowKey(row), row]));
    const money = (m: Money, currency: string) => ({ ...m, amount: major(m.amount_minor, currency) });
    for (const want of expected) {
      const row = byKey.get(rowKey(want))!;
      const { currency } = want;
      expect(row.exponent, rowKey(want)).toBe(EXPONENT[currency]);
      expect(
        {
          expected: row.expected,
          ...Object.fromEntries(BUCKETS.map((b) => [b, row[b]])),
          bank_settled: row.bank_settled,
          unmatched: row.unmatched_bank_entries,
          overdue: row.overdue,
        },
        rowKey(want),
      ).toEqual({
        expected: money(want.expected, currency),
        ...Object.fromEntries(BUCKETS.map((b) => [b, money(want.buckets[b]!, currency)])),
        bank_settled: { amount_minor: want.bank_settled, amount: major(want.bank_settled, currency) },
        unmatched: money(want.unmatched, currency),
        overdue: Object.fromEntries(AGING.map((a) => [a, money(want.overdue[a]!, currency)])),
      });
      // Every payment is in exactly one bucket.
      const sum = BUCKETS.reduce((n, b) => n + row[b].amount_minor, 0);
      expect(sum).toBe(row.expected.amount_minor);
      expect(BUCKETS.reduce((n, b) => n + row[b].count, 0)).toBe(row.expected.count);
    }
    // A concrete anchor: stripe EUR collections in the period.
    expect(byKey.get("gateway|stripe|EUR|collection").expected).toEqual({
      count: 11,
      amount_minor: 125_000 + 9_999 + 5_000 + 7_000 + 15_000 + 8_000 + 6_000 + 11_111 + 50_000 + 12_000 + 2_500,
      amount: "2516.10",
    });
    expect(byKey.get("total|(total)|KWD|payout").bank_settled).toEqual({ amount_minor: 1_250_500, amount: "1250.500" });
    expect(byKey.get("bank|(bank)|JPY|collection").unmatched_bank_entries).toEqual({
      count: 1,
      amount_minor: 55_555,
      amount: "55555",
    });
  });

  it("streams the same numbers as CSV with each currency's decimals, quoting and a download name", async () => {
    const response = await fetch(`${daemon.baseUrl}/api/v1/reports/reconciliation?${query}&format=csv`, {
      headers: { Authorization: "Bearer viewer-token" },
    });
    expect(response.status).toBe(200);
    expect(response.headers.get("content-type")).toMatch(/^text\/csv; charset=utf-8/);
    expect(response.headers.get("content-disposition")).toMatch(/^attachment; filename="reconciliation_[\w.-]+\.csv"$/);
    const bytes = Buffer.from(await response.arrayBuffer());
    expect(bytes.subarray(0, 3).toString("latin1")).toBe("row"); // no byte order mark unless asked for
    const text = bytes.toString("utf8");
    expect(text.endsWith("\r\n")).toBe(true);
    expect(text.replace(/\r\n/g, "")).not.toMatch(/[\r\n]/); // CRLF only (RFC 4180)
    const records = parse(text, { columns: true }) as Array<
      Record<string, string> & { row_type: string; gateway: string; currency: string; direction: string }
    >;
    const expected = expectedRows();
    expect(records).toHaveLength(expected.length);
    expect(new Set(records.map(rowKey))).toEqual(new Set(expected.map(rowKey)));
    const byKey = new Map(records.map((record) => [rowKey(record), record]));
    for (const want of expected) {
      const record = byKey.get(rowKey(want))!;
      const { currency } = want;
      const decimals = EXPONENT[currency]!;
      const amountPattern = decimals === 0 ? /^-?\d+$/ : new RegExp(`^-?\\d+\\.\\d{${decimals}}$`);
      for (const [column, value] of Object.entries(record)) {
        if (column.endsWith("_amount")) expect(value, `${rowKey(want)} ${column}`).toMatch(amountPattern);
      }
      const wanted: Record<string, string> = {
        expected_count: String(want.expected.count),
        expected_amount: major(want.expected.amount_minor, currency),
        bank_settled_amount: major(want.bank_settled, currency),
        unmatched_bank_entries_count: String(want.unmatched.count),
        unmatched_bank_entries_amount: major(want.unmatched.amount_minor, currency),
      };
      for (const b of BUCKETS) {
        wanted[`${b}_count`] = String(want.buckets[b]!.count);
        wanted[`${b}_amount`] = major(want.buckets[b]!.amount_minor, currency);
      }
      const agingColumn = {
        "0-1d": "overdue_0_1d",
        "1-3d": "overdue_1_3d",
        "3-7d": "overdue_3_7d",
        "7d+": "overdue_7d_plus",
      };
      for (const a of AGING) {
        wanted[`${agingColumn[a]}_count`] = String(want.overdue[a]!.count);
        wanted[`${agingColumn[a]}_amount`] = major(want.overdue[a]!.amount_minor, currency);
      }
      expect(Object.fromEntries(Object.keys(wanted).map((k) => [k, record[k]])), rowKey(want)).toEqual(wanted);
    }
    expect(byKey.get("gateway|adyen|KWD|payout")!.held_amount).toBe("75.250");
    expect(byKey.get("gateway|stripe|JPY|collection")!.settled_amount).toBe("125000");
    expect(byKey.get("gateway|stripe|EUR|payout")!.settled_amount).toBe("2500.00");
  });

  it("gives the spreadsheet form one parameter away: locale=de-DE (BOM, ;, decimal comma), same numbers; CLI alike", async () => {
    const get = (params: string) =>
      fetch(`${daemon.baseUrl}/api/v1/reports/reconciliation?${query}${params}`, {
        headers: { Authorization: "Bearer viewer-token" },
      });
    const machine = await (await get("&format=csv")).text();
    const response = await get("&format=csv&locale=de-DE");
    expect(response.status).toBe(200);
    const bytes = Buffer.from(await response.arrayBuffer());
    expect([...bytes.subarray(0, 3)]).toEqual([0xef, 0xbb, 0xbf]);
    const german = bytes.subarray(3).toString("utf8");
    expect(german.split("\r\n")[0]).toBe(machine.split("\r\n")[0]!.replaceAll(",", ";"));
    const machineRecords = parse(machine, { columns: true }) as Array<Record<string, string>>;
    const germanRecords = parse(german, { columns: true, delimiter: ";" }) as Array<Record<string, string>>;
    // The same cells, amounts with a decimal comma (still major units, no thousands separators).
    expect(germanRecords).toEqual(
      machineRecords.map((record) =>
        Object.fromEntries(
          Object.entries(record).map(([column, value]) => [
            column,
            column.endsWith("_amount") ? value.replace(".", ",") : value,
          ]),
        ),
      ),
    );
    const kwd = germanRecords.find(
      (record) => record.row_type === "gateway" && record.gateway === "adyen" && record.currency === "KWD",
    )!;
    expect(kwd.held_amount).toBe("75,250");

    const cli = await runCli(["report", "--from", FROM, "--to", TO, "--format", "csv", "--locale", "de-DE"], {
      DATABASE_URL: db.url,
    });
    expect(cli.code, cli.stderr).toBe(0);
    expect(cli.stdout).toBe(`\uFEFF${german}`);

    // Like bom, it concerns CSV only: JSON stays JSON.
    expect((await get("&format=json&locale=de-DE")).headers.get("content-type")).toMatch(/^application\/json/);
    expect((await get("&format=csv&locale=not-a-locale-at-all")).status).toBe(400);
  });

  it("renders the rows as a Markdown table", async () => {
    const response = await api(daemon.baseUrl, "operator")(`/api/v1/reports/reconciliation?${query}&format=md`);
    expect(response.status).toBe(200);
    const lines = String(response.body).split("\n");
    const tableLines = lines.filter((line) => line.startsWith("| "));
    expect(tableLines).toHaveLength(expectedRows().length + 1);
    for (const want of expectedRows()) {
      const gateway = want.row_type === "total" ? "**(total)**" : want.gateway;
      const line = tableLines.find((candidate) => {
        const cells = candidate.split("|").map((cell) => cell.trim());
        return cells[1] === gateway && cells[2] === want.currency && cells[3] === want.direction;
      });
      expect(line, rowKey(want)).toBeDefined();
      const cells = line!.split("|").map((cell) => cell.trim());
      const expectedCell =
        want.expected.count === 0
          ? "-"
          : `${want.expected.count} / ${major(want.expected.amount_minor, want.currency)}`;
      expect(cells[4], rowKey(want)).toBe(expectedCell);
    }
  });

  it("prints the same CSV from the command line, and refuses bad arguments with exit code 2", async () => {
    const run = (args: string[]) => runCli(["report", ...args], { DATABASE_URL: db.url });
    const cli = await run(["--from", FROM, "--to", TO, "--format", "csv"]);
    expect(cli.code, cli.stderr).toBe(0);
    const http = await fetch(`${daemon.baseUrl}/api/v1/reports/reconciliation?${query}&format=csv`, {
      headers: { Authorization: "Bearer viewer-token" },
    });
    expect(cli.stdout).toBe(await http.text());
    // Logs are on stderr, as JSON lines; stdout is only the report.
    expect(cli.stdout.startsWith("row_type,gateway,currency,direction,")).toBe(true);

    const md = await run(["--from", FROM, "--to", TO]);
    expect(md.code).toBe(0);
    expect(md.stdout).toContain("# Reconciliation report");
    expect(md.stdout).toMatch(/^\| stripe\s+\| JPY\s+\| collection\s+\| +2 \/ 128000 \| +1 \/ 125000 \|/m);

    const [help, ...refusals] = await Promise.all([run(["--help"]), ...BAD_ARGS.map((bad) => run(bad))]);
    expect(help.code).toBe(0);
    expect(help.stdout).toContain("usage: payrecon report");
    refusals.forEach((refused, index) => {
      const bad = BAD_ARGS[index]!.join(" ");
      expect(refused.code, bad).toBe(2);
      expect(refused.stdout).toBe("");
      expect(refused.stderr.trim().split("\n"), bad).toHaveLength(1);
      expect(refused.stderr).toMatch(/^payrecon report: /);
    });
  });

  it("answers 401 without a token, 403 to an ingester, 400 for a bad period or format", async () => {
    for (const pathname of ["/api/v1/reports/reconciliation", "/api/v1/counterparties/cust_77"]) {
      expect((await api(daemon.baseUrl, null)(pathname)).status).toBe(401);
      const ingester = await api(daemon.baseUrl, "ingester")(pathname);
      expect(ingester.status).toBe(403);
      expect(ingester.body).toMatchObject({ error: { code: "forbidden" } });
      expect((await api(daemon.baseUrl, "operator")(pathname)).status).toBe(200);
    }
    const viewer = api(daemon.baseUrl, "viewer");
    for (const bad of [
      "format=xlsx",
      "from=last-week",
      `from=${encodeURIComponent(TO)}&to=${encodeURIComponent(FROM)}`,
    ]) {
      const response = await viewer(`/api/v1/reports/reconciliation?${bad}`);
      expect(response.status, bad).toBe(400);
      expect(response.body).toMatchObject({ error: { code: "invalid_query" } });
    }
  });

  it("defaults to the last 30 days, and takes dates as midnight UTC", async () => {
    const viewer = api(daemon.baseUrl, "viewer");
    const byDefault = await viewer("/api/v1/reports/reconciliation");
    expect(byDefault.status).toBe(200);
    expect(Date.parse(byDefault.body.to) - Date.parse(byDefault.body.from)).toBe(30 * D);
    // O1 (created 40 days ago) is outside; O2 (created 30 minutes ago) is inside the default window.
    const stripeEur = byDefault.body.rows.find(
      (row: { row_type: string; gateway: string; currency: string; direction: string }) =>
        rowKey(row) === "gateway|stripe|EUR|collection",
    );
    expect(stripeEur.expected.count).toBe(12);
    const dated = await viewer(`/api/v1/reports/reconciliation?from=${day(-2 * D)}&to=${day(1 * D)}`);
    expect(dated.body.from).toBe(`${day(-2 * D)}T00:00:00.000Z`);
    expect(dated.body.to).toBe(`${day(1 * D)}T00:00:00.000Z`);
  });

  it("gives a counterparty's history: amounts by status, late and failure rates, last failure", async () => {
    const mine = scenarios.filter((s) => s.counterparty === "cust_77");
    const settled = mine.filter((s) => s.status === "settled");
    const failed = mine.filter((s) => s.status === "failed");
    const late = settled.filter((s) => s.settledLate);
    const openExceptions = mine.filter((s) => ["failed", "held", "delayed", "mismatch"].includes(s.status)).length;
    const byStatus = new Map<string, { status: string; currency: string; count: number; amount_minor: number }>();
    for (const s of mine) {
      const key = `${s.currency}|${s.status}`;
      const item = byStatus.get(key) ?? { status: s.status, currency: s.currency, count: 0, amount_minor: 0 };
      item.count += 1;
      item.amount_minor += s.amount;
      byStatus.set(key, item);
    }
    const response = await api(daemon.baseUrl, "viewer")("/api/v1/counterparties/cust_77");
    expect(response.status).toBe(200);
    const history = response.body;
    expect(history.counterparty).toBe("cust_77");
    expect(history.payments).toBe(mine.length);
    expect(history.first_payment_at).toBe(new Date(NOW + Math.min(...mine.map((s) => s.createdAt))).toISOString());
    expect(history.last_payment_at).toBe(new Date(NOW + Math.max(...mine.map((s) => s.createdAt))).toISOString());
    expect(
      history.by_status.map(
        (item: { status: string; currency: string; count: number; amount_minor: number; amount: string }) => ({
          status: item.status,
          currency: item.currency,
          count: item.count,
          amount_minor: item.amount_minor,
          amount: item.amount,
        }),
      ),
    ).toEqual(
      expect.arrayContaining(
        [...byStatus.values()].map((item) => ({ ...item, amount: major(item.amount_minor, item.currency) })),
      ),
    );
    expect(history.by_status).toHaveLength(byStatus.size);
    expect(history.late_rate).toEqual({
      rate: late.length / settled.length,
      settled_late: late.length,
      settled: settled.length,
    });
    expect(history.late_rate.rate).toBeCloseTo(1 / 3, 10);
    expect(history.failure_rate).toEqual({
      rate: failed.length / (settled.length + failed.length),
      failed: failed.length,
      ended: settled.length + failed.length,
    });
    expect(history.failure_rate.rate).toBeCloseTo(0.4, 10);
    const last = scenarios.find((s) => s.id === "J4")!;
    expect(history.last_failure).toMatchObject({
      payment_id: "J4",
      failure_category: last.failureCategory,
      failure_code: last.failureCode,
    });
    expect(Math.abs(Date.parse(history.last_failure.at) - Date.now())).toBeLessThan(5 * MIN);
    expect(history.open_exceptions).toBe(openExceptions);

    const unknown = await api(daemon.baseUrl, "viewer")("/api/v1/counterparties/nobody_here");
    expect(unknown.status).toBe(404);
    expect(unknown.body).toMatchObject({ error: { code: "not_found" } });
  });

  it("adds numbers, whether or not the pool parses int8 (a bare pg.Pool, as the bench held, once concatenated strings)", async () => {
    const period = { from: new Date(Date.parse(FROM)), to: new Date(Date.parse(TO)) };
    const asOf = new Date();
    const parsed = await loadReconciliationReport(db.pool, period, asOf);
    const int8 = pg.types.getTypeParser(pg.types.builtins.INT8);
    pg.types.setTypeParser(pg.types.builtins.INT8, (text: string) => text);
    try {
      const raw = await loadReconciliationReport(db.pool, period, asOf);
      expect(raw).toEqual(parsed);
      expect(raw.rows.length).toBeGreaterThan(0);
      for (const row of raw.rows) expect(typeof row.expected.count).toBe("number");
    } finally {
      pg.types.setTypeParser(pg.types.builtins.INT8, int8);
    }
  });
});
