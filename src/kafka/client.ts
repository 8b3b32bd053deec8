import { Kafka, logLevel as KafkaLogLevel, type LogEntry } from "kafkajs";
import type { Config } from "../config.js";
import type { Logger } from "../logger.js";

type KafkaConfig = NonNullable<Config["kafka"]>;

/** kafkajs logs through our JSON logger; its chatter stays at debug unless it is an error. */
function logCreator(log: Logger) {
  return () =>
    ({ level, label, log: entry }: LogEntry) => {
      const { message, ...extra } = entry;
      const fields = { kafka: extra, label };
      if (level === KafkaLogLevel.ERROR) log.error(fields, message);
      else if (level === KafkaLogLevel.WARN) log.warn(fields, message);
      else log.debug(fields, message);
    };
}

export function createKafka(config: KafkaConfig, log: Logger): Kafka {
  return new Kafka({
    clientId: config.clientId,
    brokers: config.brokers,
    ssl: config.ssl,
    sasl: config.sasl as never,
    connectionTimeout: 5_000,
    requestTimeout: 30_000,
    // Keep trying through broker outages: the consumer resumes from committed offsets.
    retry: { initialRetryTime: 300, maxRetryTime: 10_000, retries: 10 },
    logLevel: KafkaLogLevel.WARN,
    logCreator: logCreator(log),
  });
}
