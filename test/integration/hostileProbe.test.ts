import { createHash } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { adyenBody, adyenItem, signAdyenItem } from "../support/adyenSigning.js";
import { createTestDatabase, type TestDatabase } from "../support/database.js";
import { api, startTestDaemon, type TestDaemon, waitUntil } from "../support/daemon.js";
import { expectedPayment, gatewayEvent } from "../support/facts.js";

/**
 * Issue 14: the findings of a hostile probe, through a running daemon. Each test is named after its
 * finding (see also test/unit/hostile/probeFindings.test.ts and labelBounds.test.ts).
 */

const ADYEN_KEY = "44782DEF547AAA06C910C43932B1EB0C71FC68D9D0C057550C48EC2ACF6BA056";
const DAY = 86_400_000;
const MAX_BYTES = 4_096;
const MAX_TOTAL_BYTES = 60_000;
const SEEN = 5;

let db: TestDatabase;
let daemon: TestDaemon;

const ndjson = (messages: unknown[]) => `${messages.map((message) => JSON.stringify(message)).join("\n")}\n`;
const ingest = (topic: string, messages: unknown[]) =>
  api(daemon.baseUrl, "ingester")(`/api/v1/ingest/${topic}`, {
    method: "POST",
    headers: { "Content-Type": "application/x-ndjson" },
    body: ndjson(messages),
  });
const postAdyen = (body: unknown) =>
  fetch(`${daemon.baseUrl}/webhooks/adyen`, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify(body),
  });
const metricsText = async () => (await fetch(`${daemon.baseUrl}/metrics`)).text();
const sample = (text: string, pattern: RegExp) => Number(pattern.exec(text)?.[1] ?? Number.NaN);

beforeAll(async () => {
  db = await createTestDatabase();
  // Rejected messages from before the daemon starts: 3 past the retention age, and 10 recent ones of
  // 10,000 bytes, 40,000 more than MAX_TOTAL_BYTES allows (the 4 oldest go).
  const now = Date.now();
  for (let i = 0; i < 3; i++) {
    await db.pool.query(
      `insert into rejected_messages (source, topic, value, reason, detail, received_at)
       values ('http', 'old', $1, 'schema', 'old', $2)`,
      [Buffer.alloc(10, 1), new Date(now - 40 * DAY - i * 1000)],
    );
  }
  for (let i = 0; i < 10; i++) {
    await db.pool.query(
      `insert into rejected_messages (source, topic, value, reason, detail, received_at)
       values ('http', 'bulk', $1, 'schema', $2, $3)`,
      [Buffer.alloc(10_000, 2), `bulk ${i}`, new Date(now - (10 - i) * 60_000)],
    );
  }
  daemon = await startTestDaemon({
    DATABASE_URL: db.url,
    ADYEN_HMAC_KEYS: ADYEN_KEY,
    REJECTED_MESSAGE_MAX_BYTES: String(MAX_BYTES),
    REJECTED_MESSAGES_RETENTION: "30d",
    REJECTED_MESSAGES_MAX_TOTAL_BYTES: String(MAX_TOTAL_BYTES),
    METRIC_LABEL_MAX_SEEN: String(SEEN),
  });
}, 60_000);

afterAll(async () => {
  await daemon?.stop();
  await db?.drop();
});

