import client, { Counter, Gauge, Histogram, Registry } from "prom-client";
import { FAILURE_CATEGORIES } from "../reconcile/failureCodes.js";
import { createLabelBounds, DEFAULT_METRIC_GATEWAYS, type LabelBounds, type LabelBoundsOptions } from "./labels.js";

/**
 * Every metric payrecon exports (CONTRACT §4 plus additions), declared in one
 * place on a registry the caller owns: tests use a fresh one. No label ever
 * carries a payment id, reference or account number.
 */
export interface Metrics {
  registry: Registry;
  eventsIngested: Counter<"topic">;
  eventsRejected: Counter<"topic" | "reason">;
  eventsDuplicate: Counter<"topic">;
  deadLetters: Counter<"topic" | "reason">;
  payments: Gauge<"status" | "direction" | "gateway">;
  fundsAtRisk: Gauge<"status" | "direction" | "currency">;
  batchFees: Gauge<"gateway" | "currency" | "kind">;
  payoutFailures: Counter<"gateway" | "failure_category">;
  paymentOutcomes: Counter<"gateway" | "direction" | "outcome">;
  statusChanges: Counter<"gateway" | "direction" | "status">;
  unmatchedBankEntries: Gauge<"bank" | "currency">;
  settlementDuration: Histogram<"gateway" | "direction">;
  oldestUnsettledAge: Gauge<"gateway" | "direction">;
  lastEventTimestamp: Gauge<"topic" | "source">;
  consumerLag: Gauge<"topic" | "partition">;
  reconcileDuration: Histogram<string>;
  reconcileLockHeld: Histogram<string>;
  workingSetLoads: Counter<string>;
  appliedAhead: Counter<string>;
  workingSetItems: Gauge<string>;
  workingSetEvictions: Counter<string>;
  workingSetReloads: Counter<string>;
  workingSetUnverified: Gauge<string>;
  workingSetPending: Gauge<string>;
  buildInfo: Gauge<"version" | "commit">;
  ready: Gauge<string>;
  writerLeader: Gauge<string>;
  exceptionsOpen: Gauge<"kind" | "priority">;
  exceptionsOverdue: Gauge<"kind">;
  consumerCrashes: Counter<string>;
  consumerRebalances: Counter<string>;
  consumerAssignedPartitions: Gauge<string>;
  consumerPositionSeeks: Counter<string>;
  consumerPositionsMoved: Counter<string>;
  itemAlertsActive: Gauge<string>;
  unknownFailureCodes: Counter<"gateway">;
  gatewayEventsIgnored: Counter<"gateway" | "type">;
  webhookRequests: Counter<"gateway" | "outcome">;
  stripePayoutsWaiting: Gauge<string>;
  gatewayEventConflicts: Counter<"gateway">;
  inputConflicts: Counter<"topic">;
  statementChecks: Counter<"bank" | "result">;
  rejectedMessagesPruned: Counter<"reason">;
  gaugeRefreshErrors: Counter<string>;
  notifications: Counter<"kind" | "result">;
  findingsPublished: Counter<string>;
  findingsUnpublishedAge: Gauge<string>;
  /** Bounds every label fed by producers' free text (gateway, bank): see labels.ts. */
  labels: LabelBounds;
  /** Ignored gateway event types seen, per gateway, to bound the `type` label. */
  ignoredTypes: Map<string, Set<string>>;
  /** Newest event time per topic/source, so the freshness gauge only moves forward. */
  lastEventSeconds: Map<string, number>;
  /** Gateways whose counters have their zero series. */
  knownGateways: Set<string>;
}

/** Objective: a payment settles within a day of the gateway accepting it; an edge sits exactly there. */
export const SETTLEMENT_OBJECTIVE_SECONDS = 86_400;
const SETTLEMENT_BUCKETS = [60, 300, 900, 3_600, 14_400, 43_200, 86_400, 172_800, 259_200, 604_800, 1_209_600];
/** Objective: a batch is reconciled within 100 ms (detection within a second end to end). */
const RECONCILE_BUCKETS = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5];

