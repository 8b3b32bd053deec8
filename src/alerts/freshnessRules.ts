import { monitoringConfig } from "./config.js";
import { alert, humanSeconds, promql, sel, thresholdByLabel } from "./promql.js";
import type { Staleness } from "../staleness.js";
import type { RuleGroup } from "./types.js";

const { gateway: gatewayTopic, bank: bankTopic } = monitoringConfig.topics;

/** Age of a bank's newest entry tolerated right now; depends on the weekday (see config). */
export const bankStaleThresholdRecord = "payrecon:bank_statement_stale_after_seconds";

function gatewayClause(matcher: string | undefined, threshold: number): string {
  const selector = sel(
    "payrecon_last_event_timestamp_seconds",
    `topic="${gatewayTopic}"`,
    ...(matcher ? [matcher] : []),
  );
  return `time() - max by (source) (${selector}) > ${threshold}`;
}

/** The freshness rules for these thresholds (the deployment's STALE_* configuration, as the status page uses it). */
export const freshnessGroupFor = (fresh: Staleness): RuleGroup => ({
  name: "payrecon-freshness",
  rules: [
    {
      record: bankStaleThresholdRecord,
      // day_of_week() is 0 for Sunday, in UTC. Statements arrive per business day, so a
      // single 30h limit would ticket every Sunday and Monday.
      expr: promql`
        (vector(${fresh.bankStaleSecondsAfterWeekend}) and on () day_of_week() <= 2)
        or
        vector(${fresh.bankStaleSeconds})
      `,
    },
    alert({
      alert: "PayreconGatewayEventsStale",
      expr: thresholdByLabel("source", fresh.gatewayStaleSecondsBySource, fresh.gatewayStaleSeconds, gatewayClause),
      for: "5m",
      severity: "warning",
      summary: "No events from a payment gateway for too long.",
      description:
        `payrecon has received no ${gatewayTopic} event from {{ $labels.source }} for {{ $value | humanizeDuration }} ` +
        `(limit ${humanSeconds(fresh.gatewayStaleSeconds)} unless overridden for this gateway).`,
    }),
    alert({
      alert: "PayreconBankStatementMissing",
      expr: promql`
        time() - max by (source) (${sel("payrecon_last_event_timestamp_seconds", `topic="${bankTopic}"`)})
          > on () group_left ()
        ${bankStaleThresholdRecord}
      `,
      for: "30m",
      severity: "warning",
      summary: "No bank statement entries from a bank for too long.",
      description:
        "The newest {{ $labels.source }} statement entry payrecon received is {{ $value | humanizeDuration }} old " +
        `(limit ${humanSeconds(fresh.bankStaleSeconds)} Wednesday to Saturday, ` +
        `${humanSeconds(fresh.bankStaleSecondsAfterWeekend)} Sunday to Tuesday, UTC).`,
    }),
  ],
});

export const freshnessGroup: RuleGroup = freshnessGroupFor(monitoringConfig.freshness);
