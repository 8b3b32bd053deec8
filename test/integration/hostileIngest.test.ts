import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestDatabase, type TestDatabase } from "../support/database.js";
import { api, startTestDaemon, type TestDaemon, waitUntil } from "../support/daemon.js";
import { dateDaysFromNow, isoDaysFromNow } from "../support/clock.js";
import { bankEntry, expectedPayment, gatewayEvent } from "../support/facts.js";
import { connectedProducer, kafkaEnv, readTopic, uniqueTopics } from "../support/kafka.js";

/**
 * Issue 8: hostile NDJSON through a running daemon (POST /api/v1/ingest/{topic},
 * the same path as Kafka): every line gets its verdict — accepted, or rejected
 * with a bounded reason and a detail naming the field — the request never
 * fails as a whole, the daemon stays healthy and keeps accepting valid facts.
 */

const REASONS = new Set(["empty", "invalid_utf8", "invalid_json", "not_an_object", "schema", "too_large"]);
type Kind = "expected" | "gateway" | "bank";
const TOPIC: Record<Kind, string> = {
  expected: "payments.expected",
  gateway: "gateway.events",
  bank: "bank.settlements",
};

interface Line {
  bytes: Buffer;
  /** `accepted`, or the reason it must be rejected for and (when known) the field its detail names. */
  want: { status: "accepted" } | { status: "rejected"; reason: string; field?: string };
}

const json = (value: unknown) => Buffer.from(JSON.stringify(value));
const withRaw = (message: Record<string, unknown>, field: string, raw: string) =>
  Buffer.from(JSON.stringify({ ...message, [field]: "\u0001" }).replace('"\\u0001"', () => raw));

let unique = 0;
function valid(kind: Kind): Record<string, unknown> {
  const n = 100_000 + unique++;
  if (kind === "expected") return { ...expectedPayment(n), id: `hx_${n}`, reference: `HX-${n}` };
  if (kind === "gateway") return { ...gatewayEvent(n), event_id: `hx_evt_${n}`, reference: `HX-${n}` };
  return { ...bankEntry(n), entry_id: `HX-${n}`, remittance_info: `HX-${n}` };
}

