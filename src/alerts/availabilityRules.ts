import { monitoringConfig } from "./config.js";
import { alert, promql, sel } from "./promql.js";
import type { RuleGroup } from "./types.js";

const up = `up{job="${monitoringConfig.job}"}`;

/**
 * Metrics whose absence blinds an alert or a dashboard. `when` names a condition under
 * which the metric must exist; without it the metric must always exist (the daemon
 * initialises it at start-up). Data-driven metrics are only expected once there is data,
 * so a fresh, idle install does not ticket.
 */
export interface RequiredMetric {
  metric: string;
  when?: string;
}

export const requiredMetrics: readonly RequiredMetric[] = [
  { metric: "payrecon_build_info" },
  { metric: "payrecon_ready" },
  { metric: "payrecon_events_ingested_total" },
  { metric: "payrecon_exceptions_open" },
  { metric: "payrecon_exceptions_overdue" },
  { metric: "payrecon_payments", when: `sum(${sel("payrecon_events_ingested_total")}) > 0` },
  { metric: "payrecon_last_event_timestamp_seconds", when: `sum(${sel("payrecon_events_ingested_total")}) > 0` },
  {
    metric: "payrecon_payment_outcomes_total",
    when: `sum(${sel("payrecon_payments", 'status=~"settled|failed|refunded|charged_back|cancelled"')}) > 0`,
  },
  {
    metric: "payrecon_funds_at_risk",
    when: `sum(${sel("payrecon_payments", 'status=~"failed|held|delayed|mismatch"')}) > 0`,
  },
];

function absentTerm({ metric, when }: RequiredMetric): string {
  // absent() returns the same empty-ish label set for every metric; the `metric` label keeps
  // them apart through `or` and tells on-call which one is missing.
  const term = `label_replace(absent(${sel(metric)}), "metric", "${metric}", "", "")`;
  return when ? `(${term} and on () ${when})` : term;
}

export const availabilityAlertGroup: RuleGroup = {
  name: "payrecon-availability",
  rules: [
    alert({
      alert: "PayreconDown",
      // absent() covers a target that vanished from the scrape config or service discovery.
      expr: `${up} == 0 or absent(${up})`,
      for: "5m",
      severity: "critical",
      summary: "payrecon is down or cannot be scraped.",
      description:
        "Prometheus has not scraped payrecon{{ with $labels.instance }} on {{ . }}{{ end }} for 5 minutes: no payments are being " +
        "reconciled and every other payrecon alert is blind.",
    }),
    alert({
      alert: "PayreconNotReady",
      // Readiness drops during start-up migrations; 10 minutes is well past a normal deploy.
      expr: `${sel("payrecon_ready")} == 0`,
      for: "10m",
      severity: "critical",
      summary: "payrecon is running but not ready.",
      description:
        "payrecon on {{ $labels.instance }} has reported not ready for 10 minutes: PostgreSQL or Kafka is " +
        "unreachable or migrations are not applied, so nothing is being reconciled.",
    }),
    alert({
      alert: "PayreconMetricAbsent",
      // Only while the target is up: when it is down PayreconDown already says so.
      expr: promql`
        (
          ${requiredMetrics.map(absentTerm).join("\nor\n")}
        )
        and on ()
        max(${up}) == 1
      `,
      for: "15m",
      severity: "warning",
      summary: "payrecon no longer exports a metric that alerts depend on.",
      description:
        "payrecon is up but {{ $labels.metric }} has been absent for 15 minutes; alerts and dashboards built on " +
        "it are blind.",
    }),
    alert({
      alert: "PayreconWatchdog",
      // Always firing: the dead-man's-switch receiver pages when it stops arriving, which
      // means Prometheus or Alertmanager (not payrecon) is broken.
      expr: "vector(1)",
      severity: "none",
      summary: "Alerting pipeline heartbeat.",
      description:
        "This alert always fires. If the dead-man's-switch stops receiving it, the Prometheus to Alertmanager " +
        "path for payrecon alerts is broken.",
    }),
  ],
};
