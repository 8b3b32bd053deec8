import { KafkaJSNumberOfRetriesExceeded, KafkaJSProtocolError, type Kafka } from "kafkajs";
import { describe, expect, it } from "vitest";
import { isUnknownTopic, missingTopicsMessage } from "../../src/kafka/missingTopics.js";
import { fakeKafkaIngest } from "../support/fakeKafkaIngest.js";

/**
 * A topic the daemon subscribes to that the cluster lacks (auto-creation off, as in docker compose):
 * kafkajs fails `subscribe` naming no topic, and the daemon used to exit — a crash loop under a restart
 * policy. Now it names the topics, stays up not ready, and retries. The integration tests' mock cluster
 * creates topics on first use, so the failure is staged here with kafkajs' own error classes.
 */

const unknownTopic = () =>
  new KafkaJSNumberOfRetriesExceeded(
    new KafkaJSProtocolError({
      type: "UNKNOWN_TOPIC_OR_PARTITION",
      code: 3,
      retriable: true,
      message: "This server does not host this topic-partition",
    } as unknown as Error),
    { retryCount: 5, retryTime: 1_000 },
  );

/** A cluster holding only `existing`; subscribing to anything else fails as a real broker makes kafkajs fail. */
function fakeKafka(existing: string[]): Kafka {
  const consumer = {
    events: { CRASH: "crash", GROUP_JOIN: "join", FETCH: "fetch" },
    on: () => {},
    connect: async () => {},
    disconnect: async () => {},
    subscribe: async ({ topic }: { topic: string }) => {
      if (!existing.includes(topic)) throw unknownTopic();
    },
    run: async () => {},
  };
  const admin = {
    connect: async () => {},
    disconnect: async () => {},
    listTopics: async () => existing,
    describeCluster: async () => ({}),
  };
  return { consumer: () => consumer, admin: () => admin } as unknown as Kafka;
}

describe("a subscribed topic the cluster does not have", () => {
  it("is recognised under kafkajs' retry wrapper, and no other error is", () => {
    expect(isUnknownTopic(unknownTopic())).toBe(true);
    expect(isUnknownTopic(new Error("connection refused"))).toBe(false);
    expect(isUnknownTopic(undefined)).toBe(false);
  });

  it("is named in one line that says what to do", () => {
    expect(missingTopicsMessage(["gateway.raw.stripe", "gateway.raw.adyen"])).toBe(
      "Kafka topics gateway.raw.stripe, gateway.raw.adyen not found: create them (payrecon never creates topics) " +
        "or set the TOPIC_* variable; not ready until then, retrying",
    );
    expect(missingTopicsMessage(["bank.settlements"])).toMatch(/^Kafka topic bank\.settlements not found: create it /);
  });

  it("leaves the consumer started but not ready, with an error naming only the missing topics", async () => {
    const created = ["payments.expected", "gateway.events", "bank.settlements", "payrecon.dlq", "payrecon.findings"];
    const { ingest, lines } = fakeKafkaIngest<{ level: string; msg: string; missingTopics?: string[] }>(
      fakeKafka(created),
    );
    try {
      await ingest.start();
      expect(await ingest.isHealthy()).toBe(false);
      const error = lines.find((line) => line.level === "error");
      expect(error?.missingTopics).toEqual(["gateway.raw.stripe", "gateway.raw.adyen"]);
      expect(error?.msg).toMatch(/^Kafka topics gateway\.raw\.stripe, gateway\.raw\.adyen not found/);
    } finally {
      await ingest.stop();
    }
  });
});
