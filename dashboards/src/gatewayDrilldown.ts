import { monitoringConfig } from "../../src/alerts/config.js";
import { type DashboardSpec, dedup, m } from "./spec.js";

const RI = "$__rate_interval";
const GW = 'gateway="$gateway"';
const DIR = 'direction=~"$direction"';
const outcomes = (outcome: string) => m("payrecon_payment_outcomes_total", GW, DIR, outcome);
const buckets = m("payrecon_settlement_duration_seconds_bucket", GW, DIR);

export const gatewayDrilldown: DashboardSpec = {
  uid: "payrecon-gateway",
  title: "payrecon / Gateway",
  description:
    "One payment gateway (PSP) in detail: failures, outcomes, settlement time, freshness. Open it from a PayreconPayoutFailureRatioHigh or PayreconGatewayEventsStale alert.",
  file: "payrecon-gateway.json",
  tags: ["payrecon", "gateway"],
  from: "now-24h",
  variables: [
    {
      name: "gateway",
      label: "Gateway",
      description: "Payment gateway (PSP) as named in expected payments and gateway events.",
      sourceSelector: m("payrecon_payments"),
      sourceLabel: "gateway",
      multi: false,
      includeAll: false,
    },
    {
      name: "direction",
      label: "Direction",
      description: "collection (money to us) or payout (money we send).",
      sourceSelector: m("payrecon_payments"),
      sourceLabel: "direction",
      multi: true,
      includeAll: true,
    },
    {
      name: "currency",
      label: "Currency",
      description: "Currency of the money-at-risk panels (these amounts are not split by gateway in the metrics).",
      sourceSelector: m("payrecon_funds_at_risk"),
      sourceLabel: "currency",
      multi: true,
      includeAll: true,
    },
  ],
  rows: [
    {
      title: "Payments through $gateway",
      panels: [
        {
          kind: "timeseries",
          title: "Payments by status",
          description: "Current number of $gateway payments in each status, for the selected directions.",
          unit: "none",
          min: 0,
          stacked: true,
          queries: [
            {
              expr: `sum by (status) (${dedup("status, direction, gateway", m("payrecon_payments", GW, DIR))})`,
              legend: "{{status}}",
            },
          ],
        },
        {
          kind: "timeseries",
          title: "Failure ratio by direction",
          description:
            "Failed / (settled + failed) $gateway payments per direction. For payouts, PayreconPayoutFailureRatioHigh uses the same ratio over 1h.",
          unit: "percentunit",
          min: 0,
          queries: [
            {
              expr: `sum by (direction) (rate(${outcomes('outcome="failed"')}[${RI}])) / (sum by (direction) (rate(${outcomes('outcome=~"settled|failed"')}[${RI}])) > 0)`,
              legend: "{{direction}}",
            },
          ],
        },
        {
          kind: "timeseries",
          title: "Payout failures by category",
          description:
            "$gateway payout failures per hour by failure_category. technical and declined suggest the PSP; account_* and holder_mismatch the payee data we sent.",
          unit: "suffix:/h",
          min: 0,
          stacked: true,
          queries: [
            {
              expr: `sum by (failure_category) (rate(${m("payrecon_payout_failures_total", GW)}[${RI}])) * 3600`,
              legend: "{{failure_category}}",
            },
          ],
        },
        {
          kind: "timeseries",
          title: "Outcomes per hour",
          description: "$gateway payments reaching a final outcome per hour, by direction and outcome.",
          unit: "suffix:/h",
          min: 0,
          queries: [
            {
              expr: `sum by (direction, outcome) (rate(${m("payrecon_payment_outcomes_total", GW, DIR)}[${RI}])) * 3600`,
              legend: "{{direction}} {{outcome}}",
            },
          ],
        },
        {
          kind: "timeseries",
          title: "Status changes per hour",
          description:
            "Transitions of $gateway payments into each status per hour: the flow behind the counts above (e.g. a burst into held is a gateway hold wave).",
          unit: "suffix:/h",
          min: 0,
          width: 24,
          height: 7,
          queries: [
            {
              expr: `sum by (direction, status) (rate(${m("payrecon_payment_status_changes_total", GW, DIR)}[${RI}])) * 3600`,
              legend: "{{direction}} → {{status}}",
            },
          ],
        },
      ],
    },
    {
      title: "Settlement and freshness",
      panels: [
        {
          kind: "heatmap",
          title: "Settlement duration",
          description: "Acceptance-to-bank-settlement time of $gateway payments settled in each interval.",
          unit: "s",
          queries: [{ expr: `sum by (le) (increase(${buckets}[${RI}]))`, legend: "{{le}}", format: "heatmap" }],
        },
        {
          kind: "timeseries",
          title: "Settlement duration p50 and p95",
          description: `Median and 95th percentile settlement time of $gateway payments per direction. The objective is p95 under ${monitoringConfig.settlement.objectiveSeconds}s (1 day).`,
          unit: "s",
          min: 0,
          thresholds: [
            { value: null, color: "green" },
            { value: monitoringConfig.settlement.objectiveSeconds, color: "red" },
          ],
          queries: [0.5, 0.95].map((q) => ({
            expr: `histogram_quantile(${q}, sum by (direction, le) (rate(${buckets}[${RI}])))`,
            legend: `{{direction}} p${q * 100}`,
          })),
        },
        {
          kind: "timeseries",
          title: "Oldest unsettled payment",
          description: "Age of the oldest $gateway payment not yet settled, per direction.",
          unit: "s",
          min: 0,
          queries: [
            {
              expr: dedup("gateway, direction", m("payrecon_oldest_unsettled_age_seconds", GW, DIR)),
              legend: "{{direction}}",
            },
          ],
        },
        {
          kind: "timeseries",
          title: "Time since last event from $gateway",
          description:
            "Seconds since payrecon received an event from $gateway, per topic. A climbing line is a broken webhook bridge or a PSP outage (PayreconGatewayEventsStale after 30m).",
          unit: "s",
          min: 0,
          queries: [
            {
              expr: `time() - max by (topic) (${m("payrecon_last_event_timestamp_seconds", 'source="$gateway"')})`,
              legend: "{{topic}}",
            },
          ],
        },
      ],
    },
    {
      title: "Money at risk ($currency, all gateways)",
      panels: [
        {
          kind: "timeseries",
          title: "Funds at risk by status",
          description:
            "Amount (major units) failed, held, delayed or mismatched in the selected currencies and directions, across all gateways: the metric has no gateway label. Per gateway: the reconciliation report.",
          unit: "short",
          min: 0,
          width: 24,
          height: 7,
          queries: [
            {
              expr: `sum by (status, currency) (${dedup("status, direction, currency", m("payrecon_funds_at_risk", 'currency=~"$currency"', DIR))})`,
              legend: "{{status}} {{currency}}",
            },
          ],
        },
      ],
    },
  ],
};