/** A line template; `line(kind)` makes it concrete (fresh ids) when the request is sent. */
type Template = (kind: Kind) => Line;
const hostile: fc.Arbitrary<Template> = fc.oneof(
  fc.constant<Template>((kind) => ({ bytes: json(valid(kind)), want: { status: "accepted" } })),
  fc
    .uint8Array({ minLength: 1, maxLength: 300 })
    .map((bytes) => Buffer.from(bytes.filter((byte) => byte !== 0x0a)))
    .filter((bytes) => bytes.toString("latin1").trim() !== "" && bytes.at(-1) !== 0x0d)
    .map<Template>((bytes) => () => ({ bytes, want: { status: "rejected", reason: "?" } })),
  fc
    .constantFrom("1e3", "12.5", "-0", '"100"', "9007199254740993", "9223372036854775808", "-7")
    .map<Template>((raw) => (kind) => ({
      bytes: withRaw(valid(kind), "amount_minor", raw),
      want: { status: "rejected", reason: "schema", field: "amount_minor" },
    })),
  fc.constantFrom("NaN", "Infinity", "-Infinity").map<Template>((raw) => (kind) => ({
    bytes: withRaw(valid(kind), "amount_minor", raw),
    want: { status: "rejected", reason: "invalid_json" },
  })),
  fc.constantFrom('"eur"', '"XYZ"', '"EURO"', '""', "978").map<Template>((raw) => (kind) => ({
    bytes: withRaw(valid(kind), "currency", raw),
    want: { status: "rejected", reason: "schema", field: "currency" },
  })),
  fc
    .constantFrom('"2026-02-30T10:00:00Z"', '"2026-11-20T24:00:00Z"', '"2026-11-20T10:00:00"', '"yesterday"')
    .map<Template>((raw) => (kind) => {
      const field = kind === "expected" ? "due_at" : kind === "gateway" ? "occurred_at" : "value_date";
      return { bytes: withRaw(valid(kind), field, raw), want: { status: "rejected", reason: "schema", field } };
    }),
  fc.integer({ min: 65, max: 200_000 }).map<Template>((depth) => (kind) => ({
    bytes: withRaw(valid(kind), "metadata", `{"deep":${"[".repeat(depth)}${"]".repeat(depth)}}`),
    want: { status: "rejected", reason: "schema", field: "metadata" },
  })),
  fc.constant<Template>((kind) => ({
    bytes: Buffer.from(
      JSON.stringify(valid(kind)).replace(
        "{",
        '{"__proto__":{"polluted":1},"constructor":{"prototype":{"polluted":1}},',
      ),
    ),
    want: { status: "accepted" },
  })),
  fc.constant<Template>((kind) => ({
    bytes: Buffer.concat([Buffer.from('{"a":"'), Buffer.from([0xc3, 0x28]), Buffer.from(`","k":"${kind}"}`)]),
    want: { status: "rejected", reason: "invalid_utf8" },
  })),
  fc.constant<Template>(() => ({
    bytes: Buffer.from('[{"id":1}]'),
    want: { status: "rejected", reason: "not_an_object" },
  })),
  // NUL is valid JSON (\u0000) but PostgreSQL can hold it neither in text nor in jsonb.
  fc.constantFrom("id_or_account", "metadata").map<Template>((where) => (kind) => {
    const message = valid(kind);
    const field =
      where === "metadata"
        ? "metadata"
        : kind === "bank"
          ? "account"
          : kind === "expected"
            ? "counterparty"
            : "failure_message";
    const raw = where === "metadata" ? '{"note":"a\\u0000b"}' : '"DE89\\u00003704"';
    return { bytes: withRaw(message, field, raw), want: { status: "rejected", reason: "schema", field } };
  }),
  // Over the 1 MB message limit: refused without being parsed.
  fc.constant<Template>((kind) => ({
    bytes: withRaw(valid(kind), "remittance_info", JSON.stringify("x".repeat(1_100_000))),
    want: { status: "rejected", reason: "too_large" },
  })),
);