export function createMetrics(options: {
  version: string;
  commit: string;
  gateways?: string[];
  inputTopics?: string[];
  labels?: Partial<LabelBoundsOptions>;
}): Metrics {
  const registry = new Registry();
  client.collectDefaultMetrics({ register: registry });
  const metrics: Metrics = {
    registry,
    eventsIngested: new Counter({
      name: "payrecon_events_ingested_total",
      help: "Input messages accepted and stored (duplicates included), by topic.",
      labelNames: ["topic"],
      registers: [registry],
    }),
    eventsRejected: new Counter({
      name: "payrecon_events_rejected_total",
      help: "Input messages rejected (bad UTF-8, JSON or schema), by topic and reason.",
      labelNames: ["topic", "reason"],
      registers: [registry],
    }),
    eventsDuplicate: new Counter({
      name: "payrecon_events_duplicate_total",
      help: "Input messages all of whose facts were stored already (re-deliveries, producers' repeats), by topic; also counted in payrecon_events_ingested_total.",
      labelNames: ["topic"],
      registers: [registry],
    }),
    deadLetters: new Counter({
      name: "payrecon_dead_letters_total",
      help: "Messages written to the dead-letter topic, by source topic and reason.",
      labelNames: ["topic", "reason"],
      registers: [registry],
    }),
    payments: new Gauge({
      name: "payrecon_payments",
      help: "Expected payments by current status.",
      labelNames: ["status", "direction", "gateway"],
      registers: [registry],
    }),
    batchFees: new Gauge({
      name: "payrecon_batch_fees_minor",
      help: "Fees of the stored settlement batches, in minor units: charged (as the gateway reported) and expected (FEE_SCHEDULE).",
      labelNames: ["gateway", "currency", "kind"],
      registers: [registry],
    }),
    fundsAtRisk: new Gauge({
      name: "payrecon_funds_at_risk",
      help: "Unsettled amount of payments that failed, are held, delayed or mismatched, in major units of the currency.",
      labelNames: ["status", "direction", "currency"],
      registers: [registry],
    }),
    payoutFailures: new Counter({
      name: "payrecon_payout_failures_total",
      help: "Payouts that moved to failed, by gateway and failure category.",
      labelNames: ["gateway", "failure_category"],
      registers: [registry],
    }),
    paymentOutcomes: new Counter({
      name: "payrecon_payment_outcomes_total",
      help: "Payments reaching an outcome (settled, failed, refunded, charged_back, cancelled): the denominator of failure ratios.",
      labelNames: ["gateway", "direction", "outcome"],
      registers: [registry],
    }),
    statusChanges: new Counter({
      name: "payrecon_payment_status_changes_total",
      help: "Transitions of expected payments into each status.",
      labelNames: ["gateway", "direction", "status"],
      registers: [registry],
    }),
    unmatchedBankEntries: new Gauge({
      name: "payrecon_unmatched_bank_entries",
      help: "Bank entries that matched nothing after the grace period.",
      labelNames: ["bank", "currency"],
      registers: [registry],
    }),
    settlementDuration: new Histogram({
      name: "payrecon_settlement_duration_seconds",
      help: "Time from gateway acceptance to bank settlement.",
      labelNames: ["gateway", "direction"],
      buckets: SETTLEMENT_BUCKETS,
      registers: [registry],
    }),
    oldestUnsettledAge: new Gauge({
      name: "payrecon_oldest_unsettled_age_seconds",
      help: "Age of the oldest expected payment not yet settled nor ended, since it was created.",
      labelNames: ["gateway", "direction"],
      registers: [registry],
    }),
    lastEventTimestamp: new Gauge({
      name: "payrecon_last_event_timestamp_seconds",
      help: "Unix time of the newest event seen per topic and source (gateway or bank).",
      labelNames: ["topic", "source"],
      registers: [registry],
    }),
    consumerLag: new Gauge({
      name: "payrecon_consumer_lag",
      help: "Messages in each partition not yet processed by the consumer group.",
      labelNames: ["topic", "partition"],
      registers: [registry],
    }),
    reconcileDuration: new Histogram({
      name: "payrecon_reconcile_duration_seconds",
      help: "Time to store and reconcile one batch of input messages.",
      buckets: RECONCILE_BUCKETS,
      registers: [registry],
    }),
    reconcileLockHeld: new Histogram({
      name: "payrecon_reconcile_lock_held_seconds",
      help:
        "Time one batch held the reconciliation lock (reconciling and committing). Every instance shares the lock: " +
        "its rate summed over instances near 1 means reconciliation is saturated and more instances will not help.",
      buckets: RECONCILE_BUCKETS,
      registers: [registry],
    }),
    workingSetLoads: new Counter({
      name: "payrecon_working_set_loads_total",
      help:
        "RECONCILE_ENGINE=memory: times the working set was loaded whole from PostgreSQL — at start, after a transaction " +
        "that did not commit, or when other processes' facts were older than the reconcile journal keeps.",
      labelNames: ["reason"],
      registers: [registry],
    }),
    appliedAhead: new Counter({
      name: "payrecon_working_set_applied_ahead_total",
      help:
        "RECONCILE_ENGINE=memory: reconciliations whose facts were applied in memory before taking the reconciliation " +
        "lock (apply-ahead): `used` when the lock found nothing else committed since, `redone` when a transaction " +
        "before it did not commit or another writer committed between (the working set is then loaded again).",
      labelNames: ["result"],
      registers: [registry],
    }),
    workingSetItems: new Gauge({
      name: "payrecon_working_set_items",
      help:
        "RECONCILE_ENGINE=memory: payments and bank entries in the working set (`open`: in memory) and evicted " +
        "(`evicted`: final past WORKING_SET_EVICT_AFTER, only their lookup keys in memory).",
      labelNames: ["kind", "state"],
      registers: [registry],
    }),
    workingSetEvictions: new Counter({
      name: "payrecon_working_set_evictions_total",
      help: "RECONCILE_ENGINE=memory: payments evicted from the working set (with their events and matched entries).",
      registers: [registry],
    }),
    workingSetReloads: new Counter({
      name: "payrecon_working_set_reloads_total",
      help: "RECONCILE_ENGINE=memory: evicted payments loaded back from PostgreSQL because a late fact could touch them.",
      registers: [registry],
    }),
    workingSetUnverified: new Gauge({
      name: "payrecon_working_set_unverified_keys",
      help:
        "RECONCILE_ENGINE=memory: keys of the working set loaded at start not yet compared with their stored rows " +
        "(each reconciliation compares up to 10,000 and writes what differs); 0 once the read model is checked whole.",
      registers: [registry],
    }),
    workingSetPending: new Gauge({
      name: "payrecon_working_set_unevaluated_payments",
      help:
        "RECONCILE_ENGINE=memory: payments of the working set loaded at start not evaluated yet (evaluated in slices " +
        "after ready, or when a fact touches them); 0 once every outcome is known.",
      registers: [registry],
    }),
    buildInfo: new Gauge({
      name: "payrecon_build_info",
      help: "Always 1; the labels say which build runs.",
      labelNames: ["version", "commit"],
      registers: [registry],
    }),
    ready: new Gauge({
      name: "payrecon_ready",
      help: "1 when the database (and Kafka, when configured) is reachable and migrations are applied.",
      registers: [registry],
    }),
    writerLeader: new Gauge({
      name: "payrecon_writer_leader",
      help:
        "RECONCILE_ENGINE=memory: 1 while this instance holds the writer lock (consumes, sweeps, reconciles from its " +
        "working set), 0 while it waits as a standby.",
      registers: [registry],
    }),
    exceptionsOpen: new Gauge({
      name: "payrecon_exceptions_open",
      help: "Open or acknowledged exceptions by kind and priority.",
      labelNames: ["kind", "priority"],
      registers: [registry],
    }),
    exceptionsOverdue: new Gauge({
      name: "payrecon_exceptions_overdue",
      help: "Open exceptions past their resolution deadline.",
      labelNames: ["kind"],
      registers: [registry],
    }),
    consumerCrashes: new Counter({
      name: "payrecon_kafka_consumer_crashes_total",
      help: "Kafka consumer crashes (each followed by a restart).",
      registers: [registry],
    }),
    consumerRebalances: new Counter({
      name: "payrecon_kafka_consumer_rebalances_total",
      help: "Consumer group joins (rebalances) of this instance.",
      registers: [registry],
    }),
    consumerAssignedPartitions: new Gauge({
      name: "payrecon_kafka_assigned_partitions",
      help: "Input partitions assigned to this instance at its last consumer group join (a memory-engine standby: 0).",
      registers: [registry],
    }),
    consumerPositionSeeks: new Counter({
      name: "payrecon_kafka_consumer_position_seeks_total",
      help: "Partitions this instance moved to the position stored with the facts, the group's committed offset being elsewhere (a crash between a commit and its offset commit, a partition taken over).",
      registers: [registry],
    }),
    consumerPositionsMoved: new Counter({
      name: "payrecon_kafka_consumer_positions_moved_total",
      help: "Transactions rolled back because one of their partitions' stored positions had moved (another instance stored it first across a rebalance): read again from the stored position.",
      registers: [registry],
    }),
    itemAlertsActive: new Gauge({
      name: "payrecon_item_alerts_active",
      help: "Item-level alerts currently pushed to Alertmanager.",
      registers: [registry],
    }),
    unknownFailureCodes: new Counter({
      name: "payrecon_unknown_failure_codes_total",
      help: "Failures whose code is not in the failure-code table (kept verbatim, category unknown).",
      labelNames: ["gateway"],
      registers: [registry],
    }),
    gatewayEventsIgnored: new Counter({
      name: "payrecon_gateway_events_ignored_total",
      help: "Gateway payloads (webhooks, raw topics) understood but holding no fact payrecon reconciles, by the gateway's event type.",
      labelNames: ["gateway", "type"],
      registers: [registry],
    }),
    webhookRequests: new Counter({
      name: "payrecon_webhook_requests_total",
      help: "Gateway webhook deliveries by outcome (processed, bad_signature, malformed, not_configured).",
      labelNames: ["gateway", "outcome"],
      registers: [registry],
    }),
    stripePayoutsWaiting: new Gauge({
      name: "payrecon_stripe_payouts_waiting",
      help: "Our own Stripe payouts reported paid whose balance transactions do not yet add up to their amount.",
      registers: [registry],
    }),
    gatewayEventConflicts: new Counter({
      name: "payrecon_gateway_event_conflicts_total",
      help: "Gateway events whose id was stored already with other content: rejected and dead-lettered (reason conflict), the first version kept.",
      labelNames: ["gateway"],
      registers: [registry],
    }),
    inputConflicts: new Counter({
      name: "payrecon_input_conflicts_total",
      help: "Input messages whose key was stored already with other content (any topic): rejected, dead-lettered and raised as a conflict exception, the first version kept.",
      labelNames: ["topic"],
      registers: [registry],
    }),
    statementChecks: new Counter({
      name: "payrecon_statement_checks_total",
      help: "Bank statement summaries checked once all their lines were stored: balanced, imbalanced, gap.",
      labelNames: ["bank", "result"],
      registers: [registry],
    }),
    rejectedMessagesPruned: new Counter({
      name: "payrecon_rejected_messages_pruned_total",
      help: "Stored rejected messages cut to REJECTED_MESSAGE_MAX_BYTES (truncated) or deleted by retention (age, size).",
      labelNames: ["reason"],
      registers: [registry],
    }),
    gaugeRefreshErrors: new Counter({
      name: "payrecon_state_refresh_errors_total",
      help: "State gauge refreshes that failed: the gauges keep their last values until one succeeds.",
      registers: [registry],
    }),
    notifications: new Counter({
      name: "payrecon_notifications_total",
      help: "Outbound notifications by kind: queued (stored once), delivered, failed (an attempt failed; retried), gave_up (not delivered within NOTIFY_RETRY_FOR).",
      labelNames: ["kind", "result"],
      registers: [registry],
    }),
    findingsPublished: new Counter({
      name: "payrecon_findings_published_total",
      help: "Findings sent to the findings topic and acknowledged (at-least-once: a crash before the cursor moved sends some again).",
      registers: [registry],
    }),
    findingsUnpublishedAge: new Gauge({
      name: "payrecon_findings_oldest_unpublished_age_seconds",
      help: "Age of the oldest committed finding not yet in the findings topic (0 when none waits).",
      registers: [registry],
    }),
    labels: createLabelBounds({
      gateways: options.labels?.gateways ?? DEFAULT_METRIC_GATEWAYS,
      banks: options.labels?.banks ?? [],
      maxSeen: options.labels?.maxSeen ?? 20,
      ...(options.labels?.onOverflow ? { onOverflow: options.labels.onOverflow } : {}),
    }),
    ignoredTypes: new Map(),
    lastEventSeconds: new Map(),
    knownGateways: new Set(),
  };
  metrics.buildInfo.set({ version: options.version, commit: options.commit }, 1);
  metrics.ready.set(0);
  metrics.gaugeRefreshErrors.inc(0);
  metrics.findingsPublished.inc(0);
  for (const reason of ["truncated", "age", "size"]) metrics.rejectedMessagesPruned.inc({ reason }, 0);
  for (const gateway of options.gateways ?? []) initGatewaySeries(metrics, gateway);
  for (const topic of options.inputTopics ?? []) {
    metrics.eventsIngested.inc({ topic }, 0);
    metrics.eventsDuplicate.inc({ topic }, 0);
  }
  return metrics;
}

