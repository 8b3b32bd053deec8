/**
 * The metrics payrecon's rules and dashboards are built on: CONTRACT §4 plus the
 * additions agreed with the metrics module. Tests check that every selector in a rule
 * or dashboard names one of these, so a typo cannot silently blind an alert; the metrics
 * module can check the reverse against its registry.
 */
export type MetricType = "counter" | "gauge" | "histogram";

export const payreconMetrics: Readonly<Record<string, MetricType>> = {
  // CONTRACT §4
  payrecon_events_ingested_total: "counter",
  payrecon_events_rejected_total: "counter",
  payrecon_payments: "gauge",
  payrecon_funds_at_risk: "gauge",
  payrecon_payout_failures_total: "counter",
  payrecon_unmatched_bank_entries: "gauge",
  payrecon_settlement_duration_seconds: "histogram",
  payrecon_oldest_unsettled_age_seconds: "gauge",
  payrecon_last_event_timestamp_seconds: "gauge",
  payrecon_consumer_lag: "gauge",
  payrecon_reconcile_duration_seconds: "histogram",
  // Additions
  payrecon_build_info: "gauge",
  payrecon_ready: "gauge",
  payrecon_payment_outcomes_total: "counter",
  payrecon_payment_status_changes_total: "counter",
  payrecon_exceptions_open: "gauge",
  payrecon_exceptions_overdue: "gauge",
  payrecon_dead_letters_total: "counter",
  payrecon_kafka_consumer_crashes_total: "counter",
  payrecon_kafka_consumer_rebalances_total: "counter",
  payrecon_item_alerts_active: "gauge",
  payrecon_webhook_requests_total: "counter",
  payrecon_gateway_events_ignored_total: "counter",
  payrecon_stripe_payouts_waiting: "gauge",
  payrecon_statement_checks_total: "counter",
  payrecon_batch_fees_minor: "gauge",
  payrecon_reconcile_lock_held_seconds: "histogram",
};

/** prom-client default metrics used by the dashboards, and Prometheus' own `up`. */
export const otherMetrics: readonly string[] = [
  "up",
  "process_resident_memory_bytes",
  "process_cpu_seconds_total",
  "nodejs_eventloop_lag_p99_seconds",
];

/** Every series name a query may select: histograms expand to _bucket, _count and _sum. */
export function selectableSeriesNames(): Set<string> {
  const names = new Set(otherMetrics);
  for (const [name, type] of Object.entries(payreconMetrics)) {
    if (type === "histogram") for (const suffix of ["_bucket", "_count", "_sum"]) names.add(name + suffix);
    else names.add(name);
  }
  return names;
}
