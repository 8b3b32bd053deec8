import type { Kafka } from "kafkajs";

/**
 * A topic payrecon subscribes to that the cluster does not have. payrecon never creates topics (brokers
 * run with auto-creation off), and kafkajs fails `subscribe` with an error that names no topic: without
 * this, the daemon exited and its container restarted in a loop, saying nothing an operator could act on.
 */
export class MissingTopicsError extends Error {
  override name = "MissingTopicsError";
  constructor(readonly topics: string[]) {
    super(missingTopicsMessage(topics));
  }
}

export function missingTopicsMessage(topics: string[]): string {
  return (
    `Kafka topic${topics.length === 1 ? "" : "s"} ${topics.join(", ")} not found: create ` +
    `${topics.length === 1 ? "it" : "them"} (payrecon never creates topics) or set the TOPIC_* variable; ` +
    "not ready until then, retrying"
  );
}

/** kafkajs' answer for a topic the cluster does not have, under its retry wrappers. */
export function isUnknownTopic(error: unknown): boolean {
  for (let cause = error, depth = 0; cause instanceof Error && depth < 10; depth++) {
    if ((cause as { type?: string }).type === "UNKNOWN_TOPIC_OR_PARTITION") return true;
    cause = cause.cause ?? (cause as { originalError?: unknown }).originalError;
  }
  return false;
}

/** Which of `wanted` the cluster lacks; all of them when it cannot be asked (each may be the one). */
export async function findMissingTopics(kafka: Kafka, wanted: string[]): Promise<string[]> {
  const admin = kafka.admin();
  try {
    await admin.connect();
    const existing = new Set(await admin.listTopics());
    const missing = wanted.filter((topic) => !existing.has(topic));
    return missing.length > 0 ? missing : wanted;
  } catch {
    return wanted;
  } finally {
    await admin.disconnect().catch(() => {});
  }
}
