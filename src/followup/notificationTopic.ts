import type { Kafka } from "kafkajs";
import type { Logger } from "../logger.js";

/**
 * TOPIC_NOTIFICATIONS only when the cluster has it. payrecon never creates topics, and the outbox publishes in
 * order: one message to a missing topic would hold back every finding and dead letter behind it. A topic the
 * cluster lacks is named once and left out; when the cluster cannot be asked in time, the topic is kept
 * (it usually exists, and the consumer's own check reports an unreachable cluster).
 */
export async function notificationTopicIfPresent(
  kafka: Kafka,
  topic: string,
  log: Logger,
  timeoutMs = 5_000,
): Promise<string | undefined> {
  const admin = kafka.admin();
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    const topics = await Promise.race([
      admin.connect().then(() => admin.listTopics()),
      new Promise<undefined>((resolve) => {
        timer = setTimeout(() => resolve(undefined), timeoutMs);
      }),
    ]);
    if (topics === undefined || topics.includes(topic)) return topic;
    log.error(
      { topic },
      `Kafka topic ${topic} not found: notifications are not published to Kafka (create it, or set TOPIC_NOTIFICATIONS; empty turns this off)`,
    );
    return undefined;
  } catch {
    return topic;
  } finally {
    clearTimeout(timer);
    await admin.disconnect().catch(() => {});
  }
}