describe("issue 14 finding 1: no unauthenticated disk fill", () => {
  it("finding 1: an Adyen body with an empty notificationItems is refused 400 and never stored", async () => {
    const before = await db.pool.query("select count(*)::int as n from rejected_messages");
    const response = await postAdyen({ live: "false", notificationItems: [], padding: "x".repeat(500_000) });
    expect(response.status).toBe(400);
    expect(await response.json()).toMatchObject({ error: { code: "malformed" } });
    const after = await db.pool.query("select count(*)::int as n from rejected_messages");
    expect(after.rows[0].n).toBe(before.rows[0].n);
  });

  it("finding 1: a rejected message is stored cut to REJECTED_MESSAGE_MAX_BYTES with its original size and SHA-256, counted", async () => {
    const line = JSON.stringify({ ...gatewayEvent(1), amount_minor: "not a number", padding: "p".repeat(20_000) });
    const response = await ingest("gateway.events", [JSON.parse(line)]);
    expect(response.status).toBe(200);
    expect(response.body.lines[0]).toMatchObject({ status: "rejected", reason: "schema" });
    const stored = await db.pool.query(
      "select octet_length(value) as bytes, original_bytes, original_sha256 from rejected_messages where topic = 'gateway.events' order by id desc limit 1",
    );
    const bytes = Buffer.from(line);
    expect(stored.rows[0]).toEqual({
      bytes: MAX_BYTES,
      original_bytes: bytes.length,
      original_sha256: createHash("sha256").update(bytes).digest(),
    });
    expect(sample(await metricsText(), /^payrecon_rejected_messages_pruned_total\{reason="truncated"\} (\d+)$/m)).toBe(
      1,
    );
  });

  it("finding 1: retention deletes rejected messages by age and by total size, counted in payrecon_rejected_messages_pruned_total", async () => {
    const left = await db.pool.query<{ topic: string; detail: string }>(
      "select topic, detail from rejected_messages where topic in ('old', 'bulk') order by received_at",
    );
    expect(left.rows.map((row) => row.detail)).toEqual(["bulk 4", "bulk 5", "bulk 6", "bulk 7", "bulk 8", "bulk 9"]);
    const text = await metricsText();
    expect(sample(text, /^payrecon_rejected_messages_pruned_total\{reason="age"\} (\d+)$/m)).toBe(3);
    expect(sample(text, /^payrecon_rejected_messages_pruned_total\{reason="size"\} (\d+)$/m)).toBe(4);
  });
});

describe("issue 14 finding 2: one valid message cannot break reading", () => {
  it("finding 2: 2^53 − 1 is refused; the largest admitted amounts keep the report, status page and gauges exact", async () => {
    const now = Date.now();
    const overdue = (n: number, amount: number) =>
      expectedPayment(n, {
        id: `big_${n}`,
        reference: `BIG-${n}`,
        gateway: "big_gw",
        currency: "EUR",
        direction: "collection",
        amount_minor: amount,
        created_at: new Date(now - 2 * DAY).toISOString(),
        due_at: new Date(now - DAY).toISOString(),
      });
    const refused = await ingest("payments.expected", [overdue(1, Number.MAX_SAFE_INTEGER)]);
    expect(refused.body.lines[0]).toMatchObject({ status: "rejected", reason: "schema" });
    const largest = 2 ** 40 - 1;
    const stored = await ingest("payments.expected", [overdue(2, largest), overdue(3, largest)]);
    expect(stored.body.accepted).toBe(2);

    const report = await api(daemon.baseUrl)("/api/v1/reports/reconciliation?format=json");
    expect(report.status).toBe(200);
    // biome-ignore lint/suspicious/noExplicitAny: report rows are checked field by field
    const row = report.body.rows.find((r: any) => r.gateway === "big_gw" && r.currency === "EUR");
    expect(row.expected.amount_minor).toBe(2 * largest);
    expect((await fetch(`${daemon.baseUrl}/`)).status).toBe(200);
    await waitUntil(
      async () =>
        /^payrecon_payments\{status="delayed",direction="collection",gateway="big_gw"\} 2$/m.test(await metricsText()),
      10_000,
      "the delayed payments in the gauge",
    );
    expect(sample(await metricsText(), /^payrecon_state_refresh_errors_total (\d+)$/m)).toBe(0);
  });
});

