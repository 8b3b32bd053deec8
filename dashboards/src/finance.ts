import { type DashboardSpec, dedup, m } from "./spec.js";

const RI = "$__rate_interval";
const payments = (...matchers: string[]) => dedup("status, direction, gateway", m("payrecon_payments", ...matchers));
const funds = (status: string) =>
  `sum by (currency, direction) (${dedup("status, direction, currency", m("payrecon_funds_at_risk", status))})`;

// Metrics carry no currency on payment counts; the per gateway x currency x direction
// figures finance reconciles against are in the reconciliation report.
const REPORT_HINT =
  "Per gateway x currency x direction amounts: GET /api/v1/reports/reconciliation?from=&to=&format=csv or payrecon report --from --to --format md.";

export const finance: DashboardSpec = {
  uid: "payrecon-finance",
  title: "payrecon / Finance",
  description:
    "Is money arriving and leaving as expected? Settlement progress, money at risk, unmatched bank entries and the exception backlog.",
  file: "payrecon-finance.json",
  tags: ["payrecon", "finance"],
  from: "now-7d",
  variables: [],
  rows: [
    {
      title: "Settlement progress",
      panels: [
        {
          kind: "bargauge",
          title: "Settled vs expected payments by gateway",
          description: `Payments payrecon tracks per gateway (all statuses but cancelled) and how many of them are settled, now. ${REPORT_HINT}`,
          unit: "none",
          min: 0,
          queries: [
            {
              expr: `sum by (gateway) (${payments('status!="cancelled"')})`,
              legend: "{{gateway}} expected",
              instant: true,
            },
            {
              expr: `sum by (gateway) (${payments('status="settled"')})`,
              legend: "{{gateway}} settled",
              instant: true,
            },
          ],
        },
        {
          kind: "timeseries",
          title: "Settled share by gateway",
          description:
            "Settled payments as a share of all non-cancelled payments per gateway. A falling line is work arriving faster than it settles, or settlement stalling.",
          unit: "percentunit",
          min: 0,
          max: 1,
          queries: [
            {
              expr: `sum by (gateway) (${payments('status="settled"')}) / (sum by (gateway) (${payments('status!="cancelled"')}) > 0)`,
              legend: "{{gateway}}",
            },
          ],
        },
        {
          kind: "timeseries",
          title: "Payments by status",
          description:
            "Current number of payments in each status, all gateways and directions. pending and in_flight are normal; delayed, held, failed and mismatch need someone.",
          unit: "none",
          min: 0,
          stacked: true,
          queries: [{ expr: `sum by (status) (${payments()})`, legend: "{{status}}" }],
        },
        {
          kind: "timeseries",
          title: "Outcomes per hour by gateway",
          description:
            "Payments reaching a final outcome per hour (settled, failed, refunded, charged_back, cancelled) per gateway and direction.",
          unit: "suffix:/h",
          min: 0,
          queries: [
            {
              expr: `sum by (gateway, direction, outcome) (rate(${m("payrecon_payment_outcomes_total")}[${RI}])) * 3600`,
              legend: "{{gateway}} {{direction}} {{outcome}}",
            },
          ],
        },
      ],
    },
    {
      title: "Money at risk",
      panels: [
        {
          kind: "timeseries",
          title: "Delayed funds by currency",
          description: `Amount (major units) of payments past their due date without settlement, per currency and direction. Above the currency's threshold for 30 minutes: PayreconDelayedFundsHigh. ${REPORT_HINT}`,
          unit: "short",
          min: 0,
          queries: [{ expr: funds('status="delayed"'), legend: "{{currency}} {{direction}}" }],
        },
        {
          kind: "timeseries",
          title: "Delayed payments by gateway",
          description:
            "Number of overdue payments per gateway. Age buckets (0-1, 1-3, 3-7, 7+ days) are in the reconciliation report.",
          unit: "none",
          min: 0,
          queries: [{ expr: `sum by (gateway) (${payments('status="delayed"')})`, legend: "{{gateway}}" }],
        },
        {
          kind: "timeseries",
          title: "Held funds by currency",
          description:
            "Amount (major units) a gateway holds: payouts on hold, or captured collections in no payout batch past HOLD_THRESHOLD. Held for an hour: PayreconFundsHeld.",
          unit: "short",
          min: 0,
          queries: [{ expr: funds('status="held"'), legend: "{{currency}} {{direction}}" }],
        },
        {
          kind: "timeseries",
          title: "Failed and mismatched funds by currency",
          description:
            "Amount (major units) of failed payments and of payments that settled with a different amount than expected, per currency.",
          unit: "short",
          min: 0,
          queries: [
            {
              expr: `sum by (status, currency) (${dedup("status, direction, currency", m("payrecon_funds_at_risk", 'status=~"failed|mismatch"'))})`,
              legend: "{{status}} {{currency}}",
            },
          ],
        },
        {
          kind: "timeseries",
          title: "Oldest unsettled payment (aging)",
          description:
            "Age of the oldest payment not yet settled per gateway and direction: how far back the open items on the reconciliation go.",
          unit: "s",
          min: 0,
          width: 24,
          height: 7,
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
      title: "Bank entries and exceptions",
      panels: [
        {
          kind: "timeseries",
          title: "Unmatched bank entries by bank and currency",
          description:
            "Statement entries that matched no expected payment or batch after UNMATCHED_GRACE (24h). Money in the bank nobody can explain yet.",
          unit: "none",
          min: 0,
          width: 8,
          queries: [
            {
              expr: dedup("bank, currency", m("payrecon_unmatched_bank_entries")),
              legend: "{{bank}} {{currency}}",
            },
          ],
        },
        {
          kind: "timeseries",
          title: "Open exceptions by kind and priority",
          description:
            "Exceptions waiting for someone (failed, held, delayed, mismatch, unmatched, ambiguous, duplicate) by priority. Work them in GET /api/v1/exceptions?state=open.",
          unit: "none",
          min: 0,
          width: 8,
          stacked: true,
          queries: [
            {
              expr: `sum by (kind, priority) (${dedup("kind, priority", m("payrecon_exceptions_open"))})`,
              legend: "{{kind}} {{priority}}",
            },
          ],
        },
        {
          kind: "timeseries",
          title: "Overdue exceptions by kind",
          description: "Open exceptions past their resolution deadline. Any for 15 minutes: PayreconExceptionsOverdue.",
          unit: "none",
          min: 0,
          width: 8,
          queries: [{ expr: dedup("kind", m("payrecon_exceptions_overdue")), legend: "{{kind}}" }],
        },
      ],
    },
    {
      title: "Gateway fees",
      panels: [
        {
          kind: "bargauge",
          title: "Batch fees charged vs expected by gateway and currency",
          description:
            "Fees of the stored settlement batches in minor units: as the gateway charged them, and as FEE_SCHEDULE expects them (no expected bar: no rule for that gateway). A batch more than FEE_TOLERANCE off is a fee_variance exception; per period in the reconciliation report's batch fees.",
          unit: "none",
          width: 24,
          queries: [
            {
              expr: dedup("gateway, currency, kind", m("payrecon_batch_fees_minor")),
              legend: "{{gateway}} {{currency}} {{kind}}",
            },
          ],
        },
      ],
    },
  ],
};
