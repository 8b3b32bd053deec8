import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestDatabase, type TestDatabase } from "../support/database.js";
import { api, startTestDaemon, type TestDaemon, waitUntil } from "../support/daemon.js";
import { bankEntry, expectedPayment, gatewayEvent } from "../support/facts.js";
import { connectedProducer, kafkaEnv, readTopic, uniqueTopics } from "../support/kafka.js";

/**
 * CONTRACT §8 "Same key, different content" on each input topic, over HTTP ingest and over Kafka: the second
 * version is rejected (reason conflict), recorded, dead-lettered (`x-payrecon-error: conflict…`), counted and
 * raised as a `conflict` exception keeping both contents; the first version stays in force.
 */

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

type Transport = "http" | "kafka";
interface Case {
  topic: string;
  /** The Kafka key and what the stored first version is read by. */
  key: (transport: Transport) => string;
  first: (transport: Transport) => Record<string, unknown>;
  /** Same key, other facts. */
  second: (transport: Transport) => Record<string, unknown>;
  /** The same key again with only what is not a fact changed: still a duplicate. */
  reworded?: (transport: Transport) => Record<string, unknown>;
  storedAmount: (key: string) => Promise<number[]>;
  subjectKey: (key: string) => string;
}

const n = (transport: Transport) => (transport === "http" ? 1 : 2);
const amounts = async (sql: string, key: string) =>
  (await db.pool.query<{ amount_minor: string }>(sql, [key])).rows.map((row) => Number(row.amount_minor));

const cases: Record<string, Case> = {
  "expected payments (same id and version)": {
    topic: topics.expected,
    key: (t) => `exp_conflict_${t}`,
    first: (t) => expectedPayment(n(t), { id: `exp_conflict_${t}`, reference: `CONF-${t}`, version: 3 }),
    second: (t) =>
      expectedPayment(n(t), { id: `exp_conflict_${t}`, reference: `CONF-${t}`, version: 3, amount_minor: 99_999 }),
    storedAmount: (key) =>
      amounts(
        "select (body->>'amount_minor') as amount_minor from expected_payment_versions where payment_id = $1",
        key,
      ),
    subjectKey: (key) => `payment:${key}`,
  },
  "gateway events": {
    topic: topics.gateway,
    key: (t) => `evt_conflict_${t}`,
    first: (t) => gatewayEvent(2 * n(t), { event_id: `evt_conflict_${t}`, reference: `CONF-G-${t}` }),
    second: (t) => gatewayEvent(2 * n(t), { event_id: `evt_conflict_${t}`, reference: `CONF-G-${t}`, amount_minor: 7 }),
    reworded: (t) =>
      gatewayEvent(2 * n(t), { event_id: `evt_conflict_${t}`, reference: `CONF-G-${t}`, metadata: { note: "again" } }),
    storedAmount: (key) => amounts("select amount_minor from gateway_events where event_id = $1", key),
    subjectKey: (key) => `gateway_event:stripe/${key}`,
  },
  "bank entries": {
    topic: topics.bank,
    key: (t) => `ACSR-CONFLICT-${t}`,
    first: (t) => bankEntry(n(t), { entry_id: `ACSR-CONFLICT-${t}` }),
    second: (t) => bankEntry(n(t), { entry_id: `ACSR-CONFLICT-${t}`, amount_minor: 4_242 }),
    // The statement a line came in (metadata) is not a fact of the line.
    reworded: (t) => bankEntry(n(t), { entry_id: `ACSR-CONFLICT-${t}`, metadata: { statement_id: "other" } }),
    storedAmount: (key) => amounts("select amount_minor from bank_entries where entry_id = $1", key),
    subjectKey: (key) => `bank_entry:bank_a/${key}`,
  },
};

const ingest = (topic: string, messages: unknown[]) =>
  api(daemon.baseUrl, "ingester")(`/api/v1/ingest/${topic}`, {
    method: "POST",
    headers: { "Content-Type": "application/x-ndjson" },
    body: messages.map((message) => JSON.stringify(message)).join("\n"),
  });