describe("issue 14 finding 3: Adyen's unsigned fields and event ids", () => {
  it("finding 3: an item whose colon moved between signed fields is refused 400; the genuine one is accepted", async () => {
    const genuine = signAdyenItem(adyenItem({ pspReference: "8816178952380001" }), ADYEN_KEY);
    const resplit = { ...genuine, merchantAccountCode: "ACC:ORDER", merchantReference: "123" };
    const refused = await postAdyen(adyenBody(resplit));
    expect(refused.status).toBe(400);
    expect(await refused.text()).toMatch(/merchantAccountCode contains ':'/);
    const accepted = await postAdyen(adyenBody(genuine));
    expect(accepted.status).toBe(200);
    const stored = await db.pool.query("select reference from gateway_events where event_id like '8816178952380001:%'");
    expect(stored.rows).toEqual([{ reference: "ORDER:123" }]);
  });

  it("finding 3: the same Adyen event id with other signed content is a conflict, said in the answer; the first stays", async () => {
    const first = signAdyenItem(adyenItem({ pspReference: "8816178952380002" }), ADYEN_KEY);
    expect((await postAdyen(adyenBody(first))).status).toBe(200);
    const other = signAdyenItem(
      adyenItem({ pspReference: "8816178952380002", amount: { value: 9999, currency: "EUR" } }),
      ADYEN_KEY,
    );
    const response = await postAdyen(adyenBody(other));
    expect(response.status).toBe(200);
    expect(await response.text()).toBe("[accepted]");
    expect(response.headers.get("x-payrecon-rejected")).toMatch(
      /^conflict: adyen event 8816178952380002:AUTHORISATION:true/,
    );
    // The same item again, with only unsigned fields changed, is a plain duplicate.
    const reworded = await postAdyen(adyenBody({ ...first, reason: "other words", eventDate: first.eventDate }));
    expect(reworded.headers.get("x-payrecon-rejected")).toBeNull();
    const stored = await db.pool.query(
      "select amount_minor from gateway_events where event_id like '8816178952380002:%'",
    );
    expect(stored.rows).toEqual([{ amount_minor: 1000 }]);
  });

  it("finding 3: a gateway event id sent again with other content is rejected as a conflict, recorded and counted", async () => {
    const event = gatewayEvent(7, { event_id: "evt_conflict_1", gateway: "stripe", reference: "CONFLICT-1" });
    expect((await ingest("gateway.events", [event])).body.lines[0].status).toBe("accepted");
    const again = await ingest("gateway.events", [event, { ...event, amount_minor: event.amount_minor + 1 }]);
    expect(again.body.lines[0].status).toBe("duplicate");
    expect(again.body.lines[1]).toMatchObject({ status: "rejected", reason: "conflict" });
    const stored = await db.pool.query("select amount_minor from gateway_events where event_id = 'evt_conflict_1'");
    expect(stored.rows).toEqual([{ amount_minor: event.amount_minor }]);
    const rejected = await db.pool.query(
      "select reason, detail from rejected_messages where topic = 'gateway.events' and reason = 'conflict'",
    );
    expect(rejected.rows).toHaveLength(1);
    expect(rejected.rows[0].detail).toMatch(/evt_conflict_1/);
    const text = await metricsText();
    expect(sample(text, /^payrecon_gateway_event_conflicts_total\{gateway="stripe"\} (\d+)$/m)).toBe(1);
    expect(sample(text, /^payrecon_events_rejected_total\{topic="gateway.events",reason="conflict"\} (\d+)$/m)).toBe(1);
  });
});

describe("issue 14 finding 6: malformed input is a 400", () => {
  const viewer = () => api(daemon.baseUrl, "viewer");
  const cursor = (key: unknown) => Buffer.from(JSON.stringify(key)).toString("base64url");

  it("finding 6: forged cursors answer 400, never 503", async () => {
    for (const forged of [
      cursor(["not a time", "x"]),
      cursor([{ a: 1 }, [2]]),
      cursor(["2026-01-01T00:00:00Z", "a\u0000b"]),
    ]) {
      const payments = await viewer()(`/api/v1/payments?cursor=${forged}`);
      expect(payments.status, forged).toBe(400);
      expect(payments.body.error.code).toBe("invalid_cursor");
      const exceptions = await viewer()(`/api/v1/exceptions?cursor=${forged}`);
      expect(exceptions.status, forged).toBe(400);
    }
  });

  it("finding 6: exception ids like 0x10 and 1e3, and a NUL in a note or a query, answer 400", async () => {
    for (const id of ["0x10", "1e3", "1.0", "+7", " 7"]) {
      const response = await viewer()(`/api/v1/exceptions/${encodeURIComponent(id)}`);
      expect(response.status, id).toBe(400);
      expect(response.body.error.code).toBe("invalid_id");
    }
    const note = await api(daemon.baseUrl, "operator")("/api/v1/exceptions/1/actions", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ action: "note", note: "a\u0000b" }),
    });
    expect(note.status).toBe(400);
    expect((await viewer()("/api/v1/payments?counterparty=a%00b")).status).toBe(400);
    expect((await viewer()("/api/v1/payments/a%00b")).status).toBe(400);
    expect((await viewer()("/api/v1/exceptions?min_amount_minor=0x10")).status).toBe(400);
  });

  it("finding 6: /api/v1/payments from/to use the reports' strict RFC 3339 parser", async () => {
    for (const bad of ["foo 12", "2026-11-20T10:00:00", "12", "2026-02-30"]) {
      const response = await viewer()(`/api/v1/payments?from=${encodeURIComponent(bad)}`);
      expect(response.status, bad).toBe(400);
    }
    const from = new Date(Date.now() - 3 * DAY).toISOString();
    expect((await viewer()(`/api/v1/payments?from=${from}&to=${from.slice(0, 10)}`)).status).toBe(200);
  });
});