describe("hostile NDJSON through the ingest endpoint", () => {
  let db: TestDatabase;
  let daemon: TestDaemon;
  beforeAll(async () => {
    db = await createTestDatabase();
    daemon = await startTestDaemon({ DATABASE_URL: db.url, API_INGEST_RATE_LIMIT: "off", HTTP_BODY_LIMIT: "64mb" });
  });
  afterAll(async () => {
    await daemon?.stop();
    await db?.drop();
  });

  it("gives every line its verdict, with reason and field, and stays healthy (fast-check)", async () => {
    const post = api(daemon.baseUrl, "ingester");
    let runs = 0;
    let lines = 0;
    const seen = new Map<string, number>();
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom<Kind>("expected", "gateway", "bank"),
        fc.array(hostile, { minLength: 1, maxLength: 12 }),
        async (kind, templates) => {
          runs++;
          const batch = templates.map((template) => template(kind));
          lines += batch.length;
          const body = Buffer.concat(batch.flatMap((line) => [line.bytes, Buffer.from("\n")]));
          const response = await post(`/api/v1/ingest/${TOPIC[kind]}`, { method: "POST", body });
          expect(response.status, JSON.stringify(response.body).slice(0, 500)).toBe(200);
          expect(response.body.lines).toHaveLength(batch.length);
          batch.forEach((line, index) => {
            const got = response.body.lines[index];
            expect(got.line).toBe(index + 1);
            seen.set(
              got.status === "rejected" ? got.reason : got.status,
              (seen.get(got.reason ?? got.status) ?? 0) + 1,
            );
            if (line.want.status === "accepted") {
              expect(got, JSON.stringify(got)).toEqual({ line: index + 1, status: "accepted" });
              return;
            }
            expect(got.status, `${line.bytes.subarray(0, 200).toString()} → ${JSON.stringify(got)}`).toBe("rejected");
            expect(REASONS.has(got.reason), got.reason).toBe(true);
            expect(got.detail.length).toBeGreaterThan(5);
            expect(got.detail.length).toBeLessThanOrEqual(1_001);
            if (line.want.reason !== "?") expect(got.reason).toBe(line.want.reason);
            if (line.want.field) {
              const field = line.want.field;
              expect(
                got.detail
                  .split("; ")
                  .some((part: string) => part.startsWith(`${field}:`) || part.startsWith(`${field}.`)),
                `${got.detail} should name ${field}`,
              ).toBe(true);
            }
          });
          expect(({} as Record<string, unknown>).polluted).toBeUndefined();
        },
      ),
      { numRuns: 150 },
    );
    console.log(
      `[hostile ingest] fast-check: ${runs} requests, ${lines} lines; verdicts ${JSON.stringify(Object.fromEntries(seen))}`,
    );

    expect((await fetch(`${daemon.baseUrl}/healthz`)).status).toBe(200);
    expect((await fetch(`${daemon.baseUrl}/readyz`)).status).toBe(200);
    // Later valid messages are still accepted, and reconciled.
    const payment = { ...expectedPayment(990_001), id: "after_fuzz", reference: "AFTER-FUZZ", currency: "EUR" };
    const accepted = await post("/api/v1/ingest/payments.expected", { method: "POST", body: JSON.stringify(payment) });
    expect(accepted.body).toMatchObject({ accepted: 1, rejected: 0 });
    const view = await api(daemon.baseUrl, "viewer")("/api/v1/payments/after_fuzz");
    expect(view.status).toBe(200);
    // Every rejected line was recorded, none of them in a fact table.
    const stored = await db.pool.query<{ rejected: number }>(
      "select count(*)::int as rejected from rejected_messages where source = 'http'",
    );
    expect(stored.rows[0]!.rejected).toBeGreaterThan(0);
  });

  it("a NUL character (\\u0000) or a lone surrogate is rejected by its line, not a 5xx for the whole request", async () => {
    const post = api(daemon.baseUrl, "ingester");
    const good = { ...bankEntry(990_100), entry_id: "NUL-GOOD" };
    const bad = Buffer.from(
      JSON.stringify({ ...bankEntry(990_101), entry_id: "NUL-BAD" }).replace("ACME GMBH", "ACME\\u0000GMBH"),
    );
    const escaped = Buffer.from(
      JSON.stringify({ ...bankEntry(990_102), entry_id: "NUL-ESC", remittance_info: "a\\u0000b" }),
    );
    const response = await post("/api/v1/ingest/bank.settlements", {
      method: "POST",
      body: Buffer.concat([
        json(good),
        Buffer.from("\n"),
        bad,
        Buffer.from("\n"),
        escaped,
        Buffer.from("\n"),
        Buffer.from(JSON.stringify({ ...bankEntry(990_103), entry_id: "SURROGATE" }).replace("ACME GMBH", "\\ud800")),
        Buffer.from("\n"),
        Buffer.from(JSON.stringify({ ...bankEntry(990_104), metadata: { "k\u0000": 1 } })),
      ]),
    });
    expect(response.status).toBe(200);
    expect(response.body.lines).toEqual([
      { line: 1, status: "accepted" },
      { line: 2, status: "rejected", reason: "schema", detail: expect.stringMatching(/^counterparty_name: /) },
      // A backslash followed by "u0000" is text, not NUL.
      { line: 3, status: "accepted" },
      // PostgreSQL cannot store a lone surrogate in jsonb either.
      { line: 4, status: "rejected", reason: "schema", detail: expect.stringMatching(/^counterparty_name: /) },
      // A NUL in a member name: the detail itself is printable (it goes to a text column).
      { line: 5, status: "rejected", reason: "schema", detail: expect.stringMatching(/^metadata\.k\\u0000: /) },
    ]);
  });

  it("keeps the daemon responsive while a 10 MB body of deep nesting is refused line by line", async () => {
    const post = api(daemon.baseUrl, "ingester");
    const deepLine = `${"[".repeat(400_000)}${"]".repeat(400_000)}`;
    const body = Array.from({ length: 12 }, () => deepLine).join("\n");
    const [response, health] = await Promise.all([
      post("/api/v1/ingest/gateway.events", { method: "POST", body }),
      fetch(`${daemon.baseUrl}/healthz`),
    ]);
    expect(health.status).toBe(200);
    expect(response.status).toBe(200);
    expect(response.body.rejected).toBe(12);
    for (const line of response.body.lines) expect(line).toMatchObject({ status: "rejected", reason: "schema" });
  });
});

