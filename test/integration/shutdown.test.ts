import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestDatabase, type TestDatabase } from "../support/database.js";
import { type ChildDaemon, spawnDaemon, waitReady, waitUntil } from "../support/daemon.js";
import { gatewayEvent } from "../support/facts.js";
import { connectedProducer, kafkaEnv, uniqueTopics } from "../support/kafka.js";

/** SIGTERM mid-stream: stop fetching, finish and commit the batch in progress, exit 0 within 10 s. */
describe("graceful shutdown", () => {
  const topics = uniqueTopics();
  let db: TestDatabase;
  let daemon: ChildDaemon | undefined;
  beforeAll(async () => {
    db = await createTestDatabase();
  });
  afterAll(async () => {
    daemon?.process.kill("SIGKILL");
    await db?.drop();
  });

  it("drains on SIGTERM and exits 0 within the deadline; a restart finishes the stream", async () => {
    const env = { DATABASE_URL: db.url, ...kafkaEnv(topics), LOG_LEVEL: "info" };
    daemon = await spawnDaemon(env);
    await waitReady(daemon.baseUrl);
    const producer = await connectedProducer();
    const total = 4_000;
    for (let n = 0; n < total; n += 500) {
      const messages = Array.from({ length: 500 }, (_, i) => gatewayEvent(n + i)).map((m) => ({
        key: m.reference,
        value: JSON.stringify(m),
      }));
      await producer.send({ topic: topics.gateway, messages });
    }
    await producer.disconnect();
    await waitUntil(
      async () => (await db.pool.query("select count(*)::int as n from gateway_events")).rows[0].n > 0,
      30_000,
      "the first batch stored",
    );
    const began = Date.now();
    daemon.process.kill("SIGTERM");
    const code = await daemon.exited;
    const took = Date.now() - began;
    expect(code).toBe(0);
    expect(took).toBeLessThan(10_000);
    expect(daemon.output()).toContain('"msg":"stopped"');

    daemon = await spawnDaemon(env);
    await waitReady(daemon.baseUrl);
    await waitUntil(
      async () => (await db.pool.query("select count(*)::int as n from gateway_events")).rows[0].n === total,
      60_000,
      "the rest of the stream after the restart",
    );
    console.log(JSON.stringify({ shutdownMs: took, stored: total }));
  });
});
