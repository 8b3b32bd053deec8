import type pg from "pg";
import type { Config } from "../config.js";
import { pruneRejectedMessages } from "../db/queries/rejectedMessages.js";
import type { Logger } from "../logger.js";
import type { Metrics } from "../metrics/registry.js";

/**
 * Keeps rejected_messages within REJECTED_MESSAGES_RETENTION and REJECTED_MESSAGES_MAX_TOTAL_BYTES (run by
 * the sweeper, at start and every SWEEP_INTERVAL): what anyone can make payrecon reject must not grow without end.
 */
export function rejectedMessagesRetention(
  pool: pg.Pool,
  limits: Config["rejectedMessages"],
  metrics: Metrics,
  log: Logger,
): (now: Date) => Promise<void> {
  return async (now) => {
    const deleted = await pruneRejectedMessages(
      pool,
      new Date(now.getTime() - limits.retentionMs),
      limits.maxTotalBytes,
    );
    if (deleted.age > 0) metrics.rejectedMessagesPruned.inc({ reason: "age" }, deleted.age);
    if (deleted.size > 0) metrics.rejectedMessagesPruned.inc({ reason: "size" }, deleted.size);
    if (deleted.age + deleted.size > 0) log.info(deleted, "rejected messages deleted by retention");
  };
}