describe("issue 14 finding 4: bounded label values", () => {
  it("finding 4: 2,000 distinct gateways in one request make a bounded /metrics and status page", async () => {
    const payments = Array.from({ length: 2_000 }, (_, i) =>
      expectedPayment(50_000 + i, {
        id: `lbl_${i}`,
        reference: `LBL-${i}`,
        gateway: `g_${i}`,
        created_at: new Date(Date.now() - DAY).toISOString(),
        due_at: new Date(Date.now() + DAY).toISOString(),
      }),
    );
    const response = await ingest("payments.expected", payments);
    expect(response.body.accepted).toBe(2_000);
    const text = await waitUntil(
      async () => {
        const current = await metricsText();
        return /^payrecon_payments\{[^}]*gateway="other"\} \d+$/m.test(current) ? current : undefined;
      },
      15_000,
      "the other gateway in payrecon_payments",
    );
    const gateways = new Set([...text.matchAll(/gateway="([^"]+)"/g)].map((match) => match[1]));
    // stripe and adyen (METRIC_GATEWAYS), METRIC_LABEL_MAX_SEEN more, and other.
    expect(gateways.size).toBeLessThanOrEqual(2 + SEEN + 1);
    expect(Buffer.byteLength(text)).toBeLessThan(300_000);
    const page = await (await fetch(`${daemon.baseUrl}/`)).text();
    expect(new Set(page.match(/\bg_\d+\b/g) ?? []).size).toBeLessThanOrEqual(SEEN);
  });
});

describe("issue 14 finding 6: failed sign-ins on the status pages are rate-limited", () => {
  let limited: TestDaemon;
  let limitedDb: TestDatabase;
  beforeAll(async () => {
    limitedDb = await createTestDatabase();
    limited = await startTestDaemon({ DATABASE_URL: limitedDb.url, API_RATE_LIMIT: "1/m:3" });
  }, 60_000);
  afterAll(async () => {
    await limited?.stop();
    await limitedDb?.drop();
  });

  it("finding 6: guessing tokens on /, /login and /payments/{id} is answered 429 past the API's burst", async () => {
    const basic = (token: string) => `Basic ${Buffer.from(`x:${token}`).toString("base64")}`;
    for (const pathname of ["/login", "/", "/payments/exp_1"]) {
      const statuses: number[] = [];
      for (let i = 0; i < 6; i++) {
        const response = await fetch(`${limited.baseUrl}${pathname}`, {
          headers: { Authorization: i % 2 ? `Bearer guess-${i}` : basic(`guess-${i}`) },
        });
        statuses.push(response.status);
      }
      expect(statuses, pathname).toContain(429);
    }
    // The public page and a valid token are not limited by failed attempts.
    expect((await fetch(`${limited.baseUrl}/`)).status).toBe(200);
    const signedIn = await fetch(`${limited.baseUrl}/login`, {
      headers: { Authorization: basic("viewer-token") },
      redirect: "manual",
    });
    expect(signedIn.status).toBe(303);
  });
});
