import { monitoringConfig } from "../../src/alerts/config.js";
import { humanSeconds, num } from "../../src/alerts/promql.js";
import { payoutBurnWindows, payoutErrorRatioRecord } from "../../src/alerts/sloRules.js";
import { gatewayFailureRatioRecord } from "../../src/alerts/payoutRules.js";
import { type DashboardSpec, dedup, m } from "./spec.js";

const budget = num(1 - monitoringConfig.payoutSlo.objective);
const sloPeriod = monitoringConfig.payoutSlo.period;
const payouts = (outcome: string) => m("payrecon_payment_outcomes_total", 'direction="payout"', outcome);
const RI = "$__rate_interval";
const { freshness: fresh, topics } = monitoringConfig;

export const sreOverview: DashboardSpec = {
  uid: "payrecon-sre-overview",
  title: "payrecon / SRE overview",
  description:
    "Is payrecon healthy and are payouts succeeding? Start here when a payrecon alert fires; drill into one PSP with payrecon / Gateway.",
  file: "payrecon-sre-overview.json",
  tags: ["payrecon", "sre"],
  from: "now-6h",
  variables: [],
  rows: [
    {
      title: "Service",
      panels: [
        {
          kind: "stat",
          title: "Instances up",
          description: "payrecon targets answering Prometheus scrapes. 0 means PayreconDown fires after 5 minutes.",
          unit: "none",
          width: 4,
          height: 4,
          queries: [{ expr: `sum(up{job="${monitoringConfig.job}"})`, instant: true }],
          thresholds: [
            { value: null, color: "red" },
            { value: 1, color: "green" },
          ],
        },
        {
          kind: "stat",
          title: "Instances ready",
          description:
            "Instances whose /readyz passes: PostgreSQL and Kafka reachable, migrations applied. Below 'Instances up' means PayreconNotReady.",
          unit: "none",
          width: 4,
          height: 4,
          queries: [{ expr: `sum(${m("payrecon_ready")})`, instant: true }],
          thresholds: [
            { value: null, color: "red" },
            { value: 1, color: "green" },
          ],
        },
        {
          kind: "stat",
          title: `Payout success (${sloPeriod})`,
          description: `Share of payouts reaching an outcome over the last ${sloPeriod} that settled rather than failed. The SLO is ${num(monitoringConfig.payoutSlo.objective * 100)}%. From the recording rule ${payoutErrorRatioRecord(sloPeriod)}.`,
          unit: "percentunit",
          width: 4,
          height: 4,
          queries: [{ expr: `1 - ${payoutErrorRatioRecord(sloPeriod)}`, instant: true }],
          thresholds: [
            { value: null, color: "red" },
            { value: monitoringConfig.payoutSlo.objective, color: "green" },
          ],
        },
        {
          kind: "stat",
          title: `Payout error budget left (${sloPeriod})`,
          description: `Share of the ${sloPeriod} payout error budget (${num(Number(budget) * 100)}% of payouts may fail) not yet spent. Negative means the SLO is already missed for the period.`,
          unit: "percentunit",
          width: 4,
          height: 4,
          queries: [{ expr: `1 - ${payoutErrorRatioRecord(sloPeriod)} / ${budget}`, instant: true }],
          thresholds: [
            { value: null, color: "red" },
            { value: 0.25, color: "orange" },
            { value: 0.5, color: "green" },
          ],
        },
        {
          kind: "stat",
          title: "Open exceptions",
          description:
            "Open exceptions of every kind and priority. The list with ages and amounts: GET /api/v1/exceptions?state=open.",
          unit: "none",
          width: 4,
          height: 4,
          queries: [{ expr: `sum(${dedup("kind, priority", m("payrecon_exceptions_open"))})`, instant: true }],
        },
        {
          kind: "stat",
          title: "Version",
          description: "Version and commit of the running payrecon build(s); two values mean a rollout is in progress.",
          unit: "none",
          width: 4,
          height: 4,
          showName: true,
          queries: [
            {
              expr: `count by (version, commit) (${m("payrecon_build_info")})`,
              legend: "{{version}} ({{commit}})",
              instant: true,
            },
          ],
        },
      ],
    },
    {
      title: "Payouts",
      panels: [
        {
          kind: "timeseries",
          title: "Payout failure ratio by gateway",
          description:
            "Failed / (settled + failed) payouts per gateway. Thin lines: at the dashboard's resolution; thick: the 1h ratio PayreconPayoutFailureRatioHigh alerts on (over 5% and 3x the gateway's 7-day ratio).",
          unit: "percentunit",
          min: 0,
          queries: [
            {
              expr: `sum by (gateway) (rate(${payouts('outcome="failed"')}[${RI}])) / (sum by (gateway) (rate(${payouts('outcome=~"settled|failed"')}[${RI}])) > 0)`,
              legend: "{{gateway}}",
            },
            { expr: gatewayFailureRatioRecord("1h"), legend: "{{gateway}} (1h, alerting)" },
          ],
        },
        {
          kind: "timeseries",
          title: "Payout failures by category",
          description:
            "Payout failures per hour by failure_category, all gateways. One category rising alone (account_invalid, holder_mismatch) points at bad upstream data; technical/declined across the board at a gateway.",
          unit: "suffix:/h",
          min: 0,
          stacked: true,
          queries: [
            {
              expr: `sum by (failure_category) (rate(${m("payrecon_payout_failures_total")}[${RI}])) * 3600`,
              legend: "{{failure_category}}",
            },
          ],
        },
        {
          kind: "timeseries",
          title: "Payout error budget burn rate",
          description: `How many times faster than sustainable the ${sloPeriod} payout error budget is being spent, per alert window. Pages above 14.4 (1h) and 6 (6h); tickets above 3 (1d) and 1 (3d).`,
          unit: "suffix:x",
          min: 0,
          width: 24,
          height: 7,
          queries: [...new Set(payoutBurnWindows.map((w) => w.long))].map((w) => ({
            expr: `${payoutErrorRatioRecord(w)} / ${budget}`,
            legend: `${w} window`,
          })),
        },
      ],
    },
    {
      title: "Money at risk and settlement",
      panels: [
        {
          kind: "timeseries",
          title: "Funds at risk by status and currency",
          description:
            "Amount (major units of the currency in the legend) of payments currently failed, held, delayed or mismatched. Never add lines of different currencies.",
          unit: "short",
          min: 0,
          queries: [
            {
              expr: `sum by (status, currency) (${dedup("status, direction, currency", m("payrecon_funds_at_risk"))})`,
              legend: "{{status}} {{currency}}",
            },
          ],
        },
        {
          kind: "heatmap",
          title: "Settlement duration",
          description:
            "Time from gateway acceptance to bank settlement of payments settled in each interval, all gateways and directions. The objective is 1 day (86400s).",
          unit: "s",
          queries: [
            {
              expr: `sum by (le) (increase(${m("payrecon_settlement_duration_seconds_bucket")}[${RI}]))`,
              legend: "{{le}}",
              format: "heatmap",
            },
          ],
        },
        {
          kind: "timeseries",
          title: "Settlement duration p95 by gateway",
          description:
            "95th percentile of acceptance-to-settlement time per gateway. Above 1 day for a day, PayreconSettlementSlow tickets. Gaps are intervals with no settlement.",
          unit: "s",
          min: 0,
          thresholds: [
            { value: null, color: "green" },
            { value: monitoringConfig.settlement.objectiveSeconds, color: "red" },
          ],
          queries: [
            {
              expr: `histogram_quantile(0.95, sum by (gateway, le) (rate(${m("payrecon_settlement_duration_seconds_bucket")}[${RI}])))`,
              legend: "{{gateway}}",
            },
          ],
        },
        {
          kind: "timeseries",
          title: "Oldest unsettled payment by gateway",
          description:
            "Age of the oldest payment not yet settled, per gateway and direction. A line that only climbs is a payment (or batch) stuck somewhere.",
          unit: "s",
          min: 0,
          queries: [
            {
              expr: dedup("gateway, direction", m("payrecon_oldest_unsettled_age_seconds")),
              legend: "{{gateway}} {{direction}}",
            },
          ],
        },
      ],
    },
    {
      title: "Pipeline",
      panels: [
        {
          kind: "timeseries",
          title: "Time since last event per source",
          description:
            `Seconds since payrecon last received an event from each gateway (${topics.gateway}) and bank (${topics.bank}). ` +
            `Gateways alert after ${humanSeconds(fresh.gatewayStaleSeconds)}; banks after ${humanSeconds(fresh.bankStaleSeconds)} ` +
            `Wednesday to Saturday, ${humanSeconds(fresh.bankStaleSecondsAfterWeekend)} Sunday to Tuesday (UTC).`,
          unit: "s",
          min: 0,
          queries: [
            {
              expr: `time() - max by (topic, source) (${m("payrecon_last_event_timestamp_seconds")})`,
              legend: "{{source}} ({{topic}})",
            },
          ],
        },
        {
          kind: "timeseries",
          title: "Kafka consumer lag by topic",
          description:
            "Messages payrecon has yet to consume, summed over partitions. Growing and above 1000 for 15 minutes: PayreconConsumerLagGrowing. Empty when Kafka is not configured (HTTP ingest).",
          unit: "short",
          min: 0,
          queries: [{ expr: `sum by (topic) (${m("payrecon_consumer_lag")})`, legend: "{{topic}}" }],
        },
        {
          kind: "timeseries",
          title: "Events ingested and rejected",
          description:
            "Messages per second accepted and rejected (validation) per input topic. Rejected messages are dead-lettered.",
          unit: "mps",
          min: 0,
          queries: [
            {
              expr: `sum by (topic) (rate(${m("payrecon_events_ingested_total")}[${RI}]))`,
              legend: "{{topic}} ingested",
            },
            {
              expr: `sum by (topic, reason) (rate(${m("payrecon_events_rejected_total")}[${RI}]))`,
              legend: "{{topic}} rejected: {{reason}}",
            },
          ],
        },
        {
          kind: "timeseries",
          title: "Dead letters by topic and reason",
          description:
            "Messages per second written to payrecon.dlq. Each is a payment fact not applied until replayed; any at all raises PayreconDeadLetters.",
          unit: "mps",
          min: 0,
          queries: [
            {
              expr: `sum by (topic, reason) (rate(${m("payrecon_dead_letters_total")}[${RI}]))`,
              legend: "{{topic}}: {{reason}}",
            },
          ],
        },
        {
          kind: "timeseries",
          title: "Reconcile duration",
          description:
            "Time to reconcile one batch of messages (decode, match, write), median and 99th percentile. Rising with lag means payrecon or PostgreSQL is the bottleneck.",
          unit: "s",
          min: 0,
          queries: [0.5, 0.99].map((q) => ({
            expr: `histogram_quantile(${q}, sum by (le) (rate(${m("payrecon_reconcile_duration_seconds_bucket")}[${RI}])))`,
            legend: `p${q * 100}`,
          })),
        },
        {
          kind: "timeseries",
          title: "Reconciliation lock busy",
          description:
            "Share of the time the reconciliation lock was held, summed over every instance (they share one lock). Near 1 with rising lag: reconciliation is saturated, and more instances will not help; PostgreSQL's speed will.",
          unit: "percentunit",
          min: 0,
          queries: [
            {
              expr: `sum(rate(${m("payrecon_reconcile_lock_held_seconds_sum")}[${RI}]))`,
              legend: "held",
            },
          ],
        },
        {
          kind: "timeseries",
          title: "Kafka consumer crashes and rebalances",
          description:
            "Consumer crashes (restarted automatically) and group rebalances per interval. Repeated crashes: PayreconKafkaConsumerRestarting.",
          unit: "short",
          min: 0,
          queries: [
            {
              expr: `sum(increase(${m("payrecon_kafka_consumer_crashes_total")}[${RI}]))`,
              legend: "crashes",
            },
            {
              expr: `sum(increase(${m("payrecon_kafka_consumer_rebalances_total")}[${RI}]))`,
              legend: "rebalances",
            },
          ],
        },
      ],
    },
    {
      title: "Process",
      panels: [
        {
          kind: "timeseries",
          title: "Resident memory",
          description: "Resident set size of each payrecon process.",
          unit: "bytes",
          min: 0,
          width: 6,
          queries: [{ expr: m("process_resident_memory_bytes"), legend: "{{instance}}" }],
        },
        {
          kind: "timeseries",
          title: "CPU",
          description: "CPU time used per second by each payrecon process (1 = one full core).",
          unit: "percentunit",
          min: 0,
          width: 6,
          queries: [{ expr: `rate(${m("process_cpu_seconds_total")}[${RI}])`, legend: "{{instance}}" }],
        },
        {
          kind: "timeseries",
          title: "Event loop lag p99",
          description:
            "Node.js event loop delay (99th percentile). Above ~100ms, HTTP, /metrics and Kafka heartbeats stall, which shows up as rebalances.",
          unit: "s",
          min: 0,
          width: 6,
          queries: [{ expr: m("nodejs_eventloop_lag_p99_seconds"), legend: "{{instance}}" }],
        },
        {
          kind: "timeseries",
          title: "Item alerts active",
          description:
            "Per-payment alerts payrecon currently has open in Alertmanager (pushed via ALERTMANAGER_URL), not the Prometheus rule alerts.",
          unit: "none",
          min: 0,
          width: 6,
          queries: [{ expr: `max(${m("payrecon_item_alerts_active")})`, legend: "active" }],
        },
      ],
    },
  ],
};
