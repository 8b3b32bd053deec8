import { monitoringConfig } from "./config.js";
import { alert, humanSeconds, num, percent, promql, sel } from "./promql.js";
import type { Duration, RecordingRule, RuleGroup } from "./types.js";

const cfg = monitoringConfig.payoutFailureRatio;
const surge = monitoringConfig.failureCategorySurge;
const settlement = monitoringConfig.settlement;

export function gatewayFailureRatioRecord(window: Duration): string {
  return `gateway:payrecon_payout_failure_ratio:rate${window}`;
}
export const gatewayOutcomesRecord = `gateway:payrecon_payout_outcomes:increase${cfg.window}`;
export const categoryFailureRateRecord = `failure_category:payrecon_payout_failures:rate${surge.window}`;

const outcomes = (outcome: string) => sel("payrecon_payment_outcomes_total", 'direction="payout"', outcome);

// A gateway with outcomes but no failed series yet has no ratio here; it cannot alert
// either. The metrics module initialises outcome series at zero for known gateways.
function gatewayRatioExpr(window: Duration): string {
  return promql`
    sum by (gateway) (rate(${outcomes('outcome="failed"')}[${window}]))
    /
    (sum by (gateway) (rate(${outcomes('outcome=~"settled|failed"')}[${window}])) > 0)
  `;
}

const failures = sel("payrecon_payout_failures_total");

// Recorded in the same group as the alerts so they read this evaluation's values.
const payoutRecordingRules: RecordingRule[] = [
  { record: gatewayFailureRatioRecord(cfg.window), expr: gatewayRatioExpr(cfg.window) },
  { record: gatewayFailureRatioRecord(cfg.baselineWindow), expr: gatewayRatioExpr(cfg.baselineWindow) },
  {
    record: gatewayOutcomesRecord,
    expr: `sum by (gateway) (increase(${outcomes('outcome=~"settled|failed"')}[${cfg.window}]))`,
  },
  // The surge baseline averages this series rather than taking rate() over 7 days:
  // rate() divides by the whole window, so a series younger than 7 days (a new
  // deployment) would get a baseline far too low and every category would "surge".
  { record: categoryFailureRateRecord, expr: `sum by (failure_category) (rate(${failures}[${surge.window}]))` },
];

const buckets = sel("payrecon_settlement_duration_seconds_bucket");
const settledCount = sel("payrecon_settlement_duration_seconds_count");

export const payoutGroup: RuleGroup = {
  name: "payrecon-payouts",
  rules: [
    ...payoutRecordingRules,
    alert({
      alert: "PayreconPayoutFailureRatioHigh",
      // Both a floor and the gateway's own baseline: a PSP that always fails 6% of card
      // payouts must not page forever, and a quiet one going from 0.1% to 4% is not an outage.
      expr: promql`
        ${gatewayFailureRatioRecord(cfg.window)} > ${num(cfg.floor)}
        and
        ${gatewayFailureRatioRecord(cfg.window)} > ${num(cfg.baselineMultiplier)} * ${gatewayFailureRatioRecord(cfg.baselineWindow)}
        and
        ${gatewayOutcomesRecord} >= ${cfg.minOutcomes}
      `,
      for: "15m",
      severity: "critical",
      summary: "A payment gateway is failing an unusual share of payouts.",
      description:
        `{{ $value | humanizePercentage }} of payouts through {{ $labels.gateway }} that reached an outcome ` +
        `in the last ${cfg.window} failed, above ${percent(cfg.floor)} and more than ${num(cfg.baselineMultiplier)}x ` +
        `the gateway's ${cfg.baselineWindow} ratio.`,
    }),
    alert({
      alert: "PayreconPayoutFailureCategorySurge",
      // Summed over gateways: one category rising everywhere (account_invalid, holder_mismatch)
      // points at bad upstream data; a single gateway's outage is the ratio alert above.
      expr: promql`
        sum by (failure_category) (increase(${failures}[${surge.window}])) >= ${surge.minFailures}
        and
        ${categoryFailureRateRecord}
          > ${num(surge.multiplier)} * avg_over_time(${categoryFailureRateRecord}[${surge.baselineWindow}])
      `,
      for: "15m",
      severity: "warning",
      summary: "Payout failures of one category are surging.",
      description:
        `{{ $value | printf "%.0f" }} payouts failed with category {{ $labels.failure_category }} in the last ` +
        `${surge.window}, more than ${num(surge.multiplier)}x the category's ${surge.baselineWindow} average rate.`,
    }),
    alert({
      alert: "PayreconSettlementSlow",
      expr: promql`
        histogram_quantile(${num(settlement.quantile)}, sum by (gateway, direction, le) (rate(${buckets}[${settlement.window}])))
          > ${settlement.objectiveSeconds}
        and
        sum by (gateway, direction) (increase(${settledCount}[${settlement.window}])) >= ${settlement.minSettlements}
      `,
      for: "1h",
      severity: "warning",
      summary: `Settlements are slower than their ${humanSeconds(settlement.objectiveSeconds)} objective.`,
      description:
        `p${num(settlement.quantile * 100)} time from gateway acceptance to bank settlement for ` +
        `{{ $labels.direction }} via {{ $labels.gateway }} over the last ${settlement.window} is ` +
        `{{ $value | humanizeDuration }}, above the ${humanSeconds(settlement.objectiveSeconds)} objective.`,
    }),
  ],
};