/**
 * A settlement batch in one currency listing a payment in another cannot be
 * refused at decode (the payment may arrive later). The reconciler must not
 * settle the foreign-currency payment with it: a USD transfer does not pay a
 * EUR invoice.
 *
 * (Found by this test: the batch used to settle it in full; a batch now
 * settles only payments of its own currency, and a listing in another
 * currency makes the payment a mismatch.)
 */
describe("a settlement batch whose payments are in another currency", () => {
  let db: TestDatabase;
  let daemon: TestDaemon;
  // biome-ignore lint/suspicious/noExplicitAny: response bodies are asserted field by field
  const views: Record<string, any> = {};
  beforeAll(async () => {
    db = await createTestDatabase();
    daemon = await startTestDaemon({ DATABASE_URL: db.url });
    const ingest = api(daemon.baseUrl, "ingester");
    const common = {
      direction: "collection",
      gateway: "stripe",
      created_at: isoDaysFromNow(-3),
      due_at: isoDaysFromNow(7),
    };
    const usd = {
      ...expectedPayment(1),
      ...common,
      id: "cur_usd",
      reference: "CUR-USD",
      currency: "USD",
      amount_minor: 6_000,
    };
    const eur = {
      ...expectedPayment(2),
      ...common,
      id: "cur_eur",
      reference: "CUR-EUR",
      currency: "EUR",
      amount_minor: 4_000,
    };
    const captured = [usd, eur].map((payment, n) =>
      gatewayEvent(n, {
        event_id: `cur_evt_${n}`,
        gateway: "stripe",
        reference: payment.reference,
        amount_minor: payment.amount_minor,
        currency: payment.currency,
      }),
    );
    const batch = {
      event_id: "cur_batch_evt",
      gateway: "stripe",
      type: "settlement.batch",
      batch_id: "po_cur_batch",
      gross_minor: 10_000,
      fee_minor: 0,
      amount_minor: 10_000,
      currency: "USD",
      occurred_at: isoDaysFromNow(-2),
      expected_arrival: dateDaysFromNow(-1),
      references: ["CUR-USD", "CUR-EUR"],
    };
    const credit = bankEntry(3, {
      entry_id: "CUR-CREDIT",
      amount_minor: 10_000,
      currency: "USD",
      direction: "credit",
      booking_date: dateDaysFromNow(-1),
      value_date: dateDaysFromNow(-1),
      remittance_info: "STRIPE PAYOUT po_cur_batch",
    });
    const ndjson = (items: unknown[]) => items.map((item) => JSON.stringify(item)).join("\n");
    const sent = [
      await ingest("/api/v1/ingest/payments.expected", { method: "POST", body: ndjson([usd, eur]) }),
      await ingest("/api/v1/ingest/gateway.events", { method: "POST", body: ndjson([...captured, batch]) }),
      await ingest("/api/v1/ingest/bank.settlements", { method: "POST", body: ndjson([credit]) }),
    ];
    expect(sent.map((response) => response.body.accepted)).toEqual([2, 3, 1]);
    const viewer = api(daemon.baseUrl, "viewer");
    views.usd = (await viewer("/api/v1/payments/cur_usd")).body;
    views.eur = (await viewer("/api/v1/payments/cur_eur")).body;
    console.log(
      `[hostile ingest] a USD batch listing a EUR payment → USD payment: ${views.usd.status} (settled ${views.usd.settled_amount_minor}); ` +
        `EUR payment: ${views.eur.status} (settled ${views.eur.settled_amount_minor}, flags ${JSON.stringify(views.eur.flags)})`,
    );
  });
  afterAll(async () => {
    await daemon?.stop();
    await db?.drop();
  });

  it("settles the payment in the batch's currency", () => {
    expect(views.usd).toMatchObject({ status: "settled", settled_amount_minor: 6_000 });
  });

  it("does not settle the payment in another currency with that batch: it is a mismatch, with the reason", () => {
    expect(views.eur.status).toBe("mismatch");
    expect(views.eur.settled_amount_minor).toBe(0);
    expect(views.eur.status_reason).toMatch(/currency USD/);
    expect(views.eur.flags).toContain("batch_in_other_currency");
  });
});

