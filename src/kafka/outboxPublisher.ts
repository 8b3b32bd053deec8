import type { Producer } from "kafkajs";
import type pg from "pg";
import { lockPendingOutbox, markOutboxPublished } from "../db/queries/outbox.js";
import { withTransaction } from "../db/transaction.js";
import type { Logger } from "../logger.js";
import type { FindingsPublisher } from "./findingsPublisher.js";

/**
 * Publishes the outbox (dead letters, notifications) to Kafka, then the findings (`findings`; they are not in
 * the outbox: see findingsPublisher.ts). Rows are locked
 * while being sent and marked published in the same transaction, so a crash
 * re-sends at most the last chunk and loses nothing. The consumer flushes
 * before committing offsets: a dead letter is in Kafka before its source
 * message's offset moves.
 */
export class OutboxPublisher {
  private running: Promise<void> | undefined;
  private next: Promise<void> | undefined;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly pool: pg.Pool,
    private readonly producer: Producer,
    private readonly log: Logger,
    private readonly chunkSize = 1_000,
    private readonly findings?: FindingsPublisher,
  ) {}

  /**
   * Sends everything committed before the call. A run already under way may have read the outbox before
   * the caller's rows committed, so callers arriving during a run share one more run after it.
   */
  flush(): Promise<void> {
    if (!this.running) {
      this.running = this.drain().finally(() => {
        this.running = undefined;
      });
      return this.running;
    }
    if (!this.next) {
      this.next = this.running
        .catch(() => {})
        .then(() => {
          this.next = undefined;
          return this.flush();
        });
    }
    return this.next;
  }

  private async drain(): Promise<void> {
    for (;;) {
      const sent = await withTransaction(this.pool, async (tx) => {
        const pending = await lockPendingOutbox(tx, this.chunkSize);
        if (pending.length === 0) return 0;
        const byTopic = new Map<string, typeof pending>();
        for (const message of pending) {
          const list = byTopic.get(message.topic) ?? [];
          list.push(message);
          byTopic.set(message.topic, list);
        }
        await this.producer.sendBatch({
          acks: -1,
          topicMessages: [...byTopic].map(([topic, messages]) => ({
            topic,
            messages: messages.map((message) => ({
              key: message.key,
              value: message.value,
              headers: message.headers,
            })),
          })),
        });
        await markOutboxPublished(
          tx,
          pending.map((message) => message.id),
        );
        return pending.length;
      });
      if (sent < this.chunkSize) break;
    }
    await this.findings?.drain();
  }

  /** Background flushing for messages written outside the consumer (HTTP ingest, sweeper). */
  start(intervalMs = 1_000): void {
    if (this.timer) return;
    this.timer = setInterval(() => {
      // A run still retrying (a broker outage) is reported once when it fails, not once per tick it lasted.
      if (this.running) return;
      this.flush().catch((error) => this.log.warn({ err: error }, "outbox publish failed; will retry"));
    }, intervalMs);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    await this.running?.catch(() => {});
    await this.flush().catch((error) => this.log.warn({ err: error }, "outbox not fully published at shutdown"));
  }
}
