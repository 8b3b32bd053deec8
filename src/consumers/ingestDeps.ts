import type pg from "pg";
import type { Config } from "../config.js";
import type { Logger } from "../logger.js";
import type { Metrics } from "../metrics/registry.js";
import { type ReconcileDeps, reconcileTouched } from "../writer/reconcileTouched.js";
import type { WorkingSetReconciler } from "../writer/workingSetReconciler.js";
import type { IngestDeps } from "./ingest.js";

/** The memory engine, or what routes to it (the writer leadership). */
export type WorkingSetWriter = Pick<WorkingSetReconciler, "reconcile">;

/**
 * How the ingest path is wired from configuration, shared by the daemon and
 * `payrecon import` (which ingests directly when no Kafka is configured), so
 * both store and reconcile facts exactly alike.
 */

export function createReconcileDeps(config: Config, log: Logger, metrics: Metrics): ReconcileDeps {
  return {
    policy: config.policy,
    metrics,
    log,
    findingsTopic: config.kafka ? config.topics.findings : undefined,
    onUnknownFailureCode: unknownCodeLogger(log),
  };
}

export function createIngestDeps(
  config: Config,
  pool: pg.Pool,
  reconcileDeps: ReconcileDeps,
  options: { afterCommit?: () => void; workingSet?: WorkingSetWriter } = {},
): IngestDeps {
  const { workingSet } = options;
  const deps: IngestDeps = {
    pool,
    metrics: reconcileDeps.metrics,
    topics: config.topics,
    deadLetterToKafka: config.kafka !== undefined,
    reconcile: workingSet
      ? (tx, touched, clock) => workingSet.reconcile(tx, touched, clock)
      : (tx, touched, clock) => reconcileTouched(tx, touched, clock, reconcileDeps),
    now: () => new Date(),
    rejectedMaxBytes: config.rejectedMessages.maxBytes,
  };
  if (options.afterCommit) deps.afterCommit = options.afterCommit;
  return deps;
}

/** Logs each unknown failure code once per process: the code is kept verbatim, its category is unknown. */
export function unknownCodeLogger(log: Logger) {
  const seen = new Set<string>();
  return (code: string, gateway: string) => {
    const key = `${gateway}\u0000${code}`;
    if (seen.has(key) || seen.size > 10_000) return;
    seen.add(key);
    log.warn({ gateway, failureCode: code }, "failure code not in the failure-code table: category unknown");
  };
}
