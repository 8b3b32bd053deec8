import type { Kafka } from "kafkajs";
import { loadConfig } from "../../src/config.js";
import { KafkaIngest } from "../../src/consumers/kafkaConsumer.js";
import { createLogger } from "../../src/logger.js";
import { createMetrics } from "../../src/metrics/registry.js";

/**
 * A KafkaIngest on a fake cluster, for unit tests of how it starts and restarts its consumer (no database nor
 * publisher: nothing reaches a batch); its log lines, parsed, in `lines`.
 */
export function fakeKafkaIngest<Line>(kafka: Kafka, env: Record<string, string> = {}) {
  const config = loadConfig({ KAFKA_BROKERS: "kafka:9092", ...env });
  const lines: Line[] = [];
  const ingest = new KafkaIngest({
    kafka,
    config: config.kafka!,
    topics: config.topics,
    ingest: {} as never,
    publisher: {} as never,
    metrics: createMetrics({ version: "test", commit: "test" }),
    log: createLogger("info", { write: (line: string) => void lines.push(JSON.parse(line)) }),
    lagIntervalMs: 600_000,
  });
  return { ingest, lines };
}
