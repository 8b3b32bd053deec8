/**
 * How long KafkaIngest waits before replacing a consumer kafkajs stopped for good (KafkaIngest.restartLater).
 *
 * A join refused with INVALID_REQUEST is a lost race, not a lasting fault: a coordinator that sends the leader
 * its assignment before a follower's SyncGroup arrives (librdkafka's mock cluster does; a Kafka broker answers
 * the late follower with its assignment) refuses that follower, and kafkajs stops the consumer instead of
 * joining again. The next join usually succeeds, so the pause does not grow with the restarts; it is the
 * session timeout because the refused member stays in the group until its session ends (kafkajs never got
 * far enough to leave): joining sooner would make the group rebalance twice, and hand that dead member
 * partitions nobody reads until then. Any other crash waits a pause that doubles from 5 s up to 60 s, as a
 * fault fixed outside (authorization) may take a while.
 */
export interface RestartPause {
  delayMs: number;
  /** Whether this restart counts towards the next, longer pause. */
  grows: boolean;
}

const FIRST_PAUSE_MS = 5_000;
const LONGEST_PAUSE_MS = 60_000;

export function restartPause(error: unknown, restartsSoFar: number, sessionTimeoutMs: number): RestartPause {
  if (isJoinRefused(error)) return { delayMs: sessionTimeoutMs, grows: false };
  return { delayMs: Math.min(FIRST_PAUSE_MS * 2 ** restartsSoFar, LONGEST_PAUSE_MS), grows: true };
}

/** kafkajs' protocol error INVALID_REQUEST (42), under any of its retry wrappers. */
function isJoinRefused(error: unknown): boolean {
  return (originalCause(error) as { type?: unknown } | undefined)?.type === "INVALID_REQUEST";
}

/** The error under kafkajs' retry wrappers (KafkaJSNonRetriableError, KafkaJSNumberOfRetriesExceeded). */
export function originalCause(error: unknown): unknown {
  let cause = error;
  while (cause instanceof Error && cause.cause instanceof Error) cause = cause.cause;
  return cause;
}