const OUTCOMES = ["settled", "failed", "refunded", "charged_back", "cancelled"] as const;

/**
 * Zero series for a gateway's counters (every failure category, every
 * outcome), so the first failure shows in increase() and ratios have a
 * denominator. Idempotent; called for each gateway as soon as it is seen.
 */
export function initGatewaySeries(metrics: Metrics, name: string): void {
  const gateway = metrics.labels.gateway(name);
  if (metrics.knownGateways.has(gateway)) return;
  metrics.knownGateways.add(gateway);
  for (const category of FAILURE_CATEGORIES) metrics.payoutFailures.inc({ gateway, failure_category: category }, 0);
  for (const direction of ["payout", "collection"]) {
    for (const outcome of OUTCOMES) metrics.paymentOutcomes.inc({ gateway, direction, outcome }, 0);
  }
}

/** Moves payrecon_last_event_timestamp_seconds forward; an old event re-delivered never makes a source look stale. */
export function observeEventTime(metrics: Metrics, topic: string, name: string, seconds: number): void {
  const source = metrics.labels.source(name);
  const key = `${topic}\u0000${source}`;
  if (seconds > (metrics.lastEventSeconds.get(key) ?? 0)) {
    metrics.lastEventSeconds.set(key, seconds);
    metrics.lastEventTimestamp.set({ topic, source }, seconds);
  }
}

/** Event types are the gateway's vocabulary (Stripe has hundreds): past this many per gateway, `other`. */
const MAX_IGNORED_TYPES = 100;

export function countIgnoredGatewayEvent(metrics: Metrics, gateway: string, type: string): void {
  const label = metrics.labels.gateway(gateway);
  const seen = metrics.ignoredTypes.get(label) ?? new Set<string>();
  metrics.ignoredTypes.set(label, seen);
  if (!seen.has(type) && seen.size < MAX_IGNORED_TYPES && /^[\w.:-]{1,80}$/.test(type)) seen.add(type);
  metrics.gatewayEventsIgnored.inc({ gateway: label, type: seen.has(type) ? type : "other" });
}
