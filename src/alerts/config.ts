import { DEFAULT_STALENESS, type Staleness } from "../staleness.js";
import type { Duration } from "./types.js";

/**
 * Thresholds and selectors for payrecon's alerts and dashboards. Changing a value here
 * changes the generated rule file; the promtool tests in test/promtool pin the current
 * values, so a change must be made in both places on purpose.
 */
export interface MonitoringConfig {
  /** Prometheus job label of the daemon's scrape config (deploy/prometheus/prometheus.yml). */
  job: string;
  /** Topic label values of payrecon_last_event_timestamp_seconds; the CONTRACT §1 defaults. */
  topics: { expected: string; gateway: string; bank: string };
  payoutSlo: {
    /** Share of payouts reaching an outcome that must settle rather than fail. Default 0.99. */
    objective: number;
    /** Error-budget period, used for the budget-remaining recording rule. Default 30d. */
    period: Duration;
    /** Days in `period`, for "budget gone in N hours" in descriptions. */
    periodDays: number;
    /**
     * Minimum payouts reaching an outcome in the long window before a burn alert may fire:
     * with only a handful of payouts one failure is already a 14.4x burn.
     */
    minOutcomes: number;
  };
  payoutFailureRatio: {
    window: Duration;
    /** Absolute floor: below this share of failed payouts a gateway never alerts. Default 5%. */
    floor: number;
    /** The gateway's own long-run ratio; some PSPs normally fail more (card payouts, insufficient funds). */
    baselineWindow: Duration;
    /** How many times the baseline the current ratio must be. Default 3. */
    baselineMultiplier: number;
    /** Minimum outcomes in `window`: 1 failure out of 2 payouts is not an outage. Default 10. */
    minOutcomes: number;
  };
  failureCategorySurge: {
    window: Duration;
    baselineWindow: Duration;
    multiplier: number;
    /** Minimum failures of the category in `window`. Default 10. */
    minFailures: number;
  };
  /**
   * Delayed (overdue) amount, in major units, above which finance is ticketed. One number
   * cannot fit every currency (10,000 JPY is about 60 EUR), so currencies may override it.
   */
  delayedFunds: { defaultMajor: number; byCurrency: Record<string, number> };
  settlement: {
    /** The settlement objective: gateway acceptance to bank settlement. Default 1 day. */
    objectiveSeconds: number;
    quantile: number;
    window: Duration;
    minSettlements: number;
  };
  /** The configuration's defaults (src/staleness.ts); a deployment's STALE_* settings reach its rule file through the generator. */
  freshness: Staleness;
  consumerLag: { minMessages: number; growthWindow: Duration };
}

export const monitoringConfig: MonitoringConfig = {
  job: "payrecon",
  topics: { expected: "payments.expected", gateway: "gateway.events", bank: "bank.settlements" },
  payoutSlo: { objective: 0.99, period: "30d", periodDays: 30, minOutcomes: 10 },
  payoutFailureRatio: { window: "1h", floor: 0.05, baselineWindow: "7d", baselineMultiplier: 3, minOutcomes: 10 },
  failureCategorySurge: { window: "1h", baselineWindow: "7d", multiplier: 3, minFailures: 10 },
  delayedFunds: { defaultMajor: 10_000, byCurrency: { JPY: 1_500_000 } },
  settlement: { objectiveSeconds: 86_400, quantile: 0.95, window: "1d", minSettlements: 20 },
  freshness: DEFAULT_STALENESS,
  consumerLag: { minMessages: 1_000, growthWindow: "15m" },
};