/**
 * The same hostile messages over Kafka, where a message that fails its whole
 * transaction (NUL, which PostgreSQL cannot store) or throws in decoding
 * (100,000 nested arrays overflowed the stack while hashing) would be retried
 * forever and stall its partition. Each must be dead-lettered with its reason,
 * and the valid messages around it stored.
 */
describe("hostile messages over Kafka", () => {
  const topics = uniqueTopics();
  let db: TestDatabase;
  let daemon: TestDaemon;
  beforeAll(async () => {
    db = await createTestDatabase();
    daemon = await startTestDaemon({ DATABASE_URL: db.url, ...kafkaEnv(topics) });
  });
  afterAll(async () => {
    await daemon?.stop();
    await db?.drop();
  });

  it("dead-letters poison messages and stores the valid ones around them", async () => {
    const key = "same-partition";
    const entries = [0, 1, 2].map((n) => ({ ...bankEntry(880_000 + n), entry_id: `KF-${n}` }));
    const poison = [
      Buffer.from(
        JSON.stringify({ ...bankEntry(880_010), entry_id: "KF-NUL" }).replace("ACME GMBH", "ACME\\u0000GMBH"),
      ),
      withRaw(
        { ...bankEntry(880_011), entry_id: "KF-DEEP" },
        "metadata",
        `{"x":${"[".repeat(100_000)}${"]".repeat(100_000)}}`,
      ),
      withRaw({ ...bankEntry(880_012), entry_id: "KF-SURR" }, "remittance_info", '"\\udc00"'),
    ];
    const producer = await connectedProducer();
    await producer.send({
      topic: topics.bank,
      messages: [entries[0]!, poison[0]!, entries[1]!, poison[1]!, poison[2]!, entries[2]!].map((value) => ({
        key,
        value: Buffer.isBuffer(value) ? value : json(value),
      })),
    });
    await producer.disconnect();
    const stored = await waitUntil(
      async () => {
        const result = await db.pool.query<{ entries: number; rejected: number }>(
          `select (select count(*)::int from bank_entries) as entries,
                  (select count(*)::int from rejected_messages) as rejected`,
        );
        const row = result.rows[0]!;
        return row.entries === 3 && row.rejected === 3 ? row : undefined;
      },
      60_000,
      "3 entries stored and 3 messages rejected",
    );
    expect(stored).toEqual({ entries: 3, rejected: 3 });
    const letters = await readTopic(topics.dlq, (read) => read.length >= 3);
    expect(letters.map((letter) => letter.headers["x-payrecon-error"]).sort()).toEqual([
      expect.stringMatching(/^schema: counterparty_name: must not contain NUL/),
      expect.stringMatching(/^schema: metadata\.x\.0\.0\.0\.0\.…: nested deeper than 64 levels$/),
      expect.stringMatching(/^schema: remittance_info: must not contain NUL .* unpaired surrogate$/),
    ]);
    expect((await fetch(`${daemon.baseUrl}/readyz`)).status).toBe(200);
  });
});