describe.each(Object.entries(cases))("a key conflict on %s", (_name, c) => {
  it("over HTTP ingest: rejected as a conflict, the first version stays", async () => {
    const first = await ingest(c.topic, [c.first("http")]);
    expect(first.body.lines[0].status).toBe("accepted");
    const messages = [c.first("http"), c.second("http"), ...(c.reworded ? [c.reworded("http")] : [])];
    const again = await ingest(c.topic, messages);
    expect(again.body.lines[0].status).toBe("duplicate");
    expect(again.body.lines[1]).toMatchObject({ status: "rejected", reason: "conflict" });
    if (c.reworded) expect(again.body.lines[2].status).toBe("duplicate");
    expect(again.body.lines[1].detail).toContain(c.key("http"));
    await expectConflict(c, "http");
  });

  it("over Kafka: rejected as a conflict, the first version stays", async () => {
    const producer = await connectedProducer();
    const key = c.key("kafka");
    // One key, one partition: the first version is read first.
    await producer.send({
      topic: c.topic,
      messages: [c.first("kafka"), c.second("kafka")].map((message) => ({ key, value: JSON.stringify(message) })),
    });
    await producer.disconnect();
    await waitUntil(
      async () =>
        (
          await db.pool.query(
            "select 1 from rejected_messages where topic = $1 and source = 'kafka' and reason = 'conflict'",
            [c.topic],
          )
        ).rowCount === 1,
      60_000,
      "the conflict recorded",
    );
    await expectConflict(c, "kafka");
  });
});

async function expectConflict(c: Case, transport: Transport): Promise<void> {
  const key = c.key(transport);
  // The first version stays in force.
  expect(await c.storedAmount(key)).toEqual([Number(c.first(transport).amount_minor)]);
  const exception = await db.pool.query<{ id: string; kind: string; state: string; detail: string }>(
    "select id, kind, state, detail from exceptions where kind = 'conflict' and subject_key = $1",
    [c.subjectKey(key)],
  );
  expect(exception.rows).toHaveLength(1);
  expect(exception.rows[0]).toMatchObject({ state: "open" });
  expect(exception.rows[0]!.detail).toMatch(/amount_minor: \d+ stored, \d+ received/);
  const kept = await db.pool.query<{ first_body: Record<string, unknown>; received_body: Record<string, unknown> }>(
    "select first_body, received_body from input_conflicts where exception_id = $1",
    [exception.rows[0]!.id],
  );
  expect(kept.rows).toHaveLength(1);
  expect(kept.rows[0]!.first_body.amount_minor).toBe(c.first(transport).amount_minor);
  expect(kept.rows[0]!.received_body.amount_minor).toBe(c.second(transport).amount_minor);
  const listed = await api(daemon.baseUrl, "viewer")("/api/v1/exceptions?kind=conflict");
  expect(listed.status).toBe(200);
  // Both contents, through the API.
  const shown = await api(daemon.baseUrl, "viewer")(`/api/v1/exceptions/${exception.rows[0]!.id}`);
  expect(shown.body.versions).toHaveLength(1);
  expect(shown.body.versions[0]).toMatchObject({
    topic: c.topic,
    first: { amount_minor: c.first(transport).amount_minor },
    received: { amount_minor: c.second(transport).amount_minor },
  });
  const rejected = await db.pool.query(
    "select detail from rejected_messages where topic = $1 and source = $2 and reason = 'conflict'",
    [c.topic, transport],
  );
  expect(rejected.rows).toHaveLength(1);
  const letters = await readTopic(topics.dlq, (read) =>
    read.some((letter) => letter.headers["x-payrecon-error"]?.includes(key)),
  );
  const letter = letters.find((read) => read.headers["x-payrecon-error"]?.includes(key));
  expect(letter?.headers["x-payrecon-error"]).toMatch(/^conflict: /);
  expect(letter?.headers["x-payrecon-source-topic"]).toBe(c.topic);
  expect(JSON.parse(letter!.value!.toString())).toEqual(c.second(transport));
  const metrics = await (await fetch(`${daemon.baseUrl}/metrics`)).text();
  const escaped = c.topic.replaceAll(".", "\\.");
  const counted = new RegExp(`^payrecon_input_conflicts_total\\{topic="${escaped}"\\} (\\d+)$`, "m").exec(metrics);
  expect(Number(counted?.[1])).toBe(transport === "http" ? 1 : 2);
}
