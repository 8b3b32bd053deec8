import { randomBytes } from "node:crypto";
import { type Admin, type Consumer, type IHeaders, Kafka, type KafkaMessage, logLevel, type Producer } from "kafkajs";
import { inject } from "vitest";

/** Kafka helpers for tests: unique topic names, a producer, and a reader that collects a topic. */

export function kafkaBrokers(): string[] {
  return inject("kafkaBrokers").split(",");
}

/** A client of the shared cluster, or of `brokers` (a test's own mock cluster). */
export function testKafka(brokers: string[] = kafkaBrokers()): Kafka {
  return new Kafka({
    clientId: "payrecon-test",
    brokers,
    logLevel: logLevel.NOTHING,
    connectionTimeout: 2_000,
    requestTimeout: 10_000,
    retry: { initialRetryTime: 100, maxRetryTime: 2_000, retries: 10 },
  });
}

export interface TestTopics {
  expected: string;
  gateway: string;
  bank: string;
  dlq: string;
  findings: string;
  rawStripe: string;
  rawAdyen: string;
  groupId: string;
}

/** Topic names no other test uses (the mock creates a topic with 4 partitions on first use). */
export function uniqueTopics(): TestTopics {
  const prefix = `t${randomBytes(4).toString("hex")}`;
  return {
    expected: `${prefix}.payments.expected`,
    gateway: `${prefix}.gateway.events`,
    bank: `${prefix}.bank.settlements`,
    dlq: `${prefix}.payrecon.dlq`,
    findings: `${prefix}.payrecon.findings`,
    rawStripe: `${prefix}.gateway.raw.stripe`,
    rawAdyen: `${prefix}.gateway.raw.adyen`,
    groupId: `${prefix}.payrecon`,
  };
}

/** The env a daemon under test needs for these topics (short group timings for the mock). */
export function kafkaEnv(topics: TestTopics): Record<string, string> {
  return {
    KAFKA_BROKERS: inject("kafkaBrokers"),
    KAFKA_GROUP_ID: topics.groupId,
    TOPIC_EXPECTED: topics.expected,
    TOPIC_GATEWAY: topics.gateway,
    TOPIC_BANK: topics.bank,
    TOPIC_DLQ: topics.dlq,
    TOPIC_FINDINGS: topics.findings,
    TOPIC_RAW_STRIPE: topics.rawStripe,
    TOPIC_RAW_ADYEN: topics.rawAdyen,
    KAFKA_SESSION_TIMEOUT: "6s",
    KAFKA_HEARTBEAT_INTERVAL: "500ms",
    KAFKA_REBALANCE_TIMEOUT: "6s",
    KAFKA_MAX_WAIT: "100ms",
  };
}

export async function connectedProducer(kafka = testKafka()): Promise<Producer> {
  const producer = kafka.producer({ allowAutoTopicCreation: true });
  await producer.connect();
  return producer;
}

/** Sends one message (JSON) with a producer of its own. */
export async function sendOne(topic: string, value: object): Promise<void> {
  const producer = await connectedProducer();
  await producer.send({ topic, messages: [{ value: JSON.stringify(value) }] });
  await producer.disconnect();
}

export interface ReadMessage {
  key: string | null;
  value: Buffer | null;
  headers: Record<string, string>;
  partition: number;
  offset: string;
}

function headersOf(headers: IHeaders | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers ?? {})) {
    if (value !== undefined) out[name] = Array.isArray(value) ? String(value[0]) : String(value);
  }
  return out;
}

/** A message as the tests read it: key and headers as text. */
export function readMessage(message: KafkaMessage, partition: number): ReadMessage {
  return {
    key: message.key?.toString() ?? null,
    value: message.value,
    headers: headersOf(message.headers),
    partition,
    offset: message.offset,
  };
}

/** A consumer in a group of its own, with the short timings the mock needs; it commits nothing. */
export function readerConsumer(kafka: Kafka): Consumer {
  return kafka.consumer({
    groupId: `reader-${randomBytes(4).toString("hex")}`,
    sessionTimeout: 6_000,
    heartbeatInterval: 500,
    rebalanceTimeout: 6_000,
    maxWaitTimeInMs: 100,
  });
}

/**
 * Reads a topic from the beginning until `until(messages)` holds or the
 * timeout passes; returns what it read. Its own group, nothing committed.
 */
export async function readTopic(
  topic: string,
  until: (messages: ReadMessage[]) => boolean,
  timeoutMs = 30_000,
): Promise<ReadMessage[]> {
  const consumer = readerConsumer(testKafka());
  const messages: ReadMessage[] = [];
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  let resolveDone: () => void = () => {};
  const done = new Promise<void>((resolve) => {
    resolveDone = resolve;
  });
  await consumer.run({
    autoCommit: false,
    eachMessage: async ({ message, partition }) => {
      messages.push(readMessage(message, partition));
      if (until(messages)) resolveDone();
    },
  });
  if (until(messages)) resolveDone();
  await Promise.race([done, new Promise((resolve) => setTimeout(resolve, timeoutMs))]);
  await consumer.disconnect();
  return messages;
}

/** Whether `groupId` committed every partition of `topics` up to its end (partitions never written to aside). */
export async function groupCaughtUp(admin: Admin, groupId: string, topics: string[]): Promise<boolean> {
  for (const topic of topics) {
    const ends = await admin.fetchTopicOffsets(topic);
    const committed = await admin.fetchOffsets({ groupId, topics: [topic] });
    const done = new Map((committed[0]?.partitions ?? []).map((p) => [p.partition, p.offset]));
    if (ends.some((end) => end.high !== "0" && done.get(end.partition) !== end.high)) return false;
  }
  return true;
}
